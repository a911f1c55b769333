"""Alerts (current API), incidents, and the decommissioned detects API."""

from conftest import ok, paging
from falconpy import Alerts, Detects, Incidents


def test_alert_query_entities_and_update(auth):
    alerts = Alerts(auth_object=auth)
    page = ok(alerts.query_alerts_v2(filter="severity:>=60", limit=20, sort="severity|desc"))
    assert paging(page)["limit"] == 20 and paging(page)["total"] >= 20
    ids = page["resources"]
    entities = ok(alerts.get_alerts_v2(composite_ids=ids))["resources"]
    assert [a["composite_id"] for a in entities] == ids
    assert all(a["severity"] >= 60 for a in entities)
    ok(alerts.update_alerts_v3(composite_ids=ids[:2], update_status="in_progress",
                               add_tag="emulator"))
    again = ok(alerts.get_alerts_v2(composite_ids=ids[:2]))["resources"]
    assert all(a["status"] == "in_progress" and "emulator" in a["tags"] for a in again)


def test_combined_alerts_page_with_after(auth):
    alerts = Alerts(auth_object=auth)
    first = ok(alerts.get_alerts_combined(limit=100, sort="created_timestamp|desc"))
    after = paging(first)["after"]
    assert after and paging(first)["total"] > 100
    second = ok(alerts.get_alerts_combined(limit=100, after=after, sort="created_timestamp|desc"))
    assert first["resources"][0]["composite_id"] != second["resources"][0]["composite_id"]
    other_sort = alerts.get_alerts_combined(limit=100, after=after, sort="severity|asc")
    assert other_sort["status_code"] == 400


def test_too_many_alert_ids_is_413(auth):
    answer = Alerts(auth_object=auth).get_alerts_v2(composite_ids=[f"x{i}" for i in range(1001)])
    assert answer["status_code"] == 413


def test_detects_answer_405(auth):
    assert Detects(auth_object=auth).query_detects()["status_code"] == 405


def test_incidents(auth):
    incidents = Incidents(auth_object=auth)
    page = ok(incidents.query_incidents(limit=10, sort="start.desc"))
    assert paging(page)["total"] >= 10
    found = ok(incidents.get_incidents(ids=page["resources"][:3]))["resources"]
    assert all(i["incident_id"].startswith("inc:") for i in found)
    ok(incidents.perform_incident_action(ids=page["resources"][:1], update_status="40"))
    closed = ok(incidents.get_incidents(ids=page["resources"][:1]))["resources"][0]
    assert closed["status"] == 40 and closed["state"] == "closed"


def test_relative_time_filters(auth):
    alerts = Alerts(auth_object=auth)
    week = ok(alerts.query_alerts_v2(filter="created_timestamp:>'now-7d'", limit=1))
    month = ok(alerts.query_alerts_v2(filter="created_timestamp:>'now-30d'", limit=1))
    assert 0 < paging(week)["total"] < paging(month)["total"]
