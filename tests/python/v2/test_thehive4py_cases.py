"""thehive4py 2.1.0, unmodified, works with cases: create (plain and from a case template), read
by id and number, update, close and reopen, delete, search, merge, custom field values."""
import pytest
from thehive4py.errors import TheHiveError
from thehive4py.query.filters import Eq, Gt, In, Like
from thehive4py.query.page import Paginate
from thehive4py.query.sort import Asc, Desc

from casework import ADMIN, admin_client, case_view, cf_values, error_of, recent, tenant


def custom_field(hive, name, type_, mandatory=False):
    return admin_client(hive).custom_field.create({"name": name, "group": "tests", "description": f"{name} field",
                                                   "type": type_, "mandatory": mandatory})


def test_create_defaults_numbers_and_get_by_id_or_number(hive):
    api = tenant(hive)
    case = api.case.create({"title": "my first case", "description": "..."})
    assert case["_type"] == "Case" and case["_createdBy"] == ADMIN
    assert (case["title"], case["description"]) == ("my first case", "...")
    assert (case["severity"], case["severityLabel"]) == (2, "MEDIUM")
    assert (case["tlp"], case["tlpLabel"]) == (2, "AMBER")
    assert (case["pap"], case["papLabel"]) == (2, "AMBER")
    assert case["status"] == "New" and case["stage"] == "New"
    assert case["flag"] is False
    assert case["access"]["_kind"] == "OrganisationAccessKind"
    assert isinstance(case["number"], int) and case["number"] > 0
    assert recent(case["startDate"]) and case.get("endDate") is None

    assert case_view(api.case.get(case["_id"])) == case_view(case)
    assert case_view(api.case.get(case["number"])) == case_view(case)
    assert case_view(api.case.get(str(case["number"]))) == case_view(case)

    second = api.case.create({"title": "my second case", "description": "...", "severity": 4, "tlp": 1,
                              "pap": 3, "flag": True, "tags": ["b", "a"]})
    third = api.case.create({"title": "my third case", "description": "..."})
    assert second["number"] == case["number"] + 1 and third["number"] == case["number"] + 2
    assert (second["severityLabel"], second["tlpLabel"], second["papLabel"]) == ("CRITICAL", "GREEN", "RED")
    assert second["flag"] is True and sorted(second["tags"]) == ["a", "b"]
    assert case_view(api.case.get(second["number"])) == case_view(second)

    with pytest.raises(TheHiveError) as e:
        api.case.get(third["number"] + 1)
    assert error_of(e) == (404, "NotFoundError")


def test_create_from_a_case_template(hive):
    custom_field(hive, "businessUnit", "string")
    custom_field(hive, "score", "integer")
    api = tenant(hive)
    api.case_template.create({
        "name": "incident", "titlePrefix": "[INC]", "description": "template description",
        "severity": 3, "tlp": 3, "pap": 1, "flag": True, "tags": ["template-tag", "shared"],
        "tasks": [{"title": "Identify"}, {"title": "Contain"}],
        "customFields": {"businessUnit": "finance", "score": 5}})

    case = api.case.create({"title": "Ransomware", "description": "encrypted shares", "caseTemplate": "incident",
                            "tags": ["shared", "request-tag"], "tasks": [{"title": "Report"}],
                            "customFields": {"score": 9}})
    assert case["title"] == "[INC] Ransomware"
    assert case["description"] == "encrypted shares"
    assert (case["severity"], case["tlp"], case["pap"], case["flag"]) == (3, 3, 1, True)
    assert sorted(case["tags"]) == ["request-tag", "shared", "template-tag"]
    assert cf_values(case) == {"businessUnit": ("string", "finance"), "score": ("integer", 9)}
    tasks = api.case.find_tasks(case["_id"], sortby=Asc("_createdAt"))
    assert [t["title"] for t in tasks] == ["Identify", "Contain", "Report"]
    assert case_view(api.case.get(case["_id"])) == case_view(case)

    # Values in the request win over the template's; without tasks the template's are used.
    minor = api.case.create({"title": "Minor", "description": "...", "caseTemplate": "incident",
                             "severity": 1, "tlp": 1})
    assert minor["title"] == "[INC] Minor"
    assert (minor["severity"], minor["tlp"], minor["pap"]) == (1, 1, 1)
    assert cf_values(minor) == {"businessUnit": ("string", "finance"), "score": ("integer", 5)}
    assert [t["title"] for t in api.case.find_tasks(minor["_id"], sortby=Asc("_createdAt"))] == ["Identify", "Contain"]

    # A prefix that already ends with a space gives a single space.
    api.case_template.create({"name": "spaced", "titlePrefix": "[P2] "})
    assert api.case.create({"title": "x", "description": "...", "caseTemplate": "spaced"})["title"] == "[P2] x"

    with pytest.raises(TheHiveError) as e:
        api.case.create({"title": "x", "description": "...", "caseTemplate": "no-such-template"})
    assert 400 <= e.value.response.status_code < 500


