"""thehive4py 2.1.0, unmodified, sets up a tenant on hive-service."""
import pytest
from thehive4py import TheHiveApi
from thehive4py.errors import TheHiveError
from thehive4py.query.filters import Eq


def admin(hive):
    return TheHiveApi(url=hive.url, username="admin@thehive.local", password="secret")


def test_admin_creates_a_tenant_whose_org_admin_works_by_api_key(hive):
    api = admin(hive)
    me = api.user.get_current()
    assert me["login"] == "admin@thehive.local" and me["profile"] == "admin"
    assert api.session.make_request("GET", "/api/v1/license/current")["fallback"]["expiresAt"] > 0

    org = api.organisation.create({"name": "main-org", "description": "SOC"})
    assert org["name"] == "main-org" and org["_type"] == "Organisation"
    assert api.organisation.get("main-org") == org
    assert api.organisation.get(org["_id"]) == org

    user = api.user.create({"login": "lead@soc.local", "name": "Lead", "profile": "org-admin",
                            "organisation": "main-org"})
    assert user["organisation"] == "main-org" and user["profile"] == "org-admin"
    assert user["hasKey"] is False and user["hasPassword"] is False
    assert api.user.create({"login": "lead@soc.local", "name": "Lead", "profile": "org-admin",
                            "organisation": "main-org"}) == user
    assert api.user.get(user["_id"]) == user

    api.user.set_password(user["_id"], "lead-password-1")
    key = api.user.renew_apikey(user["_id"])
    assert isinstance(key, str) and len(key) >= 32
    assert api.user.get(user["_id"])["hasKey"] is True

    lead = TheHiveApi(url=hive.url, apikey=key, organisation="main-org")
    current = lead.user.get_current()
    assert current["login"] == "lead@soc.local"
    assert current["organisation"] == "main-org" and current["profile"] == "org-admin"
    assert "manageCase" in current["permissions"]

    # The org-admin manages its own organisation's users, not the platform.
    analyst = lead.user.create({"login": "ana@soc.local", "name": "Ana", "profile": "analyst"})
    assert analyst["organisation"] == "main-org"
    with pytest.raises(TheHiveError) as e:
        lead.organisation.create({"name": "other", "description": "x"})
    assert e.value.response.status_code == 403
    with pytest.raises(TheHiveError) as e:
        TheHiveApi(url=hive.url, apikey=key, organisation="admin").user.get_current()
    assert e.value.response.status_code == 403

    # Password login works too; a revoked key stops working.
    by_password = TheHiveApi(url=hive.url, username="lead@soc.local", password="lead-password-1")
    assert by_password.user.get_current()["login"] == "lead@soc.local"
    api.user.remove_apikey(user["_id"])
    with pytest.raises(TheHiveError) as e:
        lead.user.get_current()
    assert e.value.response.status_code == 401
    assert "AuthenticationError" in str(e.value)

    users = api.user.find(filters=Eq("login", "ana@soc.local"))
    assert [u["login"] for u in users] == ["ana@soc.local"]
    get_user = {"query": [{"_name": "getUser", "idOrName": "ana@soc.local"}]}
    assert api.session.make_request("POST", "/api/v1/query", json=get_user) == users
    # An org-admin sees its organisation's users, not the platform administrator.
    hidden = {"query": [{"_name": "getUser", "idOrName": "admin@thehive.local"}]}
    assert by_password.session.make_request("POST", "/api/v1/query", json=hidden) == []
    assert sorted(u["login"] for u in by_password.user.find()) == ["ana@soc.local", "lead@soc.local"]
    orgs = api.organisation.find(filters=Eq("name", "main-org"))
    assert [o["_id"] for o in orgs] == [org["_id"]]
    assert api.organisation.count() == 2


def test_profiles(hive):
    api = admin(hive)
    names = {p["name"] for p in api.profile.find()}
    assert {"admin", "org-admin", "analyst", "read-only"} <= names
    p = api.profile.create({"name": "triage", "permissions": ["manageAlert", "manageCase"]})
    assert p["editable"] is True and p["forAdmin"] is False and p["forOrg"] is True
    assert api.profile.get("triage") == p
    api.profile.update(p["_id"], {"permissions": ["manageAlert"]})
    assert api.profile.get(p["_id"])["permissions"] == ["manageAlert"]
    assert api.profile.count(filters=Eq("name", "triage")) == 1
    with pytest.raises(TheHiveError) as e:
        api.profile.update("org-admin", {"permissions": []})
    assert e.value.response.status_code == 400
    with pytest.raises(TheHiveError) as e:
        api.profile.create({"name": "bad", "permissions": ["manageEverything"]})
    assert e.value.response.status_code == 400 and "AttributeCheckingError" in str(e.value)
    api.profile.delete(p["_id"])
    with pytest.raises(TheHiveError) as e:
        api.profile.get("triage")
    assert e.value.response.status_code == 404


def test_wrong_credentials_are_401(hive):
    api = TheHiveApi(url=hive.url, username="admin@thehive.local", password="wrong", max_retries=0)
    with pytest.raises(TheHiveError) as e:
        api.user.get_current()
    assert e.value.response.status_code == 401
