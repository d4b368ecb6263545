"""MWAA Serverless workflows: YAML definitions in DAG Factory format (astronomer/dag-factory).

`rules` holds MWAA Serverless's rules as data and pure checks on values, `validate` walks a
YAML file with line numbers and applies them, `convert` turns a Python DAG into the YAML format
with AWS's published converter. Source: ../shared/reference/mwaa-behaviour.md section 8.1 and
../shared/reference/aws-clients-and-serverless.md section F.
"""
