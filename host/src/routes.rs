//! The route table of the generic `api.call`: every Falcon endpoint the host
//! knows, with the plugin scope it needs and its risk tier. A route not in
//! the table is denied; a path is matched exactly, after it is checked for
//! the tricks that would make it mean another URL.

use falcon::{Endpoint, Method};

use crate::gate::Tier;

/// One callable endpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    pub(crate) endpoint: Endpoint,
    /// The plugin-facing scope, as operators grant it.
    pub(crate) scope: &'static str,
    pub(crate) tier: Tier,
    /// For destructive routes, the typed operation to use instead.
    pub(crate) instead: Option<&'static str>,
}

const fn read(endpoint: Endpoint, scope: &'static str) -> Route {
    Route {
        endpoint,
        scope,
        tier: Tier::Read,
        instead: None,
    }
}

const fn write(endpoint: Endpoint, scope: &'static str) -> Route {
    Route {
        endpoint,
        scope,
        tier: Tier::Write,
        instead: None,
    }
}

const fn destructive(endpoint: Endpoint, scope: &'static str, instead: &'static str) -> Route {
    Route {
        endpoint,
        scope,
        tier: Tier::Destructive,
        instead: Some(instead),
    }
}

/// Every route, with the plugin scope whose Falcon API-client scope the
/// endpoint needs (checked by a test): host tags are `hosts:write`, host
/// groups `host-groups:*`, alerts `detections:*`.
pub(crate) static ROUTES: &[Route] = {
    use falcon::{alerts, host_groups, hosts, incidents, iocs, rtr, sensors, users};
    &[
        read(hosts::QUERY_DEVICES, "hosts:read"),
        read(hosts::SCROLL_DEVICES, "hosts:read"),
        read(hosts::COMBINED_DEVICES, "hosts:read"),
        read(hosts::GET_DEVICES, "hosts:read"),
        read(hosts::POST_DEVICES, "hosts:read"),
        read(hosts::ONLINE_STATE, "hosts:read"),
        destructive(hosts::DEVICE_ACTIONS, "hosts:write", "hosts.contain"),
        write(hosts::UPDATE_TAGS, "hosts:write"),
        read(host_groups::QUERY_GROUPS, "host-groups:read"),
        read(host_groups::COMBINED_GROUPS, "host-groups:read"),
        read(host_groups::GET_GROUPS, "host-groups:read"),
        read(host_groups::QUERY_MEMBERS, "host-groups:read"),
        write(host_groups::CREATE_GROUPS, "host-groups:write"),
        write(host_groups::DELETE_GROUPS, "host-groups:write"),
        write(host_groups::GROUP_ACTIONS, "host-groups:write"),
        read(alerts::QUERY_ALERTS, "detections:read"),
        read(alerts::COMBINED_ALERTS, "detections:read"),
        read(alerts::GET_ALERTS, "detections:read"),
        write(alerts::UPDATE_ALERTS, "detections:write"),
        read(incidents::QUERY, "incidents:read"),
        read(incidents::GET, "incidents:read"),
        write(incidents::ACTIONS, "incidents:write"),
        read(iocs::SEARCH, "custom-ioc:read"),
        read(iocs::COMBINED, "custom-ioc:read"),
        read(iocs::GET, "custom-ioc:read"),
        destructive(
            iocs::CREATE,
            "custom-ioc:write",
            "iocs.create-iocs (a blocking indicator needs `--approve iocs.create-blocking`)",
        ),
        write(iocs::DELETE, "custom-ioc:write"),
        read(rtr::INIT_SESSION, "real-time-response:read"),
        read(rtr::DELETE_SESSION, "real-time-response:read"),
        read(rtr::REFRESH_SESSION, "real-time-response:read"),
        read(rtr::BATCH_INIT, "real-time-response:read"),
        read(sensors::BUILDS, "sensor-update-policies:read"),
        read(sensors::QUERY_INSTALLERS, "sensor-versions:read"),
        read(sensors::COMBINED_INSTALLERS, "sensor-versions:read"),
        read(sensors::GET_INSTALLERS, "sensor-versions:read"),
        read(sensors::CCID, "sensor-versions:read"),
        read(users::QUERY_USERS, "users:read"),
        read(users::GET_USERS, "users:read"),
        read(users::QUERY_ROLES, "roles:read"),
        read(users::GET_ROLES, "roles:read"),
        read(users::USER_ROLES, "roles:read"),
    ]
};

