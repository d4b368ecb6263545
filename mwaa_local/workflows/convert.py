"""A Python DAG file to MWAA Serverless's YAML with AWS's published converter
(python-to-yaml-dag-converter-mwaa-serverless, command `dag-converter`).

The converter imports the DAG with Airflow itself and pins its own stack (0.1.4:
apache-airflow==3.0.6, apache-airflow-providers-amazon==9.30.0, dag-factory==1.0.1), so it cannot
share an environment with another Airflow (not the 3.3.1 image's, not the user's). It runs on the
host in a throwaway environment of its own through `uv tool run`, which uv caches: the first run
downloads the stack from the package index (about 170 packages, seconds with a warm cache), later
runs start at once. It needs no metadata database and no Docker. Python 3.10 to 3.12 only
(Airflow 3.0.6's range).

The converter writes `<dag_id>.yaml` for each DAG of the file into a folder and overwrites what is
there; it writes into a temporary folder here, and the results are copied to their place only
when no file is there already.
"""

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mwaa_local.errors import MwaaLocalError
from mwaa_local.package_requirements.tools import find_uv

CONVERTER_PACKAGE = "python-to-yaml-dag-converter-mwaa-serverless"
CONVERTER_VERSION = "0.1.4"
CONVERTER_COMMAND = "dag-converter"
# Airflow 3.0.6 (the converter's pin) supports these.
SUPPORTED_PYTHONS = ((3, 10), (3, 11), (3, 12))
FALLBACK_PYTHON = "3.12"
TIMEOUT_SECONDS = 900
TAIL_LINES = 20

# What uv prints when the converter's environment cannot be made.
_INSTALL_FAILURES = (
    "No solution found",
    "Failed to fetch",
    "Failed to download",
    "Could not connect",
    "error sending request",
    "No interpreter found",
    "not found in the package registry",
)

Runner = Callable[..., subprocess.CompletedProcess]


@dataclass(frozen=True)
class Conversion:
    written: list[Path]
    output: str  # what the converter printed


def python_request(version: tuple[int, int] = sys.version_info[:2]) -> str:
    """This interpreter when Airflow 3.0.6 supports it, else any Python 3.12 uv can find."""
    return sys.executable if version in SUPPORTED_PYTHONS else FALLBACK_PYTHON


def converter_command(uv: Sequence[str], dag_file: Path, out_dir: Path, python: str) -> list[str]:
    return [
        *uv,
        "tool",
        "run",
        "--python",
        python,
        "--from",
        f"{CONVERTER_PACKAGE}=={CONVERTER_VERSION}",
        CONVERTER_COMMAND,
        "convert",
        str(dag_file),
        "--output",
        str(out_dir),
    ]


def converter_env(work: Path, dag_folder: Path, base: dict[str, str] | None = None) -> dict:
    """A throwaway AIRFLOW_HOME, the DAG's folder as Airflow's DAG folder (it goes on sys.path,
    so the DAG's own imports resolve), and no usage reporting (dag-factory and Airflow)."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "AIRFLOW_HOME": str(work / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dag_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY": "False",
            "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
            "DO_NOT_TRACK": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def targets(produced: Sequence[Path], dag_file: Path, output: Path | None, cwd: Path) -> list:
    """Where each produced YAML goes: `output` for the only one, else `<dag_id>.yaml` in cwd."""
    if output is None:
        return [cwd / p.name for p in produced]
    if len(produced) > 1:
        names = ", ".join(p.stem for p in produced)
        raise MwaaLocalError(
            f"{dag_file} defines {len(produced)} DAGs ({names}); --output names one file.",
            hint="Leave --output out to write each DAG as <dag_id>.yaml in this folder.",
        )
    return [output]


def refuse_existing(paths: Sequence[Path]) -> None:
    existing = [str(p) for p in paths if p.exists()]
    if existing:
        raise MwaaLocalError(
            f"{', '.join(existing)} already exists; mwaa-local never overwrites a file.",
            hint="Remove it or name another file with --output.",
        )


def _tail(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-TAIL_LINES:])


def failure(returncode: int, output: str, dag_file: Path) -> MwaaLocalError:
    if any(sign in output for sign in _INSTALL_FAILURES):
        return MwaaLocalError(
            f"The converter ({CONVERTER_PACKAGE}=={CONVERTER_VERSION}) could not be installed "
            f"with uv:\n{_tail(output)}",
            hint="It needs the package index (once; uv caches it) and Python 3.10-3.12 on this "
            "machine. Set SSL_CERT_FILE for a TLS-inspecting proxy.",
        )
    return MwaaLocalError(
        f"The converter failed on {dag_file} (exit {returncode}):\n{_tail(output)}",
        hint="It converts only Amazon provider operators and what dag-factory can express "
        "(no dynamic task mapping); see its message above.",
    )


def convert(
    dag_file: Path,
    output: Path | None = None,
    cwd: Path | None = None,
    run: Runner | None = None,
    uv: Sequence[str] | None = None,
) -> Conversion:
    """Convert `dag_file`, writing `output` (one DAG) or `<dag_id>.yaml` files in `cwd`."""
    cwd = cwd or Path.cwd()
    run = run or subprocess.run
    dag_file = dag_file.resolve()
    if output is not None:
        output = output if output.is_absolute() else cwd / output
        refuse_existing([output])
    uv = uv or find_uv()
    if not uv:
        raise MwaaLocalError(
            "uv is not installed: the converter runs in an environment uv makes for it.",
            hint="pip install uv",
        )
    with tempfile.TemporaryDirectory(prefix="mwaa-local-convert-") as tmp:
        work = Path(tmp)
        out_dir = work / "yaml"
        command = converter_command(uv, dag_file, out_dir, python_request())
        try:
            done = run(
                command,
                cwd=str(dag_file.parent),
                env=converter_env(work, dag_file.parent),
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired as e:
            raise MwaaLocalError(
                f"The converter did not finish within {TIMEOUT_SECONDS} s on {dag_file}."
            ) from e
        except OSError as e:
            raise MwaaLocalError(f"uv could not be started: {e}", hint="pip install uv") from e
        printed = (done.stdout or "") + (done.stderr or "")
        produced = sorted(out_dir.glob("*.yaml")) if out_dir.is_dir() else []
        if done.returncode != 0:
            raise failure(done.returncode, printed, dag_file)
        if not produced:
            raise MwaaLocalError(
                f"The converter found no DAG in {dag_file}:\n{_tail(printed)}",
                hint="The file must define a DAG at import time (DAG(...) or @dag called).",
            )
        places = targets(produced, dag_file, output, cwd)
        refuse_existing(places)
        written = []
        for source, place in zip(produced, places, strict=True):
            place.parent.mkdir(parents=True, exist_ok=True)
            try:
                with open(place, "x", encoding="utf-8") as f:  # "x": never overwrite, even now
                    f.write(source.read_text(encoding="utf-8"))
            except FileExistsError:
                refuse_existing([place])
            written.append(place)
    return Conversion(written, printed)
