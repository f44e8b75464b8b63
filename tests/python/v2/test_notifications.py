"""Notifications (issue 15): the audit trail and what reads it, webhooks in TheHive 4's
formats, the organisation's triggers, and delivery that loses nothing. Each test runs
hive-service on SQLite and PostgreSQL with webhook endpoints pointing to a local receiver
(receiver.py), and drives it with thehive4py 2.1.0 and plain HTTP as a feeder, an analyst
and an orchestrator would."""
import json
import os
import time
import uuid

import pytest
import requests
from thehive4py import TheHiveApi

from casework import ADMIN, MAIN_ORG, PASSWORD, tenant
from conftest import HIVE_BIN, Service, _db_for
from receiver import Receiver, signed

SECRET = "webhook-signing-secret"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def start_hive(backend, receiver, **extra):
    """hive-service with webhook endpoints `v0` (version 0, signed) and `v1` (version 1) on the
    receiver, and API endpoints allowed on loopback."""
    env = {
        "HIVE__NOTIFICATION__WEBHOOKS__V0__URL": receiver.url + "/v0",
        "HIVE__NOTIFICATION__WEBHOOKS__V0__SECRET": SECRET,
        "HIVE__NOTIFICATION__WEBHOOKS__V1__URL": receiver.url + "/v1",
        "HIVE__NOTIFICATION__WEBHOOKS__V1__VERSION": "1",
        "HIVE__NOTIFICATION__WEBHOOKS__V1__AUTH__TYPE": "bearer",
        "HIVE__NOTIFICATION__WEBHOOKS__V1__AUTH__KEY": "receiver-token",
        "HIVE__NOTIFICATION__ALLOWED_NETWORKS": "127.0.0.0/8",
    }
    env.update(extra)
    return Service(HIVE_BIN, "HIVE", _db_for(backend), env)


@pytest.fixture
def hive_n(backend, receiver):
    s = start_hive(backend, receiver)
    yield s
    s.stop()


def notify(api, *notifications):
    """Sets the organisation's notification list."""
    return api.session.make_request("PUT", "/api/config/organisation/notification",
                                    json={"value": list(notifications)})


def webhook(endpoint, trigger="AnyEvent", **trigger_args):
    return {"delegate": False, "trigger": {"name": trigger, **trigger_args},
            "notifier": {"name": "webhook", "endpoint": endpoint}}


def events(receiver, path):
    return [(b["objectType"], b["operation"]) for b in receiver.bodies(path)]


V0_KEYS = ["operation", "details", "objectType", "objectId", "base", "startDate", "rootId", "requestId",
           "object", "organisationId", "organisation"]


def test_payloads_in_thehive_4s_shapes_version_0_and_1(hive_n, receiver):
    api = tenant(hive_n)
    notify(api, webhook("v0"), webhook("v1"))
    cf = TheHiveApi(url=hive_n.url, username=ADMIN, password=PASSWORD, organisation="admin")
    cf.custom_field.create({"name": "reporter", "displayName": "Reporter", "type": "string",
                            "description": "who reported", "options": []})
    alert = api.alert.create({"type": "mail", "source": "feeder", "sourceRef": uuid.uuid4().hex[:10],
                              "title": "Suspicious mail", "description": "reported by a user",
                              "observables": [{"dataType": "mail", "data": "ceo@evil.example"}]})
    case = api.alert.promote_to_case(alert["_id"])
    [task] = [api.case.create_task(case["_id"], {"title": "Triage"})]
    api.task.update(task["_id"], {"assignee": ADMIN})
    api.task.create_log(task["_id"], {"message": "looked at it"})
    api.case.update(case["_id"], {"customFields": [{"name": "reporter", "value": "bob"}], "severity": 3})
    last = lambda calls: any(c["body"]["objectType"] in ("case", "Case") and c["body"]["operation"] == "update"
                             and "customFields" in c["body"]["details"] for c in calls)
    receiver.wait(last, path="/v0")
    receiver.wait(last, path="/v1")
    v0 = receiver.received("/v0")
    v1 = receiver.received("/v1")

    # Every v0 call is TheHive 4's message, key for key (JSON objects are unordered), signed,
    # with a delivery id.
    for c in v0:
        assert sorted(c["body"].keys()) == sorted(V0_KEYS), c["body"].keys()
        assert signed(c, SECRET), c["headers"]
        assert c["headers"]["content-type"] == "application/json"
        assert c["headers"]["x-hive-delivery"]
        assert c["body"]["organisation"] == MAIN_ORG
        assert c["body"]["organisationId"].startswith("~")
    assert len({c["headers"]["x-hive-delivery"] for c in v0}) == len(v0)
    for c in v1:
        assert c["headers"]["authorization"] == "Bearer receiver-token"
        assert "x-hive-signature" not in c["headers"]

    def one(calls, object_type, operation, pred=lambda b: True):
        found = [c["body"] for c in calls if c["body"]["objectType"] == object_type
                 and c["body"]["operation"] == operation and pred(c["body"])]
        assert found, f"no {object_type} {operation} in {[(c['body']['objectType'], c['body']['operation']) for c in calls]}"
        return found[0]

    # The alert, as the v0 API renders it (artifacts embedded, status New).
    a0 = one(v0, "alert", "create")
    assert a0["objectId"] == alert["_id"] and a0["rootId"] == alert["_id"] and a0["base"] is True
    assert a0["object"]["_type"] == "alert" and a0["object"]["id"] == alert["_id"]
    # The object as it is when the event is sent (as TheHive renders it): maybe imported by then.
    assert a0["object"]["title"] == "Suspicious mail" and a0["object"]["status"] in ("New", "Updated", "Imported")
    assert [x["data"] for x in a0["object"]["artifacts"]] == ["ceo@evil.example"]
    assert a0["details"]["title"] == "Suspicious mail" and a0["details"]["sourceRef"] == alert["sourceRef"]
    assert isinstance(a0["startDate"], int)
    # Its observable: a case_artifact with its alert, not the main action of the request.
    o0 = one(v0, "case_artifact", "create")
    assert o0["base"] is False and o0["requestId"] == a0["requestId"]
    assert o0["object"]["alert"]["_id"] == alert["_id"] and o0["rootId"] == alert["_id"]
    # The case made from it: v0 case (caseId number, status Open), then the alert imported.
    k0 = one(v0, "case", "create")
    assert k0["object"]["caseId"] == case["number"] and k0["object"]["status"] == "Open"
    assert k0["details"]["fromAlert"]["_id"] == alert["_id"]
    one(v0, "alert", "update", lambda b: b["details"].get("status") == "Imported")
    # A task carries its case; a log its task and the task's case.
    t0 = one(v0, "case_task", "update", lambda b: "assignee" in b["details"])
    assert t0["object"]["case"]["_id"] == case["_id"] and t0["rootId"] == case["_id"]
    assert t0["object"]["owner"] == ADMIN
    l0 = one(v0, "case_task_log", "create")
    assert l0["object"]["case_task"]["_id"] == task["_id"]
    assert l0["object"]["case_task"]["case"]["_id"] == case["_id"]
    # Custom field details in TheHive 4's v0 form.
    u0 = one(v0, "case", "update", lambda b: "customFields" in b["details"])
    assert u0["details"]["customFields"] == {"reporter": {"string": "bob", "order": 0}}, u0["details"]
    assert u0["details"]["severity"] == 3

    # Version 1: TheHive 5's names, `action` beside `operation`, v1 objects, the context.
    a1 = one(v1, "Alert", "create")
    assert a1["action"] == "create" and a1["object"]["_type"] == "Alert"
    assert a1["object"]["sourceRef"] == alert["sourceRef"]
    t1 = one(v1, "Task", "update", lambda b: "assignee" in b["details"])
    assert t1["object"]["assignee"] == ADMIN and t1["context"]["_id"] == case["_id"]
    assert t1["object"]["case"]["_id"] == case["_id"]
    one(v1, "Observable", "create")
    one(v1, "Log", "create")


