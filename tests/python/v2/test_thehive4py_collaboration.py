"""thehive4py 2.1.0, unmodified, works with what analysts share around a case: comments,
procedures (MITRE ATT&CK), case pages and page templates, the timeline, case links, sharing with
another organisation and per-user access, attachments, required task actions, similarity and
extraData in queries, and the default alert/case statuses."""
import pytest
from thehive4py import TheHiveApi
from thehive4py.errors import TheHiveError
from thehive4py.helpers import now_to_ts
from thehive4py.query.filters import Eq, In
from thehive4py.query.page import Paginate

from casework import (ADMIN, MAIN_ORG, admin_client, case_view, client, error_of, recent, sha256, tenant,
                      without)

HOUR = 3_600_000


def new_case(api, title="a case"):
    return api.case.create({"title": title, "description": "..."})


def alert_input(ref, **fields):
    return {"type": "test", "source": "unit", "sourceRef": ref, "title": f"alert {ref}",
            "description": f"description of {ref}", **fields}


def post(api, path, **kwargs):
    """A POST to /api/v1`path` through the client's own session (credentials and organisation),
    returning the `requests.Response` so the status code can be checked."""
    return api.session.request("POST", f"{api.session.hive_url}/api/v1{path}", **kwargs)


def by_id(entities):
    return sorted(entities, key=lambda e: e["_id"])


def extra_data(find, entity_id, *keys):
    """The extraData of one entity found with `find` (alert.find / case.find)."""
    [found] = find(filters=Eq("_id", entity_id), paginate=Paginate(start=0, end=10, extra_data=list(keys)))
    return found["extraData"]


def write_files(tmp_path, contents):
    paths = []
    for name, content in contents.items():
        (tmp_path / name).write_bytes(content)
        paths.append(str(tmp_path / name))
    return paths


# ---------------------------------------------------------------- comments

def test_comment_create_get_update_delete_in_a_case(hive):
    api = tenant(hive)
    case = new_case(api)
    response = post(api, f"/case/{case['_id']}/comment", json={"message": "first comment"})
    assert response.status_code == 201
    comment = response.json()
    assert comment["_type"] == "Comment" and comment["message"] == "first comment"
    assert comment["createdBy"] == ADMIN and recent(comment["createdAt"])
    assert "_createdBy" not in comment and "_createdAt" not in comment
    assert "updatedAt" not in comment and "updatedBy" not in comment
    assert comment["isEdited"] is False and comment["external"] is False
    assert api.comment.get(comment["_id"]) == comment

    second = api.comment.create_in_case(case["_id"], {"message": "second comment"})
    assert second["_id"] != comment["_id"] and second["isEdited"] is False
    assert api.comment.get(second["_id"]) == second
    assert by_id(api.case.find_comments(case["_id"])) == by_id([comment, second])
    assert api.case.find_comments(case["_id"], filters=Eq("message", "second comment")) == [second]
    assert api.case.find_comments(new_case(api, "no comments")["_id"]) == []

    assert api.comment.update(comment["_id"], {"message": "edited comment"}) == ""
    edited = api.comment.get(comment["_id"])
    assert (edited["message"], edited["isEdited"]) == ("edited comment", True)
    assert edited["updatedBy"] == ADMIN and edited["updatedAt"] >= comment["createdAt"]
    assert without(edited, "message", "isEdited", "updatedBy", "updatedAt") == without(comment, "message", "isEdited")
    assert api.comment.get(second["_id"]) == second

    assert api.comment.delete(comment["_id"]) == ""
    with pytest.raises(TheHiveError):
        api.comment.get(comment["_id"])  # the client turns an empty getComment result into an error
    assert api.query.run([{"_name": "getComment", "idOrName": comment["_id"]}]) == []
    assert api.case.find_comments(case["_id"]) == [second]
    with pytest.raises(TheHiveError) as e:
        api.comment.delete(comment["_id"])
    assert error_of(e) == (404, "NotFoundError")
    with pytest.raises(TheHiveError) as e:
        api.comment.create_in_case("~987654321", {"message": "orphan"})
    assert error_of(e) == (404, "NotFoundError")


def test_comment_in_an_alert_and_comment_find(hive):
    api = tenant(hive)
    alert = api.alert.create(alert_input("comment-1"))
    response = post(api, f"/alert/{alert['_id']}/comment", json={"message": "alert comment"})
    assert response.status_code == 201
    on_alert = response.json()
    assert on_alert["_type"] == "Comment" and on_alert["createdBy"] == ADMIN
    assert (on_alert["message"], on_alert["isEdited"]) == ("alert comment", False)
    assert api.comment.get(on_alert["_id"]) == on_alert
    assert api.alert.find_comments(alert["_id"]) == [on_alert]
    assert api.alert.find_comments(api.alert.create(alert_input("comment-2"))["_id"]) == []

    case = new_case(api)
    on_case = [api.comment.create_in_case(case["_id"], {"message": m}) for m in ("triage done", "contained")]
    second_alert_comment = api.comment.create_in_alert(alert["_id"], {"message": "contained"})
    everything = [on_alert, *on_case, second_alert_comment]
    assert by_id(api.comment.find()) == by_id(everything)
    assert by_id(api.comment.find(filters=Eq("message", "contained"))) == by_id([on_case[1], second_alert_comment])
    assert api.comment.find(filters=Eq("message", "nothing")) == []
    assert by_id(api.alert.find_comments(alert["_id"])) == by_id([on_alert, second_alert_comment])
    assert by_id(api.case.find_comments(case["_id"])) == by_id(on_case)


# ---------------------------------------------------------------- procedures

