"""MWAA Serverless's rules for a workflow definition, as data and as pure checks on values.

Nothing here reads YAML: `validate` walks the file (keeping line numbers) and asks these checks,
each of which returns a Problem (severity and message) or None.

Sources (../shared/reference/mwaa-behaviour.md 8.1, aws-clients-and-serverless.md F.2):
- DAG-level rules checked at CreateWorkflow/UpdateWorkflow, task-level rules at execution, and
  the ignored DAG parameters: the MWAA Serverless User Guide page "Apache Airflow Parameter
  Support" (supported-airflow-parameters), read 2026-11.
- The allowed operators: see ALLOWED_OPERATOR_CLASSES below.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from croniter import CroniterError, croniter

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    severity: str
    message: str


def error(message: str) -> Problem:
    return Problem(ERROR, message)


def warning(message: str) -> Problem:
    return Problem(WARNING, message)


# --- operators ------------------------------------------------------------------------------

# The operators MWAA Serverless runs, by module. Source: AWS's converter
# awslabs/python-to-yaml-dag-converter-mwaa-serverless 0.1.4 (commit 70a1cea, 2026-06-16),
# dag_converter/validator_schema.yaml, the `operator` enum: Amazon provider operators, sensors and
# transfers, plus EmptyOperator (both import paths) and common-sql's SQLTableCheckOperator. The
# User Guide's "Supported operators" page lists the same classes by short name. Kept verbatim,
# with one fix: the schema lacks a comma after DynamoDBToS3Operator, so yamale reads it and
# EC2StartInstanceOperator as one string; both are listed here. Python and Bash operators run
# only with a code package (CODE_PACKAGE_OPERATORS). Update this table when the service changes;
# callers extend it with `extra_operators` (CLI: --allow-operator).
ALLOWED_OPERATOR_CLASSES: Mapping[str, tuple[str, ...]] = {
    "airflow.operators.empty": ("EmptyOperator",),
    "airflow.providers.amazon.aws.operators": (
        "MaxDomeNotebookOperator",
        "MaxDomeSQLOperator",
        "MaxDomeSparkOperator",
        "MaxdomeArtifactsOperator",
    ),
    "airflow.providers.amazon.aws.operators.appflow": (
        "AppflowBaseOperator",
        "AppflowRecordsShortCircuitOperator",
        "AppflowRunAfterOperator",
        "AppflowRunBeforeOperator",
        "AppflowRunDailyOperator",
        "AppflowRunFullOperator",
        "AppflowRunOperator",
    ),
    "airflow.providers.amazon.aws.operators.athena": ("AthenaOperator",),
    "airflow.providers.amazon.aws.operators.batch": (
        "BatchCreateComputeEnvironmentOperator",
        "BatchOperator",
    ),
    "airflow.providers.amazon.aws.operators.bedrock": (
        "BedrockBatchInferenceOperator",
        "BedrockCreateDataSourceOperator",
        "BedrockCreateKnowledgeBaseOperator",
        "BedrockCreateProvisionedModelThroughputOperator",
        "BedrockCustomizeModelOperator",
        "BedrockIngestDataOperator",
        "BedrockInvokeModelOperator",
        "BedrockRaGOperator",
        "BedrockRetrieveOperator",
    ),
    "airflow.providers.amazon.aws.operators.cloud_formation": (
        "CloudFormationCreateStackOperator",
        "CloudFormationDeleteStackOperator",
    ),
    "airflow.providers.amazon.aws.operators.comprehend": (
        "ComprehendBaseOperator",
        "ComprehendCreateDocumentClassifierOperator",
        "ComprehendStartPiiEntitiesDetectionJobOperator",
    ),
    "airflow.providers.amazon.aws.operators.datasync": ("DataSyncOperator",),
    "airflow.providers.amazon.aws.operators.dms": (
        "DmsCreateReplicationConfigOperator",
        "DmsCreateTaskOperator",
        "DmsDeleteReplicationConfigOperator",
        "DmsDeleteTaskOperator",
        "DmsDescribeReplicationConfigsOperator",
        "DmsDescribeReplicationsOperator",
        "DmsDescribeTasksOperator",
        "DmsStartTaskOperator",
        "DmsStopTaskOperator",
    ),
    "airflow.providers.amazon.aws.operators.ec2": (
        "EC2CreateInstanceOperator",
        "EC2HibernateInstanceOperator",
        "EC2RebootInstanceOperator",
        "EC2StartInstanceOperator",
        "EC2StopInstanceOperator",
        "EC2TerminateInstanceOperator",
    ),
    "airflow.providers.amazon.aws.operators.ecs": (
        "EcsBaseOperator",
        "EcsCreateClusterOperator",
        "EcsDeleteClusterOperator",
        "EcsDeregisterTaskDefinitionOperator",
        "EcsRegisterTaskDefinitionOperator",
        "EcsRunTaskOperator",
    ),
    "airflow.providers.amazon.aws.operators.eks": (
        "EksCreateClusterOperator",
        "EksCreateFargateProfileOperator",
        "EksCreateNodegroupOperator",
        "EksDeleteClusterOperator",
        "EksDeleteFargateProfileOperator",
        "EksDeleteNodegroupOperator",
        "EksPodOperator",
    ),
    "airflow.providers.amazon.aws.operators.emr": (
        "EmrAddStepsOperator",
        "EmrContainerOperator",
        "EmrCreateJobFlowOperator",
        "EmrEksCreateClusterOperator",
        "EmrModifyClusterOperator",
        "EmrServerlessCreateApplicationOperator",
        "EmrServerlessDeleteApplicationOperator",
        "EmrServerlessStartJobOperator",
        "EmrServerlessStopApplicationOperator",
        "EmrStartNotebookExecutionOperator",
        "EmrStopNotebookExecutionOperator",
        "EmrTerminateJobFlowOperator",
    ),
    "airflow.providers.amazon.aws.operators.eventbridge": (
        "EventBridgeDisableRuleOperator",
        "EventBridgeEnableRuleOperator",
        "EventBridgePutEventsOperator",
        "EventBridgePutRuleOperator",
    ),
    "airflow.providers.amazon.aws.operators.glacier": (
        "GlacierCreateJobOperator",
        "GlacierUploadArchiveOperator",
    ),
    "airflow.providers.amazon.aws.operators.glue": (
        "GlueDataQualityOperator",
        "GlueDataQualityRuleRecommendationRunOperator",
        "GlueDataQualityRuleSetEvaluationRunOperator",
        "GlueJobOperator",
    ),
    "airflow.providers.amazon.aws.operators.glue_crawler": ("GlueCrawlerOperator",),
    "airflow.providers.amazon.aws.operators.glue_databrew": ("GlueDataBrewStartJobOperator",),
    "airflow.providers.amazon.aws.operators.kinesis_analytics": (
        "KinesisAnalyticsV2CreateApplicationOperator",
        "KinesisAnalyticsV2StartApplicationOperator",
        "KinesisAnalyticsV2StopApplicationOperator",
    ),
    "airflow.providers.amazon.aws.operators.lambda_function": (
        "LambdaCreateFunctionOperator",
        "LambdaInvokeFunctionOperator",
    ),
    "airflow.providers.amazon.aws.operators.mwaa": ("MwaaTriggerDagRunOperator",),
    "airflow.providers.amazon.aws.operators.neptune": (
        "NeptuneStartDbClusterOperator",
        "NeptuneStopDbClusterOperator",
    ),
    "airflow.providers.amazon.aws.operators.quicksight": ("QuickSightCreateIngestionOperator",),
    "airflow.providers.amazon.aws.operators.rds": (
        "RdsBaseOperator",
        "RdsCancelExportTaskOperator",
        "RdsCopyDbSnapshotOperator",
        "RdsCreateDbInstanceOperator",
        "RdsCreateDbSnapshotOperator",
        "RdsCreateEventSubscriptionOperator",
        "RdsDeleteDbInstanceOperator",
        "RdsDeleteDbSnapshotOperator",
        "RdsDeleteEventSubscriptionOperator",
        "RdsStartDbOperator",
        "RdsStartExportTaskOperator",
        "RdsStopDbOperator",
    ),
    "airflow.providers.amazon.aws.operators.redshift_cluster": (
        "RedshiftCreateClusterOperator",
        "RedshiftCreateClusterSnapshotOperator",
        "RedshiftDeleteClusterOperator",
        "RedshiftDeleteClusterSnapshotOperator",
        "RedshiftPauseClusterOperator",
        "RedshiftResumeClusterOperator",
    ),
    "airflow.providers.amazon.aws.operators.redshift_data": ("RedshiftDataOperator",),
    "airflow.providers.amazon.aws.operators.s3": (
        "S3CopyObjectOperator",
        "S3CreateBucketOperator",
        "S3CreateObjectOperator",
        "S3DeleteBucketOperator",
        "S3DeleteBucketTaggingOperator",
        "S3DeleteObjectsOperator",
        "S3GetBucketTaggingOperator",
        "S3ListOperator",
        "S3ListPrefixesOperator",
        "S3PutBucketTaggingOperator",
    ),
    "airflow.providers.amazon.aws.operators.sagemaker": (
        "SageMakerAutoMLOperator",
        "SageMakerBaseOperator",
        "SageMakerCreateExperimentOperator",
        "SageMakerCreateNotebookOperator",
        "SageMakerDeleteModelOperator",
        "SageMakerDeleteNotebookOperator",
        "SageMakerEndpointConfigOperator",
        "SageMakerEndpointOperator",
        "SageMakerModelOperator",
        "SageMakerProcessingOperator",
        "SageMakerRegisterModelVersionOperator",
        "SageMakerStartNoteBookOperator",
        "SageMakerStartPipelineOperator",
        "SageMakerStopNotebookOperator",
        "SageMakerStopPipelineOperator",
        "SageMakerTrainingOperator",
        "SageMakerTransformOperator",
        "SageMakerTuningOperator",
    ),
    "airflow.providers.amazon.aws.operators.sagemaker_unified_studio": (
        "SageMakerNotebookOperator",
    ),
    "airflow.providers.amazon.aws.operators.sagemaker_unified_studio_notebook": (
        "SageMakerUnifiedStudioNotebookOperator",
    ),
    "airflow.providers.amazon.aws.operators.sns": ("SnsPublishOperator",),
    "airflow.providers.amazon.aws.operators.sqs": ("SqsPublishOperator",),
    "airflow.providers.amazon.aws.operators.step_function": (
        "StepFunctionGetExecutionOutputOperator",
        "StepFunctionStartExecutionOperator",
    ),
    "airflow.providers.amazon.aws.sensors": (
        "MaxDomeSQLSensor",
        "MaxDomeSparkSensor",
        "MaxdomeNotebookSensor",
    ),
    "airflow.providers.amazon.aws.sensors.athena": ("AthenaSensor",),
    "airflow.providers.amazon.aws.sensors.base_aws": ("AwsBaseSensor",),
    "airflow.providers.amazon.aws.sensors.batch": (
        "BatchComputeEnvironmentSensor",
        "BatchJobQueueSensor",
        "BatchSensor",
    ),
    "airflow.providers.amazon.aws.sensors.bedrock": (
        "BedrockBaseSensor",
        "BedrockBatchInferenceSensor",
        "BedrockCustomizeModelCompletedSensor",
        "BedrockIngestionJobSensor",
        "BedrockKnowledgeBaseActiveSensor",
        "BedrockProvisionModelThroughputCompletedSensor",
    ),
    "airflow.providers.amazon.aws.sensors.cloud_formation": (
        "CloudFormationCreateStackSensor",
        "CloudFormationDeleteStackSensor",
    ),
    "airflow.providers.amazon.aws.sensors.comprehend": (
        "ComprehendBaseSensor",
        "ComprehendCreateDocumentClassifierCompletedSensor",
        "ComprehendStartPiiEntitiesDetectionJobCompletedSensor",
    ),
    "airflow.providers.amazon.aws.sensors.dms": ("DmsTaskBaseSensor", "DmsTaskCompletedSensor"),
    "airflow.providers.amazon.aws.sensors.dynamodb": ("DynamoDBValueSensor",),
    "airflow.providers.amazon.aws.sensors.ec2": ("EC2InstanceStateSensor",),
    "airflow.providers.amazon.aws.sensors.ecs": (
        "EcsBaseSensor",
        "EcsClusterStateSensor",
        "EcsTaskDefinitionStateSensor",
        "EcsTaskStateSensor",
    ),
    "airflow.providers.amazon.aws.sensors.eks": (
        "EksBaseSensor",
        "EksClusterStateSensor",
        "EksFargateProfileStateSensor",
        "EksNodegroupStateSensor",
    ),
    "airflow.providers.amazon.aws.sensors.emr": (
        "EmrBaseSensor",
        "EmrContainerSensor",
        "EmrJobFlowSensor",
        "EmrNotebookExecutionSensor",
        "EmrServerlessApplicationSensor",
        "EmrServerlessJobSensor",
        "EmrStepSensor",
    ),
    "airflow.providers.amazon.aws.sensors.glacier": ("GlacierJobOperationSensor",),
    "airflow.providers.amazon.aws.sensors.glue": (
        "GlueDataQualityRuleRecommendationRunSensor",
        "GlueDataQualityRuleSetEvaluationRunSensor",
        "GlueJobSensor",
    ),
    "airflow.providers.amazon.aws.sensors.glue_catalog_partition": ("GlueCatalogPartitionSensor",),
    "airflow.providers.amazon.aws.sensors.glue_crawler": ("GlueCrawlerSensor",),
    "airflow.providers.amazon.aws.sensors.kinesis_analytics": (
        "KinesisAnalyticsV2BaseSensor",
        "KinesisAnalyticsV2StartApplicationCompletedSensor",
        "KinesisAnalyticsV2StopApplicationCompletedSensor",
    ),
    "airflow.providers.amazon.aws.sensors.lambda_function": ("LambdaFunctionStateSensor",),
    "airflow.providers.amazon.aws.sensors.mwaa": ("MwaaDagRunSensor",),
    "airflow.providers.amazon.aws.sensors.opensearch_serverless": (
        "OpenSearchServerlessCollectionActiveSensor",
    ),
    "airflow.providers.amazon.aws.sensors.quicksight": ("QuickSightSensor",),
    "airflow.providers.amazon.aws.sensors.rds": (
        "RdsBaseSensor",
        "RdsDbSensor",
        "RdsExportTaskExistenceSensor",
        "RdsSnapshotExistenceSensor",
    ),
    "airflow.providers.amazon.aws.sensors.redshift_cluster": ("RedshiftClusterSensor",),
    "airflow.providers.amazon.aws.sensors.s3": ("S3KeySensor", "S3KeysUnchangedSensor"),
    "airflow.providers.amazon.aws.sensors.sagemaker": (
        "SageMakerAutoMLSensor",
        "SageMakerBaseSensor",
        "SageMakerEndpointSensor",
        "SageMakerPipelineSensor",
        "SageMakerProcessingSensor",
        "SageMakerTrainingSensor",
        "SageMakerTransformSensor",
        "SageMakerTuningSensor",
    ),
    "airflow.providers.amazon.aws.sensors.sagemaker_unified_studio_notebook": (
        "SageMakerUnifiedStudioNotebookSensor",
    ),
    "airflow.providers.amazon.aws.sensors.sqs": ("SqsSensor",),
    "airflow.providers.amazon.aws.sensors.step_function": ("StepFunctionExecutionSensor",),
    "airflow.providers.amazon.aws.transfers.dynamodb_to_s3": ("DynamoDBToS3Operator",),
    "airflow.providers.amazon.aws.transfers.http_to_s3": ("HttpToS3Operator",),
    "airflow.providers.amazon.aws.transfers.local_to_s3": ("LocalFilesystemToS3Operator",),
    "airflow.providers.amazon.aws.transfers.redshift_to_s3": ("RedshiftToS3Operator",),
    "airflow.providers.amazon.aws.transfers.s3_to_dynamodb": ("S3ToDynamoDBOperator",),
    "airflow.providers.amazon.aws.transfers.s3_to_redshift": ("S3ToRedshiftOperator",),
    "airflow.providers.amazon.aws.transfers.sql_to_s3": ("SqlToS3Operator",),
    "airflow.providers.common.sql.operators.sql": ("SQLTableCheckOperator",),
    "airflow.providers.standard.operators.empty": ("EmptyOperator",),
}

ALLOWED_OPERATORS: frozenset[str] = frozenset(
    f"{module}.{name}" for module, names in ALLOWED_OPERATOR_CLASSES.items() for name in names
)

# Allowed only when the workflow comes with a code package (CreateWorkflow's Code), which also
# carries custom and third-party provider operators. Source: User Guide page "Running custom code
# with Python, Bash, and custom operators" (custom-code-operators), read 2026-11. Not allowed by
# default: a settings key can add them once mwaa-local models code packages.
CODE_PACKAGE_OPERATORS: frozenset[str] = frozenset(
    {
        "airflow.providers.standard.operators.python.PythonOperator",
        "airflow.operators.python.PythonOperator",
        "airflow.providers.standard.operators.bash.BashOperator",
        "airflow.operators.bash.BashOperator",
    }
)


def allowed_operators(extra: Iterable[str] = ()) -> frozenset[str]:
    """The allowed operator class paths, with `extra` ones added."""
    return ALLOWED_OPERATORS | {name.strip() for name in extra if name.strip()}


def operator_problem(value: Any, allowed: frozenset[str]) -> Problem | None:
    if not isinstance(value, str) or not value.strip():
        return error(
            "operator must be an operator's full class path, e.g. "
            "airflow.providers.amazon.aws.operators.s3.S3ListOperator"
        )
    if value in allowed:
        return None
    if value in CODE_PACKAGE_OPERATORS:
        return error(
            f"operator {value} runs on MWAA Serverless only with a code package; without one, "
            "only Amazon provider operators and EmptyOperator (--allow-operator to accept it)"
        )
    if "." not in value:
        return error(f"operator {value!r} is not a full class path (module.Class)")
    return error(
        f"operator {value} is not one MWAA Serverless runs: only Amazon provider operators "
        "and EmptyOperator (--allow-operator to accept it)"
    )


# --- identifiers ----------------------------------------------------------------------------

# dag_id: "a valid, non-empty string" (User Guide); the converter's schema narrows it to this.
DAG_ID_PATTERN = re.compile(r"^[a-zA-Z0-9\-._]+$")
# task_id: "a valid string"; Airflow's own rule for ids (KEY_REGEX, at most 250 characters).
TASK_ID_PATTERN = re.compile(r"^[\w.-]+$")
MAX_ID_LENGTH = 250


def dag_id_problem(value: Any) -> Problem | None:
    if not isinstance(value, str) or not value:
        return error("dag_id must be a non-empty string")
    if not DAG_ID_PATTERN.match(value) or len(value) > MAX_ID_LENGTH:
        return error(
            f"dag_id {value!r} may hold only letters, digits, '-', '.' and '_' "
            f"(at most {MAX_ID_LENGTH} characters)"
        )
    return None


def task_id_problem(value: Any) -> Problem | None:
    if not isinstance(value, str) or not value:
        return error("task_id must be a non-empty string")
    if not TASK_ID_PATTERN.match(value) or len(value) > MAX_ID_LENGTH:
        return error(
            f"task_id {value!r} may hold only letters, digits, '-', '.' and '_' "
            f"(at most {MAX_ID_LENGTH} characters)"
        )
    return None


# --- schedule -------------------------------------------------------------------------------

# Airflow's presets (airflow.utils.dates.cron_presets); "@once" makes a OnceTimetable. The
# service documents only "a valid CRON expression"; AWS's converter emits presets (@once, @daily,
# @hourly) as they are, so they are accepted.
CRON_PRESETS: Mapping[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}
ONCE = "@once"
CRON_FIELDS = 5


def schedule_problem(value: Any) -> Problem | None:
    """A cron expression or null, checked with croniter, the library Airflow's cron timetables
    parse with (so what passes here also parses in Airflow)."""
    if value is None:
        return None
    if not isinstance(value, str):
        return error(
            "schedule must be a cron expression or null: MWAA Serverless schedules with cron "
            "only (no dataset, asset or timedelta schedules)"
        )
    text = value.strip()
    if text.lower() == "none" or text == ONCE:  # dag-factory reads "none" as no schedule
        return None
    expression = CRON_PRESETS.get(text, text)
    try:
        cron = croniter(expression)
        cron.get_next(datetime)
    except CroniterError as e:
        reason = str(e).replace(f"[{expression}] ", "")
        return error(f"schedule {value!r} is not a valid cron expression: {reason}")
    if len(expression.split()) > CRON_FIELDS:
        return warning(
            f"schedule {value!r} has {len(expression.split())} fields: MWAA Serverless documents "
            "standard 5-field cron, and Airflow's croniter reads a 6th field as seconds "
            "(EventBridge cron's 6th field is the year)"
        )
    return None


# --- typed values (dag-factory's `__type__` mappings) ---------------------------------------

_TYPED = {
    "datetime.timedelta": timedelta,
    "datetime.datetime": datetime,
    "datetime.date": date,
}


def cast_typed(value: Any) -> Any:
    """A `{__type__: datetime.timedelta, seconds: 300}` mapping (dag-factory's syntax, which AWS's
    converter writes) as the value it builds; any other value unchanged.

    Raises ValueError when the mapping's arguments do not build the type."""
    if not isinstance(value, Mapping) or value.get("__type__") not in _TYPED:
        return value
    kind = _TYPED[value["__type__"]]
    args = value.get("__args__") or []
    kwargs = {k: v for k, v in value.items() if k not in ("__type__", "__args__")}
    try:
        return kind(*args, **kwargs)
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"{value['__type__']}({_arguments(args, kwargs)}): {e}") from e