def test_merge_is_an_update_for_version_0_and_a_delete_has_no_object(hive_n, receiver):
    api = tenant(hive_n)
    notify(api, webhook("v0"), webhook("v1"))
    k1 = api.case.create({"title": "one", "description": "d"})
    k2 = api.case.create({"title": "two", "description": "d"})
    merged = api.case.merge([k1["_id"], k2["_id"]])
    a = api.alert.create({"type": "t", "source": "s", "sourceRef": uuid.uuid4().hex[:8], "title": "gone",
                          "description": "d"})
    api.alert.delete(a["_id"])
    receiver.wait(lambda calls: any(c["body"]["objectType"] == "alert" and c["body"]["operation"] == "delete"
                                    for c in calls), path="/v0")
    receiver.wait(lambda calls: any(c["body"]["operation"] == "delete" for c in calls), path="/v1")
    v0 = receiver.bodies("/v0")
    v1 = receiver.bodies("/v1")
    m0 = [b for b in v0 if b["objectType"] == "case" and b["objectId"] == merged["_id"] and "cases" in b["details"]]
    assert m0 and m0[0]["operation"] == "update", m0
    m1 = [b for b in v1 if b["objectType"] == "Case" and b["objectId"] == merged["_id"] and b["operation"] == "merge"]
    assert m1 and m1[0]["action"] == "merge"
    assert sorted(c["_id"] for c in m1[0]["details"]["cases"]) == sorted([k1["_id"], k2["_id"]])
    d0 = [b for b in v0 if b["objectType"] == "alert" and b["operation"] == "delete"][0]
    assert d0["object"] == {} and d0["objectId"] == a["_id"] and d0["details"]["title"] == "gone"


TRIGGERS = ["AlertCreated", "AlertImported", "AlertClosed", "AlertAssigned", "AlertObservableCreated",
            "CaseCreated", "CaseClosed", "CaseFlagged", "CaseShared", "CaseObservableCreated",
            "ObservableCreated", "TaskAssigned", "TaskClosed", "TaskMandatory", "LogInMyTask"]


def api_endpoints(api_admin, receiver, names, version=0):
    """Endpoints set through TheHive 4's API, one per name, each on its own receiver path."""
    value = [{"name": n, "url": f"{receiver.url}/{n}", "version": version, "auth": {"type": "none"}}
             for n in names]
    r = api_admin.session.make_request("PUT", "/api/config/notification.webhook.endpoints",
                                       json={"value": value})
    return r


