"""thehive4py 2.1.0, unmodified, works with alerts: create (JSON and multipart), read, update,
follow, delete, deduplication, search, observables, and the alert-to-case flows."""
import pytest
from thehive4py.errors import TheHiveError
from thehive4py.query.filters import Eq, Gt, In, Like
from thehive4py.query.page import Paginate
from thehive4py.query.sort import Asc, Desc

from casework import ADMIN, client, error_of, recent, sha256, tenant


def alert_input(ref, **fields):
    return {"type": "test", "source": "unit", "sourceRef": ref, "title": f"alert {ref}",
            "description": f"description of {ref}", **fields}


def test_create_with_observables_merges_duplicates_and_reads_back(hive):
    api = tenant(hive)
    created = api.alert.create(alert_input("obs-1", externalLink="http://example.org/1", date=123,
                                           tags=["whatever"], observables=[
        {"dataType": "ip", "data": "10.0.0.1", "tags": ["first"]},
        {"dataType": "domain", "data": "evil.example"},
        {"dataType": "ip", "data": "10.0.0.1", "tags": ["second"]},
    ]))
    assert created["observableCount"] == 2
    assert created["_type"] == "Alert" and created["_createdBy"] == ADMIN
    assert created["date"] == 123 and created["externalLink"] == "http://example.org/1"
    assert created["tags"] == ["whatever"]

    # TheHive's quirk, relied upon by its own suite: the observables update the alert after
    # its creation, so GET shows _updatedAt/_updatedBy that the create response lacks.
    fetched = api.alert.get(created["_id"])
    assert "_updatedAt" not in created and "_updatedBy" not in created
    assert fetched.pop("_updatedBy") == ADMIN
    assert fetched.pop("_updatedAt") >= created["_createdAt"]
    assert fetched == created

    observables = api.alert.find_observables(created["_id"], sortby=Asc("_createdAt"))
    assert [(o["dataType"], o["data"]) for o in observables] == [("ip", "10.0.0.1"), ("domain", "evil.example")]
    assert sorted(observables[0]["tags"]) == ["first", "second"]
    for o in observables:
        assert o["_type"] == "Observable"
        assert (o["tlp"], o["pap"], o["ioc"], o["sighted"]) == (2, 2, False, False)
    assert api.observable.get(observables[1]["_id"]) == observables[1]


def test_create_with_a_file_observable_sent_as_multipart(hive, tmp_path):
    api = tenant(hive)
    content = b"MZ\x90\x00 not really a binary\n"
    path = tmp_path / "invoice.exe"
    path.write_bytes(content)
    created = api.alert.create(alert_input("file-1", observables=[
        {"dataType": "url", "data": "http://evil.example/invoice"},
        {"dataType": "file", "attachment": "obs1", "message": "the attachment"},
    ]), attachment_map={"obs1": str(path)})
    assert created["observableCount"] == 2
    assert created["title"] == "alert file-1"

    fetched = api.alert.get(created["_id"])
    assert "_updatedAt" not in created
    assert fetched.pop("_updatedBy") == ADMIN and fetched.pop("_updatedAt") >= created["_createdAt"]
    assert fetched == created

    files = api.alert.find_observables(created["_id"], filters=Eq("dataType", "file"))
    assert len(files) == 1
    attachment = files[0]["attachment"]
    assert files[0]["message"] == "the attachment"
    assert attachment["name"] == "invoice.exe"
    assert attachment["size"] == len(content)
    assert sha256(content) in attachment["hashes"]


def test_defaults(hive):
    api = tenant(hive)
    created = api.alert.create(alert_input("defaults-1"))
    assert created["status"] == "New" and created["stage"] == "New"
    assert (created["severity"], created["severityLabel"]) == (2, "MEDIUM")
    assert (created["tlp"], created["tlpLabel"]) == (2, "AMBER")
    assert (created["pap"], created["papLabel"]) == (2, "AMBER")
    assert created["follow"] is True
    assert created["observableCount"] == 0
    assert created.get("caseId") is None
    assert recent(created["date"]) and recent(created["_createdAt"])
    assert (created["type"], created["source"], created["sourceRef"]) == ("test", "unit", "defaults-1")
    assert api.alert.get(created["_id"]) == created


