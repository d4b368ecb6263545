"""plugins.zip as MWAA handles it: extracted as-is into /usr/local/airflow/plugins.

MWAA extracts the zip's entries where they are: a top-level `operators/` folder becomes
/usr/local/airflow/plugins/operators (mwaa-behaviour.md 2.5). A zip that wraps everything in a
`plugins/` folder therefore lands in plugins/plugins/ and imports such as `from operators...` fail
(mwaa-behaviour.md 9 row 13); we extract it the same way and only explain the failure.

Runs inside the container as well as on the host: standard library only.
"""

import os
import re
import shutil
import stat
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from mwaa_local.errors import MwaaLocalError

# The folder MWAA extracts plugins.zip into (mwaa-behaviour.md 2.5).
# mwaa-behaviour.md 2.3: MWAA recommends a plugins.zip under 1 GB (ten-minute install rule).
MAX_UNCOMPRESSED_BYTES = 1 << 30
# A zip-bomb guard: no real plugins folder holds this many files.
MAX_ENTRIES = 100_000
# The earliest date a zip can hold: fixed, so the same content gives the same bytes.
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
DIR_MODE = 0o755
FILE_MODE = 0o644
EXEC_MODE = 0o755
# What macOS Finder adds to a zip; not part of the plugins.
MACOS_METADATA = "__MACOSX"
SUPPORTED_COMPRESSION = {
    zipfile.ZIP_STORED,
    zipfile.ZIP_DEFLATED,
    zipfile.ZIP_BZIP2,
    zipfile.ZIP_LZMA,
}
_DRIVE = re.compile(r"^[A-Za-z]:")


class PluginsZipError(MwaaLocalError):
    """plugins.zip cannot be used: not a zip, or an entry that could write outside the folder."""


@dataclass
class PluginsResult:
    """What a plugins.zip holds (and, once unpacked, where it went)."""

    target: Path | None = None
    files: list[str] = field(default_factory=list)
    # .whl files at the zip root: pip finds them with --find-links /usr/local/airflow/plugins.
    wheels: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    total_bytes: int = 0


# --- reading and checking a zip -----------------------------------------------------------------


def _unix_mode(info: zipfile.ZipInfo) -> int:
    return (info.external_attr >> 16) & 0xFFFF


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(_unix_mode(info))


def _is_executable(info: zipfile.ZipInfo) -> bool:
    return bool(_unix_mode(info) & 0o111)


def _entry_problem(info: zipfile.ZipInfo) -> str | None:
    """Why an entry is refused, or None. The rule is part of the message."""
    name = info.filename
    if "\x00" in name:
        return "its name holds a NUL character"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "its path is absolute; entries must be relative to the plugins folder"
    if ".." in re.split(r"[/\\]", name):
        return "its path contains '..'; entries must stay inside the plugins folder"
    if _is_symlink(info):
        return "it is a symbolic link; plugins.zip must hold regular files and folders only"
    if info.flag_bits & 0x1:
        return "it is encrypted; MWAA cannot extract password-protected zips"
    if info.compress_type not in SUPPORTED_COMPRESSION:
        return f"it uses an unsupported compression method ({info.compress_type})"
    return None


def _outside(target: Path, name: str) -> bool:
    root = os.path.normpath(os.path.abspath(target))
    path = os.path.normpath(os.path.join(root, name))
    return os.path.commonpath([root, path]) != root


def _open_zip(zip_path: Path) -> zipfile.ZipFile:
    zip_path = Path(zip_path)
    if not zip_path.is_file():
        raise PluginsZipError(
            f"{zip_path} does not exist or is not a file.",
            hint="Point PluginsS3Path at a plugins.zip in the bucket folder.",
        )
    if not zipfile.is_zipfile(zip_path):
        raise PluginsZipError(
            f"{zip_path} is not a zip file; MWAA extracts plugins.zip with unzip.",
            hint="Create it from inside your plugins folder: cd plugins; zip -r ../plugins.zip .",
        )
    try:
        return zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PluginsZipError(f"{zip_path} is not a readable zip file: {exc}") from exc


