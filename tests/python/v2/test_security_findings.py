"""The findings of the outside probe (issue 13), each reproduced as the probe did it, on SQLite and
PostgreSQL: the account takeover, the share and restriction leaks, uploads that fill the disk,
sessions that outlive logout, lockouts as a denial of service, deep filters, secrets in the
access log, bodies read before the caller is known, and bad input accepted silently."""
import io
import json
import os
import time
import zipfile

import pytest
import requests
from requests.adapters import HTTPAdapter

from tenants import ADMIN, PASSWORD, Client, Tenants

MiB = 1024 * 1024


def datastore_bytes(hive):
    total = 0
    for root, _dirs, files in os.walk(os.path.join(hive.dir, "datastore")):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except FileNotFoundError:
                pass
    return total


def error(r):
    return r.status_code, r.json().get("type")


# ------------------------------------------------------------------ 1. account takeover

def test_org_admin_cannot_take_over_an_existing_account(hive):
    t = Tenants(hive)
    alpha = t.as_("alpha", "admin")
    for victim in (ADMIN, t.logins[("beta", "analyst")]):
        r = alpha.post("/api/v1/user", json={"login": victim, "name": "mine now", "profile": "analyst"})
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["type"] == "CreateError"
        # Nothing of the account's own organisations is revealed.
        rest = body["message"].replace(victim, "")
        assert "beta" not in rest and "admin" not in rest and "organisation" not in rest.lower(), r.text
        # The account did not join alpha, so alpha's admin manages none of it.
        for path, kw in ((f"/api/v1/user/{victim}/password/set", {"json": {"password": "owned"}}),
                         (f"/api/v1/user/{victim}/key/renew", {})):
            r = alpha.post(path, **kw)
            assert r.status_code in (403, 404), (path, r.status_code, r.text)
        r = alpha.patch(f"/api/v1/user/{victim}", json={"locked": True})
        assert r.status_code in (403, 404), r.text
    # The platform administrator still logs in with its password, in its organisations only.
    me = Client(hive.url, basic=(ADMIN, PASSWORD)).ok("GET", "/api/v1/user/current")
    assert sorted(o["organisation"] for o in me["organisations"]) == ["admin"]
    beta_analyst = t.as_("beta", "analyst").ok("GET", "/api/v1/user/current")
    assert [o["organisation"] for o in beta_analyst["organisations"]] == ["beta"]


def test_org_admin_manages_secrets_only_of_accounts_wholly_in_its_organisations(hive):
    t = Tenants(hive)
    t.add_user("both@alpha.test", [("alpha", "analyst"), ("beta", "analyst")])
    alpha = t.as_("alpha", "admin")
    # Visible (a member of alpha), but also of beta, which alpha's admin does not administer.
    assert alpha.ok("GET", "/api/v1/user/both@alpha.test")["login"] == "both@alpha.test"
    for method, path, kw in (("POST", "/api/v1/user/both@alpha.test/password/set", {"json": {"password": "x1"}}),
                             ("POST", "/api/v1/user/both@alpha.test/key/renew", {}),
                             ("DELETE", "/api/v1/user/both@alpha.test/key", {}),
                             ("PATCH", "/api/v1/user/both@alpha.test", {"json": {"locked": True}}),
                             ("DELETE", "/api/v1/user/both@alpha.test", {})):
        r = alpha.request(method, path, **kw)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
    # Its own members it still manages; the profile of a membership in alpha too.
    alpha.ok("POST", f"/api/v1/user/{t.logins[('alpha', 'reader')]}/password/set", json={"password": "new-one"})
    alpha.ok("PATCH", "/api/v1/user/both@alpha.test", json={"profile": "read-only"})
    # Only a platform administrator changes memberships, and an org-admin's PUT is refused.
    r = alpha.put(f"/api/v1/user/{t.logins[('beta', 'reader')]}/organisations",
                  json={"organisations": [{"organisation": "alpha", "profile": "analyst"}]})
    assert r.status_code in (403, 404), r.text


# ------------------------------------------------------------------ 2. shares leak

