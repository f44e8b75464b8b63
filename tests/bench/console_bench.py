"""The analyst console and the Query API among a million alerts (issue 17), on PostgreSQL.

    cargo build --release --bin hive-service
    .venv-ui/bin/python tests/bench/console_bench.py target/release/hive-service \
        [--pg postgres://postgres@127.0.0.1:5432/postgres] [--alerts 1000000] [--cases 10000] [--n 200]

Starts hive-service on a fresh PostgreSQL database, seeds (in SQL, as alert_bench does) the
alerts of one organisation (1 in 3 tagged phishing, else malware; severity 1 to 4; 4 in 5 New,
else Ignored) and its cases with 8 tasks each, then `VACUUM ANALYZE` (what autovacuum does on a
live server). Then, from one keep-alive connection (API calls with alice's API key, pages with her session
cookie), each request `--n` times (the first tenth
as warm-up), p50 / p99 / max of the whole request on loopback:

* the analyst's inbox through the Query API: `listAlert`, filter status New, tag phishing,
  severity >= 3, sort `_createdAt` desc, page 0-15 with `extraData: ["total"]`;
* the same through v0: `POST /api/alert/_search?range=0-15&sort=-createdAt` (`X-Total`);
* console pages with the session cookie: the inbox (`/alerts?quick=new&tag=phishing&severity=3`),
  the unfiltered list (`/alerts`), the case list, a case page (details and tasks tabs);

then the weight of the alert list (HTML + CSS + JS) and, in headless Chromium (Debian's), the
time from navigation to the page being interactive (`domInteractive`) and to the script having
run (`DOMContentLoaded` handlers done), median of 20 loads."""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import requests

HERE = os.path.dirname(os.path.abspath(__file__))


def psql(url, sql):
    r = subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"psql failed: {r.stderr}")
    return r.stdout


