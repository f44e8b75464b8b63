"""hive-service's Cortex connector beyond the golden path, driven by thehive4py 2.1.0 against a
real cortex-service running the test workers of tests/workers (fixture `platform`: PostgreSQL
with RabbitMQ, SQLite with REST, unless a test says otherwise). Proven:

* test_analyzer_operations_are_applied: the AddTagToArtifact operation Taxo returns is applied
  to the analysed observable (only to it), and recorded Success in the job's `operations`;
* test_unknown_analyzer_ends_failure: a job on an analyzer Cortex does not have is stored (201)
  and ends Failure with an errorMessage naming it (over RabbitMQ: Cortex's request.rejected);
* test_unknown_server_fails_at_once: a job for cortexId "nowhere" is answered 201 already
  Failure, its errorMessage naming the server;
* test_bad_input: objectType "banana" → 400 {type, message}; unknown observable → 404; a
  read-only user → 403 and no job; a bulk request with one bad artifactId stores no job;
* test_status_shows_cortex: /api/status `connectors.cortex` is OK with server `local` and the
  Cortex version, and turns ERROR (hive still answering) once cortex-service is stopped;
* test_reports_survive_case_merge: the observable's `reports` entry is kept by a case merge;
* test_reports_survive_merge_with_duplicate: ... also when the other case holds the same
  observable, unanalysed, and comes first in the merge;
* test_large_file_over_rabbitmq_goes_through_rest (PostgreSQL + RabbitMQ, max_inline_bytes
  100): MailParser on the .eml succeeds with its report, the file going through Cortex's REST
  run route while an ip job still goes through RabbitMQ;
* test_responder_on_task: MailAdmins run on a task logs into that very task (not into the task
  its `task` configuration names) and tags the task's case.
"""
import json
import os
import re
import time

import pytest
import requests
from thehive4py import TheHiveApi
from thehive4py.errors import TheHiveError
from thehive4py.query.filters import Eq

from casework import MAIN_ORG, tenant
from conftest import (CORTEX_ADMIN_KEY, CORTEX_BIN, HIVE_BIN, SERVICE_KEY, Platform, Service,
                      _db_for, amqp_broker, engine_env, hive_queues)

MAIL_FIXTURES = os.environ.get("MAIL_FIXTURES", os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "mail")))
TAXO = "Taxo_1_0"
MAIL_PARSER = "MailParser_1_0"
MAIL_ADMINS = "MailAdmins_1_0"
REPORTED = "Overdue_payment_88231.eml"
RELAY_IP = "198.51.100.23"
FINAL = ("Success", "Failure")
JOB_PATH = "/api/connector/cortex/job"
ACTION_PATH = "/api/connector/cortex/action"


# --------------------------------------------------------------------------------------------
# helpers

def post(api, path, body):
    """A raw POST with the client's credentials (to see status codes and error bodies)."""
    return api.session.post(api.session.hive_url + path, json=body, timeout=30)


def wait_job(api, job_id, timeout=60):
    deadline = time.time() + timeout
    while True:
        job = api.cortex.get_analyzer_job(job_id)
        if job["status"] in FINAL:
            return job
        assert time.time() < deadline, f"job {job_id} still {job['status']} after {timeout} s"
        time.sleep(0.3)


def wait_action(api, object_type, object_id, action_id, timeout=60):
    deadline = time.time() + timeout
    while True:
        actions = api.session.make_request(
            "GET", f"/api/connector/cortex/action/{object_type}/{object_id}")
        mine = [a for a in actions if a["_id"] == action_id]
        if mine and mine[0]["status"] in FINAL:
            return mine[0]
        assert time.time() < deadline, f"action {action_id} not final after {timeout} s: {mine}"
        time.sleep(0.3)


def worker_id(workers, name):
    found = [w for w in workers if w["name"] == name]
    assert len(found) == 1, f"{name} not listed exactly once in {[w['name'] for w in workers]}"
    return found[0]["id"]


def ip_observable(api, case_id, data, **extra):
    [o] = api.case.create_observable(case_id, {"dataType": "ip", "data": data, **extra})
    return o


def run_taxo(api, observable_id):
    """Runs Taxo on an observable through hive; returns the job once final."""
    taxo = worker_id(api.cortex.list_analyzers(), TAXO)
    job = api.cortex.create_analyzer_job({"analyzerId": taxo, "cortexId": "local",
                                          "artifactId": observable_id})
    return wait_job(api, job["_id"])


def error_body(r):
    body = r.json()
    assert isinstance(body.get("type"), str) and body["type"], body
    assert isinstance(body.get("message"), str) and body["message"], body
    return body


def job_count(api):
    return len(api.cortex.find_analyzer_jobs())


