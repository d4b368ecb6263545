"""The AWS credentials the tasks run with: the environment's execution role, as on MWAA (issue 12).

On MWAA every task runs as the execution role; the SDKs find the role's temporary credentials
through the container credential provider (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, which MWAA's
image protects: mwaa-behaviour.md 1.5). mwaa-local hands out the same kind of credentials from one
place, the `credentials` service, made here from the user's own AWS chain (variables, AWS_PROFILE
with SSO or credential_process, ...). Modes:

- execution-role: AssumeRole on ExecutionRoleArn as session `mwaa-local-<Name>`;
- profile: the chain's own temporary credentials (GetSessionToken for long-term keys, so no task
  ever holds them);
- none: no credentials.

Answers are in the container-credentials format botocore's ContainerProvider reads
(aws-clients-and-serverless.md D.3). STS endpoints follow AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL,
which botocore (>= 1.31; the images have >= 1.34) reads itself. No key is ever logged or written
anywhere. Failures are MwaaLocalError with a hint naming the fix.

boto3 and botocore are imported inside functions: this module is imported on the host and in
the image, and by code paths that never touch AWS.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mwaa_local.errors import MwaaLocalError

log = logging.getLogger(__name__)

MODES = ("execution-role", "profile", "none")
# The address every AWS SDK joins AWS_CONTAINER_CREDENTIALS_RELATIVE_URI to (D.3), on the subnet
# of the stack's credentials network; the service listens on port 80 there.
CONTAINER_CREDENTIALS_IP = "169.254.170.2"
CONTAINER_CREDENTIALS_SUBNET = "169.254.170.0/24"
CREDENTIALS_PATH_PREFIX = "/v2/credentials/"
# STS's own default, and the most a chained role session may last (SSO credentials assuming the
# execution role are a chain).
DEFAULT_DURATION_SECONDS = 3600
MIN_DURATION_SECONDS = 900
MAX_DURATION_SECONDS = 43200
# botocore's ContainerProvider refreshes from 15 minutes before Expiration (advisory) and must by
# 10 minutes (mandatory). Renewing ours from 20 minutes keeps every answer outside the clients'
# advisory window, so a container fetches about once per session, not on every call.
ADVISORY_REFRESH = dt.timedelta(minutes=20)
# Until this close to expiry a failed renewal is logged and the current credentials are still
# handed out (they are valid); closer, the failure is the answer.
MANDATORY_REFRESH = dt.timedelta(minutes=10)
# Temporary credentials that came without an expiry (AWS_SESSION_TOKEN without
# AWS_CREDENTIAL_EXPIRATION): handed out as valid this long, then read from the chain again.
UNKNOWN_EXPIRY_LIFETIME = dt.timedelta(hours=1)
# After a failed renewal inside the advisory window, wait this long before calling STS again.
RETRY_AFTER_FAILURE = dt.timedelta(seconds=30)

_SESSION_NAME_MAX = 64
_SESSION_NAME_INVALID = re.compile(r"[^\w+=,.@-]")
_REJECTED_CREDENTIAL_CODES = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
}
_CALLER_ARN = re.compile(
    r"^arn:(?P<partition>[\w-]+):(?:iam|sts)::(?P<account>\d{12}):"
    r"(?P<kind>assumed-role|user|root|federated-user)(?:/(?P<rest>.+))?$"
)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso8601(moment: dt.datetime) -> str:
    """The container-credentials Expiration format: UTC, whole seconds, `Z`."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _issued(issued: dict[str, Any], account_id: str | None) -> TaskCredentials:
    """STS's Credentials (AssumeRole, GetSessionToken) as the tasks get them."""
    return TaskCredentials(
        access_key_id=issued["AccessKeyId"],
        secret_access_key=issued["SecretAccessKey"],
        token=issued["SessionToken"],
        expiration=_as_utc(issued["Expiration"]),
        account_id=account_id,
    )


def _as_utc(moment: dt.datetime | str) -> dt.datetime:
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def role_session_name(environment_name: str) -> str:
    """`mwaa-local-<Name>`, within STS's RoleSessionName rules (2-64 of [\\w+=,.@-])."""
    return _SESSION_NAME_INVALID.sub("-", f"mwaa-local-{environment_name}")[:_SESSION_NAME_MAX]


