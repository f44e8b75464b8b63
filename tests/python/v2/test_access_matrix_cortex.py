"""The access matrix of cortex-service (issue 13), generated from its OpenAPI document: every
operation as each kind of caller, the expectation of each cell stated once in ROWS; an
operation without a row (or a row without an operation) fails the test. Lists must show only
the caller's organization. Runs on SQLite and PostgreSQL.

  super       the superadmin (organization cortex)
  orgadmin    orgadmin, analyze and read in soc, which owns the workers and jobs below
  analyst     analyze and read in soc
  reader      read in soc
  other       orgadmin, analyze and read in other
  anonymous   no credential
  wrong_key   a Bearer key that is no key
"""
import json
import pathlib
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Optional

import pytest
import requests
from cortex4py.api import Api

from conftest import CORTEX_ADMIN_KEY, CORTEX_BIN, Service, _db_for, engine_env
from matrix import DENY, OK, UNAUTH, check_matrix, operations
CALLERS = ["super", "orgadmin", "analyst", "reader", "other", "anonymous", "wrong_key"]
ROLES = {"super": {"superadmin"}, "orgadmin": {"orgadmin", "analyze", "read"}, "analyst": {"analyze", "read"},
         "reader": {"read"}, "other": {"orgadmin", "analyze", "read"}}
ORG = {"super": "cortex", "orgadmin": "soc", "analyst": "soc", "reader": "soc", "other": "other"}


def public():
    return lambda who: OK


def anyone():
    return lambda who: OK if who in ROLES else UNAUTH


def soc(*roles):
    """OK for members of soc (which owns the objects) holding one of `roles`."""
    return lambda who: (UNAUTH if who not in ROLES else
                        OK if ORG[who] == "soc" and ROLES[who] & set(roles) else DENY)


def role(*roles):
    """OK for anyone holding one of `roles` (on its own organization's objects)."""
    return lambda who: UNAUTH if who not in ROLES else OK if ROLES[who] & set(roles) else DENY


def either(*rules):
    order = {OK: 0, DENY: 1, UNAUTH: 2}
    return lambda who: min((r(who) for r in rules), key=order.get)


def superadmin():
    return role("superadmin")


class World:
    def __init__(self, service):
        self.url = service.url
        self.admin = Api(service.url, CORTEX_ADMIN_KEY)
        self.keys = {"super": CORTEX_ADMIN_KEY}
        for o in ("soc", "other"):
            self.admin.organizations.create({"name": o, "description": o, "status": "Active"})
        for who, o, roles in (("orgadmin", "soc", ["read", "analyze", "orgadmin"]),
                              ("analyst", "soc", ["read", "analyze"]), ("reader", "soc", ["read"]),
                              ("other", "other", ["read", "analyze", "orgadmin"])):
            self.admin.users.create({"login": who, "name": who, "roles": roles, "organization": o})
            self.keys[who] = self.admin.users.renew_key(who)
        lead = Api(self.url, self.keys["orgadmin"])
        self.echo = lead.analyzers.enable("Echo_1_0", {"configuration": {}, "jobCache": 0}).id
        self.notify = lead.responders.enable("Notify_1_0", {"configuration": {}}).id
        self.job = self.run_job()
        r = self.http("orgadmin").post(f"{self.url}/api/analyzer/{self.echo}/run",
                                       files={"_json": (None, json.dumps({"dataType": "file", "tlp": 2})),
                                              "attachment": ("e.eml", b"From: a@b\r\n\r\nbody")})
        self.file_job = r.json()["id"]
        self.file_sha = r.json()["attachment"]["id"]
        self.wait(self.file_job)

    def http(self, who):
        s = requests.Session()
        if who == "wrong_key":
            s.headers["Authorization"] = "Bearer not-a-key"
        elif who != "anonymous":
            s.headers["Authorization"] = f"Bearer {self.keys[who]}"
        return s

    def run_job(self):
        r = self.http("orgadmin").post(f"{self.url}/api/analyzer/{self.echo}/run",
                                       json={"data": f"{uuid.uuid4().hex}.example", "dataType": "domain", "tlp": 2})
        job = r.json()["id"]
        self.wait(job)
        return job

    def wait(self, job):
        deadline = time.time() + 60
        while time.time() < deadline:
            r = self.http("orgadmin").get(f"{self.url}/api/job/{job}/waitreport", params={"atMost": "5second"})
            if r.json().get("status") in ("Success", "Failure"):
                return
        raise AssertionError(f"job {job} did not end")

    def user(self):
        login = "u" + uuid.uuid4().hex[:8]
        self.admin.users.create({"login": login, "name": login, "roles": ["read"], "organization": "soc"})
        self.admin.users.renew_key(login)
        return login


