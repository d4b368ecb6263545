"""MWAA's requirements install: constraints, variable expansion, the uv command, the diagnosis.

One module for the container entrypoint (every component start) and `test-requirements`. It runs
INSIDE the Airflow container, so it imports the standard library only.

What MWAA does (mwaa-behaviour.md 2.1-2.4; anchor-amazon-mwaa-docker-images.md 3.6):
- it installs `requirements.txt` with `pip3 install --constraint $MWAA_ESSENTIAL_CONSTRAINTS_FILE
  -r <file>` (`safe-pip-install`): the essential pins (Airflow, Celery, Flask, ...) always apply;
- when the file has no constraint line it logs two lines and adds the image's local copy of the
  official Airflow constraints (`-c $AIRFLOW_CONSTRAINTS_FILE`);
- pip expands `${VAR}` in the file, which is how tokens exported by the startup script reach a
  private index URL (mwaa-behaviour.md 1.4, 2.2);
- the install is stopped after about ten minutes (anchor 3.6 item 8; mwaa-behaviour.md 2.3 and
  9 row 6).

By default uv does the install (same resolution rules as pip for these files, much faster),
into the prefix that holds Airflow, so it only adds what is missing; `Local.Installer: pip` runs
MWAA's own pip command instead. Either way the official constraints URL a file names is read
from a local copy when there is one (the mirror, the cache or an earlier download, staged by the
host; or the image's own copy for its version), so the documented first line works offline.
"""

import codecs
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from mwaa_local.mwaa.constraints import official_url_path

# MWAA: a 9-minute TimeoutCondition checked every 60 s, so a kill at about 9-10 minutes
# (anchor 3.6 item 8); the user guide says ten minutes (mwaa-behaviour.md 2.3).
MWAA_TIMEOUT_SECONDS = 600.0

# The two lines MWAA logs when the file has no constraint line (anchor 3.6 item 4), verbatim.
NO_CONSTRAINTS_WARNING = (
    "WARNING: Constraints should be specified for requirements.txt. Please see "
    "https://docs.aws.amazon.com/mwaa/latest/userguide/working-dags-dependencies.html"
    "#working-dags-dependencies-test-create"
)
FORCING_CONSTRAINTS = "Forcing local constraints"
# MWAA's lines when the file cannot be scanned (anchor 3.6 item 5).
SCAN_ERROR = "Unable to scan requirements file: {error}"
SCAN_ERROR_FORCING = (
    "Cannot determine whether the requirements.txt file has constraints or not; "
    "forcing local constraints."
)
# The message MWAA means to log when pip fails; its image never prints it because the return
# code is read after `Subprocess` has dropped the process (anchor 3.6 item 9). We print it.
MWAA_FAILURE_MESSAGE = (
    "ERROR: pip installation exited with a non-zero error code. This could be the result of "
    "package conflict. Notice that MWAA enforces a list of critical packages, e.g. Airflow, "
    "Celery, among others, whose version cannot be overridden by the customer as that can break "
    "our setup. Please double check your requirements.txt file."
)
# MWAA's Subprocess stop message on a time-out (anchor 3.6 item 8).
MWAA_TIMEOUT_MESSAGE = (
    'Process "{name}" (PID {pid}) is being stopped due to the following reason(s): 1) Process '
    "timed out after running for more than {elapsed:.1f} milliseconds when the maximum running "
    "time is {limit:.1f} milliseconds."
)
NO_REQUIREMENTS = "No user requirements to install."

PROCESSED_NAME = "requirements.txt"
# Bumped when what goes into InstallPlan.key changes, so old keys stop matching.
KEY_FORMAT = "mwaa-local-requirements-key-2"
DEFAULT_INSTALLER = "uv"  # Local.Installer (spec/settings.py validates it: uv or pip)

# MWAA's detection regex, searched in every line, commented lines included: a commented
# `# -c ...` is the documented opt-out meaning "essential constraints only" (anchor 3.6 item 3).
MWAA_CONSTRAINT_RE = re.compile(r"-c |--constraint ")
# Difference from MWAA: its regex misses `--constraint=URL` and `-c<TAB>URL`, and MWAA then
# forces the Airflow constraints on top of the user's own, which no user expects (anchor 3.6
# item 3). We count those forms as constraint lines too.
EXTRA_CONSTRAINT_RE = re.compile(r"--constraint=|-c\t")

# pip's comment rule (pip/_internal/req/req_file.py COMMENT_RE): `#` at the start or after blanks.
COMMENT_RE = re.compile(r"(^|\s+)#.*$")