@dataclass(frozen=True, repr=False)
class TaskCredentials:
    """Temporary credentials for the tasks. repr() shows no key."""

    access_key_id: str
    secret_access_key: str
    token: str
    expiration: dt.datetime
    account_id: str | None = None

    def container_response(self) -> dict[str, str]:
        """The JSON body botocore's ContainerProvider accepts."""
        body = {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "Token": self.token,
            "Expiration": iso8601(self.expiration),
        }
        if self.account_id:
            body["AccountId"] = self.account_id
        return body

    def remaining(self, now: dt.datetime) -> dt.timedelta:
        return self.expiration - now

    def __repr__(self) -> str:
        return (
            f"TaskCredentials(expiration={iso8601(self.expiration)}, account_id={self.account_id})"
        )


@dataclass(frozen=True)
class CredentialsConfig:
    """What the tasks' credentials are: the mode and what it needs.

    profile: None means the chain's own choice (AWS_PROFILE, else the default profile or the
    AWS_* variables). region: None means the profile's region, else us-east-1 (STS only).
    sts_endpoint_url: None means botocore's own choice (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL,
    else AWS); the host gives the settings' endpoint here, the containers have the variables.
    """

    mode: str
    environment_name: str
    execution_role_arn: str | None = None
    profile: str | None = None
    region: str | None = None
    duration_seconds: int = DEFAULT_DURATION_SECONDS
    sts_endpoint_url: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise MwaaLocalError(
                f"Unknown credentials mode {self.mode!r}.", hint=f"Use one of: {', '.join(MODES)}."
            )
        if self.mode == "execution-role" and not self.execution_role_arn:
            raise MwaaLocalError(
                "Credentials mode execution-role needs the environment's ExecutionRoleArn.",
                hint="Set ExecutionRoleArn in mwaa-local.yaml (the role your MWAA environment "
                "uses), or run the tasks with your own credentials (credentials mode profile).",
            )
        if not MIN_DURATION_SECONDS <= self.duration_seconds <= MAX_DURATION_SECONDS:
            raise MwaaLocalError(
                f"Credentials duration {self.duration_seconds} s is outside STS's range.",
                hint=f"Use {MIN_DURATION_SECONDS} to {MAX_DURATION_SECONDS} seconds "
                f"(default {DEFAULT_DURATION_SECONDS}).",
            )

    @property
    def session_name(self) -> str:
        return role_session_name(self.environment_name)


def profile_name(profile: str | None = None) -> str:
    """The profile the chain uses: the given one, AWS_PROFILE, AWS_DEFAULT_PROFILE, or default."""
    return (
        profile
        or os.environ.get("AWS_PROFILE")
        or os.environ.get("AWS_DEFAULT_PROFILE")
        or "default"
    )


def source_session(profile: str | None = None, region: str | None = None) -> Any:
    """A boto3 Session on the usual credential chain (variables, profile, SSO, process, ...)."""
    import boto3
    import botocore.session
    from botocore.exceptions import ProfileNotFound

    try:
        return boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as exc:
        name = profile_name(profile)
        known = sorted(botocore.session.Session(profile="default").available_profiles)
        raise MwaaLocalError(
            f"AWS profile {name!r} is not in your AWS config.",
            hint=f"Profiles found: {', '.join(known) or 'none'}. Set AWS_PROFILE to one of "
            "them, or create it with `aws configure sso` / `aws configure --profile NAME`.",
        ) from exc


def no_credentials_error() -> MwaaLocalError:
    return MwaaLocalError(
        "No AWS credentials found for the tasks (no AWS_* variables, no usable profile).",
        hint="Log in and name the profile: `aws sso login --profile NAME`, then "
        "`AWS_PROFILE=NAME mwaa-local start`; or export AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY; or give the tasks no AWS credentials (credentials mode none).",
    )


def sso_expired_error(profile: str, detail: str) -> MwaaLocalError:
    return MwaaLocalError(
        f"The AWS SSO session of profile {profile} has expired or was never started ({detail}).",
        hint=f"Run `aws sso login --profile {profile}` on this machine; the tasks get "
        "credentials again on their next AWS call, no restart needed.",
    )