def test_update(hive):
    api = tenant(hive)
    case = api.case.create({"title": "my first case", "description": "...", "tags": ["a", "b"]})
    assert api.case.update(case["_id"], {"title": "my updated case", "description": "my updated description",
                                         "severity": 4, "tlp": 1, "pap": 3, "flag": True}) == ""
    updated = api.case.get(case["_id"])
    assert (updated["title"], updated["description"]) == ("my updated case", "my updated description")
    assert (updated["severity"], updated["severityLabel"]) == (4, "CRITICAL")
    assert (updated["tlp"], updated["tlpLabel"], updated["pap"], updated["papLabel"]) == (1, "GREEN", 3, "RED")
    assert updated["flag"] is True
    assert updated["number"] == case["number"] and updated["_createdAt"] == case["_createdAt"]
    assert updated["_updatedBy"] == ADMIN and updated["_updatedAt"] >= case["_createdAt"]

    api.case.update(case["_id"], {"addTags": ["c"], "removeTags": ["a"]})
    assert sorted(api.case.get(case["_id"])["tags"]) == ["b", "c"]

    # Nulls unset (thehive4py's own suite sends these).
    api.case.update(case["_id"], {"summary": "temporary", "impactStatus": "NoImpact"})
    assert api.case.get(case["_id"])["summary"] == "temporary"
    api.case.update(case["_id"], {"summary": None, "assignee": None, "impactStatus": None})
    unset = api.case.get(case["_id"])
    assert unset.get("summary") is None and unset.get("impactStatus") is None and unset.get("assignee") is None

    api.case.update(case["number"], {"title": "by number"})
    assert api.case.get(case["_id"])["title"] == "by number"
    with pytest.raises(TheHiveError) as e:
        api.case.update(case["_id"], {"severity": 9})
    assert e.value.response.status_code == 400
    with pytest.raises(TheHiveError) as e:
        api.case.update("~987654321", {"title": "nope"})
    assert error_of(e) == (404, "NotFoundError")


def test_close_and_reopen(hive):
    api = tenant(hive)
    case = api.case.create({"title": "to close", "description": "..."})
    assert api.case.close(case["_id"], status="TruePositive", summary="Contained",
                          impact_status="WithImpact") == ""
    closed = api.case.get(case["_id"])
    assert (closed["status"], closed["stage"]) == ("TruePositive", "Closed")
    assert (closed["impactStatus"], closed["summary"]) == ("WithImpact", "Contained")
    assert isinstance(closed["endDate"], int) and closed["endDate"] >= case["startDate"]
    assert api.case.count(filters=Eq("stage", "Closed")) == 1

    api.case.open(case["_id"], status="InProgress")
    reopened = api.case.get(case["_id"])
    assert (reopened["status"], reopened["stage"]) == ("InProgress", "InProgress")
    assert api.case.count(filters=Eq("stage", "Closed")) == 0

    with pytest.raises(TheHiveError) as e:
        api.case.update(case["_id"], {"status": "Sleeping"})
    assert e.value.response.status_code == 400


def test_closing_needs_mandatory_custom_fields(hive):
    custom_field(hive, "rootCause", "string", mandatory=True)
    api = tenant(hive)
    case = api.case.create({"title": "needs a root cause", "description": "..."})
    with pytest.raises(TheHiveError) as e:
        api.case.close(case["_id"], status="TruePositive", summary="done")
    assert e.value.response.status_code == 400
    assert api.case.get(case["_id"])["stage"] == "New"

    api.case.update(case["_id"], {"customFields": {"rootCause": "weak password"}})
    api.case.close(case["_id"], status="TruePositive", summary="done")
    closed = api.case.get(case["_id"])
    assert (closed["status"], closed["stage"]) == ("TruePositive", "Closed")
    assert cf_values(closed)["rootCause"] == ("string", "weak password")