def _checked_entries(archive: zipfile.ZipFile, zip_path: Path, target: Path | None) -> int:
    """Refuse the whole zip if any entry is unsafe; return the total uncompressed size."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise PluginsZipError(
            f"{zip_path} holds {len(infos)} entries, more than the {MAX_ENTRIES} mwaa-local "
            "accepts (zip bomb guard); nothing was extracted.",
            hint="Package only your plugins; put Python dependencies in requirements.txt.",
        )
    problems = []
    for info in infos:
        problem = _entry_problem(info)
        if problem is None and target is not None and _outside(target, info.filename):
            problem = "it would be written outside the plugins folder"
        if problem:
            problems.append(f"{info.filename!r}: {problem}")
    if problems:
        shown = problems[:10] + ([f"... and {len(problems) - 10} more"] if problems[10:] else [])
        raise PluginsZipError(
            f"{zip_path} has unsafe entries; nothing was extracted:\n  " + "\n  ".join(shown),
            hint="Re-create the zip from inside your plugins folder: "
            "cd plugins; zip -r ../plugins.zip . (regular files only, relative paths).",
        )
    total = sum(info.file_size for info in infos)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise PluginsZipError(
            f"{zip_path} expands to {total / 2**30:.2f} GiB, more than 1 GiB; MWAA recommends a "
            "plugins.zip under 1 GB and must install it within ten minutes (mwaa-behaviour.md "
            "2.3); nothing was extracted.",
            hint="Keep large data out of plugins.zip (use S3), and drop wheels you do not need.",
        )
    return total


def diagnose_layout(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(warnings, root wheels) for the entry names of a plugins.zip, as MWAA would extract it."""
    paths = [PurePosixPath(n.replace("\\", "/")) for n in names]
    paths = [p for p in paths if p.parts and p.parts[0] != MACOS_METADATA]
    warnings: list[str] = []
    tops = {p.parts[0] for p in paths}
    wrapped = tops == {"plugins"} and any(len(p.parts) > 1 for p in paths)
    if wrapped:
        # mwaa-behaviour.md 2.5 and 9 row 13: zipping the folder itself yields plugins/plugins/.
        warnings.append(
            "plugins.zip wraps everything in a top-level plugins/ folder, so MWAA extracts it to "
            "/usr/local/airflow/plugins/plugins/...; imports such as `from operators...` fail with "
            "No module named 'operators'. Zip the folder's contents instead: "
            "cd plugins; zip -r ../plugins.zip ."
        )
    else:
        warnings.extend(_missing_init_warnings(paths))
    wheels = sorted(str(p) for p in paths if len(p.parts) == 1 and p.suffix == ".whl")
    return warnings, wheels


def _missing_init_warnings(paths: list[PurePosixPath]) -> list[str]:
    """Top-level folders holding .py files but no __init__.py (mwaa-behaviour.md 2.5, 9 row 13)."""
    direct: dict[str, set[str]] = {}
    for p in paths:
        if len(p.parts) == 2 and not p.parts[0].startswith((".", "__")):
            direct.setdefault(p.parts[0], set()).add(p.parts[1])
    warnings = []
    for folder, files in sorted(direct.items()):
        if any(f.endswith(".py") for f in files) and "__init__.py" not in files:
            warnings.append(
                f"plugins.zip folder {folder}/ holds .py files but no __init__.py; MWAA's guide "
                f"gives each plugin folder one, and without it `from {folder}...` can fail with "
                f"No module named '{folder}...' when another {folder!r} package is on sys.path. "
                f"Add an empty {folder}/__init__.py."
            )
    return warnings


def check_plugins_zip(zip_path: Path) -> PluginsResult:
    """Check a plugins.zip without extracting it: refuses unsafe zips, diagnoses the layout."""
    with _open_zip(zip_path) as archive:
        total = _checked_entries(archive, Path(zip_path), None)
        names = archive.namelist()
    warnings, wheels = diagnose_layout(names)
    files = [n for n in names if not n.endswith("/")]
    return PluginsResult(None, files, wheels, warnings, total)


# --- extracting -------------------------------------------------------------------------------


def _clear(folder: Path) -> None:
    """Remove what `folder` holds, keeping the folder itself (it may be a mount point)."""
    if not folder.exists():
        return
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def unpack_plugins(zip_path: Path, target: Path) -> PluginsResult:
    """Extract plugins.zip into `target` as MWAA does (as-is; mwaa-behaviour.md 2.5).

    Every entry is checked before anything is written; an unsafe zip raises PluginsZipError and
    leaves `target` untouched. `target`'s previous content is replaced. Files are made readable
    (0644, or 0755 when executable in the zip; folders 0755), as MWAA users are told to
    chmod -R 755 (mwaa-behaviour.md 2.5).
    """
    zip_path, target = Path(zip_path), Path(target)
    with _open_zip(zip_path) as archive:
        total = _checked_entries(archive, zip_path, target)
        infos = archive.infolist()
        target.mkdir(parents=True, exist_ok=True)
        _clear(target)
        try:
            files = [_extract(archive, info, target) for info in infos]
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
            _clear(target)
            raise PluginsZipError(
                f"{zip_path} could not be extracted: {exc}",
                hint="The zip is damaged; re-create it: cd plugins; zip -r ../plugins.zip .",
            ) from exc
    warnings, wheels = diagnose_layout(info.filename for info in infos)
    return PluginsResult(target, [f for f in files if f], wheels, warnings, total)


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> str | None:
    """Write one entry; the file's name, or None for a folder."""
    dest = target / info.filename
    if info.is_dir():
        _make_dirs(dest, target)
        return None
    _make_dirs(dest.parent, target)
    with archive.open(info) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    dest.chmod(EXEC_MODE if _is_executable(info) else FILE_MODE)
    return info.filename


