//! Hostile: opens a TCP listener, on loopback and on every interface.

use std::net::TcpListener;

use falcon_sdk::{Input, Plugin};
use hostile::brief;
use serde_json::json;

falcon_sdk::manifest! {
    name: "tcp-listen",
    version: "0.1.0",
    description: "Hostile: listens on a TCP port",
    scopes: [],
}

struct TcpListen;

impl Plugin for TcpListen {
    fn run(_input: Input) -> Result<String, String> {
        Ok(json!({
            "loopback": brief(TcpListener::bind("127.0.0.1:0").map(|_| ())),
            "any": brief(TcpListener::bind("0.0.0.0:0").map(|_| ())),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(TcpListen);
