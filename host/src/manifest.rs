//! The plugin manifest: read from the component's `falcon-plugin-manifest`
//! custom section, without compiling or running any plugin code.

use std::collections::BTreeSet;

use crate::scopes::Scope;

/// The custom section the SDK's `manifest!` macro writes.
pub(crate) const SECTION: &str = "falcon-plugin-manifest";

/// The largest manifest section the host reads: a name, a version, a
/// one-line description and scopes fit in far less.
pub(crate) const MAX_SECTION_BYTES: usize = 64 << 10;

/// What a plugin says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) description: String,
    /// The scopes the plugin requests; each must be granted before it runs.
    pub(crate) scopes: BTreeSet<Scope>,
}

/// A plugin file as the host uses it: its bytes, its sha256 and its
/// manifest.
#[derive(Debug)]
pub(crate) struct PluginFile {
    pub(crate) bytes: Vec<u8>,
    /// Lowercase hex sha256 of the bytes: what grants pin.
    pub(crate) digest: String,
    pub(crate) manifest: Manifest,
}

impl PluginFile {
    /// Reads a component and its manifest; nothing is compiled or run.
    ///
    /// # Errors
    ///
    /// The file cannot be read or has no usable manifest (a usage error).
    pub(crate) fn read(path: &std::path::Path) -> Result<Self, crate::Failure> {
        Self::read_or_digest(path).map_err(|(failure, _)| failure)
    }

    /// Like [`PluginFile::read`], but a file that was read and has no usable
    /// manifest still yields its digest beside the error, so that the refusal
    /// can be recorded.
    pub(crate) fn read_or_digest(
        path: &std::path::Path,
    ) -> Result<Self, (crate::Failure, Option<String>)> {
        let shown = path.display();
        let usage = |m: String| crate::Failure::new(crate::Exit::Usage, m);
        let bytes = std::fs::read(path).map_err(|e| {
            (
                usage(format!("failed to read the plugin `{shown}`: {e}")),
                None,
            )
        })?;
        let digest = sha256_hex(&bytes);
        match Manifest::from_component(&bytes) {
            Ok(manifest) => Ok(Self {
                digest,
                bytes,
                manifest,
            }),
            Err(e) => Err((
                usage(format!("cannot use the plugin `{shown}`: {e}")),
                Some(digest),
            )),
        }
    }
}

/// Lowercase hex sha256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ManifestError {
    #[error("the file is not a WebAssembly component: {0}")]
    NotWasm(String),
    #[error(
        "the component has no `{SECTION}` section; build the plugin with the falcon-sdk \
         `manifest!` macro, or add one with `host manifest set` (plugins in other languages)"
    )]
    Missing,
    #[error("the component has {0} `{SECTION}` sections; a plugin must have exactly one")]
    Duplicate(usize),
    #[error("the `{SECTION}` section is malformed: {0}")]
    Malformed(String),
    #[error(
        "the `{SECTION}` section is {0} bytes; a manifest is at most {MAX_SECTION_BYTES} bytes \
         (shorten the description)"
    )]
    TooLarge(usize),
}

impl Manifest {
    /// Finds and parses the manifest in a component's bytes.
    pub(crate) fn from_component(bytes: &[u8]) -> Result<Self, ManifestError> {
        // Name the common mistakes plainly rather than through a parser
        // error full of byte listings.
        match bytes.get(..8) {
            Some([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]) => {}
            Some([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]) => {
                return Err(ManifestError::NotWasm(
                    "it is a core WebAssembly module, not a component; build the plugin for \
                     `wasm32-wasip2`"
                        .into(),
                ));
            }
            _ => {
                return Err(ManifestError::NotWasm(
                    "it does not start with the WebAssembly component header".into(),
                ));
            }
        }
        let mut sections = Vec::new();
        // `parse_all` walks nested modules and components too: the SDK's
        // section sits in the core module that the component wraps.
        for payload in wasmparser::Parser::new(0).parse_all(bytes) {
            let payload = payload.map_err(|e| ManifestError::NotWasm(e.to_string()))?;
            if let wasmparser::Payload::CustomSection(section) = payload
                && section.name() == SECTION
            {
                if section.data().len() > MAX_SECTION_BYTES {
                    return Err(ManifestError::TooLarge(section.data().len()));
                }
                sections.push(section.data().to_vec());
            }
        }
        match sections.len() {
            0 => Err(ManifestError::Missing),
            1 => Self::parse(&sections[0]),
            n => Err(ManifestError::Duplicate(n)),
        }
    }

    /// The section's text, in the format [`Manifest::parse`] reads.
    pub(crate) fn to_text(&self) -> String {
        let mut text = format!(
            "manifest-version: 1\nname: {}\nversion: {}\ndescription: {}\n",
            self.name, self.version, self.description
        );
        for scope in &self.scopes {
            text.push_str(&format!("scope: {}\n", scope.name()));
        }
        text
    }

    /// The manifest as a complete custom section, ready to append to a
    /// component: custom sections may stand anywhere between sections, so
    /// appending one changes nothing else about the component.
    pub(crate) fn to_section(&self) -> Vec<u8> {
        let text = self.to_text();
        let mut body = Vec::new();
        leb128(&mut body, SECTION.len());
        body.extend_from_slice(SECTION.as_bytes());
        body.extend_from_slice(text.as_bytes());
        let mut section = vec![0u8];
        leb128(&mut section, body.len());
        section.extend_from_slice(&body);
        section
    }

