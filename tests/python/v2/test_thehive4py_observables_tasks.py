"""thehive4py 2.1.0, unmodified, works inside a case: observables (incl. files and their
download), tasks, task logs (incl. attachments) and case templates."""
import zipfile

import pytest
from thehive4py.errors import TheHiveError
from thehive4py.helpers import now_to_ts
from thehive4py.query.filters import Eq, In
from thehive4py.query.sort import Asc

from casework import ADMIN, error_of, recent, sha256, tenant


def new_case(api, title="a case"):
    return api.case.create({"title": title, "description": "..."})


# ---------------------------------------------------------------- observables

def test_observable_create_from_a_list_get_and_defaults(hive):
    api = tenant(hive)
    case = new_case(api)
    values = ["1.example.com", "2.example.com", "3.example.com"]
    created = api.observable.create_in_case(case["_id"], {
        "dataType": "domain", "data": values, "message": "test observable", "tlp": 1, "pap": 3,
        "tags": ["test-tag"], "ioc": True})
    assert [o["data"] for o in created] == values
    assert len({o["_id"] for o in created}) == 3
    for o in created:
        assert o["_type"] == "Observable" and o["_createdBy"] == ADMIN
        assert (o["dataType"], o["message"], o["tags"]) == ("domain", "test observable", ["test-tag"])
        assert (o["tlp"], o["tlpLabel"], o["pap"], o["papLabel"]) == (1, "GREEN", 3, "RED")
        assert (o["ioc"], o["sighted"], o["ignoreSimilarity"]) == (True, False, False)
    assert api.observable.get(created[0]["_id"]) == created[0]
    assert api.case.find_observables(case["_id"], sortby=Asc("_createdAt")) == created

    [single] = api.observable.create_in_case(case["_id"], {"dataType": "ip", "data": "10.0.0.1"})
    assert (single["tlp"], single["pap"], single["ioc"], single["sighted"]) == (2, 2, False, False)
    assert single["ignoreSimilarity"] is False and recent(single["_createdAt"])
    assert api.observable.get(single["_id"]) == single

    with pytest.raises(TheHiveError) as e:
        api.observable.create_in_case(case["_id"], {"dataType": "no-such-type", "data": "x"})
    assert e.value.response.status_code == 400
    with pytest.raises(TheHiveError) as e:
        api.observable.get("~987654321")
    assert error_of(e) == (404, "NotFoundError")


def test_observable_update_bulk_update_and_delete(hive):
    api = tenant(hive)
    case = new_case(api)
    first, second, third = api.observable.create_in_case(
        case["_id"], {"dataType": "domain", "data": ["a.example", "b.example", "c.example"], "tags": ["t1"]})

    assert api.observable.update(first["_id"], {"ioc": True, "sighted": True, "tags": ["x", "y"],
                                                "message": "updated observable", "dataType": "fqdn"}) == ""
    updated = api.observable.get(first["_id"])
    assert (updated["ioc"], updated["sighted"], updated["tags"]) == (True, True, ["x", "y"])
    assert (updated["message"], updated["dataType"], updated["data"]) == ("updated observable", "fqdn", "a.example")
    assert updated["_updatedBy"] == ADMIN
    api.observable.update(first["_id"], {"addTags": ["z"], "removeTags": ["x"]})
    assert sorted(api.observable.get(first["_id"])["tags"]) == ["y", "z"]

    assert api.observable.bulk_update({"ids": [second["_id"], third["_id"]], "tlp": 3, "pap": 0,
                                       "message": "bulk"}) == ""
    for o in (second, third):
        got = api.observable.get(o["_id"])
        assert (got["tlp"], got["pap"], got["message"]) == (3, 0, "bulk")
    assert api.observable.get(first["_id"])["tlp"] == 2

    assert api.observable.delete(second["_id"]) == ""
    with pytest.raises(TheHiveError) as e:
        api.observable.get(second["_id"])
    assert error_of(e) == (404, "NotFoundError")
    assert [o["_id"] for o in api.case.find_observables(case["_id"], sortby=Asc("_createdAt"))] == [
        first["_id"], third["_id"]]


