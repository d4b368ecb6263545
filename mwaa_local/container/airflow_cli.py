"""Airflow's CLI for `mwaa-local airflow ARGS`, with stdout carrying the command's output only:
`mwaa-local airflow dags list -o json | jq` must read JSON.

Airflow 3 shows Python warnings through its structlog set-up, on stdout (its own switch of log
output to stderr for `-o` commands covers the standard library's handlers only), so the output
began with "Could not import graphviz ...". Here every warning is shown on stderr, the way Python
shows it by default, whatever Airflow installs as `warnings.showwarning`.
"""

import sys
import warnings


def show_on_stderr(message: warnings.WarningMessage) -> None:
    # _showwarnmsg_impl writes to the warning's file, else sys.stderr.
    warnings._showwarnmsg_impl(message)  # type: ignore[attr-defined]


def main(argv: list[str]) -> int:
    # Every warning passes through warnings._showwarnmsg (the C accelerator calls it too); it
    # calls a replaced `showwarning` only when there is one, so replacing it keeps them all here.
    warnings._showwarnmsg = show_on_stderr  # type: ignore[attr-defined]
    sys.argv = ["airflow", *argv]
    from airflow.__main__ import main as airflow_main

    code = airflow_main()
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
