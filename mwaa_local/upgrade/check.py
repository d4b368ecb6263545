"""`mwaa-local upgrade-check --to VERSION`: whether a project survives a move to another MWAA
Airflow version, before the cloud's 30-minute (up to 2 h) upgrade that rolls back on failure.

Four parts, one report:
1. the requirements test (`test-requirements`) in the target version's image, with its
   constraints;
2. the DAG check (`dags check`, one-off container) in the target version's image;
3. crossing from Airflow 2 to 3: ruff's Airflow 3 rules (AIR3: AIR301 removed, AIR302 moved to a
   provider, AIR303 changed signature; AIR311/AIR312 suggested updates; preview rules such as
   AIR321 with `--preview`) on the DAG folder and the plugins;
4. MWAA's own rule for the version change (mwaa-behaviour.md 6.3), for information only.

A part that does not apply (the lint when the change does not cross from 2 to 3) is reported as
not run and neither passes nor fails; a part that applies but could not run is reported as not
run and the report does not pass.
"""

import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from mwaa_local.bucket.source import open_bucket
from mwaa_local.bucket.versions import object_key, pinned_version
from mwaa_local.dags.check import CONTAINER_DAGS, CheckTarget, run_one_off
from mwaa_local.dags.report import apply_start_sequence
from mwaa_local.dags.report import exit_code as dag_check_exit_code
from mwaa_local.errors import MwaaLocalError
from mwaa_local.package_requirements.archive import default_plugins_source
from mwaa_local.runtime.image import image_tag
from mwaa_local.runtime.interface import Runtime
from mwaa_local.runtime.one_off import run_test_command
from mwaa_local.spec import versions
from mwaa_local.spec.settings import Environment
from mwaa_local.spec.versions import AirflowVersion

# ruff's Airflow 3 rules; `--preview` adds the preview ones (AIR304, AIR321 in ruff 0.17).
LINT_SELECT = "AIR3"
# Fail on Airflow 3: removed (AIR301), moved to a provider without a shim (AIR302), changed
# signature (AIR303), and files that do not parse. AIR311/AIR312 and the rest still work on 3.x.
BLOCKING_CODES = frozenset({"AIR301", "AIR302", "AIR303"})
SYNTAX_ERROR = "invalid-syntax"
REQUIREMENTS_COMPONENT = "worker"

# The report's parts, in order.
IN_PLACE, REQUIREMENTS, DAG_CHECK, LINT = "in_place", "requirements_test", "dag_check", "lint"
CHECKED_PARTS = (REQUIREMENTS, DAG_CHECK, LINT)


def not_applicable(reason: str) -> dict[str, Any]:
    """A part with nothing to check here: not run, and neither a pass nor a failure."""
    return {"ran": False, "applies": False, "ok": None, "reason": reason}


def not_run(reason: str, **extra: Any) -> dict[str, Any]:
    """A part that applies but could not run: not a pass."""
    return {"ran": False, "ok": False, "fatal": reason, "reason": reason, **extra}


def applies(part: dict[str, Any]) -> bool:
    return part.get("applies", True) is not False


def passed(part: dict[str, Any]) -> bool:
    """Ran and found nothing that blocks; a part that does not apply does not count."""
    return not applies(part) or (part.get("ran", True) is not False and bool(part.get("ok")))


Echo = Callable[[str], None]


# --- MWAA's rule for changing the version (mwaa-behaviour.md 6.3) -------------------------------


@dataclass(frozen=True)
class InPlace:
    allowed: bool
    message: str


def _key(version: AirflowVersion) -> tuple[int, ...]:
    return tuple(int(part) for part in version.airflow.split("."))


def latest_2x() -> AirflowVersion:
    """The newest Airflow 2 MWAA offers: the only one that upgrades in place to Airflow 3."""
    return max((v for v in versions.SUPPORTED if v.major == 2), key=_key)


