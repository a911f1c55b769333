"""Host groups: CRUD and membership."""

from conftest import ok, paging
from falconpy import HostGroup, Hosts


def test_host_group_lifecycle(auth):
    groups = HostGroup(auth_object=auth)
    listed = ok(groups.query_combined_host_groups(limit=100))
    assert paging(listed)["total"] >= 8
    assert any("'" in g["name"] for g in listed["resources"])
    created = ok(groups.create_host_groups(name="Émulateur – test", group_type="static"), 201)
    group_id = created["resources"][0]["id"]
    ok(groups.update_host_groups(id=group_id, description="changed"))

    aid = ok(Hosts(auth_object=auth).query_devices_by_filter(limit=1))["resources"][0]
    ok(groups.perform_group_action(action_name="add-hosts", ids=[group_id],
                                   filter=f"device_id:['{aid}']"))
    members = ok(groups.query_group_members(id=group_id))
    assert members["resources"] == [aid]
    fetched = ok(groups.get_host_groups(ids=[group_id]))["resources"][0]
    assert fetched["description"] == "changed"
    ok(groups.delete_host_groups(ids=[group_id]))
    assert groups.get_host_groups(ids=[group_id])["status_code"] == 404


def test_rule_only_for_dynamic_groups(auth):
    answer = HostGroup(auth_object=auth).create_host_groups(
        name="bad", group_type="static", assignment_rule="platform_name:'Mac'")
    assert answer["status_code"] == 400
    assert "assignment_rule" in answer["body"]["errors"][0]["message"]


def test_group_members_combined(auth):
    groups = HostGroup(auth_object=auth)
    mac = [g for g in ok(groups.query_combined_host_groups())["resources"]
           if g["name"] == "Mac fleet"][0]
    members = ok(groups.query_combined_group_members(id=mac["id"], limit=500))
    assert members["resources"] and all(h["platform_name"] == "Mac"
                                        for h in members["resources"])