def test_bulk_update(hive):
    api = tenant(hive)
    first, second, untouched = (api.case.create({"title": f"case {i}", "description": "..."}) for i in range(3))
    assert api.case.bulk_update({"ids": [first["_id"], second["_id"]], "title": "my updated case",
                                 "severity": 1, "tags": ["bulk"]}) == ""
    for case in (first, second):
        got = api.case.get(case["_id"])
        assert (got["title"], got["severity"], got["tags"]) == ("my updated case", 1, ["bulk"])
    assert case_view(api.case.get(untouched["_id"])) == case_view(untouched)


def test_delete(hive):
    api = tenant(hive)
    case = api.case.create({"title": "doomed", "description": "..."})
    kept = api.case.create({"title": "kept", "description": "..."})
    api.case.delete(case["_id"])
    for ref in (case["_id"], case["number"]):
        with pytest.raises(TheHiveError) as e:
            api.case.get(ref)
        assert error_of(e) == (404, "NotFoundError")
    assert [case_view(c) for c in api.case.find()] == [case_view(kept)]
    with pytest.raises(TheHiveError) as e:
        api.case.delete(case["_id"])
    assert error_of(e) == (404, "NotFoundError")


def test_find_count_sort_and_paginate(hive):
    api = tenant(hive)
    spec = [("phishing wave", 3, ["mail"]), ("spear phishing", 1, ["mail", "vip"]), ("malware outbreak", 4, ["vip"]),
            ("brute force", 2, ["auth"]), ("data leak", 2, [])]
    cases = [api.case.create({"title": title, "description": "...", "severity": severity, "tags": tags})
             for title, severity, tags in spec]
    views = [case_view(c) for c in cases]

    def titles(found):
        return sorted(c["title"] for c in found)

    assert [case_view(c) for c in api.case.find(sortby=Asc("_createdAt"))] == views
    assert [c["number"] for c in api.case.find(sortby=Desc("number"))] == [c["number"] for c in cases[::-1]]
    assert [case_view(c) for c in api.case.find(filters=Eq("number", cases[2]["number"]))] == [views[2]]
    assert titles(api.case.find(filters=Eq("tags", "vip"))) == ["malware outbreak", "spear phishing"]
    assert titles(api.case.find(filters=Like("title", "*phishing*"))) == ["phishing wave", "spear phishing"]
    assert titles(api.case.find(filters=Gt("severity", 2))) == ["malware outbreak", "phishing wave"]
    assert titles(api.case.find(filters=In("severity", [1, 2]))) == ["brute force", "data leak", "spear phishing"]
    assert titles(api.case.find(filters=Eq("tags", "mail") & ~Eq("tags", "vip"))) == ["phishing wave"]

    page1 = api.case.find(sortby=Asc("_createdAt"), paginate=Paginate(0, 2))
    page2 = api.case.find(sortby=Asc("_createdAt"), paginate=Paginate(2, 4))
    page3 = api.case.find(sortby=Asc("_createdAt"), paginate=Paginate(4, 6))
    assert [len(page1), len(page2), len(page3)] == [2, 2, 1]
    assert [case_view(c) for c in page1 + page2 + page3] == views
    assert api.case.count() == 5
    assert api.case.count(filters=Eq("severity", 2)) == 2
    assert api.case.count(filters=Eq("title", "nothing")) == 0


def test_find_tasks_and_observables(hive):
    api = tenant(hive)
    case = api.case.create({"title": "with children", "description": "..."})
    other = api.case.create({"title": "other", "description": "..."})
    tasks = [api.case.create_task(case["_id"], {"title": title, "group": group})
             for title, group in [("Collect", "triage"), ("Analyse", "analysis"), ("Report", "triage")]]
    api.case.create_task(other["_id"], {"title": "Elsewhere"})
    assert api.case.find_tasks(case["_id"], sortby=Asc("_createdAt")) == tasks
    triage = api.case.find_tasks(case["_id"], filters=Eq("group", "triage"), sortby=Asc("_createdAt"))
    assert triage == [tasks[0], tasks[2]]
    # A case is also addressed by its number, as a string or (thehive4py's CaseId) an int.
    assert api.case.find_tasks(str(case["number"]), filters=Eq("title", "Analyse")) == [tasks[1]]
    assert api.case.find_tasks(case["number"], filters=Eq("title", "Analyse")) == [tasks[1]]

    ips = api.case.create_observable(case["_id"], {"dataType": "ip", "data": ["10.0.0.1", "10.0.0.2"]})
    domain = api.case.create_observable(case["_id"], {"dataType": "domain", "data": "example.com"})
    api.case.create_observable(other["_id"], {"dataType": "ip", "data": "10.9.9.9"})
    assert api.case.find_observables(case["_id"], sortby=Asc("_createdAt")) == ips + domain
    assert api.case.find_observables(case["_id"], filters=Eq("dataType", "ip"), sortby=Asc("_createdAt")) == ips
    assert api.case.find_observables(other["_id"], filters=Eq("dataType", "domain")) == []


