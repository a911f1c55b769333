//! Hostile: exports `run` with another signature than the contract's
//! (`func(u32) -> u32`), with a correct manifest.

// wit-bindgen's generated glue is unsafe code; the SDK hides it from other
// plugins, but this one does not follow the SDK's world.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    inline: "
        package evil:shape;

        world plugin {
            export run: func(input: u32) -> u32;
        }
    ",
});

const MANIFEST_TEXT: &str = "manifest-version: 1\nname: wrong-world\nversion: 0.1.0\n\
                             description: Hostile: exports the wrong world\n";

// A custom section, as the SDK's `manifest!` writes it.
#[unsafe(link_section = "falcon-plugin-manifest")]
#[used]
static MANIFEST: [u8; MANIFEST_TEXT.len()] = to_array(MANIFEST_TEXT);

/// The manifest text as an array, for a `static` in a custom section (this
/// component does not link the SDK, whose world it does not follow).
const fn to_array<const N: usize>(text: &str) -> [u8; N] {
    let bytes = text.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

struct WrongWorld;

impl Guest for WrongWorld {
    fn run(input: u32) -> u32 {
        input.wrapping_mul(2)
    }
}

export!(WrongWorld);
