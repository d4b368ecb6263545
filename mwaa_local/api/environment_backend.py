"""The API's Backend over one project's environment: the same settings, record and stack that
`mwaa-local status` and `mwaa-local update` use (aws-clients-and-serverless.md A.4,
mwaa-behaviour.md 6).

One endpoint serves one environment, as the web server's /aws_mwaa/cli serves one on MWAA; the
settings are read again on every call, so an edited mwaa-local.yaml shows at once.

- The ARN's account comes from ExecutionRoleArn when the settings name one, else 000000000000;
  its region from AWS_REGION / AWS_DEFAULT_REGION where the API started, else us-east-1.
- Status is `status`'s, in MWAA's words; STOPPED, which MWAA has no word for, is UNAVAILABLE
  ("not stable", the nearest in the model's enum).
- UpdateEnvironment writes what it changes to the settings overlay (spec/overlay.py), never to
  mwaa-local.yaml, and runs `mwaa-local update`'s code in a thread: UPDATING -> AVAILABLE, or
  ROLLING_BACK -> UPDATE_FAILED with LastUpdate.Error, the overlay put back as it was.
- Tags set or removed through the API are kept in the state folder, on top of the file's Tags.
"""

import datetime
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import docker.errors

from mwaa_local.api import errors
from mwaa_local.api.airflow_login import log_in
from mwaa_local.api.backend import CliResult, RestApiResult, WebLogin
from mwaa_local.bucket.versions import OBJECT_KINDS
from mwaa_local.environment.record import EnvironmentRecord
from mwaa_local.environment.update import (
    COMPONENT_FAILED,
    UpdateFailed,
    environment_settings,
    shown_status,
    update_environment,
)
from mwaa_local.errors import MwaaLocalError, SettingsError
from mwaa_local.mwaa.logging_levels import LOG_TYPES, group_name, log_types
from mwaa_local.objects.rest_client import AirflowApi
from mwaa_local.runtime.compose_runtime import DockerRuntime
from mwaa_local.runtime.engine import docker_client
from mwaa_local.runtime.select import docker_url, open_runtime, recorded
from mwaa_local.runtime.stack import ServiceState, Stack, environment_status
from mwaa_local.runtime.state import StateDir, write_private
from mwaa_local.spec.overlay import OVERLAY_KEYS, overlay_path, read_overlay, write_overlay
from mwaa_local.spec.settings import Environment, load_environment

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"
UPDATE_SOURCE = "UpdateEnvironment"
UPDATE_TIMEOUT_SECONDS = 600
TAGS_FILE_NAME = "api-tags.json"
STATE_ATTEMPTS = 5
TAGS_MAX = 50  # mwaa-behaviour.md 6.1
# The statuses UpdateEnvironment starts from (mwaa-behaviour.md 6.3: UPDATE_FAILED is "ready to
# use", so it may be updated again).
UPDATABLE = ("AVAILABLE", "UPDATE_FAILED")
_ROLE_ARN = re.compile(r"arn:(aws(?:-[a-z]+)?):iam::(\d{12}):role/.+")
# GetEnvironment's LoggingConfiguration modules and their CloudWatch log group suffixes.

log = logging.getLogger(__name__)


def api_status(shown: str) -> str:
    """`status`'s word as the model's enum has it: STOPPED (local only) is UNAVAILABLE."""
    return "UNAVAILABLE" if shown == "STOPPED" else shown


def web_component(environment: Environment) -> str:
    """The component that serves MWAA's web server endpoints (/aws_mwaa/cli)."""
    return "api-server" if environment.airflow_version.major >= 3 else "webserver"


