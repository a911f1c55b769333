//! `host new NAME`: a plugin crate that builds, passes its own test against
//! the emulator and runs with `host run`: three commands from nothing to a
//! working plugin.
//!
//! The crate depends on the SDK in one of three ways:
//! - inside a workspace that has `falcon-sdk` in `[workspace.dependencies]`
//!   (this repository): `falcon-sdk.workspace = true`, and the crate is added
//!   to the workspace's `members`;
//! - `--sdk-path DIR` or `--sdk-git URL` (with `--sdk-rev`): that source;
//! - neither: the `sdk/` directory of the checkout this host was built from,
//!   if it still exists.
//!
//! `.cargo/config.toml` names this host binary in `FALCON_HOST_BIN`, so the
//! crate's `cargo test` runs the plugin in the host that created it.

use std::path::{Component, Path, PathBuf};

use crate::{Exit, Failure};

/// `host new`'s flags.
#[derive(Debug)]
pub(crate) struct NewPlugin<'a> {
    pub(crate) name: &'a str,
    pub(crate) path: Option<&'a Path>,
    pub(crate) sdk_path: Option<&'a Path>,
    pub(crate) sdk_git: Option<&'a str>,
    pub(crate) sdk_rev: Option<&'a str>,
}

/// Where the SDK comes from, as a dependency line's inside.
#[derive(Debug, PartialEq, Eq)]
enum SdkSource {
    /// `falcon-sdk.workspace = true`.
    Workspace,
    /// `path = "..."`.
    Path(PathBuf),
    /// `git = "..."`, with an optional `rev`.
    Git { url: String, rev: Option<String> },
}

/// The `sdk/` directory next to this host's source, recorded at build time.
const BUILT_FROM_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk");

/// Creates the crate and prints the next two commands.
pub(crate) fn create(args: &NewPlugin<'_>) -> Result<Exit, Failure> {
    check_name(args.name)?;
    let cwd = std::env::current_dir()
        .map_err(|e| usage(format!("failed to read the current directory: {e}")))?;
    let dir = normalize(&cwd.join(args.path.unwrap_or(Path::new(args.name))));
    if dir.exists() && std::fs::read_dir(&dir).map_or(true, |mut entries| entries.next().is_some())
    {
        return Err(usage(format!(
            "`{}` already exists and is not empty; choose another name or --path",
            dir.display()
        )));
    }

    let workspace = dir.parent().and_then(find_workspace);
    let sdk = sdk_source(args, workspace.as_ref())?;
    let host = std::env::current_exe()
        .map_err(|e| Failure::new(Exit::Host, format!("failed to find this host binary: {e}")))?;
    let files = files(args.name, &sdk, workspace.is_none(), &host);
    for (relative, text) in &files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| usage(format!("failed to create `{}`: {e}", parent.display())))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| usage(format!("failed to write `{}`: {e}", path.display())))?;
    }

    say!("created plugin crate `{}` in {}", args.name, dir.display());
    let mut target = dir.join("target");
    if let Some(ws) = &workspace {
        match add_member(ws, &dir) {
            Ok(true) => say!("added it to the members of {}", ws.manifest.display()),
            Ok(false) => {}
            Err(message) => eprintln!("warning: {message}"),
        }
        if !ws.has_plugin_profile {
            // Profiles of member crates are ignored, so the one the harness
            // and the README build with must be the workspace's.
            eprintln!(
                "warning: {} defines no `[profile.plugin]`; copy it from the new crate's \
                 README or build with another profile (`Harness::with_profile`)",
                ws.manifest.display()
            );
        }
        target = ws.root().join("target");
    }
    if let Some(custom) = std::env::var_os("CARGO_TARGET_DIR") {
        target = cwd.join(custom);
    }
    let wasm = target
        .join("wasm32-wasip2")
        .join("plugin")
        .join(format!("{}.wasm", args.name.replace('-', "_")));
    let shown = |p: &Path| {
        p.strip_prefix(&cwd)
            .map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
    };
    say!("next:");
    say!(
        "  cd {} && cargo test      # builds it and runs it in this host against the emulator",
        shown(&dir)
    );
    say!(
        "  {} run {} --demo --grant hosts:read",
        host.display(),
        wasm.strip_prefix(&dir)
            .map_or_else(|_| wasm.display().to_string(), |r| r.display().to_string())
    );
    Ok(Exit::Ok)
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::new(Exit::Usage, message)
}

