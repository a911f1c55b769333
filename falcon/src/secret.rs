//! Secrets that must never be printed, and the API client's credentials.

use std::fmt;

/// A string that must not leak: its `Debug` and `Display` print `***`.
///
/// Use [`Secret::expose`] at the one place the value is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself. Call it only to send the value to Falcon.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// The OAuth2 client credentials of a Falcon API client.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The API client id (not secret).
    pub client_id: String,
    /// The API client secret.
    pub client_secret: Secret,
    /// For MSSP (Flight Control) parents: the child CID every token is
    /// locked to. Sent on every token request.
    pub member_cid: Option<String>,
}

impl Credentials {
    /// Credentials without a member CID.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<Secret>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            member_cid: None,
        }
    }

    /// The same credentials locked to the child CID `member_cid`.
    #[must_use]
    pub fn with_member_cid(mut self, member_cid: impl Into<String>) -> Self {
        self.member_cid = Some(member_cid.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_redacted_everywhere() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(s.expose(), "hunter2-very-secret");
        let creds = Credentials::new("my-client", "hunter2-very-secret").with_member_cid("abc");
        let debug = format!("{creds:?} {creds:#?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("my-client"), "{debug}");
    }
}