def test_update_and_tags(hive):
    api = tenant(hive)
    alert = api.alert.create(alert_input("upd-1", tags=["a", "b"]))
    assert api.alert.update(alert["_id"], {"title": "my updated alert", "description": "updated",
                                           "severity": 3, "tlp": 1, "pap": 3}) == ""
    updated = api.alert.get(alert["_id"])
    assert updated["title"] == "my updated alert" and updated["description"] == "updated"
    assert (updated["severity"], updated["severityLabel"]) == (3, "HIGH")
    assert (updated["tlp"], updated["tlpLabel"]) == (1, "GREEN")
    assert (updated["pap"], updated["papLabel"]) == (3, "RED")
    assert updated["_updatedBy"] == ADMIN and updated["_updatedAt"] >= alert["_createdAt"]
    assert updated["_createdAt"] == alert["_createdAt"] and updated["sourceRef"] == "upd-1"

    api.alert.update(alert["_id"], {"addTags": ["c"], "removeTags": ["a"]})
    assert sorted(api.alert.get(alert["_id"])["tags"]) == ["b", "c"]
    api.alert.update(alert["_id"], {"tags": ["only"]})
    assert api.alert.get(alert["_id"])["tags"] == ["only"]


def test_bulk_update(hive):
    api = tenant(hive)
    first, second, untouched = (api.alert.create(alert_input(f"bulk-{i}")) for i in range(3))
    assert api.alert.bulk_update({"ids": [first["_id"], second["_id"]], "title": "bulk title",
                                  "severity": 4, "tags": ["bulk"]}) == ""
    for alert in (first, second):
        got = api.alert.get(alert["_id"])
        assert (got["title"], got["severity"], got["tags"]) == ("bulk title", 4, ["bulk"])
    assert api.alert.get(untouched["_id"]) == untouched


def test_follow_and_unfollow(hive):
    api = tenant(hive)
    alert = api.alert.create(alert_input("follow-1"))
    api.alert.unfollow(alert["_id"])
    assert api.alert.get(alert["_id"])["follow"] is False
    api.alert.follow(alert["_id"])
    assert api.alert.get(alert["_id"])["follow"] is True


def test_delete_and_bulk_delete(hive):
    api = tenant(hive)
    one, two, three, kept = (api.alert.create(alert_input(f"del-{i}")) for i in range(4))
    assert api.alert.delete(one["_id"]) == ""
    assert api.alert.bulk_delete(ids=[two["_id"], three["_id"]]) == ""
    for alert in (one, two, three):
        with pytest.raises(TheHiveError) as e:
            api.alert.get(alert["_id"])
        assert error_of(e) == (404, "NotFoundError")
    assert api.alert.find() == [kept]
    with pytest.raises(TheHiveError) as e:
        api.alert.delete(one["_id"])
    assert error_of(e) == (404, "NotFoundError")


def test_deduplication_is_per_organisation(hive):
    api = tenant(hive, "other-org")
    alert = api.alert.create(alert_input("dup-1"))
    with pytest.raises(TheHiveError) as e:
        api.alert.create(alert_input("dup-1", title="another title"))
    assert error_of(e) == (400, "CreateError")
    assert api.alert.find() == [alert]
    # An alert is also addressed by type;source;sourceRef.
    assert api.alert.get("test;unit;dup-1") == alert

    other = client(hive, "other-org")
    theirs = other.alert.create(alert_input("dup-1"))
    assert theirs["_id"] != alert["_id"] and theirs["sourceRef"] == "dup-1"
    assert other.alert.find() == [theirs]
    assert api.alert.find() == [alert]
    with pytest.raises(TheHiveError) as e:
        api.alert.get(theirs["_id"])
    assert error_of(e) == (404, "NotFoundError")


