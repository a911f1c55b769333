//! `host manifest set`: gives a component built without the Rust SDK (in
//! Python, JavaScript, Go...) its manifest.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::manifest::{Manifest, ManifestError};
use crate::scopes::Scope;
use crate::{Exit, Failure};

/// What `host manifest set` writes.
#[derive(Debug)]
pub(crate) struct NewManifest<'a> {
    pub(crate) name: &'a str,
    pub(crate) version: &'a str,
    pub(crate) description: &'a str,
    pub(crate) scopes: &'a [String],
}

/// Appends the manifest section to the component at `plugin`, writing the
/// result to `output` (or back to `plugin`).
pub(crate) fn set(
    plugin: &Path,
    output: Option<&Path>,
    new: &NewManifest<'_>,
) -> Result<Exit, Failure> {
    let usage = |m: String| Failure::new(Exit::Usage, m);
    let path = plugin.display().to_string();
    let mut bytes = std::fs::read(plugin)
        .map_err(|e| usage(format!("failed to read the component `{path}`: {e}")))?;
    match Manifest::from_component(&bytes) {
        Err(ManifestError::Missing) => {}
        Ok(existing) => {
            return Err(usage(format!(
                "`{path}` already has a manifest (plugin `{}` {}); a component carries exactly \
                 one, so rebuild it from source to change it",
                existing.name, existing.version
            )));
        }
        Err(ManifestError::NotWasm(e)) => {
            return Err(usage(format!(
                "`{path}` is not a WebAssembly component: {e}"
            )));
        }
        Err(other) => return Err(usage(format!("`{path}`: {other}"))),
    }
    for (what, value) in [
        ("--name", new.name),
        ("--version", new.version),
        ("--description", new.description),
    ] {
        if value.contains(['\n', '\r']) {
            return Err(usage(format!("{what} cannot contain a line break")));
        }
    }
    let scopes: BTreeSet<Scope> = new
        .scopes
        .iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.trim().is_empty())
        .map(|s| Scope::parse(s).map_err(|e| usage(format!("--scope: {e}"))))
        .collect::<Result<_, _>>()?;
    let manifest = Manifest {
        name: new.name.to_owned(),
        version: new.version.to_owned(),
        description: new.description.to_owned(),
        scopes,
    };
    // Parse the text back, so every rule `host run` applies (the name's
    // characters, for one) is enforced before anything is written.
    Manifest::parse(manifest.to_text().as_bytes()).map_err(|e| usage(e.to_string()))?;

    bytes.extend(manifest.to_section());
    let target: PathBuf = output.map_or_else(|| plugin.to_owned(), Path::to_owned);
    std::fs::write(&target, &bytes)
        .map_err(|e| usage(format!("failed to write `{}`: {e}", target.display())))?;
    let scopes: Vec<&str> = manifest.scopes.iter().map(|s| s.name()).collect();
    say!(
        "wrote the manifest of `{}` {} (scopes: {}) into `{}`",
        manifest.name,
        manifest.version,
        if scopes.is_empty() {
            "none".to_owned()
        } else {
            scopes.join(", ")
        },
        target.display()
    );
    Ok(Exit::Ok)
}
