"""cortex4py 2.1.0, unmodified, sets up an organization on cortex-service."""
import pytest
from cortex4py.api import Api
from cortex4py.exceptions import AuthenticationError, AuthorizationError, InvalidInputError
from cortex4py.query import Eq

from conftest import CORTEX_ADMIN_KEY


def test_superadmin_creates_an_org_whose_orgadmin_works_by_key(cortex):
    api = Api(cortex.url, CORTEX_ADMIN_KEY)
    assert api.status().json()["versions"]["Cortex"]
    org = api.organizations.create({"name": "soc", "description": "SOC", "status": "Active"})
    assert org.id == "soc" and org.status == "Active"
    assert api.organizations.get_by_id("soc").name == "soc"
    assert api.organizations.count({}) == 2

    user = api.users.create({"login": "lead", "name": "Lead", "roles": ["read", "analyze", "orgadmin"],
                             "organization": "soc", "password": None})
    assert user.id == "lead" and user.organization == "soc"
    assert sorted(user.roles) == ["analyze", "orgadmin", "read"]
    assert api.users.set_password("lead", "lead-password-1") is True
    key = api.users.renew_key("lead")
    assert len(key) >= 32

    lead = Api(cortex.url, key)
    me = lead.users.get_by_id("lead")
    assert me.hasKey is True and me.hasPassword is True
    assert lead.organizations.get_by_id("soc").id == "soc"
    ana = lead.users.create({"login": "ana", "name": "Ana", "roles": ["read", "analyze"], "organization": "soc"})
    assert ana.organization == "soc"
    found = lead.organizations.get_users("soc", Eq("roles", "analyze"))
    assert sorted(u.id for u in found) == ["ana", "lead"]
    with pytest.raises(AuthorizationError):
        lead.organizations.create({"name": "other", "description": "x"})
    with pytest.raises(InvalidInputError):
        lead.users.create({"login": "boss", "name": "B", "roles": ["superadmin"], "organization": "soc"})

    assert api.users.revoke_key("lead") is True
    with pytest.raises(AuthenticationError):
        lead.users.get_by_id("lead")

    users = api.users.find_all(Eq("organization", "soc"), range="all", sort="+name")
    assert [u.id for u in users] == ["ana", "lead"]
    locked = api.users.lock("ana")
    assert locked.status == "Locked"
