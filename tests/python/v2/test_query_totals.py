"""Totals of the alert list (issue 17): a filter of one tag plus status, severity, read flag or
case is counted from the `alert_tags` index, kept by triggers; any other filter counts the
alerts themselves. Both must give the same total through every change an alert goes through
(created, retagged, read, imported into a case, severity changed, deleted), in the
organisation of the caller only. Runs on SQLite and PostgreSQL."""
import itertools
import uuid

from tenants import ADMIN, PASSWORD, Client


def total(c, *filters):
    ops = [{"_name": "listAlert"}]
    if filters:
        ops.append({"_name": "filter", "_and": list(filters)})
    ops.append({"_name": "page", "from": 0, "to": 5, "extraData": ["total"]})
    r = c.post("/api/v1/query", json={"query": ops})
    assert r.status_code == 200, r.text
    return int(r.headers["X-Total"])


def eq(field, value):
    return {"_eq": {"_field": field, "_value": value}}


# A filter the tag index cannot answer (a title pattern matching every title): the same total,
# counted on the alerts.
EVERY_TITLE = {"_like": {"_field": "title", "_value": "*"}}


def check(c):
    cases = [
        [eq("tags", "phishing")],
        [eq("tags", "phishing"), eq("status", "New")],
        [eq("tags", "phishing"), eq("status", "New"), {"_gte": {"_field": "severity", "_value": 3}}],
        [eq("tags", "malware"), {"_lt": {"_field": "severity", "_value": 3}}],
        [eq("tags", "phishing"), eq("read", True)],
        [eq("tags", "phishing"), eq("imported", False), eq("read", False)],  # v0's status New
        [eq("tags", "phishing"), {"_not": eq("status", "Imported")}],
        [eq("tags", "phishing"), {"_or": [eq("severity", 1), eq("severity", 4)]}],
        [eq("tags", "phishing"), eq("tags", "malware")],  # two tags: counted on the alerts
    ]
    seen = []
    for filters in cases:
        fast, slow = total(c, *filters), total(c, *filters, EVERY_TITLE)
        assert fast == slow, (filters, fast, slow)
        seen.append(fast)
    return seen


def test_tag_totals_match_the_alerts_through_every_change(hive):
    root = Client(hive.url, basic=(ADMIN, PASSWORD))
    for o in ("tally", "other"):
        root.ok("POST", "/api/v1/organisation", json={"name": o, "description": o})
        root.ok("POST", "/api/v1/user", json={"login": f"lead@{o}.test", "name": "lead", "profile": "org-admin",
                                              "organisation": o, "password": PASSWORD})
    c = Client(hive.url, basic=("lead@tally.test", PASSWORD))
    other = Client(hive.url, basic=("lead@other.test", PASSWORD))
    ids = []
    for i, (sev, tags) in enumerate(itertools.product([1, 2, 3, 4], [["phishing"], ["malware"], ["phishing", "malware"], []])):
        a = c.ok("POST", "/api/v1/alert", json={"type": "t", "source": "s", "sourceRef": f"r{i}",
                                                "title": f"alert {i}", "description": "d", "severity": sev, "tags": tags})
        ids.append(a["_id"])
    # Another organisation's alerts never count.
    for i in range(5):
        other.ok("POST", "/api/v1/alert", json={"type": "t", "source": "s", "sourceRef": f"o{i}", "title": "x",
                                                "description": "d", "severity": 4, "tags": ["phishing"]})
    first = check(c)
    assert first[0] == 8 and first[2] == 4, first
    # Retag, read, severity, import into a case, delete: the totals follow.
    c.ok("PATCH", f"/api/v1/alert/{ids[1]}", json={"tags": ["phishing", "new-tag"]})
    c.ok("PATCH", f"/api/v1/alert/{ids[0]}", json={"tags": []})
    c.ok("POST", f"/api/alert/{ids[2]}/markAsRead")
    c.ok("PATCH", f"/api/v1/alert/{ids[4]}", json={"severity": 4})
    c.ok("POST", f"/api/v1/alert/{ids[8]}/case", json={})
    c.ok("DELETE", f"/api/v1/alert/{ids[12]}")
    after = check(c)
    assert after != first, "the changes changed no total"
    assert total(c, eq("tags", "new-tag")) == 1
    assert total(other, eq("tags", "phishing")) == 5
    assert total(c, eq("tags", "nothing-" + uuid.uuid4().hex)) == 0
