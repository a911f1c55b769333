//! `api.call`: any Falcon route the route table knows, by method and path.

use super::{HostResult, MAX_FILTER_BYTES, to_plugin_error};
use crate::bindings::PluginError;
use crate::bindings::falcon::plugin::api;
use crate::gate::Operation;
use crate::sandbox::RunState;

/// The largest JSON body `api.call` sends. Falcon's bodies are id lists and
/// small objects; 5,000 ids take about 200 KiB.
const MAX_BODY_BYTES: usize = 1 << 20;

impl api::Host for RunState {
    async fn call(
        &mut self,
        method: String,
        path: String,
        query: Vec<(String, String)>,
        body: Option<String>,
    ) -> HostResult<api::Response> {
        let (index, route) = match crate::routes::resolve(&method, &path) {
            Ok(found) => found,
            Err(reason) => {
                // Not a route: nothing to grant, so nothing reaches the gate,
                // but the attempt is audited like any refusal.
                let shown: String = path.chars().take(120).collect();
                self.audit_route_refusal(&method, &shown, &reason)?;
                return Ok(Err(PluginError::InvalidInput(reason)));
            }
        };
        if let Some(instead) = route.instead {
            let reason = format!(
                "`{} {}` is destructive and is not offered through `api.call`; use {instead}, \
                 which has an approval gate",
                route.endpoint.method.as_str(),
                route.endpoint.path
            );
            self.audit_route_refusal(&method, &path, &reason)?;
            return Ok(Err(PluginError::InvalidInput(reason)));
        }
        // Bounded before parsing: a JSON value takes many times its text's
        // size in host memory.
        if let Some(size) = body
            .as_ref()
            .map(String::len)
            .filter(|&n| n > MAX_BODY_BYTES)
        {
            let reason =
                format!("the body is {size} bytes; the host accepts at most {MAX_BODY_BYTES}");
            return self.refuse_call(&method, &path, reason);
        }
        let body = match body.map(|text| serde_json::from_str::<serde_json::Value>(&text)) {
            None => None,
            Some(Ok(value)) => Some(value),
            Some(Err(e)) => {
                return self.refuse_call(&method, &path, format!("the body is not JSON: {e}"));
            }
        };
        // Each pair also costs its `=` and `&`, so a million empty pairs count.
        let size: usize = query.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        if size > MAX_FILTER_BYTES {
            let reason = format!(
                "the query is {size} bytes ({} parameters); the host accepts at most \
                 {MAX_FILTER_BYTES}",
                query.len()
            );
            return self.refuse_call(&method, &path, reason);
        }
        self.call(Operation::Call(index), &[], None, |client| async move {
            let mut request = falcon::ApiRequest::new(route.endpoint);
            for (key, value) in query {
                request = request.query(key, value);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = client.execute(request).await.map_err(to_plugin_error)?;
            Ok(api::Response {
                status: response.status,
                body: envelope_json(&response.envelope),
            })
        })
        .await
    }
}

impl RunState {
    /// Refuses an `api.call` the host cannot send, and audits the attempt.
    fn refuse_call(&self, method: &str, path: &str, reason: String) -> HostResult<api::Response> {
        let shown: String = path.chars().take(120).collect();
        self.audit_route_refusal(method, &shown, &reason)?;
        Ok(Err(PluginError::InvalidInput(reason)))
    }

    fn audit_route_refusal(&self, method: &str, path: &str, reason: &str) -> wasmtime::Result<()> {
        let Some(audit) = &self.audit else {
            return Ok(());
        };
        // The plugin chose these strings: bounded, so that it cannot bloat
        // the log (a method of megabytes is refused like any other).
        let method: String = method.chars().take(16).collect();
        let reason: String = reason.chars().take(400).collect();
        let fields = serde_json::json!({
            "operation": format!("api.call {method} {path}"),
            "decision": "refused",
            "status": "invalid-input",
            "reason": reason,
        });
        audit.record("call", fields).map_err(|e| {
            wasmtime::format_err!("stopped the plugin because the audit log failed: {e:#}")
        })
    }
}

/// The envelope as Falcon sent it: `meta`, `resources`, `errors`, and any
/// other top-level field.
fn envelope_json(envelope: &falcon::Envelope) -> String {
    let mut object = serde_json::Map::new();
    object.insert("meta".into(), envelope.meta.raw.clone());
    object.insert("resources".into(), envelope.resources.clone());
    let errors: Vec<serde_json::Value> = envelope.errors.iter().map(|e| e.raw.clone()).collect();
    object.insert("errors".into(), serde_json::Value::Array(errors));
    if let serde_json::Value::Object(extra) = &envelope.extra {
        for (key, value) in extra {
            object.insert(key.clone(), value.clone());
        }
    }
    serde_json::Value::Object(object).to_string()
}
