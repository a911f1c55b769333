//! Compiled plugins cached on disk, so that a second run does not compile.
//!
//! Cranelift takes a tenth of a second for a small Rust plugin and seconds for
//! a Python one; loading the compiled artifact takes about a millisecond. An
//! artifact is keyed by the component's sha256 and the engine's
//! compatibility hash (wasmtime version, target, every setting that changes
//! code), so a host upgrade or a `--fuel` run never loads code built for
//! another configuration.
//!
//! Loading an artifact maps native code into the process, so the cache only
//! ever loads files it wrote itself: the directory is created private to the
//! user, and each artifact is checked against the sha256 recorded beside it
//! when it was written. That catches corruption and partial writes; it cannot
//! stop someone who can already write to the user's cache directory, who
//! could equally replace the `host` binary.

use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};

use crate::manifest::sha256_hex;
use anyhow::Context as _;
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled artifacts live.
#[derive(Debug, Clone)]
pub(crate) struct ComponentCache {
    dir: PathBuf,
}

/// How the component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Loaded from the cache: no compilation.
    Cached,
    /// Compiled now (and stored when the cache is enabled).
    Compiled,
}

impl ComponentCache {
    /// A cache in `dir`, created on first store.
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The default directory: `$XDG_CACHE_HOME/falcon-plugin-host/components`,
    /// else `~/.cache/falcon-plugin-host/components`.
    pub(crate) fn default_dir() -> Option<PathBuf> {
        let base = crate::config::user_dir("XDG_CACHE_HOME", &[".cache"])?;
        Some(base.join("falcon-plugin-host").join("components"))
    }

    /// Loads the compiled form of `bytes` from the cache, or compiles and
    /// stores it. A cache that cannot be read or written is skipped with a
    /// warning: it only ever costs time, never correctness.
    ///
    /// # Errors
    ///
    /// The component does not compile.
    pub(crate) fn load_or_compile(
        cache: Option<&Self>,
        engine: &Engine,
        bytes: &[u8],
        digest: &str,
    ) -> anyhow::Result<(Component, Origin)> {
        let Some(cache) = cache else {
            return Ok((compile(engine, bytes)?, Origin::Compiled));
        };
        let path = cache.artifact_path(engine, digest);
        match cache.load(engine, &path) {
            Ok(Some(component)) => {
                tracing::debug!(path = %path.display(), "compiled plugin loaded from cache");
                return Ok((component, Origin::Cached));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("ignoring cached artifact `{}`: {e:#}", path.display()),
        }
        let serialized = engine
            .precompile_component(bytes)
            .map_err(anyhow::Error::from)
            .context("failed to compile the plugin")?;
        if let Err(e) = cache.store(&path, &serialized) {
            tracing::warn!(
                "failed to cache the compiled plugin in `{}`: {e:#}",
                cache.dir.display()
            );
        }
        Ok((deserialize(engine, &serialized)?, Origin::Compiled))
    }

    fn artifact_path(&self, engine: &Engine, digest: &str) -> PathBuf {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir
            .join(format!("{digest}-{:016x}.cwasm", hasher.finish()))
    }

    fn load(&self, engine: &Engine, path: &Path) -> anyhow::Result<Option<Component>> {
        let artifact = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).context("failed to read it"),
        };
        let recorded = std::fs::read_to_string(checksum_path(path))
            .context("its checksum file is unreadable")?;
        if recorded.trim() != sha256_hex(&artifact) {
            anyhow::bail!("its checksum does not match; it will be rebuilt");
        }
        deserialize(engine, &artifact).map(Some)
    }

    fn store(&self, path: &Path, artifact: &[u8]) -> anyhow::Result<()> {
        create_private_dir(&self.dir)?;
        // Write beside the target and rename, so a concurrent run never reads
        // half an artifact; the checksum goes first so that a present
        // artifact always has one.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(checksum_path(path), sha256_hex(artifact))
            .context("failed to write the checksum")?;
        std::fs::write(&tmp, artifact).context("failed to write the artifact")?;
        std::fs::rename(&tmp, path).context("failed to move the artifact into place")?;
        Ok(())
    }
}

fn compile(engine: &Engine, bytes: &[u8]) -> anyhow::Result<Component> {
    Component::from_binary(engine, bytes).map_err(anyhow::Error::from)
}

fn deserialize(engine: &Engine, artifact: &[u8]) -> anyhow::Result<Component> {
    // SAFETY: `artifact` is either the output of `precompile_component` on
    // this same engine a moment ago, or a file this cache wrote in a private
    // directory whose recorded sha256 was just verified, under a key that
    // includes the engine's compatibility hash. wasmtime additionally checks
    // the artifact's header against the engine before loading it.
    #[allow(unsafe_code)]
    let component = unsafe { Component::deserialize(engine, artifact) };
    component
        .map_err(anyhow::Error::from)
        .context("failed to load the compiled plugin")
}

fn checksum_path(artifact: &Path) -> PathBuf {
    artifact.with_extension("cwasm.sha256")
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("failed to create `{}`", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest valid component: the preamble of an empty one.
    const EMPTY_COMPONENT: &[u8] = &[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("host-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_second_load_comes_from_the_cache() {
        let engine = Engine::default();
        let cache = ComponentCache::new(scratch("hit"));
        let first = ComponentCache::load_or_compile(Some(&cache), &engine, EMPTY_COMPONENT, "d1");
        assert_eq!(first.unwrap().1, Origin::Compiled);
        let second = ComponentCache::load_or_compile(Some(&cache), &engine, EMPTY_COMPONENT, "d1");
        assert_eq!(second.unwrap().1, Origin::Cached);
        let _ = std::fs::remove_dir_all(&cache.dir);
    }

    #[test]
    fn a_tampered_artifact_is_rebuilt_not_loaded() {
        let engine = Engine::default();
        let cache = ComponentCache::new(scratch("tamper"));
        ComponentCache::load_or_compile(Some(&cache), &engine, EMPTY_COMPONENT, "d2").unwrap();
        let path = cache.artifact_path(&engine, "d2");
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let again = ComponentCache::load_or_compile(Some(&cache), &engine, EMPTY_COMPONENT, "d2");
        assert_eq!(again.unwrap().1, Origin::Compiled);
        let _ = std::fs::remove_dir_all(&cache.dir);
    }

    #[cfg(unix)]
    #[test]
    fn the_directory_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let engine = Engine::default();
        let cache = ComponentCache::new(scratch("private"));
        ComponentCache::load_or_compile(Some(&cache), &engine, EMPTY_COMPONENT, "d3").unwrap();
        let mode = std::fs::metadata(&cache.dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let _ = std::fs::remove_dir_all(&cache.dir);
    }
}
