"""The state mwaa-local owns for one environment, under PROJECT_DIR/.mwaa-local/<Name>/.

Secrets (fernet key, webserver secret key, JWT secret, database and admin passwords) are
generated on first start and kept there with owner-only permissions; nothing is hard-coded.
"""

import base64
import json
import os
import secrets
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mwaa_local.errors import MwaaLocalError

STATE_DIR_NAME = ".mwaa-local"


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


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable and writable by its owner only, from the first byte;
    whole or not at all (an interrupted write leaves the previous file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def read_state_json(path: Path, what: str, hint: str) -> Any:
    """A JSON file of the state folder; a damaged one (truncated, edited) is an error naming it
    and what to do, not a traceback."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MwaaLocalError(
            f"{path} ({what}) is damaged and cannot be read: {exc}.", hint
        ) from exc
    except OSError as exc:
        raise MwaaLocalError(f"Cannot read {path} ({what}): {exc.strerror}.", hint) from exc


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
        """The environment's secrets, generated and saved on first use."""
        if self.secrets_file.is_file():
            hint = (
                "Restore it from a backup, or delete it and run `mwaa-local reset-db --yes`: a "
                "new database with new passwords (run history, connections, variables are lost)."
            )
            saved = read_state_json(self.secrets_file, "the environment's generated secrets", hint)
            try:
                return Secrets(**saved)
            except TypeError as exc:
                raise MwaaLocalError(
                    f"{self.secrets_file} does not hold this environment's secrets: {exc}.", hint
                ) from exc
        created = generate_secrets()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        gitignore = self.path.parent / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("*\n")
        write_private(self.secrets_file, json.dumps(asdict(created), indent=2))
        return created
