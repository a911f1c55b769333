"""Hosts: queries, scroll, details, combined, online state, containment, tags."""

import time

from conftest import ok, paging
from falconpy import Hosts


def test_query_pages_and_details(auth):
    hosts = Hosts(auth_object=auth)
    first = ok(hosts.query_devices_by_filter(limit=50, sort="hostname.asc"))
    assert paging(first)["limit"] == 50 and paging(first)["offset"] == 0
    total = paging(first)["total"]
    assert total > 50
    second = ok(hosts.query_devices_by_filter(limit=50, offset=50, sort="hostname.asc"))
    assert not set(first["resources"]) & set(second["resources"])
    details = ok(hosts.get_device_details(ids=first["resources"][:10]))
    assert [d["device_id"] for d in details["resources"]] == first["resources"][:10]
    assert all(isinstance(d["platform_id"], str) for d in details["resources"])


def test_offset_window_is_ten_thousand(auth):
    answer = Hosts(auth_object=auth).query_devices_by_filter(limit=100, offset=9950)
    assert answer["status_code"] == 400
    assert "10000" in answer["body"]["errors"][0]["message"]


def test_filters_select_platforms(auth):
    hosts = Hosts(auth_object=auth)
    body = ok(hosts.query_devices_by_filter_combined(filter="platform_name:'Mac'", limit=500))
    assert body["resources"] and all(d["platform_name"] == "Mac" for d in body["resources"])
    bad = hosts.query_devices_by_filter(filter="platform_name:'Mac")
    assert bad["status_code"] == 400


def test_scroll_reaches_the_end(auth):
    hosts = Hosts(auth_object=auth)
    seen, offset = [], None
    while True:
        kwargs = {"limit": 40}
        if offset:
            kwargs["offset"] = offset
        body = ok(hosts.query_devices_by_filter_scroll(**kwargs))
        if not body["resources"]:
            assert paging(body)["total"] == 0
            break
        seen += body["resources"]
        offset = paging(body)["offset"]
        assert paging(body)["expires_at"] > time.time()
    assert len(seen) == len(set(seen)) and len(seen) > 40


def test_combined_next_token_and_online_state(auth):
    hosts = Hosts(auth_object=auth)
    page = ok(hosts.query_devices_by_filter_combined(limit=5))
    assert paging(page)["next"] and len(page["resources"]) == 5
    following = ok(hosts.query_devices_by_filter_combined(limit=5, offset=paging(page)["next"]))
    assert following["resources"][0]["device_id"] != page["resources"][0]["device_id"]
    ids = [d["device_id"] for d in page["resources"]]
    states = ok(hosts.get_online_state(ids=ids))
    assert {s["state"] for s in states["resources"]} <= {"online", "offline", "unknown"}


def test_containment_moves_from_pending_to_contained(auth):
    hosts = Hosts(auth_object=auth)
    aid = ok(hosts.query_devices_by_filter(filter="status:'normal'", limit=1))["resources"][0]
    ok(hosts.perform_action(action_name="contain", ids=[aid]), 202)
    status = ok(hosts.get_device_details(ids=[aid]))["resources"][0]["status"]
    assert status == "containment_pending"
    time.sleep(0.5)
    assert ok(hosts.get_device_details(ids=[aid]))["resources"][0]["status"] == "contained"
    ok(hosts.perform_action(action_name="lift_containment", ids=[aid]), 202)


def test_hide_unhide_and_tags(auth):
    hosts = Hosts(auth_object=auth)
    aid = ok(hosts.query_devices_by_filter(limit=1, sort="hostname.desc"))["resources"][0]
    ok(hosts.perform_action(action_name="hide_host", ids=[aid]), 202)
    hidden = ok(hosts.query_hidden_devices(limit=500))["resources"]
    assert aid in hidden
    ok(hosts.perform_action(action_name="unhide_host", ids=[aid]), 202)
    tagged = hosts.update_device_tags(action_name="add", ids=[aid], tags=["emulator-test"])
    assert tagged["status_code"] == 202
    tags = ok(hosts.get_device_details(ids=[aid]))["resources"][0]["tags"]
    assert "FalconGroupingTags/emulator-test" in tags
