"""Totals of the alert list (issue 17): a filter of one tag plus status, severity, read flag or
"in a case" is a sum over `alert_tag_counts` (delta rows kept by triggers, merged by the service
every few seconds); with a case id, a count of the `alert_tags` index; any other filter counts the
alerts themselves. All must give the same total through every change an alert goes through
(created, retagged, read, imported into a case, severity changed, deleted), before and after the
deltas are merged, in the organisation of the caller only; v0's `X-Total` too. Runs on SQLite
and PostgreSQL."""
import itertools
import time
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
        [eq("tags", "phishing"), {"_not": eq("imported", True)}, {"_gte": {"_field": "severity", "_value": 2}}],
    ]
    seen = []
    for filters in cases:
        fast, slow = total(c, *filters), total(c, *filters, EVERY_TITLE)
        assert fast == slow, (filters, fast, slow)
        seen.append(fast)
    # v0's inbox (status New: unread, in no case) answers the same X-Total.
    r = c.post("/api/alert/_search", params={"range": "0-5", "sort": "-createdAt"},
               json={"query": {"_and": [{"status": "New"}, {"tags": "phishing"}]}})
    assert r.status_code == 200, r.text
    v0 = int(r.headers["X-Total"])
    assert v0 == total(c, eq("tags", "phishing"), eq("imported", False), eq("read", False), EVERY_TITLE), v0
    seen.append(v0)
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
    # Once the service merged the deltas (every 5 s), the same totals; then more changes on top
    # of the merged rows.
    time.sleep(6)
    assert check(c) == after
    c.ok("PATCH", f"/api/v1/alert/{ids[5]}", json={"tags": ["phishing"], "severity": 1})
    c.ok("POST", f"/api/alert/{ids[6]}/markAsRead")
    c.ok("DELETE", f"/api/v1/alert/{ids[10]}")
    later = check(c)
    assert later != after, "the changes changed no total"
    time.sleep(6)
    assert check(c) == later
    # Merged: one counter row per combination, and they add up to the tag rows.
    key = "organisation_id, tag, status, severity, is_read, imported"
    assert hive.sql(f"SELECT {key} FROM alert_tag_counts GROUP BY {key} HAVING COUNT(*) > 1") == []
    [(counted,)] = hive.sql("SELECT SUM(n) FROM alert_tag_counts")
    [(rows,)] = hive.sql("SELECT COUNT(*) FROM alert_tags")
    assert int(counted) == int(rows) > 0, (counted, rows)
    assert total(c, eq("tags", "new-tag")) == 1
    assert total(other, eq("tags", "phishing")) == 5
    assert total(c, eq("tags", "nothing-" + uuid.uuid4().hex)) == 0


def test_list_extras_read_for_the_whole_page_match_each_row(hive):
    """taskStats and isOwner of a page of cases, actionRequired of a page of tasks: read once for
    the page, they must still be each row's own."""
    root = Client(hive.url, basic=(ADMIN, PASSWORD))
    root.ok("POST", "/api/v1/organisation", json={"name": "extras", "description": "x"})
    root.ok("POST", "/api/v1/user", json={"login": "lead@extras.test", "name": "lead", "profile": "org-admin",
                                          "organisation": "extras", "password": PASSWORD})
    c = Client(hive.url, basic=("lead@extras.test", PASSWORD))
    a = c.ok("POST", "/api/v1/case", json={"title": "A", "description": "d",
                                           "tasks": [{"title": "a1"}, {"title": "a2"}, {"title": "a3"}]})
    c.ok("POST", "/api/v1/case", json={"title": "B", "description": "d", "tasks": [{"title": "b1"}, {"title": "b2"}]})
    c.ok("POST", "/api/v1/case", json={"title": "C", "description": "no task"})
    tasks_a = c.post("/api/v1/query", json={"query": [{"_name": "getCase", "idOrName": a["_id"]}, {"_name": "tasks"}]}).json()
    by_title = {t["title"]: t for t in tasks_a}
    c.ok("PATCH", f"/api/v1/task/{by_title['a1']['_id']}", json={"status": "Completed"})
    c.ok("PATCH", f"/api/v1/task/{by_title['a2']['_id']}", json={"status": "InProgress"})
    c.ok("PUT", f"/api/v1/task/{by_title['a3']['_id']}/actionRequired/extras")

    page = c.post("/api/v1/query", json={"query": [
        {"_name": "listCase"}, {"_name": "page", "from": 0, "to": 10, "extraData": ["taskStats", "isOwner"]}]}).json()
    stats = {k["title"]: k["extraData"]["taskStats"] for k in page}
    assert stats["A"] == {"Completed": 1, "InProgress": 1, "Waiting": 1, "total": 3}, stats
    assert stats["B"] == {"Waiting": 2, "total": 2}, stats
    assert stats["C"] == {"total": 0}, stats
    assert all(k["extraData"]["isOwner"] is True for k in page)

    listed = c.post("/api/v1/query", json={"query": [
        {"_name": "getCase", "idOrName": a["_id"]}, {"_name": "tasks"},
        {"_name": "page", "from": 0, "to": 10, "extraData": ["actionRequired"]}]}).json()
    assert {t["title"]: t["extraData"]["actionRequired"] for t in listed} == {"a1": False, "a2": False, "a3": True}
