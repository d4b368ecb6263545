"""Worker autoscaling on the host: observe the stack, apply MWAA's rule, scale the compose
project's worker replicas. The rule itself is mwaa_local.mwaa.autoscaling."""
