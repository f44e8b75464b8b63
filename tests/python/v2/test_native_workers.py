"""cortex-service's built-in ("native") workers, written in Rust and run in process, driven by
the real clients: cortex4py 2.1.0 against cortex-service (fixture `natives`: PostgreSQL with
RabbitMQ, SQLite with the in-process queue; one service per combination for the whole module)
and thehive4py 2.1.0 through hive-service (fixture `platform`). The fixtures are the SOC's
"user reports a suspicious mail" story (../fixtures/mail, or $MAIL_FIXTURES). Proven:

* the definitions list holds the six natives (data types, configuration items, version 1.0,
  author, description) beside the program workers of tests/workers;
* Native_EmlParser on the reported message: Cortex-Analyzers EmlParser's report layout
  (headers, body, attachments, iocs), its two taxonomies, and as artifacts the relay IP
  (mail-relay, autoImport:true), the URL, the sender, the attachment's name and the
  attachment itself as a file whose SHA-256 is the fixture document's; on the user's report,
  the message it attaches is parsed too (its relay IP, its document);
* the same artifacts and IOCs as Cortex-Analyzers' own EmlParser (run by the same service from
  $CORTEX_ANALYZERS_DIR in the virtualenv $EMLPARSER_VENV; skipped when they are unset);
* Native_FileInfo's verdicts on generated samples (macro document and PDF with JavaScript on
  open: malicious; executable and archive holding one: suspicious; clean documents: safe),
  hashes equal to hashlib's, archive members given back as files, a zip bomb stopped at the
  unpacking limit;
* Native_IocExtract refangs (hxxp, [.], [@]); Native_Reputation reads the operator's lists
  (CIDR, domain suffix, level directive) and sees a rewritten list at the next job;
* Native_Mailer mails the mail admins through SMTP with the seed's configuration
  (deploy/quickstart-workers.json) and asks for the "mail sent" tag, refuses an address of an
  internal domain without mailing, and without fixed recipients mails the case's mail= tag;
* Native_Webhook refuses a loopback receiver by default, and with native.egress_allow posts
  the object signed with HMAC-SHA256 (X-Hive-Signature);
* bad input ends Failure with a reason, quickly: random bytes ("not an e-mail"), a cut
  multipart message ("truncated"), a message of 67 MB (accepted by the 100 MiB upload limit,
  refused by native.max_input_bytes, 32 MiB); a zip bomb attached to a message ends in seconds
  and the service stays healthy;
* in TheHive, the analyst's session: the user's report becomes a MALSPAM case, Native_EmlParser
  on the reported message imports the relay IP, the URL and the attachment as observables,
  Native_FileInfo reports on the document, Native_Mailer on the sender asks the mail admins to
  block it and tags the case "mail sent".
"""
import base64
import email
import email.policy
import hashlib
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
import uuid
import zipfile
from types import SimpleNamespace

import pytest
import requests
from cortex4py.api import Api
from thehive4py.query.filters import Eq

from casework import sha256, tenant
from conftest import CORTEX_BIN, Service, _db_for, amqp_broker, engine_env, make_org_user
from receiver import Receiver, signed
from smtp_sink import SmtpSink
from test_connector_seed import TASKS, feed_user_report, file_observables, named, wait_actions, wait_job

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
MAIL_FIXTURES = os.environ.get("MAIL_FIXTURES", os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "mail")))
SEED_WORKERS = os.path.join(REPO, "deploy", "quickstart-workers.json")
REPORTED = "Overdue_payment_88231.eml"
USER_REPORT = "user-report.eml"
DOC = "statement-88231.doc"
RELAY_IP = "198.51.100.23"
SENDER = "billing@payments-notice.test"
URL = "http://payments-notice.test/dl/statement_88231.zip"
MAIL_ADMINS = "mailadmins@corp.example"
BLOCK_SUBJECT = f"[MAILSERVERS] Block {SENDER} in mailservers"
WEBHOOK_SECRET = "webhook-secret-0123456789"

EML_PARSER = "Native_EmlParser_1_0"
FILE_INFO = "Native_FileInfo_1_0"
IOC_EXTRACT = "Native_IocExtract_1_0"
REPUTATION = "Native_Reputation_1_0"
MAILER = "Native_Mailer_1_0"
WEBHOOK = "Native_Webhook_1_0"
NATIVE_ANALYZERS = {
    EML_PARSER: {"file"},
    FILE_INFO: {"file"},
    IOC_EXTRACT: {"file", "other", "url", "domain", "fqdn", "mail", "mail_subject", "filename",
                  "uri_path", "user-agent", "regexp", "registry"},
    REPUTATION: {"ip", "domain", "fqdn", "url", "mail", "hash"},
}
THEHIVE_OBJECTS = {"thehive:case", "thehive:alert", "thehive:case_task", "thehive:case_artifact"}
NATIVE_RESPONDERS = {MAILER: THEHIVE_OBJECTS, WEBHOOK: THEHIVE_OBJECTS}
MAILER_ITEMS = {"from", "to", "subject", "body", "internal_domains", "smtp_host", "smtp_port",
                "smtp_security", "smtp_user", "smtp_pwd"}
SAMPLES = ["macro.doc", "clean.doc", "macro.docm", "clean.docx", "js.pdf", "clean.pdf",
           "hello.exe", "bundle.zip"]
TERMINAL = ("Success", "Failure")
MiB = 1024 * 1024


# --------------------------------------------------------------------------------------------
# helpers

def fixture_path(name):
    return os.path.join(MAIL_FIXTURES, name)


def file_sha256(path):
    with open(path, "rb") as f:
        return sha256(f.read())


