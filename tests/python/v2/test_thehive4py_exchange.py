"""thehive4py 2.1.0: case templates applied to existing cases, page templates linked to case
templates, organisation links, case archives (export and import), MISP event import, and
observables sent inside a zip."""
import io
import json
import zipfile

import pytest
from thehive4py.errors import TheHiveError
from thehive4py.helpers import now_to_ts
from thehive4py.query.filters import Eq

from casework import MAIN_ORG, admin_client, client, error_of, tenant


def test_apply_case_template_to_existing_cases(hive):
    api = tenant(hive)
    api.case_template.create({"name": "malspam", "titlePrefix": "[MALSPAM]", "tags": ["phishing"],
                              "severity": 3, "tlp": 3,
                              "tasks": [{"title": "Block sender"}, {"title": "Search mailboxes"}]})
    one = api.case.create({"title": "mail one", "description": "d", "tags": ["user-report"]})
    two = api.case.create({"title": "mail two", "description": "d"})
    api.case.apply_case_template({"ids": [one["_id"], two["_id"]], "caseTemplate": "malspam",
                                  "updateTitlePrefix": True, "updateTags": True, "updateSeverity": True,
                                  "importTasks": ["Block sender"]})
    after = api.case.get(one["_id"])
    assert after["title"] == "[MALSPAM] mail one"
    assert sorted(after["tags"]) == ["phishing", "user-report"]
    assert after["severity"] == 3 and after["tlp"] == one["tlp"]  # updateTlp not asked
    assert [t["title"] for t in api.case.find_tasks(one["_id"])] == ["Block sender"]
    assert api.case.get(two["_id"])["title"] == "[MALSPAM] mail two"
    with pytest.raises(TheHiveError) as e:
        api.case.apply_case_template({"ids": [one["_id"]], "caseTemplate": "nope", "updateTags": True})
    assert error_of(e) == (404, "NotFoundError")


def test_page_templates_linked_to_a_case_template_give_cases_their_pages(hive):
    api = tenant(hive)
    playbook = api.page_template.create({"title": "Playbook", "category": "howto", "content": "1. block"})
    other = api.page_template.create({"title": "Other", "category": "misc", "content": "x"})
    template = api.case_template.create({"name": "with-pages", "pageTemplateIds": [playbook["_id"]]})
    assert template["pageTemplateIds"] == [playbook["_id"]]
    assert [p["_id"] for p in api.case_template.find_page_templates("with-pages")] == [playbook["_id"]]
    api.case_template.link_page_templates("with-pages", [playbook["_id"], other["_id"]])
    found = api.case_template.find_page_templates("with-pages", filters=Eq("category", "misc"))
    assert [p["_id"] for p in found] == [other["_id"]]
    case = api.case.create({"title": "from template", "description": "d", "caseTemplate": "with-pages"})
    pages = api.case.find_pages(case["_id"])
    assert sorted((p["title"], p["content"]) for p in pages) == [("Other", "x"), ("Playbook", "1. block")]
    with pytest.raises(TheHiveError) as e:
        api.case_template.link_page_templates("with-pages", ["~1"])
    assert error_of(e) == (404, "NotFoundError")


def test_organisation_links(hive):
    tenant(hive, "partner")
    root = admin_client(hive)
    root.organisation.link(MAIN_ORG, "partner", {"linkType": "supervisor", "otherLinkType": "supervised"})
    [link] = root.organisation.list_links(MAIN_ORG)
    assert (link["linkType"], link["otherLinkType"], link["organisation"]["name"]) == ("supervisor", "supervised", "partner")
    [back] = root.organisation.list_links("partner")
    assert (back["linkType"], back["otherLinkType"], back["organisation"]["name"]) == ("supervised", "supervisor", MAIN_ORG)
    root.organisation.unlink(MAIN_ORG, "partner")
    assert root.organisation.list_links(MAIN_ORG) == []
    root.organisation.bulk_link(MAIN_ORG, [{"toOrganisation": "partner", "linkType": "default", "otherLinkType": "default"}])
    assert [l["organisation"]["name"] for l in root.organisation.list_links("partner")] == [MAIN_ORG]
    with pytest.raises(TheHiveError) as e:
        client(hive, MAIN_ORG).organisation.link(MAIN_ORG, "partner", {"linkType": "x", "otherLinkType": "y"})
    assert e.value.response.status_code == 403


