"""The bad-input catalogue (issue 17): every bad input mwaa-local documents, with the exact message
and exit code it must produce, run through the real command where no engine is needed and
through the rule that makes the message otherwise. The same table is README's "What mwaa-local
tells you" section: `python -m tests.unit.test_bad_input_catalogue` prints it, and a test fails
when README and this table drift apart.
"""

import io
import socket
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from mwaa_local.bucket.keys import key_problem
from mwaa_local.cli.main import cli
from mwaa_local.container.startup_script import run_startup_script
from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.plugins import check_plugins_zip
from mwaa_local.mwaa.requirements import diagnose, plan_install

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- bad-input-catalogue:start -->", "<!-- bad-input-catalogue:end -->"
SHARED_MIRROR = Path(__file__).resolve().parents[3] / "shared" / "constraints"
# No engine answers here: the commands in this table must not need one (but for that row).
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
FIX_SETTINGS = "Hint: Fix the settings named above in mwaa-local.yaml; each line gives the rule."
FIX_OBJECTS = (
    "Hint: Fix the keys named above; `mwaa-local objects export` prints a running "
    "environment's objects in this schema."
)
INIT_ENV = ("init", "--from-environment", "{project}/env.json", "--output", "{project}/out.yaml")


@dataclass(frozen=True)
class Row:
    area: str
    what: str  # the bad input, as a user would describe it
    says: str  # what mwaa-local prints, exactly ({project} stands for the project folder)
    exit_code: int
    command: tuple[str, ...] = ()  # the command that meets it (run, unless `rule` is given)
    files: dict[str, str | bytes] = field(default_factory=dict)
    rule: Callable[[Path], str] | None = None  # where no command can show it without an engine
    stdin: str | None = None

    @property
    def shown_command(self) -> str:
        return " ".join(("mwaa-local", *self.command)).replace("{project}/", "")


def settings(what: str, yaml: str, says: str) -> Row:
    return Row(
        "Settings (mwaa-local.yaml)",
        what,
        f"Error: {{project}}/mwaa-local.yaml: {says}\n{FIX_SETTINGS}",
        2,
        ("status",),
        {"mwaa-local.yaml": yaml},
    )


def objects(what: str, yaml: str, says: str) -> Row:
    return Row(
        "Airflow objects (airflow-objects.yaml)",
        what,
        f"Error: {{project}}/airflow-objects.yaml: {says}\n{FIX_OBJECTS}",
        2,
        ("objects", "apply"),
        {"airflow-objects.yaml": yaml},
    )


def raised(call: Callable[[], object]) -> str:
    """The message and hint a rule raises, as the CLI prints them."""
    try:
        call()
    except MwaaLocalError as e:
        return f"Error: {e.message}" + (f"\nHint: {e.hint}" if e.hint else "")
    raise AssertionError("no error")


def zip_with(*names: str) -> Callable[[Path], str]:
    def check(project: Path) -> str:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name in names:
                archive.writestr(name, "x = 1\n")
        path = project / "plugins.zip"
        path.write_bytes(buffer.getvalue())
        return raised(lambda: check_plugins_zip(path))

    return check


def busy_port(project: Path) -> str:
    from mwaa_local.cli.commands_stack import check_port_free

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        return raised(lambda: check_port_free("127.0.0.1", port)).replace(str(port), "PORT")


UV_CONFLICT = (
    "  × No solution found when resolving dependencies:\n"
    "  ╰─▶ Because you require boto3==1.26.0 and boto3==1.40.61, we can conclude that your "
    "requirements are unsatisfiable.\n"
)
UV_NOT_FOUND = (
    "  × No solution found when resolving dependencies:\n"
    "  ╰─▶ Because pyjokez was not found in the package registry and you require pyjokez, we can "
    "conclude that your requirements are unsatisfiable.\n"
)


def startup_warnings(script: bytes) -> Callable[[Path], str]:
    """The warnings the start sequence logs for `script`, sourced as a component sources it."""

    def check(project: Path) -> str:
        path = project / "startup.sh"
        path.write_bytes(script)
        warnings: list[str] = []
        environ = {"PATH": "/usr/bin:/bin", "AIRFLOW_HOME": str(project)}
        run_startup_script(path, environ, "3.3.1", timeout=30, on_warning=warnings.append)
        return "\n".join(f"[WARNING] - {w}" for w in warnings)

    return check


