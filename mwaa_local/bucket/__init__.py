"""The S3 stand-in: the bucket's content, its object versions, and DAG sync."""
