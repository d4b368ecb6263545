"""The settings file `mwaa-local.yaml`: MWAA's CreateEnvironment names plus a `Local:` mapping.

`load_environment()` reads the file, applies `MWAA_LOCAL_*` variables and defaults, and checks every
value against MWAA's documented patterns and ranges (../shared/reference/mwaa-behaviour.md sections
4, 5 and 6.2). It reports every problem at once, one line per problem.
"""

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from mwaa_local.errors import MwaaLocalError, SettingsError
from mwaa_local.mwaa.airflow_config import FORBIDDEN_OPTIONS, IGNORED_OPTIONS, MWAA_OWNED_OPTIONS
from mwaa_local.mwaa.logging_levels import configuration_problems
from mwaa_local.spec import versions
from mwaa_local.spec.classes import DEFAULT_CLASS, ENVIRONMENT_CLASSES, EnvironmentClass
from mwaa_local.spec.overlay import overlay_path, read_overlay, removal_hint
from mwaa_local.spec.validation import (
    Rejected,
    did_you_mean,
    port_number,
    show,
    whole_number,
    yaml_problem,
)
from mwaa_local.spec.versions import AirflowVersion

SETTINGS_FILE_NAME = "mwaa-local.yaml"
ENV_PREFIX = "MWAA_LOCAL_"
FALLBACK_NAME = "mwaa-local"
S3_SCHEME = "s3://"

# The top-level keys: MWAA's CreateEnvironment names, in the order a settings file lists them.
SETTINGS_KEYS: tuple[str, ...] = (
    "Name",
    "AirflowVersion",
    "EnvironmentClass",
    "AirflowConfigurationOptions",
    "MinWorkers",
    "MaxWorkers",
    "Schedulers",
    "MinWebservers",
    "MaxWebservers",
    "DagS3Path",
    "PluginsS3Path",
    "PluginsS3ObjectVersion",
    "RequirementsS3Path",
    "RequirementsS3ObjectVersion",
    "StartupScriptS3Path",
    "StartupScriptS3ObjectVersion",
    "SourceBucketArn",
    "ExecutionRoleArn",
    "WebserverAccessMode",
    "WeeklyMaintenanceWindowStart",
    "EndpointManagement",
    "Tags",
    "LoggingConfiguration",
    "KmsKey",
    "NetworkConfiguration",
)
LOCAL_KEY = "Local"