def requirements_notes(text: str) -> Callable[[Path], str]:
    """The notes the requirements step logs for a requirements file with `text`."""

    def check(project: Path) -> str:
        path = project / "requirements.txt"
        path.write_text(text)
        (project / "c.txt").write_text("")
        plan = plan_install(
            path, {}, project / "c.txt", project / "c.txt", project / "work", "3.3.1", "3.12",
            display_name="requirements/requirements.txt",
        )  # fmt: skip
        return "\n".join(f"mwaa-local: {note}" for note in plan.notes)

    return check


def diagnosis(output: str, timed_out: bool = False) -> Callable[[Path], str]:
    def check(project: Path) -> str:
        return "Diagnosis: " + diagnose(output, None, timed_out, timeout=600)

    return check


CATALOGUE: list[Row] = [
    # --- the settings file ---------------------------------------------------------------
    settings(
        "a Name MWAA refuses",
        "Name: 1env\n",
        "Name: '1env' does not match MWAA's Name pattern [a-zA-Z][0-9a-zA-Z-_]* "
        "(1 to 80 characters)",
    ),
    settings(
        "a misspelt setting",
        "Nmae: x\n",
        "Nmae: unknown setting; did you mean 'Name'?",
    ),
    settings(
        "an unquoted version, which YAML reads as a number",
        "AirflowVersion: 2.10\n",
        "AirflowVersion: 2.1 is a number to YAML, not a version (an unquoted 2.10 reads as 2.1); "
        'quote it, e.g. AirflowVersion: "3.3.1"; MWAA supports 2.9.2, 2.10.1, 2.10.3, 2.11.0, '
        "2.11.2, 3.0.6, 3.2.1, 3.3.1",
    ),
    settings(
        "an Airflow version MWAA does not run",
        'AirflowVersion: "2.4.3"\n',
        "AirflowVersion: '2.4.3' is not an Airflow version MWAA supports; use one of 2.9.2, "
        "2.10.1, 2.10.3, 2.11.0, 2.11.2, 3.0.6, 3.2.1, 3.3.1",
    ),
    settings(
        "an environment class that does not exist",
        "EnvironmentClass: mw1.huge\n",
        "EnvironmentClass: 'mw1.huge' is not an environment class; use one of mw1.micro, "
        "mw1.small, mw1.medium, mw1.large, mw1.xlarge, mw1.2xlarge",
    ),
    settings(
        "MinWorkers above MaxWorkers",
        "MinWorkers: 5\nMaxWorkers: 2\n",
        "MinWorkers: 5 is greater than MaxWorkers (2)",
    ),
    settings(
        "no workers",
        "MinWorkers: 0\n",
        "MinWorkers: 0 is out of range; MWAA accepts 1 to 25 (quota adjustable to 50)",
    ),
    settings(
        "more workers than MWAA's quota",
        "MaxWorkers: 51\n",
        "MaxWorkers: 51 is out of range; MWAA accepts 1 to 25 (quota adjustable to 50)",
    ),
    settings(
        "workers on mw1.micro",
        "EnvironmentClass: mw1.micro\nMaxWorkers: 2\n",
        "MaxWorkers: 2 is not allowed for mw1.micro, which does not autoscale; MinWorkers and "
        "MaxWorkers must both be 1",
    ),
    settings(
        "more schedulers than the class allows",
        "Schedulers: 6\n",
        "Schedulers: 6 is out of range for mw1.small; MWAA accepts 2 to 5",
    ),
    settings(
        "an option MWAA forbids",
        "AirflowConfigurationOptions:\n  core.multi_team: 'True'\n",
        "AirflowConfigurationOptions: key 'core.multi_team' cannot be set on MWAA (incompatible "
        "with MWAA auth, CeleryExecutor and environment-level secrets)",
    ),
    settings(
        "an option without a section",
        "AirflowConfigurationOptions:\n  parallelism: '3'\n",
        "AirflowConfigurationOptions: key 'parallelism' has no section; write section.key (it "
        "becomes AIRFLOW__SECTION__KEY)",
    ),
    settings(
        "an option value outside printable ASCII",
        "AirflowConfigurationOptions:\n  core.dag_owner: 'é'\n",
        "AirflowConfigurationOptions: core.dag_owner: 'é' holds characters outside MWAA's "
        "pattern [ -~]+ (printable ASCII)",
    ),
    settings(
        "options written as one string",
        "AirflowConfigurationOptions: core.x=1\n",
        "AirflowConfigurationOptions: 'core.x=1' is not a mapping of section.key: value",
    ),
    settings(
        "a worker_autoscale with max below min",
        "AirflowConfigurationOptions:\n  celery.worker_autoscale: '2,5'\n",
        "AirflowConfigurationOptions: celery.worker_autoscale: '2,5' is not "
        "max_concurrency,min_concurrency with max >= min (e.g. '16,12')",
    ),
    settings(
        "a DAG folder path that starts with /",
        "DagS3Path: /dags\n",
        "DagS3Path: '/dags' starts with '/'; give the path relative to the bucket, e.g. dags",
    ),
    settings(
        "a DAG folder path that leaves the bucket",
        "DagS3Path: ../dags\n",
        "DagS3Path: '../dags' contains '..'; the path must stay inside the bucket",
    ),
    settings(
        "an S3 URL where a bucket path belongs",
        "DagS3Path: s3://x/dags\n",
        "DagS3Path: 's3://x/dags' is an S3 URL; give the path relative to the bucket, e.g. dags",
    ),
    settings(
        "an object version longer than MWAA's limit",
        "RequirementsS3ObjectVersion: '" + "v" * 1100 + "'\n",
        "RequirementsS3ObjectVersion: '"
        + "v" * 76
        + "... is longer than MWAA's limit of 1024 bytes",
    ),
    settings(
        "a maintenance window at 25:00",
        "WeeklyMaintenanceWindowStart: MON:25:00\n",
        "WeeklyMaintenanceWindowStart: 'MON:25:00' does not match MWAA's pattern DAY:HH:MM "
        "(MON..SUN, 00-23, minutes 00 or 30; e.g. SUN:14:00)",
    ),
    settings(
        "a web server access mode MWAA does not have",
        "WebserverAccessMode: OPEN\n",
        "WebserverAccessMode: 'OPEN' is not one of PRIVATE_ONLY, PUBLIC_ONLY, PUBLIC_AND_PRIVATE",
    ),
    settings(
        "a source bucket ARN with capitals",
        "SourceBucketArn: arn:aws:s3:::A\n",
        "SourceBucketArn: 'arn:aws:s3:::A' is not an S3 bucket ARN like "
        "arn:aws:s3:::my-airflow-bucket",
    ),
    settings(
        "tags written as one string",
        "Tags: team\n",
        "Tags: 'team' is not a mapping of key: value",
    ),
    settings(
        "an execution role ARN that is not one",
        "ExecutionRoleArn: arn:aws:iam::12:role/x\n",
        "ExecutionRoleArn: 'arn:aws:iam::12:role/x' is not an IAM role ARN like "
        "arn:aws:iam::123456789012:role/my-execution-role (MWAA's pattern)",
    ),
    settings(
        "a log level CloudWatch does not have",
        "LoggingConfiguration:\n  TaskLogs: {Enabled: true, LogLevel: LOUD}\n",
        "LoggingConfiguration.TaskLogs.LogLevel: 'LOUD' is not one of CRITICAL, ERROR, WARNING, "
        "INFO, DEBUG",
    ),
    settings(
        "a log type MWAA does not have",
        "LoggingConfiguration:\n  AuditLogs: {Enabled: true, LogLevel: INFO}\n",
        "LoggingConfiguration.AuditLogs: is not a log type; use DagProcessingLogs, "
        "SchedulerLogs, TaskLogs, WebserverLogs, WorkerLogs",
    ),
    settings(
        "a port out of range",
        "Local:\n  WebserverPort: 70000\n",
        "Local.WebserverPort: 70000 is not a port number (1-65535)",
    ),
    settings(
        "a bind address that is not an address",
        "Local:\n  BindAddress: nowhere\n",
        "Local.BindAddress: 'nowhere' is not an IP address (e.g. 127.0.0.1 or 0.0.0.0)",
    ),
    settings(
        "a DAG sync mode that does not exist",
        "Local:\n  DagSync: slow\n",
        "Local.DagSync: 'slow' is not one of fast, mwaa",
    ),
    settings(
        "a startup-script cap of 0 seconds",
        "Local:\n  StartupScriptTimeout: 0\n",
        "Local.StartupScriptTimeout: 0 is not a positive whole number of seconds",
    ),
    settings(
        "an s3:// bucket without a name",
        "Local:\n  Bucket: 's3://'\n",
        "Local.Bucket: 's3://' is not a folder or an s3://bucket/prefix URL",
    ),
    settings(
        "a negative resource scale",
        "Local:\n  ResourceScale: -1\n",
        "Local.ResourceScale: -1 is not a factor from 0 (no limits) to 16, e.g. 0.5",
    ),
    settings(
        "a misspelt local setting",
        "Local:\n  Prot: 1\n",
        "Local.Prot: unknown setting",
    ),
    Row(
        "Settings (mwaa-local.yaml)",
        "a YAML syntax error",
        "Error: {project}/mwaa-local.yaml: line 2, column 1: invalid YAML: expected ',' or ']', "
        "but got '<stream end>'",
        2,
        ("status",),
        {"mwaa-local.yaml": "Name: [x\n"},
    ),
    Row(
        "Settings (mwaa-local.yaml)",
        "a list instead of settings",
        "Error: {project}/mwaa-local.yaml: line 1: the file holds a list, not a mapping of "
        "settings (e.g. 'EnvironmentClass: mw1.small')",
        2,
        ("status",),
        {"mwaa-local.yaml": "- a\n- b\n"},
    ),
    # --- get-environment JSON (init --from-environment) ----------------------------------
    Row(
        "get-environment JSON (init --from-environment)",
        "a file that is not JSON",
        "Error: The get-environment output is not valid JSON: Expecting property name enclosed "
        "in double quotes (line 1, column 2).\nHint: Save the output of `aws mwaa "
        "get-environment --name NAME --output json`.",
        1,
        INIT_ENV,
        {"env.json": "{nope"},
    ),
    Row(
        "get-environment JSON (init --from-environment)",
        "a file saved in latin-1",
        "Error: The get-environment output is not UTF-8 text: byte 0xe9 at offset 29 is not "
        "valid UTF-8 (a latin-1 or Windows code page file?).\nHint: Save it as UTF-8: `aws "
        "mwaa get-environment --name NAME --output json > env.json` in a POSIX shell, or `... "
        "| Out-File -Encoding utf8 env.json` in PowerShell; or convert it with `iconv -f "
        "latin1 -t utf-8`.",
        1,
        INIT_ENV,
        {"env.json": '{"Environment": {"Name": "caf\xe9"}}'.encode("latin-1")},
    ),
    Row(
        "get-environment JSON (init --from-environment)",
        "an environment on an Airflow version MWAA no longer runs",
        "Error: {project}/env.json (as out.yaml): AirflowVersion: '1.10.12' is not an Airflow "
        "version MWAA supports; use one of 2.9.2, 2.10.1, 2.10.3, 2.11.0, 2.11.2, 3.0.6, 3.2.1, "
        "3.3.1\nHint: Nothing was written. Fix these values in the JSON (or write the settings "
        "file by hand) and run init again.",
        2,
        INIT_ENV,
        {"env.json": '{"Environment": {"Name": "x", "AirflowVersion": "1.10.12"}}'},
    ),
    Row(
        "get-environment JSON (init --from-environment)",
        "an output file that exists",
        "Error: {project}/out.yaml already exists; mwaa-local never rewrites your files.\nHint: "
        "Name another file with --output, or move the existing one away.",
        1,
        INIT_ENV,
        {"env.json": '{"Environment": {"Name": "x"}}', "out.yaml": "Name: y\n"},
    ),
    # --- Airflow objects -------------------------------------------------------------------
    objects(
        "a misspelt section",
        "conections: {}\n",
        "line 1: conections: unknown key; did you mean 'connections'? (known: connections, "
        "variables, pools)",
    ),
    objects(
        "a connection port out of range",
        "connections:\n  db: {conn_type: postgres, port: 99999}\n",
        "line 2: connections.db.port: 99999 is not a port number (1-65535)",
    ),
    objects(
        "a connection without a type",
        "connections:\n  db: {host: x}\n",
        "line 2: connections.db.conn_type: is missing; Airflow needs a connection type",
    ),
    objects(
        "a pool with negative slots",
        "pools:\n  etl: {slots: -5}\n",
        "line 2: pools.etl.slots: -5 is not a whole number >= -1 (-1 means unlimited)",
    ),
    Row(
        "Airflow objects (airflow-objects.yaml)",
        "a YAML syntax error",
        "Error: {project}/airflow-objects.yaml: line 2, column 1: invalid YAML: expected the "
        "node content, but found '<stream end>'",
        2,
        ("objects", "apply"),
        {"airflow-objects.yaml": "connections: [\n"},
    ),
    Row(
        "Airflow objects (airflow-objects.yaml)",
        "an env file line without an id",
        "Error: {project}/x.env: line 1: AIRFLOW_CONN_: has no id after the prefix\nHint: Lines "
        "are AIRFLOW_CONN_<ID>=<URI or JSON> and AIRFLOW_VAR_<KEY>=<value>.",
        2,
        ("objects", "apply", "--env-file", "{project}/x.env"),
        {"x.env": "AIRFLOW_CONN_=x\n"},
    ),
    Row(
        "Airflow objects (airflow-objects.yaml)",
        "no objects file to apply",
        "Error: There is no {project}/airflow-objects.yaml to apply.\nHint: Write one "
        "(connections:, variables:, pools:), name one with --file, or export the running "
        "environment's: mwaa-local objects export --output {project}/airflow-objects.yaml",
        1,
        ("objects", "apply"),
    ),
    # --- requirements.txt ------------------------------------------------------------------
    Row(
        "requirements.txt",
        "a pin that conflicts with another (uv's output)",
        "Diagnosis: Install error: Because you require boto3==1.26.0 and boto3==1.40.61, we can "
        "conclude that your requirements are unsatisfiable.",
        1,
        ("test-requirements",),
        rule=diagnosis(UV_CONFLICT),
    ),
    Row(
        "requirements.txt",
        "a package that does not exist",
        "Diagnosis: Not found: pyjokez (not in the package registry).",
        1,
        ("test-requirements",),
        rule=diagnosis(UV_NOT_FOUND),
    ),
    Row(
        "requirements.txt",
        "an install that runs past the cap",
        "Diagnosis: Time-out: the install did not finish within 10 minutes and was stopped "
        "(MWAA stops it at about ten minutes and rolls an update back); trim the requirements "
        "or use wheels.",
        1,
        ("test-requirements",),
        rule=diagnosis("Resolved 3 packages\n", timed_out=True),
    ),
    Row(
        "requirements.txt",
        "a comment that mentions `--constraint `, which turns the Airflow constraints off",
        "mwaa-local: requirements/requirements.txt line 1 is a comment containing `-c ` or "
        "`--constraint `, and MWAA counts commented lines: it does NOT add the Airflow "
        "constraints, only its essential pins. If that is not what you want, reword the comment "
        "(or name the constraints URL on a line of its own).",
        0,
        ("test-requirements",),
        rule=requirements_notes("# pin later with --constraint if needed\npyjokes\n"),
    ),
    # --- startup.sh ------------------------------------------------------------------------
    Row(
        "startup.sh",
        "Windows line endings",
        "[WARNING] - the startup script has Windows line endings (CRLF); MWAA's bash fails on "
        "them with `$'\\r': command not found`. Save it with LF line endings (dos2unix, or "
        "your editor's line-ending setting).",
        0,
        ("test-startup-script",),
        rule=startup_warnings(b"export A=1\r\n"),
    ),
    Row(
        "startup.sh",
        "an export of a reserved variable (AIRFLOW__CORE__EXECUTOR)",
        "[WARNING] - the startup script set reserved variable AIRFLOW__CORE__EXECUTOR; restored "
        "to MWAA's value (MWAA reserves it and restores it silently)",
        0,
        ("test-startup-script",),
        rule=startup_warnings(b"export AIRFLOW__CORE__EXECUTOR=LocalExecutor\n"),
    ),
    Row(
        "startup.sh",
        "an unset of a variable the component needs",
        "[WARNING] - the startup script unset AIRFLOW_HOME; that has no effect on MWAA, so it "
        "is kept",
        0,
        ("test-startup-script",),
        rule=startup_warnings(b"unset AIRFLOW_HOME\n"),
    ),
    # --- plugins.zip -----------------------------------------------------------------------
    Row(
        "plugins.zip",
        "an entry that climbs out with ../",
        "Error: {project}/plugins.zip has unsafe entries; nothing was extracted:\n  "
        "'../evil.py': its path contains '..'; entries must stay inside the plugins folder\n"
        "Hint: Re-create the zip from inside your plugins folder: cd plugins; zip -r "
        "../plugins.zip . (regular files only, relative paths).",
        1,
        ("start",),
        rule=zip_with("ok.py", "../evil.py"),
    ),
    Row(
        "plugins.zip",
        "an absolute entry",
        "Error: {project}/plugins.zip has unsafe entries; nothing was extracted:\n  "
        "'/etc/evil.py': its path is absolute; entries must be relative to the plugins folder\n"
        "Hint: Re-create the zip from inside your plugins folder: cd plugins; zip -r "
        "../plugins.zip . (regular files only, relative paths).",
        1,
        ("start",),
        rule=zip_with("/etc/evil.py"),
    ),
    # --- S3 keys -----------------------------------------------------------------------------
    Row(
        "S3 keys (s3:// bucket)",
        "a key with an empty segment (dags//tmp/x.py)",
        "skipped: it is absolute (an empty segment after the prefix: '//')",
        0,
        ("status",),
        rule=lambda project: f"skipped: {key_problem('/tmp/x.py')}",
    ),
    Row(
        "S3 keys (s3:// bucket)",
        "a key that climbs out (dags/../../x.py)",
        "skipped: it has a '.' or '..' segment",
        0,
        ("status",),
        rule=lambda project: f"skipped: {key_problem('../../x.py')}",
    ),
    # --- DAGs and workflows -----------------------------------------------------------------
    Row(
        "DAGs and workflows",
        "`dags test --conf` that is not JSON",
        "Error: Invalid value for '--conf': not valid JSON (Expecting property name enclosed in "
        "double quotes: line 1 column 2 (char 1))",
        2,
        ("dags", "test", "my_dag", "--conf", "{x"),
    ),
    Row(
        "DAGs and workflows",
        "`dags test --logical-date` that is not a date",
        "Error: Invalid value for '--logical-date': 'yesterday' is not an ISO 8601 date, e.g. "
        "2024-01-31T06:00:00Z",
        2,
        ("dags", "test", "my_dag", "--logical-date", "yesterday"),
    ),
    Row(
        "DAGs and workflows",
        "a workflow with retries above 3",
        "{project}/w.yaml:4: error: wf.tasks.a.retries: retries is 5: MWAA Serverless allows "
        "0 to 3",
        1,
        ("workflows", "validate", "{project}/w.yaml"),
        {
            "w.yaml": "wf:\n  tasks:\n    a: {operator: "
            "airflow.providers.standard.operators.empty.EmptyOperator,\n        retries: 5}\n"
        },
    ),
    Row(
        "DAGs and workflows",
        "a workflow with a cron that cannot fire",
        "{project}/w.yaml:2: error: wf.schedule: schedule '61 * * * *' is not a valid cron "
        "expression: is not acceptable, out of range",
        1,
        ("workflows", "validate", "{project}/w.yaml"),
        {"w.yaml": "wf:\n  schedule: '61 * * * *'\n  tasks: {}\n"},
    ),
    Row(
        "DAGs and workflows",
        "a workflow with a YAML syntax error",
        "{project}/w.yaml:2: error: (yaml): invalid YAML: while parsing a flow node expected the "
        "node content, but found '<stream end>'",
        1,
        ("workflows", "validate", "{project}/w.yaml"),
        {"w.yaml": "wf: [\n"},
    ),
    # --- the engine, ports, the project ------------------------------------------------------
    Row(
        "Engine, ports and project",
        "no Docker engine running",
        "Error: No Docker engine answers at unix:///nonexistent/docker.sock: No such file or "
        "directory\nHint: Start Docker (Docker Desktop, `sudo systemctl start docker`, or `sudo "
        "dockerd &`) or point DOCKER_HOST at a running engine.",
        1,
        ("stop",),
    ),
    Row(
        "Engine, ports and project",
        "the web server port already in use",
        "Error: Port PORT on 127.0.0.1 is already in use, so the Airflow UI cannot be published."
        "\nHint: Stop what uses it, or set Local.WebserverPort in mwaa-local.yaml or "
        "MWAA_LOCAL_WEBSERVER_PORT (each environment needs its own port).",
        1,
        ("start",),
        rule=busy_port,
    ),
    Row(
        "Engine, ports and project",
        "a project folder that does not exist",
        "Error: The project folder {project}/missing does not exist.\nHint: Name an existing "
        "folder with --project-dir (or MWAA_LOCAL_PROJECT_DIR), or lay out a new project there: "
        "mwaa-local --project-dir {project}/missing init",
        1,
        ("--project-dir", "{project}/missing", "status"),
    ),
    Row(
        "Engine, ports and project",
        "reset-db not confirmed",
        "Error: Nothing was deleted.",
        1,
        ("reset-db",),
        stdin="n\n",
    ),
    Row(
        "Engine, ports and project",
        "down --volumes not confirmed",
        "Error: Nothing was removed.",
        1,
        ("down", "--volumes"),
        stdin="n\n",
    ),
    Row(
        "Engine, ports and project",
        "upgrade-check to a version MWAA does not run",
        "Error: Invalid value for '--to': '9.9.9' is not one of '2.9.2', '2.10.1', '2.10.3', "
        "'2.11.0', '2.11.2', '3.0.6', '3.2.1', '3.3.1'.",
        2,
        ("upgrade-check", "--to", "9.9.9"),
    ),
    Row(
        "Engine, ports and project",
        "package-requirements without the requirements file",
        "Error: The requirements file {project}/nope.txt does not exist.\nHint: Name it with "
        "--requirements FILE, or set RequirementsS3Path in the settings.",
        1,
        ("package-requirements", "--requirements", "{project}/nope.txt"),
    ),
]