    /// The contract interfaces the component imports, such as
    /// `falcon:plugin/users@0.1.0`, in the order they appear.
    pub(crate) fn contract_imports(bytes: &[u8]) -> Vec<String> {
        let mut names = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(bytes).flatten() {
            if let wasmparser::Payload::ComponentImportSection(reader) = payload {
                for import in reader.into_iter().flatten() {
                    let name = import.name.name;
                    if name.starts_with("falcon:plugin/") && !names.iter().any(|n| n == name) {
                        names.push(name.to_owned());
                    }
                }
            }
        }
        names
    }

    /// Parses the section's text: `key: value` lines.
    pub(crate) fn parse(data: &[u8]) -> Result<Self, ManifestError> {
        let malformed = |m: String| ManifestError::Malformed(m);
        let text = std::str::from_utf8(data).map_err(|e| malformed(format!("not UTF-8: {e}")))?;
        let (mut format, mut name, mut version, mut description) = (None, None, None, None);
        let mut scopes = BTreeSet::new();
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let (key, value) = line
                .split_once(':')
                .ok_or_else(|| malformed(format!("line {} has no `key: value`", n + 1)))?;
            let value = value.trim().to_owned();
            // Values are shown on the operator's terminal (`host inspect`,
            // grant prompts): no escape sequences.
            if value.contains(char::is_control) {
                return Err(malformed(format!(
                    "line {} holds a control character",
                    n + 1
                )));
            }
            let slot = match key.trim() {
                "manifest-version" => &mut format,
                "name" => &mut name,
                "version" => &mut version,
                "description" => &mut description,
                "scope" => {
                    let scope = Scope::parse(&value).map_err(malformed)?;
                    if !scopes.insert(scope) {
                        return Err(malformed(format!("scope `{scope}` is listed twice")));
                    }
                    continue;
                }
                other => return Err(malformed(format!("unknown key `{other}`"))),
            };
            if slot.replace(value).is_some() {
                return Err(malformed(format!("key `{}` is given twice", key.trim())));
            }
        }
        match format.as_deref() {
            Some("1") => {}
            Some(other) => {
                return Err(malformed(format!(
                    "manifest version `{other}` is not supported by this host (it reads 1)"
                )));
            }
            None => return Err(malformed("`manifest-version` is missing".into())),
        }
        let name = name.ok_or_else(|| malformed("`name` is missing".into()))?;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(malformed(format!(
                "name `{name}` must be lowercase letters, digits and dashes"
            )));
        }
        Ok(Self {
            name,
            version: version.ok_or_else(|| malformed("`version` is missing".into()))?,
            description: description.unwrap_or_default(),
            scopes,
        })
    }
}

/// Unsigned LEB128, the length encoding of WebAssembly sections.
fn leb128(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "manifest-version: 1\nname: access-audit\nversion: 0.1.0\n\
                        description: Audits: users\nscope: users:read\nscope: roles:read\n";

    #[test]
    fn parses_the_sdk_format() {
        let m = Manifest::parse(GOOD.as_bytes()).unwrap();
        assert_eq!(m.name, "access-audit");
        assert_eq!(m.description, "Audits: users");
        let scopes: Vec<&str> = m.scopes.iter().map(|s| s.name()).collect();
        assert_eq!(scopes, ["roles:read", "users:read"]);
    }

    #[test]
    fn rejects_what_it_does_not_understand() {
        let cases = [
            (
                GOOD.replace("scope: roles:read", "scope: role:read"),
                "unknown scope `role:read`",
            ),
            (
                GOOD.replace("manifest-version: 1", "manifest-version: 2"),
                "not supported",
            ),
            (
                GOOD.replace("name: access-audit", "name: Access Audit"),
                "must be lowercase",
            ),
            (format!("{GOOD}scope: users:read\n"), "listed twice"),
            (format!("{GOOD}name: other\n"), "given twice"),
            (format!("{GOOD}colour: blue\n"), "unknown key `colour`"),
            (GOOD.replace("version: 0.1.0\n", ""), "`version` is missing"),
            (
                GOOD.replace("Audits: users", "Audits \u{1b}[2J users"),
                "line 4 holds a control character",
            ),
        ];
        for (text, expected) in cases {
            let err = Manifest::parse(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(expected), "{err} does not contain {expected}");
        }
    }

    #[test]
    fn an_appended_section_is_found_and_round_trips() {
        let manifest = Manifest::parse(GOOD.as_bytes()).unwrap();
        // An empty component, then the section.
        let mut bytes = vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        assert!(matches!(
            Manifest::from_component(&bytes),
            Err(ManifestError::Missing)
        ));
        bytes.extend(manifest.to_section());
        assert_eq!(Manifest::from_component(&bytes).unwrap(), manifest);
        let mut long = Vec::new();
        leb128(&mut long, 300);
        assert_eq!(long, [0xac, 0x02]);
    }

    #[test]
    fn an_oversized_section_is_refused_before_it_is_parsed() {
        let manifest = Manifest {
            description: "x".repeat(MAX_SECTION_BYTES),
            ..Manifest::parse(GOOD.as_bytes()).unwrap()
        };
        let mut bytes = vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        bytes.extend(manifest.to_section());
        let err = Manifest::from_component(&bytes).unwrap_err();
        assert!(
            matches!(err, ManifestError::TooLarge(n) if n > MAX_SECTION_BYTES),
            "{err}"
        );
    }

    #[test]
    fn a_non_wasm_file_is_named_as_such() {
        let err = Manifest::from_component(b"#!/bin/sh\n").unwrap_err();
        assert!(matches!(err, ManifestError::NotWasm(_)), "{err}");
    }
}