def test_unlink_alert(hive):
    api = tenant(hive)
    case = api.case.create({"title": "linked", "description": "..."})
    alert = api.alert.create({"type": "test", "source": "unit", "sourceRef": "unlink-1", "title": "an alert",
                              "description": "..."})
    api.alert.merge_into_case(alert["_id"], case["_id"])
    assert api.alert.get(alert["_id"])["caseId"] == case["_id"]
    assert api.case.unlink_alert(case["_id"], alert["_id"]) == ""
    assert api.alert.get(alert["_id"]).get("caseId") is None
    assert api.case.get(case["_id"])["_id"] == case["_id"]


def test_merge_cases(hive):
    api = tenant(hive)
    a = api.case.create({"title": "Phishing wave", "description": "first", "tags": ["mail"]})
    b = api.case.create({"title": "Credential theft", "description": "second", "tags": ["auth"]})
    api.case.create_observable(a["_id"], {"dataType": "ip", "data": ["10.0.0.1", "10.0.0.2"]})
    api.case.create_observable(b["_id"], {"dataType": "ip", "data": ["10.0.0.1", "10.0.0.3"]})
    api.case.create_task(a["_id"], {"title": "Task of A"})
    api.case.create_task(b["_id"], {"title": "Task of B"})

    merged = api.case.merge([a["_id"], b["_id"]])
    assert merged["title"] == "Phishing wave / Credential theft"
    assert merged["_id"] not in (a["_id"], b["_id"])
    assert merged["number"] not in (a["number"], b["number"])
    assert sorted(merged["tags"]) == ["auth", "mail"]
    for source in (a, b):
        with pytest.raises(TheHiveError) as e:
            api.case.get(source["_id"])
        assert error_of(e) == (404, "NotFoundError")
    assert sorted(o["data"] for o in api.case.find_observables(merged["_id"])) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert sorted(t["title"] for t in api.case.find_tasks(merged["_id"])) == ["Task of A", "Task of B"]
    assert [c["_id"] for c in api.case.find()] == [merged["_id"]]


def test_custom_field_values(hive):
    custom_field(hive, "businessUnit", "string")
    custom_field(hive, "score", "integer")
    custom_field(hive, "confirmed", "boolean")
    api = tenant(hive)

    as_dict = api.case.create({"title": "dict input", "description": "...",
                               "customFields": {"businessUnit": "finance", "score": 7, "confirmed": True}})
    assert cf_values(as_dict) == {"businessUnit": ("string", "finance"), "score": ("integer", 7),
                                  "confirmed": ("boolean", True)}
    assert case_view(api.case.get(as_dict["_id"])) == case_view(as_dict)

    as_list = api.case.create({"title": "list input", "description": "...", "customFields": [
        {"name": "businessUnit", "value": "hr", "order": 1}, {"name": "score", "value": 3, "order": 0}]})
    assert cf_values(as_list) == {"businessUnit": ("string", "hr"), "score": ("integer", 3)}
    assert {v["name"]: v["order"] for v in as_list["customFields"]} == {"businessUnit": 1, "score": 0}
    assert case_view(api.case.get(as_list["_id"])) == case_view(as_list)

    api.case.update(as_list["_id"], {"customFields": {"score": 9}})
    assert cf_values(api.case.get(as_list["_id"]))["score"] == ("integer", 9)
    assert [c["title"] for c in api.case.find(filters=Eq("customFields.businessUnit", "finance"))] == ["dict input"]

    with pytest.raises(TheHiveError) as e:
        api.case.create({"title": "bad value", "description": "...", "customFields": {"score": "high"}})
    assert e.value.response.status_code == 400
    with pytest.raises(TheHiveError) as e:
        api.case.update(as_dict["_id"], {"customFields": {"confirmed": "maybe"}})
    assert e.value.response.status_code == 400
    assert cf_values(api.case.get(as_dict["_id"]))["confirmed"] == ("boolean", True)
    with pytest.raises(TheHiveError) as e:
        api.case.create({"title": "unknown field", "description": "...", "customFields": {"noSuchField": 1}})
    assert 400 <= e.value.response.status_code < 500
    assert [c["title"] for c in api.case.find(sortby=Asc("_createdAt"))] == ["dict input", "list input"]