# mwaa-behaviour.md 6.2: Name is 1-80 characters matching [a-zA-Z][0-9a-zA-Z-_]*.
NAME_PATTERN = re.compile(r"[a-zA-Z][0-9a-zA-Z\-_]*")
NAME_MAX = 80
# mwaa-behaviour.md 4.1: option keys 1-64 chars, values 1-65,536 chars of printable ASCII.
OPTION_KEY_PATTERN = re.compile(r"[a-z]+([a-z0-9._]*[a-z0-9_]+)?")
OPTION_KEY_MAX = 64
OPTION_VALUE_PATTERN = re.compile(r"[ -~]+")
OPTION_VALUE_MAX = 65536
# mwaa-behaviour.md 5.2: MinWorkers/MaxWorkers >= 1; console max 25, quota adjustable up to 50.
WORKERS_CONSOLE_MAX = 25
WORKERS_QUOTA_MAX = 50
# mwaa-behaviour.md 6.2: DAY:HH:MM in UTC, 30-minute increments.
MAINTENANCE_WINDOW_PATTERN = re.compile(r"(MON|TUE|WED|THU|FRI|SAT|SUN):([01]\d|2[0-3]):(00|30)")
ACCESS_MODES = ("PRIVATE_ONLY", "PUBLIC_ONLY", "PUBLIC_AND_PRIVATE")
ENDPOINT_MANAGEMENT = ("CUSTOMER", "SERVICE")
# mwaa-behaviour.md 3 and 9 row 3: arn:aws:s3:::bucket, no trailing slash.
# botocore's mwaa model, IamRoleArn (aws-clients-and-serverless.md A.4).
ROLE_ARN_PATTERN = re.compile(r"arn:aws(-[a-z]+)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
BUCKET_ARN_PATTERN = re.compile(r"arn:aws(-[a-z]+)*:s3:::[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
OBJECT_VERSION_MAX_BYTES = 1024
# mwaa-behaviour.md 6.1 (TagResource): at most 50 tags, key <= 128 chars, value <= 256 chars.
TAGS_MAX, TAG_KEY_MAX, TAG_VALUE_MAX = 50, 128, 256
DAG_SYNC_MODES = ("fast", "mwaa")
# Where the components run: the compose stack on Docker or Podman, or processes on this machine.
RUNTIMES = ("docker", "podman", "host")
# uv (fast, the default) or pip (MWAA's own command, so the log shows pip's words).
INSTALLERS = ("uv", "pip")
# Issue 12: what the tasks' AWS credentials are (mwaa_local/aws/credentials.py MODES).
CREDENTIALS_MODES = ("execution-role", "profile", "none")
REGION_PATTERN = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


@dataclass(frozen=True)
class LocalSettings:
    """mwaa-local's own settings (the `Local:` mapping, or MWAA_LOCAL_<UPPER_SNAKE> variables)."""

    # One of RUNTIMES; None: the first that works (runtime/select.py).
    runtime: str | None = None
    base_image: str = "public.ecr.aws/amazonlinux/amazonlinux:2023"
    postgres_image: str = "postgres:16"
    redis_image: str = "redis:7"
    # A folder laid out like the constraints URL path (constraints-<airflow>/constraints-<py>.txt).
    constraints_mirror: Path | None = None
    ca_bundle: Path | None = None
    # A folder relative to the project dir, or s3://bucket/prefix.
    bucket: str = "."
    bind_address: str = "127.0.0.1"
    webserver_port: int = 8080
    # The environment's MWAA API endpoint (on 127.0.0.1); default: WebserverPort + 1.
    api_port: int | None = None
    admin_username: str = "admin"
    admin_password: str | None = None
    # mwaa-behaviour.md 1.7: MWAA stops a startup script after 5 minutes.
    startup_script_timeout: int = 300
    # mwaa-behaviour.md 9 row 6: pip must finish within about ten minutes.
    requirements_timeout: int = 600
    # What installs requirements.txt: uv, or pip with MWAA's own command (anchor 3.6 item 6).
    installer: str = "uv"
    # mwaa-behaviour.md 3: MWAA syncs every 30 s and lists new files every 300 s. "fast" (the
    # default) syncs every second and parses within seconds; "mwaa" keeps MWAA's pace.
    dag_sync: str = "fast"
    # Seconds between syncs; default 1 in fast mode, 30 in mwaa mode.
    dag_sync_interval: float | None = None
    # For an s3:// bucket: an S3 endpoint such as LocalStack's, MinIO's or moto's.
    s3_endpoint_url: str | None = None
    # mwaa-behaviour.md 5.3: extra workers go once running + queued has been 0 this long
    # (MWAA: "two to five minutes").
    worker_scale_in_cooldown: int = 120
    # Each component's container limits are its class's vCPU and memory (mwaa-behaviour.md 5.1)
    # times this; 0 = no limits. 1 keeps MWAA's sizes: limits are caps, not reservations.
    resource_scale: float = 1.0

    @property
    def api_endpoint_port(self) -> int:
        if self.api_port is not None:
            return self.api_port
        return self.webserver_port + 1 if self.webserver_port < 65535 else self.webserver_port - 1

    # Issue 12: the tasks' AWS credentials (None: chosen at start, see aws/task_aws.py), the
    # profile they come from, the region, and endpoints for every AWS client (a local emulator).
    credentials: str | None = None
    aws_profile: str | None = None
    region: str | None = None
    aws_endpoint_url: str | None = None
    aws_endpoint_urls: dict[str, str] = field(default_factory=dict)

    @property
    def bucket_endpoint_url(self) -> str | None:
        """The S3 endpoint the bucket is read from: S3EndpointUrl, else the tasks' S3 one."""
        return self.s3_endpoint_url or self.aws_endpoint_urls.get("s3") or self.aws_endpoint_url

    @property
    def sync_interval(self) -> float:
        if self.dag_sync_interval is not None:
            return self.dag_sync_interval
        return 30.0 if self.dag_sync == "mwaa" else 1.0


@dataclass(frozen=True)
class Environment:
    """A validated environment: MWAA's settings with defaults applied, plus the local ones."""

    name: str = FALLBACK_NAME
    airflow_version: AirflowVersion = versions.DEFAULT
    environment_class: str = DEFAULT_CLASS
    airflow_configuration_options: dict[str, str] = field(default_factory=dict)
    min_workers: int = 1
    max_workers: int = 10
    schedulers: int = 2
    min_webservers: int = 2
    max_webservers: int = 2
    dag_s3_path: str = "dags"
    plugins_s3_path: str | None = None
    plugins_s3_object_version: str | None = None
    requirements_s3_path: str | None = "requirements/requirements.txt"
    requirements_s3_object_version: str | None = None
    startup_script_s3_path: str | None = "startup/startup.sh"
    startup_script_s3_object_version: str | None = None
    source_bucket_arn: str | None = None
    execution_role_arn: str | None = None
    webserver_access_mode: str | None = None
    weekly_maintenance_window_start: str | None = None
    endpoint_management: str | None = None
    kms_key: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    logging_configuration: dict[str, Any] = field(default_factory=dict)
    network_configuration: dict[str, Any] = field(default_factory=dict)
    local: LocalSettings = field(default_factory=LocalSettings)
    project_dir: Path = Path(".")
    settings_file: Path | None = None
    warnings: tuple[str, ...] = ()
    # Settings changed through the MWAA API (spec/overlay.py): the file and the keys it set.
    overlay_file: Path | None = None
    overlay_keys: tuple[str, ...] = ()

    @property
    def class_spec(self) -> EnvironmentClass:
        return ENVIRONMENT_CLASSES[self.environment_class]

    @property
    def worker_concurrency(self) -> int:
        """Tasks per worker: the max of celery.worker_autoscale, else the class default.

        mwaa-behaviour.md 5.3: tasks per worker = max of celery.worker_autoscale (defaults: 4.4).
        """
        autoscale = parse_worker_autoscale(
            self.airflow_configuration_options.get("celery.worker_autoscale")
        )
        return autoscale[0] if autoscale else self.class_spec.worker_concurrency

    @property
    def bucket_is_s3(self) -> bool:
        return self.local.bucket.startswith(S3_SCHEME)

    @property
    def bucket_folder(self) -> Path:
        """The local folder standing in for the environment's S3 bucket (Local.Bucket, relative
        to the project)."""
        if self.bucket_is_s3:
            raise MwaaLocalError(f"The bucket is {self.local.bucket}, not a folder.")
        bucket = Path(self.local.bucket)
        return (bucket if bucket.is_absolute() else self.project_dir / bucket).resolve()


def parse_worker_autoscale(value: str | None) -> tuple[int, int] | None:
    """`"max,min"` -> (max, min); None when absent or malformed."""
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def default_name(project_dir: Path) -> str:
    """The project folder's name made valid for MWAA's Name pattern (mwaa-behaviour.md 6.2)."""
    cleaned = re.sub(r"[^0-9A-Za-z\-_]", "", Path(project_dir).resolve().name)
    cleaned = re.sub(r"^[^A-Za-z]+", "", cleaned)[:NAME_MAX]
    return cleaned or FALLBACK_NAME


def load_environment(
    project_dir: Path,
    settings_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overlay: Mapping[str, Any] | None = None,
) -> Environment:
    """Read `mwaa-local.yaml` (if any), apply the MWAA API's overlay, MWAA_LOCAL_* variables and
    defaults, and validate. `overlay`: use these values instead of the overlay file's.

    Raises SettingsError listing every problem, one line each.
    """
    project_dir = Path(project_dir)
    environ = os.environ if environ is None else environ
    path = Path(settings_file) if settings_file is not None else project_dir / SETTINGS_FILE_NAME
    raw = _read_settings_file(path, explicit=settings_file is not None)
    read_from = path if raw is not None else None
    return _validated(raw or {}, project_dir, read_from, path, environ, overlay)


def environment_from_text(
    text: str, project_dir: Path, path: Path, environ: Mapping[str, str] | None = None
) -> Environment:
    """Validate a settings document meant for `path` before it is written there (the file's
    values only, unless `environ` is given)."""
    raw = _parse_settings_text(text, path)
    environ = {} if environ is None else environ
    return _validated(raw, Path(project_dir), path, path, environ, overlay={})


def _validated(
    raw: dict,
    project_dir: Path,
    read_from: Path | None,
    path: Path,
    environ: Mapping[str, str],
    overlay: Mapping[str, Any] | None = None,
) -> Environment:
    # The MWAA API's changes (spec/overlay.py) apply on top of the file, key by key.
    name = raw.get("Name")
    if not (isinstance(name, str) and NAME_PATTERN.fullmatch(name)):
        name = default_name(project_dir)
    overlay_file = overlay_path(project_dir, name)
    if overlay is None:
        overlay = read_overlay(overlay_file)
    merged = {**raw, **overlay}

    check = _Checker()
    environment = _build(merged, project_dir, read_from, environ, check)
    if check.problems:
        in_file = [p for p in check.problems if not p.startswith(ENV_PREFIX)]
        source = str(read_from) if in_file and read_from else "environment"
        problems = sorted(check.problems, key=_file_order)
        hint = _hint(path, bool(in_file))
        if overlay:
            through_api = ", ".join(overlay)
            hint += f" {through_api} came through the MWAA API. {removal_hint(overlay_file)}"
        raise SettingsError(problems, source=source, hint=hint)
    if overlay:
        environment = replace(environment, overlay_file=overlay_file, overlay_keys=tuple(overlay))
    return environment


def _file_order(problem: str) -> int:
    """Problems in the order a settings file lists its keys; unknown keys first, variables last."""
    key = problem.split(":", 1)[0].split(".", 1)[0]
    if key in SETTINGS_KEYS:
        return SETTINGS_KEYS.index(key) + 1
    return len(SETTINGS_KEYS) + 1 if key == LOCAL_KEY or key.startswith(ENV_PREFIX) else 0


def _hint(path: Path, in_file: bool) -> str:
    if in_file:
        return f"Fix the settings named above in {path.name}; each line gives the rule."
    return "Fix or unset the MWAA_LOCAL_* variables named above."


# --- reading the file -------------------------------------------------------------------------


def _read_settings_file(path: Path, explicit: bool) -> dict | None:
    """The file's top-level mapping; None when the default file is absent."""
    if not path.is_file():
        if explicit:
            raise SettingsError(["the settings file does not exist"], source=str(path))
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError([f"cannot read the settings file: {exc}"], source=str(path)) from exc
    return _parse_settings_text(text, path)


def _parse_settings_text(text: str, path: Path) -> dict:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SettingsError([yaml_problem(exc)], source=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        line = yaml.compose(text, Loader=yaml.SafeLoader).start_mark.line + 1
        problem = (
            f"line {line}: the file holds a {type(data).__name__}, not a mapping of settings "
            "(e.g. 'EnvironmentClass: mw1.small')"
        )
        raise SettingsError([problem], source=str(path))
    return data


# --- checking values ----------------------------------------------------------------------------


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def value(self, label: str, raw: Any, parse: Callable[[Any], Any]) -> Any:
        """`parse(raw)`, or None when raw is None or rejected (the rejection is recorded)."""
        if raw is None:
            return None
        try:
            return parse(raw)
        except Rejected as exc:
            self.problems.append(f"{label}: {show(raw)} {exc}")
            return None


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Rejected("is not a non-empty string")
    return value


def _mapping(value: Any) -> dict:
    if not isinstance(value, Mapping):
        raise Rejected("is not a mapping")
    return dict(value)


def _scalar_text(value: Any) -> str:
    """A YAML scalar as MWAA's string: bool -> 'True'/'False', numbers and dates via str()."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float | date):
        return str(value)
    raise Rejected("is not a single value (a string, number or boolean)")


# --- top-level settings -------------------------------------------------------------------------


def _name(value: Any) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value) or len(value) > NAME_MAX:
        raise Rejected(
            "does not match MWAA's Name pattern [a-zA-Z][0-9a-zA-Z-_]* "
            f"(1 to {NAME_MAX} characters)"
        )
    return value


def _airflow_version(value: Any) -> AirflowVersion:
    supported = ", ".join(versions.supported_names())
    if isinstance(value, int | float) and not isinstance(value, bool):
        # YAML reads an unquoted 2.10 as the number 2.1, which no quoting can bring back.
        raise Rejected(
            "is a number to YAML, not a version (an unquoted 2.10 reads as 2.1); quote it, "
            f'e.g. AirflowVersion: "{versions.DEFAULT.airflow}"; MWAA supports {supported}'
        )
    try:
        return versions.airflow_version(str(value))
    except MwaaLocalError:
        raise Rejected(f"is not an Airflow version MWAA supports; use one of {supported}") from None


def _environment_class(value: Any) -> str:
    if not isinstance(value, str) or value not in ENVIRONMENT_CLASSES:
        raise Rejected("is not an environment class; use one of " + ", ".join(ENVIRONMENT_CLASSES))
    return value


def _bucket_key(value: Any, suffix: str | None = None) -> str:
    """A key relative to the bucket that stays inside it."""
    if not isinstance(value, str) or not value.strip():
        raise Rejected("is not a non-empty path relative to the bucket")
    if value.startswith(S3_SCHEME):
        raise Rejected("is an S3 URL; give the path relative to the bucket, e.g. dags")
    if value.startswith("/"):
        raise Rejected("starts with '/'; give the path relative to the bucket, e.g. dags")
    if ".." in value.split("/"):
        raise Rejected("contains '..'; the path must stay inside the bucket")
    if suffix and not value.endswith(suffix):
        raise Rejected(f"does not end with {suffix}")
    return value


def _object_version(value: Any) -> str:
    # mwaa-behaviour.md 2.6 / 6.2: S3 object version ids, strings of at most 1024 bytes.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise Rejected("is not an S3 object version (a non-empty string)")
    if len(value.encode("utf-8")) > OBJECT_VERSION_MAX_BYTES:
        raise Rejected(f"is longer than MWAA's limit of {OBJECT_VERSION_MAX_BYTES} bytes")
    return value


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if value not in choices:
            raise Rejected("is not one of " + ", ".join(choices))
        return value

    return parse


def _maintenance_window(value: Any) -> str:
    if not isinstance(value, str) or not MAINTENANCE_WINDOW_PATTERN.fullmatch(value):
        raise Rejected(
            "does not match MWAA's pattern DAY:HH:MM (MON..SUN, 00-23, minutes 00 or 30; "
            "e.g. SUN:14:00)"
        )
    return value


def _source_bucket_arn(value: Any) -> str:
    if isinstance(value, str) and value.endswith("/"):
        # mwaa-behaviour.md 9 row 3: a trailing '/' fails creation.
        raise Rejected(
            "ends with '/'; MWAA rejects it with \"service, partition, or resource must be "
            'passed" (remove the trailing slash)'
        )
    if not isinstance(value, str) or not BUCKET_ARN_PATTERN.fullmatch(value):
        raise Rejected("is not an S3 bucket ARN like arn:aws:s3:::my-airflow-bucket")
    return value


def _role_arn(value: Any) -> str:
    if not isinstance(value, str) or not ROLE_ARN_PATTERN.fullmatch(value):
        raise Rejected(
            "is not an IAM role ARN like arn:aws:iam::123456789012:role/my-execution-role "
            "(MWAA's pattern)"
        )
    return value


def _build(
    raw: dict,
    project_dir: Path,
    settings_file: Path | None,
    environ: Mapping[str, str],
    check: _Checker,
) -> Environment:
    _check_top_level_keys(raw, check)

    def get(key: str, parse: Callable[[Any], Any]) -> Any:
        return check.value(key, raw.get(key), parse)

    version = get("AirflowVersion", _airflow_version)
    class_name = get("EnvironmentClass", _environment_class)
    class_rejected = raw.get("EnvironmentClass") is not None and class_name is None
    # An invalid class skips the class-dependent range checks (its own problem is reported).
    known_class = None if class_rejected else ENVIRONMENT_CLASSES[class_name or DEFAULT_CLASS]
    options = _configuration_options(raw.get("AirflowConfigurationOptions"), check)
    counts = _counts(raw, known_class, check)
    access_mode = get("WebserverAccessMode", _one_of(ACCESS_MODES))
    _check_access_mode_version(access_mode, version, check)
    _check_worker_autoscale(options, known_class, check)
    local = _local_settings(raw.get(LOCAL_KEY), project_dir, environ, check)
    _check_credentials(local, raw.get("ExecutionRoleArn"), check)

    return Environment(
        name=get("Name", _name) or default_name(project_dir),
        airflow_version=version or versions.DEFAULT,
        environment_class=class_name or DEFAULT_CLASS,
        airflow_configuration_options=options,
        **counts,
        dag_s3_path=get("DagS3Path", _bucket_key) or "dags",
        plugins_s3_path=get("PluginsS3Path", _bucket_key),
        plugins_s3_object_version=get("PluginsS3ObjectVersion", _object_version),
        requirements_s3_path=(
            get("RequirementsS3Path", _bucket_key) or "requirements/requirements.txt"
        ),
        requirements_s3_object_version=get("RequirementsS3ObjectVersion", _object_version),
        startup_script_s3_path=(
            get("StartupScriptS3Path", lambda v: _bucket_key(v, ".sh")) or "startup/startup.sh"
        ),
        startup_script_s3_object_version=get("StartupScriptS3ObjectVersion", _object_version),
        source_bucket_arn=get("SourceBucketArn", _source_bucket_arn),
        execution_role_arn=get("ExecutionRoleArn", _role_arn),
        webserver_access_mode=access_mode,
        weekly_maintenance_window_start=get("WeeklyMaintenanceWindowStart", _maintenance_window),
        endpoint_management=get("EndpointManagement", _one_of(ENDPOINT_MANAGEMENT)),
        kms_key=get("KmsKey", _text),
        tags=_tags(raw.get("Tags"), check),
        logging_configuration=_logging_configuration(raw.get("LoggingConfiguration"), check),
        network_configuration=get("NetworkConfiguration", _mapping) or {},
        local=local,
        project_dir=project_dir,
        settings_file=settings_file,
        warnings=tuple(check.warnings),
    )


def _check_top_level_keys(raw: dict, check: _Checker) -> None:
    local_keys = list(LOCAL_FIELDS)
    for key in raw:
        if key in SETTINGS_KEYS or key == LOCAL_KEY:
            continue
        if key in local_keys:
            check.problems.append(
                f"{key}: is a mwaa-local setting; put it under Local: (Local.{key})"
            )
            continue
        suggestion = did_you_mean(key, [*SETTINGS_KEYS, LOCAL_KEY])
        check.problems.append(
            f"{key}: unknown setting{suggestion or '; settings use MWAA CreateEnvironment names'}"
        )


# --- AirflowConfigurationOptions ----------------------------------------------------------------


def _configuration_options(raw: Any, check: _Checker) -> dict[str, str]:
    label = "AirflowConfigurationOptions"
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        check.problems.append(f"{label}: {show(raw)} is not a mapping of section.key: value")
        return {}
    options: dict[str, str] = {}
    for key, value in raw.items():
        key_problem = _option_key_problem(key)
        if key_problem:
            check.problems.append(f"{label}: key {show(key)} {key_problem}")
            continue
        if value is None:
            check.problems.append(
                f"{label}: {key}: has no value; MWAA requires 1 to {OPTION_VALUE_MAX} characters"
            )
            continue
        text = check.value(f"{label}: {key}", value, _option_value)
        if text is None:
            continue
        options[key] = text
        _warn_about_option(key, text, check)
    return options


def _option_key_problem(key: Any) -> str | None:
    # mwaa-behaviour.md 4.1: key pattern and length.
    if not isinstance(key, str):
        return "is not a string"
    if len(key) > OPTION_KEY_MAX:
        return f"is longer than MWAA's limit of {OPTION_KEY_MAX} characters"
    if not OPTION_KEY_PATTERN.fullmatch(key):
        return f"does not match MWAA's pattern {OPTION_KEY_PATTERN.pattern}"
    if "." not in key:
        return "has no section; write section.key (it becomes AIRFLOW__SECTION__KEY)"
    if key in FORBIDDEN_OPTIONS:
        # mwaa-behaviour.md 4.3: options that cannot be set.
        return f"cannot be set on MWAA ({FORBIDDEN_OPTIONS[key]})"
    return None


def _option_value(value: Any) -> str:
    # mwaa-behaviour.md 4.1: values are 1-65,536 characters matching [ -~]+.
    text = _scalar_text(value)
    if not text or len(text) > OPTION_VALUE_MAX:
        raise Rejected(f"is not 1 to {OPTION_VALUE_MAX} characters long")
    if not OPTION_VALUE_PATTERN.fullmatch(text):
        raise Rejected("holds characters outside MWAA's pattern [ -~]+ (printable ASCII)")
    return text


def _warn_about_option(key: str, value: str, check: _Checker) -> None:
    if key in IGNORED_OPTIONS:
        # mwaa-behaviour.md 4.3: MWAA ignores celery.worker_concurrency.
        check.warnings.append(
            f"AirflowConfigurationOptions: {key} is ignored by MWAA; the value {value!r} has no "
            "effect (set celery.worker_autoscale instead)"
        )
    elif key in MWAA_OWNED_OPTIONS:
        # mwaa-behaviour.md 4.3: MWAA sets these with highest precedence.
        check.warnings.append(
            f"AirflowConfigurationOptions: {key} is set by MWAA; the value {value!r} is ignored"
        )


def _check_worker_autoscale(
    options: dict[str, str], env_class: EnvironmentClass | None, check: _Checker
) -> None:
    # mwaa-behaviour.md 4.2: celery.worker_autoscale is max_concurrency,min_concurrency.
    value = options.get("celery.worker_autoscale")
    if value is None:
        return
    label = "AirflowConfigurationOptions: celery.worker_autoscale"
    parsed = parse_worker_autoscale(value)
    if parsed is None or parsed[0] < 1 or parsed[1] > parsed[0]:
        check.problems.append(
            f"{label}: {value!r} is not max_concurrency,min_concurrency with max >= min "
            "(e.g. '16,12')"
        )
        return
    # mwaa-behaviour.md 4.4: on mw1.micro worker_autoscale "can be set to a maximum value of 3".
    if env_class is not None and env_class.name == "mw1.micro" and parsed[0] > 3:
        check.problems.append(f"{label}: {value!r} exceeds mw1.micro's maximum of 3 tasks")


# --- counts: workers, schedulers, webservers ----------------------------------------------------


def _workers(value: Any) -> int:
    number = whole_number(value)
    if not 1 <= number <= WORKERS_QUOTA_MAX:
        raise Rejected(
            f"is out of range; MWAA accepts 1 to {WORKERS_CONSOLE_MAX} "
            f"(quota adjustable to {WORKERS_QUOTA_MAX})"
        )
    return number


def _class_range(bounds: tuple[int, int, int], class_name: str) -> Callable[[Any], int]:
    low, high, _ = bounds

    def parse(value: Any) -> int:
        number = whole_number(value)
        if not low <= number <= high:
            accepts = f"only {low}" if low == high else f"{low} to {high}"
            raise Rejected(f"is out of range for {class_name}; MWAA accepts {accepts}")
        return number

    return parse


def _counts(raw: dict, env_class: EnvironmentClass | None, check: _Checker) -> dict[str, int]:
    """Workers, schedulers, webservers: class defaults and ranges (mwaa-behaviour.md 5.2)."""
    spec = env_class or ENVIRONMENT_CLASSES[DEFAULT_CLASS]
    micro = not spec.autoscaling
    defaults = {
        "MinWorkers": 1,
        "MaxWorkers": 1 if micro else 10,
        "Schedulers": spec.schedulers[2],
        "MinWebservers": spec.webservers[2],
        "MaxWebservers": spec.webservers[2],
    }
    if env_class is None:
        ranges = dict.fromkeys(("Schedulers", "MinWebservers", "MaxWebservers"), _positive_count)
    else:
        ranges = {
            "Schedulers": _class_range(spec.schedulers, spec.name),
            "MinWebservers": _class_range(spec.webservers, spec.name),
            "MaxWebservers": _class_range(spec.webservers, spec.name),
        }
    parsers = {"MinWorkers": _workers, "MaxWorkers": _workers, **ranges}
    given = {key: check.value(key, raw.get(key), parse) for key, parse in parsers.items()}
    rejected = {key for key in parsers if raw.get(key) is not None and given[key] is None}

    if env_class is not None and micro:
        rejected |= _check_micro_workers(given, check)
    value = {key: defaults[key] if given[key] is None else given[key] for key in parsers}
    for low, high in (("MinWorkers", "MaxWorkers"), ("MinWebservers", "MaxWebservers")):
        if given[low] is not None and high not in rejected:
            _check_min_max(low, high, value, given[high] is None, check)
    _warn_above_console_max(given, check)
    return {
        "min_workers": value["MinWorkers"],
        "max_workers": value["MaxWorkers"],
        "schedulers": value["Schedulers"],
        "min_webservers": value["MinWebservers"],
        "max_webservers": value["MaxWebservers"],
    }


def _positive_count(value: Any) -> int:
    number = whole_number(value)
    if number < 1:
        raise Rejected("is out of range; MWAA needs at least 1")
    return number


def _check_micro_workers(given: dict[str, int | None], check: _Checker) -> set[str]:
    """Worker keys rejected: mw1.micro "does not support auto-scaling" (mwaa-behaviour.md 5.1)."""
    rejected = set()
    for key in ("MinWorkers", "MaxWorkers"):
        if given[key] not in (None, 1):
            check.problems.append(
                f"{key}: {given[key]} is not allowed for mw1.micro, which does not autoscale; "
                "MinWorkers and MaxWorkers must both be 1"
            )
            given[key] = None
            rejected.add(key)
    return rejected


def _check_min_max(
    low: str, high: str, value: dict[str, int], high_is_default: bool, check: _Checker
) -> None:
    if value[low] > value[high]:
        note = ", the default" if high_is_default else ""
        check.problems.append(f"{low}: {value[low]} is greater than {high} ({value[high]}{note})")


def _warn_above_console_max(given: dict[str, int | None], check: _Checker) -> None:
    # mwaa-behaviour.md 5.2: the "Workers per environment" quota is 25, adjustable up to 50.
    for key in ("MinWorkers", "MaxWorkers"):
        number = given[key]
        if number is not None and number > WORKERS_CONSOLE_MAX:
            check.warnings.append(
                f"{key}: {number} is above MWAA's default quota of {WORKERS_CONSOLE_MAX} workers; "
                f"MWAA needs a quota increase (up to {WORKERS_QUOTA_MAX})"
            )


def _check_access_mode_version(
    mode: str | None, version: AirflowVersion | None, check: _Checker
) -> None:
    # mwaa-behaviour.md 6.2: PUBLIC_AND_PRIVATE only for Airflow >= 3.2.
    if mode != "PUBLIC_AND_PRIVATE":
        return
    version = version or versions.DEFAULT
    major, minor = (int(p) for p in version.airflow.split(".")[:2])
    if (major, minor) < (3, 2):
        check.problems.append(
            f"WebserverAccessMode: {mode!r} needs Airflow 3.2 or later; "
            f"AirflowVersion is {version.airflow}"
        )


# --- Tags ---------------------------------------------------------------------------------------


def _tags(raw: Any, check: _Checker) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        check.problems.append(f"Tags: {show(raw)} is not a mapping of key: value")
        return {}
    if len(raw) > TAGS_MAX:
        check.problems.append(f"Tags: {len(raw)} tags; MWAA accepts at most {TAGS_MAX}")
    tags: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not 1 <= len(key) <= TAG_KEY_MAX:
            check.problems.append(f"Tags: key {show(key)} is not a string of 1 to {TAG_KEY_MAX}")
            continue
        text = check.value(f"Tags: {key}", "" if value is None else value, _tag_value)
        if text is not None:
            tags[key] = text
    return tags


def _tag_value(value: Any) -> str:
    text = _scalar_text(value)
    if len(text) > TAG_VALUE_MAX:
        raise Rejected(f"is longer than MWAA's limit of {TAG_VALUE_MAX} characters")
    return text


# --- Local --------------------------------------------------------------------------------------


def _positive_seconds(value: Any) -> int:
    try:
        number = whole_number(value)
    except Rejected:
        number = 0
    if number < 1:
        raise Rejected("is not a positive whole number of seconds")
    return number


def _positive_interval(value: Any) -> float:
    number: float = 0.0
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = 0.0
    if not number > 0 or number == float("inf"):
        raise Rejected("is not a positive number of seconds")
    return number


def _scale(value: Any) -> float:
    number = -1.0
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = -1.0
    if not 0 <= number <= 16:
        raise Rejected("is not a factor from 0 (no limits) to 16, e.g. 0.5")
    return number


def _logging_configuration(value: Any, check: _Checker) -> dict:
    """LoggingConfiguration's modules, each problem on its own line with its full key."""
    if value is None:
        return {}
    problems = configuration_problems(value)
    check.problems += [f"LoggingConfiguration.{problem}" for problem in problems]
    return {} if problems else dict(value)


def _ip_address(value: Any) -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise Rejected("is not an IP address (e.g. 127.0.0.1 or 0.0.0.0)") from None


def _bucket(value: Any) -> str:
    text = _text(value)
    if text.startswith(S3_SCHEME) and not text[len(S3_SCHEME) :].strip("/"):
        raise Rejected("is not a folder or an s3://bucket/prefix URL")
    return text


def _endpoint_url(value: Any) -> str:
    text = _text(value)
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text):
        raise Rejected("is not an http(s) URL such as http://localhost:4566")
    return text.rstrip("/")


def _path(value: Any) -> Path:
    return Path(_text(value)).expanduser()


def _profile(value: Any) -> str:
    text = _text(value)
    if not re.fullmatch(r"[\w.@+=,-]+", text):
        raise Rejected("is not an AWS profile name (letters, digits and _.@+=,-)")
    return text


def _region(value: Any) -> str:
    if not isinstance(value, str) or not REGION_PATTERN.fullmatch(value):
        raise Rejected("is not an AWS region such as us-east-1 or eu-central-1")
    return value


def _endpoint_urls(value: Any) -> dict[str, str]:
    """{service: URL}, from the file's mapping or the variable's `s3=URL,sts=URL`."""
    if isinstance(value, str):
        pairs = [p.partition("=") for p in value.split(",") if p.strip()]
        if not pairs or any(not sep for _, sep, _ in pairs):
            raise Rejected("is not a list of service=URL pairs (e.g. s3=http://localhost:4566)")
        value = {k.strip(): v.strip() for k, _, v in pairs}
    if not isinstance(value, Mapping) or not value:
        raise Rejected("is not a mapping of AWS service name to URL (e.g. s3: http://...)")
    import botocore.session  # only when the setting is used: listing the services takes 0.1 s

    known = botocore.session.Session().get_available_services()
    urls = {}
    for service, url in value.items():
        if service not in known:
            hint = did_you_mean(service, known) or "; use boto3's client name, e.g. secretsmanager"
            raise Rejected(f"names {show(service)}, not an AWS service{hint}")
        try:
            urls[service] = _endpoint_url(url)
        except Rejected as exc:
            raise Rejected(f"{service}: {show(url)} {exc}") from None
    return urls


# Key under Local: -> parser; field = its snake_case name, variable = MWAA_LOCAL_<UPPER_SNAKE>.
LOCAL_FIELDS: dict[str, Callable[[Any], Any]] = {
    "Runtime": _one_of(RUNTIMES),
    "BaseImage": _text,
    "PostgresImage": _text,
    "RedisImage": _text,
    "ConstraintsMirror": _path,
    "CaBundle": _path,
    "Bucket": _bucket,
    "BindAddress": _ip_address,
    "WebserverPort": port_number,
    "ApiPort": port_number,
    "AdminUsername": _text,
    "AdminPassword": _text,
    "StartupScriptTimeout": _positive_seconds,
    "RequirementsTimeout": _positive_seconds,
    "Installer": _one_of(INSTALLERS),
    "DagSync": _one_of(DAG_SYNC_MODES),
    "DagSyncInterval": _positive_interval,
    "S3EndpointUrl": _endpoint_url,
    "WorkerScaleInCooldown": _positive_seconds,
    "ResourceScale": _scale,
    "Credentials": _one_of(CREDENTIALS_MODES),
    "AwsProfile": _profile,
    "Region": _region,
    "AwsEndpointUrl": _endpoint_url,
    "AwsEndpointUrls": _endpoint_urls,
}


def snake_case(camel: str) -> str:
    """`WebserverPort` -> `webserver_port`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def local_env_var(yaml_key: str) -> str:
    """`WebserverPort` -> `MWAA_LOCAL_WEBSERVER_PORT`."""
    return ENV_PREFIX + snake_case(yaml_key).upper()


def _local_settings(
    raw: Any, project_dir: Path, environ: Mapping[str, str], check: _Checker
) -> LocalSettings:
    """Local settings: MWAA_LOCAL_* variable beats the file's Local: mapping beats the default."""
    if raw is not None and not isinstance(raw, Mapping):
        check.problems.append(f"{LOCAL_KEY}: {show(raw)} is not a mapping")
        raw = None
    raw = raw or {}
    for key in raw:
        if key not in LOCAL_FIELDS:
            suggestion = did_you_mean(key, list(LOCAL_FIELDS))
            check.problems.append(f"{LOCAL_KEY}.{key}: unknown setting{suggestion}")

    values: dict[str, Any] = {}
    for key, parse in LOCAL_FIELDS.items():
        variable = local_env_var(key)
        from_env = environ.get(variable)
        if from_env:
            value = check.value(variable, from_env, parse)
        else:
            value = check.value(f"{LOCAL_KEY}.{key}", raw.get(key), parse)
        if value is not None:
            values[snake_case(key)] = value

    for name in ("constraints_mirror", "ca_bundle"):
        if name in values and not values[name].is_absolute():
            values[name] = project_dir / values[name]
    if values.get("api_port") == values.get("webserver_port", LocalSettings.webserver_port):
        check.problems.append(
            f"{LOCAL_KEY}.ApiPort: {values['api_port']} is the WebserverPort too; the MWAA API "
            "needs a port of its own"
        )
    return LocalSettings(**values)


def _check_credentials(local: LocalSettings, role_arn: Any, check: _Checker) -> None:
    """Issue 12: the credentials mode against what it needs."""
    label = f"{LOCAL_KEY}.Credentials"
    if local.credentials == "execution-role" and not role_arn:
        check.problems.append(
            f"{label}: 'execution-role' needs ExecutionRoleArn (the role your MWAA environment "
            "uses); or use 'profile' to run the tasks with your own credentials"
        )
    if local.credentials == "none" and local.bucket.startswith(S3_SCHEME):
        # As MWAA reads the bucket with the execution role, bucket-sync uses the tasks' credentials.
        check.problems.append(
            f"{label}: 'none' cannot read the s3:// bucket {local.bucket} (the bucket-sync "
            "container reads it with the tasks' credentials); use 'profile' or 'execution-role'"
        )
