"""Every thehive4py 1.8.2 method of the legacy v0 API, unmodified, against hive-service (SQLite
and PostgreSQL), with what a user of the client sees. Proven:

* alerts: `create_alert` with artifacts (JSON, files as `name;mime;base64`; the two-part form is
  an empty file; a value without `;` is a 400 naming the expected form and creates nothing);
  `update_alert` (200, the v0 alert); `get_alert`; `mark_alert_as_read`/`unread` (Ignored/New);
  `delete_alert` (204, then 404); `find_alerts`: query, the client's default `range=all`, the
  server's default page of 10 with `X-Total`, ranges, descending/ascending/two-key sorts as a
  list or a comma list; `promote_alert_to_case` with and without a template;
  `get_alert(similar_cases=True)` lists the case sharing an observable; `merge_alert_into_case`;
  the version-4 calls `create/update/delete_alert_artifact` (JSON and multipart);
* cases: `create_case` (201, v0 case with number, owner, tasks, custom field), `get_case`,
  `update_case` (fields, then closing it: Resolved/TruePositive/NoImpact, endDate, v1 status
  TruePositive and stage Closed), `find_cases` (by title, by v0 status), `find_first`,
  `delete_case(force=True)` (204, then 404); case numbers increase;
* observables: `create_case_observable` (JSON and file, 201 with a list), `get`, `update`
  (also the deprecated `update_case_observables`),
  `delete` (204, then 404), `get_case_observables` (one case's only), `find_observables` across
  cases with `X-Total`, `download_observable_attachment` (zip), `get_linked_cases` (cases
  sharing an observable link both ways, with the shared artifact; not after its deletion);
* tasks and logs: `create/update/delete(Cancel)/get_case_task`, `get_case_tasks` (one case's),
  `find_tasks`, `create_task_log` (message; file -> `attachment`), `get_task_log` in version 3
  (v0 GET) and 4 (v1 query) modes, `download_task_log_attachment` in both modes, `get_task_logs`,
  `find_task_logs`;
* case templates: `create_case_template`, `find_case_templates`, `get_case_template` (version 3
  adds `status: Ok` to the query; version 4 does not; unknown name raises);
* TheHive 3 custom fields: `create_custom_field` in the admin organisation, then usable in cases;
  a second one with the same reference raises `CustomFieldException` (the client asks
  `_exists` first);
* search filters of the v0 protocol: `_parent`, `_child` with a shorthand query, deprecated
  `_gt`, `_wildcard`, `_in`, `_between` (upper bound excluded), a custom field path; an unknown
  operator is a 400 SearchError;
* Cortex and MISP without servers: `run_analyzer` on an unknown server answers a job (201) that
  is a Failure, `get_job_status` reads it; `export_to_misp` to an unknown server is a 404;
* the `api.case` helper (CaseHelper): create, fetch and update cases as model objects;
* a read-only user gets 403 on `create_alert`, `create_case` and `update_case`, creating nothing,
  while reading works.
"""
import pytest
import requests
from thehive4py.exceptions import CaseTemplateException, CustomFieldException
from thehive4py.models import (Alert, AlertArtifact, Case, CaseObservable, CaseTask, CaseTaskLog,
                               CaseTemplate, CustomField, CustomFieldHelper)
from thehive4py.query import And, Between, ContainsString, Eq, Gt, In, Not

from legacy import (ADMIN, FEEDER, VIEWER, admin_api, api_user, check_v0_file, expect,
                    expect_error, hashes, key_api, mime, recent, search, tenant, total, unzip,
                    updated, v0, v1)

IP = "198.51.100.23"


# --------------------------------------------------------------------------------------------
# helpers

def alert_model(ref, **fields):
    """An Alert with the fields the model requires."""
    values = {"title": f"alert {ref}", "type": "test", "source": "unit", "sourceRef": ref,
              "description": f"description of {ref}"}
    values.update(fields)
    return Alert(**values)


def alert_json(ref, **fields):
    """A raw v0 alert body, for the values the client cannot produce (bad file data)."""
    return {"title": f"alert {ref}", "type": "test", "source": "unit", "sourceRef": ref,
            "description": f"description of {ref}", **fields}


def raw(api, method, path, **kwargs):
    """A request with the client's own credentials and organisation header."""
    return requests.request(method, api.url + path, auth=api.auth, timeout=30, **kwargs)


def new_case(api, title, **fields):
    case = expect(api.create_case(Case(title=title, description=f"about {title}", **fields)), 201)
    return v0(case, "case")


def new_observable(api, case_id, observable):
    created = expect(api.create_case_observable(case_id, observable), 201)
    assert isinstance(created, list) and len(created) == 1, created
    return v0(created[0], "case_artifact")


def ids(response_or_list):
    items = response_or_list if isinstance(response_or_list, list) else expect(response_or_list, 200)
    return [i["id"] for i in items]


def titles(response):
    return sorted(c["title"] for c in expect(response, 200))


def case_with(case_id, **fields):
    """A Case model to update: the client's Case knows only some fields, the rest are set."""
    case = Case(id=case_id)
    for k, v in fields.items():
        setattr(case, k, v)
    return case


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