def test_each_trigger_fires_on_its_events_only(hive_n, receiver):
    api = tenant(hive_n, "partners")
    root = TheHiveApi(url=hive_n.url, username=ADMIN, password=PASSWORD, organisation="admin")
    names = [t.lower() for t in TRIGGERS]
    api_endpoints(root, receiver, names)
    notify(api, *[webhook(t.lower(), t) for t in TRIGGERS])
    other = TheHiveApi(url=hive_n.url, username=ADMIN, password=PASSWORD, organisation="partners")
    other.user.create({"login": f"bob@partners.test", "name": "Bob", "profile": "analyst",
                       "organisation": "partners"})

    alert = api.alert.create({"type": "t", "source": "s", "sourceRef": uuid.uuid4().hex[:8],
                              "title": "to import", "description": "d",
                              "observables": [{"dataType": "ip", "data": "203.0.113.9"}]})
    closed = api.alert.create({"type": "t", "source": "s", "sourceRef": uuid.uuid4().hex[:8],
                               "title": "to close", "description": "d"})
    api.alert.update(closed["_id"], {"assignee": ADMIN})
    api.alert.update(closed["_id"], {"status": "FalsePositive"})
    case = api.alert.promote_to_case(alert["_id"])
    api.case.update(case["_id"], {"flag": True})
    api.case.create_observable(case["_id"], {"dataType": "domain", "data": "evil.example"})
    task = api.case.create_task(case["_id"], {"title": "Check", "mandatory": True})
    other_task = api.case.create_task(case["_id"], {"title": "Mine"})
    api.task.update(task["_id"], {"assignee": ADMIN})
    api.task.create_log(task["_id"], {"message": "someone else's log"})
    api.task.update(task["_id"], {"status": "Completed"})
    api.case.share(case["_id"], [{"organisation": "partners", "profile": "analyst"}])
    api.case.close(case["_id"], status="TruePositive", summary="done")

    def got(trigger):
        return [(b["objectType"], b["operation"], b["objectId"]) for b in receiver.bodies("/" + trigger.lower())]

    receiver.wait(lambda calls: len(calls) >= 1, path="/caseclosed")
    time.sleep(1.0)
    assert got("AlertCreated") == [("alert", "create", alert["_id"]), ("alert", "create", closed["_id"])]
    assert [x[2] for x in got("AlertImported")] == [alert["_id"]]
    assert [x[2] for x in got("AlertClosed")] == [closed["_id"]]
    assert [x[2] for x in got("AlertAssigned")] == [closed["_id"]]
    assert [x[0] for x in got("AlertObservableCreated")] == ["case_artifact"]
    assert got("CaseCreated") == [("case", "create", case["_id"])]
    assert [x[:2] for x in got("CaseClosed")] == [("case", "update")]
    assert [x[:2] for x in got("CaseFlagged")] == [("case", "update")]
    assert [x[:2] for x in got("CaseShared")] == [("case", "update")]
    shared = receiver.bodies("/caseshared")[0]
    assert shared["details"]["share"]["organisation"] == "partners"
    # The alert's observable copied into the case, and the one added to the case.
    assert len(got("CaseObservableCreated")) == 2
    assert len(got("ObservableCreated")) == 3
    assert [x[2] for x in got("TaskAssigned")] == [task["_id"]]
    assert [x[2] for x in got("TaskClosed")] == [task["_id"]]
    assert [x[2] for x in got("TaskMandatory")] == [task["_id"]]
    assert other_task["_id"] not in [x[2] for x in got("TaskMandatory")]
    # The log was written by the task's assignee itself: not "in my task" for anyone else.
    assert got("LogInMyTask") == []


def test_log_in_my_task_fires_for_a_log_by_someone_else(hive_n, receiver):
    api = tenant(hive_n)
    root = TheHiveApi(url=hive_n.url, username=ADMIN, password=PASSWORD, organisation="admin")
    api_endpoints(root, receiver, ["mine"])
    notify(api, webhook("mine", "LogInMyTask"))
    api.user.create({"login": "carol@main.test", "name": "Carol", "profile": "analyst",
                     "organisation": MAIN_ORG, "password": PASSWORD})
    case = api.case.create({"title": "k", "description": "d"})
    task = api.case.create_task(case["_id"], {"title": "t", "assignee": "carol@main.test"})
    api.task.create_log(task["_id"], {"message": "for carol"})
    [call] = receiver.wait(lambda calls: len(calls) >= 1, path="/mine")
    assert call["body"]["objectType"] == "case_task_log"
    assert call["body"]["object"]["case_task"]["owner"] == "carol@main.test"


def test_filtered_event_reads_audit_fields_details_and_object(hive_n, receiver):
    api = tenant(hive_n)
    flt = {"_and": [{"_is": {"objectType": "Case"}}, {"_is": {"action": "update"}},
                    {"_gte": {"details.severity": 3}}, {"_like": {"object.title": "*phish*"}}]}
    notify(api, webhook("v1", "FilteredEvent", filter=flt))
    k = api.case.create({"title": "a phishing wave", "description": "d", "severity": 1})
    other = api.case.create({"title": "unrelated", "description": "d"})
    api.case.update(k["_id"], {"severity": 2})
    api.case.update(other["_id"], {"severity": 4})
    api.case.update(k["_id"], {"severity": 4})
    [call] = receiver.wait(lambda calls: len(calls) >= 1, path="/v1")
    time.sleep(1.0)
    assert len(receiver.received("/v1")) == 1
    assert call["body"]["objectId"] == k["_id"] and call["body"]["details"]["severity"] == 4
    # A filter that TheHive cannot read is refused, and so is an unknown trigger or endpoint.
    for bad in ({"trigger": {"name": "FilteredEvent", "filter": {"_nope": {}}}},
                {"trigger": {"name": "NoSuchTrigger"}},
                {"trigger": {"name": "AnyEvent"}, "notifier": {"name": "webhook", "endpoint": "nowhere"}}):
        n = {**webhook("v1"), **bad}
        r = requests.put(hive_n.url + "/api/config/organisation/notification", auth=(ADMIN, PASSWORD),
                         headers={"X-Organisation": MAIN_ORG}, json={"value": [n]})
        assert r.status_code == 400, r.text
        assert r.json()["type"] == "AttributeCheckingError"


