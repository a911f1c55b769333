//! Hostile: divides an integer by zero. Rust checks the divisor, so this
//! arrives as a panic (then an abort), not as wasm's divide trap.

use falcon_sdk::{Input, Plugin};

falcon_sdk::manifest! {
    name: "divide-by-zero",
    version: "0.1.0",
    description: "Hostile: divides by zero",
    scopes: [],
}

struct DivideByZero;

impl Plugin for DivideByZero {
    fn run(_input: Input) -> Result<String, String> {
        let zero = std::hint::black_box(0i32);
        Ok((std::hint::black_box(7i32) / zero).to_string())
    }
}

falcon_sdk::export_plugin!(DivideByZero);
