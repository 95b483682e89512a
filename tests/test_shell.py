"""The installable app (issue 13, monitor/shell): the web app manifest, the service worker and
the offline page, at fixed addresses, revalidated on use, the same for everyone."""
import json
import re

import pytest

from tests.factories import login

ICON_SIZES = {"192x192", "512x512"}


def test_the_manifest_makes_the_checkin_installable(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200 and response.mimetype == "application/manifest+json"
    manifest = json.loads(response.get_data(as_text=True))
    assert manifest["start_url"] == "/checkin" and manifest["scope"] == "/"
    assert manifest["display"] == "standalone" and manifest["short_name"] and manifest["name"]
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    for purpose in ("any", "maskable"):
        icons = [icon for icon in manifest["icons"] if icon["purpose"] == purpose]
        assert {icon["sizes"] for icon in icons} == ICON_SIZES
        for icon in icons:
            assert icon["type"] == "image/png"
            png = client.get(icon["src"])
            assert png.status_code == 200 and png.data[:8] == b"\x89PNG\r\n\x1a\n"
            width, height = int.from_bytes(png.data[16:20], "big"), int.from_bytes(png.data[20:24], "big")
            assert f"{width}x{height}" == icon["sizes"]


def test_the_worker_is_served_at_the_root_with_the_shell_it_keeps(client):
    response = client.get("/sw.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    script = response.get_data(as_text=True)
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", script)[1])
    assert shell[0] == "/offline"
    # Fingerprinted static files only, besides the offline page: a kept copy is never stale.
    assert all(re.search(r"^/static/.+\.[0-9a-f]{12}\.(css|js|png)$", url) for url in shell[1:])
    assert any(url.startswith("/static/js/offline.") for url in shell)


@pytest.mark.parametrize("url", ["/manifest.webmanifest", "/sw.js", "/offline"])
def test_shell_addresses_are_revalidated_not_kept_for_a_year(client, url):
    assert client.get(url).headers["Cache-Control"] == "no-cache"


def test_pages_stay_no_store(client, users):
    login(client, users.patient_a)
    assert client.get("/checkin").headers["Cache-Control"] == "no-store"


def test_the_offline_page_is_the_same_for_everyone_and_carries_no_token(app, users):
    signed_out = app.test_client().get("/offline").get_data(as_text=True)
    client = app.test_client()
    login(client, users.patient_a)
    signed_in = client.get("/offline").get_data(as_text=True)
    assert signed_in == signed_out
    assert "csrf_token" not in signed_in and users.patient_a.email not in signed_in
    assert "This app is not monitored 24/7" in signed_in  # the crisis line, as on every patient page
    assert "No connection" in signed_in


def test_fetching_the_shell_keeps_no_one_signed_in(app, users, frozen_clock):
    """Browsers fetch the worker and the manifest in the background: that must not count as use."""
    from datetime import timedelta

    from monitor import timeutil

    client = app.test_client()
    login(client, users.patient_a)
    for minutes in (20, 40):  # the patient idle limit is 30 minutes
        timeutil.freeze(frozen_clock + timedelta(minutes=minutes))
        for url in ("/sw.js", "/manifest.webmanifest", "/offline"):
            assert client.get(url).status_code == 200
    assert client.get("/checkin").status_code == 302  # idle all along: signed out


def test_every_page_links_the_manifest_and_the_script(client, users):
    for page in (client.get("/login"),):
        text = page.get_data(as_text=True)
        assert 'rel="manifest" href="/manifest.webmanifest"' in text
        assert re.search(r'<script src="/static/js/offline\.[0-9a-f]{12}\.js" defer></script>', text)
    login(client, users.patient_a)
    text = client.get("/checkin").get_data(as_text=True)
    assert f'data-outbox-owner="{users.patient_a.id}"' in text and "data-outbox>" in text