def cortex_status(platform):
    r = requests.get(platform.hive.url + "/api/status", timeout=15)
    assert r.status_code == 200, f"/api/status: {r.status_code} {r.text}"
    return r.json()["connectors"]["cortex"]


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def cortex_run_posts(platform):
    """The `POST /api/analyzer/<id>/run` requests cortex-service logged (REST submissions)."""
    with open(os.path.join(platform.cortex.dir, "service.log"), errors="replace") as f:
        lines = [ANSI.sub("", line) for line in f]
    # The access log: one line per request (`request ... method=POST path=...`).
    return [line for line in lines if " request " in line and "method=POST" in line
            and re.search(r"path=/api/analyzer/\S+/run\b", line)]


class TunedPlatform(Platform):
    """`Platform` whose hive-service gets more environment (`hive_env`)."""

    def __init__(self, backend, broker, amqp_url, hive_env):
        self.backend = backend
        self.broker = broker
        cortex_env = engine_env(amqp_url, 4)
        cortex_env["CORTEX__SERVICE_ACCOUNT__API_KEY"] = SERVICE_KEY
        self.cortex = Service(CORTEX_BIN, "CORTEX", _db_for(backend), cortex_env)
        try:
            self.hive = Service(HIVE_BIN, "HIVE", _db_for(backend), {
                "HIVE__AMQP__URL": amqp_url,
                "HIVE__CORTEX__URL": self.cortex.url,
                "HIVE__CORTEX__API_KEY": SERVICE_KEY,
                **hive_queues(cortex_env),
                **hive_env,
            })
        except Exception:
            self.cortex.stop()
            raise
        from cortex4py.api import Api
        admin = Api(self.cortex.url, CORTEX_ADMIN_KEY)
        admin.users.create({"login": "cortex-admin", "name": "Org admin", "organization": "thehive",
                            "roles": ["read", "analyze", "orgadmin"]})
        self.org_admin = Api(self.cortex.url, admin.users.renew_key("cortex-admin"))


# --------------------------------------------------------------------------------------------
# tests

def test_analyzer_operations_are_applied(platform):
    platform.enable("analyzer", TAXO)
    api = tenant(platform.hive)
    case = api.case.create({"title": "operations", "description": "Taxo tags what it analyses"})
    o = ip_observable(api, case["_id"], "192.0.2.10", tags=["suspect"])
    assert "taxo-seen" not in o.get("tags", [])

    job = run_taxo(api, o["_id"])
    assert job["status"] == "Success", job
    operations = json.loads(job["operations"])
    assert [(op["type"], op.get("tag"), op["status"]) for op in operations] == [
        ("AddTagToArtifact", "taxo-seen", "Success")], operations

    assert sorted(api.observable.get(o["_id"])["tags"]) == ["suspect", "taxo-seen"]
    # Only the analysed observable: the ip Taxo imported is not tagged by the operation.
    [imported] = api.case.find_observables(case["_id"], filters=Eq("data", "10.20.30.40"))
    assert "taxo-seen" not in imported["tags"], imported


def test_unknown_analyzer_ends_failure(platform):
    api = tenant(platform.hive)
    case = api.case.create({"title": "unknown analyzer", "description": "no such analyzer"})
    o = ip_observable(api, case["_id"], "192.0.2.20")
    r = post(api, JOB_PATH, {"analyzerId": "NoSuchAnalyzer", "cortexId": "local",
                             "artifactId": o["_id"]})
    assert r.status_code == 201, f"{r.status_code} {r.text}"
    job = wait_job(api, r.json()["_id"])
    assert job["status"] == "Failure", job
    assert job["cortexId"] == "local", job
    message = (job.get("report") or {}).get("errorMessage")
    assert isinstance(message, str) and "NoSuchAnalyzer" in message, job
    assert api.observable.get(o["_id"]).get("reports") in (None, {}), "a failure leaves no report"


def test_unknown_server_fails_at_once(platform):
    platform.enable("analyzer", TAXO)
    api = tenant(platform.hive)
    taxo = worker_id(api.cortex.list_analyzers(), TAXO)
    case = api.case.create({"title": "unknown server", "description": "cortexId nowhere"})
    o = ip_observable(api, case["_id"], "192.0.2.30")
    r = post(api, JOB_PATH, {"analyzerId": taxo, "cortexId": "nowhere", "artifactId": o["_id"]})
    assert r.status_code == 201, f"{r.status_code} {r.text}"
    job = r.json()
    assert job["status"] == "Failure", job
    assert job["cortexId"] == "nowhere", job
    assert "nowhere" in ((job.get("report") or {}).get("errorMessage") or ""), job
    time.sleep(1.5)  # a sweep of the outbox must not revive it
    again = api.cortex.get_analyzer_job(job["_id"])
    assert again["status"] == "Failure" and again["report"] == job["report"], again


