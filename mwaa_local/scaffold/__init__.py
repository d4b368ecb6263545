"""Laying out a new project (`mwaa-local init`)."""