def test_file_observable_and_its_download(hive, tmp_path):
    api = tenant(hive)
    case = new_case(api)
    content = b"\x00\x01 sample bytes \xff\xfe\n" * 100
    path = tmp_path / "payload.bin"
    path.write_bytes(content)
    [created] = api.observable.create_in_case(case["_id"], {"dataType": "file", "message": "file based observable"},
                                              observable_path=str(path))
    assert created["dataType"] == "file" and created["message"] == "file based observable"
    attachment = created["attachment"]
    assert attachment["name"] == "payload.bin"
    assert attachment["size"] == len(content)
    assert sha256(content) in attachment["hashes"]
    assert api.observable.get(created["_id"]) == created

    plain = tmp_path / "downloaded.bin"
    api.observable.download_attachment(created["_id"], attachment["_id"], str(plain))
    assert plain.read_bytes() == content

    archive = tmp_path / "downloaded.zip"
    api.observable.download_attachment(created["_id"], attachment["_id"], str(archive), as_zip=True)
    with zipfile.ZipFile(archive) as zf:
        [entry] = zf.infolist()
        assert entry.filename == "payload.bin"
        assert entry.flag_bits & 0x1, "the zip entry must be encrypted"
        with pytest.raises(RuntimeError):
            zf.read(entry)
        assert zf.read(entry, pwd=b"malware") == content


def test_duplicate_observable_in_a_case(hive):
    api = tenant(hive)
    case, other = new_case(api, "first"), new_case(api, "second")
    [ip] = api.observable.create_in_case(case["_id"], {"dataType": "ip", "data": "10.0.0.1"})
    # As TheHive: adding it again is not an error; the existing observable is answered, with
    # the new tags merged in, and the new values of the same request are created.
    again, new = api.observable.create_in_case(
        case["_id"], {"dataType": "ip", "data": ["10.0.0.1", "10.0.0.2"], "tags": ["again"]})
    assert again["_id"] == ip["_id"] and again["tags"] == ["again"]
    assert new["data"] == "10.0.0.2"
    assert sorted(o["data"] for o in api.case.find_observables(case["_id"])) == ["10.0.0.1", "10.0.0.2"]
    # The same value as another data type, or in another case, is a different observable.
    assert len(api.observable.create_in_case(case["_id"], {"dataType": "other", "data": "10.0.0.1"})) == 1
    assert len(api.observable.create_in_case(other["_id"], {"dataType": "ip", "data": "10.0.0.1"})) == 1


def test_observable_find_and_count(hive):
    api = tenant(hive)
    case, other = new_case(api, "first"), new_case(api, "second")
    domain = api.observable.create_in_case(case["_id"], {"dataType": "domain", "data": "example.com", "ioc": True})
    ips = api.observable.create_in_case(case["_id"], {"dataType": "ip", "data": ["10.0.0.1", "10.0.0.2"]})
    elsewhere = api.observable.create_in_case(other["_id"], {"dataType": "ip", "data": "10.0.0.3", "ioc": True})
    everything = domain + ips + elsewhere
    assert api.observable.find(sortby=Asc("_createdAt")) == everything
    assert api.observable.find(filters=Eq("dataType", "ip"), sortby=Asc("_createdAt")) == ips + elsewhere
    assert api.observable.find(filters=Eq("ioc", True), sortby=Asc("_createdAt")) == domain + elsewhere
    assert api.observable.find(filters=In("data", ["10.0.0.2", "nothing"])) == [ips[1]]
    assert api.observable.count() == 4
    assert api.observable.count(filters=Eq("dataType", "ip")) == 3
    assert api.observable.count(filters=Eq("data", "nothing")) == 0


# ---------------------------------------------------------------- tasks

