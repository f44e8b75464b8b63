"""thehive4py 1.8.2 (the legacy client), unmodified, against hive-service."""
from thehive4py.api import TheHiveApi


def test_current_user_and_health(hive):
    api = TheHiveApi(hive.url, "admin@thehive.local", "secret", version=4)
    r = api.get_current_user()
    assert r.status_code == 200
    body = r.json()
    assert body["login"] == "admin@thehive.local" and body["_type"] == "user"
    assert body["organisation"] == "admin" and "admin" in body["roles"]
    assert api.health().status_code == 200
    bad = TheHiveApi(hive.url, "admin@thehive.local", "wrong", version=4)
    assert bad.get_current_user().status_code == 401