def test_bad_input(hive):
    api = tenant(hive)
    with pytest.raises(TheHiveError) as e:
        api.alert.create(alert_input("bad-1", tlp=7))
    assert error_of(e) == (400, "AttributeCheckingError")
    assert "tlp" in e.value.response.text
    with pytest.raises(TheHiveError) as e:
        api.alert.create(alert_input("bad-2", observables=[{"dataType": "ip", "data": "10.0.0.1"},
                                                           {"dataType": "no-such-type", "data": "x"}]))
    assert e.value.response.status_code == 400
    missing = alert_input("bad-3")
    del missing["sourceRef"]
    with pytest.raises(TheHiveError) as e:
        api.alert.create(missing)
    assert e.value.response.status_code == 400
    # Nothing was left behind by the failed creations.
    assert api.alert.count() == 0
    with pytest.raises(TheHiveError) as e:
        api.alert.get("~987654321")
    assert error_of(e) == (404, "NotFoundError")


def test_find_count_sort_and_paginate(hive):
    api = tenant(hive)
    spec = [("phishing campaign", 3, ["mail", "red"]),
            ("spear phishing", 1, ["mail"]),
            ("malware beacon", 4, ["red"]),
            ("brute force", 2, ["auth"])]
    alerts = [api.alert.create(alert_input(f"find-{i}", title=title, severity=severity, tags=tags))
              for i, (title, severity, tags) in enumerate(spec)]
    by_title = {a["title"]: a for a in alerts}

    def titles(found):
        return sorted(a["title"] for a in found)

    assert api.alert.find(sortby=Asc("_createdAt")) == alerts
    assert api.alert.find(sortby=Desc("_createdAt")) == alerts[::-1]
    assert api.alert.find(filters=Eq("severity", 3)) == [by_title["phishing campaign"]]
    assert api.alert.find(filters=Eq("title", "brute force")) == [by_title["brute force"]]
    assert titles(api.alert.find(filters=Eq("tags", "red"))) == ["malware beacon", "phishing campaign"]
    assert titles(api.alert.find(filters=Like("title", "*phishing*"))) == ["phishing campaign", "spear phishing"]
    assert titles(api.alert.find(filters=Like("title", "spear*"))) == ["spear phishing"]
    assert titles(api.alert.find(filters=Gt("severity", 2))) == ["malware beacon", "phishing campaign"]
    assert titles(api.alert.find(filters=In("severity", [1, 4]))) == ["malware beacon", "spear phishing"]
    assert titles(api.alert.find(filters=In("title", ["brute force", "nothing"]))) == ["brute force"]
    assert titles(api.alert.find(filters=Eq("tags", "mail") & Gt("severity", 2))) == ["phishing campaign"]
    assert titles(api.alert.find(filters=Eq("severity", 1) | Eq("severity", 2))) == ["brute force", "spear phishing"]
    assert titles(api.alert.find(filters=~Eq("tags", "red"))) == ["brute force", "spear phishing"]
    assert [a["severity"] for a in api.alert.find(sortby=Desc("severity"))] == [4, 3, 2, 1]

    assert api.alert.find(sortby=Asc("_createdAt"), paginate=Paginate(0, 2)) == alerts[:2]
    assert api.alert.find(sortby=Asc("_createdAt"), paginate=Paginate(2, 4)) == alerts[2:]
    assert api.alert.find(filters=Eq("tags", "red"), sortby=Asc("_createdAt"),
                          paginate=Paginate(1, 10)) == [by_title["malware beacon"]]
    assert api.alert.count() == 4
    assert api.alert.count(filters=Eq("tags", "mail")) == 2
    assert api.alert.count(filters=Eq("title", "nothing")) == 0


