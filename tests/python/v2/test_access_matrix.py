"""The access matrix of hive-service (issue 13), generated from the API itself.

Every operation of the OpenAPI document, every Query API selection and traversal (the
document's `x-query-operations`) and every v0 `_search` kind is run as each kind of caller:

  admin       org-admin of alpha, the organisation owning everything below
  analyst     analyst of alpha, named in the restricted case
  reader      read-only of alpha
  outsider    analyst of alpha, not named in the restricted case
  partner_ro  analyst of beta; alpha's case K1 is shared with beta read-only, rules manual
  partner_rw  analyst of delta; K1 is shared with delta as analyst, rules autoShare
  stranger    org-admin of gamma, which nothing is shared with
  platform    the platform administrator, acting in organisation admin
  anonymous   no credential
  wrong_key   a Bearer key that is no key

The expectation of every cell is stated once, in ROWS below, as a rule over these callers;
an operation of the document without a row fails the test, and so does a row no operation
has. By-id cells expect a 2xx (OK), a 403/404 (DENY) or a 401 (UNAUTH); write cells run on
fresh objects with the same visibility as the world's, so that no cell depends on another.
Lists (v1 selections, traversals, v0 searches) must show each caller exactly the objects of
the world it may see. Runs on SQLite and PostgreSQL.
"""
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Callable, Optional

import pytest
import requests

from matrix import DENY, OK, UNAUTH, check_matrix, operations
from tenants import ADMIN, PASSWORD, Client

ORG_ADMIN = {"accessTheHiveFS", "manageAction", "manageAlert", "manageAnalyse", "manageCase",
             "manageCaseAccess", "manageCaseReport", "manageCaseReportTemplate", "manageCaseTemplate",
             "manageComment", "manageConfig", "manageCustomEvent", "manageDashboard", "manageFunction",
             "manageKnowledgeBase", "manageObservable", "managePage", "managePageTemplate",
             "manageProcedure", "manageShare", "manageTag", "manageTask", "manageUser"}
ANALYST = {"accessTheHiveFS", "manageAction", "manageAlert", "manageAnalyse", "manageCase", "manageComment",
           "manageCustomEvent", "manageObservable", "managePage", "manageProcedure", "manageShare",
           "manageTask"}
PLATFORM = {"manageOrganisation", "manageUser", "manageProfile", "manageCustomField",
            "manageObservableTemplate", "managePattern", "manageTaxonomy", "manageAnalyzerTemplate",
            "manageConfig", "managePlatform"}

CALLERS = ["admin", "analyst", "reader", "outsider", "partner_ro", "partner_rw", "stranger", "platform",
           "anonymous", "wrong_key"]
PROFILE = {"admin": ORG_ADMIN, "analyst": ANALYST, "reader": set(), "outsider": ANALYST,
           "partner_ro": ANALYST, "partner_rw": ANALYST, "stranger": ORG_ADMIN, "platform": PLATFORM}
# What a share lets the partner do on alpha's case (the share's profile).
SHARE = {"partner_ro": set(), "partner_rw": ANALYST}
ALPHA = {"admin", "analyst", "reader", "outsider"}
AUTHENTICATED = set(PROFILE)

# Who sees each object of the world (see World).
SEES = {
    "K1": ALPHA | {"partner_ro", "partner_rw"},
    "K1item": ALPHA | {"partner_rw"},          # tasks, logs, observables of K1 (autoShare to delta)
    "K2": {"admin", "analyst"},                # the restricted case and all of it
    "A1": ALPHA,                               # alerts, their observables, comments, templates
    "U": ALPHA | {"platform"},                 # a user of alpha
    "ORG": AUTHENTICATED,                      # global catalogues (custom fields, observable types...)
}
KIND_OF = {"K1": "K1", "C1": "K1", "P1": "K1", "G1": "K1", "E1": "K1", "CA1": "K1", "S1": "K1", "X1": "K1",
           "T1": "K1item", "L1": "K1item", "O1": "K1item", "LA1": "K1item", "J1": "K1item",
           "K2": "K2", "T2": "K2", "L2": "K2", "O2": "K2", "C2": "K2",
           "A1": "A1", "AO1": "A1", "AC1": "A1", "AA1": "A1", "AP1": "A1", "CT1": "A1", "PT1": "A1",
           "A2": "A1", "OA": "A1", "U": "U"}


def grants(perms, wanted):
    return wanted in perms or wanted.split("/")[0] in perms


# --------------------------------------------------------------------------- rules

def public():
    return lambda who: OK


def anyone():
    return lambda who: OK if who in AUTHENTICATED else UNAUTH


def _gate(who, obj, perm, owner_only=False):
    if who not in AUTHENTICATED:
        return UNAUTH
    if who not in SEES[KIND_OF[obj]]:
        return DENY
    if perm is None:
        return OK
    if not grants(PROFILE[who], perm):
        return DENY
    if who in SHARE and (owner_only or not grants(SHARE[who], perm)):
        return DENY
    return OK


def sees(obj):
    """OK for whoever sees `obj`."""
    return lambda who: _gate(who, obj, None)


def does(obj, perm):
    """OK for whoever sees `obj` and holds `perm` (and, a partner, through its share)."""
    return lambda who: _gate(who, obj, perm)


def owns(obj, perm):
    """OK for members of the owning organisation who see `obj` and hold `perm`."""
    return lambda who: _gate(who, obj, perm, owner_only=True)


def org(perm):
    """OK for whoever holds `perm` in its own organisation (objects of its own)."""
    return lambda who: UNAUTH if who not in AUTHENTICATED else OK if grants(PROFILE[who], perm) else DENY


def platform(perm="manageOrganisation"):
    return lambda who: UNAUTH if who not in AUTHENTICATED else OK if who == "platform" else DENY


def either(*rules):
    order = {OK: 0, DENY: 1, UNAUTH: 2}
    return lambda who: min((r(who) for r in rules), key=order.get)


# --------------------------------------------------------------------------- the world