@dataclass
class Row:
    rule: Callable[[str], str]
    path: dict = field(default_factory=dict)
    json: object = None
    fresh: dict = field(default_factory=dict)
    ok: tuple = (200, 201, 204)
    query: dict = field(default_factory=dict)


fresh_user = {"u": lambda w: w.user()}
fresh_job = {"j": lambda w: w.run_job()}

ROWS = {
    ("GET", "/api/status"): Row(public()),
    ("POST", "/api/login"): Row(public(), json={"user": "nobody", "password": "x"}, ok=(401, 429)),
    ("GET", "/api/logout"): Row(public()),
    ("GET", "/api/user/current"): Row(anyone()),
    # organizations
    ("GET", "/api/organization"): Row(superadmin()),
    ("POST", "/api/organization/_search"): Row(superadmin(), json={"query": {}}),
    ("POST", "/api/organization/_stats"): Row(superadmin(), json={"query": {}, "stats": []}),
    ("GET", "/api/organization/{id}"): Row(either(superadmin(), soc("read", "orgadmin")), path={"id": "soc"}),
    ("POST", "/api/organization"): Row(superadmin(), json=lambda w: {"name": "o" + uuid.uuid4().hex[:6], "description": "d", "status": "Active"}),
    ("PATCH", "/api/organization/{id}"): Row(superadmin(), path={"id": "other"}, json={"description": "changed"}),
    ("DELETE", "/api/organization/{id}"): Row(superadmin(), path={"id": "o"}, fresh={"o": lambda w: w.admin.organizations.create({"name": "o" + uuid.uuid4().hex[:6], "description": "d", "status": "Active"}).id}),
    # users
    ("GET", "/api/user"): Row(superadmin()),
    ("POST", "/api/user/_search"): Row(superadmin(), json={"query": {}}),
    ("POST", "/api/organization/{org}/user/_search"): Row(either(superadmin(), soc("orgadmin")), path={"org": "soc"}, json={"query": {}}),
    ("POST", "/api/user"): Row(role("superadmin", "orgadmin"), json=lambda w, who: {"login": "n" + uuid.uuid4().hex[:8], "name": "n", "roles": ["read"], **({"organization": "soc"} if who == "super" else {})}),
    ("GET", "/api/user/{login}"): Row(either(superadmin(), soc("read", "orgadmin", "analyze")), path={"login": "u"}, fresh=fresh_user),
    ("PATCH", "/api/user/{login}"): Row(either(superadmin(), soc("orgadmin")), path={"login": "u"}, fresh=fresh_user, json={"name": "renamed"}),
    ("DELETE", "/api/user/{login}"): Row(either(superadmin(), soc("orgadmin")), path={"login": "u"}, fresh=fresh_user),
    ("POST", "/api/user/{login}/password/set"): Row(either(superadmin(), soc("orgadmin")), path={"login": "u"}, fresh=fresh_user, json={"password": "new-one"}),
    ("POST", "/api/user/{login}/password/change"): Row(lambda who: UNAUTH if who not in ROLES else DENY, path={"login": "u"}, fresh=fresh_user, json={"password": "x", "currentPassword": "y"}),
    ("GET", "/api/user/{login}/key"): Row(either(superadmin(), soc("orgadmin")), path={"login": "u"}, fresh=fresh_user),
    ("POST", "/api/user/{login}/key/renew"): Row(either(superadmin(), soc("orgadmin")), path={"login": "u"}, fresh=fresh_user),
    ("POST", "/api/user/{login}/key/set"): Row(either(superadmin(), soc("orgadmin")), path={"login": "u"}, fresh=fresh_user, json=lambda w: {"key": uuid.uuid4().hex + uuid.uuid4().hex}),
    ("DELETE", "/api/user/{login}/key"): Row(either(superadmin(), soc("orgadmin")), path={"login": "u"}, fresh=fresh_user),
    # workers: definitions, configurations, the organization's workers
    ("GET", "/api/analyzerdefinition"): Row(role("superadmin", "orgadmin")),
    ("GET", "/api/responderdefinition"): Row(role("superadmin", "orgadmin")),
    ("POST", "/api/analyzerdefinition/scan"): Row(role("superadmin", "orgadmin")),
    ("POST", "/api/responderdefinition/scan"): Row(role("superadmin", "orgadmin")),
    ("GET", "/api/analyzerconfig"): Row(role("orgadmin")),
    ("GET", "/api/responderconfig"): Row(role("orgadmin")),
    ("GET", "/api/analyzerconfig/{name}"): Row(role("orgadmin"), path={"name": "Echo"}),
    ("GET", "/api/responderconfig/{name}"): Row(role("orgadmin"), path={"name": "Notify"}),
    ("PATCH", "/api/analyzerconfig/{name}"): Row(role("orgadmin"), path={"name": "Echo"}, json={"config": {}}),
    ("PATCH", "/api/responderconfig/{name}"): Row(role("orgadmin"), path={"name": "Notify"}, json={"config": {}}),
    ("GET", "/api/{kind}"): Row(role("read"), path={"kind": "analyzer"}),
    ("GET", "/api/organization/{kind}"): Row(role("read", "orgadmin"), path={"kind": "analyzer"}),
    ("POST", "/api/{kind}/_search"): Row(role("read"), path={"kind": "analyzer"}, json={"query": {}}),
    ("POST", "/api/organization/{kind}/_search"): Row(role("read", "orgadmin"), path={"kind": "analyzer"}, json={"query": {}}),
    ("GET", "/api/{kind}/type/{id}"): Row(role("read"), path={"kind": "analyzer", "id": "domain"}),
    ("GET", "/api/{kind}/{id}"): Row(soc("read"), path={"kind": "analyzer", "id": lambda w, f: w.echo}),
    ("POST", "/api/organization/{kind}/{id}"): Row(role("orgadmin"), path={"kind": "analyzer", "id": "Taxo_1_0"}, json={"configuration": {}}, ok=(200, 201, 400)),
    ("PATCH", "/api/{kind}/{id}"): Row(soc("orgadmin"), path={"kind": "analyzer", "id": lambda w, f: w.echo}, json={"jobCache": 0}),
    # Denied callers try it on the world's responder too: after orgadmin disabled it, it is gone (404).
    ("DELETE", "/api/{kind}/{id}"): Row(soc("orgadmin"), path={"kind": "responder", "id": lambda w, f: w.notify}),
    ("GET", "/api/alert"): Row(role("read")),
    # jobs
    ("POST", "/api/{kind}/{id}/run"): Row(soc("analyze"), path={"kind": "analyzer", "id": lambda w, f: w.echo}, json=lambda w: {"data": f"{uuid.uuid4().hex}.example", "dataType": "domain", "tlp": 2}),
    ("GET", "/api/job"): Row(role("read")),
    ("POST", "/api/job/_search"): Row(role("read"), json={"query": {}}),
    ("POST", "/api/job/status"): Row(role("read"), json=lambda w: {"jobIds": [w.job]}),
    ("GET", "/api/job/{id}"): Row(soc("read"), path={"id": lambda w, f: w.job}),
    ("GET", "/api/job/{id}/report"): Row(soc("read"), path={"id": lambda w, f: w.job}),
    ("GET", "/api/job/{id}/waitreport"): Row(soc("read"), path={"id": lambda w, f: w.job}, query={"atMost": "1second"}),
    ("GET", "/api/job/{id}/artifacts"): Row(soc("read"), path={"id": lambda w, f: w.job}),
    ("DELETE", "/api/job/{id}"): Row(soc("analyze", "orgadmin"), path={"id": "j"}, fresh=fresh_job),
    ("GET", "/api/datastore/{hash}"): Row(soc("read"), path={"hash": lambda w, f: w.file_sha}),
    ("GET", "/api/datastorezip/{hash}"): Row(soc("read"), path={"hash": lambda w, f: w.file_sha}),
}


