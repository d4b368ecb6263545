"""Official constraints files staged in the version store, so containers read them offline.

MWAA's user guide has requirements.txt start with the official constraints URL
(mwaa-behaviour.md 2.1). For each such URL the applied requirements name (or a `.txt` file in
plugins.zip, which a -r/-c line may name), the host resolves the file from the constraints
mirror, then the cache, then the network, and writes it into the version store under
`constraints/`, laid out like the URL path. Every Airflow container and every one-off container
mounts the store read-only (container/paths.py STAGED_CONSTRAINTS), and the requirements plan
reads the URL from there, so no container needs a route to raw.githubusercontent.com.

Why the store rather than the mirror folder mounted: the store is mounted everywhere already,
it serves a cached or downloaded file as well as a mirrored one, and a URL for another Airflow
version than the image's needs a file the image does not have.
"""

import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from mwaa_local.bucket.versions import Objects, VersionStore
from mwaa_local.mwaa.constraints import default_cache_dir, official_url_path, resolve_official_url
from mwaa_local.spec.settings import Environment

STAGED_FOLDER = "constraints"
_URL_RE = re.compile(r"https?://raw\.githubusercontent\.com/apache/airflow/[^\s\"'#]+\.txt")
# .txt files in plugins.zip larger than this are not requirement files.
_MAX_TEXT_BYTES = 1 << 20


@dataclass(frozen=True)
class Staged:
    url: str
    source: str  # "staged" (already there), "mirror", "cache", "download", or why not found
    ok: bool


def official_urls(text: str) -> list[str]:
    """The official constraints URLs a requirements text names, in order, once each."""
    found = (m.group(0) for m in _URL_RE.finditer(text))
    return list(dict.fromkeys(url for url in found if official_url_path(url)))


def stage_official_constraints(
    environment: Environment,
    store: VersionStore,
    objects: Objects,
    cache_dir: Path | None = None,
) -> list[Staged]:
    """Stage every official constraints file the objects name that is not staged yet. Never
    raises for a file it cannot find: the install then fails naming the line and the URL."""
    local = environment.local
    cache_dir = cache_dir or default_cache_dir()
    staged = []
    for url in official_urls("\n".join(_texts(store, objects))):
        target = store.root / STAGED_FOLDER / str(official_url_path(url))
        if target.is_file():
            staged.append(Staged(url, "staged", True))
            continue
        found = resolve_official_url(url, local.constraints_mirror, cache_dir, local.ca_bundle)
        if found is None or found.text is None:
            staged.append(Staged(url, found.source if found else "not official", False))
            continue
        _write_readable(store.root, target, found.text)
        staged.append(Staged(url, found.source, True))
    return staged


def _texts(store: VersionStore, objects: Objects) -> list[str]:
    texts = []
    requirements = objects.get("requirements")
    if requirements is not None:
        texts.append(store.blob(requirements.sha256).read_text(errors="replace"))
    plugins = objects.get("plugins")
    if plugins is not None:
        try:
            with zipfile.ZipFile(io.BytesIO(store.blob(plugins.sha256).read_bytes())) as archive:
                for info in archive.infolist():
                    if info.filename.endswith(".txt") and info.file_size <= _MAX_TEXT_BYTES:
                        texts.append(archive.read(info).decode(errors="replace"))
        except (OSError, zipfile.BadZipFile, RuntimeError):
            pass  # the start sequence reports a bad plugins.zip itself
    return texts


def _write_readable(root: Path, target: Path, text: str) -> None:
    """Write `target` under `root` so the containers' airflow user can read it through the
    read-only mount."""
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = target.parent
    while folder != root and root in folder.parents:
        folder.chmod(0o755)
        folder = folder.parent
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.chmod(0o644)
    os.replace(tmp, target)
