//! Paging and batching shared by the per-area modules.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::client::{ApiRequest, Client};
use crate::error::{Error, Result};

/// The result of a lookup by ids: what was found, in the order asked, and
/// the ids Falcon does not know.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<T> {
    /// The objects found, in the order their ids were given (duplicates
    /// removed).
    pub found: Vec<T>,
    /// The ids that were not found, in the order given.
    pub missing: Vec<String>,
}

impl<T> Default for Batch<T> {
    fn default() -> Self {
        Self {
            found: Vec::new(),
            missing: Vec::new(),
        }
    }
}

impl<T> Batch<T> {
    /// Whether every id was found.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }

    /// The found objects, or [`Error::NotFound`] naming the missing ids.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] with `endpoint` when any id was missing.
    pub fn into_found(self, endpoint: &str) -> Result<Vec<T>> {
        if self.missing.is_empty() {
            Ok(self.found)
        } else {
            Err(Error::NotFound {
                endpoint: endpoint.to_owned(),
                ids: self.missing,
            })
        }
    }
}

/// Collects every item of an offset-paged endpoint (`offset`/`limit` query
/// parameters, `meta.pagination.total`), checking that the items received add
/// up to the reported total.
pub(crate) async fn collect_offset(
    client: &Client,
    base: ApiRequest,
    limit: u32,
) -> Result<Vec<Value>> {
    let endpoint = base.endpoint;
    let mut items = Vec::new();
    let mut offset: u64 = 0;
    loop {
        let request = base
            .clone()
            .query("offset", offset.to_string())
            .query("limit", limit.to_string());
        let response = client.execute(request).await?.error_for_errors(&endpoint)?;
        let page = response.envelope.resource_list();
        let total = response
            .envelope
            .meta
            .pagination
            .as_ref()
            .and_then(|p| p.total);
        let received = page.len() as u64;
        items.extend(page);
        let have = items.len() as u64;
        match total {
            Some(total) if have == total => return Ok(items),
            Some(total) if have > total => {
                return Err(Error::Inconsistent {
                    endpoint: endpoint.to_string(),
                    detail: format!("received {have} items but the reported total is {total}"),
                });
            }
            Some(total) if received == 0 => {
                return Err(Error::Inconsistent {
                    endpoint: endpoint.to_string(),
                    detail: format!(
                        "page at offset {offset} was empty after {have} of {total} items"
                    ),
                });
            }
            Some(_) => {}
            None if received < u64::from(limit) => return Ok(items),
            None => {}
        }
        offset += received;
    }
}

/// Looks up `ids` with a `POST {"ids": [...]}` entity endpoint, `chunk` ids
/// per request, and returns the found objects in the order asked plus the
/// missing ids. A 404 answer or per-id errors mean "missing".
pub(crate) async fn lookup_by_ids(
    client: &Client,
    base: &ApiRequest,
    ids: &[String],
    chunk: usize,
    id_key: &str,
) -> Result<Batch<Value>> {
    let mut by_id = std::collections::HashMap::new();
    for part in ids.chunks(chunk.max(1)) {
        let request = base.clone().json(json!({ "ids": part })).allow_not_found();
        let response = client.execute(request).await?;
        let status = response.status;
        for error in &response.envelope.errors {
            let per_id = error.id.is_some() || error.code == Some(404);
            if !per_id || !(200..300).contains(&status) && status != 404 {
                tracing::warn!(
                    endpoint = %base.endpoint,
                    status,
                    code = error.code,
                    message = %error.message,
                    "falcon lookup reported an error not tied to an id"
                );
            }
        }
        for item in response.envelope.resource_list() {
            if let Some(id) = item.get(id_key).and_then(Value::as_str) {
                by_id.insert(id.to_owned(), item);
            }
        }
    }
    let mut batch = Batch::default();
    for id in ids {
        match by_id.remove(id) {
            Some(item) => batch.found.push(item),
            None => batch.missing.push(id.clone()),
        }
    }
    Ok(batch)
}

/// Validates ids (non-empty) and removes duplicates, keeping the first
/// occurrence.
pub(crate) fn unique_ids<S: AsRef<str>>(ids: &[S], what: &str) -> Result<Vec<String>> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let id = id.as_ref().trim();
        if id.is_empty() {
            return Err(Error::InvalidInput(format!(
                "{what} list holds an empty id"
            )));
        }
        if seen.insert(id.to_owned()) {
            out.push(id.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_ids_keeps_order_and_rejects_empty() {
        assert_eq!(
            unique_ids(&["b", "a", "b", " c "], "user").unwrap(),
            ["b", "a", "c"]
        );
        assert!(unique_ids(&["a", ""], "user").is_err());
        let none: [&str; 0] = [];
        assert!(unique_ids(&none, "user").unwrap().is_empty());
    }

    #[test]
    fn batch_into_found() {
        let b = Batch {
            found: vec![1],
            missing: vec!["x".to_owned()],
        };
        assert!(
            matches!(b.into_found("POST /a"), Err(Error::NotFound { ids, .. }) if ids == ["x"])
        );
        let b: Batch<i32> = Batch {
            found: vec![1],
            missing: vec![],
        };
        assert_eq!(b.into_found("POST /a").unwrap(), [1]);
    }
}
