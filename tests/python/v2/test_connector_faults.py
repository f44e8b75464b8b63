"""hive-service's Cortex connector survives the failure of the pieces around it: RabbitMQ, the
Cortex server and hive-service itself. Each test builds its own `Platform` (hive-service wired
to a cortex-service running the test workers), enables the Slow analyzer (sleeps, then appends
"<data> <parent pid>" to a log file) and submits jobs through thehive4py on ip observables of
a case. Proven:

* test_rabbitmq_restart_loses_nothing (PostgreSQL + RabbitMQ): with the broker application
  stopped while jobs run, hive still accepts new jobs (201, Waiting); once the broker is back
  every job, submitted before or during the outage, ends Success in hive, and each ran in
  Cortex (its data is in the Slow log), with at most two extra runs overall;
* test_cortex_restart (SQLite + REST, PostgreSQL + RabbitMQ): a Cortex SIGKILLed while it runs
  the jobs and started again finishes them, and hive sees every job Success;
* test_hive_restart (both combinations): jobs that finish in Cortex while hive is down reach
  Success in hive, with their reports, within 30 s of hive's restart.
"""
import collections
import os
import shutil
import subprocess
import time

import pytest

from casework import tenant
from conftest import Platform, amqp_broker

SLOW = "Slow_1_0"
FINAL = ("Success", "Failure")
COMBOS = [("sqlite", False), ("postgres", True)]
COMBO_IDS = ["sqlite-rest", "postgres-amqp"]


# --------------------------------------------------------------------------------------------
# helpers

def start_platform(backend, broker):
    amqp_url = None
    if broker:
        amqp_url = amqp_broker()
        if amqp_url is None:
            pytest.skip("RabbitMQ unreachable")
    p = Platform(backend, broker, amqp_url)
    print(f"platform ({backend}, {'amqp' if broker else 'rest'}) logs: {p.cortex.log.name} {p.hive.log.name}")
    return p


def slow_setup(platform, log, sleep):
    """Enables Slow; returns (thehive4py client on main-org, Slow's id as hive lists it, a case id)."""
    platform.enable("analyzer", SLOW, {"sleep": sleep, "log_path": str(log)})
    api = tenant(platform.hive)
    slow = [a for a in api.cortex.list_analyzers() if a["name"] == SLOW]
    assert len(slow) == 1, f"hive lists {[a['name'] for a in api.cortex.list_analyzers()]}"
    case = api.case.create({"title": "fault tolerance", "description": "Slow jobs on ip observables"})
    return api, slow[0]["id"], case["_id"]


def submit(api, analyzer_id, case_id, values, expect=("Waiting", "InProgress")):
    """One ip observable per value in the case and one job on each, every creation answered 201
    with a status in `expect`; returns {job id: observable data}."""
    observables = api.case.create_observable(case_id, {"dataType": "ip", "data": list(values)})
    assert sorted(o["data"] for o in observables) == sorted(values)
    jobs = {}
    for o in observables:
        r = api.session.post(api.session.hive_url + "/api/connector/cortex/job", timeout=30, json={
            "analyzerId": analyzer_id, "cortexId": "local", "artifactId": o["_id"]})
        assert r.status_code == 201, f"job on {o['data']}: {r.status_code} {r.text}"
        job = r.json()
        assert job["status"] in expect, f"job on {o['data']}: {job}"
        jobs[job["_id"]] = o["data"]
    assert len(jobs) == len(values), "every submission must create its own job"
    return jobs


def wait_final(api, job_ids, timeout):
    """{job id: job} once every job is Success or Failure in hive."""
    deadline = time.time() + timeout
    final = {}
    while True:
        for job_id in job_ids:
            if job_id not in final:
                job = api.cortex.get_analyzer_job(job_id)
                if job["status"] in FINAL:
                    final[job_id] = job
        if len(final) == len(job_ids):
            return final
        if time.time() > deadline:
            pending = {j: api.cortex.get_analyzer_job(j)["status"] for j in job_ids if j not in final}
            pytest.fail(f"jobs not final in hive after {timeout} s: {pending}")
        time.sleep(0.5)


