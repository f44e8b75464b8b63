"""A SOC's mail feeder written for thehive4py 1.8.2 (default version 3, API key), unmodified,
works against hive-service's legacy v0 API, on SQLite and on PostgreSQL.

The feeder takes a user's report (tests/fixtures/mail/user-report.eml), parses it with the
standard `email` module, writes the reported message (Overdue_payment_88231.eml, attached to the
report) and the reported message's attachment (statement-88231.doc) to a work directory, and
sends one alert with four artifacts (sender, subject, the two files as `path;mime;base64`), the
"[MALSPAM] Suspicious mail report by user" case template and the custom field `reportedBy` = the reporter. Proven:

* the alert is created (201) and reads back the same through v0 (`get_alert`) and v1
  (`GET /api/v1/alert/{id}`, query `getAlert` -> `observables`): title, type, source, sourceRef,
  tlp, tags, caseTemplate, status New, the custom field (v0 map form, v1 list form), the four
  observables with their data, tags and, for the files, the base name of the path, the size,
  the sha256/sha1/md5 computed here and the content type the client sent;
* a second submission of the same alert is refused (400 CreateError) and adds nothing;
* `promote_alert_to_case` without naming a template applies the alert's template: the case
  (201) has a number, the feeder as owner, status Open, the prefixed title, the template's
  eight tasks, the alert's four observables and its custom field; the alert is then Imported
  and points to the case;
* the attachments download as the exact bytes (`download_attachment`, archive=False), and as a
  zip encrypted with the password `malware` holding the same bytes (archive=True).
"""
import email
import email.policy
import os

from thehive4py.models import Alert, AlertArtifact, CaseTask, CaseTemplate, CustomFieldHelper
from thehive4py.query import Eq

from legacy import (FEEDER, admin_api, api_user, check_file, check_v0_file, expect,
                    expect_error, key_api, tenant, total, unzip, updated, v0, v1)

MAIL_FIXTURES = os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "mail"))
REPORT = "user-report.eml"
REPORTED = "Overdue_payment_88231.eml"
DOC = "statement-88231.doc"
TEMPLATE = "[MALSPAM] Suspicious mail report by user"
TEMPLATE_DESCRIPTION = "A user reported a suspicious e-mail"
TASKS = ["Acknowledge the report", "Parse the reported e-mail", "Analyze observables",
         "Search for other recipients", "Block sender", "Block URLs", "Communicate with users", "Close"]
ALERT_TAGS = ["user-report", "malspam", "feeder:mail"]


# --------------------------------------------------------------------------------------------
# the feeder, as a SOC writes it

class Report:
    """What the feeder extracts from a user's report."""

    def __init__(self, raw, workdir):
        report = email.message_from_bytes(raw, policy=email.policy.default)
        self.reporter = report["from"].addresses[0].addr_spec
        self.ref = str(report["message-id"]).strip("<>")
        self.text = report.get_body(("plain",)).get_content()
        [attached] = [p for p in report.iter_attachments() if p.get_filename() == REPORTED]
        self.eml = attached.get_payload(decode=True)
        reported = email.message_from_bytes(self.eml, policy=email.policy.default)
        self.sender = reported["from"].addresses[0].addr_spec
        self.subject = str(reported["subject"])
        [doc] = [p for p in reported.iter_attachments() if p.get_filename() == DOC]
        self.doc = doc.get_payload(decode=True)
        os.makedirs(workdir, exist_ok=True)
        self.eml_path = os.path.join(workdir, REPORTED)
        self.doc_path = os.path.join(workdir, DOC)
        with open(self.eml_path, "wb") as f:
            f.write(self.eml)
        with open(self.doc_path, "wb") as f:
            f.write(self.doc)


def build_alert(report):
    artifacts = [
        AlertArtifact(dataType="mail", data=report.sender, tags=["sender"], message="sender"),
        AlertArtifact(dataType="mail-subject", data=report.subject, tags=["subject"]),
        AlertArtifact(dataType="file", data=report.eml_path, tags=["reported-mail"]),
        AlertArtifact(dataType="file", data=report.doc_path, tags=["attachment"]),
    ]
    return Alert(title=report.subject, tlp=2, tags=list(ALERT_TAGS), description=report.text,
                 type="email report", source="Internal mail Server", sourceRef=report.ref,
                 caseTemplate=TEMPLATE,
                 customFields=CustomFieldHelper().add_string("reportedBy", report.reporter).build(),
                 artifacts=artifacts)