class World:
    """Organisations alpha (owner), beta and delta (partners), gamma (stranger) and the objects
    named in SEES/KIND_OF, built by alpha's org-admin."""

    def __init__(self, hive):
        self.url = hive.url
        root = Client(hive.url, basic=(ADMIN, PASSWORD))
        self.root = root
        for o in ("alpha", "beta", "delta", "gamma"):
            root.ok("POST", "/api/v1/organisation", json={"name": o, "description": o})
        self.keys = {}
        self.logins = {}
        members = {"admin": ("alpha", "org-admin"), "analyst": ("alpha", "analyst"),
                   "reader": ("alpha", "read-only"), "outsider": ("alpha", "analyst"),
                   "partner_ro": ("beta", "analyst"), "partner_rw": ("delta", "analyst"),
                   "stranger": ("gamma", "org-admin")}
        for who, (o, profile) in members.items():
            login = f"{who}@{o}.test"
            root.ok("POST", "/api/v1/user", json={"login": login, "name": who, "profile": profile,
                                                  "organisation": o, "password": PASSWORD})
            self.keys[who] = root.ok("POST", f"/api/v1/user/{login}/key/renew").text
            self.logins[who] = login
        self.keys["platform"] = root.ok("POST", f"/api/v1/user/{ADMIN}/key/renew").text
        self.logins["platform"] = ADMIN
        self.a = self.client("admin")
        self.ids = {}
        self.build()

    def client(self, who):
        if who == "anonymous":
            return Client(self.url)
        if who == "wrong_key":
            return Client(self.url, key="not-a-key-of-anyone")
        return Client(self.url, key=self.keys[who], organisation="admin" if who == "platform" else None)

    # factories: each makes a fresh object like the world's one of that name, returns its id
    def case_k1(self, title="K1"):
        k = self.a.ok("POST", "/api/v1/case", json={"title": title, "description": "shared"})
        self.a.ok("POST", f"/api/v1/case/{k['_id']}/shares", json={"shares": [
            {"organisation": "beta", "profile": "read-only", "taskRule": "manual", "observableRule": "manual"},
            {"organisation": "delta", "profile": "analyst", "taskRule": "autoShare", "observableRule": "autoShare"}]})
        return k["_id"]

    def case_k2(self, title="K2"):
        k = self.a.ok("POST", "/api/v1/case", json={"title": title, "description": "restricted"})
        self.a.ok("POST", f"/api/v1/case/{k['_id']}/access", json={"access": {
            "_kind": "UserAccessKind", "users": [self.logins["admin"], self.logins["analyst"]]}})
        return k["_id"]

    def task(self, case):
        return self.a.ok("POST", f"/api/v1/case/{case}/task", json={"title": "a task"})["_id"]

    def log(self, task, file=True):
        files = {"_json": (None, json.dumps({"message": "a log"}))}
        if file:
            files["attachments"] = ("log.txt", b"log file")
        return self.a.ok("POST", f"/api/v1/task/{task}/log", files=files)["_id"]

    def observable(self, case, data="10.1.2.3"):
        return self.a.ok("POST", f"/api/v1/case/{case}/observable",
                         json={"dataType": "ip", "data": data, "ioc": True})[0]["_id"]

    def file_observable(self, case, content=b"observable file"):
        r = self.a.ok("POST", f"/api/v1/case/{case}/observable",
                      files={"_json": (None, json.dumps({"dataType": "file"})),
                             "attachment": ("o.bin", content)})[0]
        return r["_id"], r["attachment"]["id"]

    def comment(self, parent, kind="case"):
        return self.a.ok("POST", f"/api/v1/{kind}/{parent}/comment", json={"message": "a comment"})["_id"]

    def procedure(self, parent, kind="case"):
        return self.a.ok("POST", f"/api/v1/{kind}/{parent}/procedure",
                         json={"patternId": "T1566", "occurDate": 1700000000000})["_id"]

    def page(self, case):
        return self.a.ok("POST", f"/api/v1/case/{case}/page",
                         json={"title": "a page", "content": "x", "category": "c"})["_id"]

    def event(self, case):
        return self.a.ok("POST", f"/api/v1/case/{case}/customEvent",
                         json={"date": 1700000000000, "title": "an event"})["_id"]

    def case_attachment(self, case):
        r = self.a.ok("POST", f"/api/v1/case/{case}/attachments", files={"attachments": ("c.txt", b"case file")})
        return r["attachments"][0]["_id"]

    def alert(self, ref=None):
        import uuid
        ref = ref or uuid.uuid4().hex
        return self.a.ok("POST", "/api/v1/alert", json={
            "type": "t", "source": "s", "sourceRef": ref, "title": f"alert {ref}", "description": "d",
            "observables": [{"dataType": "domain", "data": "shared.example"}]})["_id"]

    def alert_observable(self, alert):
        return self.a.ok("POST", f"/api/v1/alert/{alert}/observable",
                         json={"dataType": "ip", "data": "10.9.9.9"})[0]["_id"]

    def alert_attachment(self, alert):
        r = self.a.ok("POST", f"/api/v1/alert/{alert}/attachments", files={"attachments": ("a.txt", b"alert file")})
        return r["attachments"][0]["_id"]

    def template(self):
        import uuid
        return self.a.ok("POST", "/api/v1/caseTemplate", json={"name": "tpl-" + uuid.uuid4().hex[:8]})["_id"]

    def page_template(self):
        return self.a.ok("POST", "/api/v1/pageTemplate", json={"title": "pt", "content": "x", "category": "c"})["_id"]

    def org_attachment(self):
        r = self.a.ok("POST", "/api/v1/attachment", files={"attachments": ("org.txt", b"org file")})
        return r["attachments"][0]["_id"]

    def user(self):
        import uuid
        login = f"u-{uuid.uuid4().hex[:8]}@alpha.test"
        self.root.ok("POST", "/api/v1/user", json={"login": login, "name": "u", "profile": "analyst",
                                                   "organisation": "alpha", "password": PASSWORD})
        self.root.ok("POST", f"/api/v1/user/{login}/key/renew")
        return login

    def job(self, observable):
        return self.a.ok("POST", "/api/v1/connector/cortex/job",
                         json={"analyzerId": "nowhere", "cortexId": "nowhere", "artifactId": observable})["_id"]

    def action(self, case):
        return self.a.ok("POST", "/api/v1/connector/cortex/action", json={
            "responderId": "nowhere", "cortexId": "nowhere", "objectType": "case", "objectId": case})["_id"]

    def share_of(self, case):
        return [s for s in self.a.ok("GET", f"/api/v1/case/{case}/shares") if s["organisationName"] == "beta"][0]["_id"]

    def build(self):
        i = self.ids
        i["K1"] = self.case_k1()
        i["T1"] = self.task(i["K1"])
        i["L1"] = self.log(i["T1"])
        i["O1"], i["O1sha"] = self.file_observable(i["K1"])
        i["C1"] = self.comment(i["K1"])
        i["P1"] = self.procedure(i["K1"])
        i["G1"] = self.page(i["K1"])
        i["E1"] = self.event(i["K1"])
        i["CA1"] = self.case_attachment(i["K1"])
        i["S1"] = self.share_of(i["K1"])
        logs = self.a.query({"_name": "getLog", "idOrName": i["L1"]}).json()
        i["LA1"] = logs[0]["attachments"][0]["_id"]
        i["K2"] = self.case_k2()
        i["T2"] = self.task(i["K2"])
        i["L2"] = self.log(i["T2"])
        i["O2"], i["O2sha"] = self.file_observable(i["K2"], b"restricted file")
        i["C2"] = self.comment(i["K2"])
        i["A1"] = self.alert()
        i["AO1"] = self.alert_observable(i["A1"])
        i["AC1"] = self.comment(i["A1"], "alert")
        i["AP1"] = self.procedure(i["A1"], "alert")
        i["AA1"] = self.alert_attachment(i["A1"])
        i["A2"] = self.alert()
        self.a.ok("POST", f"/api/v1/alert/{i['A2']}/merge/{i['K2']}")
        i["CT1"] = self.template()
        i["PT1"] = self.page_template()
        i["OA"] = self.org_attachment()
        i["J1"] = self.job(i["O1"])
        i["X1"] = self.action(i["K1"])
        i["U"] = self.user()
        # The other organisations hold case work of their own, so that a rule that lets a
        # caller reach others' rows through its own visible ones shows up.
        for who in ("stranger", "partner_ro", "partner_rw"):
            c = self.client(who)
            k = c.ok("POST", "/api/v1/case", json={"title": f"{who}'s own", "description": "d"})
            c.ok("POST", f"/api/v1/case/{k['_id']}/observable",
                 files={"_json": (None, json.dumps({"dataType": "file"})),
                        "attachment": ("own.bin", f"{who} own file".encode())})
            [o] = c.ok("POST", f"/api/v1/case/{k['_id']}/observable", json={"dataType": "ip", "data": "10.1.2.3"})
            c.ok("POST", "/api/v1/connector/cortex/job",
                 json={"analyzerId": "nowhere", "cortexId": "nowhere", "artifactId": o["_id"]})


# --------------------------------------------------------------------------- rows

