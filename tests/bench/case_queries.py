"""Query API pages over case work, where the access layer's predicates do their work.

    .venv-th2/bin/python tests/bench/case_queries.py target/release/hive-service

Starts the given hive-service on a fresh PostgreSQL database (TEST_DATABASE_URL, default the
local server), makes 2,000 cases with a task and 5 observables each through the API (8
clients), then times 60 runs of each query (the first 10 as warm-up) and prints p50 and p99.
Results in docs/PERFORMANCE.md."""
import concurrent.futures as cf
import os
import statistics
import sys
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from conftest import Service, pg_database  # noqa: E402

binary = os.path.abspath(sys.argv[1])
s = Service(binary, "HIVE", pg_database(), {"HIVE__LOG__LEVEL": "warn"})
try:
    root = requests.Session(); root.auth = ("admin@thehive.local", "secret")
    root.post(s.url + "/api/v1/organisation", json={"name": "soc", "description": "d"}).raise_for_status()
    root.post(s.url + "/api/v1/user", json={"login": "a@soc", "name": "a", "profile": "org-admin", "organisation": "soc"}).raise_for_status()
    key = root.post(s.url + "/api/v1/user/a@soc/key/renew").text
    h = {"Authorization": f"Bearer {key}"}
    def one(i):
        ss = requests.Session(); ss.headers.update(h)
        k = ss.post(s.url + "/api/v1/case", json={"title": f"case {i}", "description": "d", "tags": ["phishing"] if i % 3 == 0 else []}).json()
        ss.post(s.url + f"/api/v1/case/{k['_id']}/task", json={"title": "t"})
        for j in range(5):
            ss.post(s.url + f"/api/v1/case/{k['_id']}/observable", json={"dataType": "ip", "data": f"10.{i % 250}.{j}.{i // 250}"})
    with cf.ThreadPoolExecutor(8) as ex:
        list(ex.map(one, range(2000)))
    ss = requests.Session(); ss.headers.update(h)
    def timed(q):
        t = []
        for n in range(60):
            a = time.perf_counter(); r = ss.post(s.url + "/api/v1/query", json={"query": q}); r.raise_for_status(); t.append(time.perf_counter() - a)
        t = t[10:]
        return statistics.median(t) * 1000, sorted(t)[int(len(t) * 0.99) - 1] * 1000
    page = {"_name": "page", "from": 0, "to": 15}
    for name, q in (("listCase tag, newest first", [{"_name": "listCase"}, {"_name": "filter", "_field": "tags", "_value": "phishing"}, {"_name": "sort", "_fields": [{"_createdAt": "desc"}]}, page]),
                    ("listObservable ip, newest first", [{"_name": "listObservable"}, {"_name": "filter", "_field": "dataType", "_value": "ip"}, {"_name": "sort", "_fields": [{"_createdAt": "desc"}]}, page]),
                    ("listTask, newest first", [{"_name": "listTask"}, {"_name": "sort", "_fields": [{"_createdAt": "desc"}]}, page]),
                    ("getCase -> observables", None)):
        if q is None:
            k = ss.post(s.url + "/api/v1/query", json={"query": [{"_name": "listCase"}, page]}).json()[0]["_id"]
            q = [{"_name": "getCase", "idOrName": k}, {"_name": "observables"}]
        p50, p99 = timed(q)
        print(f"{name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
finally:
    s.stop()
