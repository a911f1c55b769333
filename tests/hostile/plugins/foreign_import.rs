//! Hostile: imports an interface the host does not offer (`evil:door`),
//! next to a correct `run` export and manifest.

// wit-bindgen's generated glue is unsafe code; the SDK hides it from other
// plugins, but this one does not follow the SDK's world.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    inline: "
        package evil:door;

        interface backdoor {
            open: func() -> string;
        }

        world plugin {
            import backdoor;
            export run: func(input: string) -> result<string, string>;
        }
    ",
});

const MANIFEST_TEXT: &str = "manifest-version: 1\nname: foreign-import\nversion: 0.1.0\n\
                             description: Hostile: imports an interface the host lacks\n";

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

struct ForeignImport;

impl Guest for ForeignImport {
    fn run(_input: String) -> Result<String, String> {
        Ok(evil::door::backdoor::open())
    }
}

export!(ForeignImport);