def shared_case(t):
    """A case of alpha with a task (a log in the timeline, a file), a file observable and an IOC,
    shared read-only with beta under manual rules, nothing of it shared."""
    alpha = t.as_("alpha", "admin")
    case = alpha.ok("POST", "/api/v1/case", json={"title": "shared", "description": "d"})
    task = alpha.ok("POST", f"/api/v1/case/{case['_id']}/task", json={"title": "secret task"})
    alpha.ok("POST", f"/api/v1/task/{task['_id']}/log",
             files={"_json": (None, json.dumps({"message": "secret log", "includeInTimeline": 1})),
                    "attachments": ("log.txt", b"secret log file bytes")})
    alpha.ok("POST", f"/api/v1/case/{case['_id']}/observable",
             files={"_json": (None, json.dumps({"dataType": "file", "ioc": True})),
                    "attachment": ("secret.bin", b"secret observable file bytes")})
    alpha.ok("POST", f"/api/v1/case/{case['_id']}/observable",
             json={"dataType": "ip", "data": "10.9.8.7", "ioc": True})
    alpha.ok("POST", f"/api/v1/case/{case['_id']}/shares", json={"shares": [
        {"organisation": "beta", "profile": "read-only", "taskRule": "manual", "observableRule": "manual"}]})
    return case, task


def test_a_share_exports_and_shows_in_the_timeline_only_what_it_shares(hive):
    t = Tenants(hive)
    case, task = shared_case(t)
    beta = t.as_("beta", "analyst")
    assert beta.ok("GET", f"/api/v1/case/{case['_id']}")["title"] == "shared"

    def exported():
        r = beta.get(f"/api/v1/case/{case['_id']}/export", params={"password": "pw"})
        assert r.status_code == 200, r.text
        z = zipfile.ZipFile(io.BytesIO(r.content))
        doc = json.loads(z.read("case.json", pwd=b"pw"))
        files = [n for n in z.namelist() if n.startswith("files/")]
        blobs = b"".join(z.read(n, pwd=b"pw") for n in files)
        return doc, blobs

    doc, blobs = exported()
    assert doc["tasks"] == [] and doc["observables"] == [], doc
    assert b"secret" not in blobs
    events = beta.ok("GET", f"/api/v1/case/{case['_id']}/timeline")["events"]
    assert {e["entity"] for e in events} <= {"Case", "Alert", "Procedure", "Custom", "Audit"}, events
    # The audit's entries are those of the case itself (its creation, the share), none of the
    # task, log or observables beta cannot read.
    audited = {e["details"]["objectType"] for e in events if e["entity"] == "Audit"}
    assert audited == {"Case"}, events
    assert "secret" not in json.dumps(events)
    # Once the task is shared, it and its log (and its file) come along; the observables not.
    t.as_("alpha", "admin").ok("POST", f"/api/v1/task/{task['_id']}/shares", json={"organisations": ["beta"]})
    doc, blobs = exported()
    assert [x["task"]["title"] for x in doc["tasks"]] == ["secret task"]
    assert [l["message"] for l in doc["tasks"][0]["logs"]] == ["secret log"]
    assert doc["observables"] == []
    assert blobs == b"secret log file bytes"
    events = beta.ok("GET", f"/api/v1/case/{case['_id']}/timeline")["events"]
    assert {e["entity"] for e in events} >= {"Task", "Log"} and "Observable" not in {e["entity"] for e in events}
    audited = {e["details"]["objectType"] for e in events if e["entity"] == "Audit"}
    assert "Observable" not in audited and "secret observable" not in json.dumps(events), events


# ------------------------------------------------------------------ 3. restricted cases

