"""hive-service's Cortex connector, golden path, driven by thehive4py 2.1.0 against a real
cortex-service running real cortexutils workers (fixture `platform`: once on PostgreSQL with
RabbitMQ, once on SQLite with REST).

The story is the SOC's "user reports a suspicious mail" playbook, with the fixtures of
../shared/fixtures/mail: a feeder turns the user's report (user-report.eml) into an alert
whose observables are the reported message's sender, its subject, the reported message itself
(Overdue_payment_88231.eml, a file) and its attachment (statement-88231.doc); the alert is
promoted with the MALSPAM case template. Proven:

* hive lists the analyzers enabled in Cortex (id, name, cortexIds ["local"]), also by data type;
* an analyzer job on a case's file observable (_type case_artifact_job) reaches Success with
  MailParser's report (full, summary taxonomies, artifacts);
* when the job succeeds its artifacts are already observables of the case, tagged with the
  analyzer name, without duplicating the observables the case already had (sender address,
  attached .doc); the observable's `reports` holds the job's taxonomies under the analyzer
  name; the job is found by the listJob query;
* a responder (MailAdmins) listed for the case runs as an action whose operations are executed
  by hive (tag on the case, log in the task named by the operation), each recorded Success;
* an operation that cannot apply (AddTagToCase for an alert that has no case) is recorded
  Failure with a message, the action itself stays Success and the alert is left unchanged.
"""
import email
import email.policy
import json
import os
import time
import uuid

from thehive4py.query.filters import Eq, Id

from casework import sha256, tenant, without

MAIL_FIXTURES = os.environ.get("MAIL_FIXTURES", os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "mail")))
ANALYZER = "MailParser_1_0"
RESPONDER = "MailAdmins_1_0"
MAIL_ADMINS = "mail-admins@corp.example"
REPORTED = "Overdue_payment_88231.eml"
DOC = "statement-88231.doc"
RELAY_IP = "198.51.100.23"
SENDER = "billing@payments-notice.test"
URL = "http://payments-notice.test/dl/statement_88231.zip"
TASKS = ["Acknowledge the report", "Parse the reported e-mail", "Analyze observables",
         "Search for other recipients", "Block sender", "Block URLs", "Communicate with users", "Close"]
FINAL = ("Success", "Failure")


# --------------------------------------------------------------------------------------------
# helpers

def fixture_bytes(name):
    with open(os.path.join(MAIL_FIXTURES, name), "rb") as f:
        return f.read()


def attachments_of(raw):
    """{filename: bytes} of the attachments of a message, as a mail feeder extracts them."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return {part.get_filename(): part.get_payload(decode=True) for part in msg.iter_attachments()}


def wait_job(api, job_id, timeout=60):
    """The analyzer job once Success or Failure."""
    deadline = time.time() + timeout
    while True:
        job = api.cortex.get_analyzer_job(job_id)
        if job["status"] in FINAL:
            return job
        assert time.time() < deadline, f"job {job_id} still {job['status']} after {timeout} s"
        time.sleep(0.3)


def list_actions(api, object_type, object_id):
    return api.session.make_request("GET", f"/api/connector/cortex/action/{object_type}/{object_id}")


def wait_actions(api, object_type, object_id, count=1, timeout=60):
    """The responder actions on an object once there are `count` of them, all final."""
    deadline = time.time() + timeout
    while True:
        actions = list_actions(api, object_type, object_id)
        if len(actions) >= count and all(a["status"] in FINAL for a in actions):
            return actions
        assert time.time() < deadline, (
            f"actions on {object_type} {object_id} not final after {timeout} s: "
            f"{[(a.get('responderName'), a['status']) for a in actions]}")
        time.sleep(0.3)


def named(workers, name):
    found = [w for w in workers if w["name"] == name]
    assert len(found) == 1, f"{name} not listed exactly once in {[w['name'] for w in workers]}"
    return found[0]


def operations_by_type(action):
    operations = json.loads(action["operations"])
    assert isinstance(operations, list), action["operations"]
    return {op["type"]: op for op in operations}


def enable_workers(platform):
    platform.enable("analyzer", ANALYZER)
    platform.enable("responder", RESPONDER, {"to": MAIL_ADMINS, "task": "Block sender"})


def feed_user_report(api, tmp_path):
    """What a mail feeder does with user-report.eml: one alert (MALSPAM template) with the reported
    message's sender and subject, the reported message and its attachment as file observables."""
    report = email.message_from_bytes(fixture_bytes("user-report.eml"), policy=email.policy.default)
    reported_raw = attachments_of(fixture_bytes("user-report.eml"))[REPORTED]
    assert reported_raw == fixture_bytes(REPORTED), "the fixture's attachment is the reported message"
    reported = email.message_from_bytes(reported_raw, policy=email.policy.default)
    doc_raw = attachments_of(reported_raw)[DOC]
    assert doc_raw == fixture_bytes(DOC)
    (tmp_path / REPORTED).write_bytes(reported_raw)
    (tmp_path / DOC).write_bytes(doc_raw)
    alert = api.alert.create({
        "type": "email report", "source": "Internal mail Server", "sourceRef": uuid.uuid4().hex[:12],
        "title": str(report["subject"]), "description": report.get_body(("plain",)).get_content(),
        "caseTemplate": "MALSPAM", "observables": [
            {"dataType": "mail", "data": reported["from"].addresses[0].addr_spec, "message": "sender"},
            {"dataType": "mail-subject", "data": str(reported["subject"])},
            {"dataType": "file", "attachment": "eml", "message": "the reported message"},
            {"dataType": "file", "attachment": "doc", "message": "attached to the reported message"},
        ]}, attachment_map={"eml": str(tmp_path / REPORTED), "doc": str(tmp_path / DOC)})
    assert alert["observableCount"] == 4
    return alert