def test_procedure_in_a_case_create_get_update_delete(hive):
    api = tenant(hive)
    case = new_case(api)
    when = now_to_ts() - HOUR
    response = post(api, f"/case/{case['_id']}/procedure",
                    json={"occurDate": when, "patternId": "T1059.006", "tactic": "execution", "description": "..."})
    assert response.status_code == 201
    procedure = response.json()
    assert procedure["_createdBy"] == ADMIN and recent(procedure["_createdAt"])
    assert (procedure["patternId"], procedure["patternName"]) == ("T1059.006", "Python")
    assert (procedure["tactic"], procedure["tacticLabel"]) == ("execution", "Execution")
    assert (procedure["occurDate"], procedure["description"]) == (when, "...")
    assert "_updatedAt" not in procedure
    assert api.procedure.get(procedure["_id"]) == procedure
    assert api.case.find_procedures(case["_id"]) == [procedure]

    other = api.case.create_procedure(case["_id"], {"occurDate": when, "patternId": "T1566.001",
                                                    "tactic": "initial-access"})
    assert (other["patternName"], other["tacticLabel"]) == ("Spearphishing Attachment", "Initial Access")
    assert other.get("description") is None
    assert by_id(api.case.find_procedures(case["_id"])) == by_id([procedure, other])
    assert api.case.find_procedures(case["_id"], filters=Eq("patternId", "T1566.001")) == [other]

    later = now_to_ts()
    assert api.procedure.update(procedure["_id"], {"description": "updated procedure", "occurDate": later}) == ""
    updated = api.procedure.get(procedure["_id"])
    assert (updated["description"], updated["occurDate"]) == ("updated procedure", later)
    assert (updated["patternId"], updated["tactic"]) == ("T1059.006", "execution")
    assert updated["_updatedBy"] == ADMIN and updated["_updatedAt"] >= procedure["_createdAt"]
    api.procedure.update(procedure["_id"], {"patternId": "T1059.007"})
    assert api.procedure.get(procedure["_id"])["patternName"] == "JavaScript"

    assert api.procedure.delete(procedure["_id"]) == ""
    with pytest.raises(TheHiveError):
        api.procedure.get(procedure["_id"])  # the client turns an empty getProcedure result into an error
    assert api.query.run([{"_name": "getProcedure", "idOrName": procedure["_id"]}]) == []
    assert api.case.find_procedures(case["_id"]) == [other]
    with pytest.raises(TheHiveError) as e:
        api.procedure.delete(procedure["_id"])
    assert error_of(e) == (404, "NotFoundError")


def test_procedure_bulk_create_bulk_delete_and_find(hive):
    api = tenant(hive)
    case = new_case(api)
    when = now_to_ts()
    created = api.procedure.bulk_create_in_case(case["_id"], [
        {"occurDate": when, "patternId": "T1566", "tactic": "initial-access", "description": "Phishing"},
        {"occurDate": when, "patternId": "T1059.007", "tactic": "execution", "description": "..."}])
    assert [(p["patternId"], p["patternName"], p["description"]) for p in created] == [
        ("T1566", "Phishing", "Phishing"), ("T1059.007", "JavaScript", "...")]
    assert by_id(api.procedure.find(filters=In("_id", [p["_id"] for p in created]))) == by_id(created)
    assert by_id(api.case.find_procedures(case["_id"])) == by_id(created)

    alert = api.alert.create(alert_input("procedure-1"))
    on_alert = api.alert.create_procedure(alert["_id"], {"occurDate": when, "patternId": "T1059.006",
                                                         "tactic": "execution", "description": "..."})
    assert (on_alert["patternName"], on_alert["tacticLabel"]) == ("Python", "Execution")
    assert api.procedure.get(on_alert["_id"]) == on_alert
    assert api.alert.find_procedures(alert["_id"]) == [on_alert]
    more = api.procedure.bulk_create_in_alert(alert["_id"], [{"occurDate": when, "patternId": "T1566"}])
    assert [p["patternId"] for p in more] == ["T1566"]
    assert by_id(api.alert.find_procedures(alert["_id"])) == by_id([on_alert, *more])
    assert by_id(api.procedure.find()) == by_id([*created, on_alert, *more])
    assert by_id(api.procedure.find(filters=Eq("patternId", "T1566"))) == by_id([created[0], *more])

    assert api.procedure.bulk_delete([p["_id"] for p in created]) == ""
    for p in created:
        with pytest.raises(TheHiveError):
            api.procedure.get(p["_id"])
    assert api.case.find_procedures(case["_id"]) == []
    assert by_id(api.procedure.find()) == by_id([on_alert, *more])


def test_procedure_with_an_unknown_pattern_is_refused(hive):
    api = tenant(hive)
    case = new_case(api)
    with pytest.raises(TheHiveError) as e:
        api.case.create_procedure(case["_id"], {"occurDate": now_to_ts(), "patternId": "T9999",
                                                "tactic": "execution"})
    assert error_of(e) == (404, "NotFoundError")
    assert api.case.find_procedures(case["_id"]) == []
    alert = api.alert.create(alert_input("unknown-pattern"))
    with pytest.raises(TheHiveError) as e:
        api.alert.create_procedure(alert["_id"], {"occurDate": now_to_ts(), "patternId": "T9999"})
    assert error_of(e) == (404, "NotFoundError")
    assert api.procedure.find() == []


# ---------------------------------------------------------------- pages and page templates

