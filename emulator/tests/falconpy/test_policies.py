"""Prevention, response and sensor-update policies, builds and installers."""

import pytest
from conftest import ok, paging
from falconpy import (HostGroup, PreventionPolicy, ResponsePolicies, SensorDownload,
                      SensorUpdatePolicy)


@pytest.mark.parametrize("service", [PreventionPolicy, ResponsePolicies])
def test_policy_lifecycle(auth, service):
    policies = service(auth_object=auth)
    listed = ok(policies.query_combined_policies(filter="platform_name:'Windows'"))
    assert paging(listed)["total"] >= 4
    assert listed["resources"][-1]["name"] == "platform_default"
    created = ok(policies.create_policies(name="Emulator policy", platform_name="Windows",
                                          description="made by FalconPy"), 201)
    policy_id = created["resources"][0]["id"]
    ok(policies.update_policies(id=policy_id, description="updated"))
    group_id = ok(HostGroup(auth_object=auth).query_host_groups(limit=1))["resources"][0]
    ok(policies.perform_policies_action(action_name="add-host-group", ids=[policy_id],
                                        group_id=group_id))
    ok(policies.perform_policies_action(action_name="enable", ids=[policy_id]))
    got = ok(policies.get_policies(ids=[policy_id]))["resources"][0]
    assert got["enabled"] and got["groups"][0]["id"] == group_id
    assert got["description"] == "updated"

    ids = ok(policies.query_policies(filter="platform_name:'Windows'", limit=100))["resources"]
    customs = [i for i in ids if i != listed["resources"][-1]["id"]]
    customs.remove(policy_id)
    ok(policies.set_policies_precedence(ids=[policy_id] + customs, platform_name="Windows"))
    assert ok(policies.get_policies(ids=[policy_id]))["resources"][0]["precedence"] == 1
    partial = policies.set_policies_precedence(ids=[policy_id], platform_name="Windows")
    assert partial["status_code"] == 400

    ok(policies.perform_policies_action(action_name="disable", ids=[policy_id]))
    ok(policies.delete_policies(ids=[policy_id]))
    assert policies.get_policies(ids=[policy_id])["status_code"] == 404


def test_sensor_update_policies_and_builds(auth):
    updates = SensorUpdatePolicy(auth_object=auth)
    builds = ok(updates.query_combined_builds(platform="windows"))["resources"]
    assert builds and all(b["platform"] == "windows" for b in builds)
    listed = ok(updates.query_combined_policies_v2(filter="platform_name:'Linux'"))
    assert all("build" in p["settings"] for p in listed["resources"])
    ids = ok(updates.query_policies())["resources"]
    got = ok(updates.get_policies_v2(ids=ids[:2]))["resources"]
    assert len(got) == 2


def test_sensor_installers(auth):
    download = SensorDownload(auth_object=auth)
    shas = ok(download.get_sensor_installers_by_query_v2(filter="platform:'windows'"))
    assert paging(shas)["total"] >= 1
    details = ok(download.get_sensor_installer_entities_v2(ids=shas["resources"][:2]))
    assert all(d["platform"] == "windows" for d in details["resources"])
    combined = ok(download.get_combined_sensor_installers_by_query_v2(limit=3))
    assert len(combined["resources"]) == 3
    ccid = ok(download.get_sensor_installer_ccid())["resources"][0]
    assert "-" in ccid


def test_installer_download(auth, tmp_path):
    download = SensorDownload(auth_object=auth)
    sha = ok(download.get_sensor_installers_by_query_v2(filter="platform:'linux'"))["resources"][0]
    download.download_sensor_installer_v2(id=sha, download_path=str(tmp_path), file_name="s.rpm")
    saved = (tmp_path / "s.rpm").read_bytes()
    assert sha.encode() in saved
    missing = download.download_sensor_installer_v2(id="0" * 64)
    assert missing["status_code"] == 404


def test_policy_members(auth):
    policies = PreventionPolicy(auth_object=auth)
    linux = ok(policies.query_combined_policies(filter="platform_name:'Linux'"))["resources"]
    default = [p for p in linux if p["name"] == "platform_default"][0]
    members = ok(policies.query_combined_policy_members(id=default["id"], limit=500))
    assert members["resources"] and all(m["platform_name"] == "Linux"
                                        for m in members["resources"])
    ids = ok(policies.query_policy_members(id=default["id"], limit=500))["resources"]
    assert len(ids) == paging(members)["total"]
