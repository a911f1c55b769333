//! Endpoint descriptions: method, path, required scope and whether a call
//! changes state.

use std::fmt;

/// An HTTP method used by the Falcon API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    pub(crate) fn to_reqwest(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Post => reqwest::Method::POST,
            Self::Put => reqwest::Method::PUT,
            Self::Patch => reqwest::Method::PATCH,
            Self::Delete => reqwest::Method::DELETE,
        }
    }
}

/// Whether a call only reads (safe to retry) or changes state (never
/// replayed once it may have reached Falcon).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Reads only. Read-only `POST`s such as
    /// `POST /user-management/entities/users/GET/v1` are reads.
    Read,
    /// Changes state.
    Write,
    /// Changes state, but sending it twice has the same effect as once
    /// (deleting by id, setting tags): retried like a read.
    IdempotentWrite,
}

/// One Falcon API operation: what the client sends and what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// HTTP method.
    pub method: Method,
    /// Path below the cloud's base URL, starting with `/`.
    pub path: &'static str,
    /// The internal API-client scope the call needs, for example
    /// `usermgmt:read`.
    pub scope: &'static str,
    /// Whether the call reads or writes.
    pub access: Access,
}

impl Endpoint {
    /// A read-only operation (retried on 429, 5xx and transport errors).
    pub const fn read(method: Method, path: &'static str, scope: &'static str) -> Self {
        Self {
            method,
            path,
            scope,
            access: Access::Read,
        }
    }

    /// A state-changing operation (never replayed once it may have arrived).
    pub const fn write(method: Method, path: &'static str, scope: &'static str) -> Self {
        Self {
            method,
            path,
            scope,
            access: Access::Write,
        }
    }

    /// A state-changing operation that is safe to repeat (retried on 429,
    /// 5xx and transport errors like a read).
    pub const fn idempotent_write(method: Method, path: &'static str, scope: &'static str) -> Self {
        Self {
            method,
            path,
            scope,
            access: Access::IdempotentWrite,
        }
    }

    /// Whether the call only reads.
    pub fn is_read(&self) -> bool {
        self.access == Access::Read
    }

    /// Whether the call may be sent again after a failure that left its
    /// outcome unknown: reads and idempotent writes.
    pub fn is_retryable(&self) -> bool {
        matches!(self.access, Access::Read | Access::IdempotentWrite)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method.as_str(), self.path)
    }
}