def test_case_pages_create_update_delete_find(hive):
    api = tenant(hive)
    case = new_case(api)
    response = post(api, f"/case/{case['_id']}/page",
                    json={"title": "Notes", "category": "triage", "content": "# first notes"})
    assert response.status_code == 201
    page = response.json()
    assert page["_type"] == "Page" and page["_createdBy"] == ADMIN and recent(page["_createdAt"])
    assert (page["title"], page["category"], page["content"], page["order"]) == (
        "Notes", "triage", "# first notes", 0)
    assert api.case.find_pages(case["_id"]) == [page]

    summary = api.case.create_page(case["_id"], {"title": "Summary", "category": "report", "content": "...",
                                                 "order": 2})
    assert (summary["title"], summary["order"]) == ("Summary", 2)
    assert by_id(api.case.find_pages(case["_id"])) == by_id([page, summary])
    assert api.case.find_pages(case["_id"], filters=Eq("category", "report")) == [summary]
    assert api.case.find_pages(new_case(api, "without pages")["_id"]) == []

    assert api.case.update_page(case["_id"], page["_id"], {"title": "Updated notes", "content": "more"}) == ""
    [updated] = api.case.find_pages(case["_id"], filters=Eq("_id", page["_id"]))
    assert (updated["title"], updated["content"], updated["category"]) == ("Updated notes", "more", "triage")
    assert updated["_updatedBy"] == ADMIN and updated["_createdAt"] == page["_createdAt"]

    assert api.case.delete_page(case["_id"], page["_id"]) == ""
    assert api.case.find_pages(case["_id"]) == [summary]
    assert api.case.delete_page(case["_id"], summary["_id"]) == ""
    assert api.case.find_pages(case["_id"]) == []
    with pytest.raises(TheHiveError) as e:
        api.case.delete_page(case["_id"], page["_id"])
    assert error_of(e) == (404, "NotFoundError")

    # Pages can also come with the case (thehive4py's examples/case/pages_during_creation.py).
    with_pages = api.case.create({"title": "with pages", "description": "...", "pages": [
        {"title": "Notes", "category": "default", "content": "Some notes."},
        {"title": "Summary", "category": "default", "content": "Some summary."}]})
    assert sorted(p["title"] for p in api.case.find_pages(with_pages["_id"])) == ["Notes", "Summary"]


def test_page_template_create_get_update_delete_find(hive):
    api = tenant(hive)
    response = post(api, "/pageTemplate", json={"title": "my page template", "category": "testing",
                                                "content": "..."})
    assert response.status_code == 201
    template = response.json()
    assert template["_type"] == "PageTemplate" and template["_createdBy"] == ADMIN
    assert (template["title"], template["category"], template["content"], template["order"]) == (
        "my page template", "testing", "...", 0)
    assert api.page_template.get(template["_id"]) == template

    second = api.page_template.create({"title": "report", "category": "reporting", "content": "## Report",
                                       "order": 1})
    assert api.page_template.get(second["_id"]) == second
    assert by_id(api.page_template.find()) == by_id([template, second])
    assert api.page_template.find(filters=Eq("category", "reporting")) == [second]

    assert api.page_template.update(template["_id"], {"title": "updated page template name",
                                                      "content": "updated page template description"}) == ""
    updated = api.page_template.get(template["_id"])
    assert (updated["title"], updated["content"], updated["category"]) == (
        "updated page template name", "updated page template description", "testing")
    assert updated["_updatedBy"] == ADMIN

    assert api.page_template.delete(template["_id"]) == ""
    with pytest.raises(TheHiveError):
        api.page_template.get(template["_id"])  # the client turns an empty getPageTemplate result into an error
    assert api.page_template.find() == [second]
    with pytest.raises(TheHiveError) as e:
        api.page_template.delete(template["_id"])
    assert error_of(e) == (404, "NotFoundError")


# ---------------------------------------------------------------- timeline

def events_of(api, case_id, entity_id):
    return [e for e in api.timeline.get(case_id)["events"] if e["entityId"] == entity_id]


def test_timeline_of_a_fresh_case(hive):
    api = tenant(hive)
    case = new_case(api)
    timeline = api.timeline.get(case["_id"])
    assert timeline["events"]
    for event in timeline["events"]:
        assert {"date", "kind", "entity", "entityId", "details"} <= set(event), event
        assert isinstance(event["date"], int) and isinstance(event["kind"], str)
    assert ("Case", case["_id"]) in [(e["entity"], e["entityId"]) for e in timeline["events"]]
    assert api.case.get_timeline(case["_id"]) == timeline

    task = api.case.create_task(case["_id"], {"title": "Collect"})
    when = now_to_ts() - 2 * HOUR
    procedure = api.case.create_procedure(case["_id"], {"occurDate": when, "patternId": "T1566",
                                                        "tactic": "initial-access"})
    assert "Task" in [e["entity"] for e in events_of(api, case["_id"], task["_id"])]
    assert [(e["entity"], e["date"]) for e in events_of(api, case["_id"], procedure["_id"])] == [("Procedure", when)]

    with pytest.raises(TheHiveError) as e:
        api.timeline.get("~987654321")
    assert error_of(e) == (404, "NotFoundError")