@dataclass
class Row:
    rule: Callable[[str], str]
    # path parameters: world names ("K1"), or callables of (world, fresh dict) -> value
    params: dict = field(default_factory=dict)
    json: object = None
    files: Optional[Callable] = None
    query: dict = field(default_factory=dict)
    # fresh objects made for each cell: {name: callable(world) -> id}; params may name them
    fresh: dict = field(default_factory=dict)
    ok: tuple = (200, 201, 204)
    # an answer that does not end (Server-Sent Events): its status is read, then it is closed
    stream: bool = False


def F(fn):
    """A fresh object: made for each cell by `fn(world)`."""
    return fn


def thar(world, password="pw"):
    k = world.a.get(f"/api/v1/case/{world.ids['K1']}/export", params={"password": password}).content
    return {"_json": (None, json.dumps({"password": password})), "file": ("case.thar", k)}


MISP = json.dumps({"Event": {"info": "misp event", "uuid": "u", "Attribute": [{"type": "ip-src", "value": "1.2.3.4"}]}})

fresh_k1 = {"k": lambda w: w.case_k1("fresh")}
fresh_task = {"t": lambda w: w.task(w.ids["K1"])}
fresh_obs = {"o": lambda w: w.observable(w.ids["K1"], "10.7.7.7")}
fresh_alert = {"a": lambda w: w.alert()}