def test_bad_input(platform):
    platform.enable("analyzer", TAXO)
    platform.enable("responder", MAIL_ADMINS, {"task": "Block sender"})
    api = tenant(platform.hive)
    taxo = worker_id(api.cortex.list_analyzers(), TAXO)
    case = api.case.create({"title": "bad input", "description": "refused requests"})
    mail_admins = worker_id(api.cortex.list_responders("case", case["_id"]), MAIL_ADMINS)
    o = ip_observable(api, case["_id"], "192.0.2.40")

    # An object type hive does not know.
    r = post(api, ACTION_PATH, {"responderId": mail_admins, "objectType": "banana",
                                "objectId": case["_id"]})
    assert r.status_code == 400, f"{r.status_code} {r.text}"
    assert "banana" in error_body(r)["message"]
    assert api.session.make_request("GET", f"{ACTION_PATH}/case/{case['_id']}") == []

    # An observable that does not exist.
    before = job_count(api)
    for missing in ("~987654321", "not-an-id"):
        r = post(api, JOB_PATH, {"analyzerId": taxo, "cortexId": "local", "artifactId": missing})
        assert r.status_code == 404, f"artifactId {missing}: {r.status_code} {r.text}"
        error_body(r)
    assert job_count(api) == before

    # A read-only user of main-org may read, not analyse.
    user = api.user.create({"login": "reader@soc.local", "name": "Reader", "profile": "read-only",
                            "organisation": MAIN_ORG})
    api.user.set_password(user["_id"], "reader-password-1")
    reader = TheHiveApi(url=platform.hive.url, username="reader@soc.local",
                        password="reader-password-1", organisation=MAIN_ORG, max_retries=0)
    assert reader.user.get_current()["profile"] == "read-only"
    assert reader.observable.get(o["_id"])["data"] == "192.0.2.40"
    with pytest.raises(TheHiveError) as e:
        reader.cortex.create_analyzer_job({"analyzerId": taxo, "cortexId": "local",
                                           "artifactId": o["_id"]})
    assert e.value.response.status_code == 403, e.value.response.text
    error_body(e.value.response)
    assert job_count(api) == before

    # Bulk: one bad artifactId and none is stored; the same without it stores both.
    other = ip_observable(api, case["_id"], "192.0.2.41")
    good = [{"analyzerId": taxo, "cortexId": "local", "artifactId": o["_id"]},
            {"analyzerId": taxo, "cortexId": "local", "artifactId": other["_id"]}]
    with pytest.raises(TheHiveError) as e:
        api.cortex.bulk_create_analyzer_jobs(
            [good[0], {"analyzerId": taxo, "cortexId": "local", "artifactId": "~987654321"}, good[1]])
    assert e.value.response.status_code == 404, e.value.response.text
    assert job_count(api) == before, "a refused bulk request stored jobs"
    jobs = api.cortex.bulk_create_analyzer_jobs(good)
    assert len(jobs) == 2 and job_count(api) == before + 2, jobs
    for j in jobs:
        assert wait_job(api, j["_id"])["status"] == "Success"


def test_status_shows_cortex(platform):
    r = requests.get(platform.cortex.url + "/api/status", timeout=5)
    version = r.json()["versions"]["Cortex"]
    status = cortex_status(platform)
    assert status == {"enabled": True, "status": "OK",
                      "servers": [{"name": "local", "status": "OK", "version": version}]}, status

    platform.cortex.stop()
    start = time.time()
    deadline = start + 20
    while True:
        t = time.time()
        status = cortex_status(platform)
        assert time.time() - t < 15, "hive took too long to answer /api/status without Cortex"
        if status["status"] == "ERROR":
            break
        assert status["status"] == "OK", status  # cached up to 10 s
        assert time.time() < deadline, f"still {status} 20 s after Cortex stopped"
        time.sleep(0.5)
    assert status["enabled"] is True, status
    [local] = status["servers"]
    assert local["name"] == "local" and local["status"] == "ERROR", status
    assert "version" not in local, status


def test_reports_survive_case_merge(platform):
    platform.enable("analyzer", TAXO)
    api = tenant(platform.hive)
    analysed = api.case.create({"title": "analysed", "description": "Taxo ran here"})
    other = api.case.create({"title": "other", "description": "nothing ran here"})
    o = ip_observable(api, analysed["_id"], "192.0.2.60")
    ip_observable(api, other["_id"], "192.0.2.61")
    job = run_taxo(api, o["_id"])
    assert job["status"] == "Success", job
    taxonomies = job["report"]["summary"]["taxonomies"]
    assert api.observable.get(o["_id"])["reports"] == {TAXO: {"taxonomies": taxonomies}}

    merged = api.case.merge([analysed["_id"], other["_id"]])
    assert merged["_id"] not in (analysed["_id"], other["_id"]), merged
    [m] = api.case.find_observables(merged["_id"], filters=Eq("data", "192.0.2.60"))
    assert m.get("reports") == {TAXO: {"taxonomies": taxonomies}}, m
    [n] = api.case.find_observables(merged["_id"], filters=Eq("data", "192.0.2.61"))
    assert n.get("reports") in (None, {}), n


