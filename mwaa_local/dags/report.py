"""The DAG check's report on the host: a table, JSON, or JUnit XML for CI."""

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

JUNIT_SUITE = "mwaa-local dags check"
JUNIT_CLASS = "dags"


def exit_code(report: dict[str, Any]) -> int:
    return 0 if report.get("ok") else 1


def first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else ""


def problem_text(problem: dict[str, Any]) -> str:
    """'import, line 5: ModuleNotFoundError: ...' (the message's first line)."""
    where = f", line {problem['line']}" if problem.get("line") else ""
    return f"{problem['kind']}{where}: {first_line(problem['message'])}"


def problems_cell(entry: dict[str, Any]) -> Text:
    if not entry["errors"]:
        text = Text("ok", style="green")
    else:
        text = Text("\n".join(problem_text(e) for e in entry["errors"]), style="red")
    if entry.get("warnings"):
        text.append(f"\n{len(entry['warnings'])} warning(s)", style="yellow")
    return text


def files_table(report: dict[str, Any]) -> Table:
    table = Table("File", "Seconds", "DAGs", "Problems")
    for entry in report.get("files", []):
        table.add_row(
            entry["file"],
            f"{entry['seconds']:.3f}",
            "\n".join(entry["dag_ids"]) or "-",
            problems_cell(entry),
        )
    return table


def plugin_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for error in report.get("plugin_errors", []):
        where = error.get("file") or "plugins"
        where += f", line {error['line']}" if error.get("line") else ""
        lines.append(f"{where}: {first_line(error['message'])}")
    return lines


def counts(report: dict[str, Any]) -> dict[str, int]:
    files = report.get("files", [])
    return {
        "files": len(files),
        "failed": sum(1 for f in files if f["errors"]),
        "dags": sum(len(f["dag_ids"]) for f in files),
        "plugin_errors": len(report.get("plugin_errors", [])),
    }


def apply_start_sequence(report: dict[str, Any], phases: dict[str, dict[str, Any]]) -> None:
    """The check covers what the steps before it left: a DAG sync that failed (the check ran on
    the last copy), files it could not read (not checked) and a failed requirements install
    (as on MWAA the DAGs still import, without those packages) are named, and the check does
    not pass."""
    sync = phases.get("dag_sync") or {}
    if sync.get("ok") is False:
        report["dag_sync_error"] = sync.get("error") or "the DAG sync failed"
        report["ok"] = False
    if sync.get("skipped"):
        report["not_checked"] = dict(sync["skipped"])
        report["ok"] = False
    requirements = phases.get("requirements") or {}
    if requirements.get("ok") is False:
        report["requirements_error"] = requirements.get("diagnosis") or "the install failed"
        report["ok"] = False


def start_sequence_problems(report: dict[str, Any]) -> list[str]:
    """What apply_start_sequence found, one phrase each."""
    problems = []
    if report.get("dag_sync_error"):
        problems.append(f"checked the last copy: {report['dag_sync_error']}")
    not_checked = report.get("not_checked") or {}
    if not_checked:
        names = ", ".join(f"{name} ({why})" for name, why in sorted(not_checked.items()))
        problems.append(
            f"{len(not_checked)} file(s) unreadable in the bucket, not synced or checked: {names}"
        )
    if report.get("requirements_error"):
        problems.append(f"requirements failed to install: {report['requirements_error']}")
    return problems


def summary(report: dict[str, Any]) -> str:
    if report.get("fatal"):
        return f"FAILED: {report['fatal']}"
    n = counts(report)
    timeout = report.get("import_timeout")
    timeout = f"{timeout:g}" if isinstance(timeout, int | float) else "?"
    parts = [
        f"{n['files']} file(s)",
        f"{n['dags']} DAG(s)",
        f"{n['failed']} file(s) with problems",
        f"{n['plugin_errors']} plugin error(s)",
    ]
    parts += start_sequence_problems(report)
    text = f"{'OK' if report.get('ok') else 'FAILED'}: {', '.join(parts)}"
    if report.get("airflow_version"):
        text += f" (Airflow {report['airflow_version']}, import timeout {timeout} s)"
    return text


# --- JUnit XML --------------------------------------------------------------------------------


def _testcase(suite: ET.Element, name: str, seconds: float, file: str | None) -> ET.Element:
    case = ET.SubElement(suite, "testcase", classname=JUNIT_CLASS, name=name, time=f"{seconds:.3f}")
    if file:
        case.set("file", file)
    return case


def _failure(case: ET.Element, kind: str, message: str, detail: str) -> None:
    failure = ET.SubElement(case, "failure", type=kind, message=first_line(message))
    failure.text = detail


def _problem_detail(file: str, problem: dict[str, Any]) -> str:
    where = f"{file}:{problem['line']}" if problem.get("line") else file
    return f"{where}: {problem['message']}" + (
        f"\n\n{problem['traceback']}" if problem.get("traceback") else ""
    )


def junit_xml(report: dict[str, Any]) -> ET.ElementTree:
    """One testcase per DAG file with a failure per problem; a `plugins` testcase when plugins
    fail to import; a `start sequence` testcase when the check could not run at all."""
    root = ET.Element("testsuites", name=JUNIT_SUITE)
    suite = ET.SubElement(root, "testsuite", name=JUNIT_SUITE)
    properties = ET.SubElement(suite, "properties")
    for key in ("airflow_version", "import_timeout", "dag_folder", "where"):
        if report.get(key) is not None:
            ET.SubElement(properties, "property", name=key, value=str(report[key]))
    for entry in report.get("files", []):
        file = entry.get("host_path") or entry.get("path") or entry["file"]
        case = _testcase(suite, entry["file"], entry["seconds"], file)
        for problem in entry["errors"]:
            detail = _problem_detail(file, problem)
            _failure(case, problem["kind"], problem_text(problem), detail)
    if report.get("plugin_errors"):
        case = _testcase(suite, "plugins", 0.0, report.get("plugins_folder"))
        for error, line in zip(report["plugin_errors"], plugin_lines(report), strict=True):
            _failure(case, "plugin", line, f"{error.get('file')}: {error['message']}")
    if report.get("fatal"):
        case = _testcase(suite, "start sequence", 0.0, None)
        _failure(case, "fatal", report["fatal"], report["fatal"])
    for name, why in sorted((report.get("not_checked") or {}).items()):
        case = _testcase(suite, name, 0.0, None)
        _failure(case, "not checked", f"not checked: {why}", f"{name}: the DAG sync skipped it")
    if report.get("dag_sync_error"):
        case = _testcase(suite, "DAG sync", 0.0, None)
        _failure(case, "dag sync", report["dag_sync_error"], report["dag_sync_error"])
    cases = suite.findall("testcase")
    failed = sum(1 for case in cases if case.find("failure") is not None)
    seconds = sum(float(case.get("time", 0)) for case in cases)
    for element in (root, suite):
        element.set("tests", str(len(cases)))
        element.set("failures", str(failed))
        element.set("errors", "0")
        element.set("time", f"{seconds:.3f}")
    suite.set("skipped", "0")
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit_xml(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    junit_xml(report).write(path, encoding="utf-8", xml_declaration=True)