def test_a_case_restricted_to_named_users_is_hidden_from_the_query_api(hive):
    t = Tenants(hive)
    alpha = t.as_("alpha", "admin")
    other = t.as_("alpha", "analyst")
    obs = [{"dataType": "domain", "data": "restricted.example"}]
    alert = alpha.ok("POST", "/api/v1/alert", json={
        "type": "t", "source": "s", "sourceRef": "r1", "title": "merged", "description": "d", "observables": obs})
    twin = alpha.ok("POST", "/api/v1/alert", json={
        "type": "t", "source": "s", "sourceRef": "r2", "title": "twin", "description": "d", "observables": obs})
    case = alpha.ok("POST", "/api/v1/case", json={"title": "restricted", "description": "only me"})
    alpha.ok("POST", f"/api/v1/case/{case['_id']}/task", json={"title": "hidden task"})
    comment = alpha.ok("POST", f"/api/v1/case/{case['_id']}/comment", json={"message": "hidden comment"})
    alpha.ok("POST", f"/api/v1/alert/{alert['_id']}/merge/{case['_id']}")
    alpha.ok("POST", f"/api/v1/case/{case['_id']}/access",
             json={"access": {"_kind": "UserAccessKind", "users": [t.logins[("alpha", "admin")]]}})
    # The named user sees it all.
    seen = alpha.query({"_name": "getAlert", "idOrName": alert["_id"]}, {"_name": "case"}).json()
    assert [k["_id"] for k in seen] == [case["_id"]]
    # Others of the organisation see none of it, by any path.
    assert other.get(f"/api/v1/case/{case['_id']}").status_code == 404
    for tail in ([], [{"_name": "tasks"}], [{"_name": "observables"}], [{"_name": "comments"}]):
        r = other.query({"_name": "getAlert", "idOrName": alert["_id"]}, {"_name": "case"}, *tail)
        assert r.status_code == 200 and r.json() == [], (tail, r.text)
    r = other.query({"_name": "listComment"}, {"_name": "filter", "_like": {"_field": "message", "_value": "hidden*"}})
    assert r.status_code == 200 and r.json() == [], r.text
    r = other.query({"_name": "listComment"})
    assert all(c["_id"] != comment["_id"] for c in r.json()), r.text
    r = other.query({"_name": "getComment", "idOrName": comment["_id"]})
    assert r.status_code in (200, 404) and (r.status_code == 404 or r.json() == []), r.text
    r = other.query({"_name": "getAlert", "idOrName": twin["_id"]}, {"_name": "similarCasesLight"})
    assert r.status_code == 200 and r.json() == [], r.text
    r = other.query({"_name": "listAlert"}, {"_name": "similarCasesLight"})
    assert r.status_code == 200 and r.json() == [], r.text
    r = alpha.query({"_name": "getAlert", "idOrName": twin["_id"]}, {"_name": "similarCasesLight"})
    assert [x["case"]["_id"] for x in r.json()] == [case["_id"]]


def test_alerts_reach_no_case_their_caller_may_not_see_or_change(hive):
    """Found by the review of the access layer: promoting an alert already imported into a
    restricted case answered that case; merging into a case shared read-only changed it;
    adding an observable a partner cannot see answered the owner's."""
    t = Tenants(hive)
    alpha, other = t.as_("alpha", "admin"), t.as_("alpha", "analyst")
    alert = alpha.ok("POST", "/api/v1/alert", json={"type": "t", "source": "s", "sourceRef": "p1",
                                                    "title": "promoted", "description": "d"})
    case = alpha.ok("POST", f"/api/v1/alert/{alert['_id']}/case", json={})
    alpha.ok("POST", f"/api/v1/case/{case['_id']}/access",
             json={"access": {"_kind": "UserAccessKind", "users": [t.logins[("alpha", "admin")]]}})
    r = other.post(f"/api/v1/alert/{alert['_id']}/case", json={})
    assert r.status_code == 404 and "promoted" not in r.text, r.text
    r = other.post(f"/api/alert/{alert['_id']}/createCase", json={})
    assert r.status_code == 404 and "promoted" not in r.text, r.text
    # A partner with a read-only share cannot merge its alert into the case.
    shared = alpha.ok("POST", "/api/v1/case", json={"title": "shared ro", "description": "d"})
    alpha.ok("POST", f"/api/v1/case/{shared['_id']}/shares", json={"shares": [
        {"organisation": "beta", "profile": "read-only"}]})
    beta = t.as_("beta", "admin")
    b_alert = beta.ok("POST", "/api/v1/alert", json={"type": "t", "source": "s", "sourceRef": "b1",
                                                     "title": "beta", "description": "overwrite"})
    for path in (f"/api/v1/alert/{b_alert['_id']}/merge/{shared['_id']}",
                 f"/api/v1/alert/{b_alert['_id']}/import/{shared['_id']}"):
        r = beta.post(path)
        assert r.status_code == 403, (path, r.text)
    assert alpha.ok("GET", f"/api/v1/case/{shared['_id']}")["description"] == "d"
    # A partner allowed to add observables does not get (nor change) the owner's hidden one.
    alpha.ok("PUT", f"/api/v1/case/{shared['_id']}/shares", json={"shares": [
        {"organisation": "beta", "profile": "analyst", "observableRule": "manual"}]})
    hidden = alpha.ok("POST", f"/api/v1/case/{shared['_id']}/observable",
                      json={"dataType": "ip", "data": "10.66.66.66", "message": "owner's secret note"})[0]
    [mine] = beta.ok("POST", f"/api/v1/case/{shared['_id']}/observable",
                     json={"dataType": "ip", "data": "10.66.66.66", "tags": ["beta"]})
    assert mine["_id"] != hidden["_id"] and mine.get("message") != "owner's secret note"
    assert alpha.ok("GET", f"/api/v1/observable/{hidden['_id']}")["tags"] == []
    # Merging a case restricted to named users would open it to the organisation: refused.
    r = alpha.post(f"/api/v1/case/_merge/{case['_id']},{shared['_id']}")
    assert error(r) == (400, "BadRequest"), r.text
    assert other.get(f"/api/v1/case/{case['_id']}").status_code == 404