ROWS = {
    # status, login, documents
    ("GET", "/api/status"): Row(public()),
    ("GET", "/api/v1/status"): Row(public()),
    ("GET", "/api/health"): Row(public()),
    ("POST", "/api/v1/login"): Row(public(), json={"user": ADMIN, "password": PASSWORD}),
    ("POST", "/api/login"): Row(public(), json={"user": ADMIN, "password": PASSWORD}),
    ("GET", "/api/v1/logout"): Row(public()),
    ("POST", "/api/v1/logout"): Row(public()),
    ("GET", "/api/logout"): Row(public()),
    ("POST", "/api/logout"): Row(public()),
    ("GET", "/api/v1/license/current"): Row(anyone()),
    ("GET", "/api/v1/user/current"): Row(anyone()),
    ("GET", "/api/user/current"): Row(anyone()),
    # users
    ("POST", "/api/v1/user"): Row(org("manageUser"), json=lambda w, f, who: {
        "login": f"new-{__import__('uuid').uuid4().hex[:8]}@x.test", "name": "n", "profile": "analyst",
        **({"organisation": "gamma"} if who == "platform" else {})}),
    ("GET", "/api/v1/user/{id}"): Row(sees("U"), params={"id": "U"}),
    ("PATCH", "/api/v1/user/{id}"): Row(either(does("U", "manageUser"), platform()), params={"id": "u"},
                                        fresh={"u": lambda w: w.user()}, json={"name": "renamed"}),
    ("DELETE", "/api/v1/user/{id}"): Row(either(does("U", "manageUser"), platform()), params={"id": "u"},
                                         fresh={"u": lambda w: w.user()}),
    ("DELETE", "/api/v1/user/{id}/force"): Row(either(does("U", "manageUser"), platform()), params={"id": "u"},
                                               fresh={"u": lambda w: w.user()}, query={"organisation": "alpha"}),
    ("PUT", "/api/v1/user/{id}/organisations"): Row(either(does("U", "manageUser"), platform()),
                                                    params={"id": "u"}, fresh={"u": lambda w: w.user()},
                                                    json={"organisations": [{"organisation": "alpha", "profile": "read-only"}]}),
    ("POST", "/api/v1/user/{id}/password/set"): Row(either(does("U", "manageUser"), platform()), params={"id": "u"},
                                                    fresh={"u": lambda w: w.user()}, json={"password": "new-secret"}),
    ("POST", "/api/v1/user/{id}/password/change"): Row(lambda who: UNAUTH if who not in AUTHENTICATED else DENY,
                                                       params={"id": "U"},
                                                       json={"password": "x2", "currentPassword": PASSWORD}),
    ("GET", "/api/v1/user/{id}/key"): Row(either(does("U", "manageUser"), platform()), params={"id": "U"}),
    ("POST", "/api/v1/user/{id}/key/renew"): Row(either(does("U", "manageUser"), platform()), params={"id": "u"},
                                                 fresh={"u": lambda w: w.user()}),
    ("DELETE", "/api/v1/user/{id}/key"): Row(either(does("U", "manageUser"), platform()), params={"id": "u"},
                                             fresh={"u": lambda w: w.user()}),
    ("GET", "/api/v1/auth/totp/get"): Row(anyone()),
    ("POST", "/api/v1/auth/totp/set"): Row(anyone(), json={}, ok=(200, 402)),
    ("POST", "/api/v1/auth/totp/unset"): Row(anyone()),
    ("POST", "/api/v1/auth/totp/unset/{user}"): Row(either(does("U", "manageUser"), platform()), params={"user": "u"},
                                                    fresh={"u": lambda w: w.user()}),
    # platform administration
    ("POST", "/api/v1/organisation"): Row(platform(), json=lambda w: {"name": "org-" + __import__('uuid').uuid4().hex[:6], "description": "d"}),
    ("GET", "/api/v1/organisation/{id}"): Row(lambda who: UNAUTH if who not in AUTHENTICATED else OK if who in ALPHA | {"platform"} else DENY, params={"id": lambda w, f: "alpha"}),
    ("PATCH", "/api/v1/organisation/{id}"): Row(platform(), params={"id": lambda w, f: "gamma"}, json={"description": "changed"}),
    ("PUT", "/api/v1/organisation/{id}/link/{other}"): Row(platform(), params={"id": lambda w, f: "beta", "other": lambda w, f: "gamma"}, json={}),
    ("DELETE", "/api/v1/organisation/{id}/link/{other}"): Row(platform(), params={"id": lambda w, f: "beta", "other": lambda w, f: "gamma"}, ok=(204, 404)),
    ("GET", "/api/v1/organisation/{id}/links"): Row(lambda who: UNAUTH if who not in AUTHENTICATED else OK if who in ALPHA | {"platform"} else DENY, params={"id": lambda w, f: "alpha"}),
    ("PUT", "/api/v1/organisation/{id}/links"): Row(platform(), params={"id": lambda w, f: "gamma"}, json={"links": []}),
    ("POST", "/api/v1/profile"): Row(platform(), json=lambda w: {"name": "p-" + __import__('uuid').uuid4().hex[:6], "permissions": ["manageCase"]}),
    ("GET", "/api/v1/profile/{id}"): Row(anyone(), params={"id": lambda w, f: "analyst"}),
    ("PATCH", "/api/v1/profile/{id}"): Row(platform(), params={"id": "p"}, fresh={"p": lambda w: w.root.ok("POST", "/api/v1/profile", json={"name": "p-" + __import__('uuid').uuid4().hex[:6], "permissions": []})["_id"]}, json={"permissions": ["manageTask"]}),
    ("DELETE", "/api/v1/profile/{id}"): Row(platform(), params={"id": "p"}, fresh={"p": lambda w: w.root.ok("POST", "/api/v1/profile", json={"name": "p-" + __import__('uuid').uuid4().hex[:6], "permissions": []})["_id"]}),
    ("POST", "/api/v1/observable/type"): Row(platform(), json=lambda w: {"name": "t-" + __import__('uuid').uuid4().hex[:6]}),
    ("GET", "/api/v1/observable/type/{id}"): Row(anyone(), params={"id": lambda w, f: "ip"}),
    ("DELETE", "/api/v1/observable/type/{id}"): Row(platform(), params={"id": "t"}, fresh={"t": lambda w: w.root.ok("POST", "/api/v1/observable/type", json={"name": "t-" + __import__('uuid').uuid4().hex[:6]})["_id"]}),
    ("GET", "/api/v1/customField"): Row(anyone()),
    ("POST", "/api/v1/customField"): Row(platform(), json=lambda w: {"name": "cf" + __import__('uuid').uuid4().hex[:6], "description": "d", "type": "string"}),
    ("GET", "/api/v1/customField/{id}"): Row(anyone(), params={"id": "cf"}, fresh={"cf": lambda w: w.root.ok("POST", "/api/v1/customField", json={"name": "cf" + __import__('uuid').uuid4().hex[:6], "description": "d", "type": "string"})["_id"]}),
    ("PATCH", "/api/v1/customField/{id}"): Row(platform(), params={"id": "cf"}, fresh={"cf": lambda w: w.root.ok("POST", "/api/v1/customField", json={"name": "cf" + __import__('uuid').uuid4().hex[:6], "description": "d", "type": "string"})["_id"]}, json={"description": "changed"}),
    ("DELETE", "/api/v1/customField/{id}"): Row(platform(), params={"id": "cf"}, fresh={"cf": lambda w: w.root.ok("POST", "/api/v1/customField", json={"name": "cf" + __import__('uuid').uuid4().hex[:6], "description": "d", "type": "string"})["_id"]}),
    ("POST", "/api/list/custom_fields"): Row(platform(), json=lambda w: {"value": {"reference": "Cf " + __import__('uuid').uuid4().hex[:6], "name": "x", "description": "d", "type": "string", "options": []}}),
    ("POST", "/api/list/custom_fields/_exists"): Row(anyone(), json={"key": "reference", "value": "nothing"}),
    ("GET", "/api/v1/sharingProfile"): Row(anyone()),
    # alerts
    ("POST", "/api/v1/alert"): Row(org("manageAlert/create"), json=lambda w: {"type": "t", "source": "s", "sourceRef": __import__('uuid').uuid4().hex, "title": "x", "description": "d"}),
    ("GET", "/api/v1/alert/{id}"): Row(sees("A1"), params={"id": "A1"}),
    ("PATCH", "/api/v1/alert/{id}"): Row(does("A1", "manageAlert/update"), params={"id": "A1"}, json={"title": "renamed"}),
    ("PATCH", "/api/v1/alert/_bulk"): Row(does("A1", "manageAlert/update"), json=lambda w: {"ids": [w.ids["A1"]], "title": "bulk"}),
    ("DELETE", "/api/v1/alert/{id}"): Row(does("A1", "manageAlert/delete"), params={"id": "a"}, fresh=fresh_alert),
    ("POST", "/api/v1/alert/delete/_bulk"): Row(does("A1", "manageAlert/delete"), fresh=fresh_alert, json=lambda w, f: {"ids": [f["a"]]}),
    ("POST", "/api/v1/alert/{id}/follow"): Row(does("A1", "manageAlert/update"), params={"id": "A1"}),
    ("POST", "/api/v1/alert/{id}/unfollow"): Row(does("A1", "manageAlert/update"), params={"id": "A1"}),
    ("POST", "/api/v1/alert/{id}/case"): Row(does("A1", "manageAlert/import"), params={"id": "a"}, fresh=fresh_alert, json={}),
    ("POST", "/api/v1/alert/{id}/merge/{case_id}"): Row(does("A1", "manageAlert/import"), params={"id": "a", "case_id": "k"}, fresh={"a": lambda w: w.alert(), "k": lambda w: w.a.ok("POST", "/api/v1/case", json={"title": "t", "description": "d"})["_id"]}),
    ("POST", "/api/v1/alert/{id}/import/{case_id}"): Row(does("A1", "manageAlert/import"), params={"id": "a", "case_id": "k"}, fresh={"a": lambda w: w.alert(), "k": lambda w: w.a.ok("POST", "/api/v1/case", json={"title": "t", "description": "d"})["_id"]}),
    ("POST", "/api/v1/alert/merge/_bulk"): Row(does("A1", "manageAlert/import"), fresh={"a": lambda w: w.alert(), "k": lambda w: w.a.ok("POST", "/api/v1/case", json={"title": "t", "description": "d"})["_id"]}, json=lambda w, f: {"caseId": f["k"], "alertIds": [f["a"]]}),
    ("POST", "/api/v1/alert/{id}/observable"): Row(does("A1", "manageAlert/update"), params={"id": "A1"}, json=lambda w: {"dataType": "ip", "data": "10.0.0." + str(__import__('random').randint(1, 250))}),
    ("GET", "/api/v1/alert/{id}/similar/{other}/observables"): Row(sees("A1"), params={"id": "A1", "other": "A2"}),
    ("POST", "/api/v1/alert/{id}/comment"): Row(does("A1", "manageComment"), params={"id": "A1"}, json={"message": "m"}),
    ("POST", "/api/v1/alert/{id}/procedure"): Row(does("A1", "manageProcedure"), params={"id": "A1"}, json={"patternId": "T1566", "occurDate": 1700000000001}),
    ("POST", "/api/v1/alert/{id}/procedures"): Row(does("A1", "manageProcedure"), params={"id": "A1"}, json={"procedures": [{"patternId": "T1566", "occurDate": 1700000000002}]}),
    ("POST", "/api/v1/alert/{id}/attachments"): Row(does("A1", "manageAlert/update"), params={"id": "A1"}, files=lambda w, f: {"attachments": ("x.txt", b"x")}),
    ("GET", "/api/v1/alert/{id}/attachment/{att_id}/download"): Row(sees("A1"), params={"id": "A1", "att_id": "AA1"}),
    ("DELETE", "/api/v1/alert/{id}/attachment/{att_id}"): Row(does("A1", "manageAlert/update"), params={"id": "A1", "att_id": "x"}, fresh={"x": lambda w: w.alert_attachment(w.ids["A1"])}),
    # cases
    ("POST", "/api/v1/case"): Row(org("manageCase/create"), json={"title": "new", "description": "d"}),
    ("GET", "/api/v1/case/{id}"): Row(sees("K1"), params={"id": "K1"}),
    ("PATCH", "/api/v1/case/{id}"): Row(does("K1", "manageCase/update"), params={"id": "K1"}, json={"title": "renamed"}),
    ("PATCH", "/api/v1/case/_bulk"): Row(does("K1", "manageCase/update"), json=lambda w: {"ids": [w.ids["K1"]], "title": "bulk"}),
    ("DELETE", "/api/v1/case/{id}"): Row(owns("K1", "manageCase/delete"), params={"id": "k"}, fresh=fresh_k1),
    ("POST", "/api/v1/case/_merge/{ids}"): Row(owns("K1", "manageCase/merge"), params={"ids": lambda w, f: f"{f['k']},{f['k2']}"}, fresh={"k": lambda w: w.case_k1("m1"), "k2": lambda w: w.case_k1("m2")}),
    ("DELETE", "/api/v1/case/{id}/alert/{alert_id}"): Row(does("K1", "manageCase/update"), params={"id": "k", "alert_id": "a"}, fresh={"k": lambda w: w.case_k1(), "a": lambda w: w.alert()}, ok=(204, 404)),
    ("POST", "/api/v1/case/{id}/observable"): Row(does("K1", "manageObservable"), params={"id": "K1"}, json=lambda w: {"dataType": "ip", "data": "10.3.0." + str(__import__('random').randint(1, 250))}),
    ("POST", "/api/v1/case/{id}/task"): Row(does("K1", "manageTask"), params={"id": "K1"}, json={"title": "t"}),
    ("POST", "/api/v1/case/{id}/observable/_merge"): Row(does("K1", "manageObservable"), params={"id": "K1"}),
    ("GET", "/api/v1/case/{id}/similar/{other}/observables"): Row(sees("K1"), params={"id": "K1", "other": "K1"}),
    ("DELETE", "/api/v1/case/customField/{id}"): Row(does("K1", "manageCase/update"), params={"id": lambda w, f: "~1"}, ok=(204, 404)),
    ("POST", "/api/v1/case/{id}/comment"): Row(does("K1", "manageComment"), params={"id": "K1"}, json={"message": "m"}),
    ("POST", "/api/v1/case/{id}/procedure"): Row(does("K1", "manageProcedure"), params={"id": "K1"}, json={"patternId": "T1566", "occurDate": 1700000000003}),
    ("POST", "/api/v1/case/{id}/procedures"): Row(does("K1", "manageProcedure"), params={"id": "K1"}, json={"procedures": [{"patternId": "T1566", "occurDate": 1700000000004}]}),
    ("POST", "/api/v1/case/{id}/page"): Row(does("K1", "managePage"), params={"id": "K1"}, json={"title": "p", "content": "c", "category": "x"}),
    ("PATCH", "/api/v1/case/{id}/page/{page_id}"): Row(owns("G1", "managePage"), params={"id": "K1", "page_id": "G1"}, json={"content": "changed"}),
    ("DELETE", "/api/v1/case/{id}/page/{page_id}"): Row(owns("G1", "managePage"), params={"id": "K1", "page_id": "g"}, fresh={"g": lambda w: w.page(w.ids["K1"])}),
    ("POST", "/api/v1/case/{id}/customEvent"): Row(does("K1", "manageCustomEvent"), params={"id": "K1"}, json={"date": 1700000000005, "title": "e"}),
    ("GET", "/api/v1/case/{id}/timeline"): Row(sees("K1"), params={"id": "K1"}),
    ("POST", "/api/v1/case/{id}/link/case/add"): Row(does("K1", "manageCase/update"), params={"id": "K1"}, json=lambda w: {"type": "related", "caseId": w.ids["K1"]}, ok=(200, 201, 204, 400)),
    ("POST", "/api/v1/case/{id}/link/case/remove"): Row(does("K1", "manageCase/update"), params={"id": "K1"}, json=lambda w: {"type": "related", "caseId": w.ids["K1"]}, ok=(200, 201, 204, 400, 404)),
    ("POST", "/api/v1/case/{id}/link/external/add"): Row(does("K1", "manageCase/update"), params={"id": "K1"}, json={"type": "related", "url": "https://example.org/x"}),
    ("POST", "/api/v1/case/{id}/link/external/remove"): Row(does("K1", "manageCase/update"), params={"id": "K1"}, json={"type": "related", "url": "https://example.org/x"}, ok=(200, 204, 404)),
    ("GET", "/api/v1/case/link/types"): Row(anyone()),
    ("GET", "/api/v1/case/{id}/links"): Row(sees("K1"), params={"id": "K1"}),
    ("POST", "/api/v1/case/{id}/attachments"): Row(does("K1", "manageCase/update"), params={"id": "K1"}, files=lambda w, f: {"attachments": ("x.txt", b"x")}),
    ("GET", "/api/v1/case/{id}/attachment/{att_id}/download"): Row(sees("K1"), params={"id": "K1", "att_id": "CA1"}),
    ("DELETE", "/api/v1/case/{id}/attachment/{att_id}"): Row(does("K1", "manageCase/update"), params={"id": "K1", "att_id": "x"}, fresh={"x": lambda w: w.case_attachment(w.ids["K1"])}),
    ("GET", "/api/v1/case/{id}/export"): Row(sees("K1"), params={"id": "K1"}, query={"password": "pw"}),
    ("POST", "/api/v1/case/import"): Row(org("manageCase/create"), files=lambda w, f: thar(w)),
    ("POST", "/api/v1/connector/misp/case/import"): Row(org("manageCase/create"), files=lambda w, f: {"_json": (None, "{}"), "file": ("e.json", MISP.encode())}),
    ("POST", "/api/v1/case/_bulk/caseTemplate"): Row(does("K1", "manageCase/update"), json=lambda w: {"ids": [w.ids["K1"]], "caseTemplate": w.ids["CT1"]}, ok=(200, 204, 404)),
    # shares, access, ownership
    ("GET", "/api/v1/case/{id}/shares"): Row(anyone(), params={"id": "K1"}),
    ("POST", "/api/v1/case/{id}/shares"): Row(owns("K1", "manageShare"), params={"id": "k"}, fresh=fresh_k1, json={"shares": [{"organisation": "gamma", "profile": "read-only"}]}),
    ("PUT", "/api/v1/case/{id}/shares"): Row(owns("K1", "manageShare"), params={"id": "k"}, fresh=fresh_k1, json={"shares": [{"organisation": "beta", "profile": "read-only"}]}),
    ("DELETE", "/api/v1/case/{id}/shares"): Row(owns("K1", "manageShare"), params={"id": "k"}, fresh=fresh_k1, json={"organisations": ["delta"]}),
    ("PATCH", "/api/v1/case/share/{id}"): Row(owns("K1", "manageShare"), params={"id": lambda w, f: w.share_of(f["k"])}, fresh=fresh_k1, json={"profile": "analyst"}),
    ("DELETE", "/api/v1/case/share/{id}"): Row(owns("K1", "manageShare"), params={"id": lambda w, f: w.share_of(f["k"])}, fresh=fresh_k1),
    ("POST", "/api/v1/task/{id}/shares"): Row(owns("K1", "manageShare"), params={"id": "t"}, fresh=fresh_task, json={"organisations": ["beta"]}),
    ("DELETE", "/api/v1/task/{id}/shares"): Row(owns("K1", "manageShare"), params={"id": "t"}, fresh=fresh_task, json={"organisations": ["delta"]}),
    ("GET", "/api/v1/task/{id}/shares"): Row(sees("T1"), params={"id": "T1"}),
    ("POST", "/api/v1/observable/{id}/shares"): Row(owns("K1", "manageShare"), params={"id": "o"}, fresh=fresh_obs, json={"organisations": ["beta"]}),
    ("DELETE", "/api/v1/observable/{id}/shares"): Row(owns("K1", "manageShare"), params={"id": "o"}, fresh=fresh_obs, json={"organisations": ["delta"]}),
    ("GET", "/api/v1/observable/{id}/shares"): Row(sees("O1"), params={"id": "O1"}),
    ("POST", "/api/v1/case/{id}/access"): Row(owns("K1", "manageCaseAccess/restrict"), params={"id": "k"}, fresh=fresh_k1, json={"access": {"_kind": "OrganisationAccessKind"}}),
    ("POST", "/api/v1/case/{id}/owner"): Row(owns("K1", "manageCase/changeOwnership"), params={"id": "k"}, fresh=fresh_k1, json={"organisation": "delta", "keepProfile": "analyst"}),
    # observables
    ("GET", "/api/v1/observable/{id}"): Row(sees("O1"), params={"id": "O1"}),
    ("PATCH", "/api/v1/observable/{id}"): Row(does("O1", "manageObservable"), params={"id": "O1"}, json={"message": "changed"}),
    ("PATCH", "/api/v1/observable/_bulk"): Row(does("O1", "manageObservable"), json=lambda w: {"ids": [w.ids["O1"]], "message": "bulk"}),
    ("DELETE", "/api/v1/observable/{id}"): Row(does("O1", "manageObservable"), params={"id": "o"}, fresh=fresh_obs),
    ("GET", "/api/v1/observable/{id}/attachment/{att_id}/download"): Row(sees("O1"), params={"id": "O1", "att_id": "O1sha"}),
    # tasks and logs
    ("GET", "/api/v1/task/{id}"): Row(sees("T1"), params={"id": "T1"}),
    ("PATCH", "/api/v1/task/{id}"): Row(does("T1", "manageTask"), params={"id": "T1"}, json={"description": "changed"}),
    ("PATCH", "/api/v1/task/_bulk"): Row(does("T1", "manageTask"), json=lambda w: {"ids": [w.ids["T1"]], "description": "bulk"}),
    ("DELETE", "/api/v1/task/{id}"): Row(does("T1", "manageTask"), params={"id": "t"}, fresh=fresh_task),
    ("POST", "/api/v1/task/{id}/log"): Row(does("T1", "manageTask"), params={"id": "T1"}, json={"message": "m"}),
    ("PATCH", "/api/v1/log/{id}"): Row(does("L1", "manageTask"), params={"id": "L1"}, json={"message": "changed"}),
    ("DELETE", "/api/v1/log/{id}"): Row(does("L1", "manageTask"), params={"id": "l"}, fresh={"l": lambda w: w.log(w.ids["T1"], False)}),
    ("POST", "/api/v1/log/{id}/attachments"): Row(does("L1", "manageTask"), params={"id": "L1"}, files=lambda w, f: {"attachments": ("x.txt", b"x")}),
    ("DELETE", "/api/v1/log/{id}/attachments/{att_id}"): Row(does("L1", "manageTask"), params={"id": "l", "att_id": lambda w, f: w.a.query({"_name": "getLog", "idOrName": f["l"]}).json()[0]["attachments"][0]["_id"]}, fresh={"l": lambda w: w.log(w.ids["T1"])}),
    ("GET", "/api/v1/task/{id}/actionRequired"): Row(sees("T1"), params={"id": "T1"}),
    ("PUT", "/api/v1/task/{id}/actionRequired/{org}"): Row(does("T1", "manageTask"), params={"id": "T1", "org": lambda w, f: "delta"}),
    ("PUT", "/api/v1/task/{id}/actionDone/{org}"): Row(does("T1", "manageTask"), params={"id": "T1", "org": lambda w, f: "delta"}),
    # collaboration objects
    ("PATCH", "/api/v1/comment/{id}"): Row(owns("C1", "manageComment"), params={"id": "C1"}, json={"message": "changed"}),
    ("DELETE", "/api/v1/comment/{id}"): Row(owns("C1", "manageComment"), params={"id": "c"}, fresh={"c": lambda w: w.comment(w.ids["K1"])}),
    ("PATCH", "/api/v1/procedure/{id}"): Row(owns("P1", "manageProcedure"), params={"id": "P1"}, json={"description": "changed"}),
    ("DELETE", "/api/v1/procedure/{id}"): Row(owns("P1", "manageProcedure"), params={"id": "p"}, fresh={"p": lambda w: w.procedure(w.ids["K1"])}),
    ("POST", "/api/v1/procedure/delete/_bulk"): Row(owns("P1", "manageProcedure"), fresh={"p": lambda w: w.procedure(w.ids["K1"])}, json=lambda w, f: {"ids": [f["p"]]}),
    ("PATCH", "/api/v1/customEvent/{id}"): Row(owns("E1", "manageCustomEvent"), params={"id": "E1"}, json={"title": "changed"}),
    ("DELETE", "/api/v1/customEvent/{id}"): Row(owns("E1", "manageCustomEvent"), params={"id": "e"}, fresh={"e": lambda w: w.event(w.ids["K1"])}),
    ("POST", "/api/v1/pageTemplate"): Row(org("managePageTemplate"), json={"title": "t", "content": "c", "category": "x"}),
    ("PATCH", "/api/v1/pageTemplate/{id}"): Row(does("PT1", "managePageTemplate"), params={"id": "PT1"}, json={"content": "changed"}),
    ("DELETE", "/api/v1/pageTemplate/{id}"): Row(does("PT1", "managePageTemplate"), params={"id": "p"}, fresh={"p": lambda w: w.page_template()}),
    ("POST", "/api/v1/attachment"): Row(either(org("manageConfig"), platform()), files=lambda w, f: {"attachments": ("x.txt", b"x")}),
    ("GET", "/api/v1/attachment/{id}/download"): Row(sees("O1"), params={"id": "O1sha"}),
    ("DELETE", "/api/v1/attachment/{id}"): Row(does("OA", "manageConfig"), params={"id": "x"}, fresh={"x": lambda w: w.org_attachment()}),
    # case templates
    ("POST", "/api/v1/caseTemplate"): Row(org("manageCaseTemplate"), json=lambda w: {"name": "t-" + __import__('uuid').uuid4().hex[:6]}),
    ("GET", "/api/v1/caseTemplate/{id}"): Row(sees("CT1"), params={"id": "CT1"}),
    ("PATCH", "/api/v1/caseTemplate/{id}"): Row(does("CT1", "manageCaseTemplate"), params={"id": "CT1"}, json={"description": "changed"}),
    ("DELETE", "/api/v1/caseTemplate/{id}"): Row(does("CT1", "manageCaseTemplate"), params={"id": "t"}, fresh={"t": lambda w: w.template()}),
    ("PUT", "/api/v1/caseTemplate/{id}/pageTemplate/link"): Row(does("CT1", "manageCaseTemplate"), params={"id": "CT1"}, json=lambda w: {"pageTemplateIds": [w.ids["PT1"]]}),
    # cortex connector (no Cortex server here: catalogues are empty, jobs fail at once)
    ("GET", "/api{v}/connector/cortex/analyzer"): Row(anyone(), params={"v": lambda w, f: "/v1"}),
    ("GET", "/api{v}/connector/cortex/analyzer/type/{data_type}"): Row(anyone(), params={"v": lambda w, f: "/v1", "data_type": lambda w, f: "ip"}),
    ("GET", "/api{v}/connector/cortex/analyzer/{id}"): Row(anyone(), params={"v": lambda w, f: "/v1", "id": lambda w, f: "nothing"}, ok=(404,)),
    ("GET", "/api{v}/connector/cortex/responder/{entity_type}/{entity_id}"): Row(sees("K1"), params={"v": lambda w, f: "/v1", "entity_type": lambda w, f: "case", "entity_id": "K1"}),
    ("POST", "/api{v}/connector/cortex/job"): Row(does("O1", "manageAnalyse"), params={"v": lambda w, f: "/v1"}, json=lambda w: {"analyzerId": "x", "cortexId": "nowhere", "artifactId": w.ids["O1"]}),
    ("POST", "/api{v}/connector/cortex/job/_bulk"): Row(does("O1", "manageAnalyse"), params={"v": lambda w, f: "/v1"}, json=lambda w: {"jobs": [{"analyzerId": "x", "cortexId": "nowhere", "artifactId": w.ids["O1"]}]}),
    ("GET", "/api{v}/connector/cortex/job/{id}"): Row(sees("J1"), params={"v": lambda w, f: "/v1", "id": "J1"}),
    ("POST", "/api{v}/connector/cortex/action"): Row(does("K1", "manageAction"), params={"v": lambda w, f: "/v1"}, json=lambda w: {"responderId": "x", "cortexId": "nowhere", "objectType": "case", "objectId": w.ids["K1"]}),
    ("GET", "/api{v}/connector/cortex/action/{object_type}/{object_id}"): Row(sees("K1"), params={"v": lambda w, f: "/v1", "object_type": lambda w, f: "case", "object_id": "K1"}),
    ("GET", "/api{v}/connector/cortex/action/{id}"): Row(sees("X1"), params={"v": lambda w, f: "/v1", "id": "X1"}),
    ("POST", "/api{v}/connector/misp/export/{case_id}/{misp_name}"): Row(sees("K1"), params={"v": lambda w, f: "/v1", "case_id": "K1", "misp_name": lambda w, f: "none"}, ok=(404,)),
    ("GET", "/api/v1/connector/misp/status"): Row(anyone()),
    ("GET", "/api/v1/connector/misp/_syncAlerts"): Row(anyone()),
    # notifications and live events
    ("GET", "/api/config/organisation/notification"): Row(anyone()),
    ("PUT", "/api/config/organisation/notification"): Row(org("manageConfig"), json={"value": []}),
    ("GET", "/api/config/notification.webhook.endpoints"): Row(platform()),
    ("PUT", "/api/config/notification.webhook.endpoints"): Row(platform(), json={"value": []}),
    # Deliveries: a platform administrator's of every organisation, manageConfig's of its own.
    ("GET", "/api/v1/notification/endpoint"): Row(either(platform(), org("manageConfig"))),
    ("GET", "/api/v1/notification/dead"): Row(either(platform(), org("manageConfig"))),
    ("POST", "/api/v1/notification/endpoint/{name}/retry"): Row(either(platform(), org("manageConfig")),
                                                               params={"name": lambda w, f: "email"}),
    ("POST", "/api/stream"): Row(anyone()),
    ("GET", "/api/stream/status"): Row(anyone()),
    # A stream is its creator's: nobody else polls it (404).
    ("GET", "/api/stream/{id}"): Row(lambda who: UNAUTH if who not in AUTHENTICATED else OK if who == "admin" else DENY,
                                     params={"id": "s"}, fresh={"s": lambda w: w.a.post("/api/stream").text},
                                     query={"wait": "0"}),
    ("GET", "/api/v1/events"): Row(anyone(), stream=True),
    # the Query API (its selections and traversals have their own test below)
    ("POST", "/api/v1/query"): Row(anyone(), json={"query": [{"_name": "listCase"}]}),
    # the legacy API (v0)
    ("POST", "/api/alert"): Row(org("manageAlert/create"), json=lambda w: {"type": "t", "source": "v0", "sourceRef": __import__('uuid').uuid4().hex, "title": "x", "description": "d"}),
    ("GET", "/api/alert/{id}"): Row(sees("A1"), params={"id": "A1"}),
    ("PATCH", "/api/alert/{id}"): Row(does("A1", "manageAlert/update"), params={"id": "A1"}, json={"title": "v0"}),
    ("DELETE", "/api/alert/{id}"): Row(does("A1", "manageAlert/delete"), params={"id": "a"}, fresh=fresh_alert),
    ("POST", "/api/alert/{id}/markAsRead"): Row(does("A1", "manageAlert/update"), params={"id": "A1"}),
    ("POST", "/api/alert/{id}/markAsUnread"): Row(does("A1", "manageAlert/update"), params={"id": "A1"}),
    ("POST", "/api/alert/{id}/follow"): Row(does("A1", "manageAlert/update"), params={"id": "A1"}),
    ("POST", "/api/alert/{id}/unfollow"): Row(does("A1", "manageAlert/update"), params={"id": "A1"}),
    ("POST", "/api/alert/{id}/createCase"): Row(does("A1", "manageAlert/import"), params={"id": "a"}, fresh=fresh_alert, json={}),
    ("POST", "/api/alert/{id}/merge/{case_id}"): Row(does("A1", "manageAlert/import"), params={"id": "a", "case_id": "k"}, fresh={"a": lambda w: w.alert(), "k": lambda w: w.a.ok("POST", "/api/v1/case", json={"title": "t", "description": "d"})["_id"]}),
    ("POST", "/api/alert/{id}/artifact"): Row(does("A1", "manageAlert/update"), params={"id": "A1"}, json=lambda w: {"dataType": "ip", "data": "10.5.0." + str(__import__('random').randint(1, 250))}),
    ("PATCH", "/api/alert/artifact/{id}"): Row(does("A1", "manageAlert/update"), params={"id": "AO1"}, json={"message": "v0"}),
    ("DELETE", "/api/alert/artifact/{id}"): Row(does("A1", "manageAlert/update"), params={"id": "o"}, fresh={"o": lambda w: w.alert_observable(w.ids["A1"])}),
    ("POST", "/api/case"): Row(org("manageCase/create"), json={"title": "v0", "description": "d"}),
    ("GET", "/api/case/{id}"): Row(sees("K1"), params={"id": "K1"}),
    ("PATCH", "/api/case/{id}"): Row(does("K1", "manageCase/update"), params={"id": "K1"}, json={"title": "v0"}),
    ("DELETE", "/api/case/{id}"): Row(owns("K1", "manageCase/delete"), params={"id": "k"}, fresh=fresh_k1),
    ("DELETE", "/api/case/{id}/force"): Row(owns("K1", "manageCase/delete"), params={"id": "k"}, fresh=fresh_k1),
    ("GET", "/api/case/{id}/links"): Row(sees("K1"), params={"id": "K1"}),
    ("POST", "/api/case/{id}/artifact"): Row(does("K1", "manageObservable"), params={"id": "K1"}, json=lambda w: {"dataType": "ip", "data": "10.6.0." + str(__import__('random').randint(1, 250))}),
    ("GET", "/api/case/artifact/{id}"): Row(sees("O1"), params={"id": "O1"}),
    ("PATCH", "/api/case/artifact/{id}"): Row(does("O1", "manageObservable"), params={"id": "O1"}, json={"message": "v0"}),
    ("DELETE", "/api/case/artifact/{id}"): Row(does("O1", "manageObservable"), params={"id": "o"}, fresh=fresh_obs),
    ("POST", "/api/case/{id}/task"): Row(does("K1", "manageTask"), params={"id": "K1"}, json={"title": "v0 task"}),
    ("GET", "/api/case/task/{id}"): Row(sees("T1"), params={"id": "T1"}),
    ("PATCH", "/api/case/task/{id}"): Row(does("T1", "manageTask"), params={"id": "T1"}, json={"description": "v0"}),
    ("POST", "/api/case/task/{id}/log"): Row(does("T1", "manageTask"), params={"id": "T1"}, json={"message": "v0"}),
    ("GET", "/api/case/task/log/{id}"): Row(sees("L1"), params={"id": "L1"}),
    ("DELETE", "/api/case/task/log/{id}"): Row(does("L1", "manageTask"), params={"id": "l"}, fresh={"l": lambda w: w.log(w.ids["T1"], False)}),
    ("POST", "/api/case/template"): Row(org("manageCaseTemplate"), json=lambda w: {"name": "v0-" + __import__('uuid').uuid4().hex[:6]}),
    ("GET", "/api/case/template/{id}"): Row(sees("CT1"), params={"id": "CT1"}),
    ("PATCH", "/api/case/template/{id}"): Row(does("CT1", "manageCaseTemplate"), params={"id": "CT1"}, json={"description": "v0"}),
    ("DELETE", "/api/case/template/{id}"): Row(does("CT1", "manageCaseTemplate"), params={"id": "t"}, fresh={"t": lambda w: w.template()}),
    ("GET", "/api/datastore/{id}"): Row(sees("O1"), params={"id": "O1sha"}),
    ("GET", "/api/datastorezip/{id}"): Row(sees("O1"), params={"id": "O1sha"}),
    # v0 searches: access checked per item in test_lists_show_only_what_each_caller_sees
    ("POST", "/api/alert/_search"): Row(anyone(), json={"query": {}}),
    ("POST", "/api/case/_search"): Row(anyone(), json={"query": {}}),
    ("POST", "/api/case/artifact/_search"): Row(anyone(), json={"query": {}}),
    ("POST", "/api/case/task/_search"): Row(anyone(), json={"query": {}}),
    ("POST", "/api/case/task/log/_search"): Row(anyone(), json={"query": {}}),
    ("POST", "/api/case/template/_search"): Row(anyone(), json={"query": {}}),
}


