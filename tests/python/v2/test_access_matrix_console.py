"""The access matrix of the analyst console (issue 17): every console route has its row, and each
kind of caller of the API's access matrix (test_access_matrix.py, same world) gets, through the
console's pages, exactly what the API lets it read: a page of an object it cannot see answers
404, and no list, search or page shows the id of an object it cannot see. Without a session a
page sends the browser to the login page; an API key is not a console session.

Every route registered by hive-service/src/console/mod.rs must have a row in PAGES (the test
reads the registration itself), as every API operation has one in ROWS."""
import re
import pathlib
from urllib.parse import quote

import pytest
import requests

from tenants import PASSWORD
from test_access_matrix import CALLERS, KIND_OF, PROFILE, SEES, World, grants, world_ids

CONSOLE_SRC = pathlib.Path(__file__).resolve().parents[3] / "hive-service" / "src" / "console" / "mod.rs"
PEOPLE = CALLERS[:8]


@pytest.fixture
def backend():
    # The pages read through the same query layer as the API, whose matrix runs on both
    # databases; once here is enough.
    return "sqlite"


@pytest.fixture
def world(hive):
    return World(hive)


def session_of(world, who):
    s = requests.Session()
    r = s.post(world.url + "/api/v1/login", json={"user": world.logins[who], "password": PASSWORD})
    assert r.status_code == 200, (who, r.status_code, r.text)
    return s


def visible(who, name):
    return who in SEES[KIND_OF[name]]


# Each console route: how to call it, and what each caller must get. `one` routes take the
# world's objects of a kind; `list` routes must show no object the caller cannot see.
PAGES = {
    "/": {"paths": ["/"], "kind": "home"},
    "/login": {"paths": ["/login"], "kind": "public"},
    "/ui/{file}": {"paths": ["/ui/app.js", "/ui/app.css"], "kind": "public"},
    "/alerts": {"paths": ["/alerts", "/alerts?quick=new", "/alerts?tag=t&sort=severity&dir=asc"], "kind": "list"},
    "/alerts/{id}": {"objects": ["A1", "A2"], "path": "/alerts/{}", "kind": "one"},
    "/cases": {"paths": ["/cases", "/cases?quick=shared", "/cases?quick=open"], "kind": "list"},
    "/cases/{id}": {"objects": ["K1", "K2"], "kind": "one",
                    "path": ["/cases/{}", "/cases/{}?tab=tasks", "/cases/{}?tab=observables", "/cases/{}?tab=ttps",
                             "/cases/{}?tab=timeline", "/cases/{}?tab=comments", "/cases/{}?tab=pages"]},
    "/observables/{id}": {"objects": ["O1", "O2", "AO1"], "path": "/observables/{}", "kind": "one"},
    "/tasks/{which}": {"paths": ["/tasks/mine", "/tasks/waiting"], "kind": "list"},
    "/search": {"paths": ["/search?q=K1", "/search?q=K2", "/search?q=10.1.2.3", "/search?q=a"], "kind": "list"},
    "/account": {"paths": ["/account"], "kind": "list"},
    "/new-case": {"paths": ["/new-case"], "kind": "list"},
    # Administration (issue 18): 403 without the permission the API asks for the same writes.
    "/admin": {"paths": ["/admin"], "kind": "admin-index"},
    "/admin/templates": {"paths": ["/admin/templates"], "kind": "list", "perm": "manageCaseTemplate"},
    "/admin/templates/{id}": {"objects": ["CT1"], "kind": "one", "perm": "manageCaseTemplate",
                              "path": ["/admin/templates/{}", "/admin/templates/new?from={}"]},
    "/admin/users": {"paths": ["/admin/users"], "kind": "list", "perm": "manageUser"},
    "/admin/platform": {"paths": ["/admin/platform"], "kind": "list", "perm": "platform:manageConfig"},
    "/admin/page-templates": {"paths": ["/admin/page-templates"], "kind": "list", "perm": "managePageTemplate"},
    "/admin/notifications": {"paths": ["/admin/notifications"], "kind": "list", "perm": "manageConfig"},
    "/admin/sharing": {"paths": ["/admin/sharing"], "kind": "list", "perm": "manageConfig"},
    "/admin/organisations": {"paths": ["/admin/organisations"], "kind": "list", "perm": "platform:manageOrganisation"},
    "/admin/profiles": {"paths": ["/admin/profiles"], "kind": "list", "perm": "platform:manageProfile"},
    "/admin/fields": {"paths": ["/admin/fields"], "kind": "list", "perm": "platform:manageCustomField"},
    "/admin/observable-types": {"paths": ["/admin/observable-types"], "kind": "list",
                                "perm": "platform:manageObservableTemplate"},
    # The ATT&CK catalogue: every signed-in user's (it holds no organisation's data).
    "/attack": {"paths": ["/attack", "/attack?q=T1566&tactic=initial-access", "/attack?q=%3Cscript%3E"],
                "kind": "list"},
}
# The first administration page each permission opens (console/admin.rs's PAGES, in order).
ADMIN_PAGES = [("/admin/templates", "manageCaseTemplate"), ("/admin/page-templates", "managePageTemplate"),
               ("/admin/users", "manageUser"), ("/admin/notifications", "manageConfig"),
               ("/admin/sharing", "manageConfig"), ("/admin/organisations", "platform:manageOrganisation"),
               ("/admin/profiles", "platform:manageProfile"), ("/admin/fields", "platform:manageCustomField"),
               ("/admin/observable-types", "platform:manageObservableTemplate"),
               ("/admin/platform", "platform:manageConfig")]


