import http.server
import re
import threading
from pathlib import Path

import pytest

from mwaa_local.errors import ConstraintsError
from mwaa_local.mwaa import constraints
from mwaa_local.spec.versions import airflow_version
from tests.required import SHARED_CONSTRAINTS, require

SHARED = SHARED_CONSTRAINTS
V = airflow_version("3.0.6")


def test_mirror_laid_out_like_the_url(tmp_path):
    target = tmp_path / "constraints-3.0.6" / "constraints-3.12.txt"
    target.parent.mkdir()
    target.write_text("apache-airflow==3.0.6\n")
    assert constraints.official_constraints(V, tmp_path, tmp_path / "cache") == (
        "apache-airflow==3.0.6\n"
    )


def test_missing_file_in_mirror_names_the_path(tmp_path):
    with pytest.raises(ConstraintsError) as e:
        constraints.official_constraints(V, tmp_path, tmp_path / "cache")
    assert "constraints-3.0.6/constraints-3.12.txt" in e.value.message


def test_cache_is_used_before_the_network(tmp_path):
    cached = tmp_path / "constraints-3.0.6" / "constraints-3.12.txt"
    cached.parent.mkdir()
    cached.write_text("from-cache\n")
    assert constraints.official_constraints(V, None, tmp_path) == "from-cache\n"


def test_download_then_cache(tmp_path, monkeypatch):
    served = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            served.append(self.path)
            body = b"apache-airflow==3.0.6\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(
        "mwaa_local.spec.versions.CONSTRAINTS_URL",
        f"http://127.0.0.1:{server.server_port}/constraints-{{airflow}}/constraints-{{python}}.txt",
    )
    try:
        for _ in range(2):
            text = constraints.official_constraints(V, None, tmp_path)
            assert text == "apache-airflow==3.0.6\n"
    finally:
        server.shutdown()
    assert served == ["/constraints-3.0.6/constraints-3.12.txt"]
    assert (tmp_path / "constraints-3.0.6" / "constraints-3.12.txt").is_file()


def test_unreachable_url_says_how_to_use_a_mirror(tmp_path, monkeypatch):
    monkeypatch.setattr(
        "mwaa_local.spec.versions.CONSTRAINTS_URL",
        "http://127.0.0.1:9/constraints-{airflow}/constraints-{python}.txt",
    )
    with pytest.raises(ConstraintsError) as e:
        constraints.official_constraints(V, None, tmp_path)
    assert "MWAA_LOCAL_CONSTRAINTS_MIRROR" in e.value.hint


@pytest.mark.parametrize("version", ["2.9.2", "2.10.3", "2.11.2", "3.0.6", "3.3.1"])
def test_essential_pins_fix_airflow_itself(version):
    text = constraints.essential_constraints(airflow_version(version))
    assert f"apache-airflow=={version}" in text.splitlines()
    assert any(line.startswith("celery==") for line in text.splitlines())


def test_shared_mirror_holds_every_supported_version():
    from mwaa_local.spec.versions import SUPPORTED

    require(SHARED.is_dir(), f"{SHARED} is not beside the checkout")
    for version in SUPPORTED:
        assert constraints.official_constraints(version, SHARED, Path("/nonexistent"))


# --- an official constraints URL a requirements file names (any version) ---------------------

URL = "https://raw.githubusercontent.com/apache/airflow/constraints-2.10.3/constraints-3.11.txt"


@pytest.mark.parametrize(
    ("url", "path"),
    [
        (URL, "constraints-2.10.3/constraints-3.11.txt"),
        (
            URL.replace("2.10.3", "3.3.1").replace("3.11", "3.12"),
            "constraints-3.3.1/constraints-3.12.txt",
        ),
        (
            "https://raw.githubusercontent.com/apache/airflow/constraints-2.8.1/constraints-no-providers-3.11.txt",
            "constraints-2.8.1/constraints-no-providers-3.11.txt",
        ),
        ("https://example.com/constraints-2.10.3/constraints-3.11.txt", None),
        (
            "https://raw.githubusercontent.com/someone/airflow/constraints-2.10.3/constraints-3.11.txt",
            None,
        ),
        ("https://raw.githubusercontent.com/apache/airflow/main/constraints-3.11.txt", None),
    ],
)
def test_official_url_path(url, path):
    assert constraints.official_url_path(url) == path


def test_url_from_the_mirror_then_the_cache(tmp_path):
    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    for root, text in ((mirror, "from-mirror\n"), (cache, "from-cache\n")):
        (root / "constraints-2.10.3").mkdir(parents=True)
        (root / "constraints-2.10.3" / "constraints-3.11.txt").write_text(text)
    found = constraints.resolve_official_url(URL, mirror, cache)
    assert (found.text, found.source) == ("from-mirror\n", "mirror")
    # a mirror without the file falls through to the cache (unlike the image build's lookup)
    found = constraints.resolve_official_url(URL, tmp_path / "empty", cache)
    assert (found.text, found.source) == ("from-cache\n", "cache")
    assert constraints.resolve_official_url("https://example.com/c.txt", mirror, cache) is None


def test_url_downloaded_once_then_cached_and_every_reason_when_found_nowhere(tmp_path, monkeypatch):
    served = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            served.append(self.path)
            ok = self.path.startswith("/apache/airflow/constraints-2.10.3/")
            body = b"six==1.16.0\n" if ok else b"no"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/apache/airflow/"
    # the local server stands in for raw.githubusercontent.com
    monkeypatch.setattr(
        constraints, "OFFICIAL_URL_RE", re.compile(rf"^{re.escape(base)}(?P<path>.+)$")
    )
    try:
        url = base + "constraints-2.10.3/constraints-3.11.txt"
        for source in ("download", "cache"):
            found = constraints.resolve_official_url(url, tmp_path / "mirror", tmp_path / "c")
            assert (found.text, found.source) == ("six==1.16.0\n", source)
        missing = constraints.resolve_official_url(
            base + "constraints-9.9.9/constraints-3.11.txt", tmp_path / "mirror", tmp_path / "c"
        )
    finally:
        server.shutdown()
    assert served == ["/apache/airflow/constraints-2.10.3/constraints-3.11.txt"] + [
        "/apache/airflow/constraints-9.9.9/constraints-3.11.txt"
    ]
    assert missing.text is None
    assert "not in the constraints mirror" in missing.source and "not cached" in missing.source
    assert "download failed" in missing.source
