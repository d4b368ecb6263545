"""Object versions of plugins.zip, requirements.txt and startup.sh, like S3 object versions
(mwaa-behaviour.md 2.6): every version mwaa-local has read is kept under the state folder,
content-addressed, with a history of which key and version id it was. Components read their
objects from this store, never from the live bucket, so an edited requirements.txt changes
nothing until `mwaa-local update` applies it (mwaa-behaviour.md 3: "changes occur only after an
environment update").
"""

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from mwaa_local.bucket.source import Bucket, BucketObject, version_unreadable
from mwaa_local.container import paths
from mwaa_local.runtime.state import atomic_write, damaged, file_lock, read_json
from mwaa_local.spec.settings import Environment

# Each versioned object: its MWAA path and version settings, and the variable that hands the
# applied version's file to the start sequence in the container.
OBJECT_KINDS = {
    "plugins": ("PluginsS3Path", "PluginsS3ObjectVersion", "MWAA_LOCAL_PLUGINS_FILE"),
    "requirements": (
        "RequirementsS3Path",
        "RequirementsS3ObjectVersion",
        "MWAA_LOCAL_REQUIREMENTS_FILE",
    ),
    "startup_script": (
        "StartupScriptS3Path",
        "StartupScriptS3ObjectVersion",
        "MWAA_LOCAL_STARTUP_SCRIPT_FILE",
    ),
}
# Without PluginsS3Path, the bucket's plugins.zip, else a plugins/ folder zipped as MWAA users
# are told to zip it (mwaa-behaviour.md 2.5).
DEFAULT_PLUGINS_KEYS = ("plugins.zip", "plugins")


@dataclass(frozen=True)
class ObjectVersion:
    kind: str
    key: str
    version_id: str
    sha256: str
    size: int
    recorded_at: str

    @property
    def label(self) -> str:
        return f"{self.key}@{self.version_id[:12]}"


Objects = dict[str, ObjectVersion | None]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class VersionStore:
    def __init__(self, root: Path, mount: PurePosixPath = paths.VERSIONS_MOUNT) -> None:
        self.root = root
        self.mount = mount  # where the components see it

    @property
    def history_file(self) -> Path:
        return self.root / "history.json"

    def blob(self, sha256: str) -> Path:
        return self.root / "objects" / sha256

    def container_path(self, version: ObjectVersion) -> str:
        return str(self.mount / "objects" / version.sha256)

    def history(self) -> list[ObjectVersion]:
        if not self.history_file.is_file():
            return []
        recovery = (
            f"Restore {self.history_file.name} from a backup, or delete it: the versions read from "
            "now on are listed again (a folder bucket's earlier versions can then no longer be "
            "pinned)."
        )
        raw = read_json(self.history_file, recovery)
        try:
            return [ObjectVersion(**item) for item in raw]
        except TypeError as e:
            raise damaged(self.history_file, "an entry is not a recorded version", recovery) from e

    def find(self, kind: str, key: str, version_id: str) -> ObjectVersion | None:
        for version in self.history():
            if (version.kind, version.key, version.version_id) == (kind, key, version_id):
                return version
        return None

    def peek(self, kind: str, found: BucketObject) -> ObjectVersion:
        """The version `record` would return, writing nothing (for read-only commands)."""
        known = self.find(kind, found.key, found.version_id)
        return known or ObjectVersion(
            kind, found.key, found.version_id, found.sha256, len(found.content), ""
        )

    def record(self, kind: str, found: BucketObject) -> ObjectVersion:
        """Keep this version's content and list it; a version seen before is not repeated."""
        known = self.find(kind, found.key, found.version_id)
        if known and self.blob(known.sha256).is_file():
            return known
        blob = self.blob(found.sha256)
        self.secure()
        atomic_write(blob, found.content, 0o600)
        if known:
            return known
        # Read, add and write the history under a lock: two commands recording at once must
        # not lose each other's entries.
        with file_lock(self.root / "history.lock"):
            history = self.history()
            for version in history:
                if (version.kind, version.key, version.version_id) == (
                    kind,
                    found.key,
                    found.version_id,
                ):
                    return version
            version = ObjectVersion(
                kind, found.key, found.version_id, found.sha256, len(found.content), now()
            )
            text = json.dumps([asdict(v) for v in [*history, version]], indent=2) + "\n"
            atomic_write(self.history_file, text, 0o600)
        return version

    def secure(self) -> None:
        """Make the stored objects owner-only: their folder 0700, files 0600 (stores an earlier
        mwaa-local made readable by all included). The containers read them with sudo
        (container/applied_objects.py). The store's own folder is 0711: nobody else can list
        it, but the airflow user can reach the public constraints files staged beside the
        objects (bucket/staged_constraints.py) by their paths."""
        (self.root / "objects").mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o711)
        (self.root / "objects").chmod(0o700)
        for path in [self.history_file, *(self.root / "objects").iterdir()]:
            if path.is_file() and path.stat().st_mode & 0o077:
                path.chmod(0o600)


def object_key(environment: Environment, bucket: Bucket, kind: str) -> str | None:
    """The key the environment reads for `kind`, or None when the bucket has none."""
    if kind == "plugins" and not environment.plugins_s3_path:
        return next((k for k in DEFAULT_PLUGINS_KEYS if bucket.exists(k)), None)
    key = {
        "plugins": environment.plugins_s3_path,
        "requirements": environment.requirements_s3_path,
        "startup_script": environment.startup_script_s3_path,
    }[kind]
    return key if key and bucket.exists(key) else None


def pinned_version(environment: Environment, kind: str) -> str | None:
    return {
        "plugins": environment.plugins_s3_object_version,
        "requirements": environment.requirements_s3_object_version,
        "startup_script": environment.startup_script_s3_object_version,
    }[kind]


def read_objects(
    environment: Environment, bucket: Bucket, store: VersionStore, keep: bool = True
) -> Objects:
    """The versions the settings ask for now: each pinned version, else the current one. Every
    version read is recorded in the store (unless `keep` is False: nothing is written)."""
    objects: Objects = {}
    for kind in OBJECT_KINDS:
        key = object_key(environment, bucket, kind)
        pin = pinned_version(environment, kind)
        if key is None:
            if pin:
                path_setting = OBJECT_KINDS[kind][0]
                raise version_unreadable(f"{path_setting} (no such object)", pin, bucket.url)
            objects[kind] = None
            continue
        # A folder bucket keeps only the current content; earlier versions live in the store.
        kept = store.find(kind, key, pin) if pin else None
        if kept and store.blob(kept.sha256).is_file():
            objects[kind] = kept
        else:
            found = bucket.get(key, pin)
            objects[kind] = store.record(kind, found) if keep else store.peek(kind, found)
    return objects


def objects_as_env(store: VersionStore, objects: Objects) -> dict[str, str]:
    """The container variables naming each applied object's file (empty: no such object)."""
    env = {}
    for kind, (_, _, variable) in OBJECT_KINDS.items():
        version = objects.get(kind)
        env[variable] = store.container_path(version) if version else ""
        env[variable + "_LABEL"] = version.label if version else ""
    return env
