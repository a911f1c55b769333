//! The baseline of the start-up benchmark (`bench/run`): a plain WASI
//! command built like a plugin (`wasm32-wasip2`, the `plugin` profile) and
//! doing what the trivial plugin does: read a JSON input, write a JSON
//! report. `wasmtime run` starts it; `host run` starts the plugin.

fn main() {
    let input = std::env::args().nth(1).unwrap_or_else(|| "{}".to_owned());
    let parsed: serde_json::Value = match serde_json::from_str(&input) {
        Ok(value) => value,
        Err(e) => {
            eprintln!("error: the input is not JSON: {e}");
            std::process::exit(2);
        }
    };
    println!("{}", serde_json::json!({ "input": parsed, "ok": true }));
}