@pytest.fixture
def world(hive):
    return World(hive)


def resolve(world, fresh, value):
    if callable(value):
        return value(world, fresh)
    if value in fresh:
        return fresh[value]
    return world.ids[value]


def call(world, who, method, path, row):
    fresh = {name: make(world) for name, make in row.fresh.items()}
    url = path
    for name, value in row.params.items():
        url = url.replace("{" + name + "}", str(resolve(world, fresh, value)))
    kw = {}
    if row.json is not None:
        body = row.json
        if callable(body):
            n = body.__code__.co_argcount
            body = body(world, fresh, who) if n == 3 else body(world, fresh) if n == 2 else body(world)
        kw["json"] = body
    if row.files is not None:
        kw["files"] = row.files(world, fresh)
    if row.query:
        kw["params"] = row.query
    if row.stream:
        r = world.client(who).request(method, url, stream=True, timeout=10, **kw)
        head = r.raw.read(len(b": connected\n\n")) if r.status_code == 200 else r.content
        r.close()
        r._content, r._content_consumed = head, True
        return r
    return world.client(who).request(method, url, **kw)


# Operations that answer without changing anything (reads sent as POST, sessions, streams),
# or that may find nothing to change: no audit record is expected of them.
NOT_WRITES = {
    ("POST", "/api/v1/query"), ("POST", "/api/v1/login"), ("POST", "/api/login"),
    ("POST", "/api/v1/logout"), ("POST", "/api/logout"), ("POST", "/api/stream"),
    ("POST", "/api/list/custom_fields/_exists"), ("POST", "/api/v1/case/{id}/observable/_merge"),
    ("POST", "/api{v}/connector/misp/export/{case_id}/{misp_name}"),
    # Nothing to change in these cells (the alert is followed already, the case open to its
    # organisation already): a change that changes nothing leaves no record.
    ("POST", "/api/v1/alert/{id}/follow"), ("POST", "/api/v1/case/{id}/access"),
}