def test_case_export_and_import_round_trip(hive, tmp_path):
    api = tenant(hive)
    case = api.case.create({"title": "to export", "description": "exported case", "tags": ["a"], "severity": 3})
    task = api.case.create_task(case["_id"], {"title": "Investigate"})
    api.task_log.create(task["_id"], {"message": "found it"})
    api.case.create_observable(case["_id"], {"dataType": "ip", "data": ["10.1.1.1", "10.1.1.2"], "ioc": True})
    evidence = tmp_path / "evidence.txt"
    evidence.write_bytes(b"payload bytes")
    api.case.create_observable(case["_id"], {"dataType": "file"}, observable_path=str(evidence))
    api.case.create_procedure(case["_id"], {"patternId": "T1566.001", "occurDate": now_to_ts(), "tactic": "initial-access"})
    archive = tmp_path / "case.thar"
    api.case.export_to_file(case["_id"], password="s3cret", export_path=str(archive))
    with zipfile.ZipFile(archive) as z:
        with pytest.raises(RuntimeError):
            z.read("case.json")  # encrypted
        doc = json.loads(z.read("case.json", pwd=b"s3cret"))
    assert doc["case"]["title"] == "to export"

    imported = api.case.import_from_file({"password": "s3cret"}, str(archive))
    new = imported["case"]
    assert new["_id"] != case["_id"] and new["number"] != case["number"]
    assert (new["title"], new["description"], new["tags"], new["severity"]) == ("to export", "exported case", ["a"], 3)
    assert imported["errors"] == []
    observables = api.case.find_observables(new["_id"])
    assert sorted(o.get("data") or o["attachment"]["name"] for o in observables) == ["10.1.1.1", "10.1.1.2", "evidence.txt"]
    [f] = [o for o in observables if o["dataType"] == "file"]
    out = tmp_path / "back.txt"
    api.observable.download_attachment(f["_id"], f["attachment"]["_id"], str(out))
    assert out.read_bytes() == b"payload bytes"
    [t] = api.case.find_tasks(new["_id"])
    assert t["title"] == "Investigate"
    assert [l["message"] for l in api.task.find_logs(t["_id"])] == ["found it"]
    assert [p["patternId"] for p in api.case.find_procedures(new["_id"])] == ["T1566.001"]

    with pytest.raises(TheHiveError) as e:
        api.case.import_from_file({"password": "wrong"}, str(archive))
    assert e.value.response.status_code == 400


def test_misp_event_import(hive, tmp_path):
    api = tenant(hive)
    event = {"Event": {"info": "Phishing campaign", "uuid": "5f1c-aaaa", "threat_level_id": "1",
                       "Tag": [{"name": "tlp:amber"}, {"name": "phishing"}],
                       "Attribute": [
                           {"type": "ip-dst", "value": "203.0.113.9", "to_ids": True, "category": "Network activity"},
                           {"type": "domain", "value": "evil.example", "to_ids": False},
                           {"type": "email-src", "value": "boss@evil.example", "to_ids": True}]}}
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    case = api.misp.import_case({}, str(path))
    assert (case["title"], case["severity"], case["tlp"]) == ("Phishing campaign", 3, 2)
    assert "phishing" in case["tags"]
    observables = {(o["dataType"], o["data"]): o for o in api.case.find_observables(case["_id"])}
    assert set(observables) == {("ip", "203.0.113.9"), ("domain", "evil.example"), ("mail", "boss@evil.example")}
    assert observables[("ip", "203.0.113.9")]["ioc"] is True and observables[("domain", "evil.example")]["ioc"] is False

    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "an event"}')
    with pytest.raises(TheHiveError) as e:
        api.misp.import_case({}, str(bad))
    assert error_of(e) == (400, "BadRequest") and "Could not convert json to MISP event" in str(e.value)


def test_observables_from_a_zip(hive, tmp_path):
    api = tenant(hive)
    case = api.case.create({"title": "zip", "description": "d"})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", b"first")
        z.writestr("dir/b.bin", b"second")
    path = tmp_path / "samples.zip"
    path.write_bytes(buf.getvalue())
    created = api.case.create_observable(case["_id"], {"dataType": "file", "isZip": True}, observable_path=str(path))
    assert sorted((o["attachment"]["name"], o["attachment"]["size"]) for o in created) == [("a.txt", 5), ("b.bin", 6)]
    not_a_zip = tmp_path / "plain.txt"
    not_a_zip.write_bytes(b"plain")
    with pytest.raises(TheHiveError) as e:
        api.case.create_observable(case["_id"], {"dataType": "file", "isZip": True}, observable_path=str(not_a_zip))
    assert e.value.response.status_code == 400
    assert len(api.case.find_observables(case["_id"])) == 2


