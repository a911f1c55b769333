//! `api.call`: any Falcon route the route table knows, by method and path.

use super::{HostResult, MAX_FILTER_BYTES, to_plugin_error};
use crate::bindings::PluginError;
use crate::bindings::falcon::plugin::api;
use crate::gate::Operation;
use crate::sandbox::RunState;

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
        let body = match body.map(|text| serde_json::from_str::<serde_json::Value>(&text)) {
            None => None,
            Some(Ok(value)) => Some(value),
            Some(Err(e)) => {
                return Ok(Err(PluginError::InvalidInput(format!(
                    "the body is not JSON: {e}"
                ))));
            }
        };
        let size: usize = query.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > MAX_FILTER_BYTES {
            return Ok(Err(PluginError::InvalidInput(format!(
                "the query is {size} bytes; the host accepts at most {MAX_FILTER_BYTES}"
            ))));
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
    fn audit_route_refusal(&self, method: &str, path: &str, reason: &str) -> wasmtime::Result<()> {
        let Some(audit) = &self.audit else {
            return Ok(());
        };
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
