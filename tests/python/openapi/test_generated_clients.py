"""Both services' OpenAPI documents, as orchestration tools meet them: valid OpenAPI 3.1 for a
validator from PyPI (openapi-spec-validator), and usable by a well-known client generator
(openapi-python-client): the Python client generated from hive-service's document creates an
organisation, a user, its key and an alert; the one generated from cortex-service's enables
an analyzer, runs a job and reads its report. Runs in its own venv (.venv-openapi)."""
import base64
import importlib
import json
import os
import subprocess
import sys

import pytest
from openapi_python_client.strings import snake_case
from openapi_spec_validator import validate

from conftest import CORTEX_ADMIN_KEY, CORTEX_BIN, HIVE_BIN, Service, _db_for, engine_env

GENERATOR = os.path.join(os.path.dirname(sys.executable), "openapi-python-client")
METHODS = ("get", "post", "put", "patch", "delete")


def document(binary):
    return json.loads(subprocess.check_output([binary, "openapi"]))


@pytest.mark.parametrize("binary", [HIVE_BIN, CORTEX_BIN], ids=["hive", "cortex"])
def test_the_documents_are_valid_openapi_3_1_with_unique_ids_and_security(binary):
    doc = document(binary)
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # raises on any violation
    ops = [(p, m, op) for p, item in doc["paths"].items() for m, op in item.items() if m in METHODS]
    ids = [op["operationId"] for _, _, op in ops]
    assert len(ids) == len(set(ids)), "operationIds are unique"
    public = {"/api/status", "/api/v1/status", "/api/health", "/api/login", "/api/v1/login",
              "/api/logout", "/api/v1/logout"}
    for path, method, op in ops:
        if path not in public:
            assert op.get("security"), f"{method} {path} requires a credential"
            assert "401" in op["responses"], f"{method} {path} says it answers 401"
        for code, r in op["responses"].items():
            assert r.get("description", "").strip(), f"{method} {path} {code} is described"
            if code != "204":
                assert r.get("content"), f"{method} {path} {code} has a schema"
    schemes = doc["components"]["securitySchemes"]
    assert {"bearer", "basic", "session"} <= set(schemes)


