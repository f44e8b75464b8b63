"""Authentication and secrets (issue 13, and the lessons of ../shared/spec/security-lessons.md
4.3 that this codebase has the surface for): TOTP as TheHive 4 and 5 offer it, with attempt
limits; API keys read back by their owner and admins, kept encrypted; sessions that end at a
lock or a removed membership; CSRF on cookie sessions; enumeration by response and timing;
security headers on every answer; secrets never in logs or answers. SQLite and PostgreSQL."""
import base64
import hashlib
import hmac
import os
import statistics
import struct
import subprocess
import re
import time
from urllib.parse import urlparse

import pytest
import requests

from tenants import ADMIN, PASSWORD, Client, Tenants
from test_security_findings import FromAddress


def totp(secret, at=None, step=0):
    """RFC 6238 (SHA-1, 6 digits, 30 s), independent of the service's implementation."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int((at if at is not None else time.time()) // 30) + step
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def login(hive, user, password, code=None, session=None):
    body = {"user": user, "password": password}
    if code is not None:
        body["code"] = code
    return (session or requests).post(hive.url + "/api/v1/login", json=body)


def from_address(address):
    s = requests.Session()
    s.mount("http://", FromAddress(address))
    return s


def test_totp_as_thehive_5_sets_it_up_and_login_needs_the_code(hive):
    t = Tenants(hive)
    user = t.logins[("alpha", "analyst")]
    me = t.as_("alpha", "analyst")
    got = me.ok("GET", "/api/v1/auth/totp/get")
    secret, uri = got["secret"], got["uri"]
    assert len(secret) == 32 and uri.startswith(f"otpauth://totp/TheHive:{user}?secret={secret}")
    r = me.post("/api/v1/auth/totp/set", json={"code": int(totp(secret, step=5)), "secret": secret})
    assert (r.status_code, r.json()["type"]) == (401, "AuthenticationError")
    assert me.post("/api/v1/auth/totp/set", json={"code": int(totp(secret)), "secret": secret}).status_code == 204
    assert me.ok("GET", "/api/v1/user/current")["hasMFA"] is True
    assert me.post("/api/v1/auth/totp/set", json={}).status_code == 400  # already configured

    r = login(hive, user, PASSWORD)
    assert (r.status_code, r.json()["type"]) == (402, "MultiFactorCodeRequired")
    r = login(hive, user, PASSWORD, "000000" if totp(secret) != "000000" else "111111")
    assert (r.status_code, r.json()["type"]) == (401, "AuthenticationError")
    # The code of the next step is valid now (skew); the one used at set-up is not again.
    code = totp(secret, step=1)
    r = login(hive, user, PASSWORD, code)
    assert r.status_code == 200, r.text
    assert login(hive, user, PASSWORD, code).status_code == 401, "a code is taken once"
    # A wrong password is a wrong password, whatever the code.
    assert login(hive, user, "wrong", totp(secret)).status_code == 401
    # Basic auth takes password:code; API keys are not asked for a code.
    assert requests.get(hive.url + "/api/v1/user/current", auth=(user, PASSWORD)).status_code == 402
    time.sleep(30 - time.time() % 30 + 0.5)  # a fresh step, then the one after (not used yet)
    r = requests.get(hive.url + "/api/v1/user/current", auth=(user, f"{PASSWORD}:{totp(secret, step=1)}"))
    assert r.status_code == 200, r.text
    assert me.ok("GET", "/api/v1/user/current")["login"] == user


def test_totp_codes_are_limited_and_an_admin_unsets_the_secret(hive):
    t = Tenants(hive)
    user = t.logins[("alpha", "analyst")]
    me = t.as_("alpha", "analyst")
    # TheHive 4's form: the first call hands out the secret, the second confirms it.
    first = me.ok("POST", "/api/v1/auth/totp/set", json={})
    secret = first["secret"]
    r = me.post("/api/v1/auth/totp/set", json={})
    assert (r.status_code, r.json()["type"]) == (402, "MultiFactorCodeRequired")
    assert me.post("/api/v1/auth/totp/set", json={"code": int(totp(secret))}).status_code == 204
    wrong = "000000" if totp(secret) != "000000" else "111111"
    statuses = [login(hive, user, PASSWORD, wrong).status_code for _ in range(7)]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429], statuses
    assert login(hive, user, PASSWORD, totp(secret)).status_code == 429, "locked for codes, not for ever"
    # An org-admin of another organisation cannot unset it; the user's own can.
    assert t.as_("beta", "admin").post(f"/api/v1/auth/totp/unset/{user}").status_code in (403, 404)
    assert t.as_("alpha", "admin").post(f"/api/v1/auth/totp/unset/{user}").status_code == 204
    assert me.ok("GET", "/api/v1/user/current")["hasMFA"] is False


def test_api_keys_are_read_back_by_owner_and_admins_and_kept_encrypted(hive, backend):
    t = Tenants(hive)
    login_ = t.logins[("alpha", "analyst")]
    key = t.keys[("alpha", "analyst")]
    assert t.as_("alpha", "analyst").ok("GET", f"/api/v1/user/{login_}/key").text == key
    assert t.as_("alpha", "admin").ok("GET", f"/api/v1/user/{login_}/key").text == key
    assert t.root.ok("GET", f"/api/v1/user/{login_}/key").text == key
    for who in (("beta", "admin"), ("alpha", "reader")):
        r = t.as_(*who).get(f"/api/v1/user/{login_}/key")
        assert r.status_code in (403, 404), (who, r.status_code)
    t.root.ok("DELETE", f"/api/v1/user/{login_}/key")
    r = t.root.get(f"/api/v1/user/{login_}/key")
    assert (r.status_code, r.json()["type"]) == (404, "NotFoundError")
    # At rest: neither the keys nor their digests' preimages are in the database in clear.
    keys = [k for k in t.keys.values()]
    if backend == "sqlite":
        with open(os.path.join(hive.dir, "db.sqlite"), "rb") as f:
            raw = f.read()
        for name in os.listdir(hive.dir):
            if name.startswith("db.sqlite-wal"):
                with open(os.path.join(hive.dir, name), "rb") as f:
                    raw += f.read()
    else:
        url = hive.env["HIVE__DATABASE__URL"]
        u = urlparse(url)
        raw = subprocess.run(["psql", "-h", u.hostname, "-p", str(u.port or 5432), "-U", u.username or "postgres",
                              "-d", u.path[1:], "-At", "-c", "SELECT api_key_secret, api_key_hash FROM users"],
                             capture_output=True, text=True, check=True).stdout.encode()
    assert raw, "the database was read"
    for k in keys:
        assert k.encode() not in raw
    key_file = os.path.join(hive.dir, "encryption.key")
    assert os.stat(key_file).st_mode & 0o777 == 0o600


def test_sessions_end_when_the_user_is_locked_or_loses_the_membership(hive):
    t = Tenants(hive)
    t.add_user("both@alpha.test", [("alpha", "analyst"), ("beta", "analyst")])
    for action in ("lock", "membership"):
        r = login(hive, t.logins[("alpha", "analyst")] if action == "lock" else "both@alpha.test", PASSWORD)
        assert r.status_code == 200
        token = r.json()["token"]
        session = Client(hive.url, key=token)
        assert session.get("/api/v1/user/current").status_code == 200
        if action == "lock":
            t.as_("alpha", "admin").ok("PATCH", f"/api/v1/user/{t.logins[('alpha', 'analyst')]}", json={"locked": True})
            t.as_("alpha", "admin").ok("PATCH", f"/api/v1/user/{t.logins[('alpha', 'analyst')]}", json={"locked": False})
        else:
            t.as_("alpha", "admin").ok("DELETE", "/api/v1/user/both@alpha.test/force", params={"organisation": "alpha"})
        assert session.get("/api/v1/user/current").status_code == 401, action


def test_a_new_password_ends_the_sessions_opened_before_it(hive):
    t = Tenants(hive)
    analyst = t.logins[("alpha", "analyst")]
    r = login(hive, analyst, PASSWORD)
    assert r.status_code == 200
    before = Client(hive.url, key=r.json()["token"])
    assert before.get("/api/v1/user/current").status_code == 200
    t.as_("alpha", "admin").ok("POST", f"/api/v1/user/{analyst}/password/set",
                               json={"password": "a-new-password-2026"})
    assert before.get("/api/v1/user/current").status_code == 401
    r = login(hive, analyst, "a-new-password-2026")
    assert r.status_code == 200
    assert Client(hive.url, key=r.json()["token"]).get("/api/v1/user/current").status_code == 200


def csrf_token_of(session, url):
    """The CSRF token a console page gives its session (what the console's script sends)."""
    page = session.get(url + "/alerts")
    assert page.status_code == 200, page.status_code
    return re.search(r'<meta name="csrf-token" content="([0-9a-f]{64})">', page.text).group(1)


def test_cookie_sessions_need_the_session_csrf_token_a_cross_site_form_cannot_send(hive):
    s = requests.Session()
    r = s.post(hive.url + "/api/v1/login", json={"user": ADMIN, "password": PASSWORD})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    body = {"name": "csrf", "description": "x"}
    # No token, a header alone, a wrong token, another session's token: refused.
    other = requests.Session()
    other.post(hive.url + "/api/v1/login", json={"user": ADMIN, "password": PASSWORD})
    token, others = csrf_token_of(s, hive.url), csrf_token_of(other, hive.url)
    assert token != others
    for headers in ({}, {"X-Requested-With": "XMLHttpRequest"}, {"X-CSRF-Token": "00" * 32},
                    {"X-CSRF-Token": others}, {"X-CSRF-Token": "not hex"}):
        r = s.post(hive.url + "/api/v1/organisation", json=body, headers=headers)
        assert (r.status_code, r.json()["type"]) == (403, "AuthorizationError"), headers
    # Even with the token, a browser that says the request comes from another site is refused.
    for cross in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://evil.example"}):
        r = s.post(hive.url + "/api/v1/organisation", json=body, headers={"X-CSRF-Token": token, **cross})
        assert (r.status_code, r.json()["type"]) == (403, "AuthorizationError"), cross
        # Basic credentials a browser remembers are refused the same way (CVE-2025-48740).
        r = requests.post(hive.url + "/api/v1/organisation", json={"name": "csrf-basic", "description": "x"},
                          auth=(ADMIN, PASSWORD), headers=cross)
        assert (r.status_code, r.json()["type"]) == (403, "AuthorizationError"), cross
    r = s.post(hive.url + "/api/v1/organisation", json=body,
               headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "same-origin", "Origin": hive.url})
    assert r.status_code == 201
    assert requests.get(hive.url + "/api/v1/organisation/csrf", auth=(ADMIN, PASSWORD)).json()["name"] == "csrf"
    r = requests.get(hive.url + "/api/v1/organisation/csrf-basic", auth=(ADMIN, PASSWORD))
    assert r.status_code == 404, "nothing was created by the refused requests"
    # After logout the token opens nothing.
    s.post(hive.url + "/api/v1/logout", headers={"X-CSRF-Token": token})
    r = s.post(hive.url + "/api/v1/organisation", json={"name": "late", "description": "x"},
               headers={"X-CSRF-Token": token})
    assert r.status_code in (401, 403)