def fixture_bytes(name):
    with open(os.path.join(MAIL_FIXTURES, name), "rb") as f:
        return f.read()


# --------------------------------------------------------------------------------------------
# checks

def check_observables(observables, report, v1_shape=False):
    """The four artifacts of the report, as v0 (`case_artifact`) or v1 (`Observable`) objects."""
    assert len(observables) == 4, observables
    by_kind = {}
    for o in observables:
        key = o["dataType"] if o["dataType"] != "file" else (o.get("attachment") or {}).get("name")
        by_kind[key] = o
    assert set(by_kind) == {"mail", "mail-subject", REPORTED, DOC}, by_kind.keys()
    assert by_kind["mail"]["data"] == report.sender
    assert by_kind["mail-subject"]["data"] == report.subject
    expected_tags = {"mail": ["sender"], "mail-subject": ["subject"], REPORTED: ["reported-mail"],
                     DOC: ["attachment"]}
    for key, o in by_kind.items():
        assert o["tags"] == expected_tags[key], o
        assert o["tlp"] == 2 and o["ioc"] is False and o["sighted"] is False, o
        if not v1_shape:
            assert o["_type"] == "case_artifact" and o["id"] == o["_id"], o
            assert o["status"] == "Ok", o
    check = check_file if v1_shape else check_v0_file
    check(by_kind[REPORTED], REPORTED, report.eml)
    check(by_kind[DOC], DOC, report.doc)
    return by_kind


def check_alert_v0(alert, report, status="New"):
    v0(alert, "alert", created_by=FEEDER)
    assert alert["title"] == report.subject
    assert alert["description"] == report.text
    assert (alert["type"], alert["source"], alert["sourceRef"]) == (
        "email report", "Internal mail Server", report.ref)
    assert alert["tlp"] == 2 and alert["severity"] == 2
    assert sorted(alert["tags"]) == sorted(ALERT_TAGS)
    assert alert["caseTemplate"] == TEMPLATE
    assert alert["status"] == status, alert["status"]
    assert alert["customFields"] == {"reportedBy": {"string": report.reporter, "order": 0}}, alert["customFields"]
    return check_observables(alert["artifacts"], report)


# --------------------------------------------------------------------------------------------
# tests

def feed(hive, tmp_path):
    """The tenant, the MALSPAM template (made by the org-admin), and the feeder's alert:
    (feeder client, report, created alert)."""
    tenant(hive)
    feeder = key_api(hive, api_user(hive, FEEDER, "analyst"))
    template = expect(admin_api(hive).create_case_template(CaseTemplate(
        name=TEMPLATE, titlePrefix="[MALSPAM]", description=TEMPLATE_DESCRIPTION,
        tags=["phishing"], severity=2, tlp=2, tasks=[CaseTask(title=t) for t in TASKS])), 201)
    v0(template, "caseTemplate")
    assert template["name"] == TEMPLATE and template["titlePrefix"] == "[MALSPAM]"
    assert [t["title"] for t in sorted(template["tasks"], key=lambda t: t["order"])] == TASKS

    report = Report(fixture_bytes(REPORT), str(tmp_path / "feeder"))
    assert report.reporter == "alice@corp.example"
    assert report.eml == fixture_bytes(REPORTED) and report.doc == fixture_bytes(DOC)
    created = expect(feeder.create_alert(build_alert(report)), 201)
    return feeder, report, created