def file_observables(api, case_id, name):
    files = api.case.find_observables(case_id, filters=Eq("dataType", "file"))
    return [o for o in files if (o.get("attachment") or {}).get("name") == name]


# --------------------------------------------------------------------------------------------
# tests

def test_mail_report_golden_path(platform, tmp_path):
    enable_workers(platform)
    api = tenant(platform.hive)
    doc_sha256 = sha256(fixture_bytes(DOC))
    # An orchestrator hears of every step (TheHive 4's webhook, version 0).
    api.session.make_request("PUT", "/api/config/organisation/notification", json={"value": [
        {"delegate": False, "trigger": {"name": "AnyEvent"},
         "notifier": {"name": "webhook", "endpoint": "orchestrator"}}]})

    # Analyzers as hive sees them.
    analyzer = named(api.cortex.list_analyzers(), ANALYZER)
    assert analyzer["cortexIds"] == ["local"], analyzer
    assert "file" in analyzer.get("dataTypeList", ["file"])
    assert named(api.cortex.list_analyzers_by_type("file"), ANALYZER)["id"] == analyzer["id"]
    assert ANALYZER not in [a["name"] for a in api.cortex.list_analyzers_by_type("ip")]

    # Case template, feeder alert, promotion.
    api.case_template.create({"name": "MALSPAM", "titlePrefix": "[MALSPAM]",
                              "description": "Suspicious mail report by user", "tags": ["phishing"],
                              "tasks": [{"title": t} for t in TASKS]})
    alert = feed_user_report(api, tmp_path)
    case = api.alert.promote_to_case(alert["_id"])
    case_id = case["_id"]
    assert case["title"] == f"[MALSPAM] {alert['title']}", case["title"]
    assert "phishing" in case["tags"]
    tasks = api.case.find_tasks(case_id)
    assert sorted(t["title"] for t in tasks) == sorted(TASKS)

    # The analyzer job on the reported message.
    [eml] = file_observables(api, case_id, REPORTED)
    job = api.cortex.create_analyzer_job({"analyzerId": analyzer["id"], "cortexId": "local",
                                          "artifactId": eml["_id"]})
    assert job["_type"] == "case_artifact_job", job
    assert job["cortexId"] == "local" and job["analyzerName"] == ANALYZER, job
    assert job["status"] in ("Waiting", "InProgress", "Success"), job
    job = wait_job(api, job["_id"])
    assert job["status"] == "Success", job
    # Right after Success, no polling: the artifacts are imported when the job completes.
    observables = api.case.find_observables(case_id)

    report = job["report"]
    full = report["full"]
    assert full["relay_ips"] == [RELAY_IP]
    assert full["urls"] == [URL]
    assert full["from"] == SENDER and full["subject"] == "Overdue payment notice 88231"
    assert [(a["filename"], a["sha256"]) for a in full["attachments"]] == [(DOC, doc_sha256)]
    taxonomies = report["summary"]["taxonomies"]
    assert {(t["namespace"], t["predicate"], t["level"], t["value"]) for t in taxonomies} == {
        ("MailParser", "Attachments", "info", 1), ("MailParser", "Urls", "suspicious", 1)}
    artifacts = report["artifacts"]
    assert sorted((a["dataType"], a["data"]) for a in artifacts if a["dataType"] != "file") == sorted([
        ("ip", RELAY_IP), ("url", URL), ("mail", SENDER), ("hash", doc_sha256)]), artifacts
    assert len([a for a in artifacts if a["dataType"] == "file"]) == 1, artifacts

    # Imported artifacts, without duplicates.
    def having(data_type, data):
        return [o for o in observables if o["dataType"] == data_type and o.get("data") == data]

    for data_type, data in (("ip", RELAY_IP), ("url", URL), ("hash", doc_sha256)):
        found = having(data_type, data)
        assert len(found) == 1, f"{data_type} {data}: {len(found)} observables after Success"
        assert ANALYZER in found[0].get("tags", []), found[0]
    assert len(having("mail", SENDER)) == 1, "the sender observable was duplicated"
    docs = [o for o in observables if o["dataType"] == "file"
            and (o.get("attachment") or {}).get("name") == DOC]
    assert len(docs) == 1, f"{len(docs)} file observables named {DOC}"
    assert doc_sha256 in docs[0]["attachment"]["hashes"]

    # The report summary on the observable, and the job through the query API.
    reports = api.observable.get(eml["_id"])["reports"]
    assert ANALYZER in reports, reports
    assert reports[ANALYZER]["taxonomies"] == taxonomies
    assert [j["_id"] for j in api.cortex.find_analyzer_jobs(filters=Id(job["_id"]))] == [job["_id"]]

    # The responder on the case.
    responder = named(api.cortex.list_responders("case", case_id), RESPONDER)
    action = api.cortex.create_responder_action({"responderId": responder["id"], "objectType": "case",
                                                 "objectId": case_id})
    assert action["_type"] == "action", action
    assert action["status"] in ("Waiting", "InProgress", "Success"), action
    [action] = [a for a in wait_actions(api, "case", case_id) if a["_id"] == action["_id"]]
    assert action["status"] == "Success", action
    operations = json.loads(action["operations"])
    assert [op["type"] for op in operations] == ["AddTagToCase", "AddLogToTask"], operations
    for op in operations:
        assert op["status"] == "Success", op

    assert "mail sent" in api.case.get(case_id)["tags"]
    [block] = api.case.find_tasks(case_id, filters=Eq("title", "Block sender"))
    messages = [log["message"] for log in api.task.find_logs(block["_id"])]
    assert any("Mail admins asked to block the sender" in m and MAIL_ADMINS in m for m in messages), messages

    # The orchestrator heard of the alert, the case, the finished job and the responder's
    # action (and what it did: the tag on the case), as TheHive 4 tells n8n or Shuffle.
    def heard(calls):
        seen = {(c["body"]["objectType"], c["body"]["operation"], c["body"]["objectId"]) for c in calls}
        done = {(c["body"]["objectType"], c["body"]["objectId"]) for c in calls
                if c["body"]["details"].get("status") == "Success"}
        return ({("alert", "create", alert["_id"]), ("case", "create", case_id)} <= seen
                and ("case_artifact_job", job["_id"]) in done and ("action", action["_id"]) in done
                and any(c["body"]["objectType"] == "case" and "mail sent" in c["body"]["details"].get("tags", [])
                        for c in calls))
    calls = platform.orchestrator.wait(heard, timeout=30, path="/hook")
    [finished] = [c["body"] for c in calls if c["body"]["objectType"] == "case_artifact_job"
                  and c["body"]["details"].get("status") == "Success"]
    assert finished["object"]["analyzerName"] == ANALYZER and finished["rootId"] == case_id
    [tagged] = [c["body"] for c in calls if c["body"]["objectType"] == "case"
                and "mail sent" in c["body"]["details"].get("tags", [])]
    assert tagged["object"]["tags"] and "mail sent" in tagged["object"]["tags"]


