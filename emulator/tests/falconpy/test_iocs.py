"""Custom IOCs: search, combined, create, update, delete."""

from conftest import ok, paging
from falconpy import IOC, HostGroup


def test_ioc_lifecycle(auth):
    iocs = IOC(auth_object=auth)
    page = ok(iocs.indicator_search(limit=10, sort="created_on.asc"))
    assert paging(page)["total"] >= 10 and paging(page)["after"]
    combined = ok(iocs.indicator_combined(filter="type:'domain'"))
    assert all(i["type"] == "domain" for i in combined["resources"])
    created = ok(iocs.indicator_create(type="domain", value="evil.emulator.example",
                                       action="detect", severity="high",
                                       platforms=["windows"], applied_globally=True,
                                       comment="from FalconPy"), 201)
    ioc_id = created["resources"][0]["id"]
    ok(iocs.indicator_update(id=ioc_id, severity="critical", comment="raise"))
    assert ok(iocs.indicator_get(ids=[ioc_id]))["resources"][0]["severity"] == "critical"
    group = ok(HostGroup(auth_object=auth).query_host_groups(limit=1))["resources"][0]
    ok(iocs.indicator_update(id=ioc_id, applied_globally=False, host_groups=[group],
                             platforms=["windows", "mac"], comment="scope"))
    stored = ok(iocs.indicator_get(ids=[ioc_id]))["resources"][0]
    assert stored["host_groups"] == [group] and not stored["applied_globally"]
    assert stored["platforms"] == ["windows", "mac"]
    both = iocs.indicator_update(id=ioc_id, applied_globally=True, host_groups=[group])
    assert both["status_code"] == 400
    ok(iocs.indicator_delete(ids=[ioc_id]))
    assert iocs.indicator_get(ids=[ioc_id])["status_code"] == 404