@pytest.fixture
def world(backend):
    env = engine_env(None)
    s = Service(CORTEX_BIN, "CORTEX", _db_for(backend), env)
    try:
        yield World(s)
    finally:
        s.stop()


def call(world, who, method, path, row):
    fresh = {name: make(world) for name, make in row.fresh.items()}
    url = path
    for name, value in row.path.items():
        v = value(world, fresh) if callable(value) else fresh.get(value, value)
        url = url.replace("{" + name + "}", str(v))
    kw = {"timeout": 90}
    if row.json is not None:
        body = row.json
        if callable(body):
            body = body(world, who) if body.__code__.co_argcount == 2 else body(world)
        kw["json"] = body
    if row.query:
        kw["params"] = row.query
    return world.http(who).request(method, world.url + url, **kw), url


def test_every_cortex_operation_has_a_row_and_every_cell_holds(world):
    doc = requests.get(world.url + "/api-docs/openapi.json").json()
    ops = operations(doc, rename=lambda p: p.replace("{kind:analyzer|responder}", "{kind}"))
    check_matrix(ops, ROWS, CALLERS, lambda method, path, row, who: call(world, who, method, path, row))


def test_cortex_lists_show_only_the_callers_organization(world):
    mine = {world.job, world.file_job}
    for who in ("other", "super"):
        s = world.http(who)
        for method, path, body in (("GET", "/api/job", None), ("POST", "/api/job/_search", {"query": {}}),
                                   ("GET", "/api/analyzer", None), ("POST", "/api/analyzer/_search", {"query": {}})):
            r = s.request(method, world.url + path, params={"range": "all"}, json=body)
            if r.status_code == 200:
                ids = {x.get("id") for x in r.json()}
                assert not ids & (mine | {world.echo}), (who, path)
    r = world.http("reader").get(world.url + "/api/job", params={"range": "all"})
    assert mine <= {x["id"] for x in r.json()}