def test_every_operation_has_a_row_and_every_cell_holds(world):
    doc = requests.get(world.url + "/api-docs/openapi.json").json()
    writes = []

    def run(method, path, row, who):
        r = call(world, who, method, path, row)
        if (who in ("admin", "platform") and method != "GET" and 200 <= r.status_code < 300
                and (method, path) not in NOT_WRITES and not path.endswith("/_search")):
            writes.append((who, method, path, r.headers.get("X-Request-Id")))
        return r, path

    # Reads first, then writes (each write cell on fresh objects where it changes them).
    check_matrix(operations(doc), ROWS, CALLERS, run)
    # Every write that succeeded is in the audit trail, under the request's id, for its author.
    unrecorded = []
    for who, method, path, request_id in writes:
        assert request_id, f"{method} {path}: no X-Request-Id"
        records = world.client(who).query({"_name": "listAudit"},
                                          {"_name": "filter", "_is": {"requestId": request_id}}).json()
        if not records:
            unrecorded.append(f"{method} {path} as {who}")
    assert not unrecorded, "writes without an audit record:\n" + "\n".join(unrecorded)


# --------------------------------------------------------------------------- lists

def visible_names(who):
    return {name for name, kind in KIND_OF.items() if who in SEES[kind]}


def world_ids(world):
    """id -> world name, for every object of the world (files by SHA-256 too)."""
    out = {}
    for name, value in world.ids.items():
        if isinstance(value, str):
            out[value] = name
    return out


