"""User management: users, roles, grants."""

from conftest import ok, paging
from falconpy import UserManagement


def test_users_roles_and_writes(auth):
    users = UserManagement(auth_object=auth)
    page = ok(users.query_users(limit=20, sort="uid|asc"))
    assert paging(page)["total"] == 64 and len(page["resources"]) == 20
    found = ok(users.retrieve_users(ids=page["resources"][:5]))["resources"]
    assert len(found) == 5
    roles = ok(users.query_roles())["resources"]
    assert "falcon_administrator" in roles
    ok(users.get_user_grants(user_uuid=page["resources"][0]))
    created = ok(users.create_user_mssp(uid="zoë.o'brien@example.com", first_name="Zoë",
                                        last_name="O'Brien"), 201)
    uuid = created["resources"][0]["uuid"]
    ok(users.update_user_mssp(user_uuid=uuid, first_name="Zoé", last_name="O'Brien"))
    ok(users.delete_user_mssp(user_uuid=uuid))