# --------------------------------------------------------------------------------------------
# alerts

def test_create_alert_with_artifacts_and_file_data_forms(hive, tmp_path):
    tenant(hive)
    api = admin_api(hive)
    notes = b"relay list\n198.51.100.23\n"
    created = expect(api.create_alert(alert_model("a-1", tags=["t1", "t2"], severity=3, tlp=1, artifacts=[
        AlertArtifact(dataType="ip", data=IP, tags=["relay"], message="relay ip"),
        AlertArtifact(dataType="domain", data="payments-notice.test"),
        AlertArtifact(dataType="file", data=write(tmp_path, "notes.txt", notes), message="notes"),
    ])), 201)
    v0(created, "alert")
    assert (created["title"], created["type"], created["source"], created["sourceRef"]) == (
        "alert a-1", "test", "unit", "a-1")
    assert created["description"] == "description of a-1"
    assert (created["severity"], created["tlp"], created["status"]) == (3, 1, "New")
    assert sorted(created["tags"]) == ["t1", "t2"] and created["follow"] is True
    assert recent(created["date"])
    artifacts = {a["dataType"]: a for a in created["artifacts"]}
    assert set(artifacts) == {"ip", "domain", "file"} and len(created["artifacts"]) == 3
    for a in created["artifacts"]:
        assert a["_type"] == "case_artifact" and a["id"] == a["_id"] and a["status"] == "Ok", a
    assert (artifacts["ip"]["data"], artifacts["ip"]["tags"], artifacts["ip"]["message"]) == (
        IP, ["relay"], "relay ip")
    assert artifacts["domain"]["data"] == "payments-notice.test"
    check_v0_file(artifacts["file"], "notes.txt", notes)
    assert artifacts["file"]["message"] == "notes"
    fetched = expect(api.get_alert(created["id"]), 200)
    assert fetched["id"] == created["id"] and fetched["title"] == "alert a-1"
    assert sorted(ids(fetched["artifacts"])) == sorted(ids(created["artifacts"]))

    # Two parts (name;type): an empty file.
    empty = expect(raw(api, "POST", "/api/alert", json=alert_json("a-2", artifacts=[
        {"dataType": "file", "data": "empty.txt;text/plain", "message": "nothing"}])), 201)
    [file] = empty["artifacts"]
    assert file["attachment"]["name"] == "empty.txt" and file["attachment"]["size"] == 0, file
    assert file["attachment"]["hashes"] == hashes(b"") and file["attachment"]["contentType"] == "text/plain"

    # No ';' at all: refused, naming the expected form; no alert.
    bad = raw(api, "POST", "/api/alert", json=alert_json("a-3", artifacts=[
        {"dataType": "file", "data": "justtext"}]))
    body = expect(bad, 400)
    assert isinstance(body, dict) and isinstance(body.get("type"), str), body
    assert "filename;contentType;base64value" in body["message"], body
    assert expect(api.find_alerts(query=Eq("sourceRef", "a-3")), 200) == []
    assert total(api.find_alerts(query={})) == 2


def test_update_read_unread_and_delete_alert(hive):
    tenant(hive)
    api = admin_api(hive)
    created = expect(api.create_alert(alert_model("u-1", tags=["a"], severity=2)), 201)
    alert_id = created["id"]

    changed = expect(api.update_alert(alert_id, alert_model("u-1", title="renamed", tags=["b", "c"], severity=4),
                                      fields=["title", "tags", "severity"]), 200)
    v0(changed, "alert")
    updated(changed)
    assert changed["id"] == alert_id
    assert (changed["title"], sorted(changed["tags"]), changed["severity"]) == ("renamed", ["b", "c"], 4)
    assert changed["description"] == "description of u-1" and changed["status"] == "New"
    fetched = expect(api.get_alert(alert_id), 200)
    assert (fetched["title"], sorted(fetched["tags"]), fetched["severity"]) == ("renamed", ["b", "c"], 4)

    # follow/unfollow (no client method) answer the alert.
    assert expect(raw(api, "POST", f"/api/alert/{alert_id}/unfollow"), 200)["follow"] is False
    assert expect(api.get_alert(alert_id), 200)["follow"] is False
    assert expect(raw(api, "POST", f"/api/alert/{alert_id}/follow"), 200)["follow"] is True

    read = expect(api.mark_alert_as_read(alert_id), 200)
    assert read["id"] == alert_id and read["status"] == "Ignored", read
    assert expect(api.get_alert(alert_id), 200)["status"] == "Ignored"
    unread = expect(api.mark_alert_as_unread(alert_id), 200)
    assert unread["id"] == alert_id and unread["status"] == "New", unread
    assert expect(api.get_alert(alert_id), 200)["status"] == "New"

    deleted = api.delete_alert(alert_id)
    assert deleted.status_code == 204, deleted.text
    expect_error(api.get_alert(alert_id), 404, "NotFoundError")
    assert expect(api.find_alerts(query=Eq("sourceRef", "u-1")), 200) == []


