"""The analyst console, driven in headless Chromium (Debian's `chromium`, by Playwright) against
hive-service and cortex-service on PostgreSQL with RabbitMQ, with the built-in workers
(Native_EmlParser, Native_Mailer with the seed's configuration and an SMTP sink).

hive-service runs with `cortex.auto_import=false`, as TheHive 4 did: the analyst chooses which of
the analyzer's extracted observables to import.

* The seed's hands-on, all in the browser: log in; the reported mail's alert is in the list;
  its preview; import with "[MALSPAM] Suspicious mail report by user"; the 8 tasks; start the
  first task and log in it; run the e-mail parser on the .eml; import the relay IP and the URL
  from the report's extracted observables; run the Mailer responder on the case (the mail
  reaches the sink, the case is tagged "mail sent"); close the case as True Positive.
* Access: a read-only user sees no write control, and a request it forges is refused (403)
  with nothing written.
* CSRF: a cookie-authenticated change without the session's token is refused, and so is a form
  posted from another site; nothing is written.
* Stored XSS: an alert whose title and description hold scripts shows them as text; nothing
  runs.
* Live: the alert list shows a feeder's new alert without reloading, keeping the analyst's
  selection.

Screenshots of the main screens go to target/console-screenshots (and to docs/console with
UPDATE_SCREENSHOTS=1)."""
import http.server
import os
import pathlib
import shutil
import sys
import tempfile
import threading
import uuid

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "v2")]

from playwright.sync_api import expect, sync_playwright  # noqa: E402
from thehive4py import TheHiveApi  # noqa: E402

import conftest  # noqa: E402
from quickstart_seed import wait  # noqa: E402
from smtp_sink import SmtpSink  # noqa: E402
from test_connector_seed import DOC, RELAY_IP, REPORTED, SENDER, TASKS, URL, feed_user_report  # noqa: E402
from test_native_workers import seed_mailer_config  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ROOT = pathlib.Path(HERE).parents[2]
SHOTS = ROOT / "target" / "console-screenshots"
DOCS_SHOTS = ROOT / "docs" / "console"
TEMPLATE = "[MALSPAM] Suspicious mail report by user"
PASSWORD = "Correct-horse-42"
EML_PARSER = "Native_EmlParser_1_0"
MAILER = "Native_Mailer_1_0"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_SHOTS / path.name)


class Console:
    """The platform, its organisation `soc` with an analyst and a read-only user (passwords), the
    seed's case template, the enabled workers, and the SMTP sink."""

    def __init__(self):
        amqp = conftest.amqp_broker()
        self.sink = SmtpSink()
        self.platform = conftest.Platform("postgres", amqp is not None, amqp,
                                          hive_env={"HIVE__CORTEX__AUTO_IMPORT": "false"})
        self.url = self.platform.hive.url
        self.platform.enable("analyzer", EML_PARSER, {"auto_extract_artifacts": True})
        self.platform.enable("responder", MAILER, seed_mailer_config(self.sink.port))
        root = TheHiveApi(url=self.url, username="admin@thehive.local", password="secret", max_retries=0)
        root.organisation.create({"name": "soc", "description": "the SOC"})
        self.users = {}
        for login, profile in [("alice@soc.test", "analyst"), ("reader@soc.test", "read-only"),
                               ("lead@soc.test", "org-admin")]:
            u = root.user.create({"login": login, "name": login.split("@")[0].title(),
                                  "profile": profile, "organisation": "soc"})
            root.user.set_password(u["_id"], PASSWORD)
            self.users[login] = u
        self.api = TheHiveApi(url=self.url, username="lead@soc.test", password=PASSWORD,
                              organisation="soc", max_retries=0)
        self.api.case_template.create({
            "name": "MALSPAM", "displayName": TEMPLATE, "titlePrefix": "[MALSPAM]", "severity": 2,
            "tags": ["phishing"], "description": "Suspicious mail report by user",
            "tasks": [{"title": t, "order": i} for i, t in enumerate(TASKS)]})

    def stop(self):
        self.platform.stop()
        self.sink.stop()


