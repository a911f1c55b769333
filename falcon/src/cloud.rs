//! Falcon clouds (regions) and their API base URLs.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A Falcon cloud: one of the named regions, or any base URL (a proxy, the
/// local emulator).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Cloud {
    /// US-1, `https://api.crowdstrike.com`.
    Us1,
    /// US-2, `https://api.us-2.crowdstrike.com`.
    Us2,
    /// EU-1, `https://api.eu-1.crowdstrike.com`.
    Eu1,
    /// US-GOV-1, `https://api.laggar.gcw.crowdstrike.com`.
    UsGov1,
    /// US-GOV-2, `https://api.us-gov-2.crowdstrike.mil`.
    UsGov2,
    /// Any `http(s)://` base URL, without a trailing slash.
    Custom(String),
}

impl Cloud {
    /// The API base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        match self {
            Self::Us1 => "https://api.crowdstrike.com",
            Self::Us2 => "https://api.us-2.crowdstrike.com",
            Self::Eu1 => "https://api.eu-1.crowdstrike.com",
            Self::UsGov1 => "https://api.laggar.gcw.crowdstrike.com",
            Self::UsGov2 => "https://api.us-gov-2.crowdstrike.mil",
            Self::Custom(url) => url.trim_end_matches('/'),
        }
    }

    /// Whether this is a US government cloud (never autodiscovered).
    pub fn is_gov(&self) -> bool {
        matches!(self, Self::UsGov1 | Self::UsGov2)
    }

    /// The region name as Falcon spells it (`us-1`), or `None` for a custom
    /// URL.
    pub fn name(&self) -> Option<&'static str> {
        Some(match self {
            Self::Us1 => "us-1",
            Self::Us2 => "us-2",
            Self::Eu1 => "eu-1",
            Self::UsGov1 => "us-gov-1",
            Self::UsGov2 => "us-gov-2",
            Self::Custom(_) => return None,
        })
    }

    /// The cloud named by an `X-Cs-Region` header value such as `us-2`, or
    /// `None` for a value this client does not know.
    pub fn from_region_header(value: &str) -> Option<Self> {
        Self::from_name(value)
    }

    /// The cloud a client configured for `self` should switch to when the
    /// token response names `region`: only between the commercial named
    /// clouds, never for gov clouds or custom URLs.
    pub(crate) fn autodiscovered(&self, region: &str) -> Option<Self> {
        if !matches!(self, Self::Us1 | Self::Us2 | Self::Eu1) {
            return None;
        }
        let found = Self::from_region_header(region)?;
        (matches!(found, Self::Us1 | Self::Us2 | Self::Eu1) && found != *self).then_some(found)
    }

    /// The error for a commercial cloud whose token response names a US
    /// government region: gov clouds are never autodiscovered, the operator
    /// must name the cloud. `None` when `region` is not a gov cloud or the
    /// configured cloud is not a named commercial one.
    pub(crate) fn gov_region_error(&self, region: &str) -> Option<Error> {
        if !matches!(self, Self::Us1 | Self::Us2 | Self::Eu1) {
            return None;
        }
        let found = Self::from_region_header(region)?;
        found.is_gov().then(|| {
            Error::Cloud(format!(
                "the token response names region `{found}`, but government clouds are never autodiscovered; set the cloud to `{found}` explicitly"
            ))
        })
    }

    fn from_name(value: &str) -> Option<Self> {
        let key: String = value
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_'))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Some(match key.as_str() {
            "us1" => Self::Us1,
            "us2" => Self::Us2,
            "eu1" => Self::Eu1,
            "usgov1" => Self::UsGov1,
            "usgov2" => Self::UsGov2,
            _ => return None,
        })
    }
}

impl FromStr for Cloud {
    type Err = Error;

