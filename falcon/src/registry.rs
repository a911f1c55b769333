//! One token and one rate limiter per (cloud, client id, member CID), shared
//! by every client built for the same credentials in this process, so that
//! plugins that each build a client still share one token, one refresh and
//! one rate limit.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, Weak};

use crate::auth::TokenSlot;
use crate::cloud::Cloud;
use crate::ratelimit::RateLimiter;
use crate::secret::Credentials;

/// What clients of the same credentials share.
pub(crate) struct SharedState {
    /// The cloud the token belongs to (moved by autodiscovery).
    pub(crate) cloud: RwLock<Cloud>,
    pub(crate) token: tokio::sync::Mutex<TokenSlot>,
    pub(crate) limiter: RateLimiter,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    base_url: String,
    client_id: String,
    member_cid: Option<String>,
    /// A keyed hash of the secret: a rotated secret gets its own token.
    secret_digest: u64,
}

type Registry = Mutex<HashMap<Key, Weak<SharedState>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

fn digest(secret: &str) -> u64 {
    static KEYS: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    KEYS.get_or_init(Default::default).hash_one(secret)
}

/// The shared state for these credentials on the configured `cloud`,
/// created when no live client holds one.
pub(crate) fn shared_for(cloud: &Cloud, credentials: &Credentials) -> Arc<SharedState> {
    let key = Key {
        base_url: cloud.base_url().trim_end_matches('/').to_ascii_lowercase(),
        client_id: credentials.client_id.clone(),
        member_cid: credentials
            .member_cid
            .as_ref()
            .map(|c| c.trim().to_ascii_lowercase()),
        secret_digest: digest(credentials.client_secret.expose()),
    };
    let mut map = registry().lock().unwrap_or_else(PoisonError::into_inner);
    map.retain(|_, weak| weak.strong_count() > 0);
    if let Some(found) = map.get(&key).and_then(Weak::upgrade) {
        return found;
    }
    let fresh = Arc::new(SharedState {
        cloud: RwLock::new(cloud.clone()),
        token: tokio::sync::Mutex::new(TokenSlot::default()),
        limiter: RateLimiter::new(),
    });
    map.insert(key, Arc::downgrade(&fresh));
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Cloud {
        text.parse().unwrap()
    }

    #[test]
    fn same_credentials_share_and_others_do_not() {
        let creds = Credentials::new("registry-test-id", "s1");
        let a = shared_for(&url("http://127.0.0.1:1/"), &creds);
        let b = shared_for(&url("HTTP://127.0.0.1:1"), &creds);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(a.limiter.same_as(&b.limiter));
        let member = shared_for(
            &url("http://127.0.0.1:1"),
            &creds.clone().with_member_cid("abc"),
        );
        assert!(!Arc::ptr_eq(&a, &member));
        let rotated = shared_for(
            &url("http://127.0.0.1:1"),
            &Credentials::new("registry-test-id", "s2"),
        );
        assert!(!Arc::ptr_eq(&a, &rotated));
        let other_cloud = shared_for(&url("http://127.0.0.1:2"), &creds);
        assert!(!Arc::ptr_eq(&a, &other_cloud));
        drop((a, b));
        let again = shared_for(&url("http://127.0.0.1:1"), &creds);
        assert!(again.token.try_lock().is_ok_and(|s| !s.has_token()));
    }
}
