//! Paging and batching shared by the per-area modules.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use crate::envelope::Pagination;

use crate::client::{ApiRequest, Client};
use crate::error::{Error, Result};

/// The result of a lookup by ids: what was found, in the order asked, and
/// the ids Falcon does not know or reported errors for.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<T> {
    /// The objects found, in the order their ids were given (duplicates
    /// removed).
    pub found: Vec<T>,
    /// The ids that were not found, in the order given.
    pub missing: Vec<String>,
    /// Per-id errors Falcon reported (unknown ids, ids it refused), in the
    /// order the ids were given. An id listed here is also in `missing`
    /// unless its object was returned as well.
    pub errors: Vec<IdError>,
}

/// An error Falcon reported for one id of a batch call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdError {
    /// The id the error is about.
    pub id: String,
    /// The error code (often the HTTP status for this id, e.g. 404).
    pub code: Option<i64>,
    /// The error message.
    pub message: String,
}

impl<T> Default for Batch<T> {
    fn default() -> Self {
        Self {
            found: Vec::new(),
            missing: Vec::new(),
            errors: Vec::new(),
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

    /// Converts the found objects, keeping `missing` and `errors`.
    ///
    /// # Errors
    ///
    /// The first error of `convert`.
    pub fn try_map<U>(self, convert: impl FnMut(T) -> Result<U>) -> Result<Batch<U>> {
        Ok(Batch {
            found: self.found.into_iter().map(convert).collect::<Result<_>>()?,
            missing: self.missing,
            errors: self.errors,
        })
    }
}

/// How an endpoint pages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OffsetPaging {
    /// Page size.
    pub(crate) limit: u32,
    /// The most items offset paging can reach (`offset + limit <= window`),
    /// if the endpoint has such a window.
    pub(crate) window: Option<u64>,
    /// Stop after this many items.
    pub(crate) max: Option<u64>,
}

/// Collects every item of an offset-paged endpoint (`offset`/`limit` query
/// parameters, `meta.pagination.total`), checking that the items received add
/// up to the reported total.
pub(crate) async fn collect_offset(
    client: &Client,
    base: ApiRequest,
    limit: u32,
) -> Result<Vec<Value>> {
    collect_offset_paged(
        client,
        base,
        OffsetPaging {
            limit,
            window: None,
            max: None,
        },
    )
    .await
}

/// [`collect_offset`] for an endpoint with an offset window: when the first
/// page reports more items than the window serves (and no `max` keeps the
/// listing inside it), fails with [`Error::WindowExceeded`] before any page
/// beyond the window is asked for.
pub(crate) async fn collect_offset_paged(
    client: &Client,
    base: ApiRequest,
    paging: OffsetPaging,
) -> Result<Vec<Value>> {
    let endpoint = base.endpoint;
    let mut items = Vec::new();
    let mut offset: u64 = 0;
    let want = paging.max.unwrap_or(u64::MAX);
    loop {
        let mut limit = u64::from(paging.limit.max(1));
        if let Some(window) = paging.window {
            limit = limit.min(window.saturating_sub(offset)).max(1);
        }
        limit = limit.min(want.saturating_sub(items.len() as u64).max(1));
        let request = base
            .clone()
            .query("offset", offset.to_string())
            .query("limit", limit.to_string());
        let response = client.execute(request).await?.error_for_errors(&endpoint)?;
        let page = response.envelope.resource_list();
        let reported = response
            .envelope
            .meta
            .pagination
            .as_ref()
            .and_then(|p| p.total);
        let total = reported.map(|t| t.min(want));
        if let (Some(window), Some(reported)) = (paging.window, reported)
            && reported.min(want) > window
        {
            return Err(Error::WindowExceeded {
                endpoint: endpoint.to_string(),
                total: reported,
                window,
            });
        }
        let received = page.len() as u64;
        items.extend(page);
        if items.len() as u64 >= want {
            items.truncate(usize::try_from(want).unwrap_or(usize::MAX));
            return Ok(items);
        }
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
            None if received < limit => return Ok(items),
            None => {}
        }
        offset += received;
    }
}

