//! A hostile test plugin: it tries what a malicious plugin would (read the
//! environment and files, open sockets, call the API without a grant, loop
//! forever, exhaust memory or output, panic) and reports what it got.
//!
//! Input: `{"probe": "<name>", "port": <loopback port for the socket probe>}`.

use std::collections::BTreeMap;
use std::io::Write as _;

use falcon_sdk::{Filter, Input, Plugin, users};

falcon_sdk::manifest! {
    name: "sandbox-probe",
    version: "0.1.0",
    description: "Test plugin that probes the sandbox's walls",
    scopes: [],
}

struct Probe;

impl Plugin for Probe {
    fn run(input: Input) -> Result<String, String> {
        let probe = input
            .str_or("probe", "escape")
            .map_err(|e| e.to_string())?
            .to_owned();
        let port = input.u64_or("port", 9).map_err(|e| e.to_string())? as u16;
        let mut seen = BTreeMap::new();
        match probe.as_str() {
            "escape" => {
                escape_environment(&mut seen);
                escape_files(&mut seen);
                escape_network(&mut seen, port);
            }
            // Nothing at all: the cost of starting and running a plugin.
            "noop" => {}
            "ungranted-call" => {
                let first = users::list_users(&Filter::All);
                seen.insert("first_call", format!("{first:?}"));
                // A denial must not poison the run, nor turn into a grant.
                let again = users::list_roles();
                seen.insert("second_call", format!("{again:?}"));
            }
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![7u8; 16 << 20]);
                }
            }
            "flood" => loop {
                let _ = std::io::stdout().write_all(&[b'x'; 65536]);
            },
            "log-flood" => loop {
                falcon_sdk::log_info(&"y".repeat(8192));
            },
            "panic" => panic!("the probe panicked on purpose"),
            // Leaves through WASI's exit instead of returning a result (WASI
            // p2 carries only success or failure, so 3 arrives as 1).
            "exit" => std::process::exit(3),
            "stdin" => {
                let mut line = String::new();
                let read = std::io::stdin().read_line(&mut line);
                seen.insert("stdin", format!("{read:?} {line:?}"));
            }
            // One log line larger than the whole output budget.
            "huge-log" => falcon_sdk::log_info(&"z".repeat(4 << 20)),
            // Uses the granted output directory, then tries to leave it.
            "output" => {
                seen.insert(
                    "write_report",
                    brief(std::fs::write("/output/report.txt", b"kept")),
                );
                seen.insert(
                    "mkdir",
                    brief(std::fs::create_dir_all("/output/archive/2026")),
                );
                seen.insert(
                    "write_nested",
                    brief(std::fs::write("/output/archive/2026/host.json", b"{}")),
                );
                seen.insert(
                    "list",
                    brief(std::fs::read_dir("/output").map(|d| d.count())),
                );
                seen.insert(
                    "dotdot_write",
                    brief(std::fs::write("/output/../escaped.txt", b"x")),
                );
                seen.insert(
                    "dotdot_read",
                    brief(std::fs::read("/output/archive/../../etc/passwd").map(|b| b.len())),
                );
                seen.insert(
                    "symlink_read",
                    brief(std::fs::read("/output/link/passwd").map(|b| b.len())),
                );
                seen.insert(
                    "symlink_write",
                    brief(std::fs::write("/output/link/planted", b"x")),
                );
                seen.insert(
                    "absolute_read",
                    brief(std::fs::read("/etc/passwd").map(|b| b.len())),
                );
            }
            "recurse" => {
                seen.insert("depth", recurse(0).to_string());
            }
            other => return Err(format!("unknown probe `{other}`")),
        }
        serde_json::to_string_pretty(&seen).map_err(|e| e.to_string())
    }
}

/// Recursion with no end; the frame keeps a buffer so the optimiser cannot
/// turn it into a loop.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    recurse(depth + 1) + frame[7]
}

fn escape_environment(seen: &mut BTreeMap<&'static str, String>) {
    seen.insert("env_count", std::env::vars().count().to_string());
    seen.insert(
        "env_secret",
        format!("{:?}", std::env::var("FALCON_CLIENT_SECRET")),
    );
    seen.insert("env_id", format!("{:?}", std::env::var("FALCON_CLIENT_ID")));
    seen.insert(
        "args",
        format!("{:?}", std::env::args().collect::<Vec<_>>()),
    );
}

fn escape_files(seen: &mut BTreeMap<&'static str, String>) {
    seen.insert(
        "read_passwd",
        brief(std::fs::read("/etc/passwd").map(|b| b.len())),
    );
    seen.insert(
        "read_dir_root",
        brief(std::fs::read_dir("/").map(|d| d.count())),
    );
    seen.insert(
        "read_relative",
        brief(std::fs::read("Cargo.toml").map(|b| b.len())),
    );
    seen.insert(
        "write_tmp",
        brief(std::fs::write("/tmp/sandbox-probe", b"x")),
    );
    seen.insert(
        "proc_environ",
        brief(std::fs::read("/proc/self/environ").map(|b| b.len())),
    );
}

fn escape_network(seen: &mut BTreeMap<&'static str, String>, port: u16) {
    use std::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
    seen.insert(
        "tcp_connect",
        brief(TcpStream::connect(("127.0.0.1", port)).map(|_| ())),
    );
    seen.insert(
        "tcp_listen",
        brief(TcpListener::bind("127.0.0.1:0").map(|_| ())),
    );
    seen.insert(
        "udp_bind",
        brief(UdpSocket::bind("127.0.0.1:0").map(|_| ())),
    );
    seen.insert(
        "dns_lookup",
        brief(("localhost", 80).to_socket_addrs().map(|a| a.count())),
    );
}

/// `ok: …` or `denied: <error kind>`: enough to assert on, stable across
/// wording changes in the standard library.
fn brief<T: std::fmt::Debug>(result: std::io::Result<T>) -> String {
    match result {
        Ok(v) => format!("ok: {v:?}"),
        Err(e) => format!("denied: {:?}", e.kind()),
    }
}

falcon_sdk::export_plugin!(Probe);
