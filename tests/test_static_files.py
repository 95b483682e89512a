"""Static files go out under fingerprinted names, cached for a year, compressed with brotli or
gzip (monitor/static_files.py); the vendored plotly.js is the one the plotly package expects."""
import gzip
import hashlib
import re
import tomllib
from pathlib import Path

import brotli
import plotly
import pytest
from flask import url_for
from plotly.offline import get_plotlyjs_version

import monitor
from monitor import static_files
from tests.factories import login

STATIC = Path(monitor.__file__).parent / "static"
ROOT = Path(monitor.__file__).parents[1]


def static_url(app, filename: str) -> str:
    with app.test_request_context():
        return url_for("static", filename=filename)


def test_names_carry_the_contents_hash():
    digest = hashlib.sha256(b"body{}").hexdigest()[:12]
    assert static_files.fingerprinted_name("css/app.css", b"body{}") == f"css/app.{digest}.css"
    assert static_files.fingerprinted_name("css/app.css", b"body{ }") != f"css/app.{digest}.css"


def test_pages_link_fingerprinted_static_files(app, client, users):
    login(client, users.provider_a)
    page = client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
    links = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert {Path(link).suffix for link in links} >= {".css", ".js"}
    assert all(static_files.FINGERPRINTED.search(link) for link in links), links


@pytest.mark.parametrize("filename", ["css/app.css", "js/charts.js", f"vendor/plotly-basic-{get_plotlyjs_version()}.min.js"])
def test_a_fingerprinted_file_is_immutable_for_a_year_and_compressed(app, client, filename):
    url = static_url(app, filename)
    original = (STATIC / filename).read_bytes()
    for encoding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress), ("identity", lambda b: b)):
        response = client.get(url, headers={"Accept-Encoding": encoding})
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers.get("Content-Encoding", "identity") == encoding
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert decode(response.get_data()) == original
    assert "Vary" in client.get(url, headers={"Accept-Encoding": "br"}).headers


def test_the_plain_name_still_works_but_is_kept_briefly(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "max-age=60, public"


def test_a_changed_file_gets_a_new_name_and_old_copies_are_left_alone(tmp_path):
    static, cache = tmp_path / "static", tmp_path / "cache"
    (static / "js").mkdir(parents=True)
    (static / "js" / "a.js").write_text("var a = 1;" * 200)
    first = static_files.build(static, cache)
    assert static_files.build(static, cache) == first  # nothing to redo
    (static / "js" / "a.js").write_text("var a = 2;" * 200)
    second = static_files.build(static, cache)
    assert second["js/a.js"] != first["js/a.js"]
    for name in (first["js/a.js"], second["js/a.js"]):
        assert {p.name for p in cache.joinpath("js").iterdir()} >= {Path(name).name, Path(name).name + ".gz",
                                                                    Path(name).name + ".br"}
    assert not [p for p in cache.rglob(".*")]  # no work folder left behind


def test_the_vendored_plotly_bundle_is_the_one_the_plotly_package_expects():
    version = get_plotlyjs_version()
    bundles = sorted(p.name for p in (STATIC / "vendor").glob("plotly-basic-*.min.js"))
    assert bundles == [f"plotly-basic-{version}.min.js"]
    assert f"plotly.js (basic - minified) v{version}" in (STATIC / "vendor" / bundles[0]).read_text()[:200]
    # get_plotlyjs_version() is a constant in plotly's code: the plotly.js plotly itself ships says the same.
    with open(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", encoding="utf-8") as shipped:
        assert f"* plotly.js v{version}\n" in shipped.read(200)
    # ...and the package is pinned, so an upgrade cannot drift from the bundle unnoticed.
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert [d for d in dependencies if d.startswith("plotly")] == ["plotly==7.1.0"]
    from monitor.charts import PLOTLY_JS
    assert PLOTLY_JS == f"vendor/{bundles[0]}"