/// Which pagination field carries the next cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CursorField {
    /// The string `offset` token (device scroll).
    OffsetToken,
    /// `after` (alerts combined, IOC search).
    After,
    /// `next`, sent back as the string `offset` (combined devices); empty
    /// on the last page.
    Next,
}

impl CursorField {
    fn of(self, pagination: &Pagination) -> Option<String> {
        match self {
            Self::OffsetToken => pagination.offset_token.clone(),
            Self::After => pagination.after.clone(),
            Self::Next => pagination.next.clone().filter(|n| !n.is_empty()),
        }
        .filter(|t| !t.trim().is_empty())
    }
}

/// Collects every item of a cursor-paged endpoint (scroll `offset` tokens,
/// `after` tokens): `make` builds the request for a cursor (`None` first).
/// Stops on an empty page, a missing cursor or `max` items; checks the
/// count against the largest total reported; an expired or refused cursor
/// is [`Error::CursorExpired`], never a short result.
pub(crate) async fn collect_cursor(
    client: &Client,
    make: impl Fn(Option<&str>) -> ApiRequest,
    field: CursorField,
    max: Option<u64>,
) -> Result<Vec<Value>> {
    let mut pager = CursorPager::new(field, max);
    let mut items: Vec<Value> = Vec::new();
    while let Some(page) = pager.next_page(client, &make).await? {
        items.extend(page);
    }
    Ok(items)
}

/// Walks a cursor-paged endpoint one page at a time, for callers that hand
/// results on as they arrive (a plugin's stream) instead of collecting them.
/// Same rules as [`collect_cursor`]: an expired cursor is an error, and the
/// count is checked against the reported total at the end.
#[derive(Debug)]
pub(crate) struct CursorPager {
    field: CursorField,
    cursor: Option<String>,
    total: Option<u64>,
    received: u64,
    want: u64,
    done: bool,
}

impl CursorPager {
    pub(crate) fn new(field: CursorField, max: Option<u64>) -> Self {
        Self {
            field,
            cursor: None,
            total: None,
            received: 0,
            want: max.unwrap_or(u64::MAX),
            done: false,
        }
    }

    /// The largest total the API reported so far.
    pub(crate) fn total(&self) -> Option<u64> {
        self.total
    }

    /// The next page, or `None` once the listing is complete. `make` builds
    /// the request for a cursor (`None` for the first page).
    pub(crate) async fn next_page(
        &mut self,
        client: &Client,
        make: impl Fn(Option<&str>) -> ApiRequest,
    ) -> Result<Option<Vec<Value>>> {
        if self.done {
            return Ok(None);
        }
        let request = make(self.cursor.as_deref());
        let endpoint = request.endpoint;
        let had_cursor = self.cursor.is_some();
        let received_before = usize::try_from(self.received).unwrap_or(usize::MAX);
        let response = match client.execute(request).await {
            Ok(r) => r,
            Err(err) if had_cursor && cursor_refused(&err) => {
                return Err(expired(&endpoint, received_before, &err));
            }
            Err(err) => return Err(err),
        };
        if let Some(first) = response.envelope.errors.first() {
            let err = Error::Api {
                endpoint: endpoint.to_string(),
                status: response.status,
                code: first.code,
                message: first.message.clone(),
                trace_id: response.trace_id.clone(),
                body: None,
            };
            if had_cursor && cursor_refused(&err) {
                return Err(expired(&endpoint, received_before, &err));
            }
            return Err(err);
        }
        let mut page = response.envelope.resource_list();
        let pagination = response
            .envelope
            .meta
            .pagination
            .clone()
            .unwrap_or_default();
        // Scroll ends report `total: 0`; the first page's total counts.
        if let Some(t) = pagination.total
            && t > self.total.unwrap_or(0)
        {
            self.total = Some(t);
        }
        let received = page.len();
        let room = self.want - self.received;
        if received as u64 >= room {
            page.truncate(usize::try_from(room).unwrap_or(usize::MAX));
            self.received = self.want;
            self.done = true;
            return Ok(Some(page));
        }
        self.received += received as u64;
        let next = self.field.of(&pagination);
        let finished = received == 0
            || next.is_none()
            || next == self.cursor
            || self.total.is_some_and(|t| self.received >= t);
        if finished {
            self.done = true;
            if let Some(total) = self.total.map(|t| t.min(self.want))
                && self.received != total
            {
                return Err(Error::Inconsistent {
                    endpoint: endpoint.to_string(),
                    detail: format!(
                        "received {} items but the reported total is {total}",
                        self.received
                    ),
                });
            }
        }
        self.cursor = next;
        Ok(Some(page))
    }
}

