"""Airflow's official constraints and MWAA's essential pins.

MWAA adds the official constraints URL for the environment's Airflow and Python versions when a
requirements file has none, and always installs under its essential pins, which no requirement can
override (mwaa-behaviour.md 2.1; anchor-amazon-mwaa-docker-images.md 1.7).
"""

import ssl
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path

from mwaa_local.errors import ConstraintsError
from mwaa_local.spec.versions import AirflowVersion

DOWNLOAD_TIMEOUT_SECONDS = 30


def essential_constraints(version: AirflowVersion) -> str:
    """MWAA's essential pins for `version` (Airflow itself, its web and Celery stack)."""
    data = resources.files("mwaa_local.data") / "essential-constraints" / f"{version.airflow}.txt"
    return data.read_text()


def official_constraints(
    version: AirflowVersion,
    mirror: str | Path | None,
    cache_dir: Path,
    ca_bundle: str | Path | None = None,
) -> str:
    """The official constraints file: from a mirror folder laid out like the URL path, else from
    the on-disk cache, else downloaded from the official URL (then cached)."""
    if mirror:
        path = Path(mirror).expanduser() / version.constraints_path
        if not path.is_file():
            raise ConstraintsError(
                f"The constraints mirror has no {version.constraints_path} (looked for {path}).",
                hint="Lay the mirror out like the URL path: "
                "<mirror>/constraints-<airflow>/constraints-<python>.txt, "
                "or unset MWAA_LOCAL_CONSTRAINTS_MIRROR to download from the official URL.",
            )
        return path.read_text()
    cached = cache_dir / version.constraints_path
    if cached.is_file():
        return cached.read_text()
    text = _download(version.constraints_url, ca_bundle)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(text)
    return text


def _download(url: str, ca_bundle: str | Path | None) -> str:
    context = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS, context=context) as r:
            return r.read().decode()
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise ConstraintsError(
            f"Could not download the Airflow constraints from {url}: {reason}",
            hint="On a network that cannot reach it, point MWAA_LOCAL_CONSTRAINTS_MIRROR (or the "
            "ConstraintsMirror setting) at a folder laid out like the URL path; behind a "
            "TLS-inspecting proxy, give its CA with --ca-bundle or SSL_CERT_FILE.",
        ) from e
