"""The state mwaa-local owns for one environment, under PROJECT_DIR/.mwaa-local/<Name>/.

Secrets (fernet key, webserver secret key, JWT secret, database and admin passwords) are
generated on first start and kept there with owner-only permissions; nothing is hard-coded.

Every state file is written atomically (a unique temporary file, fsync, rename), so a crash or a
full disk leaves the old content or the new, never half of one; commands that change an
environment hold its lock (`StateDir.lock`), and a lock left by a killed process is free again
(the kernel drops an flock with its holder).
"""

import base64
import contextlib
import errno
import fcntl
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from mwaa_local.errors import MwaaLocalError

STATE_DIR_NAME = ".mwaa-local"
LOCK_WAIT_SECONDS = 600.0


@dataclass(frozen=True)
class Secrets:
    fernet_key: str
    webserver_secret_key: str
    jwt_secret: str
    postgres_password: str
    admin_password: str


def generate_secrets() -> Secrets:
    return Secrets(
        # A Fernet key is 32 random bytes, url-safe base64 (what Fernet.generate_key() returns).
        fernet_key=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        webserver_secret_key=secrets.token_urlsafe(32),
        jwt_secret=secrets.token_urlsafe(32),
        postgres_password=secrets.token_urlsafe(24),
        admin_password=secrets.token_urlsafe(12),
    )


def _disk_full(path: Path, error: OSError) -> MwaaLocalError:
    try:
        left = shutil.disk_usage(path.parent).free
        free = f"{left / 2**20:.0f} MiB free" if left >= 2**20 else f"{left // 1024} KiB free"
    except OSError:
        free = "free space unknown"
    return MwaaLocalError(
        f"Cannot write {path}: {error.strerror or error} ({free} there). Nothing was changed.",
        hint="Free disk space on that filesystem, then run the command again.",
    )


def _temporary_beside(path: Path, mode: int, data: bytes) -> Path:
    """`data` in a new file beside `path` (same filesystem), flushed to disk, `mode` from the
    first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        Path(name).unlink(missing_ok=True)
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _disk_full(path, e) from e
        raise
    return Path(name)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def atomic_write(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    """Replace `path` with `data` in one step: readers see the old content or the new."""
    raw = data.encode() if isinstance(data, str) else data
    temporary = _temporary_beside(path, mode, raw)
    os.replace(temporary, path)
    _sync_folder(path.parent)


def create_once(path: Path, data: bytes | str, mode: int = 0o600) -> bool:
    """Write `path` only if it does not exist yet; False when another process got there first
    (os.link refuses an existing name, so two first uses cannot both win)."""
    raw = data.encode() if isinstance(data, str) else data
    temporary = _temporary_beside(path, mode, raw)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)
    _sync_folder(path.parent)
    return True


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable and writable by its owner only, atomically."""
    atomic_write(path, text, 0o600)


def damaged(path: Path, why: str, recovery: str) -> MwaaLocalError:
    return MwaaLocalError(f"{path} is damaged ({why}); mwaa-local did not change it.", recovery)


def read_json(path: Path, recovery: str) -> object:
    """A state file's JSON; a damaged file is an error naming it and how to recover."""
    try:
        return json.loads(path.read_text())
    except UnicodeDecodeError as e:
        raise damaged(path, "not UTF-8 text", recovery) from e
    except json.JSONDecodeError as e:
        why = "empty" if not e.doc.strip() else f"not valid JSON: {e.msg} at line {e.lineno}"
        raise damaged(path, why, recovery) from e


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive flock on `path` (created if missing) for a short read-modify-write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        yield


@dataclass(frozen=True)
class LockHolder:
    command: str
    pid: int
    since: str

    def describe(self) -> str:
        return f"`mwaa-local {self.command}` (pid {self.pid}, since {self.since})"