def test_the_switch_is_per_organisation_and_applies_at_once(hive_n, receiver):
    api = tenant(hive_n, "quiet")
    quiet = TheHiveApi(url=hive_n.url, username=ADMIN, password=PASSWORD, organisation="quiet")
    r = api.session.make_request("GET", "/api/config/organisation/notification")
    assert r == {"path": "notification", "defaultValue": [], "value": []}
    notify(api, webhook("v0"))
    assert api.session.make_request("GET", "/api/config/organisation/notification")["value"][0]["notifier"] == \
        {"name": "webhook", "endpoint": "v0"}
    mine = api.case.create({"title": "heard", "description": "d"})
    quiet.case.create({"title": "not heard", "description": "d"})
    receiver.wait(lambda calls: any(c["body"]["objectId"] == mine["_id"] for c in calls), path="/v0")
    time.sleep(1.0)
    assert {b["organisation"] for b in receiver.bodies("/v0")} == {MAIN_ORG}
    # Switched off: nothing more, at once.
    notify(api)
    after = api.case.create({"title": "after", "description": "d"})
    time.sleep(1.5)
    assert after["_id"] not in [b["objectId"] for b in receiver.bodies("/v0")]
    # The settings need manageConfig.
    api.user.create({"login": "ana@main.test", "name": "Ana", "profile": "analyst",
                     "organisation": MAIN_ORG, "password": PASSWORD})
    r = requests.put(hive_n.url + "/api/config/organisation/notification", auth=("ana@main.test", PASSWORD),
                     json={"value": []})
    assert r.status_code == 403


def test_endpoints_set_through_the_api(hive_n, receiver):
    root = TheHiveApi(url=hive_n.url, username=ADMIN, password=PASSWORD, organisation="admin")
    api = tenant(hive_n)
    value = [{"name": "soar", "url": receiver.url + "/soar", "version": 1,
              "auth": {"type": "basic", "username": "hook", "password": "pw"}, "secret": "k3y",
              "includedTheHiveOrganisations": ["*"], "excludedTheHiveOrganisations": []}]
    root.session.make_request("PUT", "/api/config/notification.webhook.endpoints", json={"value": value})
    shown = root.session.make_request("GET", "/api/config/notification.webhook.endpoints")
    assert shown["path"] == "notification.webhook.endpoints"
    assert [e["name"] for e in shown["defaultValue"]] == ["v0", "v1"]
    assert shown["value"][0]["auth"] == {"type": "basic", "username": "hook", "password": "<hidden>"}
    assert shown["value"][0]["secret"] == "<hidden>"
    # Given back masked, the secrets stay.
    root.session.make_request("PUT", "/api/config/notification.webhook.endpoints",
                              json={"value": shown["value"]})
    notify(api, webhook("soar"))
    api.case.create({"title": "k", "description": "d"})
    calls = receiver.wait(lambda calls: any(c["body"]["objectType"] == "Case" for c in calls), path="/soar")
    [call] = [c for c in calls if c["body"]["objectType"] == "Case"]
    assert call["headers"]["authorization"].startswith("Basic ")
    assert signed(call, "k3y")
    # Only platform administrators, and not to internal addresses unless allowed.
    r = requests.get(hive_n.url + "/api/config/notification.webhook.endpoints", auth=(ADMIN, PASSWORD),
                     headers={"X-Organisation": MAIN_ORG})
    assert r.status_code == 403


def test_api_endpoints_are_bounded_and_keep_the_services_own_headers(hive_n, receiver):
    def put(**extra):
        value = [{"name": "bounded", "url": receiver.url + "/b", "version": 1, **extra}]
        return requests.put(hive_n.url + "/api/config/notification.webhook.endpoints",
                            auth=(ADMIN, PASSWORD), headers={"X-Organisation": "admin"},
                            json={"value": value})
    for extra in ({"headers": {f"X-H{i}": "v" for i in range(33)}},
                  {"headers": {"X-Big": "v" * 5000}},
                  {"headers": {"X-Hive-Signature": "sha256=forged"}},
                  {"headers": {"Content-Type": "text/plain"}},
                  {"auth": {"type": "basic", "username": "u" * 300, "password": "p"}},
                  {"excludedTheHiveOrganisations": [f"o{i}" for i in range(1001)]}):
        r = put(**extra)
        assert r.status_code == 400, (extra.keys(), r.status_code, r.text)
        assert r.json()["type"] in ("BadRequest", "AttributeCheckingError", "InvalidFormatAttributeError"), r.text
    # Nothing of the refused ones was kept; a reasonable one goes in.
    shown = requests.get(hive_n.url + "/api/config/notification.webhook.endpoints",
                         auth=(ADMIN, PASSWORD), headers={"X-Organisation": "admin"}).json()
    assert shown["value"] == [], shown
    assert put(headers={"X-Team": "soc"}).status_code in (200, 204)