def test_task_create_defaults_and_get(hive):
    api = tenant(hive)
    case = new_case(api)
    task = api.task.create(case["_id"], {"title": "Collect logs"})
    assert task["_type"] == "Task" and task["_createdBy"] == ADMIN and task["title"] == "Collect logs"
    assert (task["group"], task["status"], task["order"]) == ("default", "Waiting", 0)
    assert task["mandatory"] is False and task["flag"] is False
    assert api.task.get(task["_id"]) == task

    full = api.task.create(case["_id"], {"title": "Contain", "group": "response", "description": "isolate hosts",
                                         "flag": True, "mandatory": True, "order": 3, "status": "InProgress"})
    assert (full["group"], full["description"]) == ("response", "isolate hosts")
    assert full["flag"] is True and full["mandatory"] is True
    assert (full["order"], full["status"]) == (3, "InProgress")
    assert api.task.get(full["_id"]) == full

    with pytest.raises(TheHiveError) as e:
        api.task.create(case["_id"], {"title": "bad", "status": "Sleeping"})
    assert e.value.response.status_code == 400
    with pytest.raises(TheHiveError) as e:
        api.task.create("~987654321", {"title": "orphan"})
    assert error_of(e) == (404, "NotFoundError")


def test_task_update_bulk_update_and_delete(hive):
    api = tenant(hive)
    case = new_case(api)
    first, second, third = (api.task.create(case["_id"], {"title": f"task {i}"}) for i in range(3))

    assert api.task.update(first["_id"], {"title": "updated task title", "description": "more",
                                          "status": "InProgress", "flag": True}) == ""
    updated = api.task.get(first["_id"])
    assert (updated["title"], updated["description"], updated["status"], updated["flag"]) == (
        "updated task title", "more", "InProgress", True)
    assert updated["_updatedBy"] == ADMIN

    assert api.task.bulk_update({"ids": [second["_id"], third["_id"]], "group": "triage",
                                 "status": "Completed"}) == ""
    for t in (second, third):
        got = api.task.get(t["_id"])
        assert (got["group"], got["status"]) == ("triage", "Completed")
    assert api.task.get(first["_id"])["group"] == "default"

    assert api.task.delete(third["_id"]) == ""
    with pytest.raises(TheHiveError) as e:
        api.task.get(third["_id"])
    assert error_of(e) == (404, "NotFoundError")
    assert [t["_id"] for t in api.case.find_tasks(case["_id"], sortby=Asc("_createdAt"))] == [
        first["_id"], second["_id"]]


def test_task_find(hive):
    api = tenant(hive)
    case, other = new_case(api, "first"), new_case(api, "second")
    mine = [api.task.create(case["_id"], {"title": title, "group": group})
            for title, group in [("Collect", "triage"), ("Analyse", "analysis"), ("Report", "triage")]]
    theirs = api.task.create(other["_id"], {"title": "Collect", "group": "triage"})
    triage = api.case.find_tasks(case["_id"], filters=Eq("group", "triage"), sortby=Asc("_createdAt"))
    assert triage == [mine[0], mine[2]]
    assert api.case.find_tasks(other["_id"]) == [theirs]
    assert api.task.find(filters=Eq("title", "Collect"), sortby=Asc("_createdAt")) == [mine[0], theirs]
    assert api.task.find(filters=Eq("title", "Analyse") | Eq("title", "Report"),
                         sortby=Asc("_createdAt")) == mine[1:]
    assert api.task.count() == 4
    assert api.task.count(filters=Eq("group", "triage")) == 3


# ---------------------------------------------------------------- task logs

def test_task_log_create_get_update_delete(hive):
    api = tenant(hive)
    task = api.task.create(new_case(api)["_id"], {"title": "a task"})
    when = now_to_ts()
    log = api.task_log.create(task["_id"], {"message": "My test log", "includeInTimeline": when,
                                            "startDate": when})
    assert log["_type"] == "Log" and log["_createdBy"] == ADMIN
    assert (log["message"], log["owner"], log["includeInTimeline"]) == ("My test log", ADMIN, when)
    assert log.get("attachments", []) == []
    assert api.task_log.get(log["_id"]) == log

    second = api.task.create_log(task["_id"], {"message": "second log"})
    assert recent(second["date"])
    assert api.task.find_logs(task["_id"], sortby=Asc("_createdAt")) == [log, second]
    assert api.task.find_logs(task["_id"], filters=Eq("message", "second log")) == [second]

    assert api.task_log.update(log["_id"], {"message": "updated task log message"}) == ""
    assert api.task_log.get(log["_id"])["message"] == "updated task log message"

    assert api.task_log.delete(log["_id"]) == ""
    with pytest.raises(TheHiveError):
        api.task_log.get(log["_id"])  # the client turns an empty getLog result into an error
    assert api.task.find_logs(task["_id"]) == [second]


