"""The environment's metrics as CloudWatch holds them on MWAA: AmazonMWAA and AWS/MWAA."""