def _timestamp(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


class EnvironmentBackend:
    def __init__(
        self,
        project_dir: Path,
        settings_file: Path | None = None,
        *,
        client_factory: Callable[[], Any] = docker_client,
        update: Callable[..., None] = update_environment,
        region: str | None = None,
        update_timeout: float = UPDATE_TIMEOUT_SECONDS,
    ) -> None:
        self.project_dir = Path(project_dir)
        self.settings_file = settings_file
        self.region = (
            region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or DEFAULT_REGION
        )
        self._client_factory = client_factory
        self._update = update
        self._update_timeout = update_timeout
        # One Docker client for every request: http.server runs each request in a thread of its
        # own, and the SDK's connection pool serves them all.
        self._docker: Any = None
        self._docker_lock = threading.Lock()
        self._lock = threading.Lock()
        self._update_thread: threading.Thread | None = None
        self._apis: dict[tuple[str, str, str, int], AirflowApi] = {}

    # --- the environment -------------------------------------------------------------------

    def environment(self) -> Environment:
        return load_environment(self.project_dir, self.settings_file)

    def _named(self, name: str) -> Environment:
        environment = self.environment()
        if name != environment.name:
            raise errors.not_found(
                f"Environment {name} was not found: this endpoint serves {environment.name} "
                "(mwaa-local runs one endpoint per environment)."
            )
        return environment

    def _client(self):
        with self._docker_lock:
            if self._docker is None:
                self._docker = self._client_factory()
            return self._docker

    def _stack(self, environment: Environment) -> Stack:
        """The environment's runtime: the one it last started on when that is not Docker
        (runtime/select.py), else the compose stack on this endpoint's Docker client."""
        state = StateDir.for_environment(environment.project_dir, environment.name)
        if recorded(state) in ("host", "podman"):
            return open_runtime(environment)  # type: ignore[return-value]
        return DockerRuntime(environment, self._client(), docker_url())

    def stack(self) -> Stack:
        """The stack of the environment as the settings name it now."""
        return self._stack(self.environment())

    def arn(self, environment: Environment) -> str:
        found = _ROLE_ARN.fullmatch(environment.execution_role_arn or "")
        partition, account = found.groups() if found else ("aws", DEFAULT_ACCOUNT)
        return f"arn:{partition}:airflow:{self.region}:{account}:environment/{environment.name}"

    @staticmethod
    def _states(stack: Stack) -> dict[str, ServiceState]:
        """The containers' states; an update replaces containers, so one may vanish between
        the listing and its inspection: then list again."""
        for attempt in range(STATE_ATTEMPTS):
            try:
                return stack.states()
            except docker.errors.NotFound:
                if attempt + 1 == STATE_ATTEMPTS:
                    raise
                time.sleep(0.2)
            except docker.errors.DockerException as exc:
                raise errors.unavailable(f"The Docker engine does not answer: {exc}") from None
        raise AssertionError("unreachable")

    def _status(self, stack: Stack, record: EnvironmentRecord) -> str:
        states = self._states(stack)
        status = getattr(stack, "status", None)  # a runtime's own (the host's services)
        current = status(states) if status else environment_status(stack.environment, states)
        return shown_status(current, record)

    # --- Backend: environments -------------------------------------------------------------

    def list_environments(self) -> list[str]:
        return [self.environment().name]

    def get_environment(self, name: str) -> dict[str, Any]:
        environment = self._named(name)
        stack = self._stack(environment)
        record = stack.record()
        status = api_status(self._status(stack, record))
        return self.describe(environment, stack, record, status)

    def describe(
        self, environment: Environment, stack: Stack, record: EnvironmentRecord, status: str
    ) -> dict[str, Any]:
        """GetEnvironment's Environment: what runs (the record's applied versions and settings),
        else what the settings say."""
        applied = {**environment_settings(environment), **record.settings}
        local = environment.local
        host = {"0.0.0.0": "127.0.0.1", "::": "127.0.0.1"}.get(
            local.bind_address, local.bind_address
        )
        env: dict[str, Any] = {
            "Name": environment.name,
            "Arn": self.arn(environment),
            "Status": status,
            "CreatedAt": _timestamp(record.created_at) or self._secrets_time(stack),
            # mwaa-behaviour.md 6.2: the real service answers a bare host name here.
            "WebserverUrl": f"{host}:{local.webserver_port}",
            "AirflowVersion": applied["AirflowVersion"],
            "EnvironmentClass": applied["EnvironmentClass"],
            "AirflowConfigurationOptions": dict(applied["AirflowConfigurationOptions"]),
            "MinWorkers": applied["MinWorkers"],
            "MaxWorkers": applied["MaxWorkers"],
            "Schedulers": applied["Schedulers"],
            "MinWebservers": environment.min_webservers,
            "MaxWebservers": environment.max_webservers,
            "DagS3Path": applied["DagS3Path"],
            "LoggingConfiguration": self._logging(environment),
            "Tags": self._tags(environment, stack),
            "ExecutionRoleArn": environment.execution_role_arn,
            "SourceBucketArn": self._bucket_arn(environment),
            "WebserverAccessMode": environment.webserver_access_mode,
            "WeeklyMaintenanceWindowStart": environment.weekly_maintenance_window_start,
            "EndpointManagement": environment.endpoint_management,
            "KmsKey": environment.kms_key,
            "NetworkConfiguration": self._network(environment),
        }
        paths = {
            "plugins": environment.plugins_s3_path,
            "requirements": environment.requirements_s3_path,
            "startup_script": environment.startup_script_s3_path,
        }
        for kind, (path_key, version_key, _) in OBJECT_KINDS.items():
            version = (record.applied or {}).get(kind)
            if version is not None:
                env[path_key] = version.key
                env[version_key] = version.version_id
            elif record.applied is None and paths[kind]:
                env[path_key] = paths[kind]
        last = record.last_update
        if last:
            env["LastUpdate"] = {
                "Status": last.get("Status"),
                "CreatedAt": _timestamp(last.get("CreatedAt")),
                "Source": last.get("Source"),
                "Error": last.get("Error"),
                "WorkerReplacementStrategy": last.get("WorkerReplacementStrategy"),
            }
        return {key: value for key, value in env.items() if value is not None}

    @staticmethod
    def _secrets_time(stack: Stack) -> datetime.datetime | None:
        secrets = stack.state.secrets_file
        if not secrets.is_file():
            return None
        return datetime.datetime.fromtimestamp(secrets.stat().st_mtime, datetime.UTC)

    def _logging(self, environment: Environment) -> dict[str, Any]:
        """The settings' LoggingConfiguration as the log groups apply it (mwaa/logging_levels.py:
        every module when none is given, else the ones given as enabled)."""
        account = self.arn(environment).split(":")[4]
        types = log_types(environment.logging_configuration)
        modules = {}
        for module, type_name in LOG_TYPES.items():
            setting = types[type_name]
            modules[module] = {"Enabled": setting.enabled, "LogLevel": setting.level}
            if setting.enabled:
                modules[module]["CloudWatchLogGroupArn"] = (
                    f"arn:aws:logs:{self.region}:{account}:log-group:"
                    f"{group_name(environment.name, type_name)}"
                )
        return modules

    @staticmethod
    def _bucket_arn(environment: Environment) -> str | None:
        if environment.source_bucket_arn:
            return environment.source_bucket_arn
        if environment.bucket_is_s3:
            bucket = environment.local.bucket[len("s3://") :].split("/", 1)[0]
            return f"arn:aws:s3:::{bucket}"
        return None  # a folder has no bucket ARN

    @staticmethod
    def _network(environment: Environment) -> dict[str, Any] | None:
        given = environment.network_configuration
        network = {
            key: [str(item) for item in given[key]]
            for key in ("SubnetIds", "SecurityGroupIds")
            if isinstance(given.get(key), list)
        }
        return network or None

    def create_environment(self, name: str, request: dict[str, Any]) -> str:
        environment = self.environment()
        if name == environment.name:
            raise errors.validation(
                f"Environment {name} already exists: this endpoint serves it. "
                "Change it with UpdateEnvironment or mwaa-local.yaml."
            )
        raise errors.validation(
            f"mwaa-local runs one endpoint per environment; this one serves {environment.name}. "
            f"To create {name}, make a project folder for it, write its settings with "
            "`mwaa-local init` (or `mwaa-local init --from-environment get-environment.json`), "
            f"set Name: {name} and a free Local.WebserverPort, and run `mwaa-local start` there: "
            "it gets an MWAA API endpoint of its own."
        )

    def delete_environment(self, name: str) -> None:
        environment = self._named(name)
        raise errors.validation(
            f"mwaa-local does not delete environments through the API. Run `mwaa-local stop` "
            "to stop it (its database is kept) or `mwaa-local reset-db` to delete its database, "
            f"and remove {environment.project_dir.resolve() / '.mwaa-local' / environment.name} "
            "to forget it."
        )

    # --- Backend: UpdateEnvironment --------------------------------------------------------

    def update_environment(self, name: str, changes: dict[str, Any]) -> str:
        environment = self._named(name)
        changes = dict(changes)
        strategy = changes.pop("WorkerReplacementStrategy", None)
        changes, refused = _applicable(environment, changes)
        if refused:
            raise errors.validation(" ".join(refused))
        with self._lock:
            if self._update_thread is not None and self._update_thread.is_alive():
                raise errors.validation(f"Environment {name} is UPDATING; wait until it ends.")
            stack = self._stack(environment)
            record = stack.record()
            status = api_status(self._status(stack, record))
            if status not in UPDATABLE:
                raise errors.validation(
                    f"Environment {name} is {status}; UpdateEnvironment needs it AVAILABLE or "
                    "UPDATE_FAILED (start it with `mwaa-local start`)."
                )
            if environment.bucket_is_s3:
                raise errors.validation(
                    f"The bucket is {environment.local.bucket}, and the API holds no AWS "
                    "credentials to read it: run `mwaa-local update` instead."
                )
            overlay_file = overlay_path(self.project_dir, environment.name)
            before = read_overlay(overlay_file)
            after = {**before, **changes}
            updated = self._load_with(after)
            updated_stack = self._stack(updated)
            wanted = self._wanted(updated_stack, changes)
            write_overlay(overlay_file, after)
            record.begin_update(UPDATE_SOURCE, strategy)
            record.save(stack.record_file)
            self._update_thread = threading.Thread(
                target=self._run_update,
                args=(updated_stack, wanted, overlay_file, before, strategy),
                name=f"update-{name}",
                daemon=True,
            )
            self._update_thread.start()
        return self.arn(environment)

    def _load_with(self, overlay: dict[str, Any]) -> Environment:
        try:
            return load_environment(self.project_dir, self.settings_file, overlay=overlay)
        except SettingsError as exc:
            raise errors.validation("; ".join(exc.problems)) from None

    @staticmethod
    def _wanted(stack: Stack, changes: dict[str, Any]):
        bucket = stack.bucket()
        for key in ("DagS3Path", *(path for path, _, _ in OBJECT_KINDS.values())):
            if key in changes and not bucket.exists(changes[key]):
                raise errors.validation(f"{key}: {bucket.url} holds no {changes[key]}.")
        try:
            return stack.bucket_objects()
        except MwaaLocalError as exc:
            raise errors.validation(exc.message) from None

    def _run_update(
        self,
        stack: Stack,
        wanted: Any,
        overlay_file: Path,
        before: dict[str, Any],
        strategy: str | None,
    ) -> None:
        name = stack.environment.name
        try:
            self._update(
                stack,
                wanted,
                self._update_timeout,
                on_step=lambda step: log.info("%s: %s", name, step),
                source=UPDATE_SOURCE,
                worker_replacement_strategy=strategy,
            )
            log.info("%s: update done, AVAILABLE", name)
        except UpdateFailed as exc:
            log.warning("%s: %s", name, exc.message)
            write_overlay(overlay_file, before)  # rolled back: the settings too
        except Exception as exc:
            log.exception("%s: the update failed", name)
            write_overlay(overlay_file, before)
            record = stack.record()
            if record.status in ("UPDATING", "ROLLING_BACK"):
                record.finish_update(COMPONENT_FAILED, f"{type(exc).__name__}: {exc}")
                record.save(stack.record_file)

    def wait_for_update(self, timeout: float | None = None) -> None:
        """Block until the update this backend started (if any) has ended (for tests)."""
        thread = self._update_thread
        if thread is not None:
            thread.join(timeout)

    # --- Backend: tags ---------------------------------------------------------------------

    def _tags_file(self, stack: Stack) -> Path:
        return stack.state.path / TAGS_FILE_NAME

    def _tag_changes(self, stack: Stack) -> dict[str, Any]:
        path = self._tags_file(stack)
        if not path.is_file():
            return {"Set": {}, "Removed": []}
        return json.loads(path.read_text())

    def _tags(self, environment: Environment, stack: Stack) -> dict[str, str]:
        """The file's Tags, then what TagResource and UntagResource changed."""
        changes = self._tag_changes(stack)
        tags = {k: v for k, v in environment.tags.items() if k not in changes["Removed"]}
        return {**tags, **changes["Set"]}

    def _by_arn(self, arn: str) -> tuple[Environment, Stack]:
        environment = self.environment()
        if arn != self.arn(environment):
            raise errors.not_found(
                f"No environment has the ARN {arn}; this endpoint serves {self.arn(environment)}."
            )
        return environment, self._stack(environment)

    def list_tags(self, arn: str) -> dict[str, str]:
        environment, stack = self._by_arn(arn)
        return self._tags(environment, stack)

    def tag_resource(self, arn: str, tags: dict[str, str]) -> None:
        environment, stack = self._by_arn(arn)
        with self._lock:
            changes = self._tag_changes(stack)
            if len({**self._tags(environment, stack), **tags}) > TAGS_MAX:
                raise errors.validation(f"An environment holds at most {TAGS_MAX} tags.")
            changes["Set"].update(tags)
            changes["Removed"] = [k for k in changes["Removed"] if k not in tags]
            self._save_tags(stack, changes)

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        environment, stack = self._by_arn(arn)
        with self._lock:
            changes = self._tag_changes(stack)
            for key in keys:
                changes["Set"].pop(key, None)
                if key in environment.tags and key not in changes["Removed"]:
                    changes["Removed"].append(key)
            self._save_tags(stack, changes)

    def _save_tags(self, stack: Stack, changes: dict[str, Any]) -> None:
        write_private(self._tags_file(stack), json.dumps(changes, indent=2) + "\n")

    # --- Backend: the running stack --------------------------------------------------------

    def run_cli(self, name: str, argv: list[str]) -> CliResult:
        environment = self._named(name)
        stack = self._stack(environment)
        service = web_component(environment)
        state = self._states(stack).get(service)
        if state is None or state.status != "running":
            raise errors.unavailable(
                f"The {service} of {name} is not running "
                f"({state.status if state else 'no container'}): start the environment with "
                "`mwaa-local start`."
            )
        code, stdout, stderr = stack.exec_capture(service, ["airflow", *argv])
        return CliResult(code, stdout, stderr)

    def _airflow_api(self, stack: Stack) -> AirflowApi:
        fresh = stack.api()
        key = (fresh.base_url, fresh.username, fresh.password, fresh.major)
        with self._lock:
            return self._apis.setdefault(key, fresh)

    def invoke_rest_api(
        self, name: str, method: str, path: str, query: dict[str, Any] | None, body: Any
    ) -> RestApiResult:
        environment = self._named(name)
        if not path.startswith("/") or any(c in path for c in "?#") or ".." in path.split("/"):
            raise errors.validation(
                f"Path {path!r} must be an Airflow REST API path such as /dags, without the "
                "/api/v1 or /api/v2 prefix, '..', or a query (use QueryParameters)."
            )
        if query is not None and not isinstance(query, dict):
            raise errors.validation("QueryParameters must be a JSON object.")
        api = self._airflow_api(self._stack(environment))
        try:
            status, answer = api.exchange(method, path, query, body)
        except MwaaLocalError as exc:
            raise errors.unavailable(
                f"The Airflow REST API of {name} does not answer ({exc.message}); is the "
                "environment running? mwaa-local status"
            ) from None
        return RestApiResult(status, answer)

    def web_login_identity(self, name: str) -> str:
        return self._named(name).local.admin_username

    def web_login(self, name: str, airflow_identity: str) -> WebLogin:
        environment = self._named(name)
        stack = self._stack(environment)
        username, password = stack.admin_credentials()
        if airflow_identity != username:
            raise errors.access_denied(f"mwaa-local logs in only as {username}.")
        api = stack.api()
        return log_in(api.base_url, username, password, environment.airflow_version.major)


def _applicable(
    environment: Environment, changes: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The changes the overlay takes, and why each other one cannot apply locally. A member that
    asks for what is already so (an unchanged ExecutionRoleArn, say) is accepted and dropped."""
    current = {
        "AirflowVersion": environment.airflow_version.airflow,
        "ExecutionRoleArn": environment.execution_role_arn,
        "SourceBucketArn": environment.source_bucket_arn,
        "WebserverAccessMode": environment.webserver_access_mode,
        "NetworkConfiguration": {
            "SecurityGroupIds": environment.network_configuration.get("SecurityGroupIds")
        },
    }
    local = environment.local
    reasons = {
        "AirflowVersion": lambda v: (
            "a version change builds another image and migrates the database: check it with "
            f"`mwaa-local upgrade-check --to {v}`, then set AirflowVersion in mwaa-local.yaml and "
            "run `mwaa-local stop` and `mwaa-local start`."
        ),
        "ExecutionRoleArn": lambda v: (
            "the local components run without an execution role (they use the credentials "
            "mwaa-local hands them); set it in mwaa-local.yaml to change what GetEnvironment shows."
        ),
        "SourceBucketArn": lambda v: (
            f"the bucket is Local.Bucket ({local.bucket}); change it in mwaa-local.yaml."
        ),
        "WebserverAccessMode": lambda v: (
            f"the Airflow UI is published on Local.BindAddress ({local.bind_address})."
        ),
        "NetworkConfiguration": lambda v: (
            "the local stack has no VPC or security groups (it runs on a compose network)."
        ),
    }
    accepted: dict[str, Any] = {}
    refused: list[str] = []
    for key, value in changes.items():
        if key in OVERLAY_KEYS:
            if key == "LoggingConfiguration":
                value = {**environment.logging_configuration, **value}
            accepted[key] = value
        elif key in current and value == current[key]:
            continue
        elif key in reasons:
            refused.append(f"{key} cannot change locally: {reasons[key](value)}")
        else:
            refused.append(f"{key} cannot change locally: mwaa-local does not emulate it.")
    return accepted, refused
