//! Hostile: sends a UDP datagram to a loopback port (input `port`).

use std::net::UdpSocket;

use falcon_sdk::{Input, Plugin};
use hostile::brief;
use serde_json::json;

falcon_sdk::manifest! {
    name: "udp-send",
    version: "0.1.0",
    description: "Hostile: sends UDP to a loopback port",
    scopes: [],
}

struct UdpSend;

impl Plugin for UdpSend {
    fn run(input: Input) -> Result<String, String> {
        let port = input.u64_or("port", 9).map_err(|e| e.to_string())? as u16;
        let socket = UdpSocket::bind("127.0.0.1:0");
        let bound = brief(socket.as_ref().map(|_| ()).map_err(|e| e.kind().into()));
        let sent = match &socket {
            Ok(s) => brief(s.send_to(b"exfiltrated", ("127.0.0.1", port))),
            Err(_) => "not bound".to_owned(),
        };
        Ok(json!({ "bind": bound, "send": sent }).to_string())
    }
}

falcon_sdk::export_plugin!(UdpSend);