def finish(api, job_id, within=60):
    """The job once Success or Failure (waitreport, 2 s at a time); fails after `within` s."""
    deadline = time.time() + within
    while True:
        job = api.jobs.get_report_async(job_id, "2 seconds")
        if job.status in TERMINAL:
            return job
        assert time.time() < deadline, f"job {job_id} still {job.status} after {within} s"


def run_file(api, worker_id, path, within=60):
    """Submits the file at `path` (cortex4py's multipart upload) and waits for the job."""
    job = api.analyzers.run_by_id(worker_id, {"data": str(path), "dataType": "file", "tlp": 2})
    return finish(api, job.id, within)


def run_value(api, worker_id, data, data_type):
    job = api.analyzers.run_by_id(worker_id, {"data": data, "dataType": data_type, "tlp": 2})
    return finish(api, job.id)


def respond(api, worker_id, data_type, obj):
    job = api.responders.run_by_id(worker_id, {"data": obj, "dataType": data_type, "tlp": 2})
    return finish(api, job.id)


def succeeded(job):
    assert job.status == "Success", f"{job.status}: {job.report}"
    assert job.report["success"] is True, job.report
    return job.report


def failed(job):
    """The errorMessage of a failed job."""
    assert job.status == "Failure", f"expected Failure, got {job.status}: {str(job.report)[:1000]}"
    assert job.report["success"] is False, job.report
    message = job.report.get("errorMessage")
    assert isinstance(message, str) and message.strip(), job.report
    return message


def taxonomies(report):
    """The summary's taxonomies as {(namespace, predicate): (level, value)}."""
    out = {}
    for t in report["summary"]["taxonomies"]:
        assert set(t) >= {"level", "namespace", "predicate", "value"}, t
        out[(t["namespace"], t["predicate"])] = (t["level"], str(t["value"]))
    return out


def artifact_key(a):
    return a["dataType"], a.get("data") or (a.get("attachment") or {}).get("id")


def artifacts(api, job):
    """The job's artifacts: those of its report, of which cortex4py's get_artifacts gives the
    first page (10, Cortex's default range for GET /api/job/{id}/artifacts)."""
    found = job.report["artifacts"]
    listed = [a.json() for a in api.jobs.get_artifacts(job.id)]
    assert len(listed) == min(10, len(found)), (len(listed), len(found))
    assert {artifact_key(a) for a in listed} <= {artifact_key(a) for a in found}, listed
    return found


def values(found):
    """{(dataType, data)} of the non-file artifacts."""
    return {(a["dataType"], a["data"]) for a in found if a["dataType"] != "file"}


def files(found):
    """{sha256: artifact} of the file artifacts."""
    out = {}
    for a in found:
        if a["dataType"] == "file":
            att = a.get("attachment") or {}
            assert att.get("id"), a
            out[att["id"]] = a
    return out


def with_data(found, data_type, data):
    hits = [a for a in found if a["dataType"] == data_type and a.get("data") == data]
    assert len(hits) == 1, f"{data_type} {data}: {len(hits)} artifacts in {sorted(values(found))}"
    return hits[0]


def seed_mailer_config(smtp_port):
    """Native_Mailer's configuration in the seed (deploy/quickstart-workers.json), with the
    test's SMTP sink as server."""
    with open(SEED_WORKERS) as f:
        [mailer] = [w for w in json.load(f) if w["name"] == MAILER]
    config = dict(mailer["configuration"])
    assert config["to"] == [MAIL_ADMINS] and "{{data}}" in config["subject"], config
    config.update({"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_security": "none"})
    return config


def parsed(mail):
    """A mail the sink got, parsed (headers unfolded, encoded words decoded)."""
    return email.message_from_bytes(mail["data"], policy=email.policy.default)