def test_task_log_with_attachments(hive, tmp_path):
    api = tenant(hive)
    task = api.task.create(new_case(api)["_id"], {"title": "a task"})
    contents = {"report-0.txt": b"first report\n", "report-1.txt": b"second, longer report\n"}
    paths = []
    for name, content in contents.items():
        (tmp_path / name).write_bytes(content)
        paths.append(str(tmp_path / name))
    log = api.task_log.create(task["_id"], {"message": "with files", "attachments": paths})
    assert log["message"] == "with files"
    attachments = {a["name"]: a for a in log["attachments"]}
    assert sorted(attachments) == sorted(contents)
    for name, content in contents.items():
        assert attachments[name]["size"] == len(content)
        assert sha256(content) in attachments[name]["hashes"]
    assert api.task_log.get(log["_id"]) == log
    assert api.task.find_logs(task["_id"]) == [log]


# ---------------------------------------------------------------- case templates

def test_case_template_create_get_update_delete_find(hive):
    api = tenant(hive)
    template = api.case_template.create({
        "name": "phishing", "description": "Template description", "titlePrefix": "[PHISH]", "severity": 3,
        "tlp": 1, "tags": ["phishing"], "summary": "phishing summary",
        "tasks": [{"title": "Analyse headers", "group": "analysis"}, {"title": "Block sender"}]})
    assert template["_type"] == "CaseTemplate" and template["_createdBy"] == ADMIN
    assert (template["name"], template["displayName"], template["titlePrefix"]) == ("phishing", "phishing", "[PHISH]")
    assert (template["severity"], template["severityLabel"], template["tlp"], template["tlpLabel"]) == (
        3, "HIGH", 1, "GREEN")
    assert (template["flag"], template["tags"], template["summary"]) == (False, ["phishing"], "phishing summary")
    assert [(t["title"], t["group"], t["status"]) for t in template["tasks"]] == [
        ("Analyse headers", "analysis", "Waiting"), ("Block sender", "default", "Waiting")]
    assert api.case_template.get(template["_id"]) == template
    assert api.case_template.get("phishing") == template

    with pytest.raises(TheHiveError) as e:
        api.case_template.create({"name": "phishing"})
    assert e.value.response.status_code == 400

    assert api.case_template.update(template["_id"], {"name": "phishing-v2", "displayName": "Phishing",
                                                      "description": "updated template description",
                                                      "titlePrefix": "[PH]"}) == ""
    updated = api.case_template.get("phishing-v2")
    assert (updated["_id"], updated["displayName"], updated["titlePrefix"]) == (template["_id"], "Phishing", "[PH]")
    assert updated["description"] == "updated template description" and updated["severity"] == 3
    with pytest.raises(TheHiveError) as e:
        api.case_template.get("phishing")
    assert error_of(e) == (404, "NotFoundError")

    other = api.case_template.create({"name": "malware", "description": "..."})
    assert other["displayName"] == "malware" and other["flag"] is False
    assert sorted(t["_id"] for t in api.case_template.find()) == sorted([template["_id"], other["_id"]])
    assert api.case_template.find(filters=Eq("name", "malware")) == [other]

    assert api.case_template.delete(template["_id"]) == ""
    with pytest.raises(TheHiveError) as e:
        api.case_template.get(template["_id"])
    assert error_of(e) == (404, "NotFoundError")
    assert api.case_template.find() == [other]
