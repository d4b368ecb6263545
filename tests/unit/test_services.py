import socketserver
import threading
import time

import pytest

from mwaa_local.container import services
from mwaa_local.errors import MwaaLocalError


def test_wait_for_retries_until_ready():
    calls = []

    def check():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError("not yet")

    services.wait_for("thing", check, timeout=10, interval=0.01)
    assert len(calls) == 3


def test_wait_for_is_bounded_and_says_why():
    started = time.monotonic()
    with pytest.raises(MwaaLocalError) as e:
        services.wait_for("the broker", lambda: 1 / 0, timeout=0.3, interval=0.05)
    assert time.monotonic() - started < 2
    assert "the broker did not answer within" in e.value.message
    assert "division by zero" in e.value.message


class FakeRedis(socketserver.BaseRequestHandler):
    password = "s3cret"

    def handle(self):
        while data := self.request.recv(1024):
            if b"AUTH" in data:
                ok = self.password.encode() in data
                self.request.sendall(b"+OK\r\n" if ok else b"-WRONGPASS invalid\r\n")
            elif b"PING" in data:
                self.request.sendall(b"+PONG\r\n")
            else:  # redis-py's CLIENT SETINFO on connect
                self.request.sendall(b"+OK\r\n")


@pytest.fixture
def redis_port():
    server = socketserver.TCPServer(("127.0.0.1", 0), FakeRedis)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_redis_ping_with_password(redis_port):
    services.check_redis(f"redis://:s3cret@127.0.0.1:{redis_port}/0")


def test_redis_wrong_password_is_an_error(redis_port):
    with pytest.raises(ConnectionError):
        services.check_redis(f"redis://:wrong@127.0.0.1:{redis_port}/0")


def test_redis_refused():
    with pytest.raises(OSError):
        services.check_redis("redis://127.0.0.1:9/0")
