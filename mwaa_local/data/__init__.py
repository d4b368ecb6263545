"""Data files shipped with mwaa-local."""
