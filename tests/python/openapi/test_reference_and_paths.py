"""What a new user of either service meets first: the interactive API reference page, served
by the service itself and working offline, and routes that accept a trailing slash as scripts
written against TheHive send them (`POST /api/alert/`)."""
import re

import pytest
import requests

from conftest import CORTEX_ADMIN_KEY, CORTEX_BIN, HIVE_BIN, Service, _db_for

ADMIN = ("admin@thehive.local", "secret")


@pytest.fixture
def hive_sqlite():
    s = Service(HIVE_BIN, "HIVE", _db_for("sqlite"), {})
    yield s
    s.stop()


@pytest.fixture
def cortex_sqlite():
    s = Service(CORTEX_BIN, "CORTEX", _db_for("sqlite"), {"CORTEX__BOOTSTRAP__ADMIN_API_KEY": CORTEX_ADMIN_KEY})
    yield s
    s.stop()


@pytest.mark.parametrize("which", ["hive", "cortex"])
def test_the_api_reference_is_served_offline(which, hive_sqlite, cortex_sqlite):
    base = (hive_sqlite if which == "hive" else cortex_sqlite).url
    page = requests.get(base + "/api-docs/", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "connect-src 'self'" in csp
    # Nothing fetched from elsewhere: every script and stylesheet is the service's own.
    for ref in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert not ref.startswith(("http:", "https:", "//")), ref
        asset = requests.get(base + "/api-docs/" + ref.lstrip("./"), timeout=10)
        assert asset.status_code == 200, ref
    init = requests.get(base + "/api-docs/swagger-initializer.js", timeout=10)
    assert "/api-docs/openapi.json" in init.text
    doc = requests.get(base + "/api-docs/openapi.json", timeout=10)
    assert doc.status_code == 200 and doc.json()["openapi"].startswith("3.1")
    # The reference is public; the API behind it is not.
    assert requests.get(base + ("/api/v1/user/current" if which == "hive" else "/api/user/current"),
                        timeout=10).status_code == 401


def test_a_trailing_slash_is_the_route_without_it(hive_sqlite, cortex_sqlite):
    hive = hive_sqlite.url
    r = requests.post(hive + "/api/v1/organisation/", auth=ADMIN, json={"name": "slash-soc", "description": "SOC"}, timeout=10)
    assert r.status_code == 201, r.text
    r = requests.post(hive + "/api/v1/user/", auth=ADMIN, json={
        "login": "analyst@slash.soc", "name": "Analyst", "organisation": "slash-soc", "profile": "analyst"}, timeout=10)
    assert r.status_code == 201, r.text
    r = requests.post(hive + "/api/v1/user/analyst@slash.soc/password/set/", auth=ADMIN,
                      json={"password": "analyst-secret"}, timeout=10)
    assert r.status_code == 204, r.text
    analyst = ("analyst@slash.soc", "analyst-secret")
    # TheHive 4 scripts post v0 alerts with a trailing slash.
    r = requests.post(hive + "/api/alert/", auth=analyst, json={
        "title": "Reported mail", "description": "trailing slash", "type": "external",
        "source": "script", "sourceRef": "SLASH-1"}, timeout=10)
    assert r.status_code == 201, r.text
    found = requests.post(hive + "/api/alert/_search/", auth=analyst, json={"query": {"sourceRef": "SLASH-1"}}, timeout=10)
    assert found.status_code == 200 and len(found.json()) == 1, found.text
    assert requests.get(hive + "/api/v1/user/current/", auth=analyst, timeout=10).json()["login"] == "analyst@slash.soc"
    assert requests.get(hive + "/api/status/", timeout=10).status_code == 200
    # The query string survives.
    r = requests.get(cortex_sqlite.url + "/api/user/current/?x=1", headers={"Authorization": f"Bearer {CORTEX_ADMIN_KEY}"}, timeout=10)
    assert r.status_code == 200 and r.json()["id"] == "admin", r.text
    # An unknown route stays unknown.
    assert requests.get(hive + "/api/v1/nothing-here/", auth=analyst, timeout=10).status_code == 404
