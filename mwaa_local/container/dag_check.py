"""`python -m mwaa_local.container.dag_check [PATH] [--dags-folder ROOT] [--plugins-folder FOLDER]`

Imports every DAG file under PATH (default: core.dags_folder) the way MWAA's scheduler does:
one Airflow DagBag in this image, with its plugins and requirements, and MWAA's import timeout
(core.dagbag_import_timeout, 30 s unless an AirflowConfigurationOption sets it; mwaa-behaviour.md
4.4). Prints one JSON report line on stdout: import errors with their line, timeouts, cycles,
duplicate dag_ids, plugin import errors and each file's parse time, slowest first. Everything
else (Airflow's log, the DAG files' own output) goes to stderr. Exit 0 when clean, 1 otherwise.

Runs inside the container: standard library and Airflow only.
"""

import argparse
import json
import os
import re
import sys
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)')
# A SyntaxError's message without its traceback: "invalid syntax (x.py, line 8)".
_SYNTAX_SUFFIX = re.compile(r"\((?P<file>[^()]+), line (?P<line>\d+)\)\s*$", re.MULTILINE)
_MODULE_PREFIX = re.compile(r"^(?:[a-z_]\w*\.)+(?=[A-Z]\w*:)")
# Airflow's own words, the same on 2.10 and 3.x.
_TIMEOUT = re.compile(r"AirflowTaskTimeout|DagBag import timeout")
_CYCLE = re.compile(r"AirflowDagCycleException: Cycle detected in (?:DAG|Dag): (?P<dag_id>\S+?)\. ")
_DUPLICATE = re.compile(r"AirflowDagDuplicatedIdException: Ignoring DAG (?P<dag_id>\S+) from ")


# --- import errors: kind, line, message -------------------------------------------------------


def error_kind(text: str) -> str:
    if "AirflowDagDuplicatedIdException" in text:
        return "duplicate"
    if "AirflowDagCycleException" in text:
        return "cycle"
    if _TIMEOUT.search(text):
        return "timeout"
    return "import"


def error_line(text: str, file: str) -> int | None:
    """The line of `file` an import error points at: the deepest traceback frame in that file
    (a SyntaxError's own frame included), else the line a bare SyntaxError message names."""
    lines = [
        int(m["line"]) for m in map(_FRAME.match, text.splitlines()) if m and m["file"] == file
    ]
    if lines:
        return lines[-1]
    match = _SYNTAX_SUFFIX.search(text)
    if match and os.path.basename(match["file"]) == os.path.basename(file):
        return int(match["line"])
    return None


def error_message(text: str) -> str:
    """The exception at the end of an import error ("ModuleNotFoundError: No module named 'x'"),
    without the traceback and without the exception's module."""
    lines = text.strip().splitlines()
    frames = [i for i, line in enumerate(lines) if _FRAME.match(line)]
    start = 0
    if frames:
        # After the last frame come its source line and ^^^ markers, indented, then the error.
        start = frames[-1] + 1
        while start < len(lines) and lines[start].startswith((" ", "\t")):
            start += 1
    message = "\n".join(lines[start:]).strip() or text.strip()
    return _MODULE_PREFIX.sub("", message, count=1)


def trim_traceback(text: str, file: str) -> str | None:
    """Airflow's traceback from the first frame in the DAG file on (the importlib frames above it
    say nothing); None for an error that has no traceback."""
    lines = text.strip().splitlines()
    if not lines or not lines[0].startswith("Traceback"):
        return None
    for index, line in enumerate(lines):
        match = _FRAME.match(line)
        if match and match["file"] == file:
            return "\n".join([lines[0], *lines[index:]])
    return "\n".join(lines)


def file_error(text: str, file: str, source: str | None = None) -> dict[str, Any]:
    kind = error_kind(text)
    line = error_line(text, file)
    cycle = _CYCLE.search(text)
    if line is None and cycle and source is not None:
        line = definition_line(source, cycle["dag_id"])
    return {
        "kind": kind,
        "line": line,
        "message": error_message(text),
        "traceback": trim_traceback(text, file),
    }


def rejected_dag_id(text: str) -> str | None:
    """The dag_id of a DAG DagBag found but did not keep (a cycle, a duplicate)."""
    match = _DUPLICATE.search(text) or _CYCLE.search(text)
    return match["dag_id"] if match else None


