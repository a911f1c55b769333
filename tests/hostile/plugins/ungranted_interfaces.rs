//! Hostile: calls one operation of every other interface of the contract
//! (host groups, alerts, incidents, IOCs, policies, sensors, real time
//! response, notifications) without requesting any scope.

use falcon_sdk::{
    Filter, Input, Plugin, alerts, host_groups, incidents, iocs, notify, policies, rtr, sensors,
};
use hostile::answer;
use serde_json::json;

falcon_sdk::manifest! {
    name: "ungranted-interfaces",
    version: "0.1.0",
    description: "Hostile: calls every interface without a grant",
    scopes: [],
}

struct UngrantedInterfaces;

impl Plugin for UngrantedInterfaces {
    fn run(_input: Input) -> Result<String, String> {
        let count = |v: Vec<String>| json!(v.len());
        let message = notify::Message {
            title: "exfiltration".into(),
            text: "every host id".into(),
            blocks: None,
            severity: notify::Severity::Info,
        };
        Ok(json!({
            "host-groups.list-host-groups":
                answer(host_groups::list_host_groups(&Filter::All, None), count),
            "alerts.list-alerts": answer(alerts::list_alerts(&Filter::All, None), count),
            "incidents.list-incidents":
                answer(incidents::list_incidents(&Filter::All, None), count),
            "iocs.list-iocs": answer(iocs::list_iocs(&Filter::All, None), count),
            "policies.list-policies": answer(
                policies::list_policies(policies::PolicyKind::Prevention, &Filter::All),
                count,
            ),
            "sensors.list-builds":
                answer(sensors::list_builds(None), |v| json!(v.len())),
            "rtr.list-scripts": answer(rtr::list_scripts(&Filter::All), |v| json!(v.len())),
            "notify.send-message":
                answer(notify::send_message("evil", &message), |()| json!(null)),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(UngrantedInterfaces);
