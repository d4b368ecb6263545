"""What mwaa-local remembers of an environment between commands, in GetEnvironment's words
(mwaa-behaviour.md 6.2, 6.3): the applied object versions and settings, the status of an update
in progress or failed, and LastUpdate. Kept in .mwaa-local/<Name>/environment.json."""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mwaa_local.bucket.versions import Objects, ObjectVersion, now
from mwaa_local.runtime.state import atomic_write, damaged, read_json

# Statuses an update leaves behind; the others come from the containers (stack.environment_status).
# UNAVAILABLE: the update failed and so did its rollback (mwaa-behaviour.md 6.3).
UPDATE_STATUSES = ("UPDATING", "ROLLING_BACK", "UPDATE_FAILED", "UNAVAILABLE")
ERROR_MESSAGE_MAX = 1024  # mwaa-behaviour.md 6.2: LastUpdate.Error.ErrorMessage <= 1024


@dataclass
class EnvironmentRecord:
    applied: Objects | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    status: str | None = None
    updating_pid: int | None = None
    last_update: dict[str, Any] | None = None
    # When the environment was first started (GetEnvironment's CreatedAt).
    created_at: str | None = None

    @classmethod
    def load(cls, path: Path) -> "EnvironmentRecord":
        if not path.is_file():
            return cls()
        recovery = (
            f"Delete {path.name} (or restore it from a backup): the next `mwaa-local start` then "
            "applies the bucket's current versions, as a new environment would."
        )
        raw = read_json(path, recovery)
        try:
            applied = raw.get("Applied")
            return cls(
                applied=None
                if applied is None
                else {k: ObjectVersion(**v) if v else None for k, v in applied.items()},
                settings=dict(raw.get("Settings") or {}),
                status=raw.get("Status"),
                updating_pid=raw.get("UpdatingPid"),
                last_update=raw.get("LastUpdate"),
                created_at=raw.get("CreatedAt"),
            )
        except (AttributeError, TypeError, ValueError) as exc:
            raise damaged(path, "it is not in mwaa-local's format", recovery) from exc

    def save(self, path: Path) -> None:
        raw = {
            "Status": self.status,
            "UpdatingPid": self.updating_pid,
            "LastUpdate": self.last_update,
            "Applied": None
            if self.applied is None
            else {k: asdict(v) if v else None for k, v in self.applied.items()},
            "Settings": self.settings,
            "CreatedAt": self.created_at,
        }
        atomic_write(path, json.dumps(raw, indent=2) + "\n", 0o644)

    @property
    def interrupted(self) -> bool:
        """An update is recorded as running, but the process running it is gone (killed, or
        the machine restarted): the next command that changes the environment rolls it back."""
        return self.status in ("UPDATING", "ROLLING_BACK") and not _alive(self.updating_pid)

    def update_status(self) -> str | None:
        """UPDATING or ROLLING_BACK while the update that set it still runs; UPDATE_FAILED (or
        UNAVAILABLE, when the rollback failed too) until the next successful update, and
        UPDATE_FAILED for an update that was interrupted."""
        if self.interrupted:
            return "UPDATE_FAILED"
        return self.status if self.status in UPDATE_STATUSES else None

    def begin_update(self, source: str, worker_replacement_strategy: str | None = None) -> None:
        self.status = "UPDATING"
        self.updating_pid = os.getpid()
        self.last_update = {"CreatedAt": now(), "Status": "PENDING", "Source": source}
        if worker_replacement_strategy:
            self.last_update["WorkerReplacementStrategy"] = worker_replacement_strategy

    def finish_update(
        self, error_code: str | None = None, message: str = "", rolled_back: bool = True
    ) -> None:
        assert self.last_update is not None
        self.updating_pid = None
        if error_code is None:
            self.status = None
            self.last_update["Status"] = "SUCCESS"
            return
        self.status = "UPDATE_FAILED" if rolled_back else "UNAVAILABLE"
        self.last_update["Status"] = "FAILED"
        self.last_update["Error"] = {
            "ErrorCode": error_code,
            "ErrorMessage": message[:ERROR_MESSAGE_MAX],
        }


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
