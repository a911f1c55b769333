"""Counts Falcon console users by status: a plugin written in Python.

Built with componentize-py against the same WIT contract as the Rust
plugins (see README.md beside this file). It holds no credentials: it asks
the host for users, and the host checks the `users:read` grant.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import runtime, types, users


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        options = json.loads(input or "{}")
        unknown = sorted(set(options) - {"format"})
        if unknown:
            raise Err(f"unknown input field `{unknown[0]}`; the only one is `format`")
        try:
            found = users.query_users(types.Filter_All())
        except Err as e:
            raise Err(f"listing users failed: {e.value}")

        counts = {}
        for user in found:
            status = user.status or "unknown"
            counts[status] = counts.get(status, 0) + 1
        runtime.log(runtime.Level.INFO, f"counted {len(found)} users")

        if options.get("format") == "json":
            return json.dumps({"users": len(found), "by_status": counts}, sort_keys=True) + "\n"
        lines = ["# Falcon users by status", ""]
        lines += [f"- {status}: {n}" for status, n in sorted(counts.items())]
        lines.append(f"- total: {len(found)}")
        return "\n".join(lines) + "\n"
