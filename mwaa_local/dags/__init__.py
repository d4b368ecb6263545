"""`mwaa-local dags`: DAG files checked the way MWAA's scheduler imports them.

`check` runs inside the container (standard library and Airflow only); `report` renders its
report on the host.
"""