def _arguments(args: list[Any], kwargs: Mapping[str, Any]) -> str:
    return ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])


# --- task parameters ------------------------------------------------------------------------

RETRIES_MIN, RETRIES_MAX = 0, 3
RETRY_DELAY_MAX_SECONDS = 300
EXECUTION_TIMEOUT_MAX_SECONDS = 3600
_TIMEDELTA_HINT = "write it as {__type__: datetime.timedelta, seconds: N}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def retries_problem(value: Any) -> Problem | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return error(f"retries must be a whole number from {RETRIES_MIN} to {RETRIES_MAX}")
    if not RETRIES_MIN <= value <= RETRIES_MAX:
        return error(f"retries is {value}: MWAA Serverless allows {RETRIES_MIN} to {RETRIES_MAX}")
    return None


def retry_delay_problem(value: Any) -> Problem | None:
    """Seconds as a number (Airflow reads a number as seconds) or a timedelta."""
    try:
        value = cast_typed(value)
    except ValueError as e:
        return error(f"retry_delay: {e}")
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif _is_number(value):
        seconds = float(value)
    else:
        return error(f"retry_delay must be a number of seconds or a timedelta ({_TIMEDELTA_HINT})")
    if not 0 <= seconds <= RETRY_DELAY_MAX_SECONDS:
        return error(
            f"retry_delay is {seconds:g} s: MWAA Serverless allows 0 to "
            f"{RETRY_DELAY_MAX_SECONDS} seconds"
        )
    return None