def test_find_alerts_paging_and_sort(hive):
    tenant(hive)
    api = admin_api(hive)
    severities = {}
    for i in range(15):
        ref = f"page-{i:02d}"
        severities[ref] = 1 + i % 4
        # Titles run the other way round from the references.
        expect(api.create_alert(alert_model(ref, source="pager", title=f"title {14 - i:02d}",
                                            severity=severities[ref])), 201)
    expect(api.create_alert(alert_model("noise", source="elsewhere")), 201)
    pager = Eq("source", "pager")
    descending = [f"page-{i:02d}" for i in reversed(range(15))]

    everything = api.find_alerts(query=pager)
    assert "range=all" in everything.request.url, everything.request.url
    assert len(expect(everything, 200)) == 15 and total(everything) == 15
    assert total(api.find_alerts(query={})) == 16

    default = search(hive, "alert", pager)  # no range: TheHive's first page of 10
    assert len(expect(default, 200)) == 10 and total(default) == 15
    first = api.find_alerts(query=pager, range="0-5")
    assert len(expect(first, 200)) == 5 and total(first) == 15
    last = api.find_alerts(query=pager, range="10-20")
    assert len(expect(last, 200)) == 5 and total(last) == 15

    def refs(response):
        return [a["sourceRef"] for a in expect(response, 200)]

    assert refs(api.find_alerts(query=pager, sort=["-sourceRef"])) == descending
    assert refs(api.find_alerts(query=pager, sort=["-sourceRef"], range="0-5")) == descending[:5]
    assert refs(api.find_alerts(query=pager, sort=["-sourceRef"], range="10-20")) == descending[10:]
    by_title = expect(api.find_alerts(query=pager, sort=["+title"]), 200)
    assert [a["title"] for a in by_title] == sorted(a["title"] for a in by_title)
    assert [a["sourceRef"] for a in by_title] == descending
    two_keys = sorted(severities, key=lambda r: (-severities[r], r))
    assert refs(api.find_alerts(query=pager, sort=["-severity", "+sourceRef"])) == two_keys
    assert refs(search(hive, "alert", pager, range="all", sort="-severity,+sourceRef")) == two_keys

    [one] = expect(api.find_alerts(query=Eq("sourceRef", "page-07")), 200)
    assert one["title"] == "title 07" and one["source"] == "pager"


def test_find_alerts_by_v0_status(hive):
    """v0 alert statuses are computed from the alert's case and read flag: each status finds
    its alert, with `Not` and `In` too, whether the search runs in SQL or (with a filter only
    the v0 objects can answer) in memory; the two agree on sorting, paging and X-Total."""
    tenant(hive)
    api = admin_api(hive)
    refs = ("s-new", "s-ignored", "s-imported", "s-updated")
    made = {ref: expect(api.create_alert(alert_model(ref, source="st")), 201)["id"] for ref in refs}
    expect(api.mark_alert_as_read(made["s-ignored"]), 200)
    expect(api.promote_alert_to_case(made["s-imported"]), 201)
    expect(api.promote_alert_to_case(made["s-updated"]), 201)
    expect(api.mark_alert_as_unread(made["s-updated"]), 200)
    # A custom field no alert has: true for every alert, and only the v0 objects can tell.
    in_memory = Not(Eq("customFields.absent.string", "x"))
    for status, ref in [("New", "s-new"), ("Ignored", "s-ignored"), ("Imported", "s-imported"),
                        ("Updated", "s-updated")]:
        assert ids(api.find_alerts(query=Eq("status", status))) == [made[ref]], status
        assert ids(api.find_alerts(query=And(Eq("status", status), in_memory))) == [made[ref]], status
        assert expect(api.get_alert(made[ref]), 200)["status"] == status
    not_new = sorted(made[r] for r in refs if r != "s-new")
    assert sorted(ids(api.find_alerts(query=Not(Eq("status", "New"))))) == not_new
    assert sorted(ids(api.find_alerts(query=And(Not(Eq("status", "New")), in_memory)))) == not_new
    in_case = sorted([made["s-imported"], made["s-updated"]])
    assert sorted(ids(api.find_alerts(query=In("status", ["Imported", "Updated"])))) == in_case
    assert ids(api.find_alerts(query=Eq("status", "Nonsense"))) == []
    for query in (Eq("source", "st"), And(Eq("source", "st"), in_memory)):
        page = api.find_alerts(query=query, sort=["-sourceRef"], range="1-3")
        assert [a["sourceRef"] for a in expect(page, 200)] == ["s-new", "s-imported"], query
        assert total(page) == 4
        assert all(len(a["artifacts"]) == 0 and a["_type"] == "alert" for a in expect(page, 200))