def produce(row: Row, project: Path) -> tuple[int, str]:
    """The exit code and what the row's input makes mwaa-local print, paths as {project}."""
    for name, content in row.files.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    if row.rule is not None:
        shown = row.rule(project)
        exit_code = row.exit_code
    else:
        args = [a.replace("{project}", str(project)) for a in row.command]
        if args[0] != "--project-dir":
            args = ["--project-dir", str(project), *args]
        env = {**NO_ENGINE, "MWAA_LOCAL_CONSTRAINTS_MIRROR": str(SHARED_MIRROR)}
        result = CliRunner().invoke(cli, args, env=env, input=row.stdin)
        shown, exit_code = result.output, result.exit_code
    return exit_code, shown.replace(str(project), "{project}")


@pytest.mark.parametrize("row", CATALOGUE, ids=lambda row: f"{row.area}: {row.what}")
def test_each_bad_input_gets_its_message_and_exit_code(row, tmp_path):
    exit_code, shown = produce(row, tmp_path)
    assert row.says in shown, shown
    assert exit_code == row.exit_code, shown
    assert "Traceback" not in shown


def test_the_catalogue_is_large_and_every_row_distinct():
    assert len(CATALOGUE) >= 60
    assert len({(r.area, r.what) for r in CATALOGUE}) == len(CATALOGUE)


def markdown() -> str:
    lines = [
        "| Where | Bad input | Met by | Exit | What mwaa-local tells you |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in CATALOGUE:
        says = row.says.replace("{project}/", "").replace("{project}", "PROJECT")
        says = says.replace("|", "\\|").replace("\n", "<br>")
        command = row.shown_command.replace("|", "\\|")
        lines.append(f"| {row.area} | {row.what} | `{command}` | {row.exit_code} | {says} |")
    return "\n".join(lines) + "\n"


def test_readme_shows_this_catalogue():
    text = README.read_text()
    assert START in text and END in text, "README has no bad-input catalogue section"
    shown = text.split(START, 1)[1].split(END, 1)[0].strip("\n") + "\n"
    assert shown == markdown(), (
        "README's catalogue drifted: python -m tests.unit.test_bad_input_catalogue"
    )


if __name__ == "__main__":
    # Rewrite README's section from the table (the test above checks they agree).
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{markdown()}{END}{tail}")
    print(f"README: {len(CATALOGUE)} rows")
