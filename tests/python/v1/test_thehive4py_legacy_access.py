"""What the legacy v0 API lets one organisation or user see of another's work, and searches
whose answer must not depend on where they are evaluated (SQL or memory), driven by thehive4py
1.8.2 on SQLite and PostgreSQL. Proven:

* a case shared with another organisation without its observables (`manual` rules) shows that
  organisation none of them: not in `get_case_observables`, not through `get_linked_cases`
  (`linkedWith`), not as `similarCases` of its own alerts, and its files do not download
  (`/api/datastore`); once the file observable is shared, its file downloads there;
* a file of a case restricted to some users does not download for another analyst of the
  same organisation, while it does for a user of the case;
* searches: a negation over a field some cases lack (`endDate`, `owner`), tags compared
  case-sensitively, an empty `_or`, an `_in` of 1,500 values (SQLite's expression depth is
  1,000), a comparison with null (`case: null`), and at most 8 `_parent`/`_child` clauses.
"""
from thehive4py.models import Alert, AlertArtifact, Case, CaseObservable
from thehive4py.query import Eq

from legacy import (ADMIN, ORG, admin_api, api_user, expect, expect_error, hashes, key_api,
                    search, tenant, v1)

IP = "198.51.100.23"
OTHER = "other"


def two_organisations(hive):
    """`soc` (the administrator's default) and `other`, where the administrator is org-admin."""
    tenant(hive)
    expect(v1(hive, "POST", "/api/v1/organisation", org="admin",
              json={"name": OTHER, "description": "another SOC"}), 201)
    me = expect(v1(hive, "GET", "/api/v1/user/current", org="admin"), 200)
    r = v1(hive, "PUT", f"/api/v1/user/{me['_id']}/organisations", org="admin", json={"organisations": [
        {"organisation": ORG, "profile": "org-admin", "default": True},
        {"organisation": OTHER, "profile": "org-admin"},
        {"organisation": "admin", "profile": "admin"}]})
    assert r.status_code in (200, 204), r.text
    return admin_api(hive), admin_api(hive, organisation=OTHER)


def new_case(api, title):
    return expect(api.create_case(Case(title=title, description=f"about {title}")), 201)


def add(api, case_id, observable):
    [created] = expect(api.create_case_observable(case_id, observable), 201)
    return created


def test_unshared_observables_stay_hidden_and_shared_files_download(hive, tmp_path):
    soc, other = two_organisations(hive)
    secret = b"the reported message, only for soc\n"
    path = tmp_path / "evidence.eml"
    path.write_bytes(secret)
    c1 = new_case(soc, "shared case")
    add(soc, c1["id"], CaseObservable(dataType="ip", data=IP))
    evidence = add(soc, c1["id"], CaseObservable(dataType="file", data=str(path)))
    c2 = new_case(soc, "another soc case")
    add(soc, c2["id"], CaseObservable(dataType="ip", data=IP))
    for case in (c1, c2):
        expect(v1(hive, "POST", f"/api/v1/case/{case['id']}/shares",
                  json={"shares": [{"organisation": OTHER, "profile": "analyst",
                                    "observableRule": "manual", "taskRule": "manual"}]}), 201)
    # soc itself sees the link between its two cases.
    [link] = expect(soc.get_linked_cases(c1["id"]), 200)
    assert link["id"] == c2["id"] and [o["data"] for o in link["linkedWith"]] == [IP]

    # other sees the cases, none of their observables.
    assert expect(other.get_case(c1["id"]), 200)["title"] == "shared case"
    assert expect(other.get_case_observables(c1["id"]), 200) == []
    assert expect(other.get_linked_cases(c1["id"]), 200) == []
    alert = expect(other.create_alert(Alert(title="seen here too", type="test", source="unit",
                                            sourceRef="o-1", description="same ip",
                                            artifacts=[AlertArtifact(dataType="ip", data=IP)])), 201)
    assert expect(other.get_alert(alert["id"], similar_cases=True), 200)["similarCases"] == []
    sha = hashes(secret)[0]
    expect_error(other.download_attachment(sha, "evidence.eml"), 404, "NotFoundError")
    expect_error(v1(hive, "GET", f"/api/v1/attachment/{sha}/download", org=OTHER), 404, "NotFoundError")

    # Shared, the file observable is seen and its file downloads in other.
    expect(v1(hive, "POST", f"/api/v1/observable/{evidence['id']}/shares",
              json={"organisations": [OTHER]}), 204)
    assert [o["id"] for o in expect(other.get_case_observables(c1["id"]), 200)] == [evidence["id"]]
    downloaded = other.download_attachment(sha, "evidence.eml")
    assert downloaded.status_code == 200 and downloaded.content == secret
    # The IP of c1 is still not shared: c2 is no linked case of c1 for other.
    assert expect(other.get_linked_cases(c1["id"]), 200) == []


