//! Hostile: calls every `hosts` operation, containment included, without
//! requesting any scope.

use falcon_sdk::{Filter, Input, Plugin, hosts};
use hostile::answer;
use serde_json::json;

falcon_sdk::manifest! {
    name: "ungranted-hosts",
    version: "0.1.0",
    description: "Hostile: calls hosts operations it did not request",
    scopes: [],
}

struct UngrantedHosts;

impl Plugin for UngrantedHosts {
    fn run(input: Input) -> Result<String, String> {
        let ids = input.strings_or("ids", &[]).map_err(|e| e.to_string())?;
        let acted = |r: hosts::ActionResult| json!(r.accepted.len());
        Ok(json!({
            "list-hosts": answer(hosts::list_hosts(&Filter::All), |v| json!(v.len())),
            "get-hosts": answer(hosts::get_hosts(&ids), |v| json!(v.len())),
            "query-hosts": answer(hosts::query_hosts(&Filter::All), |v| json!(v.len())),
            "contain": answer(hosts::contain(&ids, Some("hostile")), acted),
            "lift-containment": answer(hosts::lift_containment(&ids, None), acted),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(UngrantedHosts);