def test_promote_merge_and_similar_cases(hive):
    tenant(hive)
    api = admin_api(hive)
    expect(api.create_case_template(CaseTemplate(
        name="Phishing", titlePrefix="[PHISH]", tags=["phishing"],
        tasks=[CaseTask(title="Triage"), CaseTask(title="Contain")])), 201)

    # With a named template.
    a = expect(api.create_alert(alert_model("sim-a", tags=["from-a"], artifacts=[
        AlertArtifact(dataType="ip", data=IP), AlertArtifact(dataType="domain", data="a.example")])), 201)
    case_a = expect(api.promote_alert_to_case(a["id"], "Phishing"), 201)
    v0(case_a, "case")
    assert case_a["title"].startswith("[PHISH]") and case_a["title"].endswith("alert sim-a"), case_a["title"]
    assert {"phishing", "from-a"} <= set(case_a["tags"]) and case_a["status"] == "Open"
    assert case_a["owner"] == ADMIN
    assert sorted(t["title"] for t in expect(api.get_case_tasks(case_a["id"]), 200)) == ["Contain", "Triage"]
    assert sorted(o.get("data") for o in expect(api.get_case_observables(case_a["id"]), 200)) == [
        IP, "a.example"]
    imported = expect(api.get_alert(a["id"]), 200)
    assert imported["status"] == "Imported" and imported["case"] == case_a["id"], imported

    # Another alert sharing the IP sees case A as similar.
    b = expect(api.create_alert(alert_model("sim-b", tags=["from-b"], artifacts=[
        AlertArtifact(dataType="ip", data=IP), AlertArtifact(dataType="mail", data="x@evil.example")])), 201)
    similar = expect(api.get_alert(b["id"], similar_cases=True), 200)
    assert similar["id"] == b["id"] and similar["status"] == "New"
    [seen] = similar["similarCases"]
    assert seen["id"] == seen["_id"] == case_a["id"], seen
    assert (seen["caseId"], seen["title"], seen["status"]) == (case_a["caseId"], case_a["title"], "Open")
    assert (seen["similarArtifactCount"], seen["artifactCount"]) == (1, 2), seen
    assert (seen["similarIocCount"], seen["iocCount"]) == (0, 0), seen
    assert sorted(seen["tags"]) == sorted(case_a["tags"]) and seen["tlp"] == case_a["tlp"]
    assert seen["startDate"] == case_a["startDate"]

    # Without a template (the alert names none): no tasks, the alert's title.
    c = expect(api.create_alert(alert_model("sim-c", artifacts=[AlertArtifact(dataType="ip", data="203.0.113.9")])), 201)
    case_c = expect(api.promote_alert_to_case(c["id"]), 201)
    v0(case_c, "case")
    assert case_c["title"] == "alert sim-c" and case_c["owner"] == ADMIN and case_c["id"] != case_a["id"]
    assert expect(api.get_case_tasks(case_c["id"]), 200) == []
    assert case_c["caseId"] > case_a["caseId"]

    # Merge B into case A: the case (200), B imported, its observables in A (the IP once).
    merged = expect(api.merge_alert_into_case(b["id"], case_a["id"]), 200)
    v0(merged, "case")
    assert merged["id"] == case_a["id"] and merged["caseId"] == case_a["caseId"]
    b_now = expect(api.get_alert(b["id"]), 200)
    assert b_now["status"] == "Imported" and b_now["case"] == case_a["id"], b_now
    observables = expect(api.get_case_observables(case_a["id"]), 200)
    assert sorted(o.get("data") for o in observables) == sorted([IP, "a.example", "x@evil.example"])
    assert total(api.find_cases(query={})) == 2


def test_alert_artifacts_with_version_4_calls(hive, tmp_path):
    tenant(hive)
    api = admin_api(hive, version=4)
    alert_id = expect(api.create_alert(alert_model("art-1")), 201)["id"]

    created = expect(api.create_alert_artifact(alert_id, AlertArtifact(
        dataType="ip", data=IP, tags=["x"], message="first")), 201)
    assert isinstance(created, list) and len(created) == 1, created
    ip = v0(created[0], "case_artifact")
    assert (ip["dataType"], ip["data"], ip["tags"], ip["message"]) == ("ip", IP, ["x"], "first")

    content = b"\x00\x01binary payload\xff" * 50
    files = expect(api.create_alert_artifact(alert_id, AlertArtifact(
        dataType="file", data=write(tmp_path, "payload.bin", content), message="a file")), 201)
    assert isinstance(files, list) and len(files) == 1, files
    file = v0(files[0], "case_artifact")
    check_v0_file(file, "payload.bin", content)

    changed = expect(api.update_alert_artifact(ip["id"], AlertArtifact(
        dataType="ip", data=IP, tags=["y", "z"], ioc=True, message="updated"),
        fields=["tags", "ioc", "message"]), 200)
    assert changed["id"] == ip["id"] and changed["ioc"] is True, changed
    assert sorted(changed["tags"]) == ["y", "z"] and changed["message"] == "updated"
    updated(changed)
    artifacts = {a["id"]: a for a in expect(api.get_alert(alert_id), 200)["artifacts"]}
    assert set(artifacts) == {ip["id"], file["id"]}
    assert artifacts[ip["id"]]["ioc"] is True and sorted(artifacts[ip["id"]]["tags"]) == ["y", "z"]

    removed = api.delete_alert_artifact(file["id"])
    assert removed.status_code == 204, removed.text
    assert ids(expect(api.get_alert(alert_id), 200)["artifacts"]) == [ip["id"]]