def test_timeline_custom_events(hive):
    api = tenant(hive)
    case = new_case(api)
    when = now_to_ts() - HOUR
    response = post(api, f"/case/{case['_id']}/customEvent", json={"date": when, "title": "custom timeline event"})
    assert response.status_code == 201
    event = response.json()
    assert event["_type"] == "CustomEvent" and event["_createdBy"] == ADMIN
    assert (event["date"], event["title"]) == (when, "custom timeline event")
    assert event.get("endDate") is None and event.get("description") is None
    [shown] = events_of(api, case["_id"], event["_id"])
    assert (shown["entity"], shown["date"]) == ("Custom", when)

    detailed = api.timeline.create_event(case["_id"], {"date": when, "endDate": when + HOUR, "title": "outage",
                                                       "description": "the mail server was down"})
    assert (detailed["endDate"], detailed["description"]) == (when + HOUR, "the mail server was down")

    later = now_to_ts()
    assert api.timeline.update_event(event["_id"], {"date": later, "endDate": later + 1000, "title": "updated event",
                                                    "description": "updated event description"}) == ""
    [shown] = events_of(api, case["_id"], event["_id"])
    assert (shown["entity"], shown["date"], shown["endDate"]) == ("Custom", later, later + 1000)

    assert api.timeline.delete_event(event["_id"]) == ""
    assert events_of(api, case["_id"], event["_id"]) == []
    assert [e["entity"] for e in events_of(api, case["_id"], detailed["_id"])] == ["Custom"]
    with pytest.raises(TheHiveError) as e:
        api.timeline.delete_event(event["_id"])
    assert error_of(e) == (404, "NotFoundError")
    with pytest.raises(TheHiveError) as e:
        api.timeline.create_event("~987654321", {"date": when, "title": "orphan"})
    assert error_of(e) == (404, "NotFoundError")


# ---------------------------------------------------------------- case links

def links_of(api, case_id):
    return extra_data(api.case.find, case_id, "links")["links"]


def test_link_cases_and_urls(hive):
    api = tenant(hive)
    assert api.case.get_link_types() == []
    first, second, third = (new_case(api, f"case {i}") for i in range(3))
    assert links_of(api, first["_id"]) == {"caseLinks": [], "externalLinks": []}

    assert api.case.link_case(first["_id"], {"type": "related", "caseId": second["_id"]}) == ""
    assert api.case.link_case(first["_id"], {"type": "duplicate", "caseId": third["_id"]}) == ""
    case_links = links_of(api, first["_id"])["caseLinks"]
    assert sorted((link["caseId"], link["type"]) for link in case_links) == sorted(
        [(second["_id"], "related"), (third["_id"], "duplicate")])
    assert sorted(api.case.get_link_types()) == ["duplicate", "related"]

    url = "https://tickets.example/T-1"
    assert api.case.link_url(first["_id"], {"type": "related", "url": url}) == ""
    links = links_of(api, first["_id"])
    assert [(link["url"], link["type"]) for link in links["externalLinks"]] == [(url, "related")]
    assert len(links["caseLinks"]) == 2
    assert sorted(api.case.get_link_types()) == ["duplicate", "related"]

    assert api.case.delete_case_link(first["_id"], {"type": "related", "caseId": second["_id"]}) == ""
    assert [(link["caseId"], link["type"]) for link in links_of(api, first["_id"])["caseLinks"]] == [
        (third["_id"], "duplicate")]
    assert api.case.delete_case_link(first["_id"], {"type": "duplicate", "caseId": third["_id"]}) == ""
    assert api.case.delete_url_link(first["_id"], {"type": "related", "url": url}) == ""
    assert links_of(api, first["_id"]) == {"caseLinks": [], "externalLinks": []}
    # Without extraData a case carries none.
    assert case_view(api.case.find(filters=Eq("_id", first["_id"]))[0]) == case_view(api.case.get(first["_id"]))

    with pytest.raises(TheHiveError) as e:
        api.case.link_case(first["_id"], {"type": "related", "caseId": "~987654321"})
    assert error_of(e) == (404, "NotFoundError")


def test_linked_cases_share_observables(hive):
    api = tenant(hive)
    first, second, unrelated = (new_case(api, f"case {i}") for i in range(3))
    for case in (first, second):
        api.case.create_observable(case["_id"], {"dataType": "domain", "data": "example.com"})
        api.case.create_observable(case["_id"], {"dataType": "ip", "data": "10.0.0.1"})
    api.case.create_observable(first["_id"], {"dataType": "ip", "data": "10.0.0.2"})
    api.case.create_observable(unrelated["_id"], {"dataType": "ip", "data": "10.9.9.9"})

    [linked] = api.case.get_linked_cases(first["_id"])
    assert linked["_id"] == second["_id"] and linked["linksCount"] == 2
    assert sorted((o["dataType"], o["data"]) for o in linked["linkedWith"]) == [
        ("domain", "example.com"), ("ip", "10.0.0.1")]
    assert case_view(without(linked, "linkedWith", "linksCount")) == case_view(api.case.get(second["_id"]))
    assert [c["_id"] for c in api.case.get_linked_cases(second["_id"])] == [first["_id"]]
    assert api.case.get_linked_cases(unrelated["_id"]) == []


# ---------------------------------------------------------------- sharing and access