def execution_timeout_problem(value: Any) -> Problem | None:
    """A timedelta: Airflow 3's BaseOperator rejects any other type, and dag-factory 1.x no longer
    converts a number."""
    try:
        value = cast_typed(value)
    except ValueError as e:
        return error(f"execution_timeout: {e}")
    if value is None:
        return None
    if not isinstance(value, timedelta):
        return error(
            "execution_timeout must be a timedelta: Airflow rejects a number or a string "
            f"({_TIMEDELTA_HINT})"
        )
    seconds = value.total_seconds()
    if seconds > EXECUTION_TIMEOUT_MAX_SECONDS:
        return error(
            f"execution_timeout is {seconds:g} s: MWAA Serverless allows at most "
            f"{EXECUTION_TIMEOUT_MAX_SECONDS} seconds"
        )
    if seconds <= 0:
        return error(f"execution_timeout is {seconds:g} s: it must be more than 0")
    return None


# Task parameters the service validates (User Guide); they may also sit in default_args.
TASK_CHECKS = {
    "retries": retries_problem,
    "retry_delay": retry_delay_problem,
    "execution_timeout": execution_timeout_problem,
}


# --- dates ----------------------------------------------------------------------------------

# dag-factory's relative dates ("3 days": that long before today), which are always in the past.
_RELATIVE = re.compile(r"^\s*\d+\s+(hour|minute|second|day)s?\b", re.IGNORECASE)


