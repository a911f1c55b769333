"""The host inventory of `plugins/sensor-health` as a plain FalconPy script, for
the benchmark against the host (`bench/run`): every host with details (scroll the
ids 5,000 at a time, details 5,000 at a time), the newest production sensor build
per platform, and the same three findings (outdated sensor, reduced functionality
mode, not seen for 14 days). Prints the counts as JSON.

    FALCON_BASE_URL=http://127.0.0.1:PORT FALCON_CLIENT_ID=... \
    FALCON_CLIENT_SECRET=... python host_inventory.py
"""

import json
from datetime import datetime, timezone

from loopback import authenticate, body
from falconpy import Hosts, SensorUpdatePolicy

STALE_DAYS = 14


def version_key(version):
    return [int(part) if part.isdigit() else 0 for part in (version or "").split(".")]


def main():
    auth = authenticate()
    hosts = Hosts(auth_object=auth)

    ids, offset = [], None
    while True:
        params = {"limit": 5000}
        if offset:
            params["offset"] = offset
        page = body(hosts.query_devices_by_filter_scroll(**params), "query_devices_by_filter_scroll")
        ids += page["resources"]
        offset = page["meta"]["pagination"].get("offset")
        if not page["resources"] or len(ids) >= page["meta"]["pagination"]["total"] or not offset:
            break

    devices = []
    for start in range(0, len(ids), 5000):
        batch = ids[start:start + 5000]
        devices += body(hosts.get_device_details(ids=batch), "get_device_details")["resources"]

    builds = body(SensorUpdatePolicy(auth_object=auth).query_combined_builds(stage="prod"),
                  "query_combined_builds")["resources"]
    newest = {}
    for build in builds:
        platform = build["platform"].lower()
        if version_key(build["sensor_version"]) > version_key(newest.get(platform)):
            newest[platform] = build["sensor_version"]

    now = datetime.now(timezone.utc)
    findings = {"outdated": [], "reduced_functionality_mode": [], "not_seen": []}
    for device in devices:
        platform = (device.get("platform_name") or "").lower()
        latest = newest.get(platform)
        if latest and version_key(device.get("agent_version")) < version_key(latest):
            findings["outdated"].append(device["device_id"])
        if device.get("reduced_functionality_mode") == "yes":
            findings["reduced_functionality_mode"].append(device["device_id"])
        seen = device.get("last_seen")
        days = None if seen is None else (
            now - datetime.fromisoformat(seen.replace("Z", "+00:00"))).days
        if days is None or days >= STALE_DAYS:
            findings["not_seen"].append(device["device_id"])
    for kind in findings.values():
        kind.sort()

    print(json.dumps({
        "host_count": len(devices),
        "counts": {k: len(v) for k, v in findings.items()},
    }))


if __name__ == "__main__":
    main()