def test_share_a_case_with_another_organisation(hive):
    api = tenant(hive, "other-org")
    other = client(hive, "other-org")
    case = new_case(api, "shared case")
    task = api.case.create_task(case["_id"], {"title": "shared task"})
    [observable] = api.case.create_observable(case["_id"], {"dataType": "ip", "data": "10.0.0.1"})

    with pytest.raises(TheHiveError) as e:
        other.case.get(case["_id"])
    assert error_of(e) == (404, "NotFoundError")
    assert api.case.list_shares(case["_id"]) == []
    # A task or an observable is shared only once its case is.
    with pytest.raises(TheHiveError) as e:
        api.task.share(task["_id"], ["other-org"])
    assert error_of(e) == (404, "NotFoundError")
    with pytest.raises(TheHiveError) as e:
        api.observable.share(observable["_id"], ["other-org"])
    assert error_of(e) == (404, "NotFoundError")

    response = post(api, f"/case/{case['_id']}/shares",
                    json={"shares": [{"organisation": "other-org", "profile": "analyst"}]})
    assert response.status_code == 201
    [share] = response.json()
    assert share["_type"] == "Share" and share["_createdBy"] == ADMIN
    assert (share["caseId"], share["organisationName"], share["profileName"]) == (case["_id"], "other-org", "analyst")
    assert share["owner"] is False
    assert (share["taskRule"], share["observableRule"]) == ("manual", "manual")  # other-org's defaults
    assert api.case.list_shares(case["_id"]) == [share]

    seen = other.case.get(case["_id"])
    assert (seen["_id"], seen["number"], seen["title"]) == (case["_id"], case["number"], "shared case")
    assert other.case.get(case["number"])["_id"] == case["_id"]
    assert [c["_id"] for c in other.case.find()] == [case["_id"]]
    # The "manual" rules share neither the existing tasks nor the observables.
    assert other.case.find_tasks(case["_id"]) == [] and other.case.find_observables(case["_id"]) == []
    with pytest.raises(TheHiveError) as e:
        other.task.get(task["_id"])
    assert error_of(e) == (404, "NotFoundError")

    assert api.task.share(task["_id"], ["other-org"]) == ""
    assert other.task.get(task["_id"]) == task
    assert other.case.find_tasks(case["_id"]) == [task]
    assert [s["organisationName"] for s in api.task.list_shares(task["_id"])] == ["other-org"]
    assert api.observable.share(observable["_id"], ["other-org"]) == ""
    assert other.observable.get(observable["_id"]) == observable
    assert other.case.find_observables(case["_id"]) == [observable]
    # thehive4py's observable.list_shares asks for /case/{observableId}/shares: no such case, no shares.
    assert api.observable.list_shares(observable["_id"]) == []

    assert api.task.unshare(task["_id"], ["other-org"]) == ""
    assert api.task.list_shares(task["_id"]) == []
    with pytest.raises(TheHiveError) as e:
        other.task.get(task["_id"])
    assert error_of(e) == (404, "NotFoundError")
    assert api.observable.unshare(observable["_id"], ["other-org"]) == ""
    assert other.case.find_observables(case["_id"]) == []
    # Sharing with the owning organisation is accepted and never listed (thehive4py's own suite).
    assert api.task.share(task["_id"], [MAIN_ORG]) == ""
    assert api.task.list_shares(task["_id"]) == []

    with pytest.raises(TheHiveError) as e:
        api.case.share(case["_id"], [{"organisation": "no-such-org", "profile": "analyst"}])
    assert error_of(e) == (404, "NotFoundError")
    assert api.case.list_shares(case["_id"]) == [share]


def test_auto_share_rules_share_existing_and_new_tasks_and_observables(hive):
    api = tenant(hive, "other-org")
    other = client(hive, "other-org")
    case = new_case(api, "auto shared")
    before = api.case.create_task(case["_id"], {"title": "before sharing"})
    observables = api.case.create_observable(case["_id"], {"dataType": "domain", "data": "before.example"})
    [share] = api.case.share(case["_id"], [{"organisation": "other-org", "profile": "analyst",
                                            "taskRule": "autoShare", "observableRule": "autoShare"}])
    assert (share["taskRule"], share["observableRule"]) == ("autoShare", "autoShare")
    after = api.case.create_task(case["_id"], {"title": "after sharing"})
    observables += api.case.create_observable(case["_id"], {"dataType": "domain", "data": "after.example"})

    assert by_id(other.case.find_tasks(case["_id"])) == by_id([before, after])
    assert by_id(other.case.find_observables(case["_id"])) == by_id(observables)
    assert other.task.get(after["_id"]) == after
    assert sorted(s["organisationName"] for s in api.task.list_shares(before["_id"])) == ["other-org"]


def test_set_share_unshare_and_remove_share(hive):
    api = tenant(hive, "other-org")
    other = client(hive, "other-org")
    other_org_id = admin_client(hive).organisation.get("other-org")["_id"]
    case = new_case(api, "shared case")

    def other_sees_it():
        try:
            return other.case.get(case["_id"])["_id"] == case["_id"]
        except TheHiveError as e:
            assert (e.response.status_code, e.response.json()["type"]) == (404, "NotFoundError")
            return False

    [share] = api.case.share(case["_id"], [{"organisation": "other-org", "profile": "analyst"}])
    assert other_sees_it()
    replaced = api.case.set_share(case["_id"], [{"organisation": "other-org", "profile": "read-only"}])
    assert [(s["organisationName"], s["profileName"]) for s in replaced] == [("other-org", "read-only")]
    assert api.case.list_shares(case["_id"]) == replaced
    assert other_sees_it()
    assert api.case.set_share(case["_id"], []) == []
    assert api.case.list_shares(case["_id"]) == []
    assert not other_sees_it()

    api.case.share(case["_id"], [{"organisation": "other-org", "profile": "analyst"}])
    assert other_sees_it()
    assert api.case.unshare(case["_id"], [other_org_id]) == ""
    assert api.case.list_shares(case["_id"]) == []
    assert not other_sees_it()

    [share] = api.case.share(case["_id"], [{"organisation": "other-org", "profile": "analyst"}])
    assert other_sees_it()
    assert api.case.remove_share(share["_id"]) == ""
    assert api.case.list_shares(case["_id"]) == []
    assert not other_sees_it()
    with pytest.raises(TheHiveError) as e:
        api.case.remove_share(share["_id"])
    assert error_of(e) == (404, "NotFoundError")
    # The owner still has its case.
    assert case_view(api.case.get(case["_id"])) == case_view(case)