def eml(subject, attachment_name, attachment, content_type="application/octet-stream"):
    """A multipart message with a text body and one base64 attachment (written by hand: the
    standard library is slow at encoding tens of megabytes)."""
    boundary = "b-" + uuid.uuid4().hex
    head = (
        "From: Attacker <attacker@bad.test>\r\nTo: alice@corp.example\r\n"
        f"Subject: {subject}\r\nDate: Mon, 01 Dec 2025 10:00:00 +0000\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@bad.test>\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attachment.\r\n"
        f"--{boundary}\r\nContent-Type: {content_type}\r\n"
        f'Content-Disposition: attachment; filename="{attachment_name}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n").encode()
    return head + base64.encodebytes(attachment).replace(b"\n", b"\r\n") + f"--{boundary}--\r\n".encode()


def zip_of_zeros(size):
    """A zip holding one member of `size` zero bytes (a few hundred KB for 200 MB)."""
    path = os.path.join(tempfile.mkdtemp(prefix="bomb-"), "bomb.zip")
    chunk = bytes(MiB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("zeros.bin", "w", force_zip64=True) as member:
            for _ in range(size // MiB):
                member.write(chunk)
    with open(path, "rb") as f:
        data = f.read()
    shutil.rmtree(os.path.dirname(path))
    return data


def healthy(url):
    return requests.get(url + "/api/status", timeout=5).ok


# --------------------------------------------------------------------------------------------
# fixtures

NATIVE_COMBOS = [("postgres", True), ("sqlite", False)]
NATIVE_IDS = ["postgres-amqp", "sqlite-inproc"]


@pytest.fixture(scope="module", params=NATIVE_COMBOS, ids=NATIVE_IDS)
def natives(request):
    """One cortex-service for the module (per combination) with the test workers and the
    natives enabled in organization `soc` (jobCache 0: every run is a job): Native_Mailer with
    the seed's configuration over an SMTP sink, Native_Webhook towards a local receiver (which
    the default egress policy refuses), Native_Reputation over an empty lists folder."""
    backend, broker = request.param
    amqp_url = None
    if broker:
        amqp_url = amqp_broker()
        if amqp_url is None:
            pytest.skip("RabbitMQ unreachable")
    lists_dir = tempfile.mkdtemp(prefix="native-lists-")
    env = engine_env(amqp_url)
    env["CORTEX__NATIVE__LISTS_DIR"] = lists_dir
    sink, receiver = SmtpSink(), Receiver()
    try:
        service = Service(CORTEX_BIN, "CORTEX", _db_for(backend), env)
    except BaseException:
        sink.stop()
        receiver.stop()
        raise
    print(f"cortex-service ({NATIVE_IDS[request.param_index]}) log: {service.log.name}")
    try:
        key = make_org_user(service.url)
        api = Api(service.url, key)
        ids = {}
        for name in NATIVE_ANALYZERS:
            # "Extract observables" on, as the seed's Cortex admin sets it (off by default).
            ids[name] = api.analyzers.enable(name, {"configuration": {"auto_extract_artifacts": True},
                                                    "jobCache": 0}).id
        ids[MAILER] = api.responders.enable(MAILER, {
            "configuration": seed_mailer_config(sink.port), "jobCache": 0}).id
        ids[WEBHOOK] = api.responders.enable(WEBHOOK, {"configuration": {
            "url": receiver.url + "/hook", "secret": WEBHOOK_SECRET}, "jobCache": 0}).id
        yield SimpleNamespace(service=service, url=service.url, key=key, api=api, ids=ids, sink=sink,
                              receiver=receiver, lists_dir=lists_dir)
    finally:
        service.stop()
        sink.stop()
        receiver.stop()
        shutil.rmtree(lists_dir, ignore_errors=True)
        # The 67 MB message of the bad-input test stays out of /tmp (the log is kept).
        shutil.rmtree(os.path.join(service.dir, "datastore"), ignore_errors=True)


@pytest.fixture(scope="session")
def samples():
    """The folder of the samples Native_FileInfo's unit tests build (fileinfo.rs,
    tests::write_samples), written by cargo; $NATIVE_SAMPLES_DIR when it already holds them."""
    given = os.environ.get("NATIVE_SAMPLES_DIR")
    if given and all(os.path.isfile(os.path.join(given, n)) for n in SAMPLES):
        yield given
        return
    folder = tempfile.mkdtemp(prefix="native-samples-")
    try:
        r = subprocess.run(["cargo", "test", "-q", "-p", "cortex-service", "--lib",
                            "native::fileinfo::tests::write_samples"],
                           cwd=REPO, env=dict(os.environ, NATIVE_SAMPLES_DIR=folder),
                           capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.fail(f"cargo could not write the FileInfo samples: {e}")
    missing = [n for n in SAMPLES if not os.path.isfile(os.path.join(folder, n))]
    if r.returncode != 0 or missing:
        pytest.fail(f"the FileInfo samples were not written (missing {missing}); "
                    f"cargo said: {r.stdout[-3000:]}{r.stderr[-3000:]}")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def bomb():
    """200 MB of zeros, zipped."""
    return zip_of_zeros(200 * MiB)


# --------------------------------------------------------------------------------------------
# catalogue

def test_definitions_list_the_natives_beside_the_program_workers(natives):
    api = natives.api
    analyzers = {d.id: d for d in api.analyzers.definitions()}
    responders = {d.id: d for d in api.responders.definitions()}
    assert {"Echo_1_0", "Taxo_1_0", "MailParser_1_0"} <= set(analyzers), sorted(analyzers)
    assert {"Notify_1_0", "MailAdmins_1_0"} <= set(responders), sorted(responders)
    for kind, listed, natives_of_kind, others in (
            ("analyzer", analyzers, NATIVE_ANALYZERS, responders),
            ("responder", responders, NATIVE_RESPONDERS, analyzers)):
        for name, data_types in natives_of_kind.items():
            assert name in listed, f"{name} is not among the {kind} definitions {sorted(listed)}"
            assert name not in others, f"{name} is listed as both kinds"
            d = listed[name]
            assert d.name == name[:-len("_1_0")] and d.version == "1.0", d.json()
            assert set(d.dataTypeList) == data_types, (name, d.dataTypeList)
            assert isinstance(d.author, str) and d.author.strip(), d.json()
            assert isinstance(d.description, str) and len(d.description) > 20, d.json()
            assert isinstance(d.configurationItems, list), d.json()
            for item in d.configurationItems:
                assert set(item) >= {"name", "description", "type", "multi", "required"}, item
    mailer = {i["name"]: i for i in responders[MAILER].configurationItems}
    assert MAILER_ITEMS <= set(mailer), sorted(mailer)
    assert mailer["from"]["required"] is True and mailer["to"]["multi"] is True
    assert mailer["internal_domains"]["multi"] is True
    assert mailer["smtp_port"]["type"] == "number" and mailer["smtp_port"]["defaultValue"] == 25
    webhook = {i["name"]: i for i in responders[WEBHOOK].configurationItems}
    assert {"url", "secret", "timeout"} <= set(webhook) and webhook["url"]["required"] is True
    reputation = {i["name"]: i for i in analyzers[REPUTATION].configurationItems}
    assert reputation["lists"]["multi"] is True

    # Enabled in the fixture, each found by data type like any worker.
    assert natives.ids[EML_PARSER] in {a.id for a in api.analyzers.get_by_type("file")}
    assert natives.ids[REPUTATION] in {a.id for a in api.analyzers.get_by_type("ip")}
    assert natives.ids[EML_PARSER] not in {a.id for a in api.analyzers.get_by_type("ip")}
    assert natives.ids[MAILER] in {r.id for r in api.responders.get_by_type("thehive:case_artifact")}
    worker = api.analyzers.get_by_id(natives.ids[EML_PARSER])
    assert worker.name == EML_PARSER and worker.workerDefinitionId == EML_PARSER


# --------------------------------------------------------------------------------------------
# Native_EmlParser

def test_eml_parser_reports_the_suspicious_message(natives):
    api = natives.api
    doc_sha256 = file_sha256(fixture_path(DOC))
    job = run_file(api, natives.ids[EML_PARSER], fixture_path(REPORTED))
    report = succeeded(job)
    full = report["full"]
    assert {"headers", "body", "attachments", "iocs"} <= set(full), sorted(full)
    assert set(full["iocs"]) >= {"ip", "domain", "url", "email", "hash", "files"}, full["iocs"]
    # EmlParser's types: headers are lists of values (TheHive's report template loops over them).
    assert full["headers"]["subject"] == ["Overdue payment notice 88231"]
    assert full["headers"]["date"] == "2020-06-26T09:26:00+02:00"
    assert SENDER in json.dumps(full["headers"]["from"])
    assert [a["filename"] for a in full["attachments"]] == [DOC]
    assert full["attachments"][0]["hash"]["sha256"] == doc_sha256
    assert RELAY_IP in {i["data"] for i in full["iocs"]["ip"]}
    assert [u["data"] for u in full["iocs"]["url"]] == [URL]
    assert SENDER in {m["data"] for m in full["iocs"]["email"]}
    assert [(h["hash"], h["filename"]) for h in full["iocs"]["hash"]] == [(doc_sha256, DOC)]
    tax = taxonomies(report)
    assert tax[("EmlParser", "Attachments")] == ("info", "1"), tax
    assert tax[("EmlParser", "Urls")][1] == "1", tax

    found = artifacts(api, job)
    relay = with_data(found, "ip", RELAY_IP)
    assert {"mail-relay", "autoImport:true"} <= set(relay["tags"]), relay
    assert "autoImport:true" in with_data(found, "url", URL)["tags"]
    assert "autoImport:true" in with_data(found, "mail", SENDER)["tags"]
    assert "body:attachment" in with_data(found, "filename", DOC)["tags"]
    with_data(found, "hash", doc_sha256)
    attached = files(found)
    assert set(attached) == {doc_sha256}, attached
    assert attached[doc_sha256]["attachment"]["name"] == DOC
    assert "autoImport:true" in attached[doc_sha256]["tags"]
    blob = requests.get(f"{natives.url}/api/datastore/{doc_sha256}",
                        headers={"Authorization": f"Bearer {natives.key}"}, timeout=30)
    assert blob.status_code == 200 and sha256(blob.content) == doc_sha256


def test_eml_parser_parses_the_message_a_user_report_attaches(natives):
    api = natives.api
    reported_sha256 = file_sha256(fixture_path(REPORTED))
    doc_sha256 = file_sha256(fixture_path(DOC))
    job = run_file(api, natives.ids[EML_PARSER], fixture_path(USER_REPORT))
    report = succeeded(job)
    found = artifacts(api, job)
    assert ("mail", "alice@corp.example") in values(found), sorted(values(found))
    # The reported message's own relay, URL and document: parsed as a nested message.
    relay = with_data(found, "ip", RELAY_IP)
    assert "mail-relay" in relay["tags"], relay
    assert ("url", URL) in values(found)
    assert {("filename", REPORTED), ("filename", DOC)} <= values(found)
    assert {reported_sha256, doc_sha256} <= set(files(found)), files(found)
    assert reported_sha256 in {h["hash"] for h in report["full"]["iocs"]["hash"]}
    assert taxonomies(report)[("EmlParser", "Attachments")][0] == "info"
    # The attached message is parsed, never scanned as raw text: no URL cut by a
    # quoted-printable soft line break.
    assert [u["data"] for u in report["full"]["iocs"]["url"]] == [URL]


def test_artifacts_follow_the_extract_observables_setting(natives):
    """Enabled without "extract observables" (`auto_extract_artifacts`, false by default as in
    Cortex), a built-in analyzer reports what it found but returns no artifacts, as cortexutils
    workers do."""
    green = Api(natives.url, make_org_user(natives.url, org="green", login="green-lead"))
    worker = green.analyzers.enable(IOC_EXTRACT, {"configuration": {}, "jobCache": 0})
    assert worker.configuration.get("auto_extract_artifacts") is False, worker.configuration
    job = run_value(green, worker.id, "see http://a.example/x", "other")
    report = succeeded(job)
    assert report["full"]["iocs"]["url"] == ["http://a.example/x"], report["full"]
    assert report["artifacts"] == [], report["artifacts"]


# --------------------------------------------------------------------------------------------
# Native_IocExtract, Native_Reputation

def test_ioc_extract_refangs_defanged_indicators(natives):
    api = natives.api
    text = ("Payload at hxxp://evil[.]example/a - reply to bob[@]phish.example, "
            "c2 198.51.100[.]7")
    job = run_value(api, natives.ids[IOC_EXTRACT], text, "other")
    report = succeeded(job)
    found = values(artifacts(api, job))
    assert {("url", "http://evil.example/a"), ("mail", "bob@phish.example"),
            ("ip", "198.51.100.7")} <= found, sorted(found)
    assert not any("[" in data or "hxxp" in data for _, data in found), sorted(found)
    assert taxonomies(report)[("IocExtract", "Iocs")][0] == "suspicious"


def test_reputation_reads_the_lists_and_their_changes(natives):
    api = natives.api
    worker = natives.ids[REPUTATION]
    blocklist = os.path.join(natives.lists_dir, "blocklist.txt")
    with open(blocklist, "w") as f:
        f.write("# level: malicious\n198.51.100.0/24\n.payments-notice.test\n")

    report = succeeded(run_value(api, worker, RELAY_IP, "ip"))
    assert taxonomies(report) == {("Reputation", "blocklist"): ("malicious", "listed")}, report
    assert report["full"]["listed"] is True
    report = succeeded(run_value(api, worker, SENDER, "mail"))
    assert taxonomies(report) == {("Reputation", "blocklist"): ("malicious", "listed")}, report
    report = succeeded(run_value(api, worker, "203.0.113.1", "ip"))
    assert taxonomies(report) == {("Reputation", "blocklist"): ("info", "not listed")}, report
    assert report["full"]["listed"] is False

    # The operator adds an address: the next job sees it, no restart.
    with open(blocklist, "a") as f:
        f.write("203.0.113.1\n")
    report = succeeded(run_value(api, worker, "203.0.113.1", "ip"))
    assert taxonomies(report) == {("Reputation", "blocklist"): ("malicious", "listed")}, report


# --------------------------------------------------------------------------------------------
# Native_Mailer, Native_Webhook

def test_mailer_asks_the_mail_admins_to_block_the_sender(natives):
    api, sink = natives.api, natives.sink
    before = len(sink.messages)
    sender = {"_id": "~4104", "_type": "case_artifact", "dataType": "mail", "data": SENDER,
              "tlp": 2, "pap": 2, "tags": ["phishing"], "message": "sender"}
    report = succeeded(respond(api, natives.ids[MAILER], "thehive:case_artifact", sender))
    assert {"type": "AddTagToCase", "tag": "mail sent"} in report["operations"], report["operations"]
    mails = sink.wait(before + 1)[before:]
    time.sleep(0.5)
    assert len(sink.messages) == before + 1, "one mail, once"
    [mail] = mails
    assert mail["to"] == [MAIL_ADMINS], mail["to"]
    message = parsed(mail)
    assert message["subject"] == BLOCK_SUBJECT
    assert SENDER in message.get_body(("plain",)).get_content()


def test_mailer_refuses_an_internal_address(natives):
    api, sink = natives.api, natives.sink
    before = len(sink.messages)
    colleague = {"_id": "~4105", "_type": "case_artifact", "dataType": "mail",
                 "data": "alice@corp.example", "tlp": 2, "pap": 2, "tags": []}
    message = failed(respond(api, natives.ids[MAILER], "thehive:case_artifact", colleague))
    assert "refused" in message.lower() and "internal" in message.lower(), message
    time.sleep(1)
    assert len(sink.messages) == before, "no mail may leave for an internal address"


def test_mailer_without_recipients_finds_them_in_the_object(natives):
    """Organization `blue` configures Native_Mailer without `to`: the recipient is the mail= tag
    of a case or an alert, or the mailto: first line of a task, as Cortex-Analyzers' Mailer
    finds it."""
    blue = Api(natives.url, make_org_user(natives.url, org="blue", login="blue-lead"))
    config = seed_mailer_config(natives.sink.port)
    for key in ("to", "subject", "body"):
        config.pop(key)
    mailer = blue.responders.enable(MAILER, {"configuration": config, "jobCache": 0})
    sink = natives.sink
    before = len(sink.messages)
    case = {"_id": "~8192", "_type": "case", "caseId": 42, "title": "Phishing wave",
            "description": "Please check your mailbox.", "tlp": 2, "pap": 2, "severity": 2,
            "tags": ["phishing", "mail=x@y.example"]}
    report = succeeded(respond(blue, mailer.id, "thehive:case", case))
    assert {"type": "AddTagToCase", "tag": "mail sent"} in report["operations"], report["operations"]
    [mail] = sink.wait(before + 1)[before:]
    assert mail["to"] == ["x@y.example"], mail["to"]
    message = parsed(mail)
    assert message["subject"] == "[Case #42] Phishing wave"
    assert "Please check your mailbox." in message.get_body(("plain",)).get_content()

    # An alert: its mail= tag, and the tag asked for on the alert.
    alert = {"_id": "~8200", "_type": "alert", "title": "Reported mail", "description": "Seen.",
             "type": "email report", "source": "mail", "sourceRef": "r-1", "tags": ["mail:z@y.example"]}
    report = succeeded(respond(blue, mailer.id, "thehive:alert", alert))
    assert report["operations"] == [{"type": "AddTagToAlert", "tag": "mail sent"}], report["operations"]
    [mail] = sink.wait(before + 2)[before + 1:]
    assert mail["to"] == ["z@y.example"] and parsed(mail)["subject"] == "Reported mail"

    # A task: the mailto: first line of its description, the rest as body, a log in the task.
    task = {"_id": "~8300", "_type": "case_task", "title": "Tell the user",
            "description": "mailto:ops@y.example\nYour report was handled.", "status": "InProgress"}
    report = succeeded(respond(blue, mailer.id, "thehive:case_task", task))
    kinds = [op["type"] for op in report["operations"]]
    assert kinds == ["AddTagToCase", "AddLogToTask"], report["operations"]
    assert "ops@y.example" in report["operations"][1]["content"], report["operations"]
    [mail] = sink.wait(before + 3)[before + 2:]
    assert mail["to"] == ["ops@y.example"]
    message = parsed(mail)
    assert message["subject"] == "Tell the user"
    assert message.get_body(("plain",)).get_content().strip() == "Your report was handled."

    # No tag, no fixed recipient: a failure that says what is missing, no mail.
    untagged = dict(case, tags=["phishing"])
    message = failed(respond(blue, mailer.id, "thehive:case", untagged))
    assert "mail=" in message, message
    assert len(sink.messages) == before + 3


def test_webhook_refuses_a_loopback_receiver_by_default(natives):
    receiver = natives.receiver
    case = {"_id": "~8193", "_type": "case", "caseId": 43, "title": "Exfiltration", "tags": []}
    message = failed(respond(natives.api, natives.ids[WEBHOOK], "thehive:case", case))
    assert "refused" in message.lower(), message
    time.sleep(0.5)
    assert receiver.received() == [], "the refused call must not be made"


def test_service_account_workers_are_enabled_at_start_once(tmp_path):
    """service_account.workers (deploy/quickstart's switch), on PostgreSQL: the workers of the
    file are enabled in the service account's organization at start, with their configuration
    checked as the API checks it; at the next start, a worker already enabled is left as it is."""
    from conftest import SERVICE_KEY
    workers = tmp_path / "workers.json"
    workers.write_text(json.dumps([
        {"name": EML_PARSER, "configuration": {"auto_extract_artifacts": True}},
        {"name": MAILER, "configuration": seed_mailer_config(2525)},
    ]))
    env = engine_env()
    env.update({"CORTEX__SERVICE_ACCOUNT__API_KEY": SERVICE_KEY,
                "CORTEX__SERVICE_ACCOUNT__WORKERS": str(workers)})
    service = Service(CORTEX_BIN, "CORTEX", _db_for("postgres"), env)
    try:
        hive = Api(service.url, SERVICE_KEY)
        [parser] = [w for w in hive.analyzers.find_all({}, range="all") if w.name == EML_PARSER]
        # Its configuration came with it: "extract observables" on, so the job has artifacts.
        report = succeeded(run_file(hive, parser.id, fixture_path(REPORTED)))
        assert report["artifacts"], report
        assert [w.name for w in hive.responders.find_all({}, range="all")] == [MAILER]
        service.stop()
        service.start()
        assert [w.name for w in hive.analyzers.find_all({}, range="all")] == [EML_PARSER]
        assert [w.name for w in hive.responders.find_all({}, range="all")] == [MAILER]
    finally:
        service.stop()


def test_webhook_posts_the_signed_object_where_egress_is_allowed():
    """A service with native.egress_allow = 127.0.0.0/8 (SQLite, in-process queue), and no
    native.smtp_allow: its Mailer may not reach a relay on loopback (an organization cannot
    probe the inside network through it), while its webhook may."""
    receiver = Receiver()
    sink = SmtpSink()
    env = engine_env()
    env["CORTEX__NATIVE__EGRESS_ALLOW"] = "127.0.0.0/8"
    env["CORTEX__NATIVE__SMTP_ALLOW"] = ""
    service = Service(CORTEX_BIN, "CORTEX", None, env)
    try:
        api = Api(service.url, make_org_user(service.url))
        mailer = api.responders.enable(MAILER, {"configuration": seed_mailer_config(sink.port)})
        sender = {"_id": "~4096", "_type": "case_artifact", "dataType": "mail",
                  "data": "billing@payments-notice.test", "tags": []}
        message = failed(finish(api, api.responders.run_by_id(
            mailer.id, {"data": sender, "dataType": "thehive:case_artifact", "tlp": 2}).id))
        assert "refused" in message and "127.0.0.1" in message, message
        time.sleep(0.3)
        assert sink.messages == [], "no connection to a relay that is not allowed"
        webhook = api.responders.enable(WEBHOOK, {"configuration": {
            "url": receiver.url + "/hook", "secret": WEBHOOK_SECRET}})
        task = {"_id": "~12345", "_type": "case_task", "title": "Block sender",
                "description": "mailto:nobody@corp.example", "status": "InProgress"}
        job = api.responders.run_by_id(webhook.id, {"data": task, "dataType": "thehive:case_task",
                                                    "tlp": 1, "parameters": {"reason": "test"}})
        report = succeeded(finish(api, job.id))
        assert report["full"]["status"] == 200, report["full"]
        [call] = receiver.wait(lambda calls: len(calls) == 1, path="/hook")
        assert call["body"]["dataType"] == "thehive:case_task"
        assert call["body"]["object"] == task
        assert call["body"]["tlp"] == 1 and call["body"]["parameters"] == {"reason": "test"}
        assert signed(call, WEBHOOK_SECRET), call["headers"].get("x-hive-signature")
        assert not signed(call, "another secret")
    finally:
        service.stop()
        receiver.stop()
        sink.stop()


# --------------------------------------------------------------------------------------------
# bad input

def test_bad_input_fails_with_a_reason_and_quickly(natives, tmp_path):
    api, worker = natives.api, natives.ids[EML_PARSER]

    noise = tmp_path / "noise.bin"
    noise.write_bytes(random.Random(7).randbytes(64 * 1024))
    started = time.time()
    message = failed(run_file(api, worker, noise, within=30))
    assert "not an e-mail" in message, message

    with open(fixture_path(REPORTED), "rb") as f:
        whole = f.read()
    cut = tmp_path / "cut.eml"
    cut.write_bytes(whole[:len(whole) * 2 // 3])
    message = failed(run_file(api, worker, cut, within=30))
    assert "truncated" in message, message
    assert time.time() - started < 30, "two small bad files took more than 30 s"

    # 50 MB attached: about 67 MB of message, under datastore.max_upload_bytes (100 MiB), so the
    # upload is accepted; over native.max_input_bytes (32 MiB), so the job fails saying so.
    big = tmp_path / "big.eml"
    big.write_bytes(eml("Big one", "big.bin", random.Random(8).randbytes(50 * 1000 * 1000)))
    assert 32 * MiB < big.stat().st_size < 100 * MiB
    started = time.time()
    try:
        message = failed(run_file(api, worker, big, within=60))
    finally:
        big.unlink()
    assert "native.max_input_bytes" in message, message
    assert time.time() - started < 60
    assert healthy(natives.url)


def test_a_zip_bomb_in_a_message_ends_quickly(natives, tmp_path, bomb):
    api = natives.api
    message = tmp_path / "bomb.eml"
    message.write_bytes(eml("Your archive", "archive.zip", bomb, "application/zip"))
    started = time.time()
    job = run_file(api, natives.ids[EML_PARSER], message, within=30)
    elapsed = time.time() - started
    assert job.status in TERMINAL
    assert elapsed < 15, f"the message with a zip bomb took {elapsed:.1f} s"
    if job.status == "Success":  # EmlParser does not unpack archives: the zip is given back as is
        assert set(files(artifacts(api, job))) == {sha256(bomb)}
    else:
        assert "max_unpacked_bytes" in failed(job) or "max_input_bytes" in failed(job)
    assert healthy(natives.url)
    # The service still works.
    succeeded(run_value(api, natives.ids[IOC_EXTRACT], "hxxp://after[.]example/x", "other"))


# --------------------------------------------------------------------------------------------
# Native_FileInfo (samples built by fileinfo.rs's tests)

def test_fileinfo_verdicts_and_hashes(natives, samples):
    api = natives.api
    expected = {"macro.doc": "malicious", "macro.docm": "malicious", "js.pdf": "malicious",
                "hello.exe": "suspicious", "bundle.zip": "suspicious", "clean.doc": "safe",
                "clean.pdf": "safe", "clean.docx": "safe"}
    filetypes = {"macro.doc": "OLE2", "clean.doc": "OLE2", "macro.docm": "OOXML",
                 "clean.docx": "OOXML", "js.pdf": "PDF", "clean.pdf": "PDF", "hello.exe": "PE32",
                 "bundle.zip": "ZIP"}
    seen = {}
    for name, level in expected.items():
        path = os.path.join(samples, name)
        with open(path, "rb") as f:
            content = f.read()
        report = succeeded(run_file(api, natives.ids[FILE_INFO], path))
        tax = taxonomies(report)
        seen[name] = tax.get(("FileInfo", "Verdict"), ("absent", ""))[0]
        full = report["full"]
        assert full["filetype"] == filetypes[name], (name, full["filetype"])
        assert tax[("FileInfo", "Filetype")] == ("info", filetypes[name]), (name, tax)
        assert (full["md5"], full["sha1"], full["sha256"]) == (
            hashlib.md5(content).hexdigest(), hashlib.sha1(content).hexdigest(),
            hashlib.sha256(content).hexdigest()), name
        assert full["size"] == len(content), name
        assert full["verdict"]["level"] == seen[name], (name, full["verdict"])
        if name in ("macro.doc", "macro.docm"):
            assert "autoopen" in json.dumps(full["verdict"]).lower(), full["verdict"]
        if name == "js.pdf":
            reasons = json.dumps(full["verdict"]).lower()
            assert "openaction" in reasons and "javascript" in reasons, full["verdict"]
    assert seen == expected


def test_fileinfo_gives_archive_members_back_and_stops_a_bomb(natives, samples, tmp_path, bomb):
    api = natives.api
    bundle = os.path.join(samples, "bundle.zip")
    with zipfile.ZipFile(bundle) as z:
        members = {n.rsplit("/", 1)[-1]: sha256(z.read(n)) for n in z.namelist() if not n.endswith("/")}
    assert set(members) == {"readme.txt", "hello.exe"}
    job = run_file(api, natives.ids[FILE_INFO], bundle)
    succeeded(job)
    found = files(artifacts(api, job))
    assert {(a["attachment"]["name"], h) for h, a in found.items()} == set(
        (name, h) for name, h in members.items()), found

    path = tmp_path / "bomb.zip"
    path.write_bytes(bomb)
    started = time.time()
    job = run_file(api, natives.ids[FILE_INFO], path, within=60)
    elapsed = time.time() - started
    report = succeeded(job)
    assert report["full"]["zip"]["truncated"] is True, report["full"]["zip"]
    assert files(artifacts(api, job)) == {}, "200 MB of zeros must not come back unpacked"
    assert elapsed < 30, f"the zip bomb took {elapsed:.1f} s"
    assert healthy(natives.url)


# --------------------------------------------------------------------------------------------
# Native_EmlParser and Cortex-Analyzers' EmlParser

def test_native_eml_parser_finds_what_cortex_analyzers_eml_parser_finds():
    """Cortex-Analyzers' EmlParser (2.1, run as a program by the same service) and the native one
    on both fixtures: every non-file artifact of theirs is among ours, every file of theirs is
    one of ours (same SHA-256), and their full.iocs values are among ours.

    Needs CORTEX_ANALYZERS_DIR (a folder holding EmlParser/parse.py and EmlParser.json) and
    EMLPARSER_VENV (a virtualenv with EmlParser/requirements.txt installed)."""
    analyzers_dir = os.environ.get("CORTEX_ANALYZERS_DIR")
    venv = os.environ.get("EMLPARSER_VENV")
    if not analyzers_dir or not venv:
        pytest.skip("Cortex-Analyzers' EmlParser comparison: set CORTEX_ANALYZERS_DIR (folder with "
                    "EmlParser/parse.py) and EMLPARSER_VENV (virtualenv with its requirements)")
    for needed in (os.path.join(analyzers_dir, "EmlParser", "parse.py"),
                   os.path.join(analyzers_dir, "EmlParser", "EmlParser.json"),
                   os.path.join(venv, "bin", "python3")):
        assert os.path.isfile(needed), f"{needed} is missing"
    env = engine_env()
    env["CORTEX__ANALYZERS__PATHS"] = analyzers_dir
    env["PATH"] = os.path.join(os.path.abspath(venv), "bin") + os.pathsep + os.environ.get("PATH", "")
    service = Service(CORTEX_BIN, "CORTEX", None, env)
    try:
        api = Api(service.url, make_org_user(service.url))
        # auto_extract_artifacts (default false, as in Cortex): cortexutils' switch of artifacts().
        theirs_id = api.analyzers.enable("EmlParser_2_1", {"configuration": {
            "email_visualisation": False, "auto_extract_artifacts": True}, "jobCache": 0}).id
        ours_id = api.analyzers.enable(EML_PARSER, {"configuration": {"auto_extract_artifacts": True},
                                                    "jobCache": 0}).id
        for name in (REPORTED, USER_REPORT):
            theirs_job = run_file(api, theirs_id, fixture_path(name), within=120)
            ours_job = run_file(api, ours_id, fixture_path(name))
            theirs, ours = succeeded(theirs_job), succeeded(ours_job)
            theirs_found, ours_found = artifacts(api, theirs_job), artifacts(api, ours_job)
            assert values(theirs_found), f"{name}: EmlParser found nothing, the comparison is void"
            missing = values(theirs_found) - values(ours_found)
            assert not missing, f"{name}: artifacts of EmlParser that Native_EmlParser lacks: {missing}"
            missing = set(files(theirs_found)) - set(files(ours_found))
            assert files(theirs_found) and not missing, \
                f"{name}: EmlParser's files {sorted(files(theirs_found))}, ours {sorted(files(ours_found))}"
            for kind in ("ip", "domain", "url", "email"):
                theirs_values = {i["data"] for i in theirs["full"]["iocs"][kind]}
                ours_values = {i["data"] for i in ours["full"]["iocs"][kind]}
                missing = theirs_values - ours_values
                assert not missing, f"{name}: iocs.{kind} of EmlParser that Native_EmlParser lacks: {missing}"
            theirs_hashes = {h["hash"] for h in theirs["full"]["iocs"]["hash"]}
            assert theirs_hashes <= {h["hash"] for h in ours["full"]["iocs"]["hash"]}, name
            assert set(taxonomies(theirs)) == set(taxonomies(ours)), name
    finally:
        service.stop()


# --------------------------------------------------------------------------------------------
# TheHive: the analyst's session with the native workers

def test_analyst_session_with_native_workers(platform, tmp_path):
    sink = SmtpSink()
    try:
        platform.enable("analyzer", EML_PARSER, {"auto_extract_artifacts": True})
        platform.enable("analyzer", FILE_INFO, {"auto_extract_artifacts": True})
        platform.enable("responder", MAILER, seed_mailer_config(sink.port))
        api = tenant(platform.hive)
        doc_sha256 = file_sha256(fixture_path(DOC))
        eml_parser = named(api.cortex.list_analyzers_by_type("file"), EML_PARSER)
        file_info = named(api.cortex.list_analyzers_by_type("file"), FILE_INFO)
        assert eml_parser["cortexIds"] == ["local"], eml_parser

        api.case_template.create({"name": "MALSPAM", "titlePrefix": "[MALSPAM]",
                                  "description": "Suspicious mail report by user", "tags": ["phishing"],
                                  "tasks": [{"title": t} for t in TASKS]})
        alert = feed_user_report(api, tmp_path)
        case_id = api.alert.promote_to_case(alert["_id"])["_id"]

        # Native_EmlParser on the reported message: its IOCs become observables of the case.
        [reported] = file_observables(api, case_id, REPORTED)
        job = api.cortex.create_analyzer_job({"analyzerId": eml_parser["id"], "cortexId": "local",
                                              "artifactId": reported["_id"]})
        job = wait_job(api, job["_id"])
        assert job["status"] == "Success", json.dumps(job)[:3000]
        assert job["analyzerName"] == EML_PARSER
        observables = api.case.find_observables(case_id)

        def having(data_type, data):
            return [o for o in observables if o["dataType"] == data_type and o.get("data") == data]

        [relay] = having("ip", RELAY_IP)
        assert "mail-relay" in relay["tags"] and EML_PARSER in relay["tags"], relay
        assert len(having("url", URL)) == 1
        assert len(having("mail", SENDER)) == 1, "the sender observable was duplicated"
        docs = [o for o in observables if o["dataType"] == "file"
                and doc_sha256 in (o.get("attachment") or {}).get("hashes", [])]
        assert len(docs) == 1, f"{len(docs)} file observables with the document's SHA-256"
        reports = api.observable.get(reported["_id"])["reports"]
        assert {t["namespace"] for t in reports[EML_PARSER]["taxonomies"]} == {"EmlParser"}, reports

        # Native_FileInfo on the document.
        [doc] = file_observables(api, case_id, DOC)
        job = api.cortex.create_analyzer_job({"analyzerId": file_info["id"], "cortexId": "local",
                                              "artifactId": doc["_id"]})
        job = wait_job(api, job["_id"])
        assert job["status"] == "Success", job
        assert job["report"]["full"]["sha256"] == doc_sha256
        reports = api.observable.get(doc["_id"])["reports"]
        assert FILE_INFO in reports, reports
        verdicts = [t for t in reports[FILE_INFO]["taxonomies"]
                    if t["namespace"] == "FileInfo" and t["predicate"] == "Verdict"]
        assert len(verdicts) == 1 and verdicts[0]["level"] in ("safe", "info", "suspicious",
                                                               "malicious"), reports[FILE_INFO]

        # Native_Mailer on the sender: the mail admins are asked to block it.
        [sender] = api.case.find_observables(case_id, filters=Eq("dataType", "mail") & Eq("data", SENDER))
        mailer = named(api.cortex.list_responders("case_artifact", sender["_id"]), MAILER)
        action = api.cortex.create_responder_action({"responderId": mailer["id"],
                                                     "objectType": "case_artifact",
                                                     "objectId": sender["_id"]})
        [action] = [a for a in wait_actions(api, "case_artifact", sender["_id"])
                    if a["_id"] == action["_id"]]
        assert action["status"] == "Success", action
        operations = json.loads(action["operations"])
        assert [(op["type"], op["status"]) for op in operations] == [("AddTagToCase", "Success")], operations
        [mail] = sink.wait(1)
        assert mail["to"] == [MAIL_ADMINS]
        assert parsed(mail)["subject"] == BLOCK_SUBJECT
        assert "mail sent" in api.case.get(case_id)["tags"]
    finally:
        sink.stop()
