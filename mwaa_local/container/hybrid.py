"""mw1.micro's "hybrid" container: scheduler, triggerer, (Airflow 3) DAG processor and the Celery
worker as children of one process, as MWAA's hybrid command runs them
(anchor-amazon-mwaa-docker-images.md, command table). When one exits the others are stopped and
the container exits with its code; SIGTERM reaches every child (the worker's warm shutdown), and
after MWAA's patience of 130 s what is left is killed.

    python -m mwaa_local.container.hybrid
"""

import logging
import os
import signal
import subprocess
import sys
import time

log = logging.getLogger("mwaa-local")

SIGTERM_PATIENCE_SECONDS = 130


def hybrid_commands(airflow_major: int) -> list[list[str]]:
    commands = [["airflow", "scheduler"], ["airflow", "triggerer"]]
    if airflow_major >= 3:
        commands.append(["airflow", "dag-processor"])
    return [*commands, ["airflow", "celery", "worker"]]


def stop_all(children: list[subprocess.Popen], patience: float) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + patience
    for child in children:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def supervise(commands: list[list[str]], patience: float = SIGTERM_PATIENCE_SECONDS) -> int:
    stopping = False

    def on_signal(signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return _run(commands, patience, lambda: stopping)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(commands: list[list[str]], patience: float, stopping) -> int:
    children = [subprocess.Popen(command) for command in commands]
    for command, child in zip(commands, children, strict=True):
        log.info("hybrid: started %s (pid %d)", " ".join(command), child.pid)
    code = 0
    while not stopping():
        exited = [
            (c, child)
            for c, child in zip(commands, children, strict=True)
            if child.poll() is not None
        ]
        if exited:
            command, child = exited[0]
            code = child.returncode or 1
            log.error(
                "hybrid: %s exited with %s; stopping the others",
                " ".join(command),
                child.returncode,
            )
            break
        time.sleep(0.5)
    stop_all(children, patience)
    return code


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s [mwaa-local] %(message)s"
    )
    major = int(os.environ.get("AIRFLOW_VERSION", "2").split(".")[0])
    return supervise(hybrid_commands(major))


if __name__ == "__main__":
    sys.exit(main())
