"""The stack's StatsD collector: Airflow's components send their metrics here (UDP 8125), as on
MWAA they go to CloudWatch; every PERIOD seconds each metric's aggregate is appended to a JSON
lines file in the metrics volume, which `mwaa-local metrics` reads and names as MWAA does
(mwaa/metrics.py).

StatsD's line protocol (`name:value|type[|@rate][|#tags]`) is a few fields; no maintained Python
StatsD server library exists to parse it, so it is parsed here.

    python -m mwaa_local.container.statsd_collector [--port 8125] [--file PATH]
"""

import argparse
import json
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PERIOD = 10
DEFAULT_FILE = Path("/usr/local/mwaa-local/metrics/statsd.jsonl")
# Past this size the file is rotated once (the previous one kept), so it stays bounded.
MAX_BYTES = 64 * 1024 * 1024


@dataclass
class Aggregate:
    kind: str
    count: int = 0
    sum: float = 0.0
    min: float = float("inf")
    max: float = float("-inf")
    last: float = 0.0

    def add(self, value: float) -> None:
        self.count += 1
        self.sum += value
        self.min = min(self.min, value)
        self.max = max(self.max, value)
        self.last = value


def parse_line(line: str) -> tuple[str, str, float, bool] | None:
    """(name, type, value, is_delta) from one StatsD line; None when malformed."""
    name, _, rest = line.strip().partition(":")
    fields = rest.split("|")
    if not name or len(fields) < 2:
        return None
    raw, kind = fields[0].strip(), fields[1].strip()
    rate = 1.0
    for extra in fields[2:]:
        if extra.startswith("@"):
            try:
                rate = float(extra[1:]) or 1.0
            except ValueError:
                return None
    try:
        value = float(raw)
    except ValueError:
        return None
    if kind == "c":
        value /= rate
    return name, kind, value, kind == "g" and raw[:1] in "+-"


class Collector:
    def __init__(self, out: Path, period: int = PERIOD) -> None:
        self.out = out
        self.period = period
        self.open: dict[tuple[int, str], Aggregate] = {}
        self.gauges: dict[str, float] = {}

    def receive(self, data: str, now: float) -> None:
        start = int(now) // self.period * self.period
        for line in data.splitlines():
            parsed = parse_line(line)
            if parsed is None:
                continue
            name, kind, value, delta = parsed
            if kind == "g":
                value = self.gauges.get(name, 0.0) + value if delta else value
                self.gauges[name] = value
            key = (start, name)
            if key not in self.open:
                self.open[key] = Aggregate(kind)
            self.open[key].add(value)

    def flush(self, now: float | None = None) -> int:
        """Append the periods that have ended (all of them when `now` is None)."""
        current = None if now is None else int(now) // self.period * self.period
        done = [k for k in self.open if current is None or k[0] < current]
        if not done:
            return 0
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if self.out.is_file() and self.out.stat().st_size > MAX_BYTES:
            self.out.replace(self.out.with_suffix(".1.jsonl"))
        with self.out.open("a", encoding="utf-8") as f:
            for key in sorted(done):
                agg = self.open.pop(key)
                record = {
                    "t": key[0],
                    "p": self.period,
                    "n": key[1],
                    "k": agg.kind,
                    "count": agg.count,
                    "sum": agg.sum,
                    "min": agg.min,
                    "max": agg.max,
                    "last": agg.last,
                }
                f.write(json.dumps(record) + "\n")
        return len(done)


def serve(port: int, out: Path) -> int:
    collector = Collector(out)
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("0.0.0.0", port))
    listener.settimeout(1.0)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"statsd collector listening on udp/{port}, writing {out}", flush=True)
    last_flush = time.time()
    while not stopping:
        try:
            data, _ = listener.recvfrom(65535)
            collector.receive(data.decode("utf-8", errors="replace"), time.time())
        except TimeoutError:
            pass
        if time.time() - last_flush >= 1:
            collector.flush(time.time())
            last_flush = time.time()
    collector.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="statsd_collector")
    parser.add_argument("--port", type=int, default=8125)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    args = parser.parse_args(argv)
    return serve(args.port, args.file)


if __name__ == "__main__":
    sys.exit(main())