def test_restrict_a_case_to_listed_users(hive):
    api = tenant(hive)
    ana = api.user.create({"login": "ana@main-org.local", "name": "Ana", "profile": "analyst",
                           "organisation": MAIN_ORG})
    api.user.set_password(ana["_id"], "ana-password-1")
    as_ana = TheHiveApi(url=hive.url, username="ana@main-org.local", password="ana-password-1",
                        organisation=MAIN_ORG, max_retries=0)
    restricted, public = new_case(api, "restricted"), new_case(api, "public")
    task = api.case.create_task(restricted["_id"], {"title": "secret task"})
    assert as_ana.case.get(restricted["_id"])["_id"] == restricted["_id"]

    assert api.case.manage_access(restricted["_id"], {"access": {"_kind": "UserAccessKind", "users": [ADMIN]}}) == ""
    assert api.case.get(restricted["_id"])["access"] == {"_kind": "UserAccessKind", "users": [ADMIN]}
    with pytest.raises(TheHiveError) as e:
        as_ana.case.get(restricted["_id"])
    assert error_of(e) == (404, "NotFoundError")
    with pytest.raises(TheHiveError) as e:
        as_ana.task.get(task["_id"])
    assert error_of(e) == (404, "NotFoundError")
    assert [c["_id"] for c in as_ana.case.find()] == [public["_id"]]
    assert as_ana.case.find_tasks(restricted["_id"]) == []

    api.case.manage_access(restricted["_id"], {"access": {"_kind": "UserAccessKind",
                                                          "users": [ADMIN, "ana@main-org.local"]}})
    assert as_ana.case.get(restricted["_id"])["access"]["_kind"] == "UserAccessKind"
    api.case.manage_access(restricted["_id"], {"access": {"_kind": "UserAccessKind", "users": [ADMIN]}})
    with pytest.raises(TheHiveError) as e:
        as_ana.case.get(restricted["_id"])
    assert error_of(e) == (404, "NotFoundError")

    assert api.case.manage_access(restricted["_id"], {"access": {"_kind": "OrganisationAccessKind"}}) == ""
    assert api.case.get(restricted["_id"])["access"] == {"_kind": "OrganisationAccessKind"}
    assert as_ana.case.get(restricted["_id"])["_id"] == restricted["_id"]
    assert as_ana.task.get(task["_id"]) == task
    assert sorted(c["_id"] for c in as_ana.case.find()) == sorted([restricted["_id"], public["_id"]])


def test_sharing_profiles(hive):
    api = tenant(hive)
    profiles = api.organisation.list_sharing_profiles()
    assert profiles
    permission_profiles = {p["name"] for p in admin_client(hive).profile.find()}
    for p in profiles:
        assert set(p) >= {"name", "description", "autoShare", "editable", "permissionProfile", "taskRule",
                          "observableRule"}, p
        assert isinstance(p["name"], str) and p["name"]
        assert p["permissionProfile"] in permission_profiles
        assert isinstance(p["autoShare"], bool) and isinstance(p["editable"], bool)
        assert p["taskRule"] in ("manual", "autoShare") and p["observableRule"] in ("manual", "autoShare")


# ---------------------------------------------------------------- attachments

CONTENTS = {"evidence-0.txt": b"first piece of evidence\n", "evidence-1.json": b'{"bytes": "\xff\xfe\x00"}'}
CONTENT_TYPES = {"evidence-0.txt": "text/plain", "evidence-1.json": "application/json"}


def check_attachments(added):
    assert [a["name"] for a in added] == list(CONTENTS)
    for a in added:
        assert a["_type"] == "Attachment" and a["_createdBy"] == ADMIN
        assert a["size"] == len(CONTENTS[a["name"]]) and a["contentType"] == CONTENT_TYPES[a["name"]]
        assert sha256(CONTENTS[a["name"]]) in a["hashes"]
        assert isinstance(a["id"], str) and a["id"]


def test_case_attachments(hive, tmp_path):
    api = tenant(hive)
    case = new_case(api)
    paths = write_files(tmp_path, CONTENTS)
    with open(paths[0], "rb") as f:
        response = post(api, f"/case/{case['_id']}/attachments",
                        files=[("attachments", ("evidence-0.txt", f, "text/plain"))])
    assert response.status_code == 201
    [single] = response.json()["attachments"]
    assert single["name"] == "evidence-0.txt"
    api.case.delete_attachment(case["_id"], single["_id"])

    added = api.case.add_attachment(case["_id"], paths)
    check_attachments(added)
    assert by_id(api.case.find_attachments(case["_id"])) == by_id(added)
    assert api.case.find_attachments(case["_id"], filters=Eq("name", "evidence-1.json")) == [added[1]]
    assert api.case.find_attachments(new_case(api, "no attachments")["_id"]) == []
    for a in added:
        target = tmp_path / f"downloaded-{a['name']}"
        with pytest.deprecated_call():
            api.case.download_attachment(case["_id"], a["_id"], str(target))
        assert target.read_bytes() == CONTENTS[a["name"]]
        # thehive4py points to the organisation-level download instead.
        target = tmp_path / f"org-downloaded-{a['name']}"
        api.organisation.download_attachment(a["_id"], str(target))
        assert target.read_bytes() == CONTENTS[a["name"]]

    assert api.case.delete_attachment(case["_id"], added[0]["_id"]) == ""
    assert api.case.find_attachments(case["_id"]) == [added[1]]
    with pytest.raises(TheHiveError) as e:
        with pytest.deprecated_call():
            api.case.download_attachment(case["_id"], added[0]["_id"], str(tmp_path / "gone"))
    assert error_of(e) == (404, "NotFoundError")
    with pytest.raises(TheHiveError) as e:
        api.case.delete_attachment(case["_id"], added[0]["_id"])
    assert error_of(e) == (404, "NotFoundError")
    api.case.delete_attachment(case["_id"], added[1]["_id"])
    assert api.case.find_attachments(case["_id"]) == []


