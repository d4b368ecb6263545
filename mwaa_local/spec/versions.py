"""MWAA's Airflow versions: each with MWAA's Python version, constraints URL and component set.

Source: ../shared/reference/mwaa-behaviour.md section 2.1 (Python 3.11 up to 2.10.3, 3.12 after)
and section 8.2 (Airflow 3 splits the webserver into api-server + dag-processor).
"""

from dataclasses import dataclass

from mwaa_local.errors import MwaaLocalError

CONSTRAINTS_URL = (
    "https://raw.githubusercontent.com/apache/airflow/"
    "constraints-{airflow}/constraints-{python}.txt"
)

# The providers MWAA installs in its base image (amazon, celery, postgres, redis); Airflow 3 moved
# the core operators to the standard provider, and MWAA keeps Flask-AppBuilder auth (fab).
BASE_PROVIDERS = ("amazon", "celery", "postgres", "redis")
AIRFLOW3_PROVIDERS = ("standard", "fab")

AIRFLOW2_COMPONENTS = ("webserver", "scheduler", "triggerer", "worker")
AIRFLOW3_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer", "worker")


@dataclass(frozen=True)
class AirflowVersion:
    airflow: str
    python: str

    @property
    def major(self) -> int:
        return int(self.airflow.split(".")[0])

    @property
    def constraints_url(self) -> str:
        return CONSTRAINTS_URL.format(airflow=self.airflow, python=self.python)

    @property
    def constraints_path(self) -> str:
        """The URL's path below the branch root, as a mirror folder lays it out."""
        return f"constraints-{self.airflow}/constraints-{self.python}.txt"

    @property
    def components(self) -> tuple[str, ...]:
        return AIRFLOW3_COMPONENTS if self.major >= 3 else AIRFLOW2_COMPONENTS

    @property
    def providers(self) -> tuple[str, ...]:
        extra = AIRFLOW3_PROVIDERS if self.major >= 3 else ()
        return BASE_PROVIDERS + extra


SUPPORTED: tuple[AirflowVersion, ...] = (
    AirflowVersion("2.9.2", "3.11"),
    AirflowVersion("2.10.1", "3.11"),
    AirflowVersion("2.10.3", "3.11"),
    AirflowVersion("2.11.0", "3.12"),
    AirflowVersion("2.11.2", "3.12"),
    AirflowVersion("3.0.6", "3.12"),
    AirflowVersion("3.2.1", "3.12"),
    AirflowVersion("3.3.1", "3.12"),
)

DEFAULT: AirflowVersion = SUPPORTED[-1]


def supported_names() -> list[str]:
    return [v.airflow for v in SUPPORTED]


def airflow_version(name: str | None) -> AirflowVersion:
    """The table entry for `name` (default: the newest), or an error listing the supported ones."""
    if name is None:
        return DEFAULT
    for version in SUPPORTED:
        if version.airflow == str(name).strip():
            return version
    raise MwaaLocalError(
        f"Airflow version {name!r} is not one MWAA supports.",
        hint="Supported versions: " + ", ".join(supported_names()),
    )
