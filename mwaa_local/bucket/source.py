"""Where the bucket's objects come from: a local folder standing in for S3, or a real
s3://bucket/prefix read with boto3 (the usual AWS credential chain; an endpoint override for
LocalStack, MinIO or moto).

MWAA reads plugins.zip, requirements.txt and startup.sh at an object version
(mwaa-behaviour.md 2.6). An S3 bucket has real version ids; for a folder the version id is the
content's digest, so an unchanged file keeps its version and any edit makes a new one.
"""

import hashlib
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mwaa_local.bucket.keys import key_problem, path_inside
from mwaa_local.errors import MwaaLocalError, MwaaLocalWarning
from mwaa_local.mwaa.plugins import folder_members, write_zip
from mwaa_local.spec.settings import S3_SCHEME, Environment


@dataclass(frozen=True)
class BucketObject:
    """One object at one version, with its content."""

    key: str
    version_id: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


class Bucket(Protocol):
    url: str

    def exists(self, key: str) -> bool: ...

    def get(self, key: str, version_id: str | None = None) -> BucketObject:
        """The object at `version_id`, or its current version."""
        ...


def content_version(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:16]


class FolderBucket:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def exists(self, key: str) -> bool:
        return (self.root / key).exists()

    def _path(self, key: str) -> Path:
        """The key's file; a link that leads out of the bucket folder is refused: its target
        would be copied into the version store and every container (~/.aws, say)."""
        path = self.root / key
        root, real = os.path.realpath(self.root), os.path.realpath(path)
        if os.path.commonpath([root, real]) != root:
            raise MwaaLocalError(
                f"{path} leads outside the bucket folder {self.root} (to {real}); mwaa-local "
                "follows no link out of it, since the target would reach every container.",
                hint="Copy the file into the bucket folder instead of linking to it.",
            )
        return path

    def get(self, key: str, version_id: str | None = None) -> BucketObject:
        path = self._path(key)
        if path.is_dir():
            # mwaa-behaviour.md 2.5: users zip the *contents* of plugins/ (zip -r plugins.zip .).
            found = folder_members(path)
            if found.skipped_links:
                warnings.warn(found.warning(path), MwaaLocalWarning, stacklevel=2)
            with tempfile.TemporaryDirectory(prefix="mwaa-local-zip-") as tmp:
                content = write_zip(Path(tmp) / "plugins.zip", found.members).read_bytes()
        elif path.is_file():
            content = path.read_bytes()
        else:
            raise MwaaLocalError(f"{path} does not exist.", hint="Create it, or fix the S3 path.")
        found = BucketObject(key, content_version(content), content)
        if version_id and version_id != found.version_id:
            raise version_unreadable(key, version_id, self.url)
        return found


def version_unreadable(key: str, version_id: str, url: str) -> MwaaLocalError:
    # mwaa-behaviour.md 2.4 and 9 row 12: MWAA's words when a pinned version is gone.
    return MwaaLocalError(
        f"Unable to read version {version_id} of file {key} in {url}.",
        hint="Pin a version that exists (mwaa-local versions lists them), or remove the pin.",
    )


def split_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix/` -> (`bucket`, `some/prefix/`)."""
    bucket, _, prefix = url[len(S3_SCHEME) :].partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def s3_client(endpoint_url: str | None):
    import boto3  # only S3 buckets need it; the container's DAG sync of a folder does not

    return boto3.client("s3", endpoint_url=endpoint_url or None)


class S3Bucket:
    def __init__(self, url: str, endpoint_url: str | None = None, client=None) -> None:
        self.url = url
        self.name, self.prefix = split_s3_url(url)
        self.client = client or s3_client(endpoint_url)

    def _fail(self, error: Exception, what: str) -> MwaaLocalError:
        return MwaaLocalError(
            f"Cannot {what} in {self.url}: {error}",
            hint="Check the bucket, your AWS credentials (the usual chain: variables, profile, "
            "SSO) and Local.S3EndpointUrl for LocalStack, MinIO or moto.",
        )

    def exists(self, key: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_object(Bucket=self.name, Key=self.prefix + key)
            return True
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._fail(e, f"read {key}") from e
        except BotoCoreError as e:
            raise self._fail(e, f"read {key}") from e

    def get(self, key: str, version_id: str | None = None) -> BucketObject:
        from botocore.exceptions import BotoCoreError, ClientError

        extra = {"VersionId": version_id} if version_id else {}
        try:
            answer = self.client.get_object(Bucket=self.name, Key=self.prefix + key, **extra)
            content = answer["Body"].read()
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            if version_id and code in ("NoSuchVersion", "InvalidArgument", "404", "NoSuchKey"):
                raise version_unreadable(key, version_id, self.url) from e
            raise self._fail(e, f"read {key}") from e
        except BotoCoreError as e:
            raise self._fail(e, f"read {key}") from e
        # An unversioned bucket answers without a version id (S3 calls it "null").
        found = answer.get("VersionId") or "null"
        return BucketObject(key, found, content)

    def list_keys(self, prefix: str) -> dict[str, str]:
        """Keys under `prefix` (relative to it) with their ETags."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=self.prefix + prefix.strip("/") + "/"
        )
        found = {}
        start = len(self.prefix + prefix.strip("/") + "/")
        for page in pages:
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):
                    found[item["Key"][start:]] = item["ETag"]
        return found

    def list_versions(self, key: str) -> list[tuple[str, bool, str]]:
        """The bucket's versions of `key`: (version id, is latest, last modified), newest first."""
        answer = self.client.list_object_versions(Bucket=self.name, Prefix=self.prefix + key)
        return [
            (v["VersionId"], v["IsLatest"], v["LastModified"].isoformat(timespec="seconds"))
            for v in answer.get("Versions", [])
            if v["Key"] == self.prefix + key
        ]

    def read_key(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=self.prefix + key)["Body"].read()

    def download_folder(self, prefix: str, target: Path) -> dict[str, str]:
        """Copy every object under `prefix` into `target`, as `aws s3 sync` would: one that
        cannot be read (or whose key would land outside `target`) is skipped and returned with
        the reason; the listing itself failing is an error."""
        from botocore.exceptions import BotoCoreError, ClientError

        folder = prefix.strip("/")
        try:
            names = sorted(self.list_keys(folder))
        except (BotoCoreError, ClientError) as e:
            raise self._fail(e, f"list {folder}/") from e
        skipped = {}
        for name in names:
            problem = key_problem(name)
            if problem:
                skipped[name] = problem
                continue
            try:
                content = self.read_key(f"{folder}/{name}")
            except (BotoCoreError, ClientError) as e:
                skipped[name] = str(e)
                continue
            target.mkdir(parents=True, exist_ok=True)
            path = path_inside(target, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path_inside(target, name).write_bytes(content)  # the folders made, checked again
        return skipped


def open_bucket(environment: Environment) -> Bucket:
    """The bucket Local.Bucket names: a folder (relative to the project) or s3://."""
    local = environment.local
    if environment.bucket_is_s3:
        return S3Bucket(local.bucket, local.bucket_endpoint_url)
    return FolderBucket(environment.bucket_folder)
