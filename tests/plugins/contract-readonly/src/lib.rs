//! A test plugin that requests only read scopes and then tries one write
//! through each of the alerts, incidents, iocs and host-groups interfaces,
//! so tests can check that every write is denied with a teaching message
//! even when the operator grants the write scope on the command line. The
//! report maps each attempted operation to the `Debug` form of its result.

use std::collections::BTreeMap;

use falcon_sdk::{Filter, Input, Plugin};
use falcon_sdk::{alerts, host_groups, incidents, iocs};

falcon_sdk::manifest! {
    name: "contract-readonly",
    version: "0.1.0",
    description: "Reads alerts, incidents, iocs and host groups, and tries one write of each",
    scopes: ["detections:read", "incidents:read", "custom-ioc:read", "host-groups:read"],
}

struct ContractReadonly;

impl Plugin for ContractReadonly {
    fn run(_input: Input) -> Result<String, String> {
        let mut seen: BTreeMap<&str, String> = BTreeMap::new();
        let alert_ids = alerts::list_alerts(&Filter::All, None).map_err(|e| e.message())?;
        seen.insert("alerts.list-alerts", format!("{} ids", alert_ids.len()));
        let close = alerts::AlertUpdate {
            status: Some(alerts::AlertStatus::Closed),
            assign: None,
            add_tags: Vec::new(),
            remove_tags: Vec::new(),
            comment: None,
        };
        let first = alert_ids.into_iter().take(1).collect::<Vec<_>>();
        seen.insert(
            "alerts.update-alerts",
            format!("{:?}", alerts::update_alerts(&first, &close)),
        );
        let incident_ids =
            incidents::list_incidents(&Filter::All, None).map_err(|e| e.message())?;
        let close = incidents::IncidentUpdate {
            status: Some(incidents::IncidentStatus::Closed),
            assign: None,
            add_tags: Vec::new(),
            remove_tags: Vec::new(),
            comment: None,
        };
        let first = incident_ids.into_iter().take(1).collect::<Vec<_>>();
        seen.insert(
            "incidents.update-incidents",
            format!("{:?}", incidents::update_incidents(&first, &close)),
        );
        let detect = iocs::NewIoc {
            ioc_type: iocs::IocType::Domain,
            value: "readonly.example".into(),
            action: iocs::IocAction::Detect,
            severity: None,
            description: None,
            platforms: vec![iocs::IocPlatform::Windows],
            tags: Vec::new(),
            applies_to: iocs::AppliesTo::EveryHost,
        };
        seen.insert(
            "iocs.create-iocs",
            format!("{:?}", iocs::create_iocs(&[detect])),
        );
        let group = host_groups::NewHostGroup {
            name: "readonly-group".into(),
            group_type: host_groups::GroupType::StaticById,
            description: None,
            assignment_rule: None,
        };
        seen.insert(
            "host-groups.create-host-group",
            format!("{:?}", host_groups::create_host_group(&group)),
        );
        serde_json::to_string(&seen).map_err(|e| e.to_string())
    }
}

falcon_sdk::export_plugin!(ContractReadonly);