def trust_statement(caller_arn: str | None) -> dict[str, Any]:
    """The trust-policy statement that lets `caller_arn` assume a role.

    A user is named as such. An assumed role (SSO included) is matched through its role, which
    may sit under a path (aws-reserved/sso.amazonaws.com/...) that get-caller-identity does not
    show: the account is the principal and aws:PrincipalArn narrows it to that role.
    """
    match = _CALLER_ARN.match(caller_arn or "")
    if match is None:
        return {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::<your-account-id>:root"},
            "Action": "sts:AssumeRole",
        }
    partition, account, kind = match["partition"], match["account"], match["kind"]
    root = f"arn:{partition}:iam::{account}:root"
    if kind in ("user", "root"):
        return {"Effect": "Allow", "Principal": {"AWS": caller_arn}, "Action": "sts:AssumeRole"}
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": root},
        "Action": "sts:AssumeRole",
    }
    if kind == "assumed-role" and match["rest"]:
        role = match["rest"].split("/")[0]
        statement["Condition"] = {
            "ArnLike": {
                "aws:PrincipalArn": [
                    f"arn:{partition}:iam::{account}:role/{role}",
                    f"arn:{partition}:iam::{account}:role/*/{role}",
                ]
            }
        }
    return statement


def _account_of(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


class TaskCredentialSource:
    """The credentials the tasks get, cached and renewed before they expire. Thread-safe.

    `credentials()` answers from the cache while more than `advisory_refresh` is left, renews
    otherwise (keeping the current ones on failure while more than `mandatory_refresh` is
    left), and logs every renewal without a key.
    """

    def __init__(
        self,
        config: CredentialsConfig,
        *,
        session: Any = None,
        advisory_refresh: dt.timedelta = ADVISORY_REFRESH,
        mandatory_refresh: dt.timedelta = MANDATORY_REFRESH,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.config = config
        self._session = session
        self._advisory = advisory_refresh
        self._mandatory = min(mandatory_refresh, advisory_refresh)
        self._clock = clock
        self._lock = threading.Lock()
        self._current: TaskCredentials | None = None
        self._retry_not_before: dt.datetime | None = None
        self._sts: Any = None
        self._source_method: str | None = None
        self.renewals = 0

    # -- the source chain -------------------------------------------------------------------

    @property
    def session(self) -> Any:
        if self._session is None:
            self._session = source_session(self.config.profile, self.config.region)
        return self._session

    @property
    def region(self) -> str:
        return self.config.region or self.session.region_name or "us-east-1"

    @property
    def profile(self) -> str:
        if self._session is not None:
            return self._session.profile_name
        return profile_name(self.config.profile)

    def _sts_client(self) -> Any:
        if self._sts is None:
            self._sts = self.session.client(
                "sts", region_name=self.region, endpoint_url=self.config.sts_endpoint_url
            )
        return self._sts

    def describe(self) -> str:
        """Where the credentials come from, in words (no key)."""
        source = f"profile {self.profile}"
        if self._source_method == "env":
            source = "the AWS_* variables"
        elif self._source_method:
            source += f" ({self._source_method})"
        if self.config.mode == "execution-role":
            return (
                f"role {self.config.execution_role_arn} as session {self.config.session_name}, "
                f"assumed with {source}"
            )
        if self.config.mode == "profile":
            return f"the credentials of {source}"
        return "none"

    # -- the cache ---------------------------------------------------------------------------

    def credentials(self) -> TaskCredentials:
        """The current credentials, renewed when due. Raises MwaaLocalError with a hint."""
        if self.config.mode == "none":
            raise MwaaLocalError(
                "Credentials mode none: mwaa-local gives the tasks no AWS credentials.",
                hint="Set the credentials mode to execution-role or profile to give them some.",
            )
        with self._lock:
            now = self._clock()
            current = self._current
            if current is not None and current.remaining(now) >= self._advisory:
                return current
            usable = current is not None and current.remaining(now) >= self._mandatory
            if usable and self._retry_not_before is not None and now < self._retry_not_before:
                return current  # type: ignore[return-value]
            try:
                fresh = self._fetch()
            except MwaaLocalError as exc:
                if not usable:
                    raise
                self._retry_not_before = now + RETRY_AFTER_FAILURE
                log.warning(
                    "Renewing the tasks' credentials failed; handing out the current ones, "
                    "valid until %s. %s %s",
                    iso8601(current.expiration),  # type: ignore[union-attr]
                    exc.message,
                    exc.hint or "",
                )
                return current  # type: ignore[return-value]
            self._current = fresh
            self._retry_not_before = None
            self.renewals += 1
            log.info(
                "%s the tasks' credentials: %s; valid until %s.",
                "Got" if self.renewals == 1 else f"Renewed (#{self.renewals - 1})",
                self.describe(),
                iso8601(fresh.expiration),
            )
            return fresh

    def _fetch(self) -> TaskCredentials:
        try:
            if self.config.mode == "execution-role":
                return self._assume_role()
            return self._own_credentials()
        except MwaaLocalError:
            raise
        except Exception as exc:
            raise self.explain(exc) from exc

    def _assume_role(self) -> TaskCredentials:
        response = self._sts_client().assume_role(
            RoleArn=self.config.execution_role_arn,
            RoleSessionName=self.config.session_name,
            DurationSeconds=self.config.duration_seconds,
        )
        self._note_source_method()
        account = _account_of(response.get("AssumedRoleUser", {}).get("Arn"))
        return _issued(response["Credentials"], account)

    def _own_credentials(self) -> TaskCredentials:
        chain = self.session.get_credentials()
        if chain is None:
            raise no_credentials_error()
        frozen = chain.get_frozen_credentials()
        self._source_method = getattr(chain, "method", None)
        if not frozen.token:
            # Long-term keys: hand out a session of them, never the keys themselves.
            response = self._sts_client().get_session_token(
                DurationSeconds=self.config.duration_seconds
            )
            return _issued(response["Credentials"], getattr(frozen, "account_id", None))
        # botocore renews refreshable chain credentials itself (SSO, assume-role profiles,
        # credential_process); it keeps their expiry in a private attribute only.
        expiry = getattr(chain, "_expiry_time", None)
        if expiry is None:
            expiry = self._clock() + UNKNOWN_EXPIRY_LIFETIME
            log.warning(
                "Your temporary credentials came without an expiry (set "
                "AWS_CREDENTIAL_EXPIRATION with AWS_SESSION_TOKEN); handing them out until %s.",
                iso8601(expiry),
            )
        return TaskCredentials(
            access_key_id=frozen.access_key,
            secret_access_key=frozen.secret_key,
            token=frozen.token,
            expiration=_as_utc(expiry),
            account_id=getattr(frozen, "account_id", None),
        )

    def _note_source_method(self) -> None:
        credentials = self.session.get_credentials()
        self._source_method = getattr(credentials, "method", None)

    # -- failures ----------------------------------------------------------------------------

    def caller_arn(self) -> str | None:
        """Who the source chain is (sts get-caller-identity), or None when that fails too."""
        try:
            return self._sts_client().get_caller_identity()["Arn"]
        except Exception:
            return None

    def explain(self, exc: BaseException) -> MwaaLocalError:
        """A botocore failure as an MwaaLocalError whose hint names the fix."""
        from botocore import exceptions as bx

        if isinstance(exc, MwaaLocalError):
            return exc
        if isinstance(exc, bx.SSOError) or (
            isinstance(exc, bx.TokenRetrievalError) and exc.kwargs.get("provider") == "sso"
        ):
            return sso_expired_error(self.profile, str(exc))
        if isinstance(exc, bx.NoCredentialsError):
            return no_credentials_error()
        if isinstance(exc, bx.ClientError):
            return self._explain_client_error(exc)
        if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError):
            return MwaaLocalError(
                f"Could not reach AWS STS: {exc}",
                hint="Check the network (a proxy: HTTPS_PROXY); when STS is a local stand-in "
                "(moto, LocalStack), name it in Local.AwsEndpointUrl or Local.AwsEndpointUrls.sts.",
            )
        if isinstance(exc, bx.CredentialRetrievalError):
            return MwaaLocalError(
                f"Your AWS credentials could not be loaded: {exc}",
                hint=f"Check profile {self.profile} in ~/.aws/config (credential_process, "
                "source_profile, role_arn) and run its login command.",
            )
        if isinstance(exc, FileNotFoundError):
            # botocore runs a profile's credential_process where the chain is read: in the stack,
            # inside the credentials service's container, which has Python and the image's tools.
            return MwaaLocalError(
                f"The credential_process of profile {self.profile} could not run: {exc}",
                hint="The credentials service runs it inside its container: use a command that "
                "exists there, or export the credentials (`eval $(aws configure "
                "export-credentials --format env)`) before `mwaa-local start`.",
            )
        return MwaaLocalError(
            f"Could not get AWS credentials for the tasks: {type(exc).__name__}: {exc}",
            hint=f"Check that `aws sts get-caller-identity --profile {self.profile}` works.",
        )

    def _explain_client_error(self, exc: Any) -> MwaaLocalError:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", "")
        operation = getattr(exc, "operation_name", "") or "an STS call"
        if operation == "AssumeRole" and code == "AccessDenied":
            return self._assume_role_denied(message)
        if code in _REJECTED_CREDENTIAL_CODES:
            return MwaaLocalError(
                f"AWS STS rejected the credentials of profile {self.profile} ({code}): {message}",
                hint=f"Renew them: `aws sso login --profile {self.profile}` for SSO, else new "
                "keys or a new session token.",
            )
        if "MaxSessionDuration" in message:
            return MwaaLocalError(
                f"{operation} refused {self.config.duration_seconds} s: {message}",
                hint="Shorten the credentials duration, or raise the role's maximum session "
                "duration (IAM > Roles > the role > Edit).",
            )
        return MwaaLocalError(
            f"AWS STS {operation} failed ({code}): {message}",
            hint=f"Check that `aws sts get-caller-identity --profile {self.profile}` works and "
            "what your credentials may do.",
        )

    def _assume_role_denied(self, message: str) -> MwaaLocalError:
        role = self.config.execution_role_arn or ""
        caller = self.caller_arn()
        statement = trust_statement(caller)
        needs_identity_policy = statement["Principal"]["AWS"].endswith(":root") or (
            _account_of(caller) not in (None, _account_of(role))
        )
        hint = (
            "mwaa-local runs the tasks as the execution role by assuming it with your "
            "credentials, so the role must trust you as well as MWAA (airflow.amazonaws.com, "
            f"airflow-env.amazonaws.com). Add this statement to the trust policy of {role} "
            "(IAM > Roles > the role > Trust relationships): "
            f"{json.dumps(statement, separators=(', ', ': '))}."
        )
        if needs_identity_policy:
            hint += " Your own IAM policy must also allow sts:AssumeRole on the role."
        hint += " Or run the tasks with your own credentials (credentials mode profile)."
        return MwaaLocalError(
            f"AssumeRole on {role} was denied for {caller or 'your AWS identity'}: {message}",
            hint=hint,
        )


def task_session(source: TaskCredentialSource) -> Any:
    """A boto3 Session that acts as the tasks do: botocore RefreshableCredentials fed by
    `source`, renewed by botocore before they expire."""
    import boto3
    import botocore.session
    from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials

    def metadata() -> dict[str, str]:
        issued = source.credentials()
        return {
            "access_key": issued.access_key_id,
            "secret_key": issued.secret_access_key,
            "token": issued.token,
            "expiry_time": iso8601(issued.expiration),
        }

    class TaskCredentialsProvider(CredentialProvider):
        METHOD = "mwaa-local-task"

        def load(self) -> Any:
            return RefreshableCredentials.create_from_metadata(metadata(), metadata, self.METHOD)

    core = botocore.session.get_session()
    core.register_component("credential_provider", CredentialResolver([TaskCredentialsProvider()]))
    return boto3.Session(botocore_session=core, region_name=source.region)


@dataclass(frozen=True)
class TaskIdentity:
    """Who the tasks are, for `mwaa-local credentials` (never a key)."""

    mode: str
    source: str
    account: str | None = None
    arn: str | None = None
    expiration: dt.datetime | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "Mode": self.mode,
            "Source": self.source,
            "Account": self.account,
            "Arn": self.arn,
            "Expiration": iso8601(self.expiration) if self.expiration else None,
        }


def task_identity(
    config: CredentialsConfig, source: TaskCredentialSource | None = None
) -> TaskIdentity:
    """Who the tasks are: sts get-caller-identity made with the credentials they are handed."""
    if config.mode == "none":
        return TaskIdentity(mode="none", source="none: the tasks get no AWS credentials")
    source = source or TaskCredentialSource(config)
    issued = source.credentials()
    try:
        sts = task_session(source).client("sts", endpoint_url=config.sts_endpoint_url)
        identity = sts.get_caller_identity()
    except MwaaLocalError:
        raise
    except Exception as exc:
        raise source.explain(exc) from exc
    return TaskIdentity(
        mode=config.mode,
        source=source.describe(),
        account=identity["Account"],
        arn=identity["Arn"],
        expiration=issued.expiration,
    )