# --------------------------------------------------------------------------------------------
# cases

def test_case_lifecycle(hive):
    tenant(hive)
    api = admin_api(hive)
    created = new_case(api, "Lost laptop", tlp=1, severity=3, tags=["hw", "loss"],
                       tasks=[CaseTask(title="Locate"), CaseTask(title="Wipe")],
                       customFields=CustomFieldHelper().add_string("reportedBy", "bob").build())
    case_id = created["id"]
    assert isinstance(created["caseId"], int) and created["caseId"] > 0
    assert (created["title"], created["description"]) == ("Lost laptop", "about Lost laptop")
    assert (created["tlp"], created["severity"], sorted(created["tags"])) == (1, 3, ["hw", "loss"])
    assert created["owner"] == ADMIN and created["status"] == "Open" and created["flag"] is False
    assert created["customFields"]["reportedBy"]["string"] == "bob", created["customFields"]
    assert recent(created["startDate"])
    tasks = expect(api.get_case_tasks(case_id), 200)
    assert sorted(t["title"] for t in tasks) == ["Locate", "Wipe"]

    fetched = expect(api.get_case(case_id), 200)
    assert (fetched["id"], fetched["caseId"], fetched["title"]) == (case_id, created["caseId"], "Lost laptop")
    other = new_case(api, "Unrelated")
    assert other["caseId"] > created["caseId"]

    changed = expect(api.update_case(case_with(case_id, title="Stolen laptop", tags=["hw", "theft"], severity=4),
                                     fields=["title", "tags", "severity"]), 200)
    updated(changed)
    assert (changed["id"], changed["title"], sorted(changed["tags"]), changed["severity"]) == (
        case_id, "Stolen laptop", ["hw", "theft"], 4)
    assert changed["tlp"] == 1 and changed["status"] == "Open"

    closed = expect(api.update_case(case_with(case_id, status="Resolved", resolutionStatus="TruePositive",
                                              impactStatus="NoImpact", summary="Wiped remotely"),
                                    fields=["status", "resolutionStatus", "impactStatus", "summary"]), 200)
    assert (closed["status"], closed["resolutionStatus"], closed["impactStatus"], closed["summary"]) == (
        "Resolved", "TruePositive", "NoImpact", "Wiped remotely"), closed
    assert recent(closed["endDate"]), closed
    assert expect(api.get_case(case_id), 200)["status"] == "Resolved"
    case_v1 = expect(v1(hive, "GET", f"/api/v1/case/{case_id}"), 200)
    assert (case_v1["status"], case_v1["stage"], case_v1["summary"]) == ("TruePositive", "Closed", "Wiped remotely")

    by_title = api.find_cases(query=Eq("title", "Stolen laptop"))
    assert ids(by_title) == [case_id] and total(by_title) == 1
    assert ids(api.find_cases(query=Eq("status", "Resolved"))) == [case_id]
    assert ids(api.find_cases(query=Eq("status", "Open"))) == [other["id"]]
    assert ids(api.find_cases(query=Eq("caseId", other["caseId"]))) == [other["id"]]
    first = api.find_first(query=Eq("title", "Stolen laptop"))
    assert first["id"] == case_id and first["caseId"] == created["caseId"]

    deleted = api.delete_case(case_id, force=True)
    assert deleted.status_code == 204, deleted.text
    expect_error(api.get_case(case_id), 404, "NotFoundError")
    assert ids(api.find_cases(query={})) == [other["id"]]


def test_case_helper(hive):
    """thehive4py 1.x's `api.case` helper: create, fetch and update a case as model objects."""
    tenant(hive)
    api = admin_api(hive)
    case = api.case.create("helper case", "made by CaseHelper", tags=["helper"], severity=3)
    assert case.id.startswith("~") and case.title == "helper case" and case.owner == ADMIN
    assert isinstance(case.caseId, int) and case.status == "Open"
    fetched = api.case(case.id)
    assert (fetched.title, fetched.severity, fetched.tags) == ("helper case", 3, ["helper"])
    changed = api.case.update(case.id, title="renamed by the helper", severity=1)
    assert (changed.title, changed.severity) == ("renamed by the helper", 1)
    assert changed.updatedBy == ADMIN
    assert expect(api.get_case(case.id), 200)["title"] == "renamed by the helper"