/// Plugin names are what `host run` and grants files show: lowercase
/// letters, digits and dashes, starting with a letter.
fn check_name(name: &str) -> Result<(), Failure> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && name.len() <= 64;
    if ok {
        Ok(())
    } else {
        Err(usage(format!(
            "`{name}` is not a plugin name: use lowercase letters, digits and dashes, \
             starting with a letter, for example `user-count`"
        )))
    }
}

/// `a/./b/../c` as `a/c`, without touching the filesystem (the directory
/// does not exist yet).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A Cargo workspace around the new crate.
#[derive(Debug)]
struct Workspace {
    manifest: PathBuf,
    has_sdk: bool,
    /// Whether it defines `[profile.plugin]`, which the harness builds with.
    has_plugin_profile: bool,
}

impl Workspace {
    fn root(&self) -> &Path {
        self.manifest.parent().unwrap_or(Path::new("/"))
    }
}

/// The nearest `Cargo.toml` with a `[workspace]` table at `dir` or above.
fn find_workspace(dir: &Path) -> Option<Workspace> {
    dir.ancestors().find_map(|d| {
        let manifest = d.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).ok()?;
        let value: toml::Table = text.parse().ok()?;
        let workspace = value.get("workspace")?.as_table()?;
        let has_sdk = workspace
            .get("dependencies")
            .and_then(|d| d.as_table())
            .is_some_and(|d| d.contains_key("falcon-sdk"));
        let has_plugin_profile = value.get("profile").and_then(|p| p.get("plugin")).is_some();
        Some(Workspace {
            manifest,
            has_sdk,
            has_plugin_profile,
        })
    })
}

fn sdk_source(args: &NewPlugin<'_>, workspace: Option<&Workspace>) -> Result<SdkSource, Failure> {
    if let Some(path) = args.sdk_path {
        let path = std::fs::canonicalize(path).map_err(|e| {
            usage(format!(
                "--sdk-path `{}` cannot be read: {e}",
                path.display()
            ))
        })?;
        if !is_sdk(&path) {
            return Err(usage(format!(
                "--sdk-path `{}` is not the falcon-sdk crate; pass the `sdk` directory \
                 of a checkout of the plugin host",
                path.display()
            )));
        }
        return Ok(SdkSource::Path(path));
    }
    if let Some(url) = args.sdk_git {
        return Ok(SdkSource::Git {
            url: url.to_owned(),
            rev: args.sdk_rev.map(str::to_owned),
        });
    }
    if workspace.is_some_and(|w| w.has_sdk) {
        return Ok(SdkSource::Workspace);
    }
    match std::fs::canonicalize(BUILT_FROM_SDK) {
        Ok(path) if is_sdk(&path) => Ok(SdkSource::Path(path)),
        _ => Err(usage(
            "this host was not built from a checkout that still exists, so it cannot \
             find the SDK; pass --sdk-path DIR (the `sdk` directory of a checkout) or \
             --sdk-git URL",
        )),
    }
}

fn is_sdk(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|t| t.get("package")?.get("name")?.as_str().map(str::to_owned))
        .is_some_and(|name| name == "falcon-sdk")
}

