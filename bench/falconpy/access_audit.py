"""The access audit of `plugins/access-audit` as a plain FalconPy script, for the
benchmark against the host (`bench/run`): every user with details and role grants,
and the same four findings (inactive for 90 days, never logged in, holders of an
administrator role, users without a role). Prints the counts as JSON.

    FALCON_BASE_URL=http://127.0.0.1:PORT FALCON_CLIENT_ID=... \
    FALCON_CLIENT_SECRET=... python access_audit.py
"""

import json
from datetime import datetime, timedelta, timezone

from loopback import authenticate, body
from falconpy import UserManagement

ADMIN_ROLES = {"falcon_administrator", "remote_responder_three"}
INACTIVE_DAYS = 90


def main():
    users = UserManagement(auth_object=authenticate())

    uuids, offset = [], 0
    while True:
        page = body(users.query_users(limit=500, offset=offset), "query_users")
        uuids += page["resources"]
        offset += len(page["resources"])
        if not page["resources"] or offset >= page["meta"]["pagination"]["total"]:
            break

    details = []
    for start in range(0, len(uuids), 5000):
        batch = uuids[start:start + 5000]
        details += body(users.retrieve_users(ids=batch), "retrieve_users")["resources"]

    role_ids = body(users.query_roles(), "query_roles")["resources"]
    roles = body(users.get_roles_mssp(ids=role_ids), "get_roles_mssp")["resources"]
    role_names = {role["id"]: role["display_name"] for role in roles}

    grants = {}
    for uuid in uuids:
        held, offset = [], 0
        while True:
            page = body(users.get_user_grants(user_uuid=uuid, limit=500, offset=offset),
                        "get_user_grants")
            held += page["resources"]
            offset += len(page["resources"])
            if not page["resources"] or offset >= page["meta"]["pagination"]["total"]:
                break
        grants[uuid] = sorted({g["role_id"] for g in held})

    now = datetime.now(timezone.utc)
    findings = {"inactive": [], "never_logged_in": [], "administrators": [], "without_roles": []}
    for user in sorted(details, key=lambda u: (u["uid"].lower(), u["uuid"])):
        uuid = user["uuid"]
        last = user.get("last_login_at")
        if last is None:
            findings["never_logged_in"].append(uuid)
        elif now - datetime.fromisoformat(last.replace("Z", "+00:00")) > timedelta(
                days=INACTIVE_DAYS):
            findings["inactive"].append(uuid)
        held = grants.get(uuid, [])
        if ADMIN_ROLES.intersection(held):
            findings["administrators"].append(uuid)
        if not held:
            findings["without_roles"].append(uuid)
        user["roles"] = [role_names.get(r, r) for r in held]

    print(json.dumps({
        "user_count": len(details),
        "role_count": len(roles),
        "counts": {k: len(v) for k, v in findings.items()},
    }))


if __name__ == "__main__":
    main()
