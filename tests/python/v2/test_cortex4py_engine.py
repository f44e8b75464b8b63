"""cortex4py 2.1.0, unmodified, drives cortex-service's job engine with real cortexutils workers.

Every test runs on SQLite and PostgreSQL, with the in-process queue and with RabbitMQ (fixture
`engine`). The workers are the programs of tests/workers: Echo (reports its input), Taxo
(taxonomies, artifacts incl. a file, an operation), Crash (uncaught exception), Hang (ignores
SIGTERM, has a child), Slow (sleeps, logs its completion), Missing (no script on disk) and the
responder Notify. What is proven:

* definitions are scanned from the worker folders; enabling validates and completes the
  configuration (unknown key, wrong type, missing required item -> 400; defaults, multi -> []);
  workers are found by id, name and data type, updated and disabled;
* a job runs the worker as `<command> <job folder>` and its output.json becomes the report
  (summary, full, artifacts with attachments served by /api/datastore, operations);
  a crash, a missing command and a timeout (SIGTERM, then SIGKILL of the whole process group)
  become Failure with a telling errorMessage;
* cache (same key -> same job, fromCache; force and window 0 bypass it), rate limit (429,
  exact under a burst), TLP/PAP limits, input validation, waitreport durations, search with
  X-Total, organization scoping, the job pool bound, and job folder clean-up/keepJobFolder.

Where cortex4py has no call (datastore, job status, raw status codes, headers) the tests use
`requests` with the same Bearer key on the documented endpoint.
"""
import ast
import hashlib
import json
import os
import re
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from cortex4py.api import Api
from cortex4py.exceptions import InvalidInputError, NotFoundError
from cortex4py.query import And, Eq

from conftest import ANALYZERS_DIR, make_org_user

TERMINAL = ("Success", "Failure")
GLOBAL_ITEMS = {"auto_extract_artifacts", "jobCache", "jobTimeout", "check_tlp", "max_tlp",
                "check_pap", "max_pap", "proxy_http", "proxy_https", "cacerts"}
ECHO_TYPES = {"domain", "ip", "url", "mail", "hash", "other", "file", "mail-subject"}
UNKNOWN_WORKER = "0" * 32


# --------------------------------------------------------------------------------------------
# helpers

def http(engine, method, path, key=None, **kwargs):
    """A raw call on the documented endpoint with a Bearer key (the org user's by default)."""
    headers = {"Authorization": f"Bearer {key or engine.key}"}
    return requests.request(method, engine.url + path, headers=headers, timeout=90, **kwargs)


def enable(api, definition, configuration=None, **attributes):
    """Enables an analyzer; `attributes` are top-level fields (rate, rateUnit, jobCache, jobTimeout)."""
    body = {"configuration": dict(configuration or {})}
    body.update(attributes)
    return api.analyzers.enable(definition, body)


def observable(data, data_type="domain", **fields):
    obs = {"data": data, "dataType": data_type, "tlp": 2}
    obs.update(fields)
    return obs


def run(api, worker_id, data, data_type="domain", **fields):
    return api.analyzers.run_by_id(worker_id, observable(data, data_type, **fields))


def run_raw(engine, worker_id, body, kind="analyzer", key=None):
    return http(engine, "POST", f"/api/{kind}/{worker_id}/run", key=key, json=body)


def finish(api, job_id, within=60):
    """Waits (waitreport, 10 s at a time) until the job ends; returns the job with its report."""
    deadline = time.time() + within
    while True:
        job = api.jobs.get_report_async(job_id, "10 seconds")
        if job.status in TERMINAL:
            return job
        assert time.time() < deadline, f"job {job_id} still {job.status} after {within} s"


def job_ids(api, query=None):
    return {j.id for j in api.jobs.find_all(query or {}, range="all")}


def wait_until(predicate, within, what):
    deadline = time.time() + within
    while not predicate():
        assert time.time() < deadline, f"timed out after {within} s waiting for {what}"
        time.sleep(0.05)