def test_feeder_alert_reads_back_through_v0_and_v1_and_is_not_duplicated(hive, tmp_path):
    feeder, report, created = feed(hive, tmp_path)
    alert_id = created["id"]
    check_alert_v0(created, report)

    fetched = expect(feeder.get_alert(alert_id), 200)
    observables = check_alert_v0(fetched, report)
    assert fetched["id"] == alert_id
    assert fetched.get("case") is None, fetched

    # The same alert through v1.
    alert_v1 = expect(v1(hive, "GET", f"/api/v1/alert/{alert_id}"), 200)
    assert alert_v1["_id"] == alert_id and alert_v1["_type"] == "Alert"
    assert alert_v1["_createdBy"] == FEEDER
    assert (alert_v1["title"], alert_v1["type"], alert_v1["source"], alert_v1["sourceRef"]) == (
        report.subject, "email report", "Internal mail Server", report.ref)
    assert alert_v1["tlp"] == 2 and sorted(alert_v1["tags"]) == sorted(ALERT_TAGS)
    assert alert_v1["caseTemplate"] == TEMPLATE and alert_v1["status"] == "New"
    assert [(c["name"], c["type"], c["value"]) for c in alert_v1["customFields"]] == [
        ("reportedBy", "string", report.reporter)], alert_v1["customFields"]
    assert alert_v1["observableCount"] == 4
    query = {"query": [{"_name": "getAlert", "idOrName": alert_id}, {"_name": "observables"}]}
    observables_v1 = expect(v1(hive, "POST", "/api/v1/query", json=query), 200)
    by_kind_v1 = check_observables(observables_v1, report, v1_shape=True)
    assert {k: o["_id"] for k, o in by_kind_v1.items()} == {k: o["id"] for k, o in observables.items()}

    # The feeder runs again on the same report: refused, nothing added.
    expect_error(feeder.create_alert(build_alert(report)), 400, "CreateError")
    found = feeder.find_alerts(query=Eq("sourceRef", report.ref))
    assert [a["id"] for a in expect(found, 200)] == [alert_id] and total(found) == 1
    assert total(feeder.find_alerts(query={})) == 1
    assert len(expect(feeder.get_alert(alert_id), 200)["artifacts"]) == 4


def test_feeder_alert_promoted_with_its_template_and_files_download(hive, tmp_path):
    feeder, report, created = feed(hive, tmp_path)
    alert_id = created["id"]

    # Promotion without naming a template: the alert's template applies.
    case = expect(feeder.promote_alert_to_case(alert_id), 201)
    v0(case, "case", created_by=FEEDER)
    case_id = case["id"]
    assert isinstance(case["caseId"], int) and not isinstance(case["caseId"], bool), case["caseId"]
    assert case["caseId"] > 0
    assert case["owner"] == FEEDER and case["status"] == "Open"
    assert case["title"].startswith("[MALSPAM]") and case["title"].endswith(report.subject), case["title"]
    assert set(ALERT_TAGS) | {"phishing"} <= set(case["tags"]), case["tags"]
    assert case["customFields"]["reportedBy"]["string"] == report.reporter, case["customFields"]
    tasks = expect(feeder.get_case_tasks(case_id), 200)
    assert [t["title"] for t in sorted(tasks, key=lambda t: t["order"])] == TASKS
    assert all(t["_type"] == "case_task" and t["status"] == "Waiting" for t in tasks), tasks
    case_observables = check_observables(expect(feeder.get_case_observables(case_id), 200), report)
    assert expect(feeder.get_case(case_id), 200)["caseId"] == case["caseId"]
    case_v1 = expect(v1(hive, "GET", f"/api/v1/case/{case_id}"), 200)
    assert case_v1["number"] == case["caseId"] and case_v1["assignee"] == FEEDER
    assert case_v1["caseTemplate"] == TEMPLATE

    imported = expect(feeder.get_alert(alert_id), 200)
    assert imported["status"] == "Imported" and imported["case"] == case_id, imported
    updated(imported, by=FEEDER)
    # Promoting again gives the same case (TheHive returns the alert's case).
    again = feeder.promote_alert_to_case(alert_id)
    assert again.status_code in (200, 201) and again.json()["id"] == case_id, again.text[:500]
    assert total(feeder.find_cases(query={})) == 1, "promoting twice made a second case"

    # Downloads: the exact bytes, and the password-protected zip.
    for name, content in ((REPORTED, report.eml), (DOC, report.doc)):
        attachment = case_observables[name]["attachment"]
        plain = feeder.download_attachment(attachment["id"], attachment["name"], archive=False)
        assert plain.status_code == 200, plain.text[:500]
        assert plain.content == content, f"{name}: {len(plain.content)} bytes instead of {len(content)}"
        zipped = feeder.download_attachment(attachment["id"], attachment["name"], archive=True)
        assert zipped.status_code == 200, zipped.text[:500]
        assert unzip(zipped.content) == content