def test_case_observables_and_linked_cases(hive, tmp_path):
    tenant(hive)
    api = admin_api(hive)
    a, b, c = (new_case(api, title) for title in ("Case A", "Case B", "Case C"))

    ip_a = new_observable(api, a["id"], CaseObservable(dataType="ip", data=IP, tags=["relay"], message="mail relay"))
    assert (ip_a["dataType"], ip_a["data"], ip_a["tags"], ip_a["message"]) == ("ip", IP, ["relay"], "mail relay")
    assert (ip_a["tlp"], ip_a["ioc"], ip_a["sighted"], ip_a["status"]) == (2, False, False, "Ok"), ip_a
    assert ip_a["reports"] == {} and recent(ip_a["startDate"])
    content = b"MZ\x90\x00 not really a program\n" * 10
    file_a = new_observable(api, a["id"], CaseObservable(
        dataType="file", data=write(tmp_path, "invoice.pdf.exe", content), message="attachment"))
    check_v0_file(file_a, "invoice.pdf.exe", content)

    got = expect(api.get_case_observable(ip_a["id"]), 200)
    assert (got["id"], got["data"], got["tags"]) == (ip_a["id"], IP, ["relay"])
    changed = expect(api.update_case_observable(ip_a["id"], CaseObservable(
        dataType="ip", data=IP, tags=["relay", "blocked"], ioc=True), fields=["tags", "ioc"]), 200)
    assert changed["id"] == ip_a["id"] and changed["ioc"] is True and sorted(changed["tags"]) == ["blocked", "relay"]
    updated(changed)
    assert expect(api.get_case_observable(ip_a["id"]), 200)["ioc"] is True
    # The deprecated form takes the observable, whose `id` names it.
    model = CaseObservable(json=got)
    model.sighted = True
    again = expect(api.update_case_observables(model, fields=["sighted"]), 200)
    assert again["id"] == ip_a["id"] and again["sighted"] is True and again["ioc"] is True

    ip_b = new_observable(api, b["id"], CaseObservable(dataType="ip", data=IP, tags=["seen"]))
    new_observable(api, c["id"], CaseObservable(dataType="domain", data="unrelated.example", tags=["x"]))

    assert sorted(ids(api.get_case_observables(a["id"]))) == sorted([ip_a["id"], file_a["id"]])
    ips = api.find_observables(query=Eq("dataType", "ip"))
    assert sorted(ids(ips)) == sorted([ip_a["id"], ip_b["id"]]) and total(ips) == 2

    zipped = api.download_observable_attachment(file_a["id"])
    assert zipped.status_code == 200, zipped.text[:500]
    assert unzip(zipped.content) == content

    # Cases sharing the IP are linked both ways, through that artifact.
    for here, there in ((a, b), (b, a)):
        [link] = expect(api.get_linked_cases(here["id"]), 200)
        assert link["id"] == there["id"] and link["caseId"] == there["caseId"], link
        assert link["title"] == there["title"]
        assert [(o["dataType"], o["data"]) for o in link["linkedWith"]] == [("ip", IP)], link["linkedWith"]
    assert expect(api.get_linked_cases(c["id"]), 200) == []

    removed = api.delete_case_observable(ip_b["id"])
    assert removed.status_code == 204, removed.text
    expect_error(api.get_case_observable(ip_b["id"]), 404, "NotFoundError")
    assert expect(api.get_case_observables(b["id"]), 200) == []
    assert expect(api.get_linked_cases(a["id"]), 200) == []


def test_tasks_and_logs(hive, tmp_path):
    tenant(hive)
    api_user(hive, FEEDER, "analyst")  # someone to assign tasks to
    api = admin_api(hive)
    case = new_case(api, "Tasks")
    other = new_case(api, "Other", tasks=[CaseTask(title="Elsewhere")])

    task = expect(api.create_case_task(case["id"], CaseTask(
        title="Investigate", description="look around", group="triage", owner=ADMIN)), 201)
    v0(task, "case_task")
    assert (task["title"], task["description"], task["group"], task["status"], task["owner"]) == (
        "Investigate", "look around", "triage", "Waiting", ADMIN), task
    assert task["flag"] is False and isinstance(task["order"], int)
    spare = v0(expect(api.create_case_task(case["id"], CaseTask(title="Discard me")), 201), "case_task")

    started = expect(api.update_case_task(CaseTask(id=task["id"], status="InProgress", owner=FEEDER),
                                          fields=["status", "owner"]), 200)
    assert (started["id"], started["status"], started["owner"]) == (task["id"], "InProgress", FEEDER), started
    updated(started)
    got = expect(api.get_case_task(task["id"]), 200)
    assert (got["id"], got["title"], got["status"], got["owner"]) == (task["id"], "Investigate", "InProgress", FEEDER)
    cancelled = expect(api.delete_case_task(spare["id"]), 200)
    assert cancelled["id"] == spare["id"] and cancelled["status"] == "Cancel", cancelled

    assert sorted(ids(api.get_case_tasks(case["id"]))) == sorted([task["id"], spare["id"]])
    waiting = expect(api.find_tasks(query=Eq("status", "Waiting")), 200)
    assert [t["title"] for t in waiting] == ["Elsewhere"]
    assert ids(api.get_case_tasks(other["id"])) == [waiting[0]["id"]]

    log = expect(api.create_task_log(task["id"], CaseTaskLog(message="Started the analysis")), 201)
    v0(log, "case_task_log")
    assert (log["message"], log["owner"], log["status"]) == ("Started the analysis", ADMIN, "Ok"), log
    assert recent(log["startDate"]) and log.get("attachment") is None
    evidence = b"evidence: headers of the reported mail\n" * 20
    with_file = expect(api.create_task_log(task["id"], CaseTaskLog(
        message="Evidence", file=write(tmp_path, "evidence.txt", evidence))), 201)
    v0(with_file, "case_task_log")
    attachment = with_file["attachment"]
    assert (attachment["name"], attachment["size"]) == ("evidence.txt", len(evidence)), attachment
    assert attachment["hashes"] == hashes(evidence) and attachment["id"] == hashes(evidence)[0]
    assert attachment["contentType"] == mime(evidence)

    as_v3 = expect(api.get_task_log(with_file["id"]), 200)
    assert (as_v3["id"], as_v3["message"], as_v3["attachment"]["name"]) == (with_file["id"], "Evidence", "evidence.txt")
    as_v4 = expect(admin_api(hive, version=4).get_task_log(with_file["id"]), 200)
    assert [(entry["_id"], entry["message"]) for entry in as_v4] == [(with_file["id"], "Evidence")], as_v4
    download = api.download_task_log_attachment(with_file["id"], archive=False)
    assert download.status_code == 200 and download.content == evidence, download.text[:500]
    # In version 4 mode the client reads the log through /api/v1/query and its `attachment`.
    zipped = admin_api(hive, version=4).download_task_log_attachment(with_file["id"], archive=True)
    assert zipped.status_code == 200 and unzip(zipped.content) == evidence

    assert sorted(ids(api.get_task_logs(task["id"]))) == sorted([log["id"], with_file["id"]])
    assert expect(api.get_task_logs(spare["id"]), 200) == []
    assert ids(api.find_task_logs(query=Eq("message", "Started the analysis"))) == [log["id"]]
    # DELETE /api/case/task/log/{id} (no client method): gone from the task's logs.
    assert raw(api, "DELETE", f"/api/case/task/log/{log['id']}").status_code == 204
    expect_error(api.get_task_log(log["id"]), 404, "NotFoundError")
    assert ids(api.get_task_logs(task["id"])) == [with_file["id"]]


