"""What mwaa-local remembers of an environment between commands, in GetEnvironment's words
(mwaa-behaviour.md 6.2, 6.3): the applied object versions and settings, the status of an update
in progress or failed, and LastUpdate. Kept in .mwaa-local/<Name>/environment.json."""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mwaa_local.bucket.versions import Objects, ObjectVersion, now

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

    @classmethod
    def load(cls, path: Path) -> "EnvironmentRecord":
        if not path.is_file():
            return cls()
        raw = json.loads(path.read_text())
        applied = raw.get("Applied")
        return cls(
            applied=None
            if applied is None
            else {k: ObjectVersion(**v) if v else None for k, v in applied.items()},
            settings=raw.get("Settings", {}),
            status=raw.get("Status"),
            updating_pid=raw.get("UpdatingPid"),
            last_update=raw.get("LastUpdate"),
        )

    def save(self, path: Path) -> None:
        raw = {
            "Status": self.status,
            "UpdatingPid": self.updating_pid,
            "LastUpdate": self.last_update,
            "Applied": None
            if self.applied is None
            else {k: asdict(v) if v else None for k, v in self.applied.items()},
            "Settings": self.settings,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(raw, indent=2) + "\n")
        os.replace(tmp, path)

    def update_status(self) -> str | None:
        """UPDATING or ROLLING_BACK while the update that set it still runs; UPDATE_FAILED (or
        UNAVAILABLE, when the rollback failed too) until the next successful update."""
        if self.status in ("UPDATING", "ROLLING_BACK"):
            return self.status if _alive(self.updating_pid) else None
        return self.status if self.status in UPDATE_STATUSES else None

    def begin_update(self, source: str) -> None:
        self.status = "UPDATING"
        self.updating_pid = os.getpid()
        self.last_update = {"CreatedAt": now(), "Status": "PENDING", "Source": source}

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