def test_reports_survive_merge_with_duplicate(platform):
    """The other case holds the same ip, never analysed, and is merged first."""
    platform.enable("analyzer", TAXO)
    api = tenant(platform.hive)
    analysed = api.case.create({"title": "analysed", "description": "Taxo ran here"})
    other = api.case.create({"title": "other", "description": "the same ip, not analysed"})
    o = ip_observable(api, analysed["_id"], "192.0.2.70")
    ip_observable(api, other["_id"], "192.0.2.70")
    job = run_taxo(api, o["_id"])
    assert job["status"] == "Success", job
    taxonomies = job["report"]["summary"]["taxonomies"]

    merged = api.case.merge([other["_id"], analysed["_id"]])
    found = api.case.find_observables(merged["_id"], filters=Eq("data", "192.0.2.70"))
    assert len(found) == 1, found
    assert (found[0].get("reports") or {}).get(TAXO) == {"taxonomies": taxonomies}, (
        f"the merge lost the Taxo report of 192.0.2.70: {found[0]}")


def test_large_file_over_rabbitmq_goes_through_rest(tmp_path):
    amqp_url = amqp_broker()
    if amqp_url is None:
        pytest.skip("RabbitMQ unreachable")
    p = TunedPlatform("postgres", True, amqp_url, {"HIVE__CORTEX__MAX_INLINE_BYTES": "100"})
    print(f"platform (postgres-amqp, max_inline_bytes 100) logs: {p.cortex.log.name} {p.hive.log.name}")
    try:
        p.enable("analyzer", MAIL_PARSER)
        p.enable("analyzer", TAXO)
        api = tenant(p.hive)
        parser = worker_id(api.cortex.list_analyzers(), MAIL_PARSER)
        with open(os.path.join(MAIL_FIXTURES, REPORTED), "rb") as f:
            raw = f.read()
        assert len(raw) > 100
        (tmp_path / REPORTED).write_bytes(raw)
        case = api.case.create({"title": "large file", "description": "the .eml is above 100 bytes"})
        [eml] = api.case.create_observable(case["_id"], {"dataType": "file"},
                                           observable_path=str(tmp_path / REPORTED))
        assert p.hive.proc.poll() is None

        # An ip job: no file, it still travels over RabbitMQ.
        ip = ip_observable(api, case["_id"], "192.0.2.80")
        assert run_taxo(api, ip["_id"])["status"] == "Success"
        assert cortex_run_posts(p) == [], "a job without a file was submitted over REST"

        job = api.cortex.create_analyzer_job({"analyzerId": parser, "cortexId": "local",
                                              "artifactId": eml["_id"]})
        job = wait_job(api, job["_id"])
        assert job["status"] == "Success", job
        full = job["report"]["full"]
        assert full["relay_ips"] == [RELAY_IP], full
        assert full["subject"] == "Overdue payment notice 88231", full
        posts = cortex_run_posts(p)
        assert len(posts) == 1, f"REST submissions logged by cortex-service: {posts}"
        assert MAIL_PARSER in api.observable.get(eml["_id"])["reports"]
    finally:
        p.stop()


def test_responder_on_task(platform):
    platform.enable("responder", MAIL_ADMINS, {"task": "Block sender"})
    api = tenant(platform.hive)
    case = api.case.create({"title": "responder on a task", "description": "MailAdmins on a task",
                            "tasks": [{"title": "Block sender"}, {"title": "Contain host"}]})
    [contain] = api.case.find_tasks(case["_id"], filters=Eq("title", "Contain host"))
    [block] = api.case.find_tasks(case["_id"], filters=Eq("title", "Block sender"))
    responder = worker_id(api.cortex.list_responders("case_task", contain["_id"]), MAIL_ADMINS)

    action = api.cortex.create_responder_action({"responderId": responder, "objectType": "case_task",
                                                 "objectId": contain["_id"]})
    assert action["_type"] == "action" and action["objectType"] == "case_task", action
    assert action["objectId"] == contain["_id"], action
    action = wait_action(api, "case_task", contain["_id"], action["_id"])
    assert action["status"] == "Success", action
    operations = {op["type"]: op for op in json.loads(action["operations"])}
    assert set(operations) == {"AddTagToCase", "AddLogToTask"}, operations
    for op in operations.values():
        assert op["status"] == "Success", op

    logs = [log["message"] for log in api.task.find_logs(contain["_id"])]
    assert any("Mail admins asked to block the sender" in m for m in logs), logs
    assert api.task.find_logs(block["_id"]) == [], "the log went to the task named by `task`"
    assert "mail sent" in api.case.get(case["_id"])["tags"]