def allowed(who, perm):
    """Whether `who` holds `perm` (`platform:`: in the platform's admin organisation)."""
    if perm.startswith("platform:"):
        return who == "platform" and grants(PROFILE[who], perm.split(":", 1)[1])
    return grants(PROFILE[who], perm)


def registered_routes():
    return set(re.findall(r'\.route\(\s*"([^"]+)"', CONSOLE_SRC.read_text()))


def test_every_console_route_has_a_row():
    routes = registered_routes()
    assert routes, "no route found in " + str(CONSOLE_SRC)
    assert routes == set(PAGES), f"without a row: {routes - set(PAGES)}; rows of no route: {set(PAGES) - routes}"


def leaks(world, who, html):
    """The world's objects the page shows (by id) that `who` may not see."""
    names = world_ids(world)
    return sorted(name for i, name in names.items()
                  if name in KIND_OF and not visible(who, name) and shows(html, i))


def shows(html, i):
    """Whether a page holds an id, as text or in a link (URL-encoded: ~ as %7E)."""
    forms = {i, quote(i, safe=""), quote(i, safe="").replace("~", "%7E")}
    return any(re.search(re.escape(form) + r"\b", html, re.IGNORECASE) for form in forms)


def test_console_pages_show_each_caller_only_what_it_may_see(world):
    failures = []
    sessions = {who: session_of(world, who) for who in PEOPLE}
    for route, row in PAGES.items():
        if row["kind"] == "one":
            templates = row["path"] if isinstance(row["path"], list) else [row["path"]]
            calls = [(t.format(world.ids[name]), name) for name in row["objects"] for t in templates]
        else:
            calls = [(p, None) for p in row["paths"]]
        for path, name in calls:
            # Without a session, or with an API key only: the login page, never the data.
            for label, client in (("anonymous", requests.Session()), ("api key", requests.Session())):
                if label == "api key":
                    client.headers["Authorization"] = f"Bearer {world.keys['analyst']}"
                r = client.get(world.url + path, allow_redirects=False)
                if row["kind"] == "public":
                    if r.status_code != 200:
                        failures.append(f"{path} as {label}: {r.status_code}")
                elif r.status_code != 303 or not r.headers.get("Location", "").startswith("/login?next="):
                    failures.append(f"{path} as {label}: {r.status_code} {r.headers.get('Location')}")
                elif world.ids.get(name or "", "\0") in r.text:
                    failures.append(f"{path} as {label} shows {name}")
            for who in PEOPLE:
                r = sessions[who].get(world.url + path, allow_redirects=False)
                perm = row.get("perm")
                if row["kind"] == "home":
                    ok = r.status_code == 303 and r.headers.get("Location") == "/alerts"
                elif row["kind"] == "admin-index":
                    first = next((p for p, need in ADMIN_PAGES if allowed(who, need)), None)
                    ok = (r.status_code == 303 and r.headers.get("Location") == first) if first \
                        else r.status_code == 403
                elif perm and not allowed(who, perm):
                    ok = r.status_code == 403
                elif row["kind"] == "one":
                    want = 200 if visible(who, name) else 404
                    ok = r.status_code == want
                    if r.status_code == 200 and "Content-Security-Policy" in r.headers:
                        ok = ok and "'unsafe-inline'" not in r.headers["Content-Security-Policy"]
                elif route == "/search":
                    ok = r.status_code in (200, 303)
                    if r.status_code == 303:
                        target = r.headers.get("Location", "")
                        shown = [n for n in KIND_OF if world.ids.get(n) and world.ids[n] in target]
                        ok = all(visible(who, n) for n in shown)
                else:
                    ok = r.status_code == 200
                if not ok:
                    failures.append(f"{path} as {who}: {r.status_code} {r.headers.get('Location', '')}")
                if r.status_code == 200 and row["kind"] != "public":
                    shown = leaks(world, who, r.text)
                    if shown:
                        failures.append(f"{path} as {who} shows {shown}")
    # Not vacuous: the named analyst's case page of the restricted case opens, the outsider's not.
    assert sessions["analyst"].get(f"{world.url}/cases/{world.ids['K2']}").status_code == 200
    assert sessions["outsider"].get(f"{world.url}/cases/{world.ids['K2']}").status_code == 404
    # ...and the lead's template list shows alpha's template, the reader gets none.
    assert shows(sessions["admin"].get(f"{world.url}/admin/templates").text, world.ids["CT1"])
    assert sessions["reader"].get(f"{world.url}/admin/templates", allow_redirects=False).status_code == 403
    assert not failures, "\n".join(failures)