/// Finds the route for `method` and `path`, or says why there is none.
pub(crate) fn resolve(method: &str, path: &str) -> Result<(usize, &'static Route), String> {
    let method = match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        other => return Err(format!("method `{other}` is not one Falcon uses")),
    };
    check_path(path)?;
    ROUTES
        .iter()
        .enumerate()
        .find(|(_, r)| r.endpoint.method == method && r.endpoint.path == path)
        .ok_or_else(|| {
            format!(
                "`{} {path}` is not in the host's route table; only known Falcon endpoints can be \
                 called",
                method.as_str()
            )
        })
}

/// Refuses anything that is not a plain absolute path: another host, a
/// scheme, `..` segments, percent-encoding (an encoded slash or dot), a query
/// string or fragment, control characters.
fn check_path(path: &str) -> Result<(), String> {
    let shown: String = path.chars().take(80).collect();
    if !path.starts_with('/') || path.starts_with("//") {
        return Err(format!(
            "path `{shown}` must start with a single `/` (no host, no scheme)"
        ));
    }
    if path.len() > 256 {
        return Err("path is longer than 256 characters".into());
    }
    if let Some(bad) = path
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/-_.".contains(*c)))
    {
        return Err(format!(
            "path `{shown}` holds `{}`; paths are letters, digits, `/`, `-`, `_` and `.` \
             (pass parameters in `query`)",
            bad.escape_default()
        ));
    }
    if path
        .split('/')
        .any(|segment| segment == ".." || segment == ".")
        || path.contains("//")
    {
        return Err(format!("path `{shown}` has `.`, `..` or empty segments"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scopes::Scope;

    #[test]
    fn every_route_is_unique_and_names_a_catalogued_scope() {
        for (i, route) in ROUTES.iter().enumerate() {
            assert!(Scope::find(route.scope).is_some(), "{}", route.scope);
            let write_scope = route.scope.ends_with(":write");
            let shown = format!("{} {}", route.endpoint.method.as_str(), route.endpoint.path);
            assert_eq!(route.tier > Tier::Read, write_scope, "{shown}");
            assert_eq!(
                route.tier == Tier::Destructive,
                route.instead.is_some(),
                "{shown}"
            );
            // A route is granted by the plugin scope whose API-client scope
            // the endpoint needs, never by a neighbour's.
            assert_eq!(
                Scope::find(route.scope).unwrap().info().api_scope,
                route.endpoint.scope,
                "{shown} is granted by `{}`",
                route.scope
            );
            let again = resolve(route.endpoint.method.as_str(), route.endpoint.path).unwrap();
            assert_eq!(again.0, i, "duplicate route {}", route.endpoint.path);
        }
    }

    #[test]
    fn path_tricks_are_refused() {
        let cases = [
            (
                "/devices/queries/devices/v1/../../../user-management/queries/users/v1",
                "`..`",
            ),
            ("/devices/queries/devices/v1%2F..%2F", "holds `%`"),
            ("//evil.example/devices/queries/devices/v1", "single `/`"),
            (
                "http://evil.example/devices/queries/devices/v1",
                "single `/`",
            ),
            ("/devices/queries/devices/v1?filter=x", "holds `?`"),
            ("/devices/queries/devices/v1#x", "holds `#`"),
            ("/devices/./queries/devices/v1", "`..`"),
            ("/devices/queries/devices/v1\n", "holds `\\n`"),
            (
                "/devices/queries/devices/v2",
                "not in the host's route table",
            ),
        ];
        for (path, expected) in cases {
            let err = resolve("GET", path).unwrap_err();
            assert!(err.contains(expected), "{path}: {err}");
        }
        assert!(
            resolve("TRACE", "/devices/queries/devices/v1")
                .unwrap_err()
                .contains("method")
        );
        assert!(resolve("get", "/devices/queries/devices/v1").is_ok());
    }
}