def test_unknown_users_and_wrong_passwords_look_the_same(hive):
    t = Tenants(hive)
    known = t.logins[("alpha", "analyst")]
    answers = set()
    timings = {"known": [], "unknown": []}
    for i in range(6):
        for kind, user in (("known", known), ("unknown", f"ghost{i}@nowhere.test")):
            s = from_address(f"127.0.0.{10 + i}")
            started = time.perf_counter()
            r = login(hive, user, "wrong-password", session=s)
            timings[kind].append(time.perf_counter() - started)
            answers.add((r.status_code, r.text))
        r = login(hive, known, "", session=from_address(f"127.0.1.{10 + i}"))
        answers.add((r.status_code, r.text))
    assert answers == {(401, '{"type":"AuthenticationError","message":"Authentication failure"}')}, answers
    # Unknown accounts are checked against a dummy hash: they take as long as known ones.
    assert statistics.median(timings["unknown"]) > 0.5 * statistics.median(timings["known"]), timings


def test_every_answer_carries_the_security_headers(hive):
    t = Tenants(hive)
    alpha = t.as_("alpha", "admin")
    k = alpha.ok("POST", "/api/v1/case", json={"title": "h", "description": "d"})
    obs = alpha.ok("POST", f"/api/v1/case/{k['_id']}/observable",
                   files={"_json": (None, '{"dataType": "file"}'),
                          "attachment": ("page.html", b"<script>alert(1)</script>", "text/html")})[0]
    answers = [requests.get(hive.url + "/api/status"), requests.get(hive.url + "/api/v1/user/current"),
               requests.get(hive.url + "/no/such/route"), alpha.get(f"/api/v1/case/{k['_id']}"),
               alpha.post("/api/v1/case", data=b"{bad"),
               alpha.get(f"/api/v1/observable/{obs['_id']}/attachment/{obs['attachment']['id']}/download")]
    for r in answers:
        h = r.headers
        assert h["X-Content-Type-Options"] == "nosniff", r.url
        assert "default-src 'none'" in h["Content-Security-Policy"] and "frame-ancestors 'none'" in h["Content-Security-Policy"]
        assert h["X-Frame-Options"] == "DENY" and h["Referrer-Policy"] == "no-referrer"
    download = answers[-1]
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in download.headers["Content-Security-Policy"]
    assert download.content == b"<script>alert(1)</script>"


def test_secrets_are_never_in_logs_or_answers(hive):
    t = Tenants(hive)
    login_ = t.logins[("alpha", "analyst")]
    admin = t.as_("alpha", "admin")
    admin.ok("POST", f"/api/v1/user/{login_}/password/set", json={"password": "Fresh-Password-42"})
    r = login(hive, login_, "Fresh-Password-42")
    token = r.json()["token"]
    secret = Client(hive.url, key=token).ok("GET", "/api/v1/auth/totp/get")["secret"]
    user = admin.ok("GET", f"/api/v1/user/{login_}")
    text = str(user) + r.text
    for field in ("password", "passwordHash", "key", "apiKey", "totp", "secret"):
        assert field not in user, field
    assert "Fresh-Password-42" not in text
    time.sleep(0.5)
    with open(os.path.join(hive.dir, "service.log")) as f:
        log = f.read()
    for s in ["Fresh-Password-42", PASSWORD + '"', token, secret, *t.keys.values()]:
        assert s not in log, s[:12]


def test_cortex_answers_carry_the_security_headers(cortex):
    for r in (requests.get(cortex.url + "/api/status"), requests.get(cortex.url + "/api/user/current")):
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]
