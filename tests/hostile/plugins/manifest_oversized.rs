//! Hostile: a manifest of 1 MiB (a description that would flood the
//! operator's screen in `host inspect` and every grant prompt).

use falcon_sdk::{Input, Plugin};

const PREFIX: &[u8] =
    b"manifest-version: 1\nname: manifest-oversized\nversion: 0.1.0\ndescription: ";
const SIZE: usize = 1 << 20;

/// The prefix, then `x` up to a final line break.
const fn manifest() -> [u8; SIZE] {
    let mut out = [b'x'; SIZE];
    let mut i = 0;
    while i < PREFIX.len() {
        out[i] = PREFIX[i];
        i += 1;
    }
    out[SIZE - 1] = b'\n';
    out
}

// A custom section, as the SDK's `manifest!` writes it (which this plugin
// cannot use); placing a static in a section is `unsafe` to the lint only.
#[allow(unsafe_code)]
#[unsafe(link_section = "falcon-plugin-manifest")]
#[used]
static MANIFEST: [u8; SIZE] = manifest();

struct ManifestOversized;

impl Plugin for ManifestOversized {
    fn run(_input: Input) -> Result<String, String> {
        Ok("ran with an oversized manifest".into())
    }
}

falcon_sdk::export_plugin!(ManifestOversized);
