"""The consoles of leads and administrators (issue 18), driven in headless Chromium (Debian's
`chromium`, by Playwright) against hive-service and cortex-service on PostgreSQL with RabbitMQ.

* cortex-service: its orgadmin logs in to Cortex's own console, finds Native_EmlParser and the
  Mailer in the catalogue, enables them through their forms with the seed's configuration (the
  mail admins' address, SMTP host and port, internal domains, the "[MAILSERVERS] Block {{data}}
  in mailservers" subject and the message; an SMTP password that the form never shows again
  and keeps when left empty); a job run from hive on the reported .eml appears in Cortex's job
  list and its page shows the report, the summary and the extracted artifacts. A user with the
  read and analyze roles gets no worker page (403). The superadmin creates an organization and a
  user in it with roles and a password, who then logs in; locks and unlocks it.
* hive-service: an org-admin (the team lead) creates an analyst and a read-only user through the
  Users page, then builds the seed's "[MALSPAM] Suspicious mail report by user" template with its
  8 tasks through the template form; the analyst then imports the reported mail's alert with it
  and gets the 8 tasks. The template is exported as JSON, imported again under another name, and
  duplicated. A read-only user and an analyst get no administration page (403) and no menu
  entry, and their forged writes answer 403 with nothing written.

Screenshots go to target/console-screenshots (and to docs/console with UPDATE_SCREENSHOTS=1)."""
import json
import os
import sys

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, ".."), os.path.join(HERE, "..", "v2")]

from playwright.sync_api import expect  # noqa: E402
from thehive4py import TheHiveApi  # noqa: E402

import conftest  # noqa: E402
from test_connector_seed import RELAY_IP, REPORTED, TASKS, feed_user_report  # noqa: E402
from test_native_workers import seed_mailer_config  # noqa: E402
from quickstart_seed import wait  # noqa: E402
from test_console import CHROMIUM, PASSWORD, TEMPLATE, browser, shot  # noqa: E402,F401

GROUPS = ["Triage", "Triage", "Investigation", "Investigation", "Containment", "Containment",
          "Communication", "Closure"]


class Admin:
    """The platform, with organisation `soc` and its lead (org-admin) only."""

    def __init__(self):
        amqp = conftest.amqp_broker()
        # A webhook endpoint nobody listens on (the discard port), its deliveries dead after
        # 2 s: the notifications page's dead deliveries and retry.
        self.platform = conftest.Platform("postgres", amqp is not None, amqp, hive_env={
            "HIVE__NOTIFICATION__WEBHOOKS__SIEM__URL": "http://127.0.0.1:9/hook",
            "HIVE__NOTIFICATION__ALLOWED_NETWORKS": "127.0.0.0/8",
            "HIVE__NOTIFICATION__DEAD_AFTER_SECS": "2"})
        self.url = self.platform.hive.url
        self.root = TheHiveApi(url=self.url, username="admin@thehive.local", password="secret", max_retries=0)
        self.root.organisation.create({"name": "soc", "description": "the SOC"})
        u = self.root.user.create({"login": "lead@soc.test", "name": "Lead", "profile": "org-admin",
                                   "organisation": "soc"})
        self.root.user.set_password(u["_id"], PASSWORD)
        self.lead = TheHiveApi(url=self.url, username="lead@soc.test", password=PASSWORD,
                               organisation="soc", max_retries=0)

    def stop(self):
        self.platform.stop()


@pytest.fixture(scope="module")
def admin():
    a = Admin()
    print(f"logs: {a.platform.hive.log.name} {a.platform.cortex.log.name}")
    try:
        yield a
    finally:
        a.stop()


