"""Two organisations on one hive-service, as an attacker probes them: `alpha` and `beta`, each
with an org-admin, an analyst and a read-only user (password `secret`, and an API key each),
plus `gamma`, an organisation that nothing is shared with. Plain `requests`, so that every
status and body is seen as sent; the platform administrator sets it all up."""
import requests

ADMIN = "admin@thehive.local"
PASSWORD = "secret"
PROFILES = {"admin": "org-admin", "analyst": "analyst", "reader": "read-only"}


class Client:
    """Requests to one hive-service as one caller (API key, Basic, or a session)."""

    def __init__(self, url, key=None, basic=None, organisation=None, session=None):
        self.url = url
        self.s = session or requests.Session()
        if key:
            self.s.headers["Authorization"] = f"Bearer {key}"
        if basic:
            self.s.auth = basic
        if organisation:
            self.s.headers["X-Organisation"] = organisation

    def request(self, method, path, **kw):
        kw.setdefault("timeout", 60)
        return self.s.request(method, self.url + path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def ok(self, method, path, status=(200, 201, 204), **kw):
        r = self.request(method, path, **kw)
        assert r.status_code in ((status,) if isinstance(status, int) else status), (
            method, path, r.status_code, r.text[:500])
        return r.json() if r.content and r.headers.get("content-type", "").startswith("application/json") else r

    def query(self, *ops):
        return self.post("/api/v1/query", json={"query": list(ops)})


class Tenants:
    """alpha/beta/gamma with their users; `users[org][role]` is a Client (API key)."""

    def __init__(self, hive):
        self.url = hive.url
        self.root = Client(hive.url, basic=(ADMIN, PASSWORD))
        self.logins = {}
        self.keys = {}
        self.users = {}
        for org in ("alpha", "beta", "gamma"):
            self.root.ok("POST", "/api/v1/organisation", json={"name": org, "description": f"{org} org"})
            self.users[org] = {}
            for role, profile in PROFILES.items():
                login = f"{role}@{org}.test"
                self.root.ok("POST", "/api/v1/user", json={
                    "login": login, "name": f"{org} {role}", "profile": profile,
                    "organisation": org, "password": PASSWORD})
                key = self.root.ok("POST", f"/api/v1/user/{login}/key/renew").text
                self.logins[(org, role)] = login
                self.keys[(org, role)] = key
                self.users[org][role] = Client(hive.url, key=key)

    def as_(self, org, role):
        return self.users[org][role]

    def add_user(self, login, memberships):
        """A user with several memberships [(org, profile)], password `secret`; its API key."""
        first_org, first_profile = memberships[0]
        self.root.ok("POST", "/api/v1/user", json={
            "login": login, "name": login, "profile": first_profile, "organisation": first_org,
            "password": PASSWORD})
        if len(memberships) > 1:
            self.root.ok("PUT", f"/api/v1/user/{login}/organisations", json={"organisations": [
                {"organisation": o, "profile": p, "default": i == 0} for i, (o, p) in enumerate(memberships)]})
        return self.root.ok("POST", f"/api/v1/user/{login}/key/renew").text