def test_internal_addresses_are_refused_to_api_endpoints(backend, receiver):
    s = start_hive(backend, receiver, HIVE__NOTIFICATION__ALLOWED_NETWORKS="")
    try:
        for url in ("http://127.0.0.1:9/x", "http://169.254.169.254/latest/meta-data", "http://10.0.0.1/",
                    "http://[::1]:80/", "file:///etc/passwd", "http://localhost:8080/"):
            r = requests.put(s.url + "/api/config/notification.webhook.endpoints", auth=(ADMIN, PASSWORD),
                             json={"value": [{"name": "x", "url": url}]})
            assert r.status_code == 400, (url, r.text)
        # Nothing was stored.
        r = requests.get(s.url + "/api/config/notification.webhook.endpoints", auth=(ADMIN, PASSWORD))
        assert r.json()["value"] == []
    finally:
        s.stop()


def test_include_and_exclude_organisations(backend, receiver):
    s = start_hive(backend, receiver, HIVE__NOTIFICATION__WEBHOOKS__ONLY__URL=receiver.url + "/only",
                   HIVE__NOTIFICATION__WEBHOOKS__ONLY__INCLUDE_ORGANISATIONS="other-org",
                   HIVE__NOTIFICATION__WEBHOOKS__NOTME__URL=receiver.url + "/notme",
                   HIVE__NOTIFICATION__WEBHOOKS__NOTME__EXCLUDE_ORGANISATIONS=MAIN_ORG)
    try:
        api = tenant(s, "other-org")
        other = TheHiveApi(url=s.url, username=ADMIN, password=PASSWORD, organisation="other-org")
        for client in (api, other):
            notify(client, webhook("only"), webhook("notme"))
            client.case.create({"title": "k", "description": "d"})
        receiver.wait(lambda calls: len(calls) >= 1, path="/only")
        receiver.wait(lambda calls: len(calls) >= 1, path="/notme")
        time.sleep(1.0)
        assert {b["organisation"] for b in receiver.bodies("/only")} == {"other-org"}
        assert {b["organisation"] for b in receiver.bodies("/notme")} == {"other-org"}
    finally:
        s.stop()


# ----------------------------------------------------------------------------- delivery faults

def alerts(api, n, prefix):
    """Creates n alerts (plain HTTP, as a feeder); their ids in creation order."""
    out = []
    for i in range(n):
        a = api.alert.create({"type": "t", "source": prefix, "sourceRef": f"{prefix}-{i}-{uuid.uuid4().hex[:6]}",
                              "title": f"{prefix} {i}", "description": "d"})
        out.append(a["_id"])
    return out


def alert_creations(receiver, path="/v0"):
    """(delivery id, alert id) of the alert creations received, in arrival order."""
    return [(c["headers"]["x-hive-delivery"], c["body"]["objectId"]) for c in receiver.received(path)
            if c["body"]["objectType"] == "alert" and c["body"]["operation"] == "create"]


def check_exactly_once_in_order(received, expected_ids):
    """Every expected alert was delivered; a repeat carries the same delivery id; the first
    arrival of each delivery follows the order of the events."""
    first = {}
    for delivery, alert in received:
        if delivery in first:
            continue
        first[delivery] = alert
    by_alert = {}
    for delivery, alert in first.items():
        assert alert not in by_alert, f"alert {alert} delivered under two delivery ids"
        by_alert[alert] = delivery
    missing = [a for a in expected_ids if a not in by_alert]
    assert not missing, f"{len(missing)} alert creations never delivered"
    order = [alert for alert in first.values() if alert in set(expected_ids)]
    assert order == [a for a in expected_ids if a in set(order)], "deliveries arrived out of order"


def test_a_receiver_that_fails_for_a_while_gets_everything_in_order(hive_n, receiver):
    api = tenant(hive_n)
    notify(api, webhook("v0"))
    receiver.failing = True
    ids = alerts(api, 20, "down")
    time.sleep(2.0)
    assert alert_creations(receiver) == []
    stats = TheHiveApi(url=hive_n.url, username=ADMIN, password=PASSWORD, organisation="admin") \
        .session.make_request("GET", "/api/v1/notification/endpoint")
    [v0] = [e for e in stats if e["name"] == "v0"]
    assert v0["pending"] >= 20 and v0["lastError"] and "503" in v0["lastError"], v0
    receiver.failing = False
    receiver.wait(lambda calls: len(alert_creations(receiver)) >= 20, timeout=60, path="/v0")
    check_exactly_once_in_order(alert_creations(receiver), ids)


def test_dead_deliveries_are_counted_and_requeued(backend, receiver):
    s = start_hive(backend, receiver, HIVE__NOTIFICATION__DEAD_AFTER_SECS="2")
    try:
        api = tenant(s)
        root = TheHiveApi(url=s.url, username=ADMIN, password=PASSWORD, organisation="admin")
        notify(api, webhook("v0"))
        receiver.failing = True
        ids = alerts(api, 3, "dead")
        deadline = time.time() + 30
        while True:
            [v0] = [e for e in root.session.make_request("GET", "/api/v1/notification/endpoint")
                    if e["name"] == "v0"]
            if v0["dead"] >= 3 and v0["pending"] == 0:
                break
            assert time.time() < deadline, v0
            time.sleep(0.3)
        receiver.failing = False
        r = root.session.make_request("POST", "/api/v1/notification/endpoint/v0/retry")
        assert r["requeued"] >= 3
        receiver.wait(lambda calls: len(alert_creations(receiver)) >= 3, path="/v0")
        check_exactly_once_in_order(alert_creations(receiver), ids)
        [v0] = [e for e in root.session.make_request("GET", "/api/v1/notification/endpoint") if e["name"] == "v0"]
        assert v0["dead"] == 0 and v0["delivered"] >= 3
    finally:
        s.stop()