def in_place_upgrade(current: AirflowVersion, target: AirflowVersion) -> InPlace:
    """Whether MWAA changes `current` to `target` on the same environment (UpdateEnvironment):
    minor versions up or down within a major; 2 -> 3 only from the latest 2.11.x (from 2.10.3 and
    older: a new environment); 3 -> 2 only down to 2.11.x."""
    if current == target:
        return InPlace(True, f"The environment already runs Airflow {target.airflow}.")
    if current.major == target.major:
        way = "upgrade" if _key(target) > _key(current) else "downgrade"
        return InPlace(True, f"MWAA allows this minor-version {way} in place (UpdateEnvironment).")
    if current.major == 2:
        latest = latest_2x()
        if current == latest:
            return InPlace(
                True,
                f"MWAA upgrades {latest.airflow} to Airflow 3 in place; AWS still recommends a "
                "new environment (blue/green) for 2 -> 3.",
            )
        return InPlace(
            False,
            f"MWAA upgrades to Airflow 3 in place only from the latest 2.11.x ({latest.airflow}): "
            f"first upgrade {current.airflow} -> {latest.airflow} in place, then to "
            f"{target.airflow}; or create a new {target.airflow} environment and migrate.",
        )
    if (target.major, _key(target)[1]) == (2, 11):
        return InPlace(True, f"MWAA allows the downgrade from Airflow 3 to {target.airflow}.")
    return InPlace(
        False,
        f"MWAA downgrades Airflow 3 in place only to 2.11.x; for {target.airflow} create a new "
        "environment.",
    )


def crosses_to_3(current: AirflowVersion, target: AirflowVersion) -> bool:
    return current.major < 3 <= target.major


def target_environment(environment: Environment, target: AirflowVersion) -> Environment:
    return dataclasses.replace(environment, airflow_version=target)


def display_path(path: Path) -> str:
    """Relative to the working directory when inside it, else absolute."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


# --- 1. the requirements test -------------------------------------------------------------------


def requirements_step(runtime: Runtime, on_line: Echo) -> dict[str, Any]:
    """`test-requirements` for the runtime's environment (the target version's image): its
    report plus `ok` and `exit_code`."""
    try:
        run = run_test_command(runtime, "test-requirements", REQUIREMENTS_COMPONENT, on_line)
    except MwaaLocalError as error:
        return not_run(error.message, exit_code=1)
    return {**run.report, "ran": True, "ok": run.exit_code == 0, "exit_code": run.exit_code}


def requirements_line(part: dict[str, Any]) -> str:
    """One line: what the requirements test found."""
    if part.get("fatal"):
        return f"{'NOT RUN' if part.get('ran') is False else 'FAILED'}: {part['fatal']}"
    requirements = part.get("requirements") or {}
    if not requirements.get("ran") and not requirements.get("unchanged"):
        where = requirements.get("path") or "RequirementsS3Path"
        return f"{'OK' if part.get('ok') else 'FAILED'}: no requirements file at {where}"
    if requirements.get("ok") and part.get("ok"):
        installed = requirements.get("installed", [])
        return (
            f"OK: requirements install in {requirements.get('duration', 0):.1f} s; "
            f"{len(installed)} package(s) added"
        )
    return f"FAILED: {requirements.get('diagnosis') or 'the requirements test failed'}"


# --- 2. the DAG check ---------------------------------------------------------------------------


def dag_check_step(runtime: Runtime, on_line: Echo) -> dict[str, Any]:
    """`dags check` on the bucket's DAG folder apart from the running components, for the
    runtime's environment (the target version), after the scheduler's start sequence: its report
    plus `ok` and `exit_code`."""
    environment = runtime.environment
    target = CheckTarget(CONTAINER_DAGS, CONTAINER_DAGS)
    try:
        run = run_one_off(runtime, target, on_line)
    except MwaaLocalError as error:
        return not_run(error.message, exit_code=1, files=[])
    report = {**run.report, "ran": True, "where": run.where}
    if not environment.bucket_is_s3:
        folder = environment.bucket_folder / environment.dag_s3_path
        for entry in report.get("files", []):
            entry["host_path"] = display_path(folder / entry["file"])
    if run.phases:
        report["start_sequence"] = run.phases
    apply_start_sequence(report, run.phases)
    code = max(dag_check_exit_code(report), 1 if run.exit_code else 0)
    return {**report, "ok": code == 0, "exit_code": code}


# --- 3. the Airflow 3 lint (ruff AIR3) ----------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    column: int
    code: str
    message: str
    url: str | None = None
    fixable: bool = False

    @property
    def severity(self) -> str:
        return "error" if self.code in BLOCKING_CODES or self.code == SYNTAX_ERROR else "warning"

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "severity": self.severity}


@dataclass(frozen=True)
class LintSource:
    """A folder to lint, and how to name its files in the report."""

    folder: Path
    shown: str  # the folder (or plugins.zip, or the S3 prefix) as the report names it
    display: Callable[[Path], str] = display_path
    # Whether `ruff check --fix` can fix it where it is (not an extracted zip, not S3).
    fixable_in_place: bool = True
    # Files that could not be read, so were not linted, with the reason.
    unread: dict[str, str] = dataclasses.field(default_factory=dict)


def find_ruff() -> str:
    """The ruff binary: the `ruff` package's (a dependency of mwaa-local), else one on PATH."""
    try:
        from ruff import find_ruff_bin
    except ImportError:
        found = shutil.which("ruff")
    else:
        try:
            found = str(find_ruff_bin())
        except FileNotFoundError:
            found = shutil.which("ruff")
    if not found:
        raise MwaaLocalError(
            "ruff is not installed; the Airflow 3 lint needs it.",
            hint="Install mwaa-local with its dependencies (pip install ruff).",
        )
    return found


