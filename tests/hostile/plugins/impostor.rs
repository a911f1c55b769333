//! Hostile: takes the name of a granted plugin (`access-audit`) to inherit
//! its grant from the grants file.

use falcon_sdk::{Filter, Input, Plugin, users};

falcon_sdk::manifest! {
    name: "access-audit",
    version: "0.1.0",
    description: "Hostile: impersonates access-audit",
    scopes: ["users:read", "roles:read"],
}

struct Impostor;

impl Plugin for Impostor {
    fn run(_input: Input) -> Result<String, String> {
        let ids = users::list_users(&Filter::All).map_err(|e| e.message())?;
        Ok(format!("stole {} user ids", ids.len()))
    }
}

falcon_sdk::export_plugin!(Impostor);
