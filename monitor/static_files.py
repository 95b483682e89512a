"""Static files: fingerprinted names, kept by browsers for a year, sent gzip- or brotli-compressed.

`url_for("static", filename="css/app.css")` gives /static/css/app.<hash>.css, a name that
changes whenever the content does, so a browser or a proxy may keep it for good. WhiteNoise
serves those copies with `Cache-Control: public, max-age=31536000, immutable` and picks the
.br or .gz version the browser accepts (the 1.2 MB plotly bundle goes out as about 330 KB).

The copies and their compressed versions are made at start-up in STATIC_CACHE_DIR, once per
content (the name carries the hash, so an existing file is already right). Each file is
written in a private folder and renamed into place, the plain copy last, so workers that start
together never serve a half-written file. The plain names stay served, cached for a minute,
for anything that kept an old address."""
import hashlib
import os
import re
import secrets
import shutil
from pathlib import Path

from flask import Flask
from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

ONE_YEAR = 365 * 24 * 3600
# app.<12 hex digits>.css: only names made here look like this.
FINGERPRINTED = re.compile(r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$")


def fingerprinted_name(relative: str, content: bytes) -> str:
    """"css/app.css" -> "css/app.<first 12 hex digits of its SHA-256>.css"."""
    stem, dot, suffix = relative.rpartition(".")
    digest = hashlib.sha256(content).hexdigest()[:12]
    return f"{stem}.{digest}.{suffix}" if dot else f"{relative}.{digest}"


def _publish(source: Path, target: Path, compressor: Compressor) -> None:
    """Copy source to target with its compressed versions, atomically as seen from outside."""
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}"
    work.mkdir()
    try:
        staged = work / target.name
        shutil.copyfile(source, staged)
        for compressed in compressor.compress(str(staged)):
            os.replace(compressed, target.parent / Path(compressed).name)
        os.replace(staged, target)  # last: its presence says the set is complete
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build(static_dir: Path, cache_dir: Path) -> dict[str, str]:
    """Fingerprinted, compressed copies of every static file; {plain name: fingerprinted name}."""
    compressor = Compressor(quiet=True)
    manifest = {}
    for source in sorted(p for p in static_dir.rglob("*") if p.is_file()):
        relative = source.relative_to(static_dir).as_posix()
        name = fingerprinted_name(relative, source.read_bytes())
        target = cache_dir / name
        if not target.exists():
            _publish(source, target, compressor)
        manifest[relative] = name
    return manifest


def _is_fingerprinted(path: str, url: str) -> bool:
    return bool(FINGERPRINTED.search(url))


def _headers(headers, path: str, url: str) -> None:
    if _is_fingerprinted(path, url):
        headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    headers["X-Content-Type-Options"] = "nosniff"


def init_app(app: Flask) -> None:
    static_dir = Path(app.static_folder)
    cache_dir = Path(app.config["STATIC_CACHE_DIR"])
    manifest = build(static_dir, cache_dir)

    @app.url_defaults
    def fingerprint(endpoint: str, values: dict) -> None:
        if endpoint == "static" and values.get("filename") in manifest:
            values["filename"] = manifest[values["filename"]]

    served = WhiteNoise(app.wsgi_app, max_age=60, immutable_file_test=_is_fingerprinted,
                        add_headers_function=_headers)
    served.add_files(str(cache_dir), prefix="static/")
    served.add_files(str(static_dir), prefix="static/")  # the plain names
    app.wsgi_app = served
