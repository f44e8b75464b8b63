"""thehive4py 2.1.0: observable types, custom fields and the MISP connector routes."""
import pytest
from thehive4py import TheHiveApi
from thehive4py.errors import TheHiveError
from thehive4py.query.filters import Eq


def admin(hive):
    return TheHiveApi(url=hive.url, username="admin@thehive.local", password="secret")


def test_observable_types(hive):
    api = admin(hive)
    builtin = {t["name"]: t for t in api.observable_type.find()}
    assert {"ip", "domain", "mail", "mail-subject", "file", "hash", "url"} <= builtin.keys()
    assert builtin["file"]["isAttachment"] is True and builtin["ip"]["isAttachment"] is False
    assert all(t["_createdBy"] == "system@thehive.local" for t in builtin.values())

    created = api.observable_type.create({"name": "btc-address"})
    assert created["name"] == "btc-address" and created["isAttachment"] is False
    assert api.observable_type.get(created["_id"]) == created
    assert api.observable_type.get("btc-address") == created
    assert api.observable_type.find(filters=Eq("name", "btc-address")) == [created]
    with pytest.raises(TheHiveError) as e:
        api.observable_type.create({"name": "btc-address"})
    assert e.value.response.status_code == 400 and "CreateError" in str(e.value)
    api.observable_type.delete(created["_id"])
    with pytest.raises(TheHiveError) as e:
        api.observable_type.get(created["_id"])
    assert e.value.response.status_code == 404


def test_custom_fields(hive):
    api = admin(hive)
    cf = api.custom_field.create({"name": "reportedBy", "group": "mail", "description": "who reported",
                                  "type": "string", "options": ["alice", "bob"]})
    assert cf["displayName"] == "reportedBy" and cf["type"] == "string" and cf["options"] == ["alice", "bob"]
    assert cf["mandatory"] is False and cf["_type"] == "CustomField"
    assert api.custom_field.list() == [cf]
    api.custom_field.update(cf["_id"], {"displayName": "Reported by", "mandatory": True})
    updated = api.custom_field.list()[0]
    assert updated["displayName"] == "Reported by" and updated["mandatory"] is True
    assert updated["_updatedBy"] == "admin@thehive.local"
    with pytest.raises(TheHiveError) as e:
        api.custom_field.create({"name": "score", "group": "g", "description": "d", "type": "integer",
                                 "options": ["high"]})
    assert e.value.response.status_code == 400 and "options" in str(e.value)
    with pytest.raises(TheHiveError) as e:
        api.custom_field.create({"name": "x", "group": "g", "description": "d", "type": "decimal"})
    assert e.value.response.status_code == 400 and "type" in str(e.value)
    api.custom_field.delete(cf["_id"])
    assert api.custom_field.list() == []
    with pytest.raises(TheHiveError) as e:
        api.custom_field.delete(cf["_id"])
    assert e.value.response.status_code == 404


def test_misp_connector_answers_as_an_unconfigured_thehive(hive):
    api = admin(hive)
    org = api.organisation.create({"name": "main-org", "description": "SOC"})
    api.user.set_organisations("admin@thehive.local", [
        {"organisation": "admin", "profile": "admin", "default": True},
        {"organisation": org["name"], "profile": "org-admin"},
    ])
    soc = TheHiveApi(url=hive.url, username="admin@thehive.local", password="secret", organisation="main-org")
    assert soc.misp.get_status() == {"status": {}, "syncInProgress": False}
    assert soc.misp.sync() == ""
    with pytest.raises(TheHiveError, match="NotFoundError - MISP server my-misp not found"):
        soc.misp.export_case("1", "my-misp")


def test_only_platform_admins_manage_the_catalogue(hive):
    api = admin(hive)
    api.organisation.create({"name": "soc", "description": "SOC"})
    api.user.create({"login": "lead@soc", "name": "Lead", "profile": "org-admin", "organisation": "soc",
                     "password": "lead-password-1"})
    lead = TheHiveApi(url=hive.url, username="lead@soc", password="lead-password-1", max_retries=0)
    assert {t["name"] for t in lead.observable_type.find()} >= {"ip"}
    for call in (lambda: lead.observable_type.create({"name": "x"}),
                 lambda: lead.custom_field.create({"name": "x", "group": "g", "description": "d", "type": "string"})):
        with pytest.raises(TheHiveError) as e:
            call()
        assert e.value.response.status_code == 403