/// Adds the crate to the workspace's `members` unless a member pattern
/// already covers it. `Ok(false)`: nothing to do.
fn add_member(workspace: &Workspace, dir: &Path) -> Result<bool, String> {
    let relative = dir
        .strip_prefix(workspace.root())
        .map_err(|_| "the crate is outside its workspace's directory".to_owned())?
        .to_string_lossy()
        .replace('\\', "/");
    let text = std::fs::read_to_string(&workspace.manifest)
        .map_err(|e| format!("failed to read `{}`: {e}", workspace.manifest.display()))?;
    let manual = || {
        format!(
            "add \"{relative}\" to `members` in {} yourself",
            workspace.manifest.display()
        )
    };
    let table: toml::Table = text.parse().map_err(|_| manual())?;
    let members: Vec<&str> = table
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .map(|m| m.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let covered = members.iter().any(|m| {
        *m == relative
            || m.strip_suffix("/*")
                .is_some_and(|parent| Path::new(&relative).parent() == Some(Path::new(parent)))
    });
    if covered {
        return Ok(false);
    }
    // Insert before the closing bracket of `members = [...]`, keeping the
    // rest of the file (comments, order) as it is.
    // At a line's start, so that `default-members = [` is not taken for it.
    let start = text
        .match_indices("members = [")
        .map(|(i, _)| i)
        .find(|&i| i == 0 || text[..i].ends_with('\n'))
        .ok_or_else(manual)?;
    let close = text[start..].find(']').ok_or_else(manual)? + start;
    let before = text[..close].trim_end();
    let separator = if before.ends_with('[') || before.ends_with(',') {
        ""
    } else {
        ","
    };
    let multiline = text[start..close].contains('\n');
    let entry = if multiline {
        format!("{separator}\n    \"{relative}\",\n")
    } else {
        format!("{separator} \"{relative}\"")
    };
    let updated = format!("{before}{entry}{}", &text[close..]);
    std::fs::write(&workspace.manifest, updated)
        .map_err(|e| format!("failed to write `{}`: {e}", workspace.manifest.display()))?;
    Ok(true)
}

/// The crate's files, relative to its directory.
fn files(name: &str, sdk: &SdkSource, standalone: bool, host: &Path) -> Vec<(String, String)> {
    let type_name: String = name
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{Type}}", &type_name)
    };
    let (dependency, dev_dependency) = match sdk {
        SdkSource::Workspace => (
            "falcon-sdk.workspace = true".to_owned(),
            "falcon-sdk = { workspace = true, features = [\"testing\"] }".to_owned(),
        ),
        SdkSource::Path(path) => {
            let path = toml_string(&path.display().to_string());
            (
                format!("falcon-sdk = {{ path = {path} }}"),
                format!("falcon-sdk = {{ path = {path}, features = [\"testing\"] }}"),
            )
        }
        SdkSource::Git { url, rev } => {
            let rev = rev
                .as_deref()
                .map(|r| format!(", rev = {}", toml_string(r)))
                .unwrap_or_default();
            let url = toml_string(url);
            (
                format!("falcon-sdk = {{ git = {url}{rev} }}"),
                format!("falcon-sdk = {{ git = {url}{rev}, features = [\"testing\"] }}"),
            )
        }
    };
    let mut manifest = fill(CARGO_TOML)
        .replace("{{sdk}}", &dependency)
        .replace("{{sdk-dev}}", &dev_dependency);
    if standalone {
        manifest.push_str(PROFILES);
    }
    let config = format!(
        "# `cargo test` runs the plugin in this host (see tests/plugin.rs); change\n\
         # or delete the line to use another one, or a `host` on PATH.\n\
         [env]\nFALCON_HOST_BIN = {}\n",
        toml_string(&host.display().to_string())
    );
    vec![
        ("Cargo.toml".into(), manifest),
        ("src/lib.rs".into(), fill(LIB_RS)),
        ("tests/plugin.rs".into(), fill(TEST_RS)),
        ("README.md".into(), fill(README)),
        (".cargo/config.toml".into(), config),
        (".gitignore".into(), "/target\n".into()),
    ]
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

const CARGO_TOML: &str = r#"[package]
name = "{{name}}"
description = "Counts the hosts of a Falcon tenant by platform"
version = "0.1.0"
edition = "2024"
publish = false

# A plugin is a WebAssembly component: build it with
# `cargo build --target wasm32-wasip2 --profile plugin`.
[lib]
crate-type = ["cdylib"]

[dependencies]
{{sdk}}
serde_json = "1"