@dataclass(frozen=True)
class StateDir:
    path: Path

    @classmethod
    def for_environment(cls, project_dir: Path, name: str) -> "StateDir":
        return cls(project_dir.resolve() / STATE_DIR_NAME / name)

    @property
    def secrets_file(self) -> Path:
        return self.path / "secrets.json"

    @property
    def compose_env_file(self) -> Path:
        return self.path / "compose.env"

    @property
    def airflow_env_file(self) -> Path:
        return self.path / "airflow.env"

    @property
    def env_files(self) -> tuple[Path, Path]:
        return self.compose_env_file, self.airflow_env_file

    @property
    def lock_file(self) -> Path:
        return self.path / "command.lock"

    @property
    def runtime_file(self) -> Path:
        return self.path / "runtime.json"

    def recorded_runtime(self) -> object:
        """The runtime the environment last started on, as `start` wrote it (None if none)."""
        if not self.runtime_file.is_file():
            return None
        recovery = "Delete it; the next `mwaa-local start` writes it again."
        data = read_json(self.runtime_file, recovery)
        return data.get("Runtime") if isinstance(data, dict) else None

    def remove(self) -> bool:
        """Delete this environment's state folder (secrets, env files, versions, record); True
        when there was one."""
        if not self.path.exists():
            return False
        try:
            shutil.rmtree(self.path)
        except OSError as e:
            raise MwaaLocalError(
                f"Cannot delete {self.path}: {e.strerror or e}.",
                hint="Delete it by hand; it holds only what mwaa-local made.",
            ) from e
        return True

    def secrets(self) -> Secrets:
        """The environment's secrets, generated and saved on first use. Concurrent first uses
        agree on one set; an existing file is never replaced (the database depends on it)."""
        if not self.secrets_file.is_file():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            gitignore = self.path.parent / ".gitignore"
            if not gitignore.exists():
                create_once(gitignore, "*\n", 0o644)
            create_once(self.secrets_file, json.dumps(asdict(generate_secrets()), indent=2))
        recovery = (
            "The secrets file holds the database password and the fernet key the metadata "
            "database was made with. Restore it from a backup; or, to start over, delete it and "
            "the database with `mwaa-local reset-db` (run history, connections and variables "
            "are lost)."
        )
        raw = read_json(self.secrets_file, recovery)
        names = {f.name for f in fields(Secrets)}
        if not isinstance(raw, dict) or set(raw) != names:
            raise damaged(self.secrets_file, "it does not hold the five secrets", recovery)
        return Secrets(**raw)

    def holder(self) -> LockHolder | None:
        """Who holds (or last held) the environment's lock, from the lock file."""
        try:
            raw = json.loads(self.lock_file.read_text() or "null")
            return LockHolder(**raw) if isinstance(raw, dict) else None
        except (OSError, ValueError, TypeError):
            return None

    @contextlib.contextmanager
    def lock(
        self,
        command: str,
        wait: float = LOCK_WAIT_SECONDS,
        on_wait: Callable[[LockHolder | None], None] = lambda holder: None,
    ) -> Iterator[LockHolder | None]:
        """Hold the environment's lock while a command changes it: a second command waits (up
        to `wait` seconds, `on_wait` told once who holds it), then fails naming the holder.

        Yields the holder an earlier command left in the lock file when it did not finish
        (killed, or interrupted by Ctrl-C), else None: a command that ends, even with an
        error, clears it."""
        self.path.mkdir(parents=True, exist_ok=True)
        with self.lock_file.open("a+") as f:
            deadline = time.monotonic() + wait
            told = False
            while True:
                try:
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = self.holder()
                    if time.monotonic() >= deadline:
                        who = holder.describe() if holder else "another mwaa-local command"
                        raise MwaaLocalError(
                            f"{who} is still changing this environment.",
                            hint="Wait for it to finish, or stop it (Ctrl-C in its terminal).",
                        ) from None
                    if not told:
                        on_wait(holder)
                        told = True
                    time.sleep(0.2)
            left = self.holder()
            since = datetime.now(UTC).isoformat(timespec="seconds")
            try:
                f.seek(0)
                f.truncate()
                f.write(json.dumps(asdict(LockHolder(command, os.getpid(), since))))
                f.flush()
            except OSError as e:
                if e.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise _disk_full(self.lock_file, e) from e
                raise
            try:
                yield left
            except Exception:
                _clear(f)
                raise
            # KeyboardInterrupt (Ctrl-C), like a kill, leaves the holder for the next command.
            _clear(f)


def _clear(f) -> None:
    f.seek(0)
    f.truncate()
    f.flush()
