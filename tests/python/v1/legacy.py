"""Shared set-up and checks for the thehive4py 1.8.2 (legacy v0 API) tests.

The tenant is a SOC organisation `soc` where the platform administrator is `org-admin`
(default organisation) while staying `admin` of the `admin` organisation, and where API-key
users (a feeder `analyst`, a `read-only` viewer) are made on demand. The custom field
`reportedBy` (string) is defined in the `admin` organisation, as TheHive wants.

The set-up goes through the v1 API with `requests`; the checks of the other API (v1) too, since
thehive4py 2 is not installed next to 1.8.2.
"""
import hashlib
import io
import time
import zipfile

import magic
import requests
from thehive4py.api import TheHiveApi

ADMIN = "admin@thehive.local"
PASSWORD = "secret"
ORG = "soc"
FEEDER = "feeder@soc.test"
VIEWER = "viewer@soc.test"


# --------------------------------------------------------------------------------------------
# set-up through the v1 API

def v1(hive, method, path, org=ORG, **kwargs):
    """A v1 request as the administrator (Basic auth) in `org`."""
    headers = kwargs.pop("headers", {})
    if org is not None:
        headers["X-Organisation"] = org
    return requests.request(method, hive.url + path, auth=(ADMIN, PASSWORD), headers=headers,
                            timeout=30, **kwargs)


def expect(response, status):
    """The JSON body of `response` once its status is `status` (else fails with the body)."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: expected {status}, got "
        f"{response.status_code}: {response.text[:2000]}")
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def expect_error(response, status, error_type):
    """The error body of `response`, once its status and `type` are the expected ones."""
    body = expect(response, status)
    assert isinstance(body, dict) and body.get("type") == error_type, (
        f"{response.request.method} {response.request.url}: expected a {error_type} body, "
        f"got {body!r}")
    assert isinstance(body.get("message"), str), body
    return body


def tenant(hive):
    """Organisation `soc` with the administrator as org-admin in it (default) and admin of
    `admin`; custom field `reportedBy` defined."""
    expect(v1(hive, "POST", "/api/v1/organisation", org=None,
              json={"name": ORG, "description": "the SOC"}), 201)
    me = expect(v1(hive, "GET", "/api/v1/user/current", org=None), 200)
    r = v1(hive, "PUT", f"/api/v1/user/{me['_id']}/organisations", org=None, json={"organisations": [
        {"organisation": ORG, "profile": "org-admin", "default": True},
        {"organisation": "admin", "profile": "admin"}]})
    assert r.status_code in (200, 204), r.text
    expect(v1(hive, "POST", "/api/v1/customField", org="admin", json={
        "name": "reportedBy", "displayName": "Reported by", "type": "string",
        "description": "who reported", "mandatory": False}), 201)


def api_user(hive, login, profile):
    """Creates user `login` with `profile` in `soc`; returns its new API key."""
    expect(v1(hive, "POST", "/api/v1/user", org=None, json={
        "login": login, "name": login.split("@")[0].title(), "profile": profile,
        "organisation": ORG}), 201)
    key = expect(v1(hive, "POST", f"/api/v1/user/{login}/key/renew", org=None), 200)
    assert isinstance(key, str) and len(key) >= 16, key
    return key


def admin_api(hive, version=3, organisation=ORG):
    """A thehive4py 1.8.2 client of the administrator (Basic auth) in `soc`."""
    return TheHiveApi(hive.url, ADMIN, PASSWORD, organisation=organisation, version=version)


def key_api(hive, key, version=3):
    """A thehive4py 1.8.2 client authenticated by API key (Bearer) in `soc`."""
    return TheHiveApi(hive.url, key, organisation=ORG, version=version)


# --------------------------------------------------------------------------------------------
# checks

def hashes(content):
    """[sha256, sha1, md5] of `content`, hex, as TheHive lists them."""
    return [hashlib.sha256(content).hexdigest(), hashlib.sha1(content).hexdigest(),
            hashlib.md5(content).hexdigest()]


def mime(content):
    """The content type thehive4py computes (libmagic) and sends for a file."""
    return magic.Magic(mime=True).from_buffer(content)


def recent(timestamp, within_ms=300_000):
    """True if `timestamp` (epoch ms) is within the last few minutes."""
    now = int(time.time() * 1000)
    return isinstance(timestamp, int) and not isinstance(timestamp, bool) and \
        now - within_ms <= timestamp <= now + 5_000


def v0(entity, kind, created_by=ADMIN):
    """Checks the v0 meta fields of `entity` (id == _id, _type, createdBy, createdAt)."""
    assert isinstance(entity, dict), entity
    assert isinstance(entity.get("id"), str) and entity["id"].startswith("~"), entity
    assert entity.get("_id") == entity["id"], entity
    assert entity.get("_type") == kind, entity
    assert entity.get("createdBy") == created_by, entity
    assert recent(entity.get("createdAt")), entity
    return entity


def updated(entity, by=ADMIN):
    """Checks that `entity` carries updatedBy/updatedAt."""
    assert entity.get("updatedBy") == by, entity
    assert recent(entity.get("updatedAt")), entity
    assert entity["updatedAt"] >= entity["createdAt"], entity
    return entity


def check_file(observable, name, content):
    """A file observable (v0 or v1) holds `content` named `name`: size, hashes, content type
    (what the client sent, from libmagic), attachment id = sha256, no `data`."""
    attachment = observable.get("attachment")
    assert isinstance(attachment, dict), observable
    assert attachment["name"] == name, attachment
    assert attachment["size"] == len(content), attachment
    assert attachment["hashes"] == hashes(content), attachment
    assert attachment["contentType"] == mime(content), attachment
    assert observable.get("data") is None, observable
    return attachment


def check_v0_file(observable, name, content):
    attachment = check_file(observable, name, content)
    assert attachment["id"] == hashes(content)[0], attachment
    return attachment


def unzip(content, password=b"malware"):
    """The single file of a password-protected zip, checking it cannot be read without the
    password."""
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        names = z.namelist()
        assert len(names) == 1, names
        info = z.getinfo(names[0])
        assert info.flag_bits & 0x1, "the zip entry is not encrypted"
        try:
            z.read(names[0])
            raise AssertionError("the zip entry was readable without a password")
        except RuntimeError:
            pass
        return z.read(names[0], pwd=password)


def total(response):
    """The X-Total header of a v0 search, as an int."""
    assert "X-Total" in response.headers, dict(response.headers)
    return int(response.headers["X-Total"])


def search(hive, kind, query=None, org=ORG, **params):
    """A raw v0 search `POST /api/<kind>/_search` as the administrator (params as given)."""
    return v1(hive, "POST", f"/api/{kind}/_search", org=org,
              json={"query": query if query is not None else {}}, params=params)