def test_restricted_case_files_do_not_download_for_other_analysts(hive, tmp_path):
    tenant(hive)
    soc = admin_api(hive)
    analyst = key_api(hive, api_user(hive, "analyst@soc.test", "analyst"))
    secret = b"only the handlers of this case may read this\n"
    path = tmp_path / "hr-report.pdf"
    path.write_bytes(secret)
    case = new_case(soc, "restricted case")
    add(soc, case["id"], CaseObservable(dataType="file", data=str(path)))
    sha = hashes(secret)[0]
    assert analyst.download_attachment(sha, "hr-report.pdf").content == secret  # not yet restricted
    r = v1(hive, "POST", f"/api/v1/case/{case['id']}/access",
           json={"access": {"_kind": "UserAccessKind", "users": [ADMIN]}})
    assert r.status_code in (200, 204), r.text
    expect_error(analyst.download_attachment(sha, "hr-report.pdf"), 404, "NotFoundError")
    expect_error(analyst.download_attachment(sha, "hr-report.pdf", archive=True), 404, "NotFoundError")
    assert soc.download_attachment(sha, "hr-report.pdf").content == secret


def test_searches_answer_the_same_wherever_they_run(hive):
    tenant(hive)
    api = admin_api(hive)
    closed = new_case(api, "edge closed")
    open_ = new_case(api, "edge open")
    r = v1(hive, "PATCH", f"/api/case/{closed['id']}",
           json={"tags": ["x"], "status": "Resolved", "resolutionStatus": "FalsePositive"})
    assert expect(r, 200)["endDate"]
    expect(v1(hive, "PATCH", f"/api/case/{open_['id']}", json={"tags": ["X"]}), 200)
    # The open case has no owner and no end date.
    expect(v1(hive, "PATCH", f"/api/v1/case/{open_['id']}", json={"assignee": None}), 204)
    assert "owner" not in expect(api.get_case(open_["id"]), 200)
    pair = {"_in": {"_field": "title", "_values": ["edge closed", "edge open"]}}

    def titles(query):
        return sorted(c["title"] for c in expect(search(hive, "case", query, range="all"), 200))

    both = ["edge closed", "edge open"]
    # `endDate` is missing on the open case: "not before 5" holds for it.
    assert titles({"_and": [pair, {"_not": {"_lt": {"_field": "endDate", "_value": 5}}}]}) == both
    assert titles({"_and": [pair, {"_not": {"owner": "nobody@soc.test"}}]}) == both
    # Tags are compared case-sensitively.
    assert titles({"_and": [pair, {"tags": "X"}]}) == ["edge open"]
    assert titles({"_and": [pair, {"_not": {"tags": "X"}}]}) == ["edge closed"]
    # One of nothing never holds.
    assert titles({"_and": [pair, {"_or": []}]}) == []
    assert titles({"_and": [pair, {"_not": {"_or": []}}]}) == both
    # A long `_in` (SQLite's expression depth is 1,000).
    many = [f"no such title {i}" for i in range(1500)] + both
    assert titles({"_in": {"_field": "title", "_values": many}}) == both
    ids = [f"~{i}" for i in range(1500)] + [closed["id"]]
    assert titles({"_in": {"_field": "_id", "_values": ids}}) == ["edge closed"]

    # A comparison with null: alerts not in a case.
    loose = expect(api.create_alert(Alert(title="loose", type="t", source="s", sourceRef="n-1",
                                          description="d")), 201)
    taken = expect(api.create_alert(Alert(title="taken", type="t", source="s", sourceRef="n-2",
                                          description="d")), 201)
    expect(api.promote_alert_to_case(taken["id"]), 201)
    found = expect(search(hive, "alert", {"_and": [{"source": "s"}, {"case": None}]}, range="all"), 200)
    assert [a["id"] for a in found] == [loose["id"]]
    assert [a["id"] for a in expect(api.find_alerts(query=Eq("status", "New")), 200)] == [loose["id"]]

    # Each _parent/_child clause is a search of its own: at most 8.
    nine = {"_or": [{"_parent": {"_type": "case", "_query": {"title": f"t{i}"}}} for i in range(9)]}
    expect_error(search(hive, "case/task", nine), 400, "SearchError")
    eight = {"_or": [{"_parent": {"_type": "case", "_query": {"title": f"t{i}"}}} for i in range(8)]}
    assert expect(search(hive, "case/task", eight), 200) == []
