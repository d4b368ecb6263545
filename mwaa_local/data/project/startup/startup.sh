#!/bin/sh
# The environment's startup script (StartupScriptS3Path). MWAA sources it with bash in every
# Airflow component before requirements are installed; exported variables reach tasks.
# Check it with: mwaa-local test-startup-script
echo "startup.sh running in the ${MWAA_AIRFLOW_COMPONENT} component"
export ENVIRONMENT_STAGE="local"