def test_alert_attachments(hive, tmp_path):
    api = tenant(hive)
    alert = api.alert.create(alert_input("attachments-1"))
    added = api.alert.add_attachment(alert["_id"], write_files(tmp_path, CONTENTS))
    check_attachments(added)
    assert by_id(api.alert.find_attachments(alert["_id"])) == by_id(added)
    assert api.alert.find_attachments(api.alert.create(alert_input("attachments-2"))["_id"]) == []
    for a in added:
        target = tmp_path / f"downloaded-{a['name']}"
        with pytest.deprecated_call():
            api.alert.download_attachment(alert["_id"], a["_id"], str(target))
        assert target.read_bytes() == CONTENTS[a["name"]]

    for a in added:
        assert api.alert.delete_attachment(alert["_id"], a["_id"]) == ""
    assert api.alert.find_attachments(alert["_id"]) == []


def test_organisation_attachments(hive, tmp_path):
    api = tenant(hive)
    response = post(api, "/attachment", data={"canRename": True},
                    files=[("attachments", ("evidence-0.txt", CONTENTS["evidence-0.txt"], "text/plain"))])
    assert response.status_code == 201
    [single] = response.json()["attachments"]
    api.organisation.delete_attachment(single["_id"])

    added = api.organisation.add_attachment(write_files(tmp_path, CONTENTS))
    check_attachments(added)
    # A case attachment is the case's, not the organisation's.
    api.case.add_attachment(new_case(api)["_id"], [str(tmp_path / "evidence-0.txt")])
    assert by_id(api.organisation.find_attachments(MAIN_ORG)) == by_id(added)
    for a in added:
        target = tmp_path / f"downloaded-{a['name']}"
        api.organisation.download_attachment(a["_id"], str(target))
        assert target.read_bytes() == CONTENTS[a["name"]]

    for a in added:
        assert api.organisation.delete_attachment(a["_id"]) == ""
    assert api.organisation.find_attachments(MAIN_ORG) == []
    with pytest.raises(TheHiveError) as e:
        api.organisation.download_attachment(added[0]["_id"], str(tmp_path / "gone"))
    assert error_of(e) == (404, "NotFoundError")


# ---------------------------------------------------------------- task required actions

def test_task_required_actions(hive):
    api = tenant(hive)
    task = api.task.create(new_case(api)["_id"], {"title": "needs an action"})
    assert api.task.get_required_actions(task["_id"]) == {MAIN_ORG: False}
    assert api.task.set_as_required(task["_id"], MAIN_ORG) == ""
    assert api.task.get_required_actions(task["_id"]) == {MAIN_ORG: True}
    assert api.task.set_as_done(task["_id"], MAIN_ORG) == ""
    assert api.task.get_required_actions(task["_id"]) == {MAIN_ORG: False}
    assert api.task.get(task["_id"]) == task
    with pytest.raises(TheHiveError) as e:
        api.task.set_as_required(task["_id"], "no-such-org")
    assert error_of(e) == (404, "NotFoundError")
    with pytest.raises(TheHiveError) as e:
        api.task.get_required_actions("~987654321")
    assert error_of(e) == (404, "NotFoundError")


def test_task_required_action_for_a_partner_organisation(hive):
    api = tenant(hive, "other-org")
    case = new_case(api)
    task = api.task.create(case["_id"], {"title": "shared task"})
    api.case.share(case["_id"], [{"organisation": "other-org", "profile": "analyst"}])
    api.task.share(task["_id"], ["other-org"])
    assert api.task.get_required_actions(task["_id"]) == {MAIN_ORG: False, "other-org": False}
    api.task.set_as_required(task["_id"], "other-org")
    assert api.task.get_required_actions(task["_id"]) == {MAIN_ORG: False, "other-org": True}
    api.task.set_as_done(task["_id"], "other-org")
    assert api.task.get_required_actions(task["_id"]) == {MAIN_ORG: False, "other-org": False}


# ---------------------------------------------------------------- similarity and extraData in queries

def similar_rows(api, selection):
    rows = api.query.run([selection, {"_name": "similarCasesLight"}])
    for row in rows:
        assert {"case", "similarObservableCount", "observableCount"} <= set(row), row
    return {row["case"]["_id"]: row for row in rows}


def test_similar_cases_of_an_alert_and_of_a_case(hive):
    api = tenant(hive)
    alert = api.alert.create(alert_input("similar-1", observables=[
        {"dataType": "ip", "data": "192.0.2.1"}, {"dataType": "domain", "data": "evil.example"},
        {"dataType": "mail", "data": "boss@evil.example"}]))
    both, ip_only, ignored, unrelated = (new_case(api, t) for t in ("both", "ip only", "ignored", "unrelated"))
    api.case.create_observable(both["_id"], {"dataType": "ip", "data": "192.0.2.1"})
    api.case.create_observable(both["_id"], {"dataType": "domain", "data": ["evil.example", "other.example"]})
    api.case.create_observable(ip_only["_id"], {"dataType": "ip", "data": "192.0.2.1"})
    api.case.create_observable(ignored["_id"], {"dataType": "ip", "data": "192.0.2.1", "ignoreSimilarity": True})
    api.case.create_observable(unrelated["_id"], {"dataType": "ip", "data": "192.0.2.99"})

    rows = similar_rows(api, {"_name": "getAlert", "idOrName": alert["_id"]})
    assert sorted(rows) == sorted([both["_id"], ip_only["_id"]])
    assert (rows[both["_id"]]["similarObservableCount"], rows[both["_id"]]["observableCount"]) == (2, 3)
    assert (rows[ip_only["_id"]]["similarObservableCount"], rows[ip_only["_id"]]["observableCount"]) == (1, 1)
    assert case_view(rows[both["_id"]]["case"]) == case_view(api.case.get(both["_id"]))

    rows = similar_rows(api, {"_name": "getCase", "idOrName": both["_id"]})
    assert sorted(rows) == [ip_only["_id"]]
    assert (rows[ip_only["_id"]]["similarObservableCount"], rows[ip_only["_id"]]["observableCount"]) == (1, 1)
    assert similar_rows(api, {"_name": "getCase", "idOrName": unrelated["_id"]}) == {}
    # From a list of alerts, the rows of every alert.
    assert sorted(similar_rows(api, {"_name": "listAlert"})) == sorted([both["_id"], ip_only["_id"]])


