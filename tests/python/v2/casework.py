"""Shared set-up for the case-work tests (alerts, cases, observables, tasks, templates).

It builds the tenant thehive4py's own integration suite works in: organisation `main-org`, the
platform administrator made `org-admin` there (default) and kept `admin` of the `admin`
organisation. Case work goes through a client on `main-org`; custom field definitions are
created through a client on `admin`.

The clients do not retry (`max_retries=0`): a 5xx is then reported at once instead of after
thehive4py's five silent replays, and a 4xx is never retried anyway.
"""
import hashlib

from thehive4py import TheHiveApi
from thehive4py.helpers import now_to_ts

ADMIN = "admin@thehive.local"
PASSWORD = "secret"
MAIN_ORG = "main-org"


def client(hive, organisation):
    return TheHiveApi(url=hive.url, username=ADMIN, password=PASSWORD, organisation=organisation,
                      max_retries=0)


def tenant(hive, *other_orgs):
    """Creates `main-org` (and `other_orgs`, where the administrator is org-admin too) and
    returns a client on `main-org`."""
    root = TheHiveApi(url=hive.url, username=ADMIN, password=PASSWORD, max_retries=0)
    for name in (MAIN_ORG, *other_orgs):
        root.organisation.create({"name": name, "description": f"{name} for testing"})
    memberships = [{"organisation": MAIN_ORG, "profile": "org-admin", "default": True},
                   {"organisation": "admin", "profile": "admin"}]
    memberships += [{"organisation": name, "profile": "org-admin"} for name in other_orgs]
    root.user.set_organisations(root.user.get_current()["_id"], memberships)
    return client(hive, MAIN_ORG)


def admin_client(hive):
    """A client on the `admin` organisation (custom field definitions)."""
    return client(hive, "admin")


def error_of(excinfo):
    """(HTTP status, error type) of a `pytest.raises(TheHiveError)` result."""
    response = excinfo.value.response
    return response.status_code, response.json()["type"]


def sha256(content):
    return hashlib.sha256(content).hexdigest()


def recent(timestamp, within_ms=120_000):
    """True if `timestamp` (epoch ms) is within the last couple of minutes."""
    return isinstance(timestamp, int) and 0 <= now_to_ts() - timestamp < within_ms


def without(entity, *keys):
    return {k: v for k, v in entity.items() if k not in keys}


def case_view(case):
    """A case as compared between two reads: TheHive's own suite ignores `timeToDetect`."""
    return without(case, "timeToDetect")


def cf_values(entity):
    """The custom field values of a case or an alert as {name: (type, value)}."""
    values = entity.get("customFields", [])
    for v in values:
        assert set(v) >= {"_id", "name", "type", "value", "order"}, v
    return {v["name"]: (v["type"], v["value"]) for v in values}