def ruff_command(ruff: str, paths: Sequence[Path]) -> list[str]:
    """Only the AIR3 rules, whatever ruff configuration the project has (--isolated): every
    .py file Airflow would parse, .gitignore'd or not; JSON on stdout; exit 0 on findings."""
    return [
        ruff,
        "check",
        "--isolated",
        "--no-cache",
        "--no-respect-gitignore",
        "--select",
        LINT_SELECT,
        "--preview",
        "--output-format",
        "json",
        "--exit-zero",
        *[str(path) for path in paths],
    ]


def parse_ruff_json(text: str, display: Callable[[str], str] = str) -> list[Finding]:
    """ruff's `--output-format json` (a list of diagnostics) as findings, by file and line.
    A file that does not parse comes with code null and name "invalid-syntax"."""
    try:
        diagnostics = json.loads(text or "[]")
    except json.JSONDecodeError as error:
        raise MwaaLocalError(f"ruff printed no JSON report: {text[:500]!r}") from error
    findings = []
    for item in diagnostics:
        location = item.get("location") or {}
        findings.append(
            Finding(
                file=display(item.get("filename", "?")),
                line=int(location.get("row") or 0),
                column=int(location.get("column") or 0),
                code=item.get("code") or item.get("name") or SYNTAX_ERROR,
                message=item.get("message", ""),
                url=item.get("url"),
                fixable=item.get("fix") is not None,
            )
        )
    return sorted(findings, key=lambda f: (f.file, f.line, f.column, f.code))


@contextmanager
def extracted_python(zip_path: Path) -> Iterator[Path]:
    """plugins.zip's .py members in a temporary folder (no member outside it)."""
    with tempfile.TemporaryDirectory(prefix="mwaa-local-plugins-") as tmp:
        root = Path(tmp).resolve()
        with zipfile.ZipFile(zip_path) as archive:
            for member in archive.namelist():
                name = PurePosixPath(member)
                if name.suffix != ".py" or name.is_absolute() or ".." in name.parts:
                    continue
                target = root.joinpath(*name.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(member))
        yield root


def _named_under(root: Path, shown: str, separator: str) -> Callable[[Path], str]:
    def display(path: Path) -> str:
        return f"{shown}{separator}{path.relative_to(root).as_posix()}"

    return display


@contextmanager
def s3_lint_sources(environment: Environment) -> Iterator[list[LintSource]]:
    """An s3:// bucket's DAG folder and plugins.zip (the pinned version, else the current one),
    downloaded to a temporary folder; files are named by their S3 keys."""
    bucket = open_bucket(environment)
    url = bucket.url.rstrip("/")
    with tempfile.TemporaryDirectory(prefix="mwaa-local-lint-") as tmp:
        root = Path(tmp).resolve()
        dags = root / "dags"
        dags.mkdir()
        shown = f"{url}/{environment.dag_s3_path.strip('/')}"
        unread = bucket.download_folder(environment.dag_s3_path, dags)
        unread = {f"{shown}/{name}": why for name, why in unread.items()}
        sources = [LintSource(dags, shown, _named_under(dags, shown, "/"), False, unread)]
        key = object_key(environment, bucket, "plugins")
        if key is None:
            yield sources
            return
        plugins = root / "plugins.zip"
        plugins.write_bytes(bucket.get(key, pinned_version(environment, "plugins")).content)
        with extracted_python(plugins) as extracted:
            shown = f"{url}/{key}"
            sources.append(LintSource(extracted, shown, _named_under(extracted, shown, ":"), False))
            yield sources