[dev-dependencies]
# The test harness: runs the plugin in the real host against the emulator.
{{sdk-dev}}
"#;

/// Profiles of a crate outside a workspace (inside one, the workspace's
/// apply).
const PROFILES: &str = r#"
# Small components that the host compiles fast.
[profile.plugin]
inherits = "release"
opt-level = "s"
lto = true
codegen-units = 1
strip = true
panic = "abort"

[profile.dev]
debug = "line-tables-only"
"#;

const LIB_RS: &str = r##"//! {{name}}: counts the hosts of a Falcon tenant by platform.
//!
//! Input (optional): `format`, `markdown` (default) or `json`.

use std::collections::BTreeMap;

use falcon_sdk::report::Table;
use falcon_sdk::{Filter, Input, Plugin, hosts};

// What the host shows the operator before running anything: ask only for
// the scopes the plugin uses.
falcon_sdk::manifest! {
    name: "{{name}}",
    version: env!("CARGO_PKG_VERSION"),
    description: "Counts the hosts of a Falcon tenant by platform",
    scopes: ["hosts:read"],
}

/// Hosts fetched per call; the host pages the API for us.
const PAGE: u32 = 500;

struct {{Type}};

impl Plugin for {{Type}} {
    fn run(input: Input) -> Result<String, String> {
        input.reject_unknown(&["format"]).map_err(|e| e.to_string())?;
        let format = input
            .choice_or("format", &["markdown", "json"], "markdown")
            .map_err(|e| e.to_string())?;

        let mut by_platform: BTreeMap<String, u64> = BTreeMap::new();
        let stream = hosts::stream_hosts(&Filter::All).map_err(|e| e.message())?;
        loop {
            let page = stream.next(PAGE).map_err(|e| e.message())?;
            if page.is_empty() {
                break;
            }
            for device in page {
                let platform = device.platform.unwrap_or_else(|| "unknown".into());
                *by_platform.entry(platform).or_default() += 1;
            }
        }
        let total: u64 = by_platform.values().sum();
        falcon_sdk::log_info(&format!("counted {total} hosts"));

        if format == "json" {
            let report = serde_json::json!({ "hosts": total, "by_platform": by_platform });
            return Ok(falcon_sdk::report::json(&report));
        }
        let mut table = Table::new(["Platform", "Hosts"]);
        for (platform, count) in &by_platform {
            table.row([platform.clone(), count.to_string()]);
        }
        Ok(format!("# Hosts by platform\n\n{total} hosts\n\n{}", table.render()))
    }
}

falcon_sdk::export_plugin!({{Type}});
"##;

const TEST_RS: &str = r#"//! Runs the plugin in the real `host` against the Falcon emulator; the
//! expected values come from the emulator's tenant, not from the plugin.

use std::collections::BTreeMap;

use falcon_sdk::testing::{Harness, Run, TenantSpec};

