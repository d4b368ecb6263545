"""The mwaa-local Airflow image: stage the build context, build it, and find it again.

One image per Airflow version (`mwaa-local/airflow:<version>`), labelled with its Airflow and
Python versions and its base image. Docker's layer cache makes a rebuild with nothing changed a
no-op; the context is staged so that unchanged inputs give byte-identical files.
"""

import functools
import gzip
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

import mwaa_local
from mwaa_local.errors import ImageBuildError, MwaaLocalError
from mwaa_local.mwaa.constraints import essential_constraints, official_constraints
from mwaa_local.spec.settings import LocalSettings
from mwaa_local.spec.versions import AirflowVersion

IMAGE_REPOSITORY = "mwaa-local/airflow"
LABEL_PREFIX = "io.github.mwaa-local"
# The digest of the staged build context the image was built from (context_digest).
DIGEST_LABEL = f"{LABEL_PREFIX}.context-digest"
DEFAULT_BASE_IMAGE = "public.ecr.aws/amazonlinux/amazonlinux:2023"

# Where a CA bundle for TLS-inspecting networks is looked for when none is given, in this order.
CA_BUNDLE_VARIABLES = (
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "PIP_CERT",
    "AWS_CA_BUNDLE",
)


@dataclass(frozen=True)
class ImageBuild:
    version: AirflowVersion
    base_image: str = DEFAULT_BASE_IMAGE
    ca_bundle: Path | None = None
    constraints_mirror: str | None = None
    # linux/amd64 or linux/arm64; None: the engine's own (MWAA runs x86_64).
    platform: str | None = None

    @property
    def tag(self) -> str:
        return image_tag(self.version)


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    id: str
    seconds: float
    cached: bool


def image_tag(version: AirflowVersion) -> str:
    return f"{IMAGE_REPOSITORY}:{version.airflow}"


def airflow_packages(version: AirflowVersion) -> list[str]:
    """What MWAA's base image installs: Airflow with Celery and StatsD, and its base providers."""
    return [f"apache-airflow[celery,statsd]=={version.airflow}"] + [
        f"apache-airflow-providers-{name}" for name in version.providers
    ]


def find_ca_bundle(given: str | Path | None, environ: dict[str, str] | None = None) -> Path | None:
    """The CA bundle to trust in the image: the one given, else the first usual variable set."""
    environ = os.environ if environ is None else environ
    candidates = [("--ca-bundle", given)] if given else []
    candidates += [(name, environ.get(name)) for name in CA_BUNDLE_VARIABLES]
    for source, value in candidates:
        if not value:
            continue
        path = Path(value).expanduser()
        if path.is_file():
            return path
        if source == "--ca-bundle":
            raise MwaaLocalError(f"CA bundle {path} (from {source}) is not a file.")
    return None


def package_dir() -> Path:
    """The mwaa_local package, which the image carries (its in-container half)."""
    return Path(mwaa_local.__file__).resolve().parent


def docker_dir() -> Path:
    path = package_dir().parent / "docker"
    if not (path / "Dockerfile").is_file():
        raise MwaaLocalError(
            f"The image sources are missing (no {path / 'Dockerfile'}).",
            hint="Install mwaa-local from its source checkout: pip install -e .",
        )
    return path


def image_build(
    local: LocalSettings,
    version: AirflowVersion,
    base_image: str | None = None,
    ca_bundle: Path | None = None,
    platform: str | None = None,
) -> ImageBuild:
    """The build for `version` with the environment's Local settings (and any overrides)."""
    return ImageBuild(
        version=version,
        base_image=base_image or local.base_image,
        ca_bundle=find_ca_bundle(ca_bundle or local.ca_bundle),
        constraints_mirror=local.constraints_mirror,
        platform=platform,
    )


def build_args(build: ImageBuild) -> dict[str, str]:
    return {
        "BASE_IMAGE": build.base_image,
        "PYTHON_VERSION": build.version.python,
        "AIRFLOW_VERSION": build.version.airflow,
        "AIRFLOW_PACKAGES": " ".join(airflow_packages(build.version)),
    }


def stage_build_context(build: ImageBuild, cache_dir: Path, into: Path) -> None:
    """Write everything the Dockerfile copies into `into`."""
    shutil.copytree(docker_dir(), into, dirs_exist_ok=True)
    constraints = official_constraints(
        build.version, build.constraints_mirror, cache_dir / "constraints", build.ca_bundle
    )
    (into / "constraints.txt").write_text(constraints)
    (into / "mwaa-essential-constraints.txt").write_text(essential_constraints(build.version))
    bundle = build.ca_bundle.read_bytes() if build.ca_bundle else b""
    (into / "ca-bundle.pem").write_bytes(bundle)
    shutil.copytree(
        package_dir(),
        into / "python" / "mwaa_local",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )


def context_digest(context: Path, args: dict[str, str]) -> str:
    """A digest of a staged build context, every file with its path and mode, and the build
    arguments but the base image: anything mwaa-local puts into the image changes it. An image
    built on another base (`build-image --base-image`) is kept; building again replaces it."""
    digest = hashlib.sha256()
    for name, value in sorted(args.items()):
        if name == "BASE_IMAGE":
            continue
        digest.update(f"arg {name}={value}\0".encode())
    for path in sorted(p for p in context.rglob("*") if not p.is_dir()):
        mode = path.lstat().st_mode
        relative = path.relative_to(context).as_posix()
        content = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
        digest.update(f"file {relative} {mode:o} {len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()[:16]


@contextmanager
def staged_context(build: ImageBuild, cache_dir: Path) -> Iterator[tuple[Path, str]]:
    """The build context in a temporary folder, and its digest."""
    with tempfile.TemporaryDirectory(prefix="mwaa-local-build-") as context:
        stage_build_context(build, cache_dir, Path(context))
        args = {**build_args(build), "PLATFORM": build.platform or ""}
        yield Path(context), context_digest(Path(context), args)


def build_image(
    client: docker.DockerClient,
    build: ImageBuild,
    cache_dir: Path,
    on_line: Callable[[str], None] = lambda line: None,
) -> BuiltImage:
    """Build (or find in the layer cache) the image for `build`; `on_line` gets the build log."""
    started = time.monotonic()
    log: list[str] = []
    base_setting = "--base-image, Local.BaseImage or MWAA_LOCAL_BASE_IMAGE"
    if build.platform:
        check_platform(client, build.platform)
    ensure_pulled(client, build.base_image, base_setting, lambda image: on_line(f"Pulling {image}"))
    with staged_context(build, cache_dir) as (context, digest):
        try:
            stream = client.api.build(
                path=str(context),
                tag=build.tag,
                buildargs=build_args(build),
                labels={
                    f"{LABEL_PREFIX}.airflow-version": build.version.airflow,
                    f"{LABEL_PREFIX}.python-version": build.version.python,
                    f"{LABEL_PREFIX}.base-image": build.base_image,
                    DIGEST_LABEL: digest,
                },
                rm=True,
                forcerm=True,
                decode=True,
                **({"platform": build.platform} if build.platform else {}),
            )
            image_id = _follow(stream, log, on_line, build)
        except docker.errors.APIError as e:
            raise _build_error(build, str(e.explanation or e), log) from e
    cached = not any(line.startswith(" ---> Running in") for line in log)
    return BuiltImage(build.tag, image_id, time.monotonic() - started, cached)


def _follow(stream, log: list[str], on_line: Callable[[str], None], build: ImageBuild) -> str:
    image_id = ""
    for chunk in stream:
        if "error" in chunk:
            raise _build_error(build, chunk["error"].strip(), log)
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
        for line in chunk.get("stream", "").splitlines():
            if line.strip():
                log.append(line)
                on_line(line)
    if not image_id:
        raise _build_error(build, "the engine reported no image id", log)
    return image_id


def _build_error(build: ImageBuild, reason: str, log: list[str]) -> ImageBuildError:
    tail = "\n".join(log[-25:])
    hint = None
    if "pull access denied" in reason or "not found" in reason and build.base_image in reason:
        hint = (
            f"The base image {build.base_image} is not available to the engine: pull it, or "
            "name a local one with --base-image or MWAA_LOCAL_BASE_IMAGE."
        )
    elif "CERTIFICATE_VERIFY_FAILED" in tail or "certificate verify failed" in tail.lower():
        hint = "Downloads failed TLS verification: give your network's CA with --ca-bundle."
    return ImageBuildError(
        f"Building {build.tag} on {build.base_image} failed: {reason}\n{tail}".rstrip(), hint
    )


def ensure_pulled(
    client: docker.DockerClient,
    image: str,
    setting: str,
    on_pull: Callable[[str], None] = lambda image: None,
) -> bool:
    """Pull `image` unless the engine has it; True when it was pulled. One that cannot be had
    is an error naming it, the engine's reason in one line and the setting that chose it."""
    try:
        client.images.get(image)
        return False
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError as e:  # an invalid reference, mostly
        raise ImageUnavailable(image, setting, e) from e
    on_pull(image)
    try:
        client.images.pull(image)
    except docker.errors.APIError as e:
        raise ImageUnavailable(image, setting, e) from e
    return True


class ImageUnavailable(MwaaLocalError):
    def __init__(self, image: str, setting: str, error: docker.errors.APIError) -> None:
        reason = " ".join(str(error.explanation or error).split())
        if len(reason) > 300:
            reason = reason[:297] + "..."
        super().__init__(
            f"The image {image} is not on this Docker engine and cannot be pulled: {reason}",
            hint=f"Name an image the engine has or can pull with {setting}; with no registry "
            "at hand, load or build one locally (`docker images` lists what the engine has).",
        )


def find_image(client: docker.DockerClient, build: ImageBuild, cache_dir: Path):
    """The image `build` would make, already built from the same context, or None: an image
    built from another Dockerfile, package, base or constraints counts as missing."""
    try:
        image = client.images.get(build.tag)
    except docker.errors.ImageNotFound:
        return None
    with staged_context(build, cache_dir) as (_, digest):
        return image if image.labels.get(DIGEST_LABEL) == digest else None


# `uname -m` / the engine's Architecture for each platform mwaa-local builds.
PLATFORM_MACHINES = {"linux/amd64": ("x86_64", "amd64"), "linux/arm64": ("aarch64", "arm64")}


def check_platform(client: docker.DockerClient, platform: str) -> None:
    """A platform the engine can build for: its own, or another through QEMU emulation (Docker
    Desktop has it; a Linux engine needs binfmt_misc handlers registered)."""
    if platform not in PLATFORM_MACHINES:
        raise MwaaLocalError(
            f"--platform {platform} is not one mwaa-local builds.",
            hint="Use linux/amd64 (MWAA's) or linux/arm64.",
        )
    info = client.info()
    machine = str(info.get("Architecture", "")).lower()
    if machine in PLATFORM_MACHINES[platform]:
        return
    if "docker desktop" in str(info.get("OperatingSystem", "")).lower():
        return  # Docker Desktop emulates the other architecture itself
    arch = PLATFORM_MACHINES[platform][0]
    if Path(f"/proc/sys/fs/binfmt_misc/qemu-{arch}").exists():
        return
    raise MwaaLocalError(
        f"Building {platform} on this {machine or 'unknown'} engine needs QEMU emulation, which "
        "it does not have.",
        hint="Register QEMU's binfmt handlers (Debian/Ubuntu: `sudo apt-get install "
        "qemu-user-static binfmt-support`), or build on a machine of that architecture and "
        "share the image with `build-image --save FILE` / `mwaa-local load-image FILE`.",
    )


def save_image(client: docker.DockerClient, tag: str, target: Path) -> int:
    """Write image `tag` to `target` (a tar; gzipped when the name ends in .gz), never over an
    existing file; the bytes written."""
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        raise MwaaLocalError(f"There is no image {tag} to save.", hint="Build it first.") from None
    # Level 1: a 1 GiB image compresses in seconds, and most of the gain is in the first level.
    opener = functools.partial(gzip.open, compresslevel=1) if target.name.endswith(".gz") else open
    try:
        with opener(target, "xb") as f:
            for chunk in image.save(named=True):
                f.write(chunk)
    except FileExistsError:
        raise MwaaLocalError(
            f"{target} already exists; mwaa-local never rewrites your files.",
            hint="Name another file, or move the existing one away.",
        ) from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target.stat().st_size


def load_image(client: docker.DockerClient, source: Path) -> list[str]:
    """Load images saved by `save_image` (or `docker save`); the mwaa-local tags loaded."""
    if not source.is_file():
        raise MwaaLocalError(f"{source} does not exist.")
    with source.open("rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    try:
        with opener(source, "rb") as f:
            images = client.images.load(f.read())
    except (OSError, docker.errors.APIError) as e:
        raise MwaaLocalError(
            f"{source} is not an image archive the engine can load: {e}",
            hint="Make it with `mwaa-local build-image --save FILE` (or `docker save`).",
        ) from e
    tags = [tag for image in images for tag in image.tags]
    mwaa = [tag for tag in tags if tag.startswith(f"{IMAGE_REPOSITORY}:")]
    if not mwaa:
        raise MwaaLocalError(
            f"{source} holds no mwaa-local image (found: {', '.join(tags) or 'untagged images'}).",
            hint="Load an archive made with `mwaa-local build-image --save FILE`.",
        )
    return mwaa