def test_linked_cases_list_the_cases_sharing_observables_v1_and_v0(hive):
    api = tenant(hive)
    case = new_case(api, "the case")
    api.case.create_observable(case["_id"], {"dataType": "ip", "data": "192.0.2.7"})
    api.case.create_observable(case["_id"], {"dataType": "domain", "data": "evil.example"})
    twin, half, ignored, unrelated = (new_case(api, t) for t in ("twin", "half", "ignored", "unrelated"))
    api.case.create_observable(twin["_id"], {"dataType": "ip", "data": "192.0.2.7"})
    api.case.create_observable(twin["_id"], {"dataType": "domain", "data": ["evil.example", "other.example"]})
    api.case.create_observable(half["_id"], {"dataType": "ip", "data": "192.0.2.7"})
    api.case.create_observable(ignored["_id"], {"dataType": "ip", "data": "192.0.2.7", "ignoreSimilarity": True})
    api.case.create_observable(unrelated["_id"], {"dataType": "ip", "data": "192.0.2.8"})
    for path in (f"/api/v1/case/{case['_id']}/links", f"/api/case/{case['_id']}/links"):
        r = api.session.request("GET", f"{api.session.hive_url}{path}")
        assert r.status_code == 200, (path, r.text)
        linked = {row["_id"]: row for row in r.json()}
        assert sorted(linked) == sorted([twin["_id"], half["_id"]]), path
        assert linked[twin["_id"]]["linksCount"] == 2, path
        assert sorted(o["data"] for o in linked[twin["_id"]]["linkedWith"]) == ["192.0.2.7", "evil.example"], path
        assert [o["data"] for o in linked[half["_id"]]["linkedWith"]] == ["192.0.2.7"], path


def test_extra_data_of_alerts_and_cases_in_find(hive):
    api = tenant(hive)
    fresh = api.alert.create(alert_input("extra-1"))
    assert fresh["extraData"] == {}
    extra = extra_data(api.alert.find, fresh["_id"], "status", "importDate", "procedureCount")
    assert (extra["status"]["value"], extra["status"]["stage"]) == ("New", "New")
    assert extra["procedureCount"] == 0 and extra.get("importDate") is None

    alert = api.alert.create(alert_input("extra-2"))
    case = api.alert.promote_to_case(alert["_id"])
    api.alert.create_procedure(alert["_id"], {"occurDate": now_to_ts(), "patternId": "T1566"})
    promoted = api.alert.get(alert["_id"])
    assert promoted["extraData"] == {}
    extra = extra_data(api.alert.find, alert["_id"], "status", "importDate", "procedureCount", "relatedCase")
    assert (extra["status"]["value"], extra["status"]["stage"]) == ("Imported", "Imported")
    assert extra["importDate"] == promoted["importedDate"] and recent(extra["importDate"])
    assert extra["procedureCount"] == 1
    assert extra["relatedCase"] == {"number": case["number"], "accessKind": "OrganisationAccessKind",
                                    "isVisible": True}

    extra = extra_data(api.case.find, case["_id"], "status", "alertCount", "isOwner", "shareCount",
                       "procedureCount")
    assert (extra["status"]["value"], extra["status"]["stage"]) == ("New", "New")
    assert (extra["alertCount"], extra["isOwner"], extra["shareCount"], extra["procedureCount"]) == (1, True, 0, 0)
    # Without extraData the rows are the plain entities.
    assert api.alert.find(filters=Eq("_id", alert["_id"]), paginate=Paginate(0, 10)) == [promoted]


# ---------------------------------------------------------------- statuses

def test_default_case_and_alert_statuses(hive):
    api = tenant(hive)
    case_statuses = api.query.run([{"_name": "listCaseStatus"}])
    assert sorted((s["value"], s["stage"]) for s in case_statuses) == sorted([
        ("New", "New"), ("InProgress", "InProgress"), ("TruePositive", "Closed"), ("FalsePositive", "Closed"),
        ("Indeterminate", "Closed"), ("Duplicated", "Closed"), ("Other", "Closed")])
    closed = api.query.run([{"_name": "listCaseStatus"},
                            {"_name": "filter", "_eq": {"_field": "stage", "_value": "Closed"}}])
    assert sorted(s["value"] for s in closed) == ["Duplicated", "FalsePositive", "Indeterminate", "Other",
                                                  "TruePositive"]
    assert api.query.run([{"_name": "listCaseStatus"}, {"_name": "count"}]) == 7

    alert_statuses = {s["value"]: s["stage"] for s in api.query.run([{"_name": "listAlertStatus"}])}
    assert {k: alert_statuses.get(k) for k in ("New", "InProgress", "Imported")} == {
        "New": "New", "InProgress": "InProgress", "Imported": "Imported"}
    others = {v: s for v, s in alert_statuses.items() if v not in ("New", "InProgress", "Imported")}
    assert others and set(others.values()) == {"Closed"}
    assert {"FalsePositive", "TruePositive", "Duplicated", "Other"} <= set(others)