    /// Parses `us-1`, `US1`, `eu-1`, `us-gov-1` (case-insensitive, dash
    /// optional) or an `http://` / `https://` base URL (a trailing slash is
    /// removed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let lower = trimmed.to_ascii_lowercase();
        for scheme in ["https://", "http://"] {
            if let Some(rest) = lower.strip_prefix(scheme) {
                let host = rest.trim_end_matches('/');
                if host.is_empty() || host.contains(char::is_whitespace) {
                    return Err(Error::InvalidInput(format!(
                        "cloud url `{trimmed}` has no host"
                    )));
                }
                // Keep the caller's spelling after the scheme (paths may be
                // case-sensitive) but normalise the scheme and trailing slash.
                let original_rest = &trimmed[scheme.len()..];
                return Ok(Self::Custom(format!(
                    "{scheme}{}",
                    original_rest.trim_end_matches('/')
                )));
            }
        }
        Self::from_name(trimmed).ok_or_else(|| {
            Error::InvalidInput(format!(
                "cloud `{trimmed}` is unknown; expected us-1, us-2, eu-1, us-gov-1, us-gov-2 or an http(s) url"
            ))
        })
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => f.write_str(self.base_url()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_in_any_spelling() {
        for (input, want) in [
            ("us-1", Cloud::Us1),
            ("US1", Cloud::Us1),
            ("Us-2", Cloud::Us2),
            ("eu-1", Cloud::Eu1),
            ("EU1", Cloud::Eu1),
            ("us-gov-1", Cloud::UsGov1),
            ("USGOV1", Cloud::UsGov1),
            ("us_gov_2", Cloud::UsGov2),
            (" us-gov-2 ", Cloud::UsGov2),
        ] {
            assert_eq!(input.parse::<Cloud>().unwrap(), want, "{input}");
        }
    }

    #[test]
    fn parses_urls_and_drops_trailing_slash() {
        let c: Cloud = "http://127.0.0.1:8080/".parse().unwrap();
        assert_eq!(c, Cloud::Custom("http://127.0.0.1:8080".into()));
        assert_eq!(c.base_url(), "http://127.0.0.1:8080");
        let c: Cloud = "HTTPS://proxy.example/Falcon//".parse().unwrap();
        assert_eq!(c.base_url(), "https://proxy.example/Falcon");
        assert!("https://".parse::<Cloud>().is_err());
        assert!("ftp://x".parse::<Cloud>().is_err());
        assert!("us-3".parse::<Cloud>().is_err());
        assert!("".parse::<Cloud>().is_err());
    }

    #[test]
    fn base_urls_and_gov() {
        assert_eq!(Cloud::Us1.base_url(), "https://api.crowdstrike.com");
        assert_eq!(Cloud::Eu1.base_url(), "https://api.eu-1.crowdstrike.com");
        assert_eq!(
            Cloud::UsGov1.base_url(),
            "https://api.laggar.gcw.crowdstrike.com"
        );
        assert!(Cloud::UsGov1.is_gov() && Cloud::UsGov2.is_gov());
        assert!(!Cloud::Us2.is_gov());
        assert!(!Cloud::Custom("http://x".into()).is_gov());
        assert_eq!(Cloud::Custom("http://x/".into()).base_url(), "http://x");
        assert_eq!(Cloud::UsGov2.to_string(), "us-gov-2");
    }

    #[test]
    fn region_header_and_autodiscovery_rules() {
        assert_eq!(Cloud::from_region_header("us-2"), Some(Cloud::Us2));
        assert_eq!(Cloud::from_region_header("us-3"), None);
        assert_eq!(Cloud::Us1.autodiscovered("us-2"), Some(Cloud::Us2));
        assert_eq!(Cloud::Us1.autodiscovered("eu-1"), Some(Cloud::Eu1));
        assert_eq!(Cloud::Us1.autodiscovered("us-1"), None);
        assert_eq!(Cloud::Us1.autodiscovered("us-gov-1"), None);
        assert_eq!(Cloud::UsGov1.autodiscovered("us-1"), None);
        assert_eq!(
            Cloud::Custom("http://127.0.0.1:1".into()).autodiscovered("us-2"),
            None
        );
        assert_eq!(Cloud::Us2.autodiscovered("garbage"), None);
        let err = Cloud::Us1.gov_region_error("us-gov-1").unwrap();
        assert!(matches!(err, Error::Cloud(_)));
        let text = err.to_string();
        assert!(text.contains("set the cloud to `us-gov-1`"), "{text}");
        assert!(Cloud::Us1.gov_region_error("us-2").is_none());
        assert!(Cloud::UsGov1.gov_region_error("us-gov-1").is_none());
        assert!(
            Cloud::Custom("http://127.0.0.1:1".into())
                .gov_region_error("us-gov-2")
                .is_none()
        );
    }
}
