"""What an environment IS: MWAA-shaped settings, the Airflow version table, environment classes."""