def test_a_killed_instance_loses_nothing(hive_n, receiver):
    api = tenant(hive_n)
    notify(api, webhook("v0"))
    ids = alerts(api, 40, "before")
    hive_n.kill()
    hive_n.start()
    api = TheHiveApi(url=hive_n.url, username=ADMIN, password=PASSWORD, organisation=MAIN_ORG)
    ids += alerts(api, 20, "after")
    receiver.wait(lambda calls: len({a for _, a in alert_creations(receiver)}) >= 60, timeout=90, path="/v0")
    check_exactly_once_in_order(alert_creations(receiver), ids)


def test_two_instances_on_one_database_deliver_each_event_once(receiver):
    from conftest import pg_database
    db = pg_database()
    if db is None:
        pytest.skip("PostgreSQL unreachable")
    env = {"HIVE__NOTIFICATION__WEBHOOKS__V0__URL": receiver.url + "/v0"}
    a = Service(HIVE_BIN, "HIVE", db, env)
    b = Service(HIVE_BIN, "HIVE", db, env)
    try:
        api_a = tenant(a)
        notify(api_a, webhook("v0"))
        api_b = TheHiveApi(url=b.url, username=ADMIN, password=PASSWORD, organisation=MAIN_ORG)
        ids = []
        for i in range(15):
            ids += alerts(api_a, 1, f"a{i}")
            ids += alerts(api_b, 1, f"b{i}")
        receiver.wait(lambda calls: len({x for _, x in alert_creations(receiver)}) >= 30, timeout=60, path="/v0")
        received = alert_creations(receiver)
        check_exactly_once_in_order(received, ids)
        # One instance at a time delivers: a repeat, if any, carries the same delivery id.
        assert len({d for d, _ in received}) == len({x for _, x in received})
        # Killing the one that delivers hands the work to the other.
        a.kill()
        more = alerts(api_b, 5, "after-kill")
        receiver.wait(lambda calls: all(m in {x for _, x in alert_creations(receiver)} for m in more),
                      timeout=60, path="/v0")
    finally:
        a.stop()
        b.stop()


# ----------------------------------------------------------------------------- RabbitMQ, streams

def test_events_on_rabbitmq(backend, receiver):
    from conftest import amqp_broker
    url = amqp_broker()
    if url is None:
        pytest.skip("RabbitMQ unreachable")
    import pika
    s = start_hive(backend, receiver, HIVE__AMQP__URL=url)
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    q = ch.queue_declare(queue="", exclusive=True).method.queue
    ch.queue_bind(queue=q, exchange="thehive.events", routing_key=f"{MAIN_ORG}.#")
    try:
        api = tenant(s)
        case = api.case.create({"title": "on the bus", "description": "d"})
        api.case.update(case["_id"], {"severity": 4})
        got = []
        deadline = time.time() + 30
        while len([m for m in got if m[0].startswith(f"{MAIN_ORG}.Case.")]) < 2:
            assert time.time() < deadline, got
            method, props, body = ch.basic_get(q, auto_ack=True)
            if method is None:
                time.sleep(0.1)
                continue
            got.append((method.routing_key, props, json.loads(body)))
        keys = [k for k, _, _ in got]
        assert f"{MAIN_ORG}.Case.create" in keys and f"{MAIN_ORG}.Case.update" in keys, keys
        [(_, props, created)] = [m for m in got if m[0] == f"{MAIN_ORG}.Case.create"]
        assert created["objectId"] == case["_id"] and created["action"] == "create"
        assert created["object"]["title"] == "on the bus" and created["organisation"] == MAIN_ORG
        assert props.delivery_mode == 2 and props.message_id
    finally:
        conn.close()
        s.stop()


