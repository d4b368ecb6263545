"""DAG sync as MWAA does it: each container keeps its own copy of the DAG folder, made like the
bucket's (new and changed files copied, deleted files removed), never touching anything outside
it (mwaa-behaviour.md 3)."""

import filecmp
import shutil
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SyncResult:
    copied: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.copied or self.deleted)


def _files(root: Path) -> set[str]:
    if not root.is_dir():
        return set()
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def sync_folder(source: Path, target: Path) -> SyncResult:
    """Make `target` hold what `source` holds; a missing source means an empty bucket folder."""
    result = SyncResult()
    target.mkdir(parents=True, exist_ok=True)
    wanted, present = _files(source), _files(target)
    for name in sorted(wanted):
        src, dst = source / name, target / name
        if name in present and filecmp.cmp(src, dst, shallow=False):
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.mwaa-local-sync")
        shutil.copy2(src, tmp)
        tmp.replace(dst)  # atomic: the DAG processor never reads half a file
        result.copied.append(name)
    for name in sorted(present - wanted):
        (target / name).unlink()
        result.deleted.append(name)
    for directory in sorted((p for p in target.rglob("*") if p.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
    return result
