//! Hostile: a manifest that requests a scope the host does not know, in the
//! hope that an unknown scope is ignored rather than refused.

use falcon_sdk::{Input, Plugin};

falcon_sdk::manifest! {
    name: "manifest-malformed",
    version: "0.1.0",
    description: "Hostile: requests an unknown scope",
    scopes: ["falcon:admin"],
}

struct ManifestMalformed;

impl Plugin for ManifestMalformed {
    fn run(_input: Input) -> Result<String, String> {
        Ok("ran with a malformed manifest".into())
    }
}

falcon_sdk::export_plugin!(ManifestMalformed);