def test_case_templates(hive):
    tenant(hive)
    api = admin_api(hive)
    template = expect(api.create_case_template(CaseTemplate(
        name="Ransomware", titlePrefix="[RANSOM]", description="Encrypted hosts", severity=3, tlp=3,
        tags=["ransomware"], tasks=[CaseTask(title="Isolate", group="containment"),
                                    CaseTask(title="Restore", group="recovery")],
        customFields=CustomFieldHelper().add_string("reportedBy", "SOC").build())), 201)
    v0(template, "caseTemplate")
    assert (template["name"], template["titlePrefix"], template["description"]) == (
        "Ransomware", "[RANSOM]", "Encrypted hosts")
    assert (template["severity"], template["tlp"], template["tags"], template["status"]) == (3, 3, ["ransomware"], "Ok")
    assert template["customFields"]["reportedBy"]["string"] == "SOC", template["customFields"]
    assert [(t["title"], t["group"]) for t in sorted(template["tasks"], key=lambda t: t["order"])] == [
        ("Isolate", "containment"), ("Restore", "recovery")]
    other = expect(api.create_case_template(CaseTemplate(name="Other", titlePrefix="[O]")), 201)

    assert ids(api.find_case_templates(query=Eq("name", "Ransomware"))) == [template["id"]]
    everything = api.find_case_templates()
    assert sorted(ids(everything)) == sorted([template["id"], other["id"]]) and total(everything) == 2
    assert api.get_case_template("Ransomware")["id"] == template["id"]  # with status Ok
    assert admin_api(hive, version=4).get_case_template("Ransomware")["id"] == template["id"]
    with pytest.raises(CaseTemplateException):
        api.get_case_template("Nope")

    # The v0 routes the client has no method for: get by id or name, update, delete.
    assert expect(raw(api, "GET", f"/api/case/template/{template['id']}"), 200) == template
    assert expect(raw(api, "GET", "/api/case/template/Other"), 200)["id"] == other["id"]
    changed = expect(raw(api, "PATCH", f"/api/case/template/{other['id']}",
                         json={"titlePrefix": "[OTHER]", "severity": 4, "status": "Ok"}), 200)
    assert (changed["titlePrefix"], changed["severity"]) == ("[OTHER]", 4)
    updated(changed)
    assert raw(api, "DELETE", f"/api/case/template/{other['id']}").status_code == 204
    expect_error(raw(api, "GET", f"/api/case/template/{other['id']}"), 404, "NotFoundError")
    assert ids(api.find_case_templates()) == [template["id"]]