def test_streams_and_server_sent_events_show_what_the_caller_sees(hive_n, receiver):
    api = tenant(hive_n, "elsewhere")
    other = TheHiveApi(url=hive_n.url, username=ADMIN, password=PASSWORD, organisation="elsewhere")
    api.user.create({"login": "reader@main.test", "name": "Reader", "profile": "read-only",
                     "organisation": MAIN_ORG, "password": PASSWORD})
    sse = requests.get(hive_n.url + "/api/v1/events", auth=("reader@main.test", PASSWORD), stream=True, timeout=30)
    assert sse.status_code == 200 and sse.headers["content-type"].startswith("text/event-stream")
    stream_id = requests.post(hive_n.url + "/api/stream", auth=("reader@main.test", PASSWORD)).text
    assert len(stream_id) == 20
    # Another user cannot read this stream.
    r = requests.get(f"{hive_n.url}/api/stream/{stream_id}", auth=(ADMIN, PASSWORD), params={"wait": 0})
    assert r.status_code == 404
    r = requests.get(f"{hive_n.url}/api/stream/{stream_id}", auth=("nobody", "x"))
    assert r.status_code == 401

    hidden = other.case.create({"title": "other org's", "description": "d"})
    case = api.case.create({"title": "seen", "description": "d", "tasks": [{"title": "t"}]})
    items = requests.get(f"{hive_n.url}/api/stream/{stream_id}", auth=("reader@main.test", PASSWORD),
                         timeout=70).json()
    assert items, "the poll answered no event"
    bases = [i["base"] for i in items]
    assert all(i["_type"] == "audit" for i in items)
    assert hidden["_id"] not in [b["objectId"] for b in bases]
    [created] = [b for b in bases if b["objectId"] == case["_id"]]
    assert created["operation"] == "Creation" and created["objectType"] == "case"
    assert created["object"]["title"] == "seen"
    [summary] = [i["summary"] for i in items if i["base"]["objectId"] == case["_id"]]
    assert summary == {"case": {"Creation": 1}, "case_task": {"Creation": 1}}, summary

    events = []
    for line in sse.iter_lines(decode_unicode=True):
        if line.startswith("data: "):
            events.append(json.loads(line[6:]))
        if any(e["objectId"] == case["_id"] for e in events):
            break
    sse.close()
    assert hidden["_id"] not in [e["objectId"] for e in events]
    [e] = [e for e in events if e["objectId"] == case["_id"]]
    assert e["action"] == "create" and e["objectType"] == "Case" and e["object"]["title"] == "seen"

    # The trail through the Query API: the case's records, to those who see it.
    records = api.session.make_request("POST", "/api/v1/query", json={"query": [
        {"_name": "listAudit"}, {"_name": "filter", "_is": {"rootId": case["_id"]}}]})
    assert {(r["objectType"], r["action"]) for r in records} == {("Case", "create"), ("Task", "create")}
    assert len({r["requestId"] for r in records}) == 1
    assert [r["mainAction"] for r in records if r["objectType"] == "Case"] == [True]
    outsider = other.session.make_request("POST", "/api/v1/query", json={"query": [
        {"_name": "listAudit"}, {"_name": "filter", "_is": {"rootId": case["_id"]}}]})
    assert outsider == []
    # And in the case's timeline.
    timeline = api.session.make_request("GET", f"/api/v1/case/{case['_id']}/timeline")
    assert any(ev["kind"] == "Audit" and ev["details"]["objectType"] == "Case"
               and ev["details"]["objectId"] == case["_id"] for ev in timeline["events"])


# ----------------------------------------------------------------------------- automation

def test_run_analyzer_on_alert_created_analyzes_the_new_alerts_observables():
    """RunAnalyzer on AlertCreated: the alert's observables get a job of the analyzer, through
    the Cortex connector (here cortex-service over REST, SQLite); RunResponder on CaseCreated
    runs a responder on the new case."""
    from conftest import Platform
    p = Platform("sqlite", False)
    try:
        p.enable("analyzer", "Echo_1_0")
        p.enable("responder", "MailAdmins_1_0", {"to": "admins@corp.example", "task": "Triage"})
        api = tenant(p.hive)
        notify(api,
               {"delegate": False, "trigger": {"name": "AlertCreated"},
                "notifier": {"name": "RunAnalyzer", "analyzerName": "Echo_1_0"}},
               {"delegate": False, "trigger": {"name": "CaseCreated"},
                "notifier": {"name": "RunResponder", "responderName": "MailAdmins_1_0"}})
        alert = api.alert.create({"type": "t", "source": "s", "sourceRef": uuid.uuid4().hex[:8],
                                  "title": "auto", "description": "d", "observables": [
                                      {"dataType": "ip", "data": "198.51.100.7"},
                                      {"dataType": "domain", "data": "auto.example"}]})
        deadline = time.time() + 60
        while True:
            jobs = api.session.make_request("POST", "/api/v1/query", json={"query": [{"_name": "listJob"}]})
            done = [j for j in jobs if j["status"] in ("Success", "Failure")]
            if len(done) >= 2:
                break
            assert time.time() < deadline, jobs
            time.sleep(0.5)
        assert {j["status"] for j in done} == {"Success"}, done
        assert {j["analyzerName"] for j in done} == {"Echo_1_0"}
        observables = {o["_id"] for o in api.alert.find_observables(alert["_id"])}
        reports = [api.observable.get(o)["reports"] for o in observables]
        assert all("Echo_1_0" in r for r in reports), reports
        # A case: the responder runs on it.
        case = api.case.create({"title": "auto case", "description": "d", "tasks": [{"title": "Triage"}]})
        deadline = time.time() + 60
        while True:
            actions = api.session.make_request("GET", f"/api/connector/cortex/action/case/{case['_id']}")
            if actions and actions[0]["status"] in ("Success", "Failure"):
                break
            assert time.time() < deadline, actions
            time.sleep(0.5)
        assert actions[0]["status"] == "Success" and actions[0]["responderName"] == "MailAdmins_1_0"
        assert "mail sent" in api.case.get(case["_id"])["tags"]
    finally:
        p.stop()


# ----------------------------------------------------------------------------- mail, consumers

from smtp_sink import SmtpSink  # noqa: E402

