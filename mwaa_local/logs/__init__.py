"""The environment's logs as CloudWatch Logs holds them on MWAA: groups, streams, events."""
