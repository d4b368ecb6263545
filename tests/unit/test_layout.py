"""The layout ARCHITECTURE.md draws, enforced: which package may import which."""

import ast
import subprocess
import sys
from pathlib import Path

import mwaa_local

PACKAGE = Path(mwaa_local.__file__).resolve().parent
# The one module of container/ that host code imports: the in-container paths, the contract
# between the two halves (ARCHITECTURE.md).
CONTAINER_CONTRACT = "mwaa_local.container.paths"
RUNTIME_MODULES = {"__init__", "engine", "compose", "image", "stack", "state", "one_off"}
RUNTIME_MODULES |= {"line_stream"}  # container output cut into lines, for the stack and one-offs
# The runtimes behind one interface (issue 16): docker/podman's compose stack, host processes.
RUNTIME_MODULES |= {"interface", "select", "compose_runtime", "podman", "common"}
RUNTIME_MODULES |= {"host", "host_venv", "host_supervisor"}
# `mwaa-local airflow` without the engine SDK: the stack's labels, one `docker ps`, `docker exec`.
RUNTIME_MODULES |= {"compose_project", "direct_exec"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every mwaa_local module `path` imports, at any depth (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import module` imports the module; `from module import name`, the module
            package = (PACKAGE.parent / node.module.replace(".", "/")).is_dir()
            if package:
                found |= {f"{node.module}.{alias.name}" for alias in node.names}
            else:
                found.add(node.module)
    return {name for name in found if name.startswith("mwaa_local")}


def modules() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}


def inside(name: str, package: str) -> bool:
    return name == f"mwaa_local.{package}" or name.startswith(f"mwaa_local.{package}.")


def test_mwaa_rules_import_none_of_the_other_rooms():
    broken = {
        module: sorted(i for i in imported if any(inside(i, p) for p in forbidden))
        for module, imported in modules().items()
        if inside(module, "mwaa")
        for forbidden in [("runtime", "bucket", "container", "cli")]
    }
    assert {m: i for m, i in broken.items() if i} == {}


def test_host_code_imports_only_the_paths_of_the_container_half():
    broken = {
        module: sorted(
            i for i in imported if inside(i, "container") and not i.startswith(CONTAINER_CONTRACT)
        )
        for module, imported in modules().items()
        if not inside(module, "container")
    }
    assert {m: i for m, i in broken.items() if i} == {}


def test_runtime_holds_only_where_components_run():
    assert {p.stem for p in (PACKAGE / "runtime").glob("*.py")} <= RUNTIME_MODULES


def test_commands_never_reach_into_docker():
    for path in (PACKAGE / "cli").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # TYPE_CHECKING blocks are not at the top level
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n == "docker" or n.startswith("docker.") for n in names), path


BLOCKER = """
import importlib, importlib.abc, pkgutil, sys

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"docker", "boto3", "botocore", "click", "rich"}:
            raise ImportError(f"{name} is blocked")
        return None

sys.meta_path.insert(0, Blocker())
import mwaa_local.mwaa
for info in pkgutil.iter_modules(mwaa_local.mwaa.__path__, "mwaa_local.mwaa."):
    importlib.import_module(info.name)
print("ok")
"""


def test_mwaa_rules_import_without_docker_boto3_or_click():
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER], capture_output=True, text=True, cwd=PACKAGE.parent
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_repository_sample_project_is_the_one_init_lays_out():
    """The sample project at the repository's root (what README's quick start runs) and the copy
    packaged for `mwaa-local init` (mwaa_local/data/project/) are the same files."""
    root = Path(__file__).resolve().parents[2]
    packaged = root / "mwaa_local" / "data" / "project"
    files = [p.relative_to(packaged) for p in packaged.rglob("*") if p.is_file()]
    assert files
    for name in files:
        if name.as_posix() == "gitignore":  # init writes it as .gitignore; the repo has its own
            continue
        assert (root / name).read_bytes() == (packaged / name).read_bytes(), name
