//! The scopes a plugin can request, as operators read them in the integration
//! guide, and what each needs from the Falcon API client.
//!
//! Two families share one type: the static catalog of Falcon scopes
//! (`users:read`), and one scope per notification destination
//! (`notify:slack-secops`), whose names come from the operator's
//! configuration. Every caller (flags, grants file, manifest, gate, reports)
//! handles both the same way.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

/// A plugin-facing scope, for example `users:read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Scope(&'static ScopeInfo);

/// The prefix of the scope of a notification destination.
pub(crate) const NOTIFY_PREFIX: &str = "notify:";

/// The destination of `notify:*`: a manifest requests it to send to
/// whichever destinations the operator grants by name at run time.
pub(crate) const ANY_DESTINATION: &str = "*";

/// The longest destination name.
const MAX_DESTINATION_NAME: usize = 64;

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
    "hosts:write" => "devices:write", "Hosts: Write", "contain hosts, change their tags";
    "host-groups:read" => "host-group:read", "Host groups: Read", "view host groups and their members";
    "host-groups:write" => "host-group:write", "Host groups: Write", "create, change and delete host groups and their membership";
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
    /// Looks a scope up by its plugin-facing name: a catalog entry, or
    /// `notify:<destination>` for a well-formed destination name.
    pub(crate) fn find(name: &str) -> Option<Self> {
        if let Some(destination) = name.strip_prefix(NOTIFY_PREFIX) {
            return Self::notify(destination).ok();
        }
        CATALOG.iter().find(|s| s.name == name).map(Scope)
    }

    /// Looks a scope up, with an error that lists the known scopes.
    pub(crate) fn parse(name: &str) -> Result<Self, String> {
        let name = name.trim();
        if let Some(destination) = name.strip_prefix(NOTIFY_PREFIX) {
            return Self::notify(destination).map_err(|e| format!("scope `{name}`: {e}"));
        }
        Self::find(name).ok_or_else(|| {
            let known: Vec<&str> = CATALOG.iter().map(|s| s.name).collect();
            format!(
                "unknown scope `{name}`; known scopes: {}, and notify:<destination> for each \
                 notification destination of the config file",
                known.join(", ")
            )
        })
    }

    /// The scope that allows sending to the notification destination
    /// `destination`.
    ///
    /// # Errors
    ///
    /// The name is not a valid destination name.
    pub(crate) fn notify(destination: &str) -> Result<Self, String> {
        let any = destination == ANY_DESTINATION;
        if !any {
            check_destination_name(destination)?;
        }
        // Scopes are `Copy` and name themselves with `&'static str` for every
        // caller; a destination's entry is made once per name and kept for
        // the life of the process. Names come from the operator (flags,
        // grants, config) and from manifests, never from a plugin's calls, so
        // the set stays small.
        static INTERNED: Mutex<BTreeMap<String, &'static ScopeInfo>> = Mutex::new(BTreeMap::new());
        let mut interned = INTERNED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let info = interned.entry(destination.to_owned()).or_insert_with(|| {
            let name: &'static str = format!("{NOTIFY_PREFIX}{destination}").leak();
            let allows: &'static str = if any {
                "send to the notification destinations the operator grants by name"
            } else {
                format!("send to the notification destination `{destination}`").leak()
            };
            Box::leak(Box::new(ScopeInfo {
                name,
                api_scope: "none",
                console_name: "none",
                allows,
            }))
        });
        Ok(Scope(info))
    }

    /// The notification destination this scope allows sending to, if it is
    /// a `notify:` scope.
    pub(crate) fn destination(self) -> Option<&'static str> {
        self.0.name.strip_prefix(NOTIFY_PREFIX)
    }

    /// Whether this is `notify:*`, which a plugin requests to send to the
    /// destinations the operator grants it by name.
    pub(crate) fn is_any_destination(self) -> bool {
        self.destination() == Some(ANY_DESTINATION)
    }

    /// Whether a plugin that requests `self` may use the grant `granted`:
    /// the same scope, or any named destination for `notify:*`.
    pub(crate) fn covers(self, granted: Scope) -> bool {
        self == granted
            || (self.is_any_destination()
                && granted.destination().is_some()
                && !granted.is_any_destination())
    }

    /// Parses a scope the operator grants (flag, grants file, `host
    /// grant`). `notify:*` is only ever requested: the operator names each
    /// destination, so that a grant says exactly where a plugin may send.
    pub(crate) fn parse_grant(name: &str) -> Result<Self, String> {
        let scope = Self::parse(name)?;
        if scope.is_any_destination() {
            return Err(
                "`notify:*` is what a plugin requests, not a grant; grant each destination by \
                 name, for example `notify:slack-secops`"
                    .to_owned(),
            );
        }
        Ok(scope)
    }

    /// Whether the scope allows changing something (a Falcon write, or
    /// sending a notification).
    pub(crate) fn writes(self) -> bool {
        self.0.name.ends_with(":write") || self.destination().is_some()
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

/// Checks a destination name: 1 to 64 of `a-z`, `0-9`, `-` and `_`, starting
/// with a letter or digit, so that it is safe in flags, TOML keys and logs.
///
/// # Errors
///
/// The name, and what a valid one looks like.
pub(crate) fn check_destination_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= MAX_DESTINATION_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !name.starts_with(['-', '_']);
    if valid {
        Ok(())
    } else {
        let shown: String = name.chars().take(MAX_DESTINATION_NAME).collect();
        Err(format!(
            "`{}` is not a destination name; use 1 to {MAX_DESTINATION_NAME} of a-z, 0-9, - and _ \
             (for example `slack-secops`)",
            shown.escape_debug()
        ))
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

    #[test]
    fn any_destination_is_requested_never_granted_and_covers_named_ones() {
        let any = Scope::parse("notify:*").unwrap();
        assert!(any.is_any_destination());
        let named = Scope::parse("notify:chat").unwrap();
        assert!(any.covers(named));
        assert!(any.covers(any) && !named.covers(any));
        assert!(!any.covers(Scope::parse("hosts:write").unwrap()));
        assert!(named.covers(named));
        let err = Scope::parse_grant("notify:*").unwrap_err();
        assert!(err.contains("grant each destination by name"), "{err}");
        assert_eq!(Scope::parse_grant("notify:chat").unwrap(), named);
        assert!(Scope::parse("notify:**").is_err());
    }

    #[test]
    fn notify_scopes_name_a_destination_and_are_one_value_per_name() {
        let a = Scope::parse("notify:slack-secops").unwrap();
        let b = Scope::find("notify:slack-secops").unwrap();
        assert_eq!(a, b);
        assert!(std::ptr::eq(a.info(), b.info()), "interned once");
        assert_eq!(a.destination(), Some("slack-secops"));
        assert_eq!(a.flag(), "--grant notify:slack-secops");
        assert!(a.writes());
        assert!(!Scope::parse("users:read").unwrap().writes());
        assert_eq!(Scope::parse("users:read").unwrap().destination(), None);
        for bad in [
            "notify:",
            "notify:Slack",
            "notify:a b",
            "notify:-x",
            "notify:a/b",
        ] {
            let err = Scope::parse(bad).unwrap_err();
            assert!(err.contains("is not a destination name"), "{bad}: {err}");
            assert!(Scope::find(bad).is_none(), "{bad}");
        }
        let long = format!("notify:{}", "a".repeat(65));
        assert!(Scope::parse(&long).is_err());
    }
}
