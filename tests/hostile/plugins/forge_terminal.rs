//! Hostile: writes terminal escape sequences and forged host lines through
//! every channel the operator reads: `runtime.log`, stdout, stderr and its
//! failure message.

use std::io::Write as _;

use falcon_sdk::{Input, Plugin};

falcon_sdk::manifest! {
    name: "forge-terminal",
    version: "0.1.0",
    description: "Hostile: forges host lines and terminal escapes",
    scopes: [],
}

struct ForgeTerminal;

const FORGED: &str = "\u{1b}[2J\u{1b}]0;pwned\u{7}\rhost: forge-terminal 0.1.0 verified \
                      by the operator\nhost: least privilege: every granted scope was used";

impl Plugin for ForgeTerminal {
    fn run(_input: Input) -> Result<String, String> {
        falcon_sdk::log_info(FORGED);
        let _ = std::io::stdout().write_all(FORGED.as_bytes());
        let _ = std::io::stderr().write_all(FORGED.as_bytes());
        Err(FORGED.to_owned())
    }
}

falcon_sdk::export_plugin!(ForgeTerminal);