def log_in(browser, url, login, first="/alerts"):
    ctx = browser.new_context(viewport={"width": 1360, "height": 900})
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    page.goto(url + first)
    page.wait_for_url("**/login?next=*")
    page.fill("input[name=user]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + first)
    return page


def test_a_lead_creates_users_and_builds_the_seed_template_then_an_analyst_imports_with_it(admin, browser, tmp_path):
    page = log_in(browser, admin.url, "lead@soc.test")
    page.click("#nav-admin")
    page.wait_for_url("**/admin/templates")

    # Users: an analyst and a read-only user, through the form.
    page.click("text=Users")
    page.wait_for_url("**/admin/users")
    for login, profile in [("ana@soc.test", "analyst"), ("rob@soc.test", "read-only")]:
        form = page.locator("#new-user")
        form.locator("input[name=login]").fill(login)
        form.locator("input[name=name]").fill(login.split("@")[0].title())
        form.locator("select[name=profile]").select_option(profile)
        form.locator("input[name=password]").fill(PASSWORD)
        form.locator("button").click()
        expect(page.locator(f'tr[data-login="{login}"]')).to_contain_text(profile)
    # Lock and unlock; a new API key shown once; the profile changed in place.
    rob = page.locator('tr[data-login="rob@soc.test"]')
    rob.get_by_role("button", name="Lock").click()
    expect(rob).to_contain_text("locked")
    assert any(u["login"] == "rob@soc.test" and u["locked"] for u in admin.lead.user.find())
    rob.get_by_role("button", name="Unlock").click()
    expect(rob).to_contain_text("active")
    page.once("dialog", lambda d: d.accept())
    rob.get_by_role("button", name="Renew key").click()
    expect(page.locator("#key-shown")).not_to_be_empty()
    key = page.locator("#key-shown").inner_text().strip()
    r = requests.get(admin.url + "/api/v1/user/current", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.json()["login"] == "rob@soc.test", r.text
    rob.locator("select.profile-of").select_option("analyst")
    expect(page.locator("#flash")).to_contain_text("Saved")
    assert {u["login"]: u["profile"] for u in admin.lead.user.find()}["rob@soc.test"] == "analyst"
    rob.locator("select.profile-of").select_option("read-only")
    expect(page.locator("#flash")).to_contain_text("Saved")
    page.reload()
    shot(page, "admin-users")
    users = {u["login"]: u for u in admin.lead.user.find()}
    assert users["ana@soc.test"]["profile"] == "analyst" and users["rob@soc.test"]["profile"] == "read-only"
    assert not users["rob@soc.test"]["locked"]

    # The seed's template with its 8 tasks, through the form.
    page.click("text=Case templates")
    page.click("#new-template")
    page.wait_for_url("**/admin/templates/new")
    form = page.locator("#template-form")
    form.locator("input[name=name]").fill("MALSPAM")
    form.locator("input[name=displayName]").fill(TEMPLATE)
    form.locator("input[name=titlePrefix]").fill("[MALSPAM]")
    form.locator("select[name=severity]").select_option("2")
    form.locator("select[name=tlp]").select_option("2")
    form.locator("select[name=pap]").select_option("2")
    form.locator("input[name=tags]").fill("phishing, user-report")
    form.locator("textarea[name=description]").fill("A user reported a **suspicious** e-mail.")
    for i, title in enumerate(TASKS):
        page.click("#add-task")
        row = page.locator("#template-tasks .task-row").nth(i)
        row.locator("input[name=group]").fill(GROUPS[i])
        row.locator("input[name=title]").fill(title)
        row.locator("input[name=order]").fill(str(i))
        row.locator("textarea[name=description]").fill(f"Step {i + 1}: {title.lower()}.")
        if title in ("Acknowledge the report", "Close"):
            row.locator("input[name=mandatory]").check()
        if i == 0:
            row.locator("select[name=assignee]").select_option("ana@soc.test")
    shot(page, "admin-template")
    page.click("#save-template")
    page.wait_for_url("**/admin/templates")
    expect(page.locator('tr[data-name="MALSPAM"]')).to_contain_text("8")

    [t] = [t for t in admin.lead.case_template.find() if t["name"] == "MALSPAM"]
    assert t["displayName"] == TEMPLATE and t["titlePrefix"] == "[MALSPAM]" and t["severity"] == 2
    assert t["tlp"] == 2 and t["pap"] == 2 and sorted(t["tags"]) == ["phishing", "user-report"]
    tasks = sorted(t["tasks"], key=lambda k: k["order"])
    assert [k["title"] for k in tasks] == TASKS
    assert [k["group"] for k in tasks] == GROUPS
    assert [k["title"] for k in tasks if k.get("mandatory")] == ["Acknowledge the report", "Close"]
    assert tasks[0].get("assignee") == "ana@soc.test" and not tasks[1].get("assignee")

    # Editing keeps what is not changed; a removed task goes.
    page.locator('tr[data-name="MALSPAM"] td.title a').click()
    expect(page.locator('#template-form[data-method="PATCH"]')).to_be_visible()
    expect(page.locator("#template-tasks .task-row")).to_have_count(8)
    page.locator("#template-tasks .task-row").nth(7).locator(".remove-row").click()
    page.locator("#template-form textarea[name=description]").first.fill("Reported by a user.")
    page.click("#save-template")
    page.wait_for_url("**/admin/templates")
    [t] = [t for t in admin.lead.case_template.find() if t["name"] == "MALSPAM"]
    assert len(t["tasks"]) == 7 and t["description"] == "Reported by a user." and t["displayName"] == TEMPLATE
    # ...and back to the seed's 8 (the last task again).
    page.locator('tr[data-name="MALSPAM"] td.title a').click()
    expect(page.locator('#template-form[data-method="PATCH"]')).to_be_visible()
    page.click("#add-task")
    row = page.locator("#template-tasks .task-row").nth(7)
    row.locator("input[name=group]").fill(GROUPS[7])
    row.locator("input[name=title]").fill(TASKS[7])
    row.locator("input[name=order]").fill("7")
    row.locator("input[name=mandatory]").check()
    page.click("#save-template")
    page.wait_for_url("**/admin/templates")

    # Export as JSON, import it again under another name; duplicate.
    page.locator('tr[data-name="MALSPAM"] td.title a').click()
    expect(page.locator('#template-form[data-method="PATCH"]')).to_be_visible()
    page.click("text=Export as JSON")
    exported = json.loads(page.locator("#template-export").inner_text())
    assert exported["name"] == "MALSPAM" and len(exported["tasks"]) == 8 and "_id" not in exported
    exported["name"] = "MALSPAM-imported"
    page.goto(admin.url + "/admin/templates")
    page.fill("#import-template textarea", json.dumps(exported))
    page.click("#import-template button")
    expect(page.locator('tr[data-name="MALSPAM-imported"]')).to_contain_text("8")
    page.fill("#import-template textarea", "{not json")
    page.click("#import-template button")
    expect(page.locator("#flash")).to_contain_text("Not valid JSON")
    page.locator('tr[data-name="MALSPAM"]').get_by_role("link", name="Duplicate").click()
    page.wait_for_url("**/admin/templates/new?from=*")
    expect(page.locator("#template-form input[name=name]")).to_have_value("MALSPAM (copy)")
    expect(page.locator("#template-tasks .task-row")).to_have_count(8)
    page.click("#save-template")
    page.wait_for_url("**/admin/templates")
    shot(page, "admin-templates")
    names = {t["name"]: t for t in admin.lead.case_template.find()}
    assert {"MALSPAM", "MALSPAM-imported", "MALSPAM (copy)"} <= set(names), names
    assert [k["title"] for k in sorted(names["MALSPAM (copy)"]["tasks"], key=lambda k: k["order"])] == TASKS
    page.once("dialog", lambda d: d.accept())
    page.locator('tr[data-name="MALSPAM (copy)"]').get_by_role("button", name="Delete").click()
    expect(page.locator('tr[data-name="MALSPAM (copy)"]')).to_have_count(0)
    page.context.close()

    # The analyst imports the reported mail's alert with the lead's template: 8 tasks.
    alert = feed_user_report(admin.lead, tmp_path)
    page = log_in(browser, admin.url, "ana@soc.test")
    expect(page.locator("#nav-admin")).to_have_count(0)
    page.goto(f"{admin.url}/alerts/{alert['_id']}")
    page.select_option("#import-template", label=TEMPLATE)
    page.click("#import-button")
    page.wait_for_url("**/cases/~*")
    expect(page.locator("h1")).to_contain_text("[MALSPAM]")
    page.click("#tab-tasks")
    expect(page.locator("tr[data-task]")).to_have_count(8)
    case_id = page.url.split("/cases/")[1].split("?")[0]
    got = admin.lead.case.find_tasks(case_id)
    assert sorted(k["title"] for k in got) == sorted(TASKS)
    assert {k["title"]: k.get("assignee") for k in got}["Acknowledge the report"] == "ana@soc.test"
    page.context.close()


@pytest.mark.parametrize("login,profile", [("reader2@soc.test", "read-only"), ("analyst2@soc.test", "analyst")])
def test_no_admin_page_for_a_read_only_user_or_an_analyst_and_forged_writes_are_refused(admin, browser, login, profile):
    u = admin.lead.user.create({"login": login, "name": profile, "profile": profile, "organisation": "soc"})
    admin.lead.user.set_password(u["_id"], PASSWORD)
    page = log_in(browser, admin.url, login)
    expect(page.locator("#nav-admin")).to_have_count(0)
    for path in ["/admin", "/admin/templates", "/admin/templates/new", "/admin/users", "/admin/page-templates",
                 "/admin/notifications", "/admin/sharing", "/admin/organisations", "/admin/profiles",
                 "/admin/fields", "/admin/observable-types", "/admin/platform"]:
        r = page.goto(admin.url + path)
        assert r.status == 403, (path, r.status)
        expect(page.locator("form.api, .admin-menu")).to_have_count(0)
    # The ATT&CK catalogue is everyone's (it holds no organisation's data), without the admin menu.
    assert page.goto(admin.url + "/attack?q=T1566").status == 200
    expect(page.locator('#patterns tr[data-pattern="T1566.001"]')).to_have_count(1)
    expect(page.locator(".admin-menu")).to_have_count(0)
    page.goto(admin.url + "/alerts")  # a page of theirs, with their session's token
    before_templates = len(admin.lead.case_template.find())
    before_users = len(admin.lead.user.find())
    statuses = page.evaluate("""async () => {
        const token = document.querySelector('meta[name=csrf-token]').content;
        const post = (url, body) => fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json',
            'X-CSRF-Token': token}, body: JSON.stringify(body)}).then((r) => r.status);
        return [await post('/api/v1/caseTemplate', {name: 'forged', tasks: [{title: 'x'}]}),
                await post('/api/v1/user', {login: 'forged@soc.test', name: 'f', profile: 'org-admin',
                                            organisation: 'soc'})]; }""")
    assert statuses == [403, 403], statuses
    assert len(admin.lead.case_template.find()) == before_templates
    assert len(admin.lead.user.find()) == before_users
    page.context.close()


def test_an_admin_page_without_a_session_goes_to_the_login_page(admin):
    for path in ["/admin", "/admin/templates", "/admin/users"]:
        r = requests.get(admin.url + path, allow_redirects=False)
        assert r.status_code == 303 and r.headers["Location"].startswith("/login?next="), (path, r.status_code)
    # An API key is not a console session either.
    key = requests.post(admin.url + "/api/v1/user/lead@soc.test/key/renew",
                        auth=("admin@thehive.local", "secret")).text.strip().strip('"')
    r = requests.get(admin.url + "/admin/users", headers={"Authorization": f"Bearer {key}"}, allow_redirects=False)
    assert r.status_code == 303, r.status_code


def test_a_cortex_orgadmin_enables_the_seed_workers_and_sees_a_job_run_from_hive(admin, browser, tmp_path):
    cortex = admin.platform.cortex.url
    superadmin = {"Authorization": f"Bearer {conftest.CORTEX_ADMIN_KEY}"}
    r = requests.post(f"{cortex}/api/user/cortex-admin/password/set", json={"password": PASSWORD}, headers=superadmin)
    assert r.status_code in (200, 204), r.text
    page = log_in(browser, cortex, "cortex-admin", first="/jobs")

    # Native_EmlParser, found by a search, enabled with extraction on.
    page.click("#nav-analyzers")
    page.fill("form.inline input[name=q]", "emlparser")
    page.click("form.inline button")
    row = page.locator('tr[data-def="Native_EmlParser_1_0"]')
    expect(row).to_contain_text("disabled")
    shown = page.locator("#workers tbody tr").evaluate_all("rows => rows.map((r) => r.dataset.def)")
    # The search reads names and descriptions: the file info analyzer is not among them.
    assert "Native_EmlParser_1_0" in shown and "Native_FileInfo_1_0" not in shown, shown
    page.select_option("form.inline select[name=type]", "ip")
    page.click("form.inline button")
    expect(page.locator('tr[data-def="Native_EmlParser_1_0"]')).to_have_count(0)
    page.select_option("form.inline select[name=type]", "file")
    page.click("form.inline button")
    row.locator("td.title a").click()
    page.wait_for_url("**/workers/analyzer/Native_EmlParser_1_0")
    page.locator("#worker-form input[name=auto_extract_artifacts]").check()
    page.fill("#worker-form input[name=jobCache]", "0")
    page.click("#save-worker")
    page.wait_for_url("**/workers?kind=analyzer")
    expect(page.locator('tr[data-def="Native_EmlParser_1_0"]')).to_contain_text("enabled")

    # The Mailer with the seed's configuration, typed into its form.
    seed = seed_mailer_config(2525)
    page.click("#nav-responders")
    page.locator('tr[data-def="Native_Mailer_1_0"] td.title a').click()
    page.wait_for_url("**/workers/responder/Native_Mailer_1_0")
    form = page.locator("#worker-form")
    form.locator("input[name=from]").fill(seed["from"])
    form.locator("textarea[name=to]").fill("\n".join(seed["to"]))
    form.locator("input[name=subject]").fill(seed["subject"])
    form.locator("textarea[name=body]").fill(seed["body"])
    form.locator("textarea[name=internal_domains]").fill("\n".join(seed["internal_domains"]))
    form.locator("input[name=smtp_host]").fill(seed["smtp_host"])
    form.locator("input[name=smtp_port]").fill(str(seed["smtp_port"]))
    form.locator("input[name=smtp_security]").fill(seed["smtp_security"])
    form.locator("input[name=smtp_pwd]").fill("s3cret-smtp-pw")
    form.locator("input[name=rate]").fill("100")
    form.locator("select[name=rateUnit]").select_option("Hour")
    shot(page, "cortex-worker")
    page.click("#save-worker")
    page.wait_for_url("**/workers?kind=responder")
    expect(page.locator('tr[data-def="Native_Mailer_1_0"]')).to_contain_text("enabled")
    shot(page, "cortex-workers")
    [mailer] = [w for w in requests.get(f"{cortex}/api/responder", headers=orgadmin_headers(admin)).json()
                if w["name"] == "Native_Mailer_1_0"]
    conf = mailer["configuration"]
    for k in ("from", "to", "subject", "body", "internal_domains", "smtp_host", "smtp_port", "smtp_security"):
        assert conf[k] == seed[k], (k, conf[k], seed[k])
    assert conf["smtp_pwd"] == "s3cret-smtp-pw" and mailer["rate"] == 100 and mailer["rateUnit"] == "Hour"
    # The secret is never sent back to the page, and saving without it keeps it.
    page.locator('tr[data-def="Native_Mailer_1_0"] td.title a').click()
    page.wait_for_url("**/workers/responder/Native_Mailer_1_0")
    assert "s3cret-smtp-pw" not in page.content()
    expect(page.locator("#worker-form input[name=smtp_pwd]")).to_have_attribute("placeholder", "saved; leave empty to keep it")
    page.locator("#worker-form input[name=subject]").fill(seed["subject"] + " now")
    page.click("#save-worker")
    page.wait_for_url("**/workers?kind=responder")
    [mailer] = [w for w in requests.get(f"{cortex}/api/responder", headers=orgadmin_headers(admin)).json()
                if w["name"] == "Native_Mailer_1_0"]
    assert mailer["configuration"]["smtp_pwd"] == "s3cret-smtp-pw"
    assert mailer["configuration"]["subject"] == seed["subject"] + " now"

    # A job run from hive on the reported .eml: in Cortex's job list, with its report.
    if not any(t["name"] == "MALSPAM" for t in admin.lead.case_template.find()):  # run alone
        admin.lead.case_template.create({"name": "MALSPAM", "displayName": TEMPLATE, "titlePrefix": "[MALSPAM]"})
    alert = feed_user_report(admin.lead, tmp_path)
    case = admin.lead.alert.promote_to_case(alert["_id"])
    [eml] = [o for o in admin.lead.case.find_observables(case["_id"])
             if (o.get("attachment") or {}).get("name") == REPORTED]
    hive = requests.Session()
    hive.auth = ("lead@soc.test", PASSWORD)
    hive.headers["X-Organisation"] = "soc"
    analyzer = wait("the parser in hive", lambda: [a for a in hive.get(admin.url + "/api/connector/cortex/analyzer").json()
                                                   if a["name"] == "Native_EmlParser_1_0"], bool)[0]
    r = hive.post(admin.url + "/api/connector/cortex/job",
                  json={"analyzerId": analyzer["id"], "cortexId": "local", "artifactId": eml["_id"]})
    assert r.status_code == 201, r.text
    page.goto(cortex + "/jobs")
    row = page.locator("#jobs tbody tr", has_text="Native_EmlParser_1_0")
    expect(row).to_contain_text("Success", timeout=60_000)
    expect(row).to_contain_text(REPORTED)
    shot(page, "cortex-jobs")
    row.locator("td.title a").click()
    page.wait_for_url("**/jobs/*")
    expect(page.locator("#job-status")).to_have_text("Success")
    expect(page.locator("#job-summary .tax").first).to_be_visible()
    expect(page.locator("#job-artifacts")).to_contain_text(RELAY_IP)
    expect(page.locator("#job-report")).to_contain_text(RELAY_IP)
    shot(page, "cortex-job")
    # Filters: by status and by worker.
    page.goto(cortex + "/jobs?status=Failure")
    expect(page.locator("#jobs tbody")).not_to_contain_text("Native_EmlParser_1_0")
    page.goto(cortex + "/jobs?worker=Native_EmlParser_1_0")
    expect(page.locator("#jobs tbody tr", has_text="Native_EmlParser_1_0")).to_have_count(1)
    page.context.close()


def orgadmin_headers(admin):
    """The headers of an orgadmin of the platform's organization `thehive` (its API key)."""
    key = requests.post(f"{admin.platform.cortex.url}/api/user/cortex-admin/key/renew",
                        headers={"Authorization": f"Bearer {conftest.CORTEX_ADMIN_KEY}"}).text.strip().strip('"')
    return {"Authorization": f"Bearer {key}"}


def test_cortex_worker_pages_need_the_orgadmin_role(admin, browser):
    cortex = admin.platform.cortex.url
    superadmin = {"Authorization": f"Bearer {conftest.CORTEX_ADMIN_KEY}"}
    r = requests.post(f"{cortex}/api/user", headers=superadmin, json={
        "login": "cortex-analyst", "name": "Analyst", "organization": "thehive", "roles": ["read", "analyze"],
        "password": PASSWORD})
    assert r.status_code in (200, 201), r.text
    page = log_in(browser, cortex, "cortex-analyst", first="/jobs")
    expect(page.locator("#nav-analyzers")).to_have_count(0)
    for path in ["/workers?kind=analyzer", "/workers?kind=responder", "/workers/analyzer/Native_EmlParser_1_0"]:
        assert page.goto(cortex + path).status == 403, path
    page.goto(cortex + "/jobs")
    status = page.evaluate("""async () => {
        const token = document.querySelector('meta[name=csrf-token]').content;
        const r = await fetch('/api/organization/analyzer/Native_FileInfo_1_0', {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token}, body: '{"configuration": {}}'});
        return r.status; }""")
    assert status == 403, status
    names = [w["name"] for w in requests.get(f"{cortex}/api/analyzer", headers=orgadmin_headers(admin)).json()]
    assert "Native_FileInfo_1_0" not in names, names
    # Without a session: the login page.
    r = requests.get(cortex + "/jobs", allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"].startswith("/login?next="), r.status_code
    page.context.close()


def test_the_cortex_superadmin_creates_an_organization_and_its_user(admin, browser):
    cortex = admin.platform.cortex.url
    superadmin = {"Authorization": f"Bearer {conftest.CORTEX_ADMIN_KEY}"}
    login = requests.get(cortex + "/api/user/current", headers=superadmin).json()["id"]
    r = requests.post(f"{cortex}/api/user/{login}/password/set", headers=superadmin, json={"password": PASSWORD})
    assert r.status_code in (200, 204), r.text
    page = log_in(browser, cortex, login, first="/users")
    page.fill("#new-organization input[name=name]", "acme")
    page.fill("#new-organization input[name=description]", "ACME's SOC")
    page.click("#new-organization button")
    expect(page.locator('tr[data-org="acme"]')).to_contain_text("Active")
    form = page.locator("#new-user")
    form.locator("input[name=login]").fill("ann")
    form.locator("input[name=name]").fill("Ann")
    form.locator("select[name=organization]").select_option("acme")
    form.locator('input[name=roles][value="analyze"]').check()
    form.locator('input[name=roles][value="orgadmin"]').check()
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button").click()
    row = page.locator('tr[data-login="ann"]')
    expect(row).to_contain_text("acme")
    expect(row).to_contain_text("read, analyze, orgadmin")
    shot(page, "cortex-users")
    ann = requests.get(cortex + "/api/user/ann", headers=superadmin).json()
    assert ann["organization"] == "acme" and sorted(ann["roles"]) == ["analyze", "orgadmin", "read"], ann
    row.get_by_role("button", name="Lock").click()
    expect(page.locator('tr[data-login="ann"]')).to_contain_text("Locked")
    assert requests.post(cortex + "/api/login", json={"user": "ann", "password": PASSWORD}).status_code == 401
    page.locator('tr[data-login="ann"]').get_by_role("button", name="Unlock").click()
    expect(page.locator('tr[data-login="ann"]')).to_contain_text("Ok")
    page.context.close()
    # Ann logs in to her organization's console: its workers, not soc's or thehive's jobs.
    page = log_in(browser, cortex, "ann", first="/workers")
    expect(page.locator("#nav-users")).to_have_text("Users")
    page.goto(cortex + "/users")
    expect(page.locator("#organizations")).to_have_count(0)
    assert page.locator("#users tbody tr").count() == 1
    page.context.close()


def test_the_platform_page_shows_the_database_broker_cortex_and_deliveries_to_platform_admins_only(admin, browser):
    cortex, key = admin.platform.cortex.url, orgadmin_headers(admin)
    if not requests.get(cortex + "/api/analyzer", headers=key).json():  # run alone
        r = requests.post(cortex + "/api/organization/analyzer/Native_EmlParser_1_0", headers=key,
                          json={"configuration": {}})
        assert r.status_code == 201, r.text
    enabled = len(requests.get(cortex + "/api/analyzer", headers=key).json())
    page = root_login(admin, browser, "/admin/platform")
    expect(page.locator("#platform-database")).to_contain_text("PostgreSQL")
    expect(page.locator("#platform-database")).to_contain_text("OK")
    expect(page.locator("#platform-broker")).to_contain_text("connected" if admin.platform.broker else "none")
    server = page.locator('#cortex-servers tr[data-server="local"]')
    expect(server).to_contain_text("OK")
    assert int(server.locator("td.n").first.inner_text()) == enabled >= 1  # the analyzers hive sees
    # and the responders, as Cortex has them now (not as hive's worker cache had them).
    responders = len(requests.get(cortex + "/api/responder", headers=key).json())
    assert int(server.locator("td.n").nth(1).inner_text()) == responders, responders
    expect(page.locator("#endpoints")).to_be_visible()
    shot(page, "admin-platform")
    page.context.close()
    # An organisation's administrator is no platform administrator.
    page = log_in(browser, admin.url, "lead@soc.test")
    assert page.goto(admin.url + "/admin/platform").status == 403
    expect(page.locator('.admin-menu a[href="/admin/platform"]')).to_have_count(0)
    page.context.close()


def root_login(admin, browser, first):
    """The platform's administrator (admin@thehive.local, in organisation admin), logged in."""
    if requests.get(admin.url + "/api/v1/user/current", auth=("admin@thehive.local", "secret")).status_code == 200:
        r = requests.post(admin.url + "/api/v1/user/admin@thehive.local/password/set",
                          auth=("admin@thehive.local", "secret"), json={"password": PASSWORD})
        assert r.status_code in (200, 204), r.text
    admin.root = TheHiveApi(url=admin.url, username="admin@thehive.local", password=PASSWORD, max_retries=0)
    return log_in(browser, admin.url, "admin@thehive.local", first=first)


def create(page, form, fields, checks=()):
    """Fills the form `form` (`fields`: {name: value}, selects by value), ticks `checks`, sends it
    and waits for the page to come back."""
    f = page.locator(form)
    for name, value in fields.items():
        el = f.locator(f"[name={name}]")
        if el.evaluate("e => e.tagName") == "SELECT":
            el.select_option(value)
        else:
            el.fill(value)
    for name in checks:
        f.locator(name).check()
    with page.expect_navigation():
        f.locator("button").last.click()


def test_the_platform_admin_manages_organisations_profiles_custom_fields_and_observable_types(admin, browser):
    page = root_login(admin, browser, "/admin/organisations")
    root, root_auth = admin.root, ("admin@thehive.local", PASSWORD)

    # Organisations: a new one, linked to soc both ways with link types, then unlinked.
    create(page, "#new-organisation", {"name": "cert", "description": "The CERT"})
    expect(page.locator('#organisations tr[data-name="cert"]')).to_contain_text("The CERT")
    create(page, "#link-organisations", {"from": "soc", "linkType": "supplier", "to": "cert",
                                         "otherLinkType": "customer"})
    expect(page.locator('#organisations tr[data-name="soc"] [data-link="cert"]')).to_contain_text("supplier")
    expect(page.locator('#organisations tr[data-name="cert"] [data-link="soc"]')).to_contain_text("customer")
    links = requests.get(admin.url + "/api/v1/organisation/soc/links", auth=root_auth).json()
    assert [(l["organisation"]["name"], l["linkType"], l["otherLinkType"]) for l in links] == \
        [("cert", "supplier", "customer")], links
    shot(page, "admin-organisations")
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.locator('#organisations tr[data-name="soc"] button[aria-label="Unlink cert"]').click()
    expect(page.locator('#organisations [data-link="cert"]')).to_have_count(0)
    assert requests.get(admin.url + "/api/v1/organisation/soc/links", auth=root_auth).json() == []

    # Profiles: a new one with two permissions, then one more through its edit form.
    page.click('.admin-menu a[href="/admin/profiles"]')
    create(page, "#new-profile", {"name": "triage"},
           checks=['input[value="manageAlert"]', 'input[value="manageCase/create"]'])
    row = page.locator('#profiles tr[data-name="triage"]')
    expect(row).to_contain_text("manageAlert")
    row.locator("summary").click()
    row.locator('input[value="manageTask"]').check()
    with page.expect_navigation():
        row.get_by_role("button", name="Save").click()
    [triage] = [p for p in root.profile.find() if p["name"] == "triage"]
    assert sorted(triage["permissions"]) == ["manageAlert", "manageCase/create", "manageTask"], triage
    expect(page.locator('#profiles tr[data-name="org-admin"]')).to_contain_text("built in")
    shot(page, "admin-profiles")

    # Custom fields: a mandatory string field with options, an integer field whose options are
    # numbers; options edited; the integer field deleted.
    page.click('.admin-menu a[href="/admin/fields"]')
    create(page, "#new-field", {"name": "businessUnit", "displayName": "Business unit", "type": "string",
                                "options": "HR\nIT"}, checks=["input[name=mandatory]"])
    create(page, "#new-field", {"name": "riskScore", "type": "integer", "options": "1\n2\n3"})
    fields = {f["name"]: f for f in root.custom_field.list()}
    assert fields["businessUnit"]["options"] == ["HR", "IT"] and fields["businessUnit"]["mandatory"], fields
    assert fields["riskScore"]["options"] == [1, 2, 3] and fields["riskScore"]["type"] == "integer", fields
    row = page.locator('#fields tr[data-name="businessUnit"]')
    row.locator("summary").click()
    row.locator("textarea[name=options]").fill("HR\nIT\nFinance")
    with page.expect_navigation():
        row.get_by_role("button", name="Save").click()
    expect(page.locator('#fields tr[data-name="businessUnit"]')).to_contain_text("Finance")
    # A wrong option answers the API's error and changes nothing.
    row = page.locator('#fields tr[data-name="riskScore"]')
    row.locator("summary").click()
    row.locator("textarea[name=options]").fill("1\nhigh")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#flash")).to_contain_text("options")
    assert [f for f in root.custom_field.list() if f["name"] == "riskScore"][0]["options"] == [1, 2, 3]
    shot(page, "admin-fields")
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.locator('#fields tr[data-name="riskScore"]').get_by_role("button", name="Delete").click()
    expect(page.locator('#fields tr[data-name="riskScore"]')).to_have_count(0)

    # Observable types: one created, then deleted.
    page.click('.admin-menu a[href="/admin/observable-types"]')
    create(page, "#new-observable-type", {"name": "iban"})
    expect(page.locator('#observable-types tr[data-name="iban"]')).to_contain_text("no")
    assert any(t["name"] == "iban" for t in root.observable_type.find())
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.locator('#observable-types tr[data-name="iban"]').get_by_role("button", name="Delete").click()
    expect(page.locator('#observable-types tr[data-name="iban"]')).to_have_count(0)
    page.context.close()

    # An organisation's administrator gets none of the platform's pages, and its forged writes
    # change nothing.
    page = log_in(browser, admin.url, "lead@soc.test")
    for path in ["/admin/organisations", "/admin/profiles", "/admin/fields", "/admin/observable-types"]:
        assert page.goto(admin.url + path).status == 403, path
    page.goto(admin.url + "/admin/templates")
    for path in ["/admin/organisations", "/admin/profiles", "/admin/fields", "/admin/observable-types"]:
        expect(page.locator(f'.admin-menu a[href="{path}"]')).to_have_count(0)
    statuses = page.evaluate("""async () => {
        const token = document.querySelector('meta[name=csrf-token]').content;
        const post = (url, body) => fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json',
            'X-CSRF-Token': token}, body: JSON.stringify(body)}).then((r) => r.status);
        return [await post('/api/v1/organisation', {name: 'forged', description: 'x'}),
                await post('/api/v1/profile', {name: 'forged', permissions: ['manageUser']}),
                await post('/api/v1/customField', {name: 'forged', type: 'string'})]; }""")
    assert statuses == [403, 403, 403], statuses
    assert not any(o["name"] == "forged" for o in root.organisation.find())
    page.context.close()


def test_a_lead_sets_notifications_page_templates_and_reads_sharing_profiles_and_attack(admin, browser):
    page = log_in(browser, admin.url, "lead@soc.test", first="/admin/notifications")
    form = page.locator("#notifications-form")
    # The endpoint that serves soc is listed; a list that is not JSON, then one the API refuses:
    # each says what is wrong and nothing is saved.
    expect(page.locator('#org-endpoints tr[data-endpoint="siem"]')).to_have_count(1)
    form.locator("textarea").fill('[{"trigger": ')
    form.locator("button").click()
    expect(page.locator("#flash")).to_contain_text("Not valid JSON")
    form.locator("textarea").fill('[{"trigger": {"name": "NoSuchTrigger"}, "notifier": {"name": "webhook", "endpoint": "siem"}}]')
    form.locator("button").click()
    expect(page.locator("#flash")).to_contain_text("NoSuchTrigger")
    assert admin.lead.session.make_request("GET", "/api/config/organisation/notification")["value"] == []
    wanted = [{"delegate": False,
               "trigger": {"name": "FilteredEvent", "filter": {"_and": [{"_is": {"objectType": "Alert"}},
                                                                        {"_is": {"action": "create"}}]}},
               "notifier": {"name": "webhook", "endpoint": "siem"}}]
    form.locator("textarea").fill(json.dumps(wanted, indent=2))
    with page.expect_navigation():
        form.locator("button").click()
    expect(page.locator("h1 .total")).to_have_text("1")
    assert admin.lead.session.make_request("GET", "/api/config/organisation/notification")["value"] == wanted

    # An alert of soc goes to the endpoint, which never answers: a dead delivery, retried.
    admin.lead.alert.create({"type": "notif", "source": "ui", "sourceRef": "dead-1", "title": "For the SIEM",
                             "description": "d"})
    for _ in range(60):
        page.reload()
        if page.locator("#dead-deliveries tbody tr", has_text="Alert").count():
            break
        page.wait_for_timeout(500)
    expect(page.locator("#dead-deliveries tbody tr", has_text="Alert").first).to_contain_text("siem")
    # The errors say what failed, never the endpoint's URL (webhook URLs often hold a token).
    assert "127.0.0.1:9/hook" not in page.content()
    row = page.locator('#org-endpoints tr[data-endpoint="siem"]')
    assert int(row.locator("td.n").nth(2).inner_text()) >= 1  # dead
    shot(page, "admin-notifications")
    # The API's answer, read on its way to the page (which reloads at once).
    answers = []

    def through(route):
        response = route.fetch()
        answers.append((response.status, response.json()))
        route.fulfill(response=response)
    page.route("**/api/v1/notification/endpoint/siem/retry", through)
    with page.expect_navigation():
        row.get_by_role("button", name="Retry the dead").click()
    assert len(answers) == 1 and answers[0][0] == 200 and answers[0][1]["requeued"] >= 1, answers

    # Page templates: one created, then its content changed.
    page.click('.admin-menu a[href="/admin/page-templates"]')
    create(page, "#new-page-template", {"title": "Mail triage checklist", "category": "Procedures",
                                        "content": "- [ ] Check the headers"})
    row = page.locator('#page-templates tr[data-title="Mail triage checklist"]')
    expect(row).to_contain_text("Check the headers")
    row.locator("summary").click()
    row.locator("textarea[name=content]").fill("- [ ] Check the headers\n- [ ] Check the links")
    with page.expect_navigation():
        row.get_by_role("button", name="Save").click()
    expect(page.locator('#page-templates tr[data-title="Mail triage checklist"]')).to_contain_text("Check the links")

    # Sharing profiles, and the ATT&CK catalogue searched and filtered by tactic.
    page.click('.admin-menu a[href="/admin/sharing"]')
    expect(page.locator('#sharing-profiles tr[data-name="analyst-auto"]')).to_contain_text("autoShare")
    expect(page.locator('#sharing-profiles tr[data-name="analyst"]')).to_contain_text("manual")
    page.click('.admin-menu a[href="/attack"]')
    page.fill("#attack-search input[name=q]", "phishing")
    with page.expect_navigation():
        page.click("#attack-search button")
    expect(page.locator('#patterns tr[data-pattern="T1566.001"]')).to_contain_text("Spearphishing Attachment")
    page.select_option("#attack-search select[name=tactic]", "reconnaissance")
    with page.expect_navigation():
        page.click("#attack-search button")
    expect(page.locator('#patterns tr[data-pattern="T1566.001"]')).to_have_count(0)
    expect(page.locator('#patterns tr[data-pattern="T1598"]')).to_contain_text("Phishing for Information")
    shot(page, "admin-attack")
    page.context.close()


def test_a_cortex_orgadmin_sets_base_configurations_and_changes_roles(admin, browser):
    cortex = admin.platform.cortex.url
    superadmin = {"Authorization": f"Bearer {conftest.CORTEX_ADMIN_KEY}"}
    r = requests.post(f"{cortex}/api/user/cortex-admin/password/set", json={"password": PASSWORD}, headers=superadmin)
    assert r.status_code in (200, 204), r.text
    key = orgadmin_headers(admin)
    page = log_in(browser, cortex, "cortex-admin", first="/workers?kind=responder")
    page.click("#base-configs")
    page.wait_for_url("**/configs?kind=responder")

    # The Mailer's family: an SMTP password saved, never shown again, kept when left empty.
    box = page.locator("#config-Native_Mailer")
    box.locator("summary").click()
    box.locator("input[name=smtp_host]").fill("smtp.corp.example")
    box.locator("input[name=smtp_pwd]").fill("smtp-s3cret")
    with page.expect_navigation():
        box.get_by_role("button", name="Save Native_Mailer").click()
    box = page.locator("#config-Native_Mailer")
    box.locator("summary").click()
    expect(box.locator("input[name=smtp_pwd]")).to_have_value("")
    expect(box.locator("input[name=smtp_pwd]")).to_have_attribute("placeholder", "saved; leave empty to keep it")
    assert "smtp-s3cret" not in page.content()
    box.locator("input[name=smtp_host]").fill("smtp2.corp.example")
    with page.expect_navigation():
        box.get_by_role("button", name="Save Native_Mailer").click()
    saved = requests.get(cortex + "/api/responderconfig/Native_Mailer", headers=key).json()["config"]
    assert saved["smtp_host"] == "smtp2.corp.example" and saved["smtp_pwd"] == "smtp-s3cret", saved

    # The MailAdmins family's address: the responder's form starts from it, and enabling the
    # responder without it takes it too.
    page.fill("form.inline input[name=q]", "MailAdmins")
    with page.expect_navigation():
        page.click("form.inline button")
    box = page.locator("#config-MailAdmins")
    expect(box).to_have_attribute("open", "")
    box.locator("input[name=to]").fill("base-admins@corp.example")
    with page.expect_navigation():
        box.get_by_role("button", name="Save MailAdmins").click()
    shot(page, "cortex-configs")
    page.goto(cortex + "/workers/responder/MailAdmins_1_0")
    expect(page.locator("#worker-form input[name=to]")).to_have_value("base-admins@corp.example")
    r = requests.post(cortex + "/api/organization/responder/MailAdmins_1_0", headers=key, json={"configuration": {}})
    assert r.status_code == 201, r.text
    assert r.json()["configuration"]["to"] == "base-admins@corp.example", r.json()

    # A user's roles, changed after its creation.
    r = requests.post(cortex + "/api/user", headers=key, json={
        "login": "cortex-reader", "name": "Reader", "organization": "thehive", "roles": ["read"]})
    assert r.status_code in (200, 201), r.text
    page.goto(cortex + "/users")
    row = page.locator('tr[data-login="cortex-reader"]')
    row.locator("summary").click()
    row.locator('input[name=roles][value="analyze"]').check()
    with page.expect_navigation():
        row.get_by_role("button", name="Save roles").click()
    expect(page.locator('tr[data-login="cortex-reader"]')).to_contain_text("read, analyze")
    assert sorted(requests.get(cortex + "/api/user/cortex-reader", headers=key).json()["roles"]) == ["analyze", "read"]
    page.context.close()

    # Base configurations are an orgadmin's: a reader gets 403.
    requests.post(f"{cortex}/api/user/cortex-reader/password/set", json={"password": PASSWORD}, headers=superadmin)
    page = log_in(browser, cortex, "cortex-reader", first="/jobs")
    assert page.goto(cortex + "/configs?kind=analyzer").status == 403
    page.context.close()