def check_items(world, who, items, where, failures):
    names = world_ids(world)
    allowed = visible_names(who)
    for item in items if isinstance(items, list) else []:
        # An audit record names its object and root: the caller must see them too.
        for key in ("_id", "id", "objectId", "rootId"):
            v = item.get(key) if isinstance(item, dict) else None
            name = names.get(v) if isinstance(v, str) else None
            if name and name in KIND_OF and name not in allowed:
                failures.append(f"{where} as {who} shows {name}")
        for nested in ("case", "alert"):
            v = item.get(nested) if isinstance(item, dict) else None
            if isinstance(v, dict):
                check_items(world, who, [v], where + f" ({nested})", failures)


START = {"alert": ["A1", "A2"], "case": ["K1", "K2"], "observable": ["O1", "O2", "AO1"], "task": ["T1", "T2"],
         "log": ["L1", "L2"], "caseTemplate": ["CT1"], "organisation": []}
GET = {"alert": "getAlert", "case": "getCase", "observable": "getObservable", "task": "getTask", "log": "getLog",
       "caseTemplate": "getCaseTemplate"}
LIST = {"alert": "listAlert", "case": "listCase", "observable": "listObservable", "task": "listTask",
        "log": "listLog", "caseTemplate": "listCaseTemplate", "organisation": "listOrganisation"}


