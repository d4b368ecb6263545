"""One exception family: a message saying what is wrong and a hint saying what to do.

The CLI renders these without a traceback and exits non-zero.
"""


class MwaaLocalError(Exception):
    """An error the user can act on."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class SettingsError(MwaaLocalError):
    """The settings file or a MWAA_LOCAL_* variable holds a value MWAA (or mwaa-local) rejects.

    `problems` holds one line per rejected key, each naming the key, the value and the rule.
    """

    exit_code = 2

    def __init__(self, problems: list[str], source: str, hint: str | None = None) -> None:
        self.problems = problems
        self.source = source
        super().__init__("\n".join(f"{source}: {p}" for p in problems), hint)


class DockerUnavailableError(MwaaLocalError):
    """No Docker engine answers."""


class ImageBuildError(MwaaLocalError):
    """`docker build` failed."""


class ConstraintsError(MwaaLocalError):
    """The Airflow constraints file could not be found, downloaded or read."""


class MwaaLocalWarning(UserWarning):
    """Something the user should know that does not stop the command (the CLI prints it as a
    warning, every time it happens)."""
