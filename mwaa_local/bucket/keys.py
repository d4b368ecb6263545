"""Which S3 keys may become files. S3 takes any string as a key (`dags//tmp/x.py`,
`dags/../../x.py`); joined to a folder, such a key names a file outside it, so the S3 mirror
writes, and later deletes, only keys that are plain relative paths below the folder it mirrors.

Runs inside the container as well as on the host: standard library only.
"""

import os
from pathlib import Path


def key_problem(name: str) -> str | None:
    """Why `name`, a key relative to the mirrored prefix, is not a plain relative path; None
    when it is one."""
    if not name:
        return "it is empty"
    if "\x00" in name:
        return "it holds a NUL character"
    if name.startswith("/"):
        return "it is absolute (an empty segment after the prefix: '//')"
    parts = name.split("/")
    if "" in parts:
        return "it has an empty segment ('//')"
    if any(part in (".", "..") for part in parts):
        return "it has a '.' or '..' segment"
    return None


def path_inside(root: Path, name: str) -> Path:
    """`root / name`, after checking that the folder it lands in is `root` or below it once
    links are resolved; raises ValueError otherwise."""
    path = root / name
    base = os.path.realpath(root)
    parent = os.path.realpath(path.parent)
    if os.path.commonpath([base, parent]) != base:
        raise ValueError(f"{name} resolves outside {root}")
    return path