def to_datetime(value: Any, now: datetime) -> datetime:
    """A start_date/end_date as dag-factory reads it (UTC when it names no time zone).

    Raises ValueError when it is not a date."""
    value = cast_typed(value)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and _RELATIVE.match(value):
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD or ISO 8601)") from None
    else:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD or ISO 8601)")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def start_date_problem(value: Any, now: datetime) -> Problem | None:
    try:
        start = to_datetime(value, now)
    except ValueError as e:
        return error(f"start_date: {e}")
    if start <= now:
        return error(
            f"start_date {start.isoformat()} is not in the future: MWAA Serverless requires a "
            "future start_date when a workflow is created or updated"
        )
    return None


def end_date_problem(value: Any, start: Any, now: datetime) -> Problem | None:
    try:
        end = to_datetime(value, now)
    except ValueError as e:
        return error(f"end_date: {e}")
    if start is None:
        return None
    try:
        begin = to_datetime(start, now)
    except ValueError:
        return None  # start_date's own check reports it
    if end < begin:
        return error(
            f"end_date {end.isoformat()} is before start_date {begin.isoformat()}: it must be "
            "after or equal to start_date"
        )
    return None


# --- DAG parameters -------------------------------------------------------------------------

# "Must be smaller than account limit" (quota: concurrent runs per workflow, default 16, which is
# also the documented default value, so the limit itself is allowed).
MAX_ACTIVE_RUNS_LIMIT = 16