@contextmanager
def lint_sources(environment: Environment) -> Iterator[list[LintSource]]:
    """The DAG folder (DagS3Path in the bucket) and the plugins (plugins.zip, extracted, or the
    plugins/ folder it is made from)."""
    if environment.bucket_is_s3:
        with s3_lint_sources(environment) as sources:
            yield sources
        return
    sources = []
    bucket = environment.bucket_folder
    dags = bucket / environment.dag_s3_path
    if dags.is_dir():
        sources.append(LintSource(dags, display_path(dags)))
    plugins = default_plugins_source(environment)
    if plugins is not None and plugins.is_dir():
        sources.append(LintSource(plugins, display_path(plugins)))
        yield sources
    elif plugins is not None and zipfile.is_zipfile(plugins):
        with extracted_python(plugins) as root:
            shown = display_path(plugins)
            sources.append(LintSource(root, shown, _named_under(root, shown, ":"), False))
            yield sources
    else:
        yield sources


def _displayer(sources: Sequence[LintSource]) -> Callable[[str], str]:
    def display(filename: str) -> str:
        path = Path(filename)
        for source in sources:
            if path.is_relative_to(source.folder):
                return source.display(path)
        return display_path(path)

    return display


def ruff_version(ruff: str) -> str:
    done = subprocess.run([ruff, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip().removeprefix("ruff ").strip() or "?"


def lint_folders(sources: Sequence[LintSource], ruff: str | None = None) -> dict[str, Any]:
    """Run ruff's AIR3 rules on `sources`; the lint part of the report."""
    ruff = ruff or find_ruff()
    resolved = [dataclasses.replace(s, folder=s.folder.resolve()) for s in sources]
    part: dict[str, Any] = {
        "ran": True,
        "ruff": ruff_version(ruff),
        "select": LINT_SELECT,
        "preview": True,
        "paths": [s.shown for s in resolved],
        # Where `ruff check --fix` can apply the fixes: the folders, not an extracted zip.
        "fix_paths": [s.shown for s in resolved if s.fixable_in_place],
    }
    unread = {name: why for s in resolved for name, why in s.unread.items()}
    if unread:
        part["not_linted"] = unread  # could not be read: the lint does not pass
    if not resolved:
        return {**part, "ok": True, "errors": 0, "warnings": 0, "fixable": 0, "findings": []}
    command = ruff_command(ruff, [s.folder for s in resolved])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {**part, "ok": False, "fatal": f"ruff failed: {done.stderr.strip()[-1000:]}"}
    findings = parse_ruff_json(done.stdout, _displayer(resolved))
    errors = sum(1 for f in findings if f.severity == "error")
    return {
        **part,
        "ok": errors == 0 and not unread,
        "errors": errors,
        "warnings": len(findings) - errors,
        "fixable": sum(1 for f in findings if f.fixable),
        "findings": [f.as_dict() for f in findings],
    }


def lint_step(environment: Environment, target: AirflowVersion) -> dict[str, Any]:
    """The lint part: ruff's AIR3 rules when the change crosses from Airflow 2 to 3."""
    current = environment.airflow_version
    if not crosses_to_3(current, target):
        return not_applicable(
            f"Airflow {current.airflow} -> {target.airflow} does not cross from 2 to 3"
        )
    try:
        with lint_sources(environment) as sources:
            return lint_folders(sources)
    except (MwaaLocalError, OSError, zipfile.BadZipFile) as error:
        message = error.message if isinstance(error, MwaaLocalError) else str(error)
        return not_run(message, findings=[])


# --- the report ---------------------------------------------------------------------------------


def assemble(
    current: AirflowVersion,
    target: AirflowVersion,
    requirements: dict[str, Any],
    dag_check: dict[str, Any],
    lint: dict[str, Any],
) -> dict[str, Any]:
    """One report; `ok` when every checked part passed (the in-place rule only informs)."""
    in_place = in_place_upgrade(current, target)
    parts = {REQUIREMENTS: requirements, DAG_CHECK: dag_check, LINT: lint}
    failed = [name for name in CHECKED_PARTS if not passed(parts[name])]
    return {
        "from": current.airflow,
        "to": target.airflow,
        "image": image_tag(target),
        "ok": not failed,
        "failed": failed,
        # Parts that apply but did not run (a subset of `failed`).
        "not_run": [
            name
            for name in CHECKED_PARTS
            if applies(parts[name]) and parts[name].get("ran") is False
        ],
        IN_PLACE: dataclasses.asdict(in_place),
        **parts,
    }


def exit_code(report: dict[str, Any]) -> int:
    return 0 if report.get("ok") else 1
