"""AWS access shared by the host and the image (boto3 is imported inside functions)."""
