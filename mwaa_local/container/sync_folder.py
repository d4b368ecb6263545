"""DAG sync as MWAA does it: each container keeps its own copy of the DAG folder, made like the
bucket's (new and changed files copied, deleted files removed), never touching anything outside
it (mwaa-behaviour.md 3).

A file or folder that cannot be read is skipped and named, and the rest of the sync goes on,
deletions included, as `aws s3 sync` goes on past an object it cannot copy; what was copied of
an unreadable folder before stays, since its files are not known to be gone."""

import filecmp
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

CACHE_FOLDER = "__pycache__"


@dataclass
class SyncResult:
    copied: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    # What could not be read (a folder ends in "/"), with the reason.
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.copied or self.deleted)


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def _files(root: Path, unreadable: dict[str, str] | None = None) -> set[str]:
    """The files under `root` (relative paths), leaving out Python's caches; each folder that
    cannot be listed goes into `unreadable`."""
    if not root.is_dir():
        return set()

    def on_error(error: OSError) -> None:
        if unreadable is not None and error.filename:
            relative = os.path.relpath(error.filename, root)
            unreadable["./" if relative == "." else f"{relative}/"] = _reason(error)

    found = set()
    for folder, folders, names in os.walk(root, onerror=on_error):
        folders[:] = [name for name in folders if name != CACHE_FOLDER]
        for name in names:
            path = Path(folder, name)
            if path.is_file():
                found.add(str(path.relative_to(root)))
    return found


def _inside(name: str, folders: dict[str, str]) -> bool:
    return any(folder == "./" or name.startswith(folder) for folder in folders)


def sync_folder(source: Path, target: Path) -> SyncResult:
    """Make `target` hold what `source` holds; a missing source means an empty bucket folder."""
    result = SyncResult()
    target.mkdir(parents=True, exist_ok=True)
    unreadable: dict[str, str] = {}
    wanted, present = _files(source, unreadable), _files(target)
    result.skipped.update(unreadable)
    for name in sorted(wanted):
        src, dst = source / name, target / name
        try:
            if name in present and filecmp.cmp(src, dst, shallow=False):
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.mwaa-local-sync")
            try:
                shutil.copy2(src, tmp)
                tmp.replace(dst)  # atomic: the DAG processor never reads half a file
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as error:
            result.skipped[name] = _reason(error)
            continue
        result.copied.append(name)
    for name in sorted(present - wanted):
        if _inside(name, unreadable):
            continue  # not known to be gone: its folder could not be listed
        (target / name).unlink()
        result.deleted.append(name)
    for directory in sorted((p for p in target.rglob("*") if p.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
    return result