def assert_all_succeeded(final, jobs):
    failed = {j: (job["status"], job.get("report")) for j, job in final.items() if job["status"] != "Success"}
    assert not failed, f"jobs that did not succeed: {failed}"
    for job_id, data in jobs.items():
        report = final[job_id].get("report") or {}
        assert (report.get("full") or {}).get("data") == data, f"job {job_id} ({data}): report {report}"


def read_log(path):
    """The data of the completed Slow runs, in completion order."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        text = f.read()
    complete = text[:text.rfind("\n") + 1]  # a line being appended right now is not a completion yet
    return [line.split()[0] for line in complete.splitlines() if line.strip()]


def wait_log(path, count, timeout):
    deadline = time.time() + timeout
    while len(read_log(path)) < count:
        assert time.time() < deadline, f"Slow log has {read_log(path)} after {timeout} s, expected {count} runs"
        time.sleep(0.2)


def rabbitmqctl(*args):
    r = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"rabbitmqctl {' '.join(args)}: {r.stdout} {r.stderr}"


# --------------------------------------------------------------------------------------------
# tests

def test_rabbitmq_restart_loses_nothing(tmp_path):
    if amqp_broker() is None:
        pytest.skip("RabbitMQ unreachable")
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not on PATH")
    status = subprocess.run(["rabbitmqctl", "status"], capture_output=True, text=True, timeout=120)
    if status.returncode != 0:
        pytest.skip(f"rabbitmqctl cannot control the broker: {status.stderr.strip()}")
    p = start_platform("postgres", True)
    try:
        log = tmp_path / "slow.log"
        api, slow, case_id = slow_setup(p, log, 2)
        values = [f"192.0.2.{i}" for i in range(1, 13)]
        jobs = submit(api, slow, case_id, values[:8])
        time.sleep(1)  # the first jobs are under way
        rabbitmqctl("stop_app")
        try:
            time.sleep(3)
            jobs.update(submit(api, slow, case_id, values[8:], expect=("Waiting",)))
        finally:
            rabbitmqctl("start_app")

        assert_all_succeeded(wait_final(api, jobs, 90), jobs)
        lines = read_log(log)
        counts = collections.Counter(lines)
        twice = {d: n for d, n in counts.items() if n > 1}
        note = f"; {sum(twice.values()) - len(twice)} duplicate runs: {twice}" if twice else ""
        assert set(counts) >= set(values), f"never ran in Cortex: {sorted(set(values) - set(counts))}{note}"
        assert set(counts) <= set(values), f"unexpected log entries: {sorted(set(counts) - set(values))}"
        assert len(lines) <= len(values) + 2, f"{len(lines)} completed runs for {len(values)} jobs{note}"
    finally:
        p.stop()


@pytest.mark.parametrize("combo", COMBOS, ids=COMBO_IDS)
def test_cortex_restart(tmp_path, combo):
    p = start_platform(*combo)
    try:
        api, slow, case_id = slow_setup(p, tmp_path / "slow.log", 2)
        jobs = submit(api, slow, case_id, [f"198.51.100.{i}" for i in range(1, 7)])
        time.sleep(1)  # Cortex is running the first jobs
        p.cortex.kill()
        time.sleep(1)
        p.cortex.start()
        assert_all_succeeded(wait_final(api, jobs, 90), jobs)
    finally:
        p.stop()


@pytest.mark.parametrize("combo", COMBOS, ids=COMBO_IDS)
def test_hive_restart(tmp_path, combo):
    p = start_platform(*combo)
    try:
        log = tmp_path / "slow.log"
        api, slow, case_id = slow_setup(p, log, 3)
        jobs = submit(api, slow, case_id, [f"203.0.113.{i}" for i in range(1, 7)])
        p.hive.stop()
        wait_log(log, len(jobs), 60)  # the jobs ended in Cortex while hive was down
        p.hive.start()
        assert_all_succeeded(wait_final(api, jobs, 30), jobs)
    finally:
        p.stop()