fn harness() -> Harness {
    Harness::new(env!("CARGO_MANIFEST_DIR")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn counts_every_host_by_platform() {
    let spec = TenantSpec { seed: 7, hosts: 150, ..TenantSpec::demo() };
    let run = harness()
        .run(&Run::new().tenant(spec).grant("hosts:read").set("format", "json"))
        .unwrap();
    assert_eq!(run.code, 0, "{}", run.stderr);

    // Hidden hosts are left out of Falcon's host queries.
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for host in run.tenant.hosts.iter().filter(|h| !h.hidden) {
        *expected.entry(host.platform_name.clone()).or_default() += 1;
    }
    let report = run.json().unwrap();
    assert_eq!(report["hosts"], expected.values().sum::<u64>());
    assert_eq!(report["by_platform"], serde_json::to_value(&expected).unwrap());
    assert!(!run.requests_to("/devices/").is_empty());
}

#[test]
fn the_host_does_not_start_it_without_the_grant() {
    let run = harness().run(&Run::new()).unwrap();
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("hosts:read"), "{}", run.stderr);
}
"#;

const README: &str = r#"# {{name}}

A Falcon plugin: counts the hosts of a tenant by platform. Made with `host new`; change
`src/lib.rs` to make it yours.

## Build, test, run

```sh
cargo test                    # builds the plugin and runs tests/plugin.rs
host run target/wasm32-wasip2/plugin/{{crate}}.wasm --demo --grant hosts:read
```

`cargo test` builds the plugin for `wasm32-wasip2` (`rustup target add wasm32-wasip2` once),
starts the Falcon emulator with the tenant each test chooses and runs the plugin in the real
`host` (the one in `FALCON_HOST_BIN`, set in `.cargo/config.toml`, or else `host` on PATH).
The tests compute what the report should say from the emulator's tenant.

To build without testing: `cargo build --target wasm32-wasip2 --profile plugin`. The
component is `target/wasm32-wasip2/plugin/{{crate}}.wasm` (under `$CARGO_TARGET_DIR`
if set, or the workspace's `target/` inside a workspace). Inside a workspace, its root
`Cargo.toml` must define the `plugin` profile:

```toml
[profile.plugin]
inherits = "release"
opt-level = "s"
lto = true
codegen-units = 1
strip = true
panic = "abort"
```

## Scopes

`hosts:read`. `host inspect` on the `.wasm` shows them; `host run` refuses to start the
plugin unless each is granted with `--grant`.

## Input

| field | default | meaning |
| --- | --- | --- |
| `format` | `markdown` | `markdown` or `json` (`--set format=json`) |
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["a", "user-count", "x2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "User", "2x", "a_b", "a-", "a b", "../x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn members_are_added_without_disturbing_the_file() {
        let dir = std::env::temp_dir().join(format!("host-new-members-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = dir.join("Cargo.toml");
        std::fs::write(
            &manifest,
            "[workspace]\n# keep me\nmembers = [\n    \"host\",\n    \"plugins/a\"\n]\n",
        )
        .unwrap();
        let ws = Workspace {
            manifest: manifest.clone(),
            has_sdk: true,
            has_plugin_profile: true,
        };
        assert_eq!(add_member(&ws, &dir.join("plugins/b")), Ok(true));
        assert_eq!(
            std::fs::read_to_string(&manifest).unwrap(),
            "[workspace]\n# keep me\nmembers = [\n    \"host\",\n    \"plugins/a\",\n    \
             \"plugins/b\",\n]\n"
        );
        assert_eq!(add_member(&ws, &dir.join("plugins/b")), Ok(false));

        std::fs::write(
            &manifest,
            "[workspace]\ndefault-members = [\"a\"]\nmembers = [\"plugins/*\"]\n",
        )
        .unwrap();
        assert_eq!(add_member(&ws, &dir.join("plugins/c")), Ok(false));
        assert_eq!(add_member(&ws, &dir.join("tools/d")), Ok(true));
        assert_eq!(
            std::fs::read_to_string(&manifest).unwrap(),
            "[workspace]\ndefault-members = [\"a\"]\nmembers = [\"plugins/*\", \"tools/d\"]\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_sdk_dependency_follows_its_source() {
        let host = Path::new("/opt/host");
        let git = SdkSource::Git {
            url: "https://example.com/x.git".into(),
            rev: Some("abc".into()),
        };
        let made = files("my-plugin", &git, true, host);
        let manifest = &made[0].1;
        assert!(
            manifest
                .contains("falcon-sdk = { git = \"https://example.com/x.git\", rev = \"abc\" }\n"),
            "{manifest}"
        );
        assert!(manifest.contains("[profile.plugin]"));
        assert!(made[1].1.contains("struct MyPlugin;"));
        assert!(made[3].1.contains("my_plugin.wasm"));
        assert_eq!(
            made[4].1.lines().last(),
            Some("FALCON_HOST_BIN = \"/opt/host\"")
        );

        let made = files("p", &SdkSource::Workspace, false, host);
        assert!(made[0].1.contains("falcon-sdk.workspace = true\n"));
        assert!(!made[0].1.contains("[profile"));
    }
}
