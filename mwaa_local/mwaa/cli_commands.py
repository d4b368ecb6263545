"""The Airflow CLI commands MWAA's web server runs through POST /aws_mwaa/cli, per Airflow major
version: everything else is refused.

Source: the MWAA User Guide's "Apache Airflow CLI command reference" (current text, as written up
in ../shared/reference/mwaa-behaviour.md 6.4 and aws-clients-and-serverless.md B.2):
https://docs.aws.amazon.com/mwaa/latest/userguide/airflow-cli-command-reference.html

The guide gates a few Airflow 2 commands by minor version (`dags backfill` 2.2+, `dags reserialize`
and `db clean` 2.4+, `dags list-import-errors`, `providers secrets` and the `roles` edits 2.6+,
`providers triggerer` 2.7+, `providers notifications` 2.8+); every gate is below the oldest 2.x
MWAA version mwaa-local builds (2.9.2), so the Airflow 2 list below holds them all.
"""

DOCS_URL = "https://docs.aws.amazon.com/mwaa/latest/userguide/airflow-cli-command-reference.html"

_PROVIDERS_COMMON = ("behaviours", "get", "hooks", "links", "list", "widgets")
_PROVIDERS_NEWER = ("notifications", "secrets", "triggerer")

_SHARED = (
    "cheat-sheet",
    "version",
    "connections add",
    "connections delete",
    "dags delete",
    "dags list",
    "dags list-import-errors",
    "dags list-jobs",
    "dags list-runs",
    "dags next-execution",
    "dags pause",
    "dags report",
    "dags reserialize",
    "dags show",
    "dags state",
    "dags test",
    "dags trigger",
    "dags unpause",
    "db clean",
    *(f"providers {c}" for c in _PROVIDERS_COMMON + _PROVIDERS_NEWER),
    "roles add-perms",
    "roles create",
    "roles del-perms",
    "roles list",
    "tasks clear",
    "tasks failed-deps",
    "tasks list",
    "tasks render",
    "tasks state",
    "tasks states-for-dag-run",
    "tasks test",
    "variables delete",
    "variables get",
    "variables list",
    "variables set",
)

SUPPORTED: dict[int, frozenset[str]] = {
    2: frozenset((*_SHARED, "dags backfill", "tasks run")),
    # Airflow 3 moved backfills to `backfill create` and datasets to assets; `tasks run` is gone.
    3: frozenset(
        (*_SHARED, "assets details", "assets list", "assets materialize", "backfill create")
    ),
}

# Options the guide lists as unsupported although their command is supported (its Airflow 2.0.2
# table; they write files on the managed web server). That later versions still refuse them is
# UNCONFIRMED, but nothing in the current guide lifts it.
REFUSED_OPTIONS: dict[str, tuple[str, ...]] = {
    "dags show": ("--save", "-s"),
    "dags test": ("--save-dagrun", "--show-dagrun"),
}


def refusal(argv: list[str], airflow_version: str) -> str | None:
    """Why MWAA would not run `airflow <argv>` on that Airflow version, or None if it would."""
    if not argv:
        return "No Airflow CLI command was given."
    major = int(airflow_version.split(".", 1)[0])
    supported = SUPPORTED.get(major, frozenset())
    # A command is one word (`version`) or a group and its subcommand (`dags trigger`).
    name = argv[0] if argv[0] in supported else " ".join(argv[:2])
    if name not in supported:
        hint = ""
        if argv[0] == "airflow":
            hint = " Send the command without the leading `airflow`, e.g. `dags list`."
        return (
            f"`airflow {name}` is not an Airflow CLI command MWAA runs on Airflow {major}.x "
            f"(supported: {DOCS_URL}).{hint}"
        )
    for option in REFUSED_OPTIONS.get(name, ()):
        if any(arg == option or arg.startswith(option + "=") for arg in argv[2:]):
            return f"MWAA does not support `airflow {name} {option}` (see {DOCS_URL})."
    return None
