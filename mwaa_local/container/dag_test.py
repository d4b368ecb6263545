"""`python -m mwaa_local.container.dag_test DAG_ID [--conf JSON] [--logical-date DATE]
[--throwaway-db]`

Runs one DAG run to the end with Airflow's own `airflow dags test` (tasks in this process, their
logs on the console), forwarding everything it prints to stderr, then prints one JSON report
line on stdout: the outcome (success, failed, not_found, error), the run's id and state, and for
an unknown dag_id the dag_ids the DAG folder does define and its files' import errors.
Exit 0 when the run succeeded, 1 otherwise.

`--throwaway-db` first migrates a new SQLite metadata database in a temporary folder (for a
one-off container, which has no database). Runs inside the container: standard library only.
"""

import argparse
import difflib
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from mwaa_local.container.processes import run_capped

TAIL_LINES = 60
# Airflow's own words, the same on 2.10 and 3.x.
_FINISHED = re.compile(
    r"DagRun Finished: dag_id=(?P<dag_id>[^,]+), .*?run_id=(?P<run_id>[^,]+), .*?"
    r", state=(?P<state>\w+)"
)
RUN_FAILED = "DagRun failed"  # `airflow dags test`'s SystemExit message
NOT_FOUND = "could not be found; either it does not exist or it failed to parse"
_USAGE = re.compile(r"airflow dags test command error: (?P<message>.*?)(?:, see help above\.)?$")
# The line a traceback ends with, "airflow.sdk.exceptions.ParamValidationError: Invalid ...",
# which a multi-line message (jsonschema's) can leave far from the last line.
_EXCEPTION = re.compile(
    r"^(?:[A-Za-z_]\w*\.)*(?P<message>[A-Za-z_]\w*(?:Error|Exception|Exit): .*)$"
)


def dags_test_command(dag_id: str, conf: str | None, logical_date: str | None) -> list[str]:
    """`airflow dags test`: on 2.10 the date is `execution_date`, on 3.x `logical_date`, both
    positional after the dag_id."""
    command = ["airflow", "dags", "test", dag_id]
    if logical_date:
        command.append(logical_date)
    if conf is not None:
        command += ["--conf", conf]
    return command


def throwaway_db_env(env: Mapping[str, str], folder: str, major: int) -> dict[str, str]:
    """The environment for a SQLite database in `folder`: Airflow 2 refuses SQLite with any
    executor but SequentialExecutor, which Airflow 3 no longer has."""
    env = {k: v for k, v in env.items() if k != "AIRFLOW__CORE__SQL_ALCHEMY_CONN"}
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{folder}/airflow.db"
    env["AIRFLOW__CORE__EXECUTOR"] = "SequentialExecutor" if major < 3 else "LocalExecutor"
    return env


def finished_run(lines: Iterable[str]) -> dict[str, str] | None:
    """The run's id and final state from Airflow's "DagRun Finished" log line, if printed."""
    found = None
    for line in lines:
        match = _FINISHED.search(line)
        if match:
            found = match.groupdict()
    return found


def last_message(lines: list[str]) -> str:
    """The last exception line (without the exception's module), else the last non-empty line."""
    for line in reversed(lines):
        match = _EXCEPTION.match(line)
        if match:
            return match["message"]
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


def outcome(exit_code: int, lines: list[str]) -> dict[str, Any]:
    """What the run came to, from `airflow dags test`'s exit code and its last lines: it exits 0
    when the run succeeded and 1 with "DagRun failed" when it failed (2.10 and 3.x alike), but
    also 1 on any other error (no such DAG, ...) and 2 on a bad argument."""
    run = finished_run(lines)
    report: dict[str, Any] = {"run_id": run["run_id"] if run else None}
    if exit_code == 0:
        return {**report, "outcome": "success", "state": run["state"] if run else "success"}
    if (run and run["state"] == "failed") or RUN_FAILED in lines[-3:]:
        return {**report, "outcome": "failed", "state": "failed"}
    if any(NOT_FOUND in line for line in lines):
        return {**report, "outcome": "not_found", "state": None}
    usage = next((m for m in map(_USAGE.search, lines) if m), None)
    message = usage["message"] if usage else last_message(lines)
    return {**report, "outcome": "error", "state": None, "error": message}