@pytest.fixture(scope="module")
def console():
    c = Console()
    print(f"console logs: {c.platform.hive.log.name} {c.platform.cortex.log.name}")
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if conftest.IN_CI:
            pytest.fail(f"CI=true but there is no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian's chromium package)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def logged_in(browser, console, login):
    ctx = browser.new_context(viewport={"width": 1360, "height": 900})
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    page.goto(console.url + "/alerts")
    expect(page).to_have_url(f"{console.url}/login?next=%2Falerts")
    page.fill("input[name=user]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{console.url}/alerts")
    return page


def test_the_seed_scenario_in_the_browser(console, browser, tmp_path):
    alert = feed_user_report(console.api, tmp_path)
    page = logged_in(browser, console, "alice@soc.test")

    # The reported mail's alert in the list, then its preview.
    row = page.locator(f'tr[data-id="{alert["_id"]}"]')
    expect(row).to_contain_text(alert["title"])
    expect(row).to_contain_text("Internal mail Server")
    shot(page, "alerts")
    row.locator("td.title > a").click()
    page.wait_for_url(f"**/alerts/{alert['_id']}")
    expect(page.locator("#alert-observables tr")).to_have_count(4)
    expect(page.locator("#alert-observables")).to_contain_text(REPORTED)
    expect(page.locator("#alert-observables")).to_contain_text(SENDER)
    shot(page, "alert-preview")

    # Import with the seed's template: a case with its 8 tasks.
    page.select_option("#import-template", label=TEMPLATE)
    page.click("#import-button")
    page.wait_for_url("**/cases/~*")
    case_url = page.url
    case_id = case_url.rsplit("/", 1)[1]
    expect(page.locator("h1")).to_contain_text("[MALSPAM]")
    page.click("#tab-tasks")
    expect(page.locator("tr[data-task]")).to_have_count(8)
    assert page.locator("tr[data-task]").all_inner_texts()[0].startswith(TASKS[0])

    # Start the first task and log in it.
    first = page.locator(f'tr[data-task="{TASKS[0]}"]')
    first.get_by_role("button", name="Start").click()
    expect(page.locator("#task-panel h2")).to_contain_text("InProgress")
    page.fill("#log-message", "Report **acknowledged**; the user was thanked.")
    page.click("#log-add")
    expect(page.locator("#task-panel article.log")).to_contain_text("Report acknowledged")
    expect(page.locator("#task-panel article.log strong")).to_have_text("acknowledged")
    shot(page, "case-tasks")
    tasks = console.api.case.find_tasks(case_id)
    [t0] = [t for t in tasks if t["title"] == TASKS[0]]
    assert t0["status"] == "InProgress" and t0["assignee"] == "alice@soc.test", t0

    # The e-mail parser on the reported .eml.
    page.click("#tab-observables")
    page.get_by_role("link", name=REPORTED).click()
    page.wait_for_url("**/observables/~*")
    page.locator(f'button[data-run="{EML_PARSER}"]').click()
    expect(page.locator("#report")).to_contain_text("Extracted observables", timeout=60_000)
    expect(page.locator("#job-rows")).to_contain_text("Success")
    expect(page.locator("#report .tax").first).to_be_visible()
    expect(page.locator("#report dl.eml")).to_contain_text(RELAY_IP)

    # Import the relay IP and the URL from the extracted observables.
    page.locator(f'tr[data-artifact="ip:{RELAY_IP}"] input[name=artifact]').check()
    page.locator(f'tr[data-artifact="url:{URL}"] input[name=artifact]').check()
    shot(page, "observable-report")
    page.click("#import-selection")
    expect(page.locator(f'tr[data-artifact="ip:{RELAY_IP}"]')).to_contain_text("✓")
    expect(page.locator(f'tr[data-artifact="url:{URL}"]')).to_contain_text("✓")
    have = {(o["dataType"], o.get("data")) for o in console.api.case.find_observables(case_id)}
    assert {("ip", RELAY_IP), ("url", URL)} <= have, have
    # Only what was chosen: the other extracted observables stay out of the case.
    assert not any(t == "domain" for t, _ in have), have

    # The Mailer responder on the case: the mail admins get the mail, the case is tagged.
    page.goto(case_url)
    page.click("#responders-button")
    page.select_option("#case-responder", label=MAILER)
    page.click("#run-case-responder")
    [mail] = console.sink.wait(1)
    assert mail["to"] == ["mailadmins@corp.example"], mail["to"]
    wait("the case's tag", lambda: console.api.case.get(case_id)["tags"], lambda t: "mail sent" in t)
    page.reload()
    expect(page.locator("#case-head .tags")).to_contain_text("mail sent")
    expect(page.locator("#details")).to_contain_text(MAILER)
    shot(page, "case-details")

    # Close as True Positive.
    page.click("#close-case")
    page.select_option("#close-status", "TruePositive")
    page.select_option("#close-impact", "WithImpact")
    page.fill("#close-summary", "Phishing confirmed; sender blocked by the mail admins.")
    page.click("#close-confirm")
    expect(page.locator("#case-head")).to_contain_text("TruePositive")
    expect(page.locator("#reopen-case")).to_be_visible()
    case = console.api.case.get(case_id)
    assert case["status"] == "TruePositive" and case["impactStatus"] == "WithImpact", case
    page.goto(console.url + "/cases")
    shot(page, "cases")
    page.context.close()


def test_a_read_only_user_gets_no_write_control_and_forged_requests_are_refused(console, browser):
    alert = console.api.alert.create({"type": "siem", "source": "SIEM", "sourceRef": uuid.uuid4().hex[:10],
                                      "title": "Brute force on VPN", "description": "many failures"})
    case = console.api.case.create({"title": "Lateral movement", "description": "seen on host-12"})
    page = logged_in(browser, console, "reader@soc.test")
    expect(page.locator(f'tr[data-id="{alert["_id"]}"]')).to_be_visible()
    expect(page.locator("input.sel")).to_have_count(0)
    expect(page.locator("[data-bulk-bar]")).to_have_count(0)
    page.goto(f"{console.url}/alerts/{alert['_id']}")
    expect(page.locator("h1")).to_contain_text("Brute force on VPN")
    expect(page.locator("#import-form")).to_have_count(0)
    page.goto(f"{console.url}/cases/{case['_id']}")
    expect(page.locator("#close-case")).to_have_count(0)
    page.goto(f"{console.url}/cases/{case['_id']}?tab=tasks")
    expect(page.locator("form.api")).to_have_count(0)
    # The same request the analyst's button sends, forged with the reader's session and token.
    status = page.evaluate("""async (id) => {
        const token = document.querySelector('meta[name=csrf-token]').content;
        const r = await fetch('/api/v1/alert/' + id + '/case', {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token}, body: '{}'});
        return r.status; }""", alert["_id"])
    assert status == 403, status
    closing = page.evaluate("""async (id) => {
        const token = document.querySelector('meta[name=csrf-token]').content;
        const r = await fetch('/api/v1/case/' + id, {method: 'PATCH',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token},
            body: JSON.stringify({status: 'FalsePositive', summary: 'x'})});
        return r.status; }""", case["_id"])
    assert closing == 403, closing
    assert console.api.alert.get(alert["_id"]).get("caseId") is None
    assert console.api.case.get(case["_id"])["status"] == "New"
    page.context.close()


class _Attacker(http.server.BaseHTTPRequestHandler):
    """Another site: a page whose form posts a case to hive-service as soon as it loads."""
    target = ""

    def do_GET(self):
        body = f"""<!doctype html><html><body>
<form id="f" method="POST" action="{self.target}/api/v1/case" enctype="text/plain">
<input name='{{"title":"forged case","description":"csrf","x":"' value='"}}'>
</form><script>document.getElementById('f').submit()</script></body></html>""".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_csrf_a_change_without_the_session_token_or_from_another_site_is_refused(console, browser):
    page = logged_in(browser, console, "alice@soc.test")
    before = len(console.api.case.find())
    # Same origin, the session's cookie, but no token: refused.
    status = page.evaluate("""async () => {
        const r = await fetch('/api/v1/case', {method: 'POST', headers: {'Content-Type': 'application/json',
            'X-Requested-With': 'XMLHttpRequest'}, body: JSON.stringify({title: 'no token', description: 'x'})});
        return [r.status, (await r.json()).type]; }""")
    assert status == [403, "AuthorizationError"], status
    # A wrong token: refused too.
    status = page.evaluate("""async () => {
        const r = await fetch('/api/v1/case', {method: 'POST', headers: {'Content-Type': 'application/json',
            'X-CSRF-Token': '00'.repeat(32)}, body: JSON.stringify({title: 'bad token', description: 'x'})});
        return r.status; }""")
    assert status == 403, status
    # A form on another site (another origin) posting to hive-service with the analyst's browser.
    _Attacker.target = console.url
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answers = []
        page.on("response", lambda r: answers.append(r) if r.url.endswith("/api/v1/case") else None)
        page.goto(f"http://localhost:{server.server_address[1]}/")
        page.wait_for_timeout(1500)
        assert answers and all(a.status in (401, 403) for a in answers), [a.status for a in answers]
    finally:
        server.shutdown()
    titles = {k["title"] for k in console.api.case.find()}
    assert not {"forged case", "no token", "bad token"} & titles, titles
    assert len(console.api.case.find()) == before
    page.context.close()


def test_scripts_in_an_alert_are_shown_as_text_and_never_run(console, browser):
    title = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> invoice'
    description = ('**Please check** <script>window.__xss = 3</script> <img src=x onerror="window.__xss = 4"> '
                   '[click](javascript:window.__xss=5)')
    alert = console.api.alert.create({"type": "mail", "source": "xss-feeder", "sourceRef": uuid.uuid4().hex[:10],
                                      "title": title, "description": description,
                                      "tags": ['<b onmouseover="window.__xss=6">tag</b>']})
    page = logged_in(browser, console, "alice@soc.test")
    row = page.locator(f'tr[data-id="{alert["_id"]}"]')
    expect(row.locator("td.title > a")).to_have_text(title)
    assert page.evaluate("window.__xss") is None
    row.locator("td.title > a").click()
    page.wait_for_url(f"**/alerts/{alert['_id']}")
    expect(page.locator("h1")).to_contain_text("<script>window.__xss = 1</script>")
    expect(page.locator(".md strong")).to_have_text("Please check")
    assert page.locator(".md script").count() == 0
    assert page.locator(".md img[onerror]").count() == 0
    assert page.locator('.md a[href^="javascript"]').count() == 0
    page.locator(".tags .tag").first.hover()
    assert page.evaluate("window.__xss") is None
    page.context.close()


def test_the_alert_list_updates_live_and_keeps_the_selection(console, browser):
    page = logged_in(browser, console, "alice@soc.test")
    expect(page.locator("body.live")).to_have_count(1)  # the event stream is open
    first = page.locator("input.sel").first
    first.check()
    kept = first.get_attribute("value")
    total = int(page.locator("#alert-total").inner_text())
    title = f"Live alert {uuid.uuid4().hex[:8]}"
    console.api.alert.create({"type": "siem", "source": "SIEM", "sourceRef": uuid.uuid4().hex[:10],
                              "title": title, "description": "from a feeder, while the analyst looks"})
    expect(page.locator("#alert-rows")).to_contain_text(title, timeout=10_000)
    expect(page.locator("#alert-total")).to_have_text(str(total + 1))
    assert page.locator(f'input.sel[value="{kept}"]').is_checked()
    assert page.url == f"{console.url}/alerts"
    page.context.close()


def test_an_analyst_attaches_files_and_edits_comments_and_pages_of_a_case(console, browser, tmp_path):
    case = console.api.case.create({"title": "Comments and pages", "description": "d"})
    lead = console.api.comment.create_in_case(case["_id"], {"message": "The lead's comment"})
    page = logged_in(browser, console, "alice@soc.test")

    # The observable's page names the other case holding the same address.
    other = console.api.case.create({"title": "Earlier campaign", "description": "d"})
    console.api.case.create_observable(other["_id"], {"dataType": "ip", "data": "198.51.100.77", "ioc": True})
    [obs] = console.api.case.create_observable(case["_id"], {"dataType": "ip", "data": "198.51.100.77"})
    page.goto(f"{console.url}/observables/{obs['_id']}")
    seen = page.locator(f'#similar p[data-case="{other["_id"]}"]')
    expect(seen).to_contain_text("Earlier campaign")
    expect(seen).to_contain_text("IOC there")
    expect(page.locator(f'#similar p[data-case="{case["_id"]}"]')).to_have_count(0)

    # A file attached to the case itself, downloaded, then deleted.
    notes = tmp_path / "headers.txt"
    notes.write_text("Received: from relay.bad.test\n")
    page.goto(f"{console.url}/cases/{case['_id']}")
    page.set_input_files("#attach-form input[type=file]", str(notes))
    with page.expect_navigation():
        page.click("#attach-form button")
    row = page.locator("#case-attachments p", has_text="headers.txt")
    expect(row).to_contain_text("bytes")
    link = row.locator("a").get_attribute("href")
    body = page.evaluate("async (u) => (await fetch(u)).text()", link)
    assert body == "Received: from relay.bad.test\n", body
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        row.get_by_role("button", name="Delete").click()
    expect(page.locator("#case-attachments p", has_text="headers.txt")).to_have_count(0)

    page.goto(f"{console.url}/cases/{case['_id']}?tab=comments")
    form = page.locator("form.api", has=page.locator("textarea[name=message][required]")).last
    form.locator("textarea").fill("First look: **phishing**")
    with page.expect_navigation():
        form.locator("button").click()
    mine = page.locator("article.log", has_text="First look")
    expect(mine.locator("strong")).to_have_text("phishing")  # Markdown
    # Her own comment has its edit form; the lead's has none.
    expect(page.locator(f'article[data-comment="{lead["_id"]}"] details.edit')).to_have_count(0)
    mine.locator("summary").click()
    mine.locator("textarea").fill("First look: phishing, **confirmed**")
    with page.expect_navigation():
        mine.get_by_role("button", name="Save").click()
    mine = page.locator("article.log", has_text="confirmed")
    expect(mine).to_contain_text("edited")
    mine.locator("summary").click()
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        mine.get_by_role("button", name="Delete").click()
    expect(page.locator("article.log", has_text="confirmed")).to_have_count(0)
    messages = [c["message"] for c in console.api.case.find_comments(case["_id"])]
    assert messages == ["The lead's comment"], messages

    # A page: created, edited, deleted.
    page.goto(f"{console.url}/cases/{case['_id']}?tab=pages")
    form = page.locator("form.api", has_text="New page")
    form.locator("input[name=title]").fill("Timeline")
    form.locator("input[name=category]").fill("Notes")
    form.locator("textarea[name=content]").fill("- 09:00 the mail arrives")
    with page.expect_navigation():
        form.locator("button").click()
    art = page.locator("article.page", has_text="Timeline")
    art.locator("summary").click()
    art.locator("textarea[name=content]").fill("- 09:00 the mail arrives\n- 09:05 the user reports it")
    with page.expect_navigation():
        art.get_by_role("button", name="Save").click()
    expect(page.locator("article.page", has_text="Timeline")).to_contain_text("the user reports it")
    pages = console.api.case.find_pages(case["_id"])
    assert [p["content"] for p in pages] == ["- 09:00 the mail arrives\n- 09:05 the user reports it"], pages
    art = page.locator("article.page", has_text="Timeline")
    art.locator("summary").click()
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        art.get_by_role("button", name="Delete").click()
    expect(page.locator("article.page")).to_have_count(0)
    page.context.close()
