"""The seed's first analyst session on a running `deploy/quickstart`, with its own configuration
(run by tests/quickstart-smoke with thehive4py 2.1.0): nothing but the two binaries, the built-in
workers quickstart enabled for hive-service's organization, and a local SMTP receiver standing
for the mail admins' server (127.0.0.1:2525, as deploy/quickstart-workers.json says).

alert from the user's report -> case from the "[MALSPAM] Suspicious mail report by user"
template (8 tasks) -> Native_EmlParser on the reported .eml -> the relay IP, the URL and the
attachment are observables of the case -> Native_Mailer on the sender asks the mail admins to
block it -> the mail arrives, the case is tagged "mail sent".

Usage: quickstart_seed.py HIVE_URL ADMIN_PASSWORD   (exit status 0 when every step held)"""
import hashlib
import json
import os
import pathlib
import sys
import tempfile
import time
import uuid

from thehive4py import TheHiveApi
from thehive4py.query.filters import Eq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "v2")]
from smtp_sink import SmtpSink  # noqa: E402
from test_connector_seed import feed_user_report  # noqa: E402

FIXTURES = os.environ.get("MAIL_FIXTURES", os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "mail")))
TASKS = ["Acknowledge the report", "Parse the reported e-mail", "Analyze observables",
         "Search for other recipients", "Block sender", "Block URLs", "Communicate with users", "Close"]
RELAY_IP = "198.51.100.23"
URL = "http://payments-notice.test/dl/statement_88231.zip"
SENDER = "billing@payments-notice.test"
DOC = "statement-88231.doc"
REPORTED = "Overdue_payment_88231.eml"


def step(message):
    print(f"  - {message}", flush=True)


def wait(what, fetch, done, timeout=60):
    deadline = time.time() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.time() > deadline:
            raise AssertionError(f"{what}: not done after {timeout} s: {value}")
        time.sleep(0.3)


def main(url, password):
    sink = SmtpSink(port=2525)
    root = TheHiveApi(url=url, username="admin@thehive.local", password=password, max_retries=0)
    org = "soc-" + uuid.uuid4().hex[:6]
    root.organisation.create({"name": org, "description": "the SOC"})
    root.user.set_organisations(root.user.get_current()["_id"], [
        {"organisation": org, "profile": "org-admin", "default": True},
        {"organisation": "admin", "profile": "admin"}])
    api = TheHiveApi(url=url, username="admin@thehive.local", password=password, organisation=org,
                     max_retries=0)

    names = {a["name"] for a in api.cortex.list_analyzers()}
    assert {"Native_EmlParser_1_0", "Native_FileInfo_1_0", "Native_IocExtract_1_0"} <= names, names
    step(f"hive lists the built-in analyzers quickstart enabled: {sorted(names)}")

    api.case_template.create({"name": "MALSPAM", "displayName": "[MALSPAM] Suspicious mail report by user",
                              "titlePrefix": "[MALSPAM]", "severity": 2, "tags": ["phishing"],
                              "description": "Suspicious mail report by user",
                              "tasks": [{"title": t, "order": i} for i, t in enumerate(TASKS)]})
    # What a mail feeder does with the user's report, as the connector's seed test does it.
    alert = feed_user_report(api, pathlib.Path(tempfile.mkdtemp()))
    step(f"alert {alert['_id']} with {alert['observableCount']} observables")

    case = api.alert.promote_to_case(alert["_id"])
    case_id = case["_id"]
    tasks = api.case.find_tasks(case_id)
    assert sorted(t["title"] for t in tasks) == sorted(TASKS), [t["title"] for t in tasks]
    assert case["title"].startswith("[MALSPAM] "), case["title"]
    step(f"case #{case['number']} from the template, {len(tasks)} tasks")

    files = api.case.find_observables(case_id, filters=Eq("dataType", "file"))
    [eml] = [o for o in files if (o.get("attachment") or {}).get("name") == REPORTED]
    parser = [a for a in api.cortex.list_analyzers_by_type("file") if a["name"] == "Native_EmlParser_1_0"][0]
    job = api.cortex.create_analyzer_job({"analyzerId": parser["id"], "cortexId": "local",
                                          "artifactId": eml["_id"]})
    job = wait("Native_EmlParser job", lambda: api.cortex.get_analyzer_job(job["_id"]),
               lambda j: j["status"] in ("Success", "Failure"))
    assert job["status"] == "Success", job
    step(f"Native_EmlParser: {job['status']}, taxonomies "
         f"{[(t['predicate'], t['value']) for t in job['report']['summary']['taxonomies']]}")

    with open(os.path.join(FIXTURES, DOC), "rb") as f:
        doc_sha256 = hashlib.sha256(f.read()).hexdigest()

    def imported():
        obs = api.case.find_observables(case_id)
        have = {(o["dataType"], o.get("data")) for o in obs}
        docs = [o for o in obs if o["dataType"] == "file"
                and doc_sha256 in ((o.get("attachment") or {}).get("hashes") or [])]
        return have, docs

    have, docs = wait("imported observables", imported,
                      lambda v: {("ip", RELAY_IP), ("url", URL)} <= v[0] and v[1])
    step(f"imported: relay IP {RELAY_IP}, URL {URL}, attachment {DOC} ({len(have)} observables)")

    [sender] = [o for o in api.case.find_observables(case_id, filters=Eq("dataType", "mail"))
                if o.get("data") == SENDER]
    responders = api.cortex.list_responders("case_artifact", sender["_id"])
    [mailer] = [r for r in responders if r["name"] == "Native_Mailer_1_0"]
    action = api.cortex.create_responder_action({"responderId": mailer["id"], "objectType": "case_artifact",
                                                 "objectId": sender["_id"]})
    actions = wait("Native_Mailer action", lambda: api.session.make_request(
        "GET", f"/api/connector/cortex/action/case_artifact/{sender['_id']}"),
        lambda a: a and all(x["status"] in ("Success", "Failure") for x in a))
    [action] = [a for a in actions if a["_id"] == action["_id"]]
    assert action["status"] == "Success", action
    [mail] = sink.wait(1)
    text = mail["data"].decode(errors="replace")
    assert mail["to"] == ["mailadmins@corp.example"], mail["to"]
    assert f"[MAILSERVERS] Block {SENDER} in mailservers" in text, text[:500]
    step(f"Native_Mailer: mail to {mail['to']} asking to block {SENDER}")
    operations = json.loads(action["operations"])
    assert any(op["type"] == "AddTagToCase" and op.get("status") == "Success" for op in operations), operations
    tags = wait("the case's tag", lambda: api.case.get(case_id)["tags"], lambda t: "mail sent" in t)
    step(f"case tagged {tags}")
    sink.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    print("seed scenario on the quickstart: OK")