# --------------------------------------------------------------------------- the console
# cortex-service's console (issue 18): every route registered by cortex-service/src/console/
# mod.rs has a row; each caller, with its session cookie, gets a page only with the role the
# API asks for the same reads (403 otherwise), another organization's job answers 404, and no
# page shows an id of an object of another organization. Without a session, or with an API key
# only, a page sends the browser to the login page.

CONSOLE_SRC = pathlib.Path(__file__).resolve().parents[3] / "cortex-service" / "src" / "console" / "mod.rs"
CONSOLE = {
    "/": {"paths": ["/"], "rule": "home"},
    "/login": {"paths": ["/login"], "rule": "public"},
    "/ui/{file}": {"paths": ["/ui/app.js", "/ui/app.css"], "rule": "public"},
    "/jobs": {"paths": ["/jobs", "/jobs?status=Success", "/jobs?worker=Echo_1_0&type=domain&data=example"], "rule": "read"},
    "/jobs/{id}": {"paths": ["/jobs/{job}", "/jobs/{file_job}"], "rule": "read-soc"},
    "/workers": {"paths": ["/workers", "/workers?kind=responder", "/workers?kind=analyzer&q=echo&type=domain"],
                 "rule": "orgadmin"},
    "/workers/{kind}/{id}": {"paths": ["/workers/analyzer/Echo_1_0", "/workers/responder/Notify_1_0"],
                             "rule": "orgadmin"},
    "/users": {"paths": ["/users"], "rule": "admin"},
    "/configs": {"paths": ["/configs", "/configs?kind=responder", "/configs?kind=analyzer&q=echo"],
                 "rule": "orgadmin"},
}
PASSWORD = "Correct-horse-42"


