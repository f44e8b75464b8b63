"""The probe's findings on cortex-service (issue 13): sessions that outlive logout, lockouts as a
denial of service, bodies read before the caller is known, secrets in the access log, file names
reaching workers unchanged, and API keys read back by their owner (cortex4py's users.get_key)."""
import json
import os
import time

import requests
from cortex4py.api import Api

from conftest import CORTEX_ADMIN_KEY, make_org_user
from test_security_findings import attacker_session


def test_logout_ends_the_cortex_session(cortex):
    make_org_user(cortex.url, org="soc", login="lead")
    admin = Api(cortex.url, CORTEX_ADMIN_KEY)
    admin.users.set_password("lead", "lead-password")
    s = requests.Session()
    r = s.post(cortex.url + "/api/login", json={"user": "lead", "password": "lead-password"})
    assert r.status_code == 200
    token = r.json()["token"]
    cookie = s.cookies.get("CORTEX_SESSION")
    assert s.get(cortex.url + "/api/user/current").status_code == 200
    assert s.get(cortex.url + "/api/logout").status_code in (200, 204)
    assert requests.get(cortex.url + "/api/user/current", cookies={"CORTEX_SESSION": cookie}).status_code == 401
    assert requests.get(cortex.url + "/api/user/current",
                        headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_new_password_ends_the_cortex_sessions_opened_before_it(cortex):
    make_org_user(cortex.url, org="soc", login="lead")
    admin = Api(cortex.url, CORTEX_ADMIN_KEY)
    admin.users.set_password("lead", "lead-password")
    r = requests.post(cortex.url + "/api/login", json={"user": "lead", "password": "lead-password"})
    assert r.status_code == 200
    token = r.json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(cortex.url + "/api/user/current", headers=bearer).status_code == 200
    admin.users.set_password("lead", "another-password")
    assert requests.get(cortex.url + "/api/user/current", headers=bearer).status_code == 401
    r = requests.post(cortex.url + "/api/login", json={"user": "lead", "password": "another-password"})
    assert r.status_code == 200


def test_failed_cortex_logins_do_not_lock_out_the_owner(cortex):
    make_org_user(cortex.url, org="soc", login="lead")
    Api(cortex.url, CORTEX_ADMIN_KEY).users.set_password("lead", "lead-password")
    attacker = attacker_session()
    statuses = [attacker.post(cortex.url + "/api/login", json={"user": "lead", "password": f"g{i}"}).status_code
                for i in range(30)]
    assert set(statuses) <= {401, 429} and 429 in statuses, statuses
    r = requests.post(cortex.url + "/api/login", json={"user": "lead", "password": "lead-password"})
    assert r.status_code == 200, r.text


def test_cortex_knows_the_caller_before_reading_the_body(cortex):
    openapi = requests.get(cortex.url + "/api-docs/openapi.json").json()
    checked = 0
    for path, item in openapi["paths"].items():
        for method in ("post", "put", "patch"):
            if method not in item or path == "/api/login":
                continue
            r = requests.request(method.upper(), cortex.url + path.replace("{", "").replace("}", ""),
                                 data=b"{oops", headers={"Authorization": "Bearer wrong-key",
                                                         "Content-Type": "application/json"})
            assert r.status_code == 401 and r.json()["type"] == "AuthenticationError", (method, path, r.text)
            checked += 1
    assert checked > 10


def test_api_keys_are_read_back_by_their_owner_and_admins_only(cortex):
    key = make_org_user(cortex.url, org="soc", login="lead")
    other = make_org_user(cortex.url, org="other", login="stranger", roles=("read", "analyze"))
    admin = Api(cortex.url, CORTEX_ADMIN_KEY)
    assert Api(cortex.url, key).users.get_key("lead") == key
    assert admin.users.get_key("lead") == key
    r = requests.get(cortex.url + "/api/user/lead/key", headers={"Authorization": f"Bearer {other}"})
    assert r.status_code in (403, 404)
    # Keys are stored encrypted: the database holds neither key in clear.
    with open(os.path.join(cortex.dir, "db.sqlite"), "rb") if os.path.exists(os.path.join(cortex.dir, "db.sqlite")) else open(os.devnull, "rb") as f:
        raw = f.read()
    assert key.encode() not in raw and other.encode() not in raw
    time.sleep(0.3)
    with open(os.path.join(cortex.dir, "service.log")) as f:
        log = f.read()
    assert key not in log and CORTEX_ADMIN_KEY not in log


def test_uploaded_file_names_reach_workers_without_paths(engine, tmp_path):
    echo = engine.api.analyzers.enable("Echo_1_0", {"configuration": {}, "jobCache": 0})
    (tmp_path / "x.eml").write_bytes(b"From: a@b\r\n\r\nbody")
    for evil, expected in (("..", "file"), ("../../../etc/cron.d/evil.eml", "evil.eml"),
                           ("x/..", "file"), (".", "file")):
        with open(tmp_path / "x.eml", "rb") as f:
            r = requests.post(f"{engine.url}/api/analyzer/{echo.id}/run",
                              headers={"Authorization": f"Bearer {engine.key}"},
                              files={"_json": (None, json.dumps({"dataType": "file", "tlp": 2})),
                                     "attachment": (evil, f)})
        assert r.status_code == 200, r.text
        job = r.json()
        deadline = time.time() + 60
        while time.time() < deadline:
            rep = requests.get(f"{engine.url}/api/job/{job['id']}/waitreport?atMost=10second",
                               headers={"Authorization": f"Bearer {engine.key}"}).json()
            if rep.get("status") in ("Success", "Failure"):
                break
        assert rep["status"] == "Success", rep
        name = rep["report"]["full"]["filename"]
        assert name == expected, (evil, name)


def test_cortex_cookie_writes_need_the_session_csrf_token(cortex):
    """As on hive-service: a change made with the session cookie alone (or with a header a page of
    another site could be made to send, or a wrong token) is refused, and nothing is written."""
    make_org_user(cortex.url, org="soc", login="lead")
    admin = Api(cortex.url, CORTEX_ADMIN_KEY)
    admin.users.set_password("lead", "lead-password")
    s = requests.Session()
    r = s.post(cortex.url + "/api/login", json={"user": "lead", "password": "lead-password"})
    assert r.status_code == 200
    for headers in ({}, {"X-Requested-With": "XMLHttpRequest"}, {"X-CSRF-Token": "00" * 32}):
        r = s.post(cortex.url + "/api/user", json={"login": "forged", "name": "Forged", "roles": ["read"]},
                   headers=headers)
        assert r.status_code == 403, (headers, r.status_code, r.text)
    assert requests.get(cortex.url + "/api/user/forged",
                        headers={"Authorization": f"Bearer {CORTEX_ADMIN_KEY}"}).status_code == 404