def test_lists_show_only_what_each_caller_sees(world):
    doc = requests.get(world.url + "/api-docs/openapi.json").json()
    spec = doc["paths"]["/api/v1/query"]["post"]["x-query-operations"]
    failures = []
    names = world_ids(world)
    for who in CALLERS[:8]:
        c = world.client(who)
        for sel in spec["selections"]:
            if sel.startswith("get"):
                for name in [n for n in names.values() if n in KIND_OF]:
                    r = c.query({"_name": sel, "idOrName": world.ids[name]})
                    if r.status_code >= 500:
                        failures.append(f"{sel} {name} as {who}: {r.status_code}")
                    elif r.status_code == 200:
                        check_items(world, who, r.json(), f"{sel}({name})", failures)
            else:
                r = c.query({"_name": sel})
                if r.status_code != 200:
                    failures.append(f"{sel} as {who}: {r.status_code} {r.text[:120]}")
                    continue
                check_items(world, who, r.json(), sel, failures)
        for kind, traversals in spec["traversals"].items():
            for t in traversals:
                starts = [[{"_name": GET[kind], "idOrName": world.ids[n]}] for n in START.get(kind, []) if kind in GET]
                starts.append([{"_name": LIST[kind]}] if kind in LIST else [])
                for start in [s for s in starts if s]:
                    r = c.query(*start, {"_name": t})
                    where = f"{start[0]['_name']}({start[0].get('idOrName', '')}) -> {t}"
                    if r.status_code >= 500:
                        failures.append(f"{where} as {who}: {r.status_code}")
                    elif r.status_code == 200:
                        check_items(world, who, r.json(), where, failures)
        for path in ("/api/alert/_search", "/api/case/_search", "/api/case/artifact/_search", "/api/case/task/_search",
                     "/api/case/task/log/_search", "/api/case/template/_search"):
            r = c.post(path, params={"range": "all"}, json={"query": {}})
            if r.status_code != 200:
                failures.append(f"{path} as {who}: {r.status_code} {r.text[:120]}")
                continue
            check_items(world, who, r.json(), path, failures)
    # Not vacuous: the named analyst sees the restricted case in the lists, the reader K1.
    admin_cases = {k["_id"] for k in world.client("analyst").query({"_name": "listCase"}).json()}
    assert {world.ids["K1"], world.ids["K2"]} <= admin_cases
    partner_tasks = {t["_id"] for t in world.client("partner_rw").query({"_name": "listTask"}).json()}
    assert world.ids["T1"] in partner_tasks
    assert not failures, "\n".join(failures)