/// Whether an error answering a request with a cursor means the cursor
/// expired or is no longer valid.
fn cursor_refused(err: &Error) -> bool {
    match err {
        Error::Api {
            status, message, ..
        } => {
            let m = message.to_ascii_lowercase();
            matches!(status, 400 | 404 | 410)
                && (m.contains("expired")
                    || m.contains("no longer valid")
                    || m.contains("invalid")
                    || m.contains("context"))
                || (200..300).contains(status) && m.contains("expired")
        }
        _ => false,
    }
}

fn expired(endpoint: &crate::Endpoint, received: usize, err: &Error) -> Error {
    let message = match err {
        Error::Api { message, .. } => message.clone(),
        other => other.to_string(),
    };
    Error::CursorExpired {
        endpoint: endpoint.to_string(),
        received: received as u64,
        message,
        trace_id: err.trace_id().map(str::to_owned),
    }
}

/// How ids travel in a batch call.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IdsIn {
    /// A JSON body `{"<key>": [...]}`.
    Body(&'static str),
    /// Repeated query pairs `<key>=a&<key>=b`.
    Query(&'static str),
}

/// Limits of one batch endpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchSpec {
    /// Where the ids go.
    pub(crate) ids_in: IdsIn,
    /// Most ids per request.
    pub(crate) max_ids: usize,
    /// The field of a returned object that holds its id.
    pub(crate) id_key: &'static str,
}

/// Bytes of ids per JSON body, well below the gateway's ~1 MiB limit.
pub(crate) const MAX_BODY_ID_BYTES: usize = 512 * 1024;
/// Bytes of `ids=` pairs per query string (PSFalcon sizes GET batches the
/// same way: ~18,500 characters of URL).
pub(crate) const MAX_QUERY_ID_BYTES: usize = 18_000;