def similar_dag_ids(dag_id: str, known: Iterable[str], limit: int = 5) -> list[str]:
    known = sorted(set(known))
    # 0.8, not difflib's 0.6: with a common "_dag" suffix, unrelated ids score 0.6-0.75.
    close = difflib.get_close_matches(dag_id, known, n=limit, cutoff=0.8)
    folded = [k for k in known if dag_id.lower() in k.lower() or k.lower() in dag_id.lower()]
    return list(dict.fromkeys([*close, *folded]))[:limit]


def names(source: str | None, dag_id: str) -> bool:
    """Whether a file's text names `dag_id` as a string: where the DAG likely is."""
    return source is not None and any(f"{q}{dag_id}{q}" in source for q in "'\"")


def folder_summary(
    check_report: Mapping[str, Any], dag_id: str, read: Callable[[str], str | None]
) -> dict[str, Any]:
    """From `mwaa_local.container.dag_check`'s report: the dag_ids defined, the similar ones and the
    files that failed to import, those naming `dag_id` first (the DAG is likely in one)."""
    files = check_report.get("files", [])
    known = sorted({i for f in files for i in f.get("dag_ids", [])})
    broken = [
        {
            "file": f["file"],
            "line": e.get("line"),
            "message": e.get("message"),
            "names_dag_id": names(read(f.get("path", f["file"])), dag_id),
        }
        for f in files
        for e in f.get("errors", [])
    ]
    broken.sort(key=lambda e: not e["names_dag_id"])
    return {"dag_ids": known, "similar": similar_dag_ids(dag_id, known), "import_errors": broken}


def read_text(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return None


# --- running Airflow ----------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[mwaa-local] {message}", file=sys.stderr, flush=True)


def forward(command: list[str], env: Mapping[str, str]) -> tuple[int, list[str]]:
    """Run `command` with no time cap, its output copied line by line to our stderr; return its
    exit code and last lines."""
    tail: list[str] = []

    def copy(line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
        tail[:] = [*tail[-TAIL_LINES:], line]

    finished = run_capped(command, env, math.inf, copy)
    assert finished.returncode is not None  # no cap, so no time-out
    return finished.returncode, tail


def migrate(env: Mapping[str, str]) -> dict[str, Any]:
    started = time.monotonic()
    done = subprocess.run(
        ["airflow", "db", "migrate"], env=dict(env), capture_output=True, text=True
    )
    seconds = round(time.monotonic() - started, 2)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        return {"ok": False, "seconds": seconds}
    log(f"migrated a throwaway SQLite metadata database in {seconds:.1f} s")
    return {"ok": True, "seconds": seconds}


def look_up_dag_ids(env: Mapping[str, str], dag_id: str) -> dict[str, Any]:
    """The DAG folder's dag_ids and import errors, from one DagBag (container/dag_check.py)."""
    done = subprocess.run(
        [sys.executable, "-m", "mwaa_local.container.dag_check"],
        env=dict(env),
        capture_output=True,
        text=True,
    )
    for line in reversed(done.stdout.strip().splitlines()):
        if line.startswith("{"):
            return folder_summary(json.loads(line), dag_id, read_text)
    return {}


def run(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    report: dict[str, Any] = {"dag_id": args.dag_id}
    if args.throwaway_db:
        major = int(env.get("AIRFLOW_VERSION", "3").split(".")[0])
        env = throwaway_db_env(env, tempfile.mkdtemp(prefix="mwaa-local-dags-test-"), major)
        report["migrate"] = migrate(env)
        if not report["migrate"]["ok"]:
            return {**report, "outcome": "error", "error": "airflow db migrate failed"}
    command = dags_test_command(args.dag_id, args.conf, args.logical_date)
    started = time.monotonic()
    exit_code, tail = forward(command, env)
    report |= {"exit_code": exit_code, "seconds": round(time.monotonic() - started, 2)}
    report |= outcome(exit_code, tail)
    if report["outcome"] == "not_found":
        report |= look_up_dag_ids(env, args.dag_id)
    return report


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mwaa_local.container.dag_test")
    parser.add_argument("dag_id")
    parser.add_argument("--conf", help="the run's conf, a JSON object")
    parser.add_argument("--logical-date", help="the run's logical date (default: now)")
    parser.add_argument("--throwaway-db", action="store_true", help="migrate a SQLite DB first")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    report = run(args, dict(os.environ))
    print(json.dumps(report), flush=True)
    return 0 if report["outcome"] == "success" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