def definition_line(source: str, dag_id: str) -> int | None:
    """The first line naming `dag_id` as a string or as a @dag function: where the DAG is
    defined, as far as the text tells."""
    name = re.escape(dag_id)
    pattern = re.compile(rf"""(['"]){name}\1|\bdef\s+{name}\s*\(""")
    for number, line in enumerate(source.splitlines(), 1):
        if pattern.search(line):
            return number
    return None


# --- duplicates and the report ----------------------------------------------------------------


def find_duplicates(dag_ids_by_file: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """dag_id -> the files defining it, for each dag_id more than one file defines."""
    files_by_id: dict[str, set[str]] = {}
    for file, dag_ids in dag_ids_by_file.items():
        for dag_id in dag_ids:
            files_by_id.setdefault(dag_id, set()).add(file)
    return {
        dag_id: sorted(files) for dag_id, files in sorted(files_by_id.items()) if len(files) > 1
    }


def duplicate_errors(
    file: str, duplicates: Mapping[str, list[str]], source: str | None
) -> list[dict[str, Any]]:
    # mwaa-behaviour.md 3: MWAA needs unique DAG IDs. One DagBag reports only the second file;
    # MWAA's scheduler parses each file apart, so every file of the pair is named here.
    errors = []
    for dag_id, files in duplicates.items():
        if file in files:
            others = ", ".join(f for f in files if f != file)
            errors.append(
                {
                    "kind": "duplicate",
                    "line": definition_line(source, dag_id) if source else None,
                    "message": f"dag_id {dag_id!r} is also defined in {others}",
                    "traceback": None,
                }
            )
    return errors


def sort_files(files: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slowest first; by name among equals."""
    return sorted(files, key=lambda f: (-f["seconds"], f["file"]))


def read_source(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return None


def assemble(
    entries: list[dict[str, Any]], plugin_errors: list[dict[str, Any]], **context: Any
) -> dict[str, Any]:
    """The report: duplicates found across files, files slowest first, ok when nothing is wrong."""
    duplicates = find_duplicates({e["file"]: e["dag_ids"] for e in entries})
    for entry in entries:
        entry["dag_ids"] = sorted(set(entry["dag_ids"]))
        if any(entry["file"] in files for files in duplicates.values()):
            source = read_source(entry["path"])
            entry["errors"].extend(duplicate_errors(entry["file"], duplicates, source))
    files = sort_files(entries)
    ok = not plugin_errors and not any(f["errors"] for f in files)
    return {
        "ok": ok,
        **context,
        "files": files,
        "plugin_errors": plugin_errors,
        "duplicates": duplicates,
    }


# --- Airflow ------------------------------------------------------------------------------------


def new_entry(path: str, root: Path, seconds: float = 0.0, tasks: int = 0) -> dict[str, Any]:
    try:
        name = Path(path).relative_to(root).as_posix()
    except ValueError:
        name = path
    return {
        "file": name,
        "path": path,
        "seconds": round(seconds, 3),
        "dag_ids": [],
        "tasks": tasks,
        "errors": [],
        "warnings": [],
    }


def entry_for(entries: dict[str, dict[str, Any]], path: str, root: Path) -> dict[str, Any]:
    """The file's entry; an error inside a zip ("x.zip/dag.py") goes to the zip's."""
    if path in entries:
        return entries[path]
    for key, entry in entries.items():
        if path.startswith(key + "/"):
            return entry
    return entries.setdefault(path, new_entry(path, root))


def stat_path(name: str, scanned: Path, root: Path) -> str:
    """The absolute path of a file DagBag's stats name."""
    if scanned.is_file():
        return str(scanned)
    if not name.startswith("/"):  # Airflow 3: relative to the folder DagBag scanned
        return str(scanned / name)
    # Airflow 2: the absolute path with core.dags_folder cut out of it.
    joined = str(root) + name
    return joined if Path(joined).exists() else name


def load_dagbag(path: Path) -> Any:
    # Built outside the except block: in it, every import error would chain this ImportError.
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3

        options: dict[str, Any] = {}
    except ImportError:
        from airflow.models.dagbag import DagBag  # Airflow 2

        options = {"include_examples": False}
    return DagBag(dag_folder=str(path), **options)


def collect(path: Path, root: Path) -> list[dict[str, Any]]:
    bag = load_dagbag(path)
    entries: dict[str, dict[str, Any]] = {}
    for stat in bag.dagbag_stats:
        full = stat_path(stat.file, path, root)
        entries[full] = new_entry(full, root, stat.duration.total_seconds(), stat.task_num)
    for dag_id, dag in bag.dags.items():
        entry_for(entries, dag.fileloc, root)["dag_ids"].append(dag_id)
    for file, text in bag.import_errors.items():
        entry = entry_for(entries, file, root)
        dag_id = rejected_dag_id(text)
        if dag_id:
            entry["dag_ids"].append(dag_id)
        if error_kind(text) != "duplicate":  # assemble() names every file of a duplicate
            entry["errors"].append(file_error(text, file, read_source(file)))
    for file, warnings in getattr(bag, "captured_warnings", {}).items():
        entry_for(entries, file, root)["warnings"].extend(warnings)
    return list(entries.values())


def plugin_errors() -> list[dict[str, Any]]:
    from airflow import plugins_manager

    try:
        plugins_manager.ensure_plugins_loaded()
    except Exception as e:
        return [{"file": None, "line": None, "message": f"{type(e).__name__}: {e}"}]
    if hasattr(plugins_manager, "get_import_errors"):  # Airflow 3
        errors = plugins_manager.get_import_errors()
    else:
        errors = plugins_manager.import_errors
    return [
        {"file": file, "line": error_line(text, file), "message": error_message(text)}
        for file, text in sorted(errors.items())
    ]


# --- the command --------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mwaa_local.container.dag_check")
    parser.add_argument("path", nargs="?", help="a DAG file or folder (default: core.dags_folder)")
    parser.add_argument(
        "--dags-folder",
        help="the DAG folder PATH belongs to: put on sys.path, and file names are relative to it "
        "(default: PATH, or a file's folder)",
    )
    parser.add_argument("--plugins-folder", help="default: core.plugins_folder")
    return parser.parse_args(argv)


def configure(args: argparse.Namespace) -> Path | None:
    """Set what this process's Airflow reads once, at import; return the DAG folder, if given."""
    root = None
    if args.path:
        path = Path(args.path).absolute()
        root = Path(args.dags_folder).absolute() if args.dags_folder else None
        root = root or (path if path.is_dir() else path.parent)
        os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(root)
    if args.plugins_folder:
        os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(Path(args.plugins_folder).absolute())
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    # Tracebacks deep enough to reach the DAG file's frame, for its line (display only).
    os.environ["AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACKS"] = "True"
    os.environ["AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACK_DEPTH"] = "100"
    return root


def run(args: argparse.Namespace) -> dict[str, Any]:
    root = configure(args)
    import airflow
    from airflow.configuration import conf

    root = root or Path(conf.get("core", "dags_folder"))
    path = Path(args.path).absolute() if args.path else root
    if not path.exists():
        return {"ok": False, "fatal": f"{path} does not exist"}
    # Airflow 2 puts the DAG folder on sys.path, Airflow 3 the bundle's (MWAA's DAG folder).
    if str(root) not in sys.path:
        sys.path.append(str(root))
    plugins = plugin_errors()
    return assemble(
        collect(path, root),
        plugins,
        airflow_version=airflow.__version__,
        dag_folder=str(root),
        path=str(path),
        plugins_folder=conf.get("core", "plugins_folder"),
        import_timeout=conf.getfloat("core", "dagbag_import_timeout"),
    )


def report_stream() -> int:
    """A descriptor for the report alone: fd 1 then points at stderr, so that Airflow's log
    handlers and the DAG files' prints cannot land in the report's stream."""
    report_fd = os.dup(1)
    os.dup2(2, 1)
    return report_fd


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    report_fd = report_stream()
    try:
        report = run(args)
    except (Exception, SystemExit) as e:  # a DAG file's sys.exit() escapes Airflow 2's DagBag
        traceback.print_exc()
        report = {"ok": False, "fatal": f"{type(e).__name__}: {e}"}
    os.write(report_fd, (json.dumps(report) + "\n").encode())
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