def test_observables_in_an_alert(hive):
    api = tenant(hive)
    alert = api.alert.create(alert_input("obs-in-1"))
    created = api.alert.create_observable(alert["_id"], {
        "dataType": "domain", "data": ["1.example.com", "2.example.com"], "tags": ["bulk"],
        "message": "two domains", "ioc": True})
    assert [o["data"] for o in created] == ["1.example.com", "2.example.com"]
    for o in created:
        assert (o["dataType"], o["tags"], o["message"], o["ioc"]) == ("domain", ["bulk"], "two domains", True)
    assert api.alert.find_observables(alert["_id"], sortby=Asc("_createdAt")) == created
    assert api.alert.find_observables(alert["_id"], filters=Eq("data", "2.example.com")) == [created[1]]
    single = api.alert.create_observable(alert["_id"], {"dataType": "ip", "data": "192.0.2.7"})
    assert len(single) == 1 and single[0]["data"] == "192.0.2.7"
    assert api.observable.get(single[0]["_id"]) == single[0]
    assert api.alert.get(alert["_id"])["observableCount"] == 3
    assert api.alert.find_observables(alert["_id"], filters=Eq("dataType", "ip")) == single


def test_promote_to_case_uses_the_alert_case_template(hive):
    api = tenant(hive)
    api.case_template.create({"name": "malspam", "titlePrefix": "[MALSPAM]", "tags": ["template-tag", "mail"],
                              "tasks": [{"title": "Analyse headers"}, {"title": "Block sender"}]})
    alert = api.alert.create(alert_input("promote-1", title="Invoice attached", description="a fake invoice",
                                          caseTemplate="malspam", tags=["mail", "alert-tag"], severity=3,
                                          tlp=3, pap=1, observables=[
        {"dataType": "ip", "data": "198.51.100.4"}, {"dataType": "mail", "data": "boss@evil.example"}]))

    case = api.alert.promote_to_case(alert["_id"])
    assert case["_type"] == "Case"
    assert case["title"] == "[MALSPAM] Invoice attached"
    assert case["description"] == "a fake invoice"
    assert (case["severity"], case["tlp"], case["pap"]) == (3, 3, 1)
    assert case["status"] == "New"
    assert sorted(case["tags"]) == ["alert-tag", "mail", "template-tag"]
    tasks = api.case.find_tasks(case["_id"], sortby=Asc("_createdAt"))
    assert [t["title"] for t in tasks] == ["Analyse headers", "Block sender"]
    observables = api.case.find_observables(case["_id"])
    assert sorted((o["dataType"], o["data"]) for o in observables) == [
        ("ip", "198.51.100.4"), ("mail", "boss@evil.example")]

    promoted = api.alert.get(alert["_id"])
    assert promoted["caseId"] == case["_id"]
    assert promoted["status"] == "Imported" and promoted["stage"] == "Imported"
    assert promoted["title"] == "Invoice attached"

    again = api.alert.promote_to_case(alert["_id"])
    assert (again["_id"], again["number"]) == (case["_id"], case["number"])
    assert api.case.count() == 1


def test_promote_to_case_with_overrides(hive):
    api = tenant(hive)
    alert = api.alert.create(alert_input("promote-2", title="original title", tags=["t"]))
    case = api.alert.promote_to_case(alert["_id"], {"title": "promoted title", "severity": 4})
    assert (case["title"], case["severity"]) == ("promoted title", 4)
    assert case["description"] == alert["description"] and case["tags"] == ["t"]
    assert api.alert.get(alert["_id"])["caseId"] == case["_id"]
    assert api.case.get(case["_id"])["title"] == "promoted title"