def max_active_runs_problem(value: Any, limit: int = MAX_ACTIVE_RUNS_LIMIT) -> Problem | None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        return error("max_active_runs must be a whole number of at least 1")
    if value > limit:
        return error(
            f"max_active_runs is {value}: above the account limit of {limit} "
            "(MWAA Serverless quota; ask for a higher one to use more)"
        )
    return None


# DAG parameters MWAA Serverless ignores. The User Guide's table (its text cut after
# email_on_failure) lists dag_id too, which is left out here since the same page validates it.
IGNORED_DAG_PARAMETERS: tuple[str, ...] = (
    "template_searchpath",
    "template_undefined",
    "user_defined_macros",
    "user_defined_filters",
    "catchup",
    "access_control",
    "jinja_environment_kwargs",
    "render_template_as_native_obj",
    "tags",
    "owner_links",
    "auto_register",
    "fail_fast",
    "dag_display_name",
    "depends_on_past",
    "email_on_failure",
    # The rest of the list as AWS's agent toolkit gives it (aws/agent-toolkit-for-aws,
    # authoring-mwaa-workflow/references/yaml-schema.md, "a snapshot" of the same page).
    "description",
    "dagrun_timeout",
    "on_failure_callback",
    "on_success_callback",
    "sla_miss_callback",
    "is_paused_upon_creation",
    "email_on_retry",
    "max_consecutive_failed_dag_runs",
)
# The ignored ones that are task arguments, so usually written in default_args.
IGNORED_DEFAULT_ARGS: tuple[str, ...] = ("depends_on_past", "email_on_failure", "email_on_retry")

IGNORED_HINTS: Mapping[str, str] = {
    "description": "give it to CreateWorkflow's Description instead",
}


def ignored_parameter(name: str) -> Problem:
    hint = IGNORED_HINTS.get(name)
    return warning(f"{name} is ignored by MWAA Serverless" + (f"; {hint}" if hint else ""))


# dag-factory 1.x refuses it on Airflow 3 ("Use `schedule` instead").
REMOVED_DAG_PARAMETERS: Mapping[str, str] = {
    "schedule_interval": "schedule_interval was removed in Airflow 3: use schedule",
}

# Top-level keys of a dag-factory file that are not DAGs: shared defaults and task groups.
DAG_FACTORY_TOP_LEVEL = ("default", "task_groups")


def utc_now() -> datetime:
    return datetime.now(UTC)