def test_hive_documents_its_header_and_its_uploads():
    doc = document(HIVE_BIN)
    alert = doc["paths"]["/api/v1/alert"]["post"]
    assert any(p["name"] == "X-Organisation" and p["in"] == "header" for p in alert["parameters"])
    form = alert["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["_json"]["type"] == "string"
    for path in ["/api/v1/case/{id}/observable", "/api/v1/alert/{id}/observable",
                 "/api/v1/task/{id}/log", "/api/case/{id}/artifact"]:
        assert "multipart/form-data" in doc["paths"][path]["post"]["requestBody"]["content"], path


def generate(binary, name, tmp_path):
    """Generates the client package `name` from the binary's document; returns (module, doc)."""
    doc = document(binary)
    spec = tmp_path / f"{name}.json"
    spec.write_text(json.dumps(doc))
    config = tmp_path / "generator.yaml"
    config.write_text("post_hooks: []\n")
    out = subprocess.run(
        [GENERATOR, "generate", "--path", str(spec), "--output-path", str(tmp_path / name),
         "--meta", "none", "--config", str(config)],
        capture_output=True, text=True, check=True,
    )
    assert "Endpoint will not be generated" not in out.stdout + out.stderr, out.stdout + out.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(name), doc
    finally:
        sys.path.remove(str(tmp_path))


def operation(package, doc, method, path):
    """The generated module of an operation, found by its tag and operationId."""
    op = doc["paths"][path][method]
    tag = snake_case(op["tags"][0]) if op.get("tags") else "default"
    return importlib.import_module(f"{package.__name__}.api.{tag}.{snake_case(op['operationId'])}")


def model(package, name, data):
    return getattr(importlib.import_module(f"{package.__name__}.models"), name).from_dict(data)


@pytest.fixture
def hive_sqlite():
    s = Service(HIVE_BIN, "HIVE", _db_for("sqlite"), {})
    yield s
    s.stop()


def hive_analyst(client_pkg, doc, url):
    """As hive's admin, through the generated client: an organisation, an analyst in it and
    the analyst's key; returns a client authenticated with that key."""
    basic = base64.b64encode(b"admin@thehive.local:secret").decode()
    admin = client_pkg.Client(base_url=url, headers={"Authorization": f"Basic {basic}"})
    r = operation(client_pkg, doc, "post", "/api/v1/organisation").sync_detailed(
        client=admin, body=model(client_pkg, "InputOrganisation", {"name": "gen-soc", "description": "SOC"}))
    assert r.status_code == 201, r.content
    assert r.parsed.name == "gen-soc"
    r = operation(client_pkg, doc, "post", "/api/v1/user").sync_detailed(
        client=admin, body=model(client_pkg, "InputUser", {
            "login": "analyst@gen.soc", "name": "Analyst", "organisation": "gen-soc", "profile": "analyst"}))
    assert r.status_code == 201, r.content
    r = operation(client_pkg, doc, "post", "/api/v1/user/{id}/key/renew").sync_detailed(
        client=admin, id="analyst@gen.soc")
    assert r.status_code == 200, r.content
    key = r.content.decode().strip()
    assert len(key) >= 32
    return client_pkg.AuthenticatedClient(base_url=url, token=key)


def test_a_client_generated_from_hives_document_creates_an_alert(hive_sqlite, tmp_path):
    client_pkg, doc = generate(HIVE_BIN, "generated_hive_client", tmp_path)
    analyst = hive_analyst(client_pkg, doc, hive_sqlite.url)
    alert = model(client_pkg, "InputAlert", {
        "type": "phishing", "source": "generated-client", "sourceRef": "GEN-1",
        "title": "Suspicious mail reported", "description": "from a generated client"})
    alert.observables = [model(client_pkg, "InputObservable", {"dataType": "mail", "data": "ceo@evil.example"})]
    r = operation(client_pkg, doc, "post", "/api/v1/alert").sync_detailed(client=analyst, body=alert)
    assert r.status_code == 201, r.content
    created = r.parsed
    assert type(created).__name__ == "OutputAlert"
    assert created.title == "Suspicious mail reported"
    alert_id = json.loads(r.content)["_id"]
    r = operation(client_pkg, doc, "get", "/api/v1/alert/{id}").sync_detailed(client=analyst, id=alert_id)
    assert r.status_code == 200, r.content
    assert r.parsed.source_ref == "GEN-1"
    assert json.loads(r.content)["observableCount"] == 1
    # A wrong key is refused as the document says.
    bad = client_pkg.AuthenticatedClient(base_url=hive_sqlite.url, token="not-a-key")
    r = operation(client_pkg, doc, "get", "/api/v1/alert/{id}").sync_detailed(client=bad, id=alert_id)
    assert r.status_code == 401


def test_a_generated_client_works_a_case_through_typed_bodies(hive_sqlite, tmp_path):
    """The document names every POST body's fields, so a generated client builds them as
    models: an alert promoted to a case, a comment, a procedure, a timeline event, a page."""
    client_pkg, doc = generate(HIVE_BIN, "generated_hive_client_bodies", tmp_path)
    analyst = hive_analyst(client_pkg, doc, hive_sqlite.url)

    r = operation(client_pkg, doc, "post", "/api/v1/alert").sync_detailed(client=analyst, body=model(
        client_pkg, "InputAlert", {"type": "phishing", "source": "generated-client", "sourceRef": "GEN-2",
                                   "title": "Reported mail", "description": "from a generated client"}))
    assert r.status_code == 201, r.content
    alert_id = json.loads(r.content)["_id"]
    r = operation(client_pkg, doc, "post", "/api/v1/alert/{id}/case").sync_detailed(
        client=analyst, id=alert_id, body=model(client_pkg, "InputAlertCase", {
            "title": "Phishing: reported mail", "severity": 3, "tasks": [{"title": "Triage"}]}))
    assert r.status_code == 201, r.content
    assert type(r.parsed).__name__ == "OutputCase"
    case = json.loads(r.content)
    assert (case["title"], case["severity"]) == ("Phishing: reported mail", 3)
    case_id = case["_id"]

    r = operation(client_pkg, doc, "post", "/api/v1/case/{id}/comment").sync_detailed(
        client=analyst, id=case_id, body=model(client_pkg, "InputComment", {"message": "Looking at it"}))
    assert r.status_code == 201, r.content
    assert json.loads(r.content)["message"] == "Looking at it"
    r = operation(client_pkg, doc, "post", "/api/v1/case/{id}/procedure").sync_detailed(
        client=analyst, id=case_id, body=model(client_pkg, "InputProcedure", {
            "patternId": "T1566.001", "occurDate": 1700000000000, "tactic": "Initial Access"}))
    assert r.status_code == 201, r.content
    assert (json.loads(r.content)["patternId"], json.loads(r.content)["tactic"]) == ("T1566.001", "initial-access")
    r = operation(client_pkg, doc, "post", "/api/v1/case/{id}/customEvent").sync_detailed(
        client=analyst, id=case_id, body=model(client_pkg, "InputCustomEvent", {
            "date": 1700000000000, "title": "User reported the mail"}))
    assert r.status_code == 201, r.content
    r = operation(client_pkg, doc, "post", "/api/v1/case/{id}/page").sync_detailed(
        client=analyst, id=case_id, body=model(client_pkg, "InputPage", {
            "title": "Notes", "category": "Triage", "content": "Relay IP to check"}))
    assert r.status_code == 201, r.content
    # A body that breaks its schema is refused naming the field, as the document says.
    r = operation(client_pkg, doc, "post", "/api/v1/case/{id}/procedure").sync_detailed(
        client=analyst, id=case_id, body=model(client_pkg, "InputProcedure", {
            "patternId": "T1566.001", "occurDate": 1700000000000, "tactic": "exfiltration"}))
    assert r.status_code == 400 and "tactic" in json.loads(r.content)["message"], r.content


@pytest.fixture
def cortex_sqlite():
    s = Service(CORTEX_BIN, "CORTEX", _db_for("sqlite"), engine_env())
    yield s
    s.stop()


def test_a_client_generated_from_cortexs_document_runs_a_job(cortex_sqlite, tmp_path):
    client_pkg, doc = generate(CORTEX_BIN, "generated_cortex_client", tmp_path)
    superadmin = client_pkg.AuthenticatedClient(base_url=cortex_sqlite.url, token=CORTEX_ADMIN_KEY)
    r = operation(client_pkg, doc, "post", "/api/organization").sync_detailed(
        client=superadmin, body=model(client_pkg, "InputOrganization", {
            "name": "gen-soc", "description": "SOC", "status": "Active"}))
    assert r.status_code in (200, 201), r.content
    r = operation(client_pkg, doc, "post", "/api/user").sync_detailed(
        client=superadmin, body=model(client_pkg, "InputUser", {
            "login": "lead", "name": "Lead", "organization": "gen-soc",
            "roles": ["read", "analyze", "orgadmin"]}))
    assert r.status_code in (200, 201), r.content
    r = operation(client_pkg, doc, "post", "/api/user/{login}/key/renew").sync_detailed(
        client=superadmin, login="lead")
    assert r.status_code == 200, r.content
    api = client_pkg.AuthenticatedClient(base_url=cortex_sqlite.url, token=r.content.decode().strip())

    r = operation(client_pkg, doc, "get", "/api/analyzerdefinition").sync_detailed(client=api)
    assert r.status_code == 200, r.content
    assert "Echo_1_0" in {d["id"] for d in json.loads(r.content)}
    r = operation(client_pkg, doc, "post", "/api/organization/{kind}/{id}").sync_detailed(
        client=api, kind=importlib.import_module(f"{client_pkg.__name__}.models").WorkerKind("analyzer"),
        id="Echo_1_0",
        body=model(client_pkg, "InputWorker", {"name": "Echo_1_0", "configuration": {"greeting": "hi"}}))
    assert r.status_code in (200, 201), r.content
    worker_id = json.loads(r.content)["id"]

    models = importlib.import_module(f"{client_pkg.__name__}.models")
    body = model(client_pkg, "RunBody", {"dataType": "ip", "data": "203.0.113.7", "tlp": 2,
                                             "pap": 2, "message": "from a generated client"})
    r = operation(client_pkg, doc, "post", "/api/{kind}/{id}/run").sync_detailed(
        client=api, kind=models.RunKind("analyzer"), id=worker_id, body=body)
    assert r.status_code == 200, r.content
    job_id = json.loads(r.content)["id"]
    assert type(r.parsed).__name__ == "OutputJob"

    r = operation(client_pkg, doc, "get", "/api/job/{id}/waitreport").sync_detailed(
        client=api, id=job_id, at_most="30seconds")
    assert r.status_code == 200, r.content
    job = json.loads(r.content)
    assert job["status"] == "Success", json.dumps(job)
    assert job["report"]["full"], job
