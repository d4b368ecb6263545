"""A settings file from a real environment: the JSON that `aws mwaa get-environment` prints.

GetEnvironment returns CreateEnvironment's inputs plus output-only fields
(../shared/reference/mwaa-behaviour.md 6.2); keep the inputs, name what is dropped and why.
"""

import json
from typing import Any

import yaml

from mwaa_local.errors import MwaaLocalError
from mwaa_local.spec.settings import SETTINGS_FILE_NAME, SETTINGS_KEYS

# mwaa-behaviour.md 6.2: GetEnvironment fields that CreateEnvironment does not take.
OUTPUT_ONLY = (
    "Arn",
    "CeleryExecutorQueue",
    "CreatedAt",
    "DatabaseVpcEndpointService",
    "LastUpdate",
    "ServiceRoleArn",
    "Status",
    "WebserverUrl",
    "WebserverVpcEndpointService",
)


def settings_from_get_environment(data: str | bytes) -> tuple[dict[str, Any], list[str]]:
    """The settings mapping (in SETTINGS_KEYS order) and one line per dropped field."""
    inner = _environment_object(data if isinstance(data, str) else decode_json(data))
    settings = {key: inner[key] for key in SETTINGS_KEYS if inner.get(key) is not None}
    dropped = [
        f"{key}: {'output only' if key in OUTPUT_ONLY else 'not a CreateEnvironment setting'}"
        for key in inner
        if key not in SETTINGS_KEYS
    ]
    if "LoggingConfiguration" in settings:
        settings["LoggingConfiguration"], logging_dropped = _logging_input(
            settings["LoggingConfiguration"]
        )
        dropped += logging_dropped
    return settings, dropped


def decode_json(data: bytes) -> str:
    """JSON text in UTF-8, -16 or -32, with or without a byte order mark, as JSON allows
    (PowerShell's `>` writes UTF-16 with one); anything else is refused with the fix."""
    encoding = json.detect_encoding(data)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise MwaaLocalError(
            f"The get-environment output is not UTF-8 text: byte 0x{data[exc.start]:02x} at "
            f"offset {exc.start} is not valid {encoding.upper()} (a latin-1 or Windows code "
            "page file?).",
            hint="Save it as UTF-8: `aws mwaa get-environment --name NAME --output json > "
            "env.json` in a POSIX shell, or `... | Out-File -Encoding utf8 env.json` in "
            "PowerShell; or convert it with `iconv -f latin1 -t utf-8`.",
        ) from None


def _environment_object(text: str) -> dict[str, Any]:
    """The Environment object from `{"Environment": {...}}` or the bare object."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MwaaLocalError(
            f"The get-environment output is not valid JSON: {exc.msg} "
            f"(line {exc.lineno}, column {exc.colno}).",
            hint="Save the output of `aws mwaa get-environment --name NAME --output json`.",
        ) from exc
    if isinstance(data, dict) and "Environment" in data:
        data = data["Environment"]
    if not isinstance(data, dict) or "Name" not in data:
        raise MwaaLocalError(
            'The JSON is not an MWAA environment: expected {"Environment": {"Name": ...}}.',
            hint="Save the output of `aws mwaa get-environment --name NAME --output json`.",
        )
    return data


def _logging_input(logging: Any) -> tuple[Any, list[str]]:
    """LoggingConfiguration in CreateEnvironment's input shape: {Type: {Enabled, LogLevel}}.

    mwaa-behaviour.md 6.2: GetEnvironment adds CloudWatchLogGroupArn to each log type.
    """
    if not isinstance(logging, dict):
        return logging, []
    shaped: dict[str, Any] = {}
    dropped: list[str] = []
    for log_type, module in logging.items():
        if not isinstance(module, dict):
            shaped[log_type] = module
            continue
        shaped[log_type] = {k: v for k, v in module.items() if k in ("Enabled", "LogLevel")}
        dropped += [
            f"LoggingConfiguration.{log_type}.{k}: output only"
            for k in module
            if k not in ("Enabled", "LogLevel")
        ]
    return shaped, dropped


def render_settings_yaml(mapping: dict[str, Any], dropped: list[str], source_name: str) -> str:
    """A settings-file document: a header saying where it came from and what was left out."""
    header = [
        f"# {SETTINGS_FILE_NAME}, generated from {source_name}.",
        "# Top-level names are MWAA's CreateEnvironment names; mwaa-local's own settings go under",
        "# Local: (e.g. Local: {WebserverPort: 8080}).",
    ]
    if dropped:
        header.append("# Not carried over:")
        header += [f"#   {line}" for line in dropped]
    body = yaml.dump(
        _quote_version_and_options(mapping),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )
    return "\n".join(header) + "\n\n" + body


class _Quoted(str):
    """A string the YAML output quotes, so an edit like 2.11 or 5,5 stays a string."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Quoted, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, "'")
)


def _quote_version_and_options(mapping: dict[str, Any]) -> dict[str, Any]:
    quoted = dict(mapping)
    if isinstance(quoted.get("AirflowVersion"), str):
        quoted["AirflowVersion"] = _Quoted(quoted["AirflowVersion"])
    options = quoted.get("AirflowConfigurationOptions")
    if isinstance(options, dict):
        quoted["AirflowConfigurationOptions"] = {
            key: _Quoted(value) if isinstance(value, str) else value
            for key, value in options.items()
        }
    return quoted
