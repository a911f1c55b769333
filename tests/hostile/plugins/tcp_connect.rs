//! Hostile: opens TCP connections to a loopback listener (input `port`) on
//! IPv4 and IPv6, and to the same port by name.

use std::net::TcpStream;

use falcon_sdk::{Input, Plugin};
use hostile::brief;
use serde_json::json;

falcon_sdk::manifest! {
    name: "tcp-connect",
    version: "0.1.0",
    description: "Hostile: connects to a loopback TCP port",
    scopes: [],
}

struct TcpConnect;

impl Plugin for TcpConnect {
    fn run(input: Input) -> Result<String, String> {
        let port = input.u64_or("port", 9).map_err(|e| e.to_string())? as u16;
        Ok(json!({
            "ipv4": brief(TcpStream::connect(("127.0.0.1", port)).map(|_| ())),
            "ipv6": brief(TcpStream::connect(("::1", port)).map(|_| ())),
            "by_name": brief(TcpStream::connect(("localhost", port)).map(|_| ())),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(TcpConnect);