def test_thehive3_custom_field_creation(hive):
    tenant(hive)
    platform = admin_api(hive, organisation="admin")
    # thehive4py 1.8.2's CustomField takes its reference from `name`: name it by its reference.
    field = CustomField(name="businessUnit", reference="businessUnit", description="Business unit",
                        type="string", options=[], mandatory=False)
    created = platform.create_custom_field(field)
    assert created.status_code in (200, 201), created.text
    exists = raw(platform, "POST", "/api/list/custom_fields/_exists",
                 json={"key": "reference", "value": "businessUnit"})
    assert expect(exists, 200) == {"found": True}
    missing = raw(platform, "POST", "/api/list/custom_fields/_exists",
                  json={"key": "reference", "value": "nothingLikeThis"})
    assert expect(missing, 200) == {"found": False}
    with pytest.raises(CustomFieldException):
        platform.create_custom_field(field)
    definition = expect(v1(hive, "GET", "/api/v1/customField/businessUnit", org="admin"), 200)
    assert (definition["name"], definition["type"], definition["description"]) == (
        "businessUnit", "string", "Business unit")

    api = admin_api(hive)
    case = new_case(api, "Payroll fraud", customFields=CustomFieldHelper().add_string("businessUnit", "Finance").build())
    assert case["customFields"]["businessUnit"]["string"] == "Finance", case["customFields"]
    case_v1 = expect(v1(hive, "GET", f"/api/v1/case/{case['id']}"), 200)
    assert [(c["name"], c["type"], c["value"]) for c in case_v1["customFields"]] == [
        ("businessUnit", "string", "Finance")]


def test_search_filters(hive):
    tenant(hive)
    created = admin_api(hive, organisation="admin").create_custom_field(CustomField(
        name="businessUnit", description="Business unit", type="string"))
    assert created.status_code in (200, 201), created.text
    api = admin_api(hive)
    new_case(api, "phishing wave", severity=2, tlp=1, tasks=[CaseTask(title="Contain")],
             customFields=CustomFieldHelper().add_string("businessUnit", "Finance").build())
    new_case(api, "ransomware outbreak", severity=4, tlp=3, tasks=[CaseTask(title="Isolate")],
             customFields=CustomFieldHelper().add_string("businessUnit", "Sales").build())
    new_case(api, "phish kit", severity=1, tlp=2)
    new_case(api, "lost badge", severity=3, tlp=0)

    of_ransomware = {"_parent": {"_type": "case", "_query": {"_field": "title", "_value": "ransomware outbreak"}}}
    assert titles(api.find_tasks(query=of_ransomware)) == ["Isolate"]
    with_contain = {"_child": {"_type": "case_task", "_query": {"title": "Contain"}}}
    assert titles(api.find_cases(query=with_contain)) == ["phishing wave"]
    assert Gt("severity", 2) == {"_gt": {"severity": 2}}  # the deprecated form, as the client sends it
    assert titles(api.find_cases(query=Gt("severity", 2))) == ["lost badge", "ransomware outbreak"]
    assert ContainsString("title", "phish") == {"_wildcard": {"_field": "title", "_value": "*phish*"}}
    assert titles(api.find_cases(query=ContainsString("title", "phish"))) == ["phish kit", "phishing wave"]
    assert titles(api.find_cases(query=In("tlp", [1, 3]))) == ["phishing wave", "ransomware outbreak"]
    assert titles(api.find_cases(query=Between("severity", 2, 4))) == ["lost badge", "phishing wave"]
    finance = Eq("customFields.businessUnit.string", "Finance")
    assert titles(api.find_cases(query=finance)) == ["phishing wave"]
    assert titles(api.find_cases(query=And(Gt("severity", 1), Eq("status", "Open")))) == [
        "lost badge", "phishing wave", "ransomware outbreak"]
    expect_error(api.find_cases(query={"_nope": 1}), 400, "SearchError")


# --------------------------------------------------------------------------------------------
# connectors and permissions

def test_cortex_job_and_misp_export_without_servers(hive):
    tenant(hive)
    api = admin_api(hive)
    case = new_case(api, "Analyse me")
    observable = new_observable(api, case["id"], CaseObservable(dataType="ip", data=IP, tags=["x"]))

    job = expect(api.run_analyzer("nowhere", observable["id"], "MailParser_1_0"), 201)
    assert job["_type"] == "case_artifact_job" and job["id"] == job["_id"], job
    assert (job["analyzerId"], job["cortexId"], job["status"]) == ("MailParser_1_0", "nowhere", "Failure"), job
    status = expect(api.get_job_status(job["id"]), 200)
    assert (status["id"], status["status"], status["_type"]) == (job["id"], "Failure", "case_artifact_job")

    refused = expect_error(api.export_to_misp("nowhere", case["id"]), 404, "NotFoundError")
    # The connector's answer ("MISP server nowhere not found"), not an unknown route's.
    assert "nowhere" in refused["message"] and "not found" in refused["message"].lower(), refused


def test_read_only_user_cannot_create(hive):
    tenant(hive)
    viewer = key_api(hive, api_user(hive, VIEWER, "read-only"))
    api = admin_api(hive)

    expect_error(viewer.create_alert(alert_model("ro-1")), 403, "AuthorizationError")
    expect_error(viewer.create_case(Case(title="not mine", description="x")), 403, "AuthorizationError")
    assert total(api.find_alerts(query={})) == 0 and total(api.find_cases(query={})) == 0

    case = new_case(api, "Visible")
    assert expect(viewer.get_case(case["id"]), 200)["title"] == "Visible"
    assert ids(viewer.find_cases(query={})) == [case["id"]]
    expect_error(viewer.update_case(case_with(case["id"], title="changed"), fields=["title"]), 403,
                 "AuthorizationError")
    assert expect(api.get_case(case["id"]), 200)["title"] == "Visible"
