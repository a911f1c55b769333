//! Falcon API-client scopes: the internal strings (`usermgmt:read`) and the
//! names the Falcon console shows (`User management: Read`).
//!
//! A 403 from the API means the API client lacks a scope; operators fix that
//! in the console, so errors name both spellings.

/// Internal scope prefixes and their console names (`falcon-api.md` §5.12).
const CONSOLE_NAMES: &[(&str, &str)] = &[
    ("devices", "Hosts"),
    ("host-group", "Host groups"),
    ("alerts", "Alerts"),
    ("detects", "Detections"),
    ("incidents", "Incidents"),
    ("prevention-policies", "Prevention policies"),
    ("response-policies", "Response policies"),
    ("sensor-update-policies", "Sensor update policies"),
    ("sensor-installers", "Sensor download"),
    ("real-time-response", "Real time response"),
    ("real-time-response-admin", "Real time response (admin)"),
    ("real-time-response-audit", "Real time response audit"),
    ("usermgmt", "User management"),
    ("ioc", "IOC Manager APIs"),
    ("iocs", "IOCs (Indicators of Compromise)"),
    ("streaming", "Event streams"),
];

/// The console name of an internal API scope: `usermgmt:read` →
/// `User management: Read`. Unknown prefixes are returned as given, with the
/// access level capitalised.
pub fn console_name(api_scope: &str) -> String {
    let (prefix, access) = api_scope.split_once(':').unwrap_or((api_scope, ""));
    let name = CONSOLE_NAMES
        .iter()
        .find(|(p, _)| *p == prefix)
        .map_or(prefix, |(_, n)| n);
    let access = match access {
        "read" => "Read",
        "write" => "Write",
        "" => return name.to_owned(),
        other => other,
    };
    format!("{name}: {access}")
}

#[cfg(test)]
mod tests {
    use super::console_name;

    #[test]
    fn known_and_unknown_scopes() {
        assert_eq!(console_name("usermgmt:read"), "User management: Read");
        assert_eq!(console_name("devices:write"), "Hosts: Write");
        assert_eq!(
            console_name("real-time-response-admin:write"),
            "Real time response (admin): Write"
        );
        assert_eq!(console_name("something:read"), "something: Read");
        assert_eq!(console_name("bare"), "bare");
    }
}