def timed(fn, n):
    warm = max(1, n // 10)
    out = []
    for i in range(n + warm):
        t = time.perf_counter()
        fn()
        if i >= warm:
            out.append((time.perf_counter() - t) * 1000)
    out.sort()
    return out[len(out) // 2], out[min(len(out) - 1, int(len(out) * 0.99))], out[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("--pg", default=os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--alerts", type=int, default=1_000_000)
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--keep", action="store_true", help="keep the database (its URL is printed) to study plans")
    a = ap.parse_args()

    name = "console_bench_" + uuid.uuid4().hex[:8]
    psql(a.pg, f"CREATE DATABASE {name}")
    db = a.pg.rsplit("/", 1)[0] + "/" + name
    data = tempfile.mkdtemp(prefix="console-bench-")
    port = 9400 + os.getpid() % 500
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, HIVE__HTTP__BIND=f"127.0.0.1:{port}", HIVE__DATA_DIR=data, HIVE__DATABASE__URL=db,
               HIVE__BOOTSTRAP__ADMIN_PASSWORD="secret", HIVE__LOG__LEVEL="warn")
    proc = subprocess.Popen([a.bin], env=env, stdout=open(os.path.join(data, "log"), "w"), stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                if requests.get(url + "/api/status", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        root = requests.Session()
        root.auth = ("admin@thehive.local", "secret")
        root.post(url + "/api/v1/organisation", json={"name": "soc", "description": "soc"}).raise_for_status()
        root.post(url + "/api/v1/user", json={"login": "alice@soc.test", "name": "Alice", "profile": "analyst",
                                              "organisation": "soc", "password": "Correct-horse-42"}).raise_for_status()
        org = int(root.get(url + "/api/v1/organisation/soc").json()["_id"].lstrip("~"))
        now = int(time.time() * 1000)
        t0 = time.time()
        psql(db, f"""
INSERT INTO alerts (id, organisation_id, alert_type, source, source_ref, title, description, severity, date, tags,
  flag, tlp, pap, follow, status, stage, is_read, created_by, created_at)
SELECT g, {org}, 'seed', 'siem', 'seed-' || g, 'Alert ' || g, 'seeded **alert**', 1 + g % 4, {now} - g * 1000,
  CASE WHEN g % 3 = 0 THEN '["phishing"]' ELSE '["malware"]' END, false, 2, 2, false,
  CASE WHEN g % 5 = 0 THEN 'Ignored' ELSE 'New' END, CASE WHEN g % 5 = 0 THEN 'Closed' ELSE 'New' END,
  g % 2 = 0, 'seed', {now} - g * 1000
FROM generate_series(1, {a.alerts}) g;
INSERT INTO cases (id, number, organisation_id, title, description, severity, start_date, tags, flag, tlp, pap,
  status, stage, access_kind, created_by, created_at)
SELECT 10000000 + g, 100000 + g, {org}, 'Case ' || g, 'seeded case', 1 + g % 4, {now} - g * 60000,
  '["phishing"]', false, 2, 2, CASE WHEN g % 4 = 0 THEN 'TruePositive' ELSE 'InProgress' END,
  CASE WHEN g % 4 = 0 THEN 'Closed' ELSE 'InProgress' END, 'OrganisationAccessKind', 'seed', {now} - g * 60000
FROM generate_series(1, {a.cases}) g;
INSERT INTO tasks (id, case_id, organisation_id, title, group_name, status, flag, task_order, mandatory, created_by, created_at)
SELECT 20000000 + g * 8 + t, 10000000 + g, {org}, 'Task ' || t, 'default', CASE WHEN t < 3 THEN 'Completed' ELSE 'Waiting' END,
  false, t, false, 'seed', {now}
FROM generate_series(1, {a.cases}) g, generate_series(0, 7) t;""")
        # The seed's inserts left one delta row per alert in alert_tag_counts; the service merges
        # them every few seconds, as it would after any burst of alerts.
        for _ in range(600):
            if int(psql(db, "SELECT COUNT(*) FROM alert_tag_counts").split()[2]) < 1000:
                break
            time.sleep(0.5)
        psql(db, "VACUUM ANALYZE")
        psql(db, "CHECKPOINT")  # the seed's writes flushed now, not while measuring
        seeded = time.time() - t0
        print(f"seeded {a.alerts:,} alerts, {a.cases:,} cases, {a.cases * 8:,} tasks in {seeded:.0f} s (VACUUM ANALYZE included)")

        # API calls with an API key (as feeders and scripts do; Basic would add a password
        # check whenever its short cache lapses).
        key = root.post(url + "/api/v1/user/alice@soc.test/key/renew").text.strip().strip('"')
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {key}"
        inbox = {"query": [
            {"_name": "listAlert"},
            {"_name": "filter", "_and": [{"_eq": {"_field": "status", "_value": "New"}},
                                         {"_eq": {"_field": "tags", "_value": "phishing"}},
                                         {"_gte": {"_field": "severity", "_value": 3}}]},
            {"_name": "sort", "_fields": [{"_createdAt": "desc"}]},
            {"_name": "page", "from": 0, "to": 15, "extraData": ["total"]}]}

        def q():
            r = api.post(url + "/api/v1/query", json=inbox)
            assert r.status_code == 200 and len(r.json()) == 15 and int(r.headers["X-Total"]) > 0, r.text[:300]
        r = api.post(url + "/api/v1/query", json=inbox)
        print(f"inbox total: {r.headers['X-Total']} alerts")

        def v0():
            r = api.post(url + "/api/alert/_search", params={"range": "0-15", "sort": "-createdAt"},
                         json={"query": {"_and": [{"status": "New"}, {"_gte": {"severity": 3}}, {"tags": "phishing"}]}})
            assert r.status_code == 200 and "X-Total" in r.headers, r.text[:300]

        browser = requests.Session()
        browser.post(url + "/api/v1/login", json={"user": "alice@soc.test", "password": "Correct-horse-42"}).raise_for_status()
        case = api.post(url + "/api/v1/query", json={"query": [{"_name": "listCase"}, {"_name": "page", "from": 0, "to": 1}]}).json()[0]

        def page(path):
            def get():
                r = browser.get(url + path, allow_redirects=False)
                assert r.status_code == 200, (path, r.status_code)
            return get

        rows = [
            ("Query API inbox, page of 15 with total", q),
            ("v0 _search inbox, page of 15 with X-Total", v0),
            ("console /alerts?quick=new&tag=phishing&severity=3", page("/alerts?quick=new&tag=phishing&severity=3")),
            ("console /alerts (all, total of every alert)", page("/alerts")),
            ("console /alerts?quick=new", page("/alerts?quick=new")),
            ("console /cases", page("/cases")),
            (f"console case page (details), 1 of {a.cases:,}", page(f"/cases/{case['_id']}")),
            ("console case page (tasks)", page(f"/cases/{case['_id']}?tab=tasks")),
        ]
        print(f"\n| request ({a.alerts:,} alerts, {a.cases:,} cases, PostgreSQL) | p50 | p99 | max |\n|---|---|---|---|")
        for label, fn in rows:
            p50, p99, mx = timed(fn, a.n)
            print(f"| {label} | {p50:.1f} ms | {p99:.1f} ms | {mx:.1f} ms |")

        html = browser.get(url + "/alerts?quick=new").content
        css = browser.get(url + "/ui/app.css").content
        js = browser.get(url + "/ui/app.js").content
        print(f"\nweight of the alert list: HTML {len(html) / 1024:.1f} KiB + CSS {len(css) / 1024:.1f} KiB + "
              f"JS {len(js) / 1024:.1f} KiB = {(len(html) + len(css) + len(js)) / 1024:.1f} KiB (uncompressed)")

        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            print("(no playwright: the browser timing is skipped)")
            return
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"])
            ctx = b.new_context()
            ctx.add_cookies([{"name": k, "value": v, "url": url} for k, v in browser.cookies.items()])
            pg = ctx.new_page()
            interactive, ready = [], []
            for _ in range(22):
                pg.goto(url + "/alerts?quick=new")
                t = pg.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
                    return [n.domInteractive, n.domContentLoadedEventEnd]; }""")
                interactive.append(t[0])
                ready.append(t[1])
            b.close()
        interactive, ready = interactive[2:], ready[2:]
        print(f"headless Chromium, /alerts?quick=new: interactive after {statistics.median(interactive):.0f} ms, "
              f"script done after {statistics.median(ready):.0f} ms (median of 20 loads)")
        print(f"hive-service RSS: {int(open(f'/proc/{proc.pid}/status').read().split('VmRSS:')[1].split()[0]) / 1024:.1f} MB")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if a.keep:
            print(f"database kept: {db}")
        else:
            psql(a.pg, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