def alive(pid):
    """True while `pid` exists and is not a zombie (an unreaped corpse no longer runs)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def job_folders(jobs_dir):
    if not os.path.isdir(jobs_dir):
        return []
    return sorted(n for n in os.listdir(jobs_dir) if n.startswith("cortex-job-"))


def assert_status(resp, code, error_type=None):
    assert resp.status_code == code, f"expected {code}, got {resp.status_code}: {resp.text[:500]}"
    if error_type is not None:
        assert resp.json().get("type") == error_type, resp.text[:500]


def worker_constants(relative_path):
    """The module-level literal constants of a worker script (read, not executed)."""
    with open(os.path.join(ANALYZERS_DIR, relative_path)) as f:
        tree = ast.parse(f.read())
    return {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)}


# --------------------------------------------------------------------------------------------
# definitions and workers

def test_definitions_are_scanned_from_the_worker_folders(engine):
    defs = {d.id: d for d in engine.api.analyzers.definitions()}
    assert {"Echo_1_0", "Taxo_1_0", "Crash_1_0", "Hang_1_0", "Slow_1_0"} <= set(defs)
    echo = defs["Echo_1_0"]
    assert echo.name == "Echo" and echo.version == "1.0"
    assert set(echo.dataTypeList) == ECHO_TYPES
    items = {i["name"]: i for i in echo.configurationItems}
    assert set(items) == {"greeting", "api_key", "labels"}
    assert items["greeting"]["type"] == "string" and items["greeting"]["defaultValue"] == "hello"
    assert items["labels"]["multi"] is True
    responders = {d.id: d for d in engine.api.responders.definitions()}
    assert "Notify_1_0" in responders and "Echo_1_0" not in responders
    assert "Notify_1_0" not in defs
    assert set(responders["Notify_1_0"].dataTypeList) == {"thehive:case", "thehive:alert", "thehive:case_task"}


def test_enabling_validates_and_completes_the_configuration(engine):
    api = engine.api
    with pytest.raises(InvalidInputError):
        enable(api, "Echo_1_0", {"no_such_item": 1})
    unknown = http(engine, "POST", "/api/organization/analyzer/Echo_1_0",
                   json={"name": "Echo_1_0", "configuration": {"no_such_item": 1}})
    assert_status(unknown, 400)
    wrong_type = http(engine, "POST", "/api/organization/analyzer/Echo_1_0",
                      json={"name": "Echo_1_0", "configuration": {"greeting": 12}})
    assert_status(wrong_type, 400)
    with pytest.raises(InvalidInputError):  # log_path is required
        enable(api, "Slow_1_0", {"sleep": 1})
    missing = http(engine, "POST", "/api/organization/analyzer/Slow_1_0",
                   json={"name": "Slow_1_0", "configuration": {"sleep": 1}})
    assert_status(missing, 400)
    assert api.analyzers.find_all({}, range="all") == [], "a refused enable must not create a worker"

    echo = enable(api, "Echo_1_0", {"api_key": "k-0123456789"})
    assert echo.name == "Echo_1_0"
    assert re.fullmatch(r"[0-9a-f]{32}", echo.id), echo.id
    assert echo.workerDefinitionId == "Echo_1_0"
    assert set(echo.dataTypeList) == ECHO_TYPES
    conf = echo.configuration
    missing_keys = (GLOBAL_ITEMS | {"greeting", "api_key", "labels"}) - set(conf)
    assert not missing_keys, f"configuration lacks {missing_keys}: {conf}"
    assert conf["greeting"] == "hello"
    assert conf["api_key"] == "k-0123456789"
    assert conf["labels"] == []


def test_workers_are_found_updated_and_disabled(engine):
    api = engine.api
    echo = enable(api, "Echo_1_0")
    created = http(engine, "POST", "/api/organization/analyzer/Taxo_1_0",
                   json={"name": "Taxo_1_0", "configuration": {}})
    assert_status(created, 201)
    taxo_id = created.json()["id"]

    domain = {a.id for a in api.analyzers.get_by_type("domain")}
    assert {echo.id, taxo_id} <= domain
    files = {a.id for a in api.analyzers.get_by_type("file")}
    assert echo.id in files and taxo_id not in files
    assert api.analyzers.get_by_name("Echo_1_0").id == echo.id
    assert api.analyzers.get_by_id(echo.id).name == "Echo_1_0"
    assert {a.id for a in api.analyzers.find_all({}, range="all")} == {echo.id, taxo_id}

    conf = dict(echo.configuration)
    conf["greeting"] = "bonjour"
    updated = api.analyzers.update(echo.id, {"configuration": conf, "jobCache": 0})
    assert updated.jobCache == 0 and updated.configuration["greeting"] == "bonjour"
    again = api.analyzers.get_by_id(echo.id)
    assert again.jobCache == 0 and again.configuration["greeting"] == "bonjour"
    done = finish(api, run(api, echo.id, "updated.example").id)
    assert done.status == "Success", done.report
    assert done.report["full"]["config_seen"]["greeting"] == "bonjour", "jobs must use the updated configuration"

    assert api.analyzers.disable(echo.id) is True
    with pytest.raises(NotFoundError):
        api.analyzers.get_by_id(echo.id)
    assert echo.id not in {a.id for a in api.analyzers.get_by_type("domain")}
    with pytest.raises(NotFoundError):
        run(api, echo.id, "after-disable.example")


# --------------------------------------------------------------------------------------------
# jobs and reports

def test_an_echo_job_runs_and_reports(engine):
    api = engine.api
    echo = enable(api, "Echo_1_0", {"api_key": "s3cr3t"})
    job = api.analyzers.run_by_id(echo.id, {"data": "evil.example", "dataType": "domain", "tlp": 1,
                                            "message": "case #1"})
    assert job.status in ("Waiting", "InProgress", "Success")
    assert job.workerId == echo.id and getattr(job, "analyzerId", None) == echo.id
    assert job.workerName == "Echo_1_0" and job.workerDefinitionId == "Echo_1_0"
    assert job.type == "analyzer" and job.organization == "soc"
    assert (job.data, job.dataType, job.tlp, job.message) == ("evil.example", "domain", 1, "case #1")

    done = api.jobs.get_report_async(job.id, timeout="Inf")
    assert done.id == job.id
    assert done.status == "Success", done.report
    report = done.report
    assert report["success"] is True
    full = report["full"]
    assert (full["data"], full["dataType"], full["message"]) == ("evil.example", "domain", "case #1")
    assert {"level": "info", "namespace": "echo", "predicate": "data", "value": "evil.example"} \
        in report["summary"]["taxonomies"]
    seen = full["config_seen"]
    assert seen["service"] == "echo", "the definition's constant config must reach the worker"
    assert seen["greeting"] == "hello"
    assert seen["api_key"] == "REMOVED", "the configured secret must reach the worker (masked by Echo)"
    assert isinstance(done.startDate, int) and isinstance(done.endDate, int)
    assert done.endDate >= done.startDate

    assert job.id in job_ids(api)
    fetched = api.jobs.get_by_id(job.id)
    assert fetched.status == "Success" and fetched.data == "evil.example"
    assert api.jobs.get_report(job.id).report["full"]["data"] == "evil.example"

    statuses = http(engine, "POST", "/api/job/status", json={"jobIds": [job.id, "nope"]})
    assert_status(statuses, 200)
    assert statuses.json() == {job.id: "Success", "nope": "NotFound"}

    assert api.jobs.delete(job.id) is True
    assert job.id not in job_ids(api)
    search = http(engine, "POST", "/api/job/_search?range=all", json={"query": {}})
    assert_status(search, 200)
    assert job.id not in {j["id"] for j in search.json()}


def test_a_file_observable_is_stored_and_handed_to_the_worker(engine, tmp_path):
    api = engine.api
    echo = enable(api, "Echo_1_0")
    content = bytes(range(256)) * 37 + b"\nend of sample\n"
    path = tmp_path / "sample.bin"
    path.write_bytes(content)
    sha256 = hashlib.sha256(content).hexdigest()

    job = api.analyzers.run_by_id(echo.id, {"data": str(path), "dataType": "file", "tlp": 2})
    assert job.dataType == "file"
    assert getattr(job, "data", None) is None, "a file job carries no data"
    att = job.attachment
    assert att["name"] == "sample.bin" and att["size"] == len(content) and att["id"] == sha256
    assert att["hashes"] == [sha256, hashlib.sha1(content).hexdigest(), hashlib.md5(content).hexdigest()]

    done = finish(api, job.id)
    assert done.status == "Success", done.report
    full = done.report["full"]
    assert full["filename"] == "sample.bin" and full["data"] == "sample.bin"
    assert full["sha256"] == sha256 and full["size"] == len(content)
    assert api.jobs.get_by_id(job.id).attachment["id"] == sha256

    blob = http(engine, "GET", f"/api/datastore/{sha256}")
    assert_status(blob, 200)
    assert blob.content == content


def test_taxonomies_artifacts_and_operations_are_reported(engine):
    api = engine.api
    constants = worker_constants("Taxo/taxo.py")
    taxo = enable(api, "Taxo_1_0")
    done = finish(api, run(api, taxo.id, "taxo.example").id)
    assert done.status == "Success", done.report
    report = done.report
    assert report["success"] is True
    assert report["summary"]["taxonomies"] == [
        {"level": "info", "namespace": "taxo", "predicate": "seen", "value": "taxo.example"},
        {"level": "suspicious", "namespace": "taxo", "predicate": "score", "value": 42},
        {"level": "malicious", "namespace": "taxo", "predicate": "verdict", "value": "bad"},
    ]
    assert report["operations"] == [{"type": "AddTagToArtifact", "tag": "taxo-seen"}]
    assert report["full"] == {"data": "taxo.example", "verdict": "bad"}

    evidence = constants["EVIDENCE"]
    sha256 = hashlib.sha256(evidence).hexdigest()
    artifacts = api.jobs.get_artifacts(done.id)
    assert sorted(a.dataType for a in artifacts) == ["domain", "file", "ip"]
    by_type = {a.dataType: a for a in artifacts}
    for a in artifacts:
        assert isinstance(a.tags, list) and isinstance(a.tlp, int), a.json()
    ip = by_type["ip"]
    assert (ip.data, ip.tags, ip.message, ip.tlp) == ("10.20.30.40", ["autoImport:true"], "seen by taxo", 3)
    domain = by_type["domain"]
    assert (domain.data, domain.tags, domain.tlp) == ("c2.taxo.example", [], 2)
    file = by_type["file"]
    assert file.tags == ["evidence"]
    assert file.attachment["id"] == sha256
    assert file.attachment["name"] == constants["EVIDENCE_NAME"]
    assert file.attachment["size"] == len(evidence)
    blob = http(engine, "GET", f"/api/datastore/{file.attachment['id']}")
    assert_status(blob, 200)
    assert blob.content == evidence

    in_report = {a["dataType"]: a for a in report["artifacts"]}
    assert set(in_report) == {"ip", "domain", "file"}
    for a in report["artifacts"]:
        assert isinstance(a["tags"], list) and isinstance(a["tlp"], int), a
    assert in_report["ip"]["data"] == "10.20.30.40"
    assert in_report["file"]["attachment"]["id"] == sha256


def test_a_crashing_analyzer_fails_with_its_traceback(engine):
    api = engine.api
    crash = enable(api, "Crash_1_0")
    done = finish(api, run(api, crash.id, "crash.example").id)
    assert done.status == "Failure"
    assert done.report["success"] is False
    assert "crash-analyzer exploded" in done.report["errorMessage"], done.report
    assert api.jobs.get_by_id(done.id).status == "Failure"


def test_a_hung_analyzer_and_its_child_are_killed_at_the_timeout(engine, tmp_path):
    api = engine.api
    hang = enable(api, "Hang_1_0", {"pid_dir": str(tmp_path)}, jobTimeout=0.05)  # 3 s
    started = time.time()
    job = run(api, hang.id, "hang.example")
    pid_file, child_file = tmp_path / "hang.pid", tmp_path / "hang-child.pid"
    wait_until(lambda: pid_file.exists() and child_file.exists(), 20, "Hang to write its pids")
    pid, child = int(pid_file.read_text()), int(child_file.read_text())

    done = api.jobs.get_report_async(job.id, "20 seconds")
    elapsed = time.time() - started
    assert done.status == "Failure", f"still {done.status} {elapsed:.1f} s after submission"
    assert 2.5 <= elapsed <= 15, f"the 3 s timeout fired after {elapsed:.1f} s"
    message = done.report["errorMessage"].lower()
    assert "timeout" in message or "timed out" in message, done.report["errorMessage"]
    wait_until(lambda: not alive(pid), 5, f"the analyzer process {pid} (ignores SIGTERM) to die")
    wait_until(lambda: not alive(child), 5, f"the analyzer's child {child} to die with its group")


def test_a_missing_command_fails_the_job_and_says_so(engine):
    api = engine.api
    assert "Missing_1_0" in {d.id for d in api.analyzers.definitions()}
    missing = enable(api, "Missing_1_0")
    done = finish(api, run(api, missing.id, "missing.example").id)
    assert done.status == "Failure"
    assert done.report["success"] is False
    message = done.report["errorMessage"]
    assert "nope.py" in message or "not found" in message.lower() or "no such file" in message.lower(), message


def test_a_responder_reports_operations(engine):
    api = engine.api
    notify = api.responders.enable("Notify_1_0", {"configuration": {}})
    assert notify.name == "Notify_1_0"
    assert notify.id in {r.id for r in api.responders.get_by_type("thehive:case")}
    case = {"_id": "~123", "title": "x", "tags": []}
    job = api.responders.run_by_id(notify.id, {"data": case, "dataType": "thehive:case", "tlp": 2,
                                               "message": "m"})
    assert job.type == "responder" and job.workerId == notify.id
    assert job.data == case, "a responder job keeps its data as JSON"

    done = finish(api, job.id)
    assert done.status == "Success", done.report
    assert done.type == "responder"
    assert done.report["success"] is True
    assert done.report["full"] == {"message": "notified"}
    assert done.report["operations"] == [
        {"type": "AddTagToCase", "tag": "notified"},
        {"type": "AddLogToTask", "content": "responder ran", "owner": "cortex"},
        {"type": "CreateTask", "title": "Follow-up", "description": "Follow-up of ~123"},
    ]
    with pytest.raises(InvalidInputError):
        api.responders.run_by_id(notify.id, {"data": case, "dataType": "thehive:case_artifact", "tlp": 2})


# --------------------------------------------------------------------------------------------
# cache, rate limit, TLP/PAP, validation

def test_identical_runs_are_served_from_the_cache(engine):
    api = engine.api
    echo = enable(api, "Echo_1_0")
    first = finish(api, run(api, echo.id, "cached.example", message="one").id)
    assert first.status == "Success"

    again = run(api, echo.id, "cached.example", message="two")  # message is not in the cache key
    assert again.id == first.id
    assert getattr(again, "fromCache", None) is True
    raw = run_raw(engine, echo.id, observable("cached.example"))
    assert_status(raw, 200)
    assert raw.json()["id"] == first.id and raw.json().get("fromCache") is True

    forced = api.analyzers.run_by_id(echo.id, observable("cached.example"), force=1)
    assert forced.id != first.id and getattr(forced, "fromCache", None) is not True
    other_tlp = run(api, echo.id, "cached.example", tlp=1)
    other_params = run(api, echo.id, "cached.example", parameters={"x": 1})
    assert len({first.id, forced.id, other_tlp.id, other_params.id}) == 4
    assert job_ids(api) == {first.id, forced.id, other_tlp.id, other_params.id}

    api.analyzers.update(echo.id, {"jobCache": 0})
    for j in (forced, other_tlp, other_params):
        finish(api, j.id)
    fresh = run(api, echo.id, "cached.example")
    assert fresh.id not in {first.id, forced.id}, "jobCache 0 disables the cache"


def test_the_rate_limit_refuses_with_429(engine):
    api = engine.api
    echo = enable(api, "Echo_1_0", rate=1, rateUnit="Day")
    assert echo.rate == 1 and echo.rateUnit == "Day"
    first = finish(api, run(api, echo.id, "rate-1.example").id)
    assert first.status == "Success"
    with pytest.raises(InvalidInputError):
        run(api, echo.id, "rate-2.example")
    refused = run_raw(engine, echo.id, observable("rate-3.example"))
    assert_status(refused, 429, "RateLimitExceeded")
    hit = run(api, echo.id, "rate-1.example")  # a cache hit creates no job and is not refused
    assert hit.id == first.id
    assert job_ids(api) == {first.id}


def test_the_rate_limit_is_exact_under_a_burst(engine):
    api = engine.api
    echo = enable(api, "Echo_1_0", rate=2, rateUnit="Day")
    barrier = threading.Barrier(6)

    def submit(i):
        barrier.wait()
        return run_raw(engine, echo.id, observable(f"burst-{i}.example"))

    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(submit, range(6)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 200, 429, 429, 429, 429], [(r.status_code, r.text[:200]) for r in responses]
    for r in responses:
        if r.status_code == 429:
            assert r.json()["type"] == "RateLimitExceeded"
    accepted = {r.json()["id"] for r in responses if r.status_code == 200}
    assert job_ids(api) == accepted


def test_tlp_and_pap_above_the_configured_maximum_are_refused(engine):
    api = engine.api
    echo = enable(api, "Echo_1_0", {"check_tlp": True, "max_tlp": 1, "check_pap": True, "max_pap": 1})
    with pytest.raises(InvalidInputError):
        run(api, echo.id, "tlp.example", tlp=3, pap=1)
    assert_status(run_raw(engine, echo.id, observable("tlp.example", tlp=3, pap=1)), 400)
    assert_status(run_raw(engine, echo.id, observable("tlp.example", tlp=2, pap=1)), 400)
    assert_status(run_raw(engine, echo.id, observable("pap.example", tlp=1, pap=3)), 400)
    assert job_ids(api) == set(), "a refused run must not create a job"

    done = finish(api, run(api, echo.id, "tlp.example", tlp=1, pap=1).id)
    assert done.status == "Success", done.report
    seen = done.report["full"]["config_seen"]
    assert (seen["check_tlp"], seen["max_tlp"]) == (True, 1)


def test_bad_run_requests_are_refused(engine):
    api = engine.api
    echo = enable(api, "Echo_1_0")
    with pytest.raises(NotFoundError):
        run(api, UNKNOWN_WORKER, "x.example")
    assert_status(run_raw(engine, UNKNOWN_WORKER, observable("x.example")), 404, "NotFoundError")
    with pytest.raises(InvalidInputError):  # not in Echo's dataTypeList
        run(api, echo.id, "HKLM\\Software\\x", data_type="registry")
    assert_status(run_raw(engine, echo.id, observable("HKLM\\Software\\x", "registry")), 400)
    with pytest.raises(InvalidInputError):
        run(api, echo.id, "x.example", tlp=5)
    assert_status(run_raw(engine, echo.id, observable("x.example", tlp=5)), 400)
    assert_status(run_raw(engine, echo.id, observable("x.example", pap=-1)), 400)
    with pytest.raises(InvalidInputError):  # cortex4py sends "dataType": null
        api.analyzers.run_by_id(echo.id, {"data": "x.example", "tlp": 2})
    assert_status(run_raw(engine, echo.id, {"data": "x.example", "tlp": 2}), 400)
    assert job_ids(api) == set()
    assert_status(http(engine, "GET", "/api/job/nope"), 404, "NotFoundError")


def test_waitreport_durations(engine, tmp_path):
    api = engine.api
    slow = enable(api, "Slow_1_0", {"sleep": 4, "log_path": str(tmp_path / "slow.log")})
    job = run(api, slow.id, "wait.example")
    path = f"/api/job/{job.id}/waitreport"

    t = time.time()
    short = http(engine, "GET", path + "?atMost=1%20second")
    elapsed = time.time() - t
    assert_status(short, 200)
    assert short.json()["status"] in ("Waiting", "InProgress")
    assert short.json()["report"] in ("Waiting", "Running")
    assert 0.8 <= elapsed < 3.5, f"atMost=1 second answered after {elapsed:.2f} s"
    assert_status(http(engine, "GET", path + "?atMost=3parsecs"), 400)  # parsed while running

    t = time.time()
    done = http(engine, "GET", path + "?atMost=Inf")
    assert_status(done, 200)
    assert done.json()["status"] == "Success" and done.json()["report"]["success"] is True
    assert time.time() - t < 30
    for duration in ("Inf", "1%20second", "1minute", "10seconds"):
        again = http(engine, "GET", f"{path}?atMost={duration}")
        assert_status(again, 200)
        assert again.json()["status"] == "Success"


# --------------------------------------------------------------------------------------------
# search, scoping, pool, job folders

def test_jobs_are_searched_and_filtered(engine):
    api = engine.api
    echo = enable(api, "Echo_1_0")
    crash = enable(api, "Crash_1_0")
    domains = [run(api, echo.id, f"s{i}.example") for i in range(3)]
    ips = [run(api, echo.id, f"10.0.0.{i}", data_type="ip") for i in (1, 2)]
    failed = run(api, crash.id, "boom", data_type="other")
    for j in domains + ips + [failed]:
        finish(api, j.id)

    page = http(engine, "POST", "/api/job/_search?range=0-2",
                json={"query": {"_field": "dataType", "_value": "domain"}})
    assert_status(page, 200)
    assert len(page.json()) == 2
    assert all(j["dataType"] == "domain" for j in page.json())
    assert page.headers.get("X-Total") == "3"

    assert job_ids(api, Eq("status", "Success")) == {j.id for j in domains + ips}
    assert job_ids(api, Eq("status", "Failure")) == {failed.id}
    assert job_ids(api, And(Eq("dataType", "ip"), Eq("status", "Success"))) == {j.id for j in ips}
    assert job_ids(api, Eq("workerId", crash.id)) == {failed.id}
    assert len(api.jobs.find_all({})) == 6 and len(api.jobs.find_all({}, range="0-4")) == 4

    listed = http(engine, "GET", "/api/job?dataTypeFilter=ip&range=all")
    assert_status(listed, 200)
    assert {j["id"] for j in listed.json()} == {j.id for j in ips}
    assert listed.headers.get("X-Total") == "2"


def test_jobs_and_workers_are_scoped_to_the_organization(engine):
    api = engine.api
    echo = enable(api, "Echo_1_0")
    done = finish(api, run(api, echo.id, "scoped.example").id)
    other = Api(engine.url, make_org_user(engine.url, org="blue", login="bob"))
    with pytest.raises(NotFoundError):
        other.jobs.get_by_id(done.id)
    with pytest.raises(NotFoundError):
        other.jobs.get_report(done.id)
    assert other.jobs.find_all({}, range="all") == []
    assert other.analyzers.find_all({}, range="all") == []
    with pytest.raises(NotFoundError):
        run(other, echo.id, "scoped.example")
    assert job_ids(api) == {done.id}


def test_the_job_pool_bounds_running_jobs(engine, tmp_path):
    """CORTEX__JOBS__CONCURRENCY=4 (engine_env): six 2-second jobs run in two waves."""
    api = engine.api
    slow = enable(api, "Slow_1_0", {"sleep": 2, "log_path": str(tmp_path / "pool.log")})
    started = time.time()
    ids = [run(api, slow.id, f"pool-{i}.example").id for i in range(6)]
    most_running, saw_waiting = 0, False
    while True:
        statuses = http(engine, "POST", "/api/job/status", json={"jobIds": ids}).json()
        running = sum(1 for s in statuses.values() if s == "InProgress")
        most_running = max(most_running, running)
        saw_waiting = saw_waiting or (running == 4 and "Waiting" in statuses.values())
        if all(s in TERMINAL for s in statuses.values()):
            break
        assert time.time() - started < 60, statuses
        time.sleep(0.1)
    elapsed = time.time() - started
    assert all(s == "Success" for s in statuses.values()), statuses
    assert most_running == 4, f"at most {most_running} jobs ran at once"
    assert saw_waiting, "jobs beyond the pool must wait as Waiting"
    assert 4 <= elapsed < 10, f"six 2 s jobs on 4 slots took {elapsed:.1f} s"
    assert len((tmp_path / "pool.log").read_text().splitlines()) == 6


def test_job_folders_are_removed_unless_kept(engine):
    api = engine.api
    jobs_dir = os.path.join(engine.dir, "jobs")
    echo = enable(api, "Echo_1_0")
    done = finish(api, run(api, echo.id, "clean.example").id)
    assert done.status == "Success"
    wait_until(lambda: job_folders(jobs_dir) == [], 5, f"job folders to be removed from {jobs_dir}")

    kept = finish(api, run(api, echo.id, "kept.example", parameters={"keepJobFolder": True}).id)
    assert kept.status == "Success", kept.report
    folders = job_folders(jobs_dir)
    assert len(folders) == 1 and folders[0].startswith(f"cortex-job-{kept.id}"), folders
    folder = os.path.join(jobs_dir, folders[0])
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    with open(os.path.join(folder, "input", "input.json")) as f:
        given = json.load(f)
    assert given["data"] == "kept.example" and given["dataType"] == "domain"
    assert given["tlp"] == 2 and given["pap"] == 2
    assert given["parameters"]["keepJobFolder"] is True
    assert given["config"]["service"] == "echo" and given["config"]["greeting"] == "hello"
    with open(os.path.join(folder, "output", "output.json")) as f:
        output = json.load(f)
    assert output["success"] is True and output["full"]["data"] == "kept.example"