# ------------------------------------------------------------------ 4. uploads

def zip_of(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, size in entries:
            with z.open(name, "w", force_zip64=True) as f:
                chunk = b"\0" * MiB
                for _ in range(size // MiB):
                    f.write(chunk)
    return buf.getvalue()


def test_uploads_stay_within_their_limits_and_leave_nothing_behind(hive):
    t = Tenants(hive)
    alpha = t.as_("alpha", "admin")
    case = alpha.ok("POST", "/api/v1/case", json={"title": "uploads", "description": "d"})
    before = datastore_bytes(hive)

    # A 300 KB case archive of three 100 MiB entries.
    bomb = zip_of([("case.json", 0)] + [(f"files/{'0' * 63}{i}", 100 * MiB) for i in range(3)])
    assert len(bomb) < 1024 * 1024
    r = alpha.post("/api/v1/case/import", files={"_json": (None, json.dumps({"password": "x"})),
                                                  "file": ("bomb.thar", bomb)})
    assert r.status_code in (400, 413), r.text
    assert datastore_bytes(hive) == before

    # An isZip observable inflating to 180 MiB.
    r = alpha.post(f"/api/v1/case/{case['_id']}/observable",
                   files={"_json": (None, json.dumps({"dataType": "file", "isZip": True})),
                          "attachment": ("big.zip", zip_of([("big.bin", 180 * MiB)]))})
    assert r.status_code == 413, r.text
    assert datastore_bytes(hive) == before

    # A read-only user's 8 MB attachment.
    reader = t.as_("alpha", "reader")
    r = reader.post(f"/api/v1/case/{case['_id']}/attachments",
                    files={"attachments": ("big.bin", os.urandom(8 * MiB))})
    assert r.status_code == 403, r.text
    assert datastore_bytes(hive) == before


def test_the_sweeper_removes_files_no_row_references(backend):
    from conftest import HIVE_BIN, Service, _db_for
    hive = Service(HIVE_BIN, "HIVE", _db_for(backend), {
        "HIVE__DATASTORE__SWEEP_GRACE_SECS": "1", "HIVE__DATASTORE__SWEEP_INTERVAL_SECS": "1"})
    try:
        t = Tenants(hive)
        alpha = t.as_("alpha", "admin")
        case = alpha.ok("POST", "/api/v1/case", json={"title": "kept", "description": "d"})
        alpha.ok("POST", f"/api/v1/case/{case['_id']}/observable",
                 files={"_json": (None, json.dumps({"dataType": "file"})),
                        "attachment": ("kept.txt", b"a referenced file")})
        orphan = os.path.join(hive.dir, "datastore", "ab", "ab" + "c" * 62)
        os.makedirs(os.path.dirname(orphan), exist_ok=True)
        with open(orphan, "wb") as f:
            f.write(b"nobody references me")
        past = time.time() - 3600
        os.utime(orphan, (past, past))
        deadline = time.time() + 20
        while os.path.exists(orphan) and time.time() < deadline:
            time.sleep(0.2)
        assert not os.path.exists(orphan)
        [o] = alpha.query({"_name": "getCase", "idOrName": case["_id"]}, {"_name": "observables"}).json()
        r = alpha.get(f"/api/v1/observable/{o['_id']}/attachment/{o['attachment']['id']}/download")
        assert r.status_code == 200 and r.content == b"a referenced file"
    finally:
        hive.stop()


# ------------------------------------------------------------------ 5. sessions, lockouts, filters, logs

def test_logout_ends_the_session_for_cookie_and_token(hive):
    s = requests.Session()
    r = s.post(hive.url + "/api/v1/login", json={"user": ADMIN, "password": PASSWORD})
    assert r.status_code == 200
    token = r.json()["token"]
    cookie = s.cookies.get("THEHIVE-SESSION")
    assert s.get(hive.url + "/api/v1/user/current").status_code == 200
    assert s.get(hive.url + "/api/v1/logout").status_code == 204
    assert requests.get(hive.url + "/api/v1/user/current", cookies={"THEHIVE-SESSION": cookie}).status_code == 401
    assert requests.get(hive.url + "/api/v1/user/current",
                        headers={"Authorization": f"Bearer {token}"}).status_code == 401


class FromAddress(HTTPAdapter):
    """Connects from another loopback address, as a client on another host would."""

    def __init__(self, address):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def attacker_session():
    s = requests.Session()
    s.mount("http://", FromAddress("127.0.0.2"))
    return s


def test_failed_logins_do_not_lock_out_the_rightful_owner(hive):
    attacker = attacker_session()
    statuses = []
    for i in range(30):
        r = attacker.post(hive.url + "/api/v1/login", json={"user": ADMIN, "password": f"guess{i}"})
        statuses.append(r.status_code)
    assert set(statuses) <= {401, 429} and 429 in statuses, statuses
    # The owner, from elsewhere, logs in; Basic-auth feeders keep working.
    started = time.time()
    r = requests.post(hive.url + "/api/v1/login", json={"user": ADMIN, "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert time.time() - started < 5
    assert requests.get(hive.url + "/api/v1/user/current", auth=(ADMIN, PASSWORD)).status_code == 200
    # The attacker's address stays throttled, whatever account it tries.
    r = attacker.post(hive.url + "/api/v1/login", json={"user": "nobody@x", "password": "x"})
    assert r.status_code == 429 and r.json()["type"] == "TooManyRequests"
    # Each failure and the throttling are in the log.
    with open(os.path.join(hive.dir, "service.log")) as f:
        log = f.read()
    assert log.count("login failed") >= 10 and "127.0.0.2" in log and "throttled" in log


def test_filters_with_many_clauses_answer_without_a_server_error(hive):
    t = Tenants(hive)
    alpha = t.as_("alpha", "admin")
    alpha.ok("POST", "/api/v1/alert", json={"type": "t", "source": "s", "sourceRef": "one", "title": "x500",
                                            "description": "d"})
    ors = [{"_field": "title", "_value": f"x{i}"} for i in range(999)]
    r = alpha.query({"_name": "listAlert"}, {"_name": "filter", "_or": ors})
    assert r.status_code == 200, r.text
    assert [a["title"] for a in r.json()] == ["x500"]
    r = alpha.post("/api/alert/_search", params={"range": "all"},
                   json={"query": {"_or": [{"_field": "title", "_value": f"x{i}"} for i in range(999)]}})
    assert r.status_code == 200, r.text
    assert [a["title"] for a in r.json()] == ["x500"]
    # Past the limits, a clear 400: nested too deep for a filter, or for JSON itself.
    for depth, kind in ((40, "SearchError"), (200, "BadRequest")):
        deep = {"_field": "title", "_value": "x"}
        for _ in range(depth):
            deep = {"_not": deep}
        r = alpha.query({"_name": "listAlert"}, {"_name": "filter", **deep})
        assert error(r) == (400, kind), r.text
    r = alpha.query({"_name": "listAlert"}, {"_name": "filter", "_or": [
        {"_field": "title", "_value": f"x{i}"} for i in range(20_000)]})
    assert error(r) == (400, "SearchError"), r.text
    # More values than the database takes in one statement: a 400, not the database's error.
    many = [{"_in": {"_field": "title", "_values": [f"v{j}-{i}" for i in range(9_000)]}} for j in range(8)]
    r = alpha.query({"_name": "listAlert"}, {"_name": "filter", "_or": many})
    assert error(r) == (400, "SearchError"), r.text


def test_secrets_in_query_strings_stay_out_of_the_log(hive):
    t = Tenants(hive)
    alpha = t.as_("alpha", "admin")
    case = alpha.ok("POST", "/api/v1/case", json={"title": "exported", "description": "d"})
    r = alpha.get(f"/api/v1/case/{case['_id']}/export", params={"password": "Very-Secret-Zip-Pw"})
    assert r.status_code == 200
    r = requests.get(hive.url + "/api/v1/user/current", params={"api_key": "Not-In-Logs-Key"})
    assert r.status_code == 401
    time.sleep(0.5)
    with open(os.path.join(hive.dir, "service.log")) as f:
        log = f.read()
    assert "/export" in log
    assert "Very-Secret-Zip-Pw" not in log and "Not-In-Logs-Key" not in log
    assert t.keys[("alpha", "admin")] not in log


def test_the_caller_is_known_before_the_body_is_read(hive):
    wrong = Client(hive.url, key="not-a-key")
    openapi = requests.get(hive.url + "/api-docs/openapi.json").json()
    public = {"/api/v1/login", "/api/login", "/api/v1/logout", "/api/logout"}
    checked = 0
    for path, item in openapi["paths"].items():
        for method in ("post", "put", "patch"):
            if method not in item or path in public:
                continue
            concrete = path.replace("{", "").replace("}", "")
            r = wrong.request(method.upper(), concrete, data=b"{not json", headers={"Content-Type": "application/json"})
            assert error(r) == (401, "AuthenticationError"), (method, path, r.status_code, r.text)
            checked += 1
    assert checked > 50


# ------------------------------------------------------------------ 6. bad input

def test_unknown_fields_are_refused_and_rendered_ones_ignored(hive):
    t = Tenants(hive)
    alpha = t.as_("alpha", "admin")
    r = alpha.post("/api/v1/case", json={"title": "typo", "description": "d", "tpl": 2})
    assert error(r) == (400, "AttributeCheckingError") and "tpl" in r.json()["message"], r.text
    r = alpha.post("/api/v1/case", json={"title": "bad tlp", "description": "d", "tlp": "red"})
    assert error(r) == (400, "AttributeCheckingError")
    assert r.json()["message"] == "tlp: expected a number 0-4", r.text
    # Nothing was created by the refused requests.
    assert alpha.query({"_name": "listCase"}).json() == []
    # A whole rendered object posted back (a backup restored through the API) is accepted.
    case = alpha.ok("POST", "/api/v1/case", json={"title": "original", "description": "d", "tlp": 3})
    copy = alpha.ok("POST", "/api/v1/case", json=case)
    assert copy["_id"] != case["_id"] and copy["title"] == "original" and copy["tlp"] == 3
    r = alpha.patch(f"/api/v1/case/{case['_id']}", json={"title": "renamed", "sevrity": 3})
    assert error(r) == (400, "AttributeCheckingError") and "sevrity" in r.json()["message"], r.text
    assert alpha.ok("GET", f"/api/v1/case/{case['_id']}")["title"] == "original"
    r = alpha.post("/api/v1/alert", json={"type": "t", "source": "s", "sourceRef": "x", "title": "a",
                                          "description": "d", "observables": [{"dataType": "ip", "dta": "1.2.3.4"}]})
    assert error(r) == (400, "AttributeCheckingError") and "dta" in r.json()["message"], r.text