def test_merge_into_case(hive):
    api = tenant(hive)
    case = api.case.create({"title": "Investigation", "description": "Initial notes", "tags": ["case-tag"]})
    api.case.create_observable(case["_id"], {"dataType": "ip", "data": "10.0.0.1", "tags": ["case"]})
    alert = api.alert.create(alert_input("ref-42", title="Suspicious login", description="login details",
                                          tags=["alert-tag"], observables=[
        {"dataType": "ip", "data": "10.0.0.1", "tags": ["alert"]},
        {"dataType": "domain", "data": "evil.example"}]))

    merged = api.alert.merge_into_case(alert["_id"], case["_id"])
    assert merged["_id"] == case["_id"] and merged["number"] == case["number"]
    description = merged["description"]
    assert description.startswith("Initial notes")
    assert "#### Merged with alert #ref-42 Suspicious login" in description
    assert description.endswith("login details")
    assert sorted(merged["tags"]) == ["alert-tag", "case-tag"]
    assert api.case.get(case["_id"])["description"] == description

    observables = {o["data"]: o for o in api.case.find_observables(case["_id"])}
    assert sorted(observables) == ["10.0.0.1", "evil.example"]
    assert sorted(observables["10.0.0.1"]["tags"]) == ["alert", "case"]

    merged_alert = api.alert.get(alert["_id"])
    assert merged_alert["caseId"] == case["_id"] and merged_alert["status"] == "Imported"

    other_case = api.case.create({"title": "Other", "description": "..."})
    with pytest.raises(TheHiveError) as e:
        api.alert.merge_into_case(alert["_id"], other_case["_id"])
    assert error_of(e) == (400, "BadRequest")
    assert api.alert.get(alert["_id"])["caseId"] == case["_id"]


def test_import_into_case_copies_observables_only(hive):
    api = tenant(hive)
    case = api.case.create({"title": "Target", "description": "unchanged"})
    alert = api.alert.create(alert_input("import-1", observables=[
        {"dataType": "ip", "data": "203.0.113.9"}, {"dataType": "domain", "data": "import.example"}]))
    imported = api.alert.import_into_case(alert["_id"], case["_id"])
    assert imported["_id"] == case["_id"]
    assert imported["title"] == "Target" and imported["description"] == "unchanged"
    assert sorted(o["data"] for o in api.case.find_observables(case["_id"])) == ["203.0.113.9", "import.example"]
    assert api.alert.get(alert["_id"])["caseId"] == case["_id"]
    assert api.case.get(case["_id"])["description"] == "unchanged"


def test_bulk_merge_into_case(hive):
    api = tenant(hive)
    case = api.case.create({"title": "Campaign", "description": "start"})
    first = api.alert.create(alert_input("bm-1", title="first alert",
                                         observables=[{"dataType": "ip", "data": "10.1.1.1"}]))
    second = api.alert.create(alert_input("bm-2", title="second alert",
                                          observables=[{"dataType": "ip", "data": "10.2.2.2"}]))
    untouched = api.alert.create(alert_input("bm-3"))
    merged = api.alert.bulk_merge_into_case(case["_id"], [first["_id"], second["_id"]])
    assert merged["_id"] == case["_id"]
    description = api.case.get(case["_id"])["description"]
    assert "#### Merged with alert #bm-1 first alert" in description
    assert "#### Merged with alert #bm-2 second alert" in description
    for alert in (first, second):
        assert api.alert.get(alert["_id"])["caseId"] == case["_id"]
    assert api.alert.get(untouched["_id"]).get("caseId") is None
    assert sorted(o["data"] for o in api.case.find_observables(case["_id"])) == ["10.1.1.1", "10.2.2.2"]


def test_similar_observables(hive):
    api = tenant(hive)
    first = api.alert.create(alert_input("sim-1", observables=[
        {"dataType": "ip", "data": "192.0.2.1"}, {"dataType": "domain", "data": "only-first.example"}]))
    second = api.alert.create(alert_input("sim-2", observables=[
        {"dataType": "ip", "data": "192.0.2.1"}, {"dataType": "domain", "data": "only-second.example"}]))
    unrelated = api.alert.create(alert_input("sim-3", observables=[{"dataType": "ip", "data": "192.0.2.99"}]))
    similar = api.alert.get_similar_observables(first["_id"], second["_id"])
    assert [(o["dataType"], o["data"]) for o in similar] == [("ip", "192.0.2.1")]
    assert api.alert.get_similar_observables(first["_id"], unrelated["_id"]) == []

    case = api.case.create({"title": "has the domain", "description": "..."})
    api.case.create_observable(case["_id"], {"dataType": "domain", "data": "only-first.example"})
    similar = api.alert.get_similar_observables(first["_id"], case["_id"])
    assert [(o["dataType"], o["data"]) for o in similar] == [("domain", "only-first.example")]