# pip's rule (pip/_internal/req/req_file.py ENV_VAR_RE): only `${NAME}` with NAME made of
# uppercase letters, digits and underscores; `$NAME` is left alone.
ENV_VAR_RE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)\}")

# Options whose relative path pip resolves against the requirements file that names it:
# nested -r/-c always, --find-links when the path exists there (pip req_file.py).
_PATH_OPTION_RE = re.compile(
    r"^(?P<lead>\s*)"
    r"(?P<opt>--requirement|--constraint|--find-links|-r|-c|-f)"
    r"(?P<sep>\s*=\s*|\s+|(?=[^\s=-]))"
    r"(?P<value>\"[^\"]*\"|'[^']*'|\S+)"
    r"(?P<rest>.*)$"
)
_OPTION_KINDS = {
    "-r": "-r",
    "--requirement": "-r",
    "-c": "-c",
    "--constraint": "-c",
    "-f": "-f",
    "--find-links": "-f",
}
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_PIN_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([^\s;#,]+)")
_TOKEN_PIN_RE = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([A-Za-z0-9.+!_*-]+)")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
# `-e git+https://host/repo.git@ref#egg=name&subdirectory=sub` (pip's editable VCS form).
_EDITABLE_VCS_RE = re.compile(
    r"^(?P<lead>\s*)(?:-e|--editable)(?:\s*=\s*|\s+)(?P<q>[\"']?)"
    r"(?P<url>(?:git|hg|svn|bzr)\+[^\s\"'#]+)(?:#(?P<fragment>[^\s\"']*))?(?P=q)(?P<rest>.*)$"
)


@dataclass(frozen=True)
class SourceLine:
    """A line of the user's requirements (or of a file it includes), as written."""

    file: str  # the name the user knows: requirements/requirements.txt, or an included path
    number: int
    text: str

    @property
    def where(self) -> str:
        return f"{self.file} line {self.number}"


@dataclass(frozen=True)
class InstallPlan:
    """What to install and how: the processed file, the constraint files, MWAA's log lines."""

    requirements: Path  # the user's file, as given
    processed: Path  # the copy uv reads: variables expanded, relative paths made absolute
    constraints: tuple[Path, ...]  # essential first, then the Airflow constraints if added
    essential_constraints: Path
    airflow_constraints: Path  # always recorded (the diagnosis reads its pins)
    added_airflow_constraints: bool
    messages: list[str]  # MWAA's lines to log before the install
    key: str  # equal keys: the install would give the same result
    airflow_version: str = ""
    python_version: str = ""
    user_constraints: tuple[Path, ...] = ()  # local -c files the user's file names
    display_name: str = ""  # the user's name for the file (RequirementsS3Path), for messages
    installer: str = DEFAULT_INSTALLER
    lines: tuple[SourceLine, ...] = ()  # the user's lines, and those of readable included files
    notes: tuple[str, ...] = ()  # mwaa-local's own lines to log (not MWAA's), each naming a line
    # The commented line that turned the Airflow constraints off (MWAA's rule: comments count).
    constraints_comment: SourceLine | None = None
    # Files the processed copies point to instead of what the user wrote (official constraints
    # URLs read from a local copy, included files rewritten): local path -> what the user wrote.
    substitutions: Mapping[str, str] = field(default_factory=dict)
    # How the diagnosis names a -c file the user named: path -> "the Airflow 3.3.1 constraints".
    constraint_labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.display_name or str(self.requirements)


# --- constraints and variables ---------------------------------------------------------------


def has_constraints(text: str) -> bool:
    """MWAA's rule: some line, commented or not, names a constraints file."""
    return any(
        MWAA_CONSTRAINT_RE.search(line) or EXTRA_CONSTRAINT_RE.search(line)
        for line in text.splitlines()
    )


def constraints_comment(text: str) -> int | None:
    """The number of the first commented line that makes MWAA's rule see constraints when no
    real line names any: MWAA then adds only its essential pins, not the Airflow constraints
    (anchor 3.6 item 3). A deliberate `# -c` opt-out and an innocent comment that happens to
    contain `--constraint ` look alike, so the user is told which line it was."""
    commented = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = COMMENT_RE.search(line)
        body = line[: match.start()] if match else line
        if _names_constraints(body):
            return None
        if commented is None and match and _names_constraints(match.group(0)):
            commented = number
    return commented


def _names_constraints(text: str) -> bool:
    return bool(MWAA_CONSTRAINT_RE.search(text) or EXTRA_CONSTRAINT_RE.search(text))


def expand_variables(text: str, environ: Mapping[str, str]) -> str:
    """pip's rule: `${VAR}` becomes the variable's value when set; unset (or empty, as pip's
    `if not value: continue`) leaves the text as written."""

    def replace(match: re.Match[str]) -> str:
        value = environ.get(match.group("name"))
        return value if value else match.group(0)

    return ENV_VAR_RE.sub(replace, text)


def read_requirements(path: Path) -> str:
    """Decode like pip's `auto_decode` (anchor 3.6 item 2): a BOM, else a PEP 263 coding line in
    the first two lines, else UTF-8. Raises UnicodeDecodeError / LookupError when it cannot."""
    data = path.read_bytes()
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding)
    for line in data.split(b"\n")[:2]:
        match = re.search(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", line)
        if match:
            return data.decode(match.group(1).decode("ascii"))
    return data.decode("utf-8")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


@dataclass(frozen=True)
class FileOption:
    """A -r/-c/-f line (or its long form): which option, and its value, unquoted."""

    kind: str  # "-r", "-c" or "-f"
    value: str
    match: re.Match[str]

    @property
    def is_url(self) -> bool:
        return bool(_URL_RE.match(self.value))


def file_option(line: str) -> FileOption | None:
    """The -r/-c/-f option a requirements line holds, as pip reads it; None for other lines."""
    match = _PATH_OPTION_RE.match(line)
    if not match:
        return None
    if match.group("opt").startswith("--") and not match.group("sep"):
        return None  # `--constraintfoo` is not an option
    value = _unquote(match.group("value"))
    if not value:
        return None
    return FileOption(_OPTION_KINDS[match.group("opt")], value, match)


def _path_option(line: str) -> tuple[re.Match[str], str] | None:
    """The match and unquoted value of a -r/-c/-f line naming a local path, else None."""
    option = file_option(line)
    if option is None or option.is_url:
        return None  # a URL (https:, file:, ...): nothing to resolve
    return option.match, option.value


def absolutize_paths(text: str, base: Path) -> str:
    """Rewrite relative paths of -r/-c/-f (and long forms) to absolute ones under `base`, the
    ORIGINAL file's folder, so the processed copy elsewhere still finds them (pip resolves a
    nested -r/-c against the file naming it, and --find-links when the path exists there)."""
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        out.append(_absolutize_line(body, base) + line[len(body) :])
    return "".join(out)


def _absolutize_line(body: str, base: Path) -> str:
    found = _path_option(body)
    if not found:
        return body
    match, value = found
    if os.path.isabs(value):
        return body
    absolute = os.path.normpath(os.path.join(base, value))
    is_links = match.group("opt") in ("-f", "--find-links")
    if is_links and not os.path.exists(absolute):
        return body
    return _with_value(match, absolute)


def _with_value(match: re.Match[str], value: str) -> str:
    """The -r/-c/-f line of `match` naming `value` instead (comments after it kept)."""
    sep = match.group("sep") or " "
    return f"{match.group('lead')}{match.group('opt')}{sep}{value}{match.group('rest')}"


def translate_editable_vcs(line: str) -> str | None:
    """`-e git+URL#egg=name` as `name @ git+URL`, or None for any other line. uv installs a VCS
    URL but not as editable (it refuses the line); pip, what MWAA runs, clones it editable. The
    installed package is the same, which is what a component imports."""
    match = _EDITABLE_VCS_RE.match(line)
    if not match:
        return None
    params = [p for p in (match.group("fragment") or "").split("&") if p]
    egg = next((p.split("=", 1)[1] for p in params if p.startswith("egg=")), "")
    kept = "&".join(p for p in params if not p.startswith("egg="))
    url = match.group("url") + (f"#{kept}" if kept else "")
    requirement = f"{egg} @ {url}" if re.fullmatch(r"[A-Za-z0-9._-]+(\[[^\]]*\])?", egg) else url
    return f"{match.group('lead')}{requirement}{match.group('rest')}"


def read_pins(path: Path | None) -> dict[str, tuple[str, str]]:
    """`name==version` pins of a constraints file: normalized name -> (name as written, version).
    Best effort: an unreadable file gives no pins."""
    pins: dict[str, tuple[str, str]] = {}
    if path is None:
        return pins
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return pins
    for line in text.splitlines():
        if line.lstrip().startswith(("#", "-")):
            continue
        match = _PIN_RE.match(line)
        if match:
            pins.setdefault(canonicalize_name(match.group(1)), (match.group(1), match.group(2)))
    return pins


# --- the plan --------------------------------------------------------------------------------


def plan_install(
    requirements: Path,
    environ: Mapping[str, str],
    airflow_constraints: Path,
    essential_constraints: Path,
    workdir: Path,
    airflow_version: str,
    python_version: str,
    *,
    display_name: str = "",
    constraints_dirs: Sequence[Path] = (),
    installer: str = DEFAULT_INSTALLER,
) -> InstallPlan:
    """Read the user's file, expand `${VAR}`, write the processed copy to `workdir`, choose the
    constraint files (essential always; Airflow's when the file names none) and compute the key.

    `display_name` is the user's name for the file in every message (RequirementsS3Path);
    `constraints_dirs` are folders laid out like the official constraints URL path (what the
    host staged from the mirror, the cache or a download), looked in for an official URL before
    the image's own copy. With `installer` uv, `-e <vcs URL>` lines are translated.

    Raises FileNotFoundError when `requirements` does not exist: the caller logs MWAA's
    NO_REQUIREMENTS line and goes on (anchor 3.6 item 1).
    """
    requirements = Path(requirements)
    airflow_constraints = Path(airflow_constraints)
    essential_constraints = Path(essential_constraints)
    raw = requirements.read_bytes()  # FileNotFoundError for a missing file, before anything else
    messages: list[str] = []
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    name = display_name or str(requirements)
    try:
        text = read_requirements(requirements)
    except (UnicodeDecodeError, LookupError) as error:
        # MWAA cannot scan it either: it logs this, forces its constraints and lets pip try the
        # file as it is (anchor 3.6 item 5). The installer will report the decoding problem.
        messages += [SCAN_ERROR.format(error=error), SCAN_ERROR_FORCING]
        text = None
    processing = _Processing(
        environ,
        workdir,
        tuple(Path(d) for d in constraints_dirs),
        airflow_constraints,
        airflow_version,
        python_version,
        installer,
    )
    comment = None
    if text is None:
        processed = requirements
        processed_text = stable_text = raw.decode("utf-8", errors="replace")
        add_airflow = True
    else:
        processed_text, stable_text = processing.process(text, requirements.parent.absolute(), name)
        processed = workdir / PROCESSED_NAME
        _write_private(processed, processed_text)
        add_airflow = not has_constraints(text)
        if add_airflow:
            messages += [NO_CONSTRAINTS_WARNING, FORCING_CONSTRAINTS]
        number = constraints_comment(text)
        if number is not None:
            comment = SourceLine(name, number, text.splitlines()[number - 1])
            processing.notes.insert(0, comment_note(comment.where))
    constraints = (
        (essential_constraints, airflow_constraints) if add_airflow else (essential_constraints,)
    )
    referenced = _referenced_files(stable_text, environ)
    key = _key(
        stable_text,
        referenced,
        (essential_constraints, airflow_constraints),
        airflow_version,
        python_version,
        add_airflow,
        installer,
    )
    return InstallPlan(
        requirements=requirements,
        processed=processed,
        constraints=constraints,
        essential_constraints=essential_constraints,
        airflow_constraints=airflow_constraints,
        added_airflow_constraints=add_airflow,
        messages=messages,
        key=key,
        airflow_version=airflow_version,
        python_version=python_version,
        user_constraints=tuple(p for kind, p in referenced if kind == "-c" and p.is_file()),
        display_name=name,
        installer=installer,
        lines=tuple(processing.lines),
        notes=tuple(processing.notes),
        constraints_comment=comment,
        substitutions=dict(processing.substitutions),
        constraint_labels=dict(processing.labels),
    )


def comment_note(where: str) -> str:
    """The plain sentence `test-requirements` and `status` show when a comment (at `where`,
    "<file> line <n>") is what turned the Airflow constraints off."""
    return (
        f"{where} is a comment containing `-c ` or `--constraint `, and MWAA counts "
        "commented lines: it does NOT add the Airflow constraints, only its essential pins. "
        "If that is not what you want, reword the comment (or name the constraints URL on a "
        "line of its own)."
    )


def _write_private(path: Path, text: str) -> None:
    # The copy may hold tokens the startup script exported: readable by its owner only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)  # also when an earlier copy was there
        f.write(text)


@dataclass
class _Processing:
    """Turns the user's file (and the files it includes) into what the installer reads."""

    environ: Mapping[str, str]
    workdir: Path
    constraints_dirs: tuple[Path, ...]
    airflow_constraints: Path
    airflow_version: str
    python_version: str
    installer: str
    lines: list[SourceLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    substitutions: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    copies: int = 0

    def process(self, text: str, base: Path, name: str, depth: int = 0) -> tuple[str, str]:
        """The processed text, and the same with included files named as the user wrote them
        (stable across runs: what the key hashes)."""
        out, stable = [], []
        for number, line in enumerate(text.splitlines(keepends=True), start=1):
            body = line.rstrip("\r\n")
            ending = line[len(body) :]
            here = SourceLine(name, number, body)
            self.lines.append(here)
            new = _absolutize_line(expand_variables(body, self.environ), base)
            kept = new
            option = file_option(new)
            if option and option.is_url and option.kind in ("-r", "-c"):
                local = self.local_constraints(option.value, here)
                if local is not None:
                    new = kept = _with_value(option.match, str(local))
            elif option and option.kind in ("-r", "-c") and depth < 20:
                new = self.include(option, here, depth)
            elif self.installer == "uv":
                translated = translate_editable_vcs(new)
                if translated is not None:
                    shown = translate_editable_vcs(body) or "the same URL"
                    self.notes.append(
                        f"{here.where}: uv cannot install a VCS URL as editable; installing "
                        f"`{shown}` instead (the same package, not editable; "
                        "`Local.Installer: pip` keeps MWAA's editable install)."
                    )
                    new = kept = translated
            out.append(new + ending)
            stable.append(kept + ending)
        return "".join(out), "".join(stable)

    def local_constraints(self, url: str, here: SourceLine) -> Path | None:
        """A local copy of an official constraints URL: staged by the host, else the image's
        own for its version; None to leave the URL to the installer."""
        path = official_url_path(url)
        if path is None:
            return None
        found = next((d / path for d in self.constraints_dirs if (d / path).is_file()), None)
        source = "the copy mwaa-local staged from the constraints mirror, cache or network"
        own = f"constraints-{self.airflow_version}/constraints-{self.python_version}.txt"
        if found is None and path == own and self.airflow_constraints.is_file():
            found, source = self.airflow_constraints, "the image's own copy"
        if found is None:
            return None
        self.substitutions[str(found)] = url
        airflow = path.split("/")[0].removeprefix("constraints-")
        self.labels[str(found)] = f"the Airflow {airflow} constraints ({here.where})"
        self.notes.append(f"{here.where}: {url} read from {source}; not downloaded.")
        return found

    def include(self, option: FileOption, here: SourceLine, depth: int) -> str:
        """A -r/-c line naming a local file: the file is processed too, and when that changes
        it (an official URL, an editable VCS line, variables), the line names a processed copy."""
        path = Path(option.value)
        written = file_option(here.text)
        self.labels.setdefault(str(path), f"{written.value if written else path} ({here.where})")
        try:
            nested = read_requirements(path)
        except (OSError, UnicodeDecodeError, LookupError):
            return option.match.group(0)  # the installer reports it
        processed, _ = self.process(nested, path.parent, str(path), depth + 1)
        if processed == nested:
            return option.match.group(0)
        self.copies += 1
        copy = self.workdir / f"included-{self.copies}-{path.name}"
        _write_private(copy, processed)
        self.substitutions[str(copy)] = str(path)
        self.labels[str(copy)] = self.labels[str(path)]
        return _with_value(option.match, str(copy))


def _referenced_files(text: str, environ: Mapping[str, str]) -> list[tuple[str, Path]]:
    """Local files and folders the text names with -r/-c/-f, recursively through -r/-c files
    (paths already absolute in the processed copy; nested ones resolved against their file).
    Best effort: unreadable files are listed and hashed as missing."""
    found: list[tuple[str, Path]] = []
    seen: set[Path] = set()

    def walk(body: str, base: Path | None, depth: int) -> None:
        for line in body.splitlines():
            option = _path_option(line)
            if not option:
                continue
            match, value = option
            kind = _OPTION_KINDS[match.group("opt")]
            value = expand_variables(value, environ)
            path = Path(value) if os.path.isabs(value) or base is None else base / value
            path = Path(os.path.normpath(path))
            if path in seen:
                continue
            seen.add(path)
            found.append((kind, path))
            if kind != "-f" and depth < 20:
                try:
                    nested = read_requirements(path)
                except (OSError, UnicodeDecodeError, LookupError):
                    continue
                walk(nested, path.parent, depth + 1)

    walk(text, None, 0)
    return found


def _key(
    processed_text: str,
    referenced: list[tuple[str, Path]],
    constraint_files: tuple[Path, Path],
    airflow_version: str,
    python_version: str,
    add_airflow: bool,
    installer: str,
) -> str:
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("format", KEY_FORMAT.encode())
    add("airflow", airflow_version.encode())
    add("python", python_version.encode())
    add("forced", b"1" if add_airflow else b"0")
    add("installer", installer.encode())
    add("requirements", processed_text.encode())
    for label, path in zip(("essential", "airflow-constraints"), constraint_files, strict=True):
        add(label, _file_bytes(path))
    for kind, path in referenced:
        add(f"{kind} {path}", _listing(path) if kind == "-f" else _file_bytes(path))
    return digest.hexdigest()


def _file_bytes(path: Path) -> bytes:
    try:
        return b"file\0" + path.read_bytes()
    except OSError:
        return b"missing"


def _listing(path: Path) -> bytes:
    """A --find-links folder: its files' names and sizes (wheels added to plugins change it)."""
    try:
        if not path.is_dir():
            return _file_bytes(path)
        entries = sorted((p.name, p.stat().st_size) for p in path.iterdir() if p.is_file())
    except OSError:
        return b"missing"
    return "\n".join(f"{name} {size}" for name, size in entries).encode()


# --- diagnosis -------------------------------------------------------------------------------

_RESOLUTION_MARKERS = (
    "No solution found when resolving dependencies",  # uv
    "requirements are unsatisfiable",  # uv
    "ResolutionImpossible",  # pip
    "conflicting dependencies",  # pip
)
_NOT_FOUND_PATTERNS = (
    # uv: "Because X was not found in the package registry and you require X, ..."
    (re.compile(r"(\S+) was not found in the package registry"), "not in the package registry"),
    # uv with --no-index/--find-links (wheels in plugins.zip, mwaa-behaviour.md 2.2 / 9 row 10)
    (
        re.compile(r"(\S+) was not found in the provided package locations"),
        "not in the --find-links locations",
    ),
    (re.compile(r"(\S+) was not found in the cache"), "not in the cache (offline)"),
    # uv: "Because there is no version of pyjokes==99.0 and you require pyjokes==99.0, ..."
    (re.compile(r"there is no version of (\S+?)(?: and |,|$)", re.M), "no such version"),
    # uv: "Because only pyjokes<=0.8.3 is available and you require pyjokes>=99, ..."
    (re.compile(r"only (\S+ is available) and you require (\S+?)(?:,|$)", re.M), None),
    # pip, what MWAA's log shows (mwaa-behaviour.md 9 row 7)
    (re.compile(r"No matching distribution found for (\S+)"), "no matching distribution"),
    (
        re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
        "no matching version",
    ),
)
_BUILD_PATTERNS = (
    re.compile(r"Failed to build `([^`]+)`"),  # uv
    re.compile(r"Failed to download and build `([^`]+)`"),  # uv
    re.compile(r"Failed building wheel for (\S+)"),  # pip
    re.compile(
        r"Failed to build installable wheels for some pyproject\.toml based projects "
        r"\((.+)\)"
    ),
)
_BUILD_MARKERS = (
    "The build backend returned an error",  # uv
    "subprocess-exited-with-error",  # pip
)
_BUILD_CAUSE_RE = re.compile(
    r"(no acceptable C compiler found.*|command '[^']+' failed.*|fatal error: .*|"
    r"\S+: command not found|[\w-]+ executable not found.*|\w+_config not found.*|"
    r"error: Microsoft Visual C\+\+.*)"
)
_EXCEPTION_LINE_RE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception)(?::.*)?)$")


def diagnose(
    output: str,
    plan: InstallPlan | None,
    timed_out: bool,
    *,
    timeout: float | None = None,
) -> str:
    """One line saying why the install failed, from uv's (or pip's) output, starting with the
    user's file and line when the plan says which line it was."""
    if plan is not None:
        output = _user_names(output, plan)
    line, message = _diagnosis(output, plan, timed_out, timeout)
    if plan is None:
        return message
    return f"{line.where if line else plan.name}: {message}"


def _user_names(output: str, plan: InstallPlan) -> str:
    """The output with the user's names for what the installer read: the file, not the
    processed copy or the store's blob; the URL, not the local copy of the constraints."""
    names = {
        **plan.substitutions,
        str(plan.processed): plan.name,
        str(plan.requirements): plan.name,
    }
    for path in sorted(names, key=len, reverse=True):
        output = output.replace(path, names[path])
    return output


def _diagnosis(
    output: str, plan: InstallPlan | None, timed_out: bool, timeout: float | None
) -> tuple[SourceLine | None, str]:
    if timed_out:
        cap = _duration(timeout) if timeout else "the time limit"
        return None, (
            f"Time-out: the install did not finish within {cap} and was stopped (MWAA stops it "
            "at about ten minutes and rolls an update back); trim the requirements or "
            "use wheels."
        )
    found = _not_found(output)
    if found:
        return _line_for_package(plan, found[0]), found[1]
    if any(marker in output for marker in _RESOLUTION_MARKERS):
        conflict = _conflict(output, plan)
        if conflict:
            return _line_for_package(plan, conflict[0]), conflict[1]
    built = _build_failure(output)
    if built:
        return _line_for_package(plan, built[0]), built[1]
    fetched = _fetch_failure(output, plan)
    if fetched:
        return fetched
    return None, "Install error: " + _first_error(output)


def _not_found(output: str) -> tuple[str, str] | None:
    for pattern, reason in _NOT_FOUND_PATTERNS:
        match = pattern.search(output)
        if not match:
            continue
        if reason is None:  # "only X<=v is available and you require X>=w"
            required = match.group(2).rstrip(".,")
            name = _package_name(required)
            return name, (
                f"Not found: {name} (no version matches {required}; only {match.group(1)})."
            )
        spec = match.group(1).strip("`'\".,")
        name = _package_name(spec)
        detail = reason if spec == name else f"{reason}: {spec}"
        return name, f"Not found: {name} ({detail})."
    return None


def _package_name(spec: str) -> str:
    match = _NAME_RE.match(spec.strip("`'\""))
    return match.group(0) if match else spec


def _conflict(output: str, plan: InstallPlan | None) -> tuple[str, str] | None:
    """(the user's requirement the conflict comes from, the sentence) or None."""
    if plan is None:
        return None
    airflow = f"Airflow {plan.airflow_version}" if plan.airflow_version else "Airflow"
    sources = [
        (
            "Conflicts with an MWAA essential package",
            read_pins(plan.essential_constraints),
            "MWAA pins {pin} and requirements cannot override it",
        )
    ]
    # The constraints files the user named, each under its own name (an official URL is "the
    # Airflow X constraints (line N)"), then the Airflow constraints MWAA adds.
    for path in plan.user_constraints:
        label = plan.constraint_labels.get(str(path), "a constraints file you named")
        says = f"{label} pins {{pin}}"
        sources.append(("Conflicts with your constraints", read_pins(path), says))
    sources.append(
        (
            "Conflicts with the Airflow constraints",
            read_pins(plan.airflow_constraints),
            f"the {airflow} constraints pin {{pin}}",
        )
    )
    tokens = [
        (canonicalize_name(m.group(1)), m.group(2).rstrip("."), m.group(0).rstrip("."))
        for m in _TOKEN_PIN_RE.finditer(output)
    ]
    for title, pins, says in sources:
        for norm, version, token in tokens:
            if norm in pins and pins[norm][1] == version:
                pin = f"{pins[norm][0]}=={version}"
                detail, required = _conflict_detail(output, token)
                tail = f"; {detail}" if detail else ""
                return required or pins[norm][0], f"{title}: {says.format(pin=pin)}{tail}."
    return None


def _conflict_detail(output: str, pin: str) -> tuple[str, str]:
    """Who wants something else: the user's own requirement, or a package depending on it;
    and the name of the user's requirement it comes from, when the output says."""
    quoted = re.escape(pin)
    match = re.search(rf"you require (\S+) and {quoted}\b", output)
    if match:
        return f"you require {match.group(1)}", _package_name(match.group(1))
    match = re.search(rf"(\S+) depends on (\S+) and {quoted}\b", output)
    if match:
        # uv: "... X cannot be used. And because you require X, ..."
        user = re.search(r"you require (\S+?),", output)
        required = _package_name(user.group(1)) if user else _package_name(match.group(1))
        return f"{match.group(1)} requires {match.group(2)}", required
    # pip: "The user requested boto3==1.26.0" / "sqlmodel 0.0.14 depends on sqlalchemy<2.1.0"
    name = re.escape(pin.split("==")[0])
    match = re.search(rf"The user requested ({name}\S*)\s*$", output, re.M | re.I)
    if match and match.group(1) != pin:
        return f"you require {match.group(1)}", _package_name(match.group(1))
    match = re.search(rf"^\s*(\S+ \S+) depends on ({name}\S*)", output, re.M | re.I)
    if match:
        user = re.search(r"The user requested (\S+)\s*$", output, re.M)
        required = _package_name(user.group(1)) if user else match.group(1).split()[0]
        return f"{match.group(1)} requires {match.group(2)}", required
    return "", ""


def requirement_name(text: str) -> str | None:
    """The name of the package a requirements line asks for (`-e ...#egg=x` included), else
    None (options, comments, blank lines)."""
    body = COMMENT_RE.sub("", text).strip()
    editable = _EDITABLE_VCS_RE.match(body)
    if editable:
        egg = re.search(r"(?:^|&)egg=([^&]+)", editable.group("fragment") or "")
        return _package_name(egg.group(1)) if egg else None
    if not body or body.startswith("-"):
        return None
    match = _NAME_RE.match(body)
    return match.group(0) if match else None


def _line_for_package(plan: InstallPlan | None, name: str) -> SourceLine | None:
    if plan is None or not name:
        return None
    wanted = canonicalize_name(_package_name(name))
    # the user's own file first, then the files it includes
    ordered = sorted(plan.lines, key=lambda line: line.file != plan.name)
    for line in ordered:
        found = requirement_name(line.text)
        if found and canonicalize_name(found) == wanted:
            return line
    return None


# --- what could not be fetched: an index, a --find-links URL, a -r/-c URL -------------------

_FETCH_MARKERS = (
    "Failed to fetch",  # uv
    "error sending request",  # uv
    "Error while accessing remote requirements file",  # uv
    "Could not fetch URL",  # pip
    "Failed to establish a new connection",  # pip (urllib3)
    "Name or service not known",
    "Temporary failure in name resolution",
    "dns error",
    "Network is unreachable",
    "Connection refused",
)
_ANY_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s`'\"()<>,]+")


def _fetch_failure(output: str, plan: InstallPlan | None) -> tuple[SourceLine, str] | None:
    if plan is None or not any(marker in output for marker in _FETCH_MARKERS):
        return None
    for match in _ANY_URL_RE.finditer(output):
        url = match.group(0).rstrip(".:;")
        line = _line_for_url(plan, url)
        if line is None:
            continue
        message = (
            f"Network error: {_without_credentials(url)} could not be fetched "
            f"({_root_cause(output)})."
        )
        path = official_url_path(_without_credentials(url))
        if path:
            message += (
                f" Put {path} in the ConstraintsMirror folder, or run once with network access "
                "so mwaa-local caches it."
            )
        return line, message
    return None


def _root_cause(output: str) -> str:
    """The innermost cause uv gives (its last `cause:` line), else the first error."""
    causes = [
        re.sub(r"^(?:cause|Caused by):\s*", "", line.strip(), flags=re.I)
        for line in output.splitlines()
        if re.match(r"^\s*(?:cause|Caused by):", line, re.I)
    ]
    return causes[-1] if causes else _first_error(output)


def _line_for_url(plan: InstallPlan, url: str) -> SourceLine | None:
    """The line whose URL (an index, --find-links, -r/-c) is the fetched URL or a prefix of
    it. Credentials, which `${VAR}` usually supplies, are left out of the comparison."""
    fetched = _without_credentials(url).rstrip("/")
    for line in plan.lines:
        if COMMENT_RE.sub("", line.text).strip() == "":
            continue
        for found in _ANY_URL_RE.finditer(COMMENT_RE.sub("", line.text)):
            named = _without_credentials(found.group(0)).rstrip("/")
            if named and (fetched == named or fetched.startswith(named + "/")):
                return line
    return None


def _without_credentials(url: str) -> str:
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@", r"\1", url)


def _build_failure(output: str) -> tuple[str, str] | None:
    name = None
    for pattern in _BUILD_PATTERNS:
        match = pattern.search(output)
        if match:
            name = match.group(1).strip()
            break
    if name is None and not any(marker in output for marker in _BUILD_MARKERS):
        return None
    if name is None:
        building = re.findall(r"^\s*Building (\S+)", output, re.M)
        name = building[-1] if building else "a package from source"
    cause = _BUILD_CAUSE_RE.search(output)
    reason = cause.group(1).strip() if cause else ""
    if not reason:
        exceptions = [
            m.group(1).strip() for m in map(_EXCEPTION_LINE_RE.match, output.splitlines()) if m
        ]
        reason = exceptions[-1] if exceptions else ""
    tail = f": {reason}" if reason else ""
    return _package_name(name), f"Build failure: {name} could not be built{tail}."


# uv draws its error as a tree: "  × No solution ...", "  ╰─▶ Because ..."; the drawing is not
# part of the message.
_UV_TREE = " \t×╰─▶│├"


def _first_error(output: str) -> str:
    lines = [line.strip(_UV_TREE) for line in output.splitlines() if line.strip(_UV_TREE)]
    first = next((i for i, line in enumerate(lines) if re.match(r"^(ERROR|error)\b", line)), None)
    if first is None:
        return lines[-1] if lines else "the installer failed without a message."
    causes = []
    for line in lines[first + 1 :]:
        if not line.startswith("cause:"):
            break
        causes.append(line.removeprefix("cause:").strip())
    message = re.sub(r"^(ERROR|error):?\s*", "", lines[first]) or lines[first]
    if causes and causes[-1] not in message:
        message += f" ({causes[-1]})"
    return message


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} seconds"