def test_an_operation_that_cannot_apply_is_recorded_failed(platform):
    enable_workers(platform)
    api = tenant(platform.hive)
    alert = api.alert.create({"type": "email report", "source": "Internal mail Server",
                              "sourceRef": uuid.uuid4().hex[:12], "title": "Another suspicious mail",
                              "description": "not imported: no case", "tags": ["phishing"]})
    before = api.alert.get(alert["_id"])

    responder = named(api.cortex.list_responders("alert", alert["_id"]), RESPONDER)
    action = api.cortex.create_responder_action({"responderId": responder["id"], "objectType": "alert",
                                                 "objectId": alert["_id"]})
    assert action["_type"] == "action", action
    [action] = [a for a in wait_actions(api, "alert", alert["_id"]) if a["_id"] == action["_id"]]
    assert action["status"] == "Success", action
    operations = operations_by_type(action)
    assert set(operations) == {"AddTagToCase", "AddLogToTask"}, operations
    tag = operations["AddTagToCase"]
    assert tag["status"] == "Failure", tag
    assert isinstance(tag.get("message"), str) and tag["message"].strip(), tag
    for op in operations.values():
        assert op["status"] in FINAL, op

    after = api.alert.get(alert["_id"])
    assert without(after, "_updatedAt", "_updatedBy") == without(before, "_updatedAt", "_updatedBy")
    assert after["tags"] == ["phishing"] and after.get("caseId") is None
