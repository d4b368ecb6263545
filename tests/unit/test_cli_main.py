"""The command group loads a command's module only when the command is asked for, and knows
every command each module holds."""

import importlib
import pkgutil
import subprocess
import sys

import mwaa_local.cli
from mwaa_local.cli.main import COMMAND_MODULES, cli


def test_every_command_of_every_module_is_listed_with_its_module():
    found = {}
    for info in pkgutil.iter_modules(mwaa_local.cli.__path__):
        if info.name.startswith("commands_"):
            module = importlib.import_module(f"mwaa_local.cli.{info.name}")
            found |= {command.name: info.name for command in module.COMMANDS}
    assert found == COMMAND_MODULES
    assert {name: cli.get_command(None, name).name for name in found} == {n: n for n in found}


def test_a_command_imports_only_its_own_module():
    probe = (
        "import sys\n"
        "from mwaa_local.cli.main import cli\n"
        "cli.get_command(None, 'airflow')\n"
        "print(sorted(m for m in sys.modules if m.startswith(('mwaa_local.cli.', 'boto3'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = eval(done.stdout)
    assert "mwaa_local.cli.commands_airflow" in loaded
    assert "mwaa_local.cli.commands_stack" not in loaded
    assert "mwaa_local.cli.commands_workflows" not in loaded and "boto3" not in loaded


def test_an_unknown_command_is_refused_by_click():
    result = subprocess.run(
        [sys.executable, "-m", "mwaa_local.cli", "no-such-command"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "No such command 'no-such-command'" in result.stderr
