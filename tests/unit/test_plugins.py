"""plugins.zip: extracted as-is, unsafe zips refused whole, layout mistakes explained."""

import stat
import zipfile
from pathlib import Path

import pytest

from mwaa_local.mwaa.plugins import (
    MAX_ENTRIES,
    MAX_UNCOMPRESSED_BYTES,
    PluginsZipError,
    check_plugins_zip,
    diagnose_layout,
    unpack_plugins,
    zip_plugins_folder,
)


def make_zip(path: Path, entries: dict[str, bytes | str], modes: dict[str, int] | None = None):
    """A zip with the given entries (names ending in '/' are folders); modes are unix modes."""
    modes = modes or {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            default = (stat.S_IFDIR | 0o755) if name.endswith("/") else (stat.S_IFREG | 0o600)
            info.external_attr = modes.get(name, default) << 16
            archive.writestr(info, data)
    return path


def good_zip(tmp_path: Path) -> Path:
    return make_zip(
        tmp_path / "plugins.zip",
        {
            "__init__.py": "",
            "my_airflow_plugin.py": "from operators.my_operator import MyOperator\n",
            "operators/": b"",
            "operators/__init__.py": "",
            "operators/my_operator.py": "class MyOperator: ...\n",
            "bin/tool.sh": "#!/bin/sh\n",
            "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl": b"wheel",
        },
        modes={"bin/tool.sh": stat.S_IFREG | 0o700},
    )


def test_unpack_puts_entries_where_they_are(tmp_path):
    target = tmp_path / "plugins"
    result = unpack_plugins(good_zip(tmp_path), target)
    assert (target / "operators" / "my_operator.py").read_text() == "class MyOperator: ...\n"
    assert (target / "my_airflow_plugin.py").is_file()
    assert "operators/my_operator.py" in result.files
    assert result.warnings == []
    assert result.wheels == ["numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl"]


def test_unpack_makes_files_readable(tmp_path):
    target = tmp_path / "plugins"
    unpack_plugins(good_zip(tmp_path), target)
    assert stat.S_IMODE((target / "operators" / "my_operator.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((target / "bin" / "tool.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((target / "operators").stat().st_mode) == 0o755
    assert stat.S_IMODE((target / "bin").stat().st_mode) == 0o755


def test_unpack_replaces_the_previous_content(tmp_path):
    target = tmp_path / "plugins"
    (target / "old").mkdir(parents=True)
    (target / "old" / "stale.py").write_text("")
    (target / "stale.py").write_text("")
    unpack_plugins(good_zip(tmp_path), target)
    assert not (target / "old").exists() and not (target / "stale.py").exists()
    assert (target / "my_airflow_plugin.py").is_file()


UNSAFE = {
    "absolute": ("/etc/evil.py", "absolute"),
    "dotdot": ("operators/../../evil.py", "'..'"),
    "dotdot-backslash": ("..\\evil.py", "'..'"),
    "drive": ("C:\\evil.py", "absolute"),
}


@pytest.mark.parametrize("kind", sorted(UNSAFE))
def test_unsafe_paths_are_refused_and_nothing_is_written(tmp_path, kind):
    name, rule = UNSAFE[kind]
    zip_path = make_zip(tmp_path / "plugins.zip", {"ok.py": "", name: "boom"})
    target = tmp_path / "plugins"
    target.mkdir()
    with pytest.raises(PluginsZipError) as caught:
        unpack_plugins(zip_path, target)
    assert repr(name) in caught.value.message and rule in caught.value.message
    assert "nothing was extracted" in caught.value.message
    assert list(target.iterdir()) == []
    assert not (tmp_path / "evil.py").exists()


def test_symlink_entries_are_refused(tmp_path):
    zip_path = make_zip(
        tmp_path / "plugins.zip",
        {"ok.py": "", "link": "/etc/passwd"},
        modes={"link": stat.S_IFLNK | 0o777},
    )
    target = tmp_path / "plugins"
    target.mkdir()
    (target / "kept.py").write_text("previous")
    with pytest.raises(PluginsZipError, match="symbolic link"):
        unpack_plugins(zip_path, target)
    # Refused before anything is touched: the previous content stays, nothing new appears.
    assert [p.name for p in target.iterdir()] == ["kept.py"]


def test_too_large_zip_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("mwaa_local.mwaa.plugins.MAX_UNCOMPRESSED_BYTES", 10)
    zip_path = make_zip(tmp_path / "plugins.zip", {"big.py": "x" * 11})
    target = tmp_path / "plugins"
    with pytest.raises(PluginsZipError, match="more than 1 GiB"):
        unpack_plugins(zip_path, target)
    assert not target.exists() or list(target.iterdir()) == []
    assert MAX_UNCOMPRESSED_BYTES == 1 << 30


def test_too_many_entries_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("mwaa_local.mwaa.plugins.MAX_ENTRIES", 3)
    zip_path = make_zip(tmp_path / "plugins.zip", {f"m{i}.py": "" for i in range(4)})
    with pytest.raises(PluginsZipError, match="zip bomb"):
        unpack_plugins(zip_path, tmp_path / "plugins")
    assert MAX_ENTRIES == 100_000


def test_not_a_zip_is_a_clear_error(tmp_path):
    not_zip = tmp_path / "plugins.zip"
    not_zip.write_text("print('hello')\n")
    with pytest.raises(PluginsZipError, match="is not a zip file"):
        unpack_plugins(not_zip, tmp_path / "plugins")
    with pytest.raises(PluginsZipError, match="does not exist"):
        unpack_plugins(tmp_path / "missing.zip", tmp_path / "plugins")


def test_wrapped_plugins_folder_is_extracted_as_is_and_explained(tmp_path):
    zip_path = make_zip(
        tmp_path / "plugins.zip",
        {"plugins/": b"", "plugins/operators/__init__.py": "", "plugins/operators/op.py": ""},
    )
    target = tmp_path / "plugins"
    result = unpack_plugins(zip_path, target)
    assert (target / "plugins" / "operators" / "op.py").is_file()  # as MWAA does
    assert len(result.warnings) == 1
    warning = result.warnings[0]
    assert "top-level plugins/ folder" in warning
    assert "/usr/local/airflow/plugins/plugins/" in warning
    assert "No module named 'operators'" in warning
    assert "cd plugins; zip -r ../plugins.zip ." in warning


def test_macos_metadata_does_not_hide_the_wrapped_folder():
    warnings, _ = diagnose_layout(["plugins/op.py", "__MACOSX/plugins/._op.py"])
    assert warnings and "top-level plugins/ folder" in warnings[0]


def test_package_folder_without_init_is_warned_about():
    warnings, _ = diagnose_layout(["operators/op.py", "hooks/__init__.py", "hooks/h.py", "a.py"])
    assert len(warnings) == 1
    assert "operators/" in warnings[0] and "operators/__init__.py" in warnings[0]


def test_folder_without_python_files_needs_no_init():
    warnings, _ = diagnose_layout(["templates/page.html", "data/x.csv"])
    assert warnings == []


def test_check_plugins_zip_lists_root_wheels_only(tmp_path):
    zip_path = make_zip(
        tmp_path / "plugins.zip",
        {"six-1.16.0-py2.py3-none-any.whl": b"w", "sub/other-1.0-py3-none-any.whl": b"w"},
    )
    result = check_plugins_zip(zip_path)
    assert result.wheels == ["six-1.16.0-py2.py3-none-any.whl"]
    assert result.target is None


# --- zip_plugins_folder -------------------------------------------------------------------------


def plugins_folder(root: Path) -> Path:
    folder = root / "plugins"
    (folder / "operators" / "__pycache__").mkdir(parents=True)
    (folder / "operators" / "__init__.py").write_text("")
    (folder / "operators" / "op.py").write_text("class Op: ...\n")
    (folder / "operators" / "__pycache__" / "op.cpython-311.pyc").write_bytes(b"\0")
    (folder / "operators" / "stale.pyc").write_bytes(b"\0")
    (folder / "my_plugin.py").write_text("import operators\n")
    script = folder / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o700)
    (folder / "secret.py").write_text("")
    (folder / "secret.py").chmod(0o600)
    return folder


def test_zip_plugins_folder_puts_contents_at_the_root(tmp_path):
    out = zip_plugins_folder(plugins_folder(tmp_path), tmp_path / "plugins.zip")
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        infos = {i.filename: i for i in archive.infolist()}
    assert names == sorted(names)
    assert set(names) == {"my_plugin.py", "operators/", "operators/__init__.py", "operators/op.py",
                          "run.sh", "secret.py"}  # fmt: skip
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos.values())
    assert stat.S_IMODE(infos["run.sh"].external_attr >> 16) == 0o755
    assert stat.S_IMODE(infos["secret.py"].external_attr >> 16) == 0o644
    assert stat.S_IMODE(infos["operators/"].external_attr >> 16) == 0o755


def test_zip_plugins_folder_is_deterministic(tmp_path):
    folder = plugins_folder(tmp_path)
    first = zip_plugins_folder(folder, tmp_path / "a.zip").read_bytes()
    # Same content, new timestamps: still byte-identical.
    (folder / "my_plugin.py").write_text("import operators\n")
    second = zip_plugins_folder(folder, tmp_path / "b.zip").read_bytes()
    assert first == second


def test_zip_written_inside_the_folder_does_not_include_itself(tmp_path):
    folder = plugins_folder(tmp_path)
    out = zip_plugins_folder(folder, folder / "plugins.zip")
    assert "plugins.zip" not in zipfile.ZipFile(out).namelist()


def test_zip_of_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(PluginsZipError, match="is not a folder"):
        zip_plugins_folder(tmp_path / "nope", tmp_path / "plugins.zip")


def test_round_trip_through_unpack(tmp_path):
    folder = plugins_folder(tmp_path)
    out = zip_plugins_folder(folder, tmp_path / "plugins.zip")
    target = tmp_path / "extracted"
    result = unpack_plugins(out, target)
    assert result.warnings == []
    assert (target / "operators" / "op.py").read_text() == "class Op: ...\n"
    assert (target / "my_plugin.py").read_text() == "import operators\n"
    assert not (target / "operators" / "__pycache__").exists()
    assert not (target / "operators" / "stale.pyc").exists()
    assert stat.S_IMODE((target / "run.sh").stat().st_mode) == 0o755
