"""mwaa-local: a local emulator of Amazon MWAA."""

__version__ = "0.1.0"
