//! The scopes a plugin can request, as operators read them in the integration
//! guide, and what each needs from the Falcon API client.

use std::fmt;

/// A plugin-facing scope, for example `users:read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Scope(&'static ScopeInfo);

/// What the host knows of one scope.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ScopeInfo {
    /// The name plugins and operators use.
    pub(crate) name: &'static str,
    /// The Falcon API-client scope it needs, in Falcon's internal spelling.
    pub(crate) api_scope: &'static str,
    /// The name of that scope in the Falcon console's API client form.
    pub(crate) console_name: &'static str,
    /// What the scope allows, in a few words.
    pub(crate) allows: &'static str,
}

macro_rules! scopes {
    ($($name:literal => $api:literal, $console:literal, $allows:literal;)*) => {
        /// Every scope the host knows, in the order the integration guide lists them.
        pub(crate) static CATALOG: &[ScopeInfo] = &[
            $(ScopeInfo { name: $name, api_scope: $api, console_name: $console, allows: $allows },)*
        ];
    };
}

scopes! {
    "hosts:read" => "devices:read", "Hosts: Read", "view and search hosts";
    "hosts:write" => "devices:write", "Hosts: Write", "contain hosts, change host groups and tags";
    "sensor-update-policies:read" => "sensor-update-policies:read", "Sensor update policies: Read", "view sensor update policies and builds";
    "sensor-update-policies:write" => "sensor-update-policies:write", "Sensor update policies: Write", "change sensor update policies";
    "detections:read" => "alerts:read", "Alerts: Read", "view alerts (detections)";
    "detections:write" => "alerts:write", "Alerts: Write", "update alerts: status, assignee, tags, comments";
    "incidents:read" => "incidents:read", "Incidents: Read", "view incidents";
    "incidents:write" => "incidents:write", "Incidents: Write", "update incidents";
    "prevention-policies:read" => "prevention-policies:read", "Prevention policies: Read", "view prevention policies";
    "prevention-policies:write" => "prevention-policies:write", "Prevention policies: Write", "change prevention policies";
    "response-policies:read" => "response-policies:read", "Response policies: Read", "view response policies";
    "response-policies:write" => "response-policies:write", "Response policies: Write", "change response policies";
    "real-time-response:read" => "real-time-response:read", "Real time response: Read", "open RTR sessions and run read-only commands";
    "real-time-response:write" => "real-time-response:write", "Real time response: Write", "run active-responder RTR commands";
    "real-time-response-admin:read" => "real-time-response-admin:write", "Real time response (admin): Write", "list RTR scripts and put-files";
    "real-time-response-admin:write" => "real-time-response-admin:write", "Real time response (admin): Write", "run admin RTR commands and scripts";
    "users:read" => "usermgmt:read", "User management: Read", "list users";
    "users:write" => "usermgmt:write", "User management: Write", "create, change and delete users and their roles";
    "roles:read" => "usermgmt:read", "User management: Read", "list roles and role grants";
    "custom-ioc:read" => "ioc:read", "IOC Manager APIs: Read", "view custom IOCs";
    "custom-ioc:write" => "ioc:write", "IOC Manager APIs: Write", "create, change and delete custom IOCs";
    "sensor-versions:read" => "sensor-installers:read", "Sensor download: Read", "view sensor versions and installers";
}

impl Scope {
    /// Looks a scope up by its plugin-facing name.
    pub(crate) fn find(name: &str) -> Option<Self> {
        CATALOG.iter().find(|s| s.name == name).map(Scope)
    }

    /// Looks a scope up, with an error that lists the known scopes.
    pub(crate) fn parse(name: &str) -> Result<Self, String> {
        Self::find(name.trim()).ok_or_else(|| {
            let known: Vec<&str> = CATALOG.iter().map(|s| s.name).collect();
            format!(
                "unknown scope `{}`; known scopes: {}",
                name.trim(),
                known.join(", ")
            )
        })
    }

    pub(crate) fn name(self) -> &'static str {
        self.0.name
    }

    pub(crate) fn info(self) -> &'static ScopeInfo {
        self.0
    }

    /// The command-line flag that grants this scope.
    pub(crate) fn flag(self) -> String {
        format!("--grant {}", self.0.name)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_unique_and_well_formed() {
        let mut names: Vec<&str> = CATALOG.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOG.len());
        for s in CATALOG {
            assert!(
                s.name.ends_with(":read") || s.name.ends_with(":write"),
                "{}",
                s.name
            );
            assert!(s.api_scope.ends_with(":read") || s.api_scope.ends_with(":write"));
        }
    }

    #[test]
    fn unknown_scopes_list_the_known_ones() {
        let err = Scope::parse("user:read").unwrap_err();
        assert!(
            err.starts_with("unknown scope `user:read`; known scopes: hosts:read"),
            "{err}"
        );
        assert_eq!(Scope::parse(" users:read ").unwrap().name(), "users:read");
        assert_eq!(
            Scope::parse("roles:read").unwrap().info().api_scope,
            "usermgmt:read"
        );
    }
}