/// Splits `ids` into chunks of at most `max_ids` ids and `max_bytes` bytes,
/// counting `overhead` extra bytes per id (quotes and commas, or `ids=&`).
pub(crate) fn chunk_ids(
    ids: &[String],
    max_ids: usize,
    max_bytes: usize,
    overhead: usize,
) -> Vec<&[String]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, id) in ids.iter().enumerate() {
        let size = id.len() + overhead;
        if i > start && (i - start >= max_ids.max(1) || bytes + size > max_bytes) {
            chunks.push(&ids[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < ids.len() {
        chunks.push(&ids[start..]);
    }
    chunks
}

/// Looks up `ids` with an entity endpoint, chunked by the endpoint's cap and
/// by request size, and returns the found objects in the order asked, the
/// missing ids and per-id errors. A 404 answer, a 4xx with resources and a
/// 2xx with per-id errors are partial successes.
/// Looks up `ids` (deduplicated, validated as `what`) in batches per
/// `spec` and decodes each found object with `parse`: the whole "get by
/// ids" of every area. No id, no request.
pub(crate) async fn lookup_ids<S: AsRef<str>, T>(
    client: &Client,
    base: &ApiRequest,
    ids: &[S],
    what: &str,
    spec: BatchSpec,
    parse: impl FnMut(Value) -> Result<T>,
) -> Result<Batch<T>> {
    let ids = unique_ids(ids, what)?;
    if ids.is_empty() {
        return Ok(Batch::default());
    }
    lookup_batch(client, base, &ids, spec).await?.try_map(parse)
}

pub(crate) async fn lookup_batch(
    client: &Client,
    base: &ApiRequest,
    ids: &[String],
    spec: BatchSpec,
) -> Result<Batch<Value>> {
    let (max_bytes, overhead) = match spec.ids_in {
        IdsIn::Body(_) => (MAX_BODY_ID_BYTES, 3),
        IdsIn::Query(key) => (MAX_QUERY_ID_BYTES, key.len() + 2),
    };
    let mut by_id = HashMap::new();
    let mut errors_by_id: HashMap<String, IdError> = HashMap::new();
    for part in chunk_ids(ids, spec.max_ids, max_bytes, overhead) {
        let mut request = base.clone().allow_partial();
        match spec.ids_in {
            IdsIn::Body(key) => request = request.json(json!({ key: part })),
            IdsIn::Query(key) => {
                for id in part {
                    request = request.query(key, id.clone());
                }
            }
        }
        let response = client.execute(request).await?;
        let status = response.status;
        for error in &response.envelope.errors {
            match &error.id {
                Some(id) => {
                    errors_by_id.entry(id.clone()).or_insert_with(|| IdError {
                        id: id.clone(),
                        code: error.code,
                        message: error.message.clone(),
                    });
                }
                None if error.code == Some(404) || status == 404 => {}
                None => tracing::warn!(
                    endpoint = %base.endpoint,
                    status,
                    code = error.code,
                    message = %error.message,
                    "falcon lookup reported an error not tied to an id"
                ),
            }
        }
        for item in response.envelope.resource_list() {
            if let Some(id) = item.get(spec.id_key).and_then(Value::as_str) {
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
        if let Some(error) = errors_by_id.remove(id) {
            batch.errors.push(error);
        }
    }
    Ok(batch)
}

/// Looks up `ids` with a `POST {"ids": [...]}` entity endpoint, `chunk` ids
/// per request; see [`lookup_batch`].
pub(crate) async fn lookup_by_ids(
    client: &Client,
    base: &ApiRequest,
    ids: &[String],
    chunk: usize,
    id_key: &'static str,
) -> Result<Batch<Value>> {
    lookup_batch(
        client,
        base,
        ids,
        BatchSpec {
            ids_in: IdsIn::Body("ids"),
            max_ids: chunk,
            id_key,
        },
    )
    .await
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
    fn chunks_by_count_and_by_size() {
        let ids: Vec<String> = (0..12).map(|i| format!("{i:02}")).collect();
        let sizes: Vec<usize> = chunk_ids(&ids, 5, 1000, 3)
            .iter()
            .map(|c| c.len())
            .collect();
        assert_eq!(sizes, [5, 5, 2]);
        // 5 bytes per id: 3 fit in 16 bytes.
        let sizes: Vec<usize> = chunk_ids(&ids, 100, 16, 3)
            .iter()
            .map(|c| c.len())
            .collect();
        assert_eq!(sizes, [3, 3, 3, 3]);
        // An id larger than the budget still travels, alone.
        let long = vec!["x".repeat(50), "y".to_owned()];
        let sizes: Vec<usize> = chunk_ids(&long, 100, 16, 3)
            .iter()
            .map(|c| c.len())
            .collect();
        assert_eq!(sizes, [1, 1]);
        assert!(chunk_ids(&[], 5, 10, 1).is_empty());
        let flat: Vec<&String> = chunk_ids(&ids, 5, 16, 3).into_iter().flatten().collect();
        assert_eq!(flat.len(), 12);
    }

    #[test]
    fn refused_cursors_are_recognised() {
        let api = |status, message: &str| Error::Api {
            endpoint: "GET /x".into(),
            status,
            code: Some(i64::from(status)),
            message: message.into(),
            trace_id: None,
            body: None,
        };
        assert!(cursor_refused(&api(
            404,
            "Search context expired, 'after' key no longer valid"
        )));
        assert!(cursor_refused(&api(400, "invalid offset token")));
        assert!(cursor_refused(&api(200, "scroll expired")));
        assert!(!cursor_refused(&api(500, "expired")));
        assert!(!cursor_refused(&api(400, "bad filter")));
    }

    #[test]
    fn batch_into_found() {
        let b = Batch {
            found: vec![1],
            missing: vec!["x".to_owned()],
            errors: vec![],
        };
        assert!(
            matches!(b.into_found("POST /a"), Err(Error::NotFound { ids, .. }) if ids == ["x"])
        );
        let b: Batch<i32> = Batch {
            found: vec![1],
            missing: vec![],
            errors: vec![],
        };
        assert_eq!(b.into_found("POST /a").unwrap(), [1]);
    }
}
