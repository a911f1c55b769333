//! Hostile: a component with no manifest, so nothing says what it will do.

use falcon_sdk::{Input, Plugin};

struct ManifestMissing;

impl Plugin for ManifestMissing {
    fn run(_input: Input) -> Result<String, String> {
        Ok("ran without a manifest".into())
    }
}

falcon_sdk::export_plugin!(ManifestMissing);