def test_email_to_addr_sends_a_mail_filled_from_the_event(backend, receiver):
    sink = SmtpSink()
    s = start_hive(backend, receiver, HIVE__NOTIFICATION__SMTP__HOST="127.0.0.1",
                   HIVE__NOTIFICATION__SMTP__PORT=str(sink.port), HIVE__NOTIFICATION__SMTP__SECURITY="none",
                   HIVE__NOTIFICATION__SMTP__FROM="thehive@corp.example")
    try:
        api = tenant(s)
        notify(api, {"delegate": False, "trigger": {"name": "CaseCreated"},
                     "notifier": {"name": "EmailToAddr", "to": ["soc-leads@corp.example"],
                                  "subject": "New case #{{object.number}}: {{object.title}}",
                                  "template": "{{by}} opened it with severity {{object.severity}}."}})
        case = api.case.create({"title": "Mail for the leads", "description": "d", "severity": 3})
        deadline = time.time() + 30
        while not sink.messages:
            assert time.time() < deadline, "no mail"
            time.sleep(0.2)
        [m] = sink.messages
        assert m["to"] == ["soc-leads@corp.example"] and "thehive@corp.example" in m["from"]
        text = m["data"].decode()
        assert f"Subject: New case #{case['number']}: Mail for the leads" in text
        assert f"{ADMIN} opened it with severity 3." in text
    finally:
        s.stop()
        sink.stop()


# n8n's TheHive Trigger node (TheHive 3/4): the events it offers, and how it names an event from
# the body (packages/nodes-base/nodes/TheHive/TheHiveTrigger.node.ts and EventsDescription.ts).
N8N_THEHIVE_EVENTS = {"alert_create", "alert_delete", "alert_update", "case_create", "case_delete", "case_update",
                      "case_task_log_create", "case_task_log_delete", "case_task_log_update", "case_artifact_create",
                      "case_artifact_delete", "case_artifact_update", "case_task_create", "case_task_update",
                      "case_task_delete"}
# n8n's TheHive 5 Trigger node (TheHiveProject/TheHiveProjectTrigger.node.ts): `objectType_action`.
N8N_THEHIVE5_EVENTS = {f"{o}_{a}" for o in ("alert", "case", "comment", "observable", "page", "log")
                       for a in ("create", "update", "delete")} | {"task_create", "task_update"}


def n8n_event(body):
    if not body.get("operation") or not body.get("objectType"):
        return None
    return body["objectType"].lower() + "_" + body["operation"].replace("Creation", "Create").lower()


def n8n5_event(body):
    if not body.get("action") or not body.get("objectType"):
        return None
    return body["objectType"].lower() + "_" + body["action"].lower()


def test_n8n_trigger_nodes_recognise_every_case_work_event(hive_n, receiver):
    api = tenant(hive_n)
    notify(api, webhook("v0"), webhook("v1"))
    alert = api.alert.create({"type": "t", "source": "s", "sourceRef": uuid.uuid4().hex[:8], "title": "a",
                              "description": "d", "observables": [{"dataType": "ip", "data": "192.0.2.1"}]})
    api.alert.update(alert["_id"], {"title": "a2"})
    case = api.case.create({"title": "k", "description": "d"})
    obs = api.case.create_observable(case["_id"], {"dataType": "domain", "data": "x.example"})[0]
    task = api.case.create_task(case["_id"], {"title": "t"})
    log = api.task.create_log(task["_id"], {"message": "m"})
    api.comment.create_in_case(case["_id"], {"message": "c"})
    api.observable.update(obs["_id"], {"ioc": True})
    api.case.update(case["_id"], {"title": "k2"})
    api.alert.delete(alert["_id"])
    receiver.wait(lambda calls: any(c["body"]["objectType"] == "alert" and c["body"]["operation"] == "delete"
                                    for c in calls), path="/v0")
    receiver.wait(lambda calls: any(c["body"]["objectType"] == "Alert" and c["body"]["operation"] == "delete"
                                    for c in calls), path="/v1")
    v0 = {n8n_event(b) for b in receiver.bodies("/v0")}
    v1 = {n8n5_event(b) for b in receiver.bodies("/v1")}
    assert {"alert_create", "alert_update", "alert_delete", "case_create", "case_update", "case_artifact_create",
            "case_artifact_update", "case_task_create", "case_task_log_create"} <= v0 & N8N_THEHIVE_EVENTS, v0
    assert {"alert_create", "alert_update", "alert_delete", "case_create", "case_update", "observable_create",
            "observable_update", "task_create", "log_create", "comment_create"} <= v1 & N8N_THEHIVE5_EVENTS, v1
    assert log["_id"] in [b["objectId"] for b in receiver.bodies("/v1") if b["objectType"] == "Log"]


def thread_niceness(pid):
    """{thread name: set of niceness values} of a process, from /proc (Linux)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                # Fields after the parenthesised name: state is field 3; niceness field 19.
                fields = f.read().rsplit(")", 1)[1].split()
            out.setdefault(name, set()).add(int(fields[16]))
        except FileNotFoundError:
            continue
    return out


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="Linux /proc only")
def test_notification_work_runs_at_a_lower_priority_than_the_requests(backend, receiver):
    s = start_hive(backend, receiver, HIVE__NOTIFICATION__NICE="7")
    try:
        api = tenant(s)
        notify(api, webhook("v1"))
        api.alert.create({"type": "t", "source": "s", "sourceRef": "nice-1", "title": "t", "description": "d"})
        receiver.wait(lambda calls: any(c["body"]["objectType"] == "Alert" for c in calls), path="/v1")
        threads = thread_niceness(s.proc.pid)
        base = os.getpriority(os.PRIO_PROCESS, 0)
        assert threads.get("hive-notify") == {min(base + 7, 19)}, threads
        others = set().union(*(v for k, v in threads.items() if k != "hive-notify"))
        assert others == {base}, threads
    finally:
        s.stop()