def console_routes():
    return set(re.findall(r'\.route\(\s*"([^"]+)"', CONSOLE_SRC.read_text()))


def test_every_cortex_console_route_has_a_row():
    routes = console_routes()
    assert routes and routes == set(CONSOLE), (routes - set(CONSOLE), set(CONSOLE) - routes)


def test_cortex_console_pages_follow_the_roles_and_the_organization(world):
    superadmin = {"Authorization": f"Bearer {CORTEX_ADMIN_KEY}"}
    sessions = {}
    for who in ROLES:
        login = requests.get(world.url + "/api/user/current", headers=world.http(who).headers).json()["id"]
        r = requests.post(f"{world.url}/api/user/{login}/password/set", headers=superadmin, json={"password": PASSWORD})
        assert r.status_code in (200, 204), r.text
        s = requests.Session()
        assert s.post(world.url + "/api/login", json={"user": login, "password": PASSWORD}).status_code == 200
        sessions[who] = s
    # A base configuration of soc's, which no other organization's page may show.
    r = world.http("orgadmin").patch(world.url + "/api/analyzerconfig/global",
                                     json={"config": {"proxy_http": "http://soc-proxy.example:3128"}})
    assert r.status_code == 200, r.text
    soc_ids = {world.job, world.file_job, world.echo, world.notify, "soc-proxy.example"}
    failures = []
    for route, row in CONSOLE.items():
        for path in row["paths"]:
            path = path.format(job=world.job, file_job=world.file_job)
            for label, client in (("anonymous", requests.Session()), ("api key", world.http("orgadmin"))):
                r = client.get(world.url + path, allow_redirects=False)
                if row["rule"] == "public":
                    ok = r.status_code == 200
                else:
                    ok = r.status_code == 303 and r.headers.get("Location", "").startswith("/login?next=")
                if not ok:
                    failures.append(f"{path} as {label}: {r.status_code}")
            for who, s in sessions.items():
                r = s.get(world.url + path, allow_redirects=False)
                roles = ROLES[who]
                want = {
                    "public": 200,
                    "home": 303,
                    "read": 200 if "read" in roles else 403,
                    "read-soc": (200 if ORG[who] == "soc" else 404) if "read" in roles else 403,
                    "orgadmin": 200 if "orgadmin" in roles else 403,
                    "admin": 200 if roles & {"orgadmin", "superadmin"} else 403,
                }[row["rule"]]
                if r.status_code != want:
                    failures.append(f"{path} as {who}: {r.status_code}, not {want}")
                if r.status_code == 200 and ORG[who] != "soc" and row["rule"] != "public":
                    shown = [i for i in soc_ids if i in r.text]
                    if shown:
                        failures.append(f"{path} as {who} shows soc's {shown}")
    # Users: another organization's orgadmin sees its own people only, the superadmin everyone.
    other_users = sessions["other"].get(world.url + "/users").text
    assert 'data-login="other"' in other_users
    assert not [u for u in ("orgadmin", "analyst", "reader") if f'data-login="{u}"' in other_users]
    every = sessions["super"].get(world.url + "/users").text
    assert all(f'data-login="{u}"' in every for u in ("orgadmin", "analyst", "reader", "other"))
    # Not vacuous: soc's reader sees soc's job in the list, soc's orgadmin the enabled worker.
    assert world.job in sessions["reader"].get(world.url + "/jobs").text
    assert world.echo in sessions["orgadmin"].get(world.url + "/workers").text
    assert not failures, "\n".join(failures)
