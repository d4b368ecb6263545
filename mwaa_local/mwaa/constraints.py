"""Airflow's official constraints and MWAA's essential pins.

MWAA adds the official constraints URL for the environment's Airflow and Python versions when a
requirements file has none, and always installs under its essential pins, which no requirement can
override (mwaa-behaviour.md 2.1; anchor-amazon-mwaa-docker-images.md 1.7).
"""

import os
import re
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mwaa_local.errors import ConstraintsError
from mwaa_local.spec.versions import AirflowVersion

DOWNLOAD_TIMEOUT_SECONDS = 30

# The official constraints URL MWAA's user guide documents, for any Airflow and Python version
# (mwaa-behaviour.md 2.1), and the variants Airflow publishes beside it (no-providers,
# source-providers). `path` is how a mirror folder lays it out.
OFFICIAL_URL_RE = re.compile(
    r"^https?://raw\.githubusercontent\.com/apache/airflow/(?:refs/heads/)?"
    r"(?P<path>constraints-(?P<airflow>[0-9][0-9A-Za-z.+-]*)/"
    r"constraints(?:-[a-z-]+)?-(?P<python>3\.[0-9]+)\.txt)$"
)


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


def official_url_path(url: str) -> str | None:
    """`constraints-<airflow>/constraints-<python>.txt` for an official constraints URL, else
    None (any other URL: a private file, a fork, a branch that is not a release)."""
    match = OFFICIAL_URL_RE.match(url.strip())
    return match.group("path") if match else None


def default_cache_dir() -> Path:
    """mwaa-local's cache folder on the host (the official constraints live under it)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mwaa-local" / "constraints"


@dataclass(frozen=True)
class ResolvedConstraints:
    url: str
    path: str  # as a mirror lays it out
    text: str | None  # None: found nowhere
    source: str  # "mirror", "cache", "download", or why it was not found


def resolve_official_url(
    url: str,
    mirror: str | Path | None,
    cache_dir: Path,
    ca_bundle: str | Path | None = None,
) -> ResolvedConstraints | None:
    """An official constraints URL from the mirror folder, else the cache, else the network
    (then cached), as `official_constraints` does for the image, except that a mirror without
    the file falls through to the cache and the network. None for a URL that is not an official
    one; `text` None when it is found nowhere, with every reason in `source`."""
    path = official_url_path(url)
    if path is None:
        return None
    reasons = []
    if mirror:
        candidate = Path(mirror).expanduser() / path
        if candidate.is_file():
            return ResolvedConstraints(url, path, candidate.read_text(), "mirror")
        reasons.append(f"not in the constraints mirror ({candidate})")
    cached = cache_dir / path
    if cached.is_file():
        return ResolvedConstraints(url, path, cached.read_text(), "cache")
    reasons.append("not cached")
    try:
        text = _download(url, ca_bundle)
    except ConstraintsError as e:
        reasons.append(f"download failed: {e.message.split(': ', 1)[-1]}")
        return ResolvedConstraints(url, path, None, "; ".join(reasons))
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(text)
    return ResolvedConstraints(url, path, text, "download")


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