def test_query_traversals_around_a_shared_case(hive):
    api = tenant(hive, "partner")
    case = api.case.create({"title": "shared", "description": "d"})
    api.case.create_observable(case["_id"], {"dataType": "ip", "data": "192.0.2.7"})
    task = api.case.create_task(case["_id"], {"title": "t"})
    api.session.make_request("POST", f"/api/v1/case/{case['_id']}/shares",
                             json={"shares": [{"organisation": "partner", "profile": "analyst"}]})
    api.session.make_request("POST", f"/api/v1/task/{task['_id']}/shares", json={"organisations": ["partner"]})
    [share] = api.query.run([{"_name": "getCase", "idOrName": case["_id"]}, {"_name": "shares"}])
    assert (share["organisationName"], share["profileName"]) == ("partner", "analyst")
    assert api.query.run([{"_name": "listShare"}]) == [share]
    assert api.query.run([{"_name": "getTask", "idOrName": task["_id"]}, {"_name": "shares"}]) == [share]
    orgs = api.query.run([{"_name": "getCase", "idOrName": case["_id"]}, {"_name": "organisations"}])
    assert sorted(o["name"] for o in orgs) == [MAIN_ORG, "partner"]
    users = api.query.run([{"_name": "getCase", "idOrName": case["_id"]}, {"_name": "assignableUsers"}])
    assert [u["login"] for u in users] == ["admin@thehive.local"]

    alert = api.alert.create({"type": "t", "source": "s", "sourceRef": "r1", "title": "a", "description": "d",
                              "observables": [{"dataType": "ip", "data": "192.0.2.7"}, {"dataType": "domain", "data": "x.example"}]})
    other = api.alert.create({"type": "t", "source": "s", "sourceRef": "r2", "title": "b", "description": "d",
                              "observables": [{"dataType": "ip", "data": "192.0.2.7"}]})
    [row] = api.query.run([{"_name": "getAlert", "idOrName": alert["_id"]}, {"_name": "similarAlertsLight"}])
    assert (row["alert"]["_id"], row["similarObservableCount"], row["observableCount"]) == (other["_id"], 1, 1)
    rows = api.query.run([{"_name": "getCase", "idOrName": case["_id"]}, {"_name": "similarAlertsLight"}])
    assert sorted(r["alert"]["_id"] for r in rows) == sorted([alert["_id"], other["_id"]])


def test_a_read_only_share_cannot_change_the_case(hive):
    api = tenant(hive, "partner")
    partner = client(hive, "partner")
    case = api.case.create({"title": "shared read-only", "description": "d"})
    task = api.case.create_task(case["_id"], {"title": "t"})
    [obs] = api.case.create_observable(case["_id"], {"dataType": "ip", "data": "198.51.100.9"})
    api.session.make_request("POST", f"/api/v1/case/{case['_id']}/shares",
                             json={"shares": [{"organisation": "partner", "profile": "read-only",
                                               "taskRule": "autoShare", "observableRule": "autoShare"}]})
    assert partner.case.get(case["_id"])["title"] == "shared read-only"
    assert partner.task.get(task["_id"])["title"] == "t"
    for attempt in (
        lambda: partner.case.update(case["_id"], {"title": "changed"}),
        lambda: partner.case.create_task(case["_id"], {"title": "sneaky"}),
        lambda: partner.task.update(task["_id"], {"title": "changed"}),
        lambda: partner.task_log.create(task["_id"], {"message": "sneaky"}),
        lambda: partner.observable.update(obs["_id"], {"ioc": True}),
        lambda: partner.case.create_observable(case["_id"], {"dataType": "ip", "data": "203.0.113.1"}),
        lambda: partner.comment.create_in_case(case["_id"], {"message": "sneaky"}),
    ):
        with pytest.raises(TheHiveError) as e:
            attempt()
        assert error_of(e) == (403, "AuthorizationError")
    assert api.case.get(case["_id"])["title"] == "shared read-only"
    assert [t["title"] for t in api.case.find_tasks(case["_id"])] == ["t"]
    assert api.observable.get(obs["_id"])["ioc"] is False
    # Under an analyst share the same changes go through.
    api.session.make_request("PUT", f"/api/v1/case/{case['_id']}/shares",
                             json={"shares": [{"organisation": "partner", "profile": "analyst"}]})
    partner.task.update(task["_id"], {"title": "changed by partner"})
    assert api.task.get(task["_id"])["title"] == "changed by partner"


def test_only_the_owner_deletes_or_merges_a_shared_case(hive):
    api = tenant(hive, "partner")
    partner = client(hive, "partner")
    case = api.case.create({"title": "owned", "description": "d"})
    mine = partner.case.create({"title": "partner's", "description": "d"})
    api.session.make_request("POST", f"/api/v1/case/{case['_id']}/shares",
                             json={"shares": [{"organisation": "partner", "profile": "analyst"}]})
    with pytest.raises(TheHiveError) as e:
        partner.case.delete(case["_id"])
    assert error_of(e) == (403, "AuthorizationError")
    with pytest.raises(TheHiveError) as e:
        partner.case.merge([mine["_id"], case["_id"]])
    assert error_of(e) == (403, "AuthorizationError")
    assert api.case.get(case["_id"])["title"] == "owned"
    assert partner.case.get(mine["_id"])["title"] == "partner's"