def _make_dirs(folder: Path, root: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    while folder != root and root in folder.parents:
        folder.chmod(DIR_MODE)
        folder = folder.parent


# --- writing a zip deterministically ------------------------------------------------------------


@dataclass(frozen=True)
class ZipMember:
    """One entry to write: a folder (name ends with '/') or a file read through `open`."""

    name: str
    mode: int = FILE_MODE
    size: int = 0
    open: Callable[[], IO[bytes]] | None = None

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")


def _file_mode(st_mode: int) -> int:
    return EXEC_MODE if st_mode & 0o111 else FILE_MODE


def _skipped(name: str) -> bool:
    return name == "__pycache__" or name.endswith((".pyc", ".pyo"))


@dataclass
class FolderMembers:
    """A plugins folder's entries, and the links left out because they lead outside it."""

    members: list[ZipMember]
    skipped_links: list[str] = field(default_factory=list)

    def warning(self, folder: Path) -> str | None:
        if not self.skipped_links:
            return None
        return (
            f"{folder}: left out of plugins.zip {len(self.skipped_links)} link(s) that lead "
            f"outside the folder or nowhere: {', '.join(self.skipped_links)}. mwaa-local follows "
            "no link out of plugins/ (a link to ~/.aws would put your credentials in every "
            "container); copy what the plugins need into the folder."
        )


def _within(root: str, path: str) -> bool:
    return os.path.commonpath([root, path]) == root


def folder_members(folder: Path, exclude: Iterable[Path] = ()) -> FolderMembers:
    """The folder's contents as zip entries at the root, skipping __pycache__ and .pyc files.

    `zip -r` follows links; so does this, but only to files and folders inside `folder`: a
    link that leads outside it (or nowhere) is left out and named in `skipped_links`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PluginsZipError(f"{folder} is not a folder.")
    root = os.path.realpath(folder)
    excluded = {os.path.realpath(p) for p in exclude}
    found = FolderMembers([])

    def walk(current: Path, prefix: str, above: frozenset[str]) -> None:
        above |= {os.path.realpath(current)}
        with os.scandir(current) as scanned:
            entries = sorted(scanned, key=lambda e: e.name)
        for entry in entries:
            if _skipped(entry.name):
                continue
            path, name = Path(entry.path), prefix + entry.name
            real = os.path.realpath(path)
            if entry.is_symlink() and not (_within(root, real) and os.path.exists(real)):
                found.skipped_links.append(name)
            elif entry.is_dir():
                if real not in above:  # a link to a folder above this one would loop
                    found.members.append(ZipMember(name + "/", DIR_MODE))
                    walk(path, name + "/", above)
            elif entry.is_file() and real not in excluded:
                found.members.append(file_member(path, name))

    walk(folder, "", frozenset())
    return found


def _opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: open(path, "rb")


def file_member(path: Path, name: str | None = None) -> ZipMember:
    """A file on disk as a zip entry (at the root unless `name` says otherwise)."""
    path = Path(path)
    st = path.stat()
    return ZipMember(name or path.name, _file_mode(st.st_mode), st.st_size, _opener(path))


def zip_members(archive: zipfile.ZipFile) -> list[ZipMember]:
    """An open (already checked) zip's entries, to copy entry by entry into another zip."""
    members = []
    for info in archive.infolist():
        if info.is_dir():
            members.append(ZipMember(info.filename, DIR_MODE))
        else:
            mode = EXEC_MODE if _is_executable(info) else FILE_MODE
            members.append(
                ZipMember(info.filename, mode, info.file_size, _zip_opener(archive, info))
            )
    return members


def _zip_opener(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
    return lambda: archive.open(info)


def write_zip(out: Path, members: Iterable[ZipMember]) -> Path:
    """Write `members` sorted by name with a fixed date and fixed modes: the same content always
    gives a byte-identical zip. Duplicate names keep the first. Written atomically."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    unique: dict[str, ZipMember] = {}
    for member in members:
        unique.setdefault(member.name, member)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w") as archive:
            for name in sorted(unique):
                _write_member(archive, unique[name])
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _write_member(archive: zipfile.ZipFile, member: ZipMember) -> None:
    info = zipfile.ZipInfo(member.name, date_time=FIXED_DATE)
    info.create_system = 3  # Unix, so the modes below mean what they say
    if member.is_dir:
        info.external_attr = ((stat.S_IFDIR | DIR_MODE) << 16) | 0x10
        archive.writestr(info, b"")
        return
    info.external_attr = (stat.S_IFREG | member.mode) << 16
    # Wheels are zips already; storing them saves time and changes nothing in size.
    info.compress_type = (
        zipfile.ZIP_STORED if member.name.endswith(".whl") else zipfile.ZIP_DEFLATED
    )
    info.file_size = member.size
    assert member.open is not None
    with member.open() as src, archive.open(info, "w") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def zip_plugins_folder(folder: Path, out: Path) -> Path:
    """Zip a plugins folder the way MWAA users are told (its contents at the zip root:
    cd plugins; zip -r ../plugins.zip .; mwaa-behaviour.md 2.5), deterministically."""
    return write_zip(out, folder_members(folder, exclude=[out]).members)
