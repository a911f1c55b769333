//! The emulator over real HTTP on 127.0.0.1, driven with reqwest as a client would.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use falcon_emulator::{
    ApiClient, Emulator, EmulatorConfig, ErrorBody, Faults, RunningEmulator, Tenant, TenantSpec,
};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const AUTH_FAILED: &str = "Failed to issue access token - Client authentication failed (e.g., \
    unknown client, no client authentication included, or unsupported authentication method)";

/// A running emulator, an HTTP client and one full-access API client.
struct Harness {
    running: RunningEmulator,
    http: reqwest::Client,
    admin: ApiClient,
}

/// One HTTP answer.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn strings(&self) -> Vec<String> {
        let items = self.body["resources"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    fn total(&self) -> u64 {
        self.body["meta"]["pagination"]["total"]
            .as_u64()
            .expect("pagination.total")
    }

    fn error_message(&self) -> &str {
        self.body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
    }
}

async fn start(config: EmulatorConfig) -> Harness {
    let emulator = Emulator::new(Tenant::generate(&TenantSpec::demo()), config);
    let admin = ApiClient::full_access();
    emulator.add_client(admin.clone());
    let running = emulator
        .serve(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    // No proxy: every request must stay on loopback whatever the environment says.
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("http client");
    Harness {
        running,
        http,
        admin,
    }
}

async fn demo() -> Harness {
    start(EmulatorConfig::default()).await
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

impl Harness {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.base_url())
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Reply {
        let request = self.http.post(self.url("/oauth2/token")).form(form);
        reply(request.send().await.expect("token request")).await
    }

    async fn token_for(&self, client: &ApiClient) -> String {
        let form = [
            ("client_id", &*client.client_id),
            ("client_secret", &*client.client_secret),
        ];
        let answer = self.token_request(&form).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    async fn token(&self) -> String {
        self.token_for(&self.admin).await
    }

    async fn get(&self, token: &str, path: &str, query: &[(&str, &str)]) -> Reply {
        let request = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .query(query);
        reply(request.send().await.expect("GET")).await
    }

    async fn post(&self, token: &str, path: &str, body: &Value) -> Reply {
        let request = self.http.post(self.url(path)).bearer_auth(token).json(body);
        reply(request.send().await.expect("POST")).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        reply(request.send().await.expect("request")).await
    }

    async fn user_ids(&self, token: &str, query: &[(&str, &str)]) -> Reply {
        self.get(token, "/user-management/queries/users/v1", query)
            .await
    }

    async fn users(&self, token: &str, ids: &[&str]) -> Reply {
        self.post(
            token,
            "/user-management/entities/users/GET/v1",
            &json!({ "ids": ids }),
        )
        .await
    }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn is_uuid(text: &str) -> bool {
    let lengths: Vec<usize> = text.split('-').map(str::len).collect();
    lengths == [8, 4, 4, 4, 12] && text.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

// ---- shape comparison ---------------------------------------------------------------

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences in keys, nesting and JSON types between a captured response and ours.
/// Keys only we send must be listed in `extra` (paths like `resources[].status`), and
/// only where Falcon's own model has them.
fn shape_diff(expected: &Value, actual: &Value, path: &str, extra: &[&str]) -> Vec<String> {
    if kind(expected) != kind(actual) {
        return vec![format!(
            "{path}: {} expected, got {}",
            kind(expected),
            kind(actual)
        )];
    }
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            let mut diffs = Vec::new();
            for (key, value) in want {
                let child = format!("{path}.{key}");
                match got.get(key) {
                    Some(ours) => diffs.extend(shape_diff(value, ours, &child, extra)),
                    None => diffs.push(format!("{child}: missing")),
                }
            }
            for key in got.keys().filter(|k| !want.contains_key(*k)) {
                let child = format!("{path}.{key}");
                if !extra.contains(&child.trim_start_matches('.')) {
                    diffs.push(format!("{child}: not in the captured response"));
                }
            }
            diffs
        }
        (Value::Array(want), Value::Array(got)) => match (want.first(), got.is_empty()) {
            (Some(_), true) => vec![format!("{path}: empty, cannot compare")],
            (Some(model), false) => got
                .iter()
                .flat_map(|item| shape_diff(model, item, &format!("{path}[]"), extra))
                .collect(),
            (None, _) => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn assert_same_shape(fixture_name: &str, ours: &Value, extra: &[&str]) {
    let diffs = shape_diff(&fixture(fixture_name), ours, "", extra);
    assert!(
        diffs.is_empty(),
        "{fixture_name}:\n{}\nours: {ours:#}",
        diffs.join("\n")
    );
}

#[test]
fn shape_diff_is_strict() {
    let want = json!({"meta": {"query_time": 0.1}, "resources": [{"a": "x"}]});
    let same = json!({"meta": {"query_time": 0.5}, "resources": [{"a": "y"}, {"a": "z"}]});
    assert!(shape_diff(&want, &same, "", &[]).is_empty());
    let wrong = json!({"meta": {"query_time": 1}, "resources": [{"a": 1, "b": 2}]});
    assert_eq!(shape_diff(&want, &wrong, "", &[]).len(), 3);
    assert!(
        shape_diff(
            &want,
            &json!({"meta": {"query_time": 0.1}, "resources": []}),
            "",
            &[]
        )
        .iter()
        .any(|d| d.contains("cannot compare"))
    );
    assert!(
        shape_diff(
            &json!({"a": {"b": 1}}),
            &json!({"a": {"b": 1, "c": 2}}),
            "",
            &["a.c"]
        )
        .is_empty()
    );
}

// ---- OAuth2 -------------------------------------------------------------------------

#[tokio::test]
async fn token_is_201_with_falcon_headers() {
    let h = demo().await;
    let form = [
        ("client_id", &*h.admin.client_id),
        ("client_secret", &*h.admin.client_secret),
    ];
    let answer = h.token_request(&form).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(answer.header("x-cs-region"), "us-1");
    assert!(is_uuid(answer.header("x-cs-traceid")));
    assert!(answer.header("x-ratelimit-limit").parse::<u32>().is_ok());
    assert!(
        answer
            .header("x-ratelimit-remaining")
            .parse::<u32>()
            .is_ok()
    );
    assert_eq!(answer.header("content-type"), "application/json");
    assert_eq!(answer.body["token_type"], "bearer");
    assert_eq!(answer.body["expires_in"], 1799);
    let token = answer.body["access_token"].as_str().expect("token");
    assert!(token.len() >= 32);
    assert_ne!(token, h.token().await, "tokens are not reused");
}

#[tokio::test]
async fn bad_credentials_are_403_from_the_token_service() {
    let h = demo().await;
    let answers = [
        h.token_request(&[
            ("client_id", &h.admin.client_id),
            ("client_secret", "wrong"),
        ])
        .await,
        h.token_request(&[("client_id", "nobody"), ("client_secret", "x")])
            .await,
    ];
    for answer in answers {
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert_eq!(
            answer.body["errors"][0],
            json!({"code": 403, "message": AUTH_FAILED})
        );
        assert_eq!(answer.body["meta"]["powered_by"], "csam");
        assert!(answer.body.get("access_token").is_none());
    }
}

#[tokio::test]
async fn missing_token_fields_are_400() {
    let h = demo().await;
    let answer = h.token_request(&[("client_id", &h.admin.client_id)]).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["errors"][0]["code"], 400);
}

#[tokio::test]
async fn disabled_clients_get_no_token_and_lose_their_tokens() {
    let h = demo().await;
    let token = h.token().await;
    let disabled = ApiClient {
        enabled: false,
        ..h.admin.clone()
    };
    h.running.add_client(disabled);
    let form = [
        ("client_id", &*h.admin.client_id),
        ("client_secret", &*h.admin.client_secret),
    ];
    let answer = h.token_request(&form).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.error_message(), AUTH_FAILED);
    assert_eq!(
        h.user_ids(&token, &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn member_cid_must_be_the_tenants() {
    let h = demo().await;
    let cid = h.running.tenant().cid;
    let with_checksum = format!("{}-1A", cid.to_uppercase());
    let (id, secret) = (&*h.admin.client_id, &*h.admin.client_secret);
    let ok = [
        ("client_id", id),
        ("client_secret", secret),
        ("member_cid", &with_checksum),
    ];
    assert_eq!(h.token_request(&ok).await.status, StatusCode::CREATED);
    let stranger = "0".repeat(32);
    let other = [
        ("client_id", id),
        ("client_secret", secret),
        ("member_cid", stranger.as_str()),
    ];
    assert_eq!(h.token_request(&other).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_bearer_tokens_get_the_gateway_401() {
    let h = demo().await;
    let path = "/user-management/queries/users/v1";
    let answers = [
        h.send(h.http.get(h.url(path))).await,
        h.get("not-a-token", path, &[]).await,
        h.send(h.http.get(h.url(path)).header("authorization", "Basic abc"))
            .await,
    ];
    let expected = fixture("error-401-invalid-bearer-token.json");
    for answer in answers {
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.body["errors"], expected["errors"]);
        assert_eq!(
            answer.body["meta"]["powered_by"],
            expected["meta"]["powered_by"]
        );
        assert!(is_uuid(
            answer.body["meta"]["trace_id"].as_str().unwrap_or_default()
        ));
        assert_same_shape("error-401-invalid-bearer-token.json", &answer.body, &[]);
        // Calls without a valid token draw from the per-address pool.
        assert_eq!(answer.header("x-ratelimit-limit"), "300");
    }
}

#[tokio::test]
async fn missing_scope_gets_the_gateway_403() {
    let h = demo().await;
    let hosts_only = ApiClient::with_scopes(&["devices:read"]);
    h.running.add_client(hosts_only.clone());
    let token = h.token_for(&hosts_only).await;
    let answer = h.user_ids(&token, &[]).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let expected = fixture("error-403-access-denied-authorization-failed.json");
    assert_eq!(answer.body["errors"], expected["errors"]);
    assert_eq!(
        answer.body["meta"]["powered_by"],
        expected["meta"]["powered_by"]
    );
    assert_same_shape(
        "error-403-access-denied-authorization-failed.json",
        &answer.body,
        &[],
    );

    let reader = ApiClient::read_only();
    h.running.add_client(reader.clone());
    let token = h.token_for(&reader).await;
    assert_eq!(h.user_ids(&token, &[]).await.status, StatusCode::OK);
    let create = json!({"uid": "new.person@example.com"});
    let answer = h
        .post(&token, "/user-management/entities/users/v1", &create)
        .await;
    assert_eq!(
        answer.status,
        StatusCode::FORBIDDEN,
        "read-only client wrote"
    );
}

#[tokio::test]
async fn revoked_tokens_stop_working() {
    let h = demo().await;
    let token = h.token().await;
    assert_eq!(h.user_ids(&token, &[]).await.status, StatusCode::OK);

    // falconpy sends the scheme in lowercase.
    let credentials = format!("{}:{}", h.admin.client_id, h.admin.client_secret);
    let basic = format!("basic {}", base64_encode(credentials.as_bytes()));
    let request = h
        .http
        .post(h.url("/oauth2/revoke"))
        .header("authorization", basic);
    let answer = h.send(request.form(&[("token", &token)])).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let keys: Vec<&String> = answer.body.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["meta"]);
    assert_eq!(
        h.user_ids(&token, &[]).await.status,
        StatusCode::UNAUTHORIZED
    );

    let wrong = h
        .http
        .post(h.url("/oauth2/revoke"))
        .basic_auth(&h.admin.client_id, Some("no"));
    let answer = h.send(wrong.form(&[("token", "x")])).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
}

/// Standard base64, written out so the test needs no extra crate.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            let c = if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize]
            } else {
                b'='
            };
            out.push(char::from(c));
        }
    }
    out
}

#[tokio::test]
async fn tokens_expire_after_their_lifetime() {
    let config = EmulatorConfig {
        token_lifetime: Duration::from_secs(1),
        ..Default::default()
    };
    let h = start(config).await;
    let form = [
        ("client_id", &*h.admin.client_id),
        ("client_secret", &*h.admin.client_secret),
    ];
    let answer = h.token_request(&form).await;
    assert_eq!(answer.body["expires_in"], 1);
    let token = answer.body["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(h.user_ids(&token, &[]).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let answer = h.user_ids(&token, &[]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.error_message(),
        "access denied, invalid bearer token"
    );
}

#[tokio::test]
async fn exhausted_budget_is_429_with_retry_time() {
    let config = EmulatorConfig {
        rate_limit_per_minute: 3,
        ..Default::default()
    };
    let h = start(config).await;
    let token = h.token().await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let answer = h.user_ids(&token, &[]).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header("x-ratelimit-limit"), "3");
        remaining.push(answer.header("x-ratelimit-remaining").to_owned());
    }
    assert_eq!(remaining, ["2", "1", "0"]);

    let before = epoch_seconds();
    let answer = h.user_ids(&token, &[]).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        answer.body["errors"][0],
        json!({"code": 429, "message": "API rate limit exceeded."})
    );
    assert_eq!(answer.body["meta"]["powered_by"], "crowdstrike-api-gateway");
    let retry: u64 = answer
        .header("x-ratelimit-retryafter")
        .parse()
        .expect("epoch seconds");
    // One request refills every 20 s at 3 per minute.
    assert!(
        (before + 1..=before + 21).contains(&retry),
        "retry at {retry}, now {before}"
    );
    assert_eq!(answer.header("x-ratelimit-remaining"), "0");
}

// ---- users --------------------------------------------------------------------------

#[tokio::test]
async fn users_page_to_the_exact_total_in_uid_order() {
    let h = demo().await;
    let token = h.token().await;
    let mut seen = Vec::new();
    for offset in ["0", "25", "50", "75"] {
        let answer = h
            .user_ids(&token, &[("limit", "25"), ("offset", offset)])
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.total(), 64);
        assert_eq!(answer.body["meta"]["pagination"]["limit"], 25);
        assert_eq!(
            answer.body["meta"]["pagination"]["offset"],
            offset.parse::<u64>().unwrap_or(0)
        );
        seen.extend(answer.strings());
    }
    assert_eq!(seen.len(), 64);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 64);

    let tenant = h.running.tenant();
    let mut by_uid: Vec<(String, String)> = tenant
        .users
        .iter()
        .map(|u| (u.uid.to_lowercase(), u.uuid.clone()))
        .collect();
    by_uid.sort();
    assert_eq!(
        seen,
        by_uid.into_iter().map(|(_, uuid)| uuid).collect::<Vec<_>>()
    );
    let default_page = h.user_ids(&token, &[]).await;
    assert_eq!(
        (default_page.strings().len(), default_page.total()),
        (64, 64)
    );
}

#[tokio::test]
async fn limit_and_offset_are_validated() {
    let h = demo().await;
    let token = h.token().await;
    let cases = [
        (
            ("limit", "0"),
            "limit in query should be greater than or equal to 1",
        ),
        (
            ("limit", "501"),
            "limit in query should be less than or equal to 500",
        ),
        (
            ("offset", "-1"),
            "offset in query should be greater than or equal to 0",
        ),
        (
            ("limit", "ten"),
            "limit in query must be of type int64: \"ten\"",
        ),
    ];
    for ((name, value), message) in cases {
        let answer = h.user_ids(&token, &[(name, value)]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{name}={value}");
        assert_eq!(
            answer.body["errors"][0],
            json!({"code": 400, "message": message})
        );
        assert_eq!(answer.body["meta"]["powered_by"], "cs.flightcontrolapi");
    }
    assert_eq!(
        h.user_ids(&token, &[("limit", "500")]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn user_filters_cover_quoting_and_non_ascii() {
    let h = demo().await;
    let token = h.token().await;
    let tenant = h.running.tenant();
    let expect = |keep: &dyn Fn(&falcon_emulator::User) -> bool| -> HashSet<String> {
        tenant
            .users
            .iter()
            .filter(|u| keep(u))
            .map(|u| u.uuid.clone())
            .collect()
    };
    let cases: Vec<(&str, HashSet<String>)> = vec![
        (
            r"last_name:'O\'Brien'",
            expect(&|u| u.last_name == "O'Brien"),
        ),
        (
            r#"last_name:"O'Brien""#,
            expect(&|u| u.last_name == "O'Brien"),
        ),
        ("first_name:'ZOË'", expect(&|u| u.first_name == "Zoë")),
        (
            "last_name:'Nguyễn',first_name:'Łukasz'",
            expect(&|u| u.last_name == "Nguyễn" || u.first_name == "Łukasz"),
        ),
        ("status:'inactive'", expect(&|u| u.status == "inactive")),
        (
            "status:'active'+last_name:~'ö'",
            expect(&|u| u.status == "active" && u.last_name.to_lowercase().contains('ö')),
        ),
        ("uid:'*@*.example'", expect(&|_| true)),
        ("name:~'o\\'brien'", expect(&|u| u.last_name == "O'Brien")),
        ("uid:['nobody@example.com']", HashSet::new()),
    ];
    for (filter, expected) in cases {
        let answer = h
            .user_ids(&token, &[("filter", filter), ("limit", "500")])
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{filter}: {}", answer.body);
        let got: HashSet<String> = answer.strings().into_iter().collect();
        assert_eq!(got, expected, "{filter}");
        assert_eq!(answer.total(), expected.len() as u64);
    }
    assert!(tenant.users.iter().any(|u| u.last_name == "O'Brien"));
}

#[tokio::test]
async fn bad_filters_and_sorts_are_400() {
    let h = demo().await;
    let token = h.token().await;
    let cases = [
        (
            ("filter", "status:active"),
            "invalid filter: unquoted value `active`",
        ),
        (("filter", "last_name:'O'Brien'"), "invalid filter: "),
        (
            ("filter", "last_login_at:<'now-90d'"),
            "invalid filter field: last_login_at",
        ),
        (("sort", "uid|sideways"), "invalid sort: "),
        (("sort", "password.asc"), "invalid sort field: password"),
    ];
    for ((name, value), prefix) in cases {
        let answer = h.user_ids(&token, &[(name, value)]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{value}");
        assert!(
            answer.error_message().starts_with(prefix),
            "{value}: {}",
            answer.error_message()
        );
    }
}

#[tokio::test]
async fn both_sort_syntaxes_order_users() {
    let h = demo().await;
    let token = h.token().await;
    let dotted = h
        .user_ids(&token, &[("sort", "last_login_at.desc")])
        .await
        .strings();
    let piped = h
        .user_ids(&token, &[("sort", "last_login_at|desc")])
        .await
        .strings();
    assert_eq!(dotted, piped);
    let tenant = h.running.tenant();
    let logins: Vec<_> = dotted
        .iter()
        .map(|id| {
            tenant
                .users
                .iter()
                .find(|u| &u.uuid == id)
                .and_then(|u| u.last_login_at)
        })
        .collect();
    let known: Vec<_> = logins.iter().flatten().collect();
    assert!(known.windows(2).all(|w| w[0] >= w[1]), "not newest first");
    // Users who never logged in sort last.
    let first_none = logins
        .iter()
        .position(Option::is_none)
        .expect("some never logged in");
    assert!(logins[first_none..].iter().all(Option::is_none));
}

#[tokio::test]
async fn unknown_user_ids_are_reported_per_id() {
    let h = demo().await;
    let token = h.token().await;
    let tenant = h.running.tenant();
    let (a, b) = (&tenant.users[5].uuid, &tenant.users[2].uuid);
    let unknown = "00000000-0000-4000-8000-000000000000";

    let answer = h.users(&token, &[a, unknown, b, a]).await;
    assert_eq!(answer.status, StatusCode::OK);
    let uuids: Vec<&str> = answer.body["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|u| u["uuid"].as_str())
        .collect();
    assert_eq!(uuids, [a.as_str(), b.as_str()]);
    assert_eq!(answer.body["errors"].as_array().map(Vec::len), Some(1));
    assert_eq!(answer.body["errors"][0]["code"], 404);
    assert_eq!(answer.body["errors"][0]["id"], unknown);
    assert_eq!(answer.body["resources"][0]["cid"], tenant.cid);
    assert_eq!(
        answer.body["resources"][0]["first_name"],
        tenant.users[5].first_name
    );

    let none_found = h.users(&token, &[unknown]).await;
    assert_eq!(none_found.status, StatusCode::NOT_FOUND);
    assert_eq!(none_found.body["resources"], json!([]));

    let too_many: Vec<String> = (0..5001).map(|i| format!("id-{i}")).collect();
    let answer = h
        .post(
            &token,
            "/user-management/entities/users/GET/v1",
            &json!({"ids": too_many}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.error_message(),
        "request must contain between 0 and 5000 ids"
    );

    let request = h
        .http
        .post(h.url("/user-management/entities/users/GET/v1"))
        .bearer_auth(&token);
    let answer = h.send(request.body("{not json")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn user_management_responses_have_the_captured_shapes() {
    let h = demo().await;
    let token = h.token().await;
    let answer = h.user_ids(&token, &[]).await;
    assert_same_shape("user-management-queries-users-v1.json", &answer.body, &[]);

    // The capture only has users who logged in; Falcon's `domain.User` also has `status`.
    let tenant = h.running.tenant();
    let logged_in: Vec<&str> = tenant
        .users
        .iter()
        .filter(|u| u.last_login_at.is_some())
        .map(|u| u.uuid.as_str())
        .take(10)
        .collect();
    let answer = h.users(&token, &logged_in).await;
    assert_eq!(answer.body["resources"].as_array().map(Vec::len), Some(10));
    assert_same_shape(
        "user-management-entities-users-get-v1.json",
        &answer.body,
        &["resources[].status"],
    );
    let trace = answer.body["meta"]["trace_id"].as_str().unwrap_or_default();
    assert!(is_uuid(trace));
    assert_eq!(answer.header("x-cs-traceid"), trace);
}

// ---- roles --------------------------------------------------------------------------

#[tokio::test]
async fn roles_query_and_entities() {
    let h = demo().await;
    let token = h.token().await;
    let tenant = h.running.tenant();
    let all: Vec<String> = tenant.roles.iter().map(|r| r.id.clone()).collect();

    let answer = h
        .get(&token, "/user-management/queries/roles/v1", &[])
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.strings(), all);
    assert!(all.iter().any(|id| id == "falcon_administrator"));

    let query = [
        ("ids", "remote_responder_three"),
        ("ids", "falcon_administrator"),
    ];
    let answer = h
        .get(&token, "/user-management/entities/roles/v1", &query)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let admin = &answer.body["resources"][1];
    assert_eq!(
        answer.body["resources"][0]["display_name"],
        "Real Time Responder - Admin"
    );
    assert_eq!(admin["display_name"], "Falcon Administrator");
    assert_eq!(admin["cid"], tenant.cid);
    assert!(admin["is_global"].is_boolean() && admin["description"].is_string());
    assert!(admin["type"].is_string());

    let body = json!({"ids": ["falcon_analyst", "no_such_role"]});
    let answer = h
        .post(&token, "/user-management/entities/roles/GET/v2", &body)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["resources"][0]["id"], "falcon_analyst");
    assert_eq!(answer.body["errors"][0]["id"], "no_such_role");

    let answer = h
        .get(&token, "/user-management/entities/roles/v1", &[])
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error_message(), "ids in query is required");
}

#[tokio::test]
async fn roles_of_a_user() {
    let h = demo().await;
    let token = h.token().await;
    let tenant = h.running.tenant();
    let grant = tenant
        .grants
        .iter()
        .find(|g| g.role_id == "falcon_administrator")
        .expect("admin");
    let held: Vec<String> = tenant
        .grants_of(&grant.user_uuid)
        .map(|g| g.role_id.clone())
        .collect();
    let query = [
        ("user_uuid", grant.user_uuid.as_str()),
        ("cid", tenant.cid.as_str()),
    ];
    let answer = h
        .get(&token, "/user-management/queries/roles/v1", &query)
        .await;
    assert_eq!(answer.strings(), held);
    let answer = h
        .get(
            &token,
            "/user-management/queries/roles/v1",
            &[("action", "fly")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn combined_user_roles_page_and_filter() {
    let h = demo().await;
    let token = h.token().await;
    let tenant = h.running.tenant();
    let path = "/user-management/combined/user-roles/v2";

    let answer = h.get(&token, path, &[]).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error_message(), "user_uuid in query is required");

    let holder = tenant
        .users
        .iter()
        .find(|u| tenant.grants_of(&u.uuid).count() >= 2)
        .expect("a user with two roles");
    let count = tenant.grants_of(&holder.uuid).count() as u64;
    let answer = h.get(&token, path, &[("user_uuid", &holder.uuid)]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.total(), count);
    let grants = answer.body["resources"].as_array().expect("grants").clone();
    let names: Vec<&str> = grants
        .iter()
        .filter_map(|g| g["role_name"].as_str())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted, "default sort is role_name|asc");
    for grant in &grants {
        assert_eq!(grant["uuid"], holder.uuid);
        assert_eq!(grant["cid"], tenant.cid);
        assert_eq!(grant["grant_type"], "direct");
        assert!(grant["role_id"].is_string());
    }

    let page = h
        .get(
            &token,
            path,
            &[("user_uuid", &holder.uuid), ("limit", "1"), ("offset", "1")],
        )
        .await;
    assert_eq!(
        (
            page.total(),
            page.body["resources"].as_array().map(Vec::len)
        ),
        (count, Some(1))
    );
    assert_eq!(page.body["resources"][0], grants[1]);

    let role = grants[0]["role_id"].as_str().expect("role id");
    let filter = format!("role_id:'{role}'");
    let query = [
        ("user_uuid", holder.uuid.as_str()),
        ("filter", filter.as_str()),
    ];
    let answer = h.get(&token, path, &query).await;
    assert_eq!(answer.total(), 1);

    let answer = h
        .get(
            &token,
            path,
            &[("user_uuid", &holder.uuid), ("limit", "501")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = h
        .get(
            &token,
            path,
            &[("user_uuid", &holder.uuid), ("filter", "status:'x'")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

// ---- writes -------------------------------------------------------------------------

#[tokio::test]
async fn users_can_be_created_granted_renamed_revoked_and_deleted() {
    let h = demo().await;
    let token = h.token().await;
    let cid = h.running.tenant().cid;
    let path = "/user-management/entities/users/v1";

    let body = json!({
        "uid": "siobhan.oconnor@example.com",
        "first_name": "Siobhán",
        "last_name": "O'Connor",
    });
    // Queried before and after each change: a query's results are reused
    // between pages, never across a change.
    let filter = r"last_name:'O\'Connor'";
    assert!(
        h.user_ids(&token, &[("filter", filter)])
            .await
            .strings()
            .is_empty()
    );
    let answer = h.post(&token, path, &body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let uuid = answer.body["resources"][0]["uuid"]
        .as_str()
        .expect("uuid")
        .to_owned();
    assert!(is_uuid(&uuid));
    assert_eq!(
        h.post(&token, path, &body).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        h.user_ids(&token, &[("filter", filter)]).await.strings(),
        std::slice::from_ref(&uuid)
    );

    let action =
        json!({"uuid": uuid, "cid": cid, "action": "grant", "role_ids": ["falcon_analyst"]});
    let answer = h
        .post(
            &token,
            "/user-management/entities/user-role-actions/v1",
            &action,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let roles = h
        .get(
            &token,
            "/user-management/queries/roles/v1",
            &[("user_uuid", &uuid)],
        )
        .await;
    assert_eq!(roles.strings(), ["falcon_analyst"]);

    let rename = json!({"first_name": "Siobhan", "last_name": "O'Connor"});
    let request = h
        .http
        .patch(h.url(path))
        .bearer_auth(&token)
        .query(&[("user_uuid", &uuid)]);
    let answer = h.send(request.json(&rename)).await;
    assert_eq!(answer.body["resources"][0]["first_name"], "Siobhan");

    let revoke =
        json!({"uuid": uuid, "cid": cid, "action": "revoke", "role_ids": ["falcon_analyst"]});
    h.post(
        &token,
        "/user-management/entities/user-role-actions/v1",
        &revoke,
    )
    .await;
    let roles = h
        .get(
            &token,
            "/user-management/queries/roles/v1",
            &[("user_uuid", &uuid)],
        )
        .await;
    assert!(roles.strings().is_empty());

    let request = h
        .http
        .delete(h.url(path))
        .bearer_auth(&token)
        .query(&[("user_uuid", &uuid)]);
    assert_eq!(h.send(request).await.status, StatusCode::OK);
    assert_eq!(
        h.users(&token, &[&uuid]).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(h.running.tenant().user(&uuid).is_none());
    assert!(
        h.user_ids(&token, &[("filter", filter)])
            .await
            .strings()
            .is_empty()
    );
}

// ---- gateway ------------------------------------------------------------------------

#[tokio::test]
async fn unknown_paths_and_methods_get_envelopes() {
    let h = demo().await;
    let token = h.token().await;
    let answer = h.get(&token, "/no/such/path/v1", &[]).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.body["errors"][0]["code"], 404);
    assert!(is_uuid(answer.header("x-cs-traceid")));

    let request = h
        .http
        .delete(h.url("/user-management/queries/users/v1"))
        .bearer_auth(&token);
    let answer = h.send(request).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.body["errors"][0]["code"], 405);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let h = demo().await;
    let token = h.token().await;
    let huge = json!({"ids": vec!["x".repeat(1000); 1100]});
    let answer = h
        .post(&token, "/user-management/entities/users/GET/v1", &huge)
        .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.error_message(), "request too large");
}

#[tokio::test]
async fn request_count_includes_every_request() {
    let h = demo().await;
    assert_eq!(h.running.request_count(), 0);
    let token = h.token().await;
    h.user_ids(&token, &[]).await;
    h.get("bad", "/user-management/queries/users/v1", &[]).await;
    h.get(&token, "/nowhere", &[]).await;
    assert_eq!(h.running.request_count(), 4);
}

#[tokio::test]
async fn shutdown_stops_listening() {
    let h = demo().await;
    let url = h.url("/oauth2/token");
    h.running.shutdown().await;
    assert!(h.http.post(url).send().await.is_err());
}

// ---- captured shapes of the other areas ---------------------------------------------

/// RTR results are maps keyed by AID: keep one entry, under the capture's AID, so the
/// shapes compare.
fn rekey(mut body: Value, pointer: &str, aid: &str) -> Value {
    if let Some(map) = body.pointer_mut(pointer).and_then(Value::as_object_mut) {
        let first = map.values().next().cloned().unwrap_or(Value::Null);
        map.clear();
        map.insert(aid.to_owned(), first);
    }
    body
}

/// Every fixture key path below `prefix` that ours has beyond the capture, for the
/// models whose captures are partial (the alert mock has no `meta`, the device mock
/// no `query_time`).
fn meta_extras() -> Vec<&'static str> {
    vec!["meta.query_time", "meta.powered_by", "meta.trace_id"]
}

#[tokio::test]
async fn hosts_and_alerts_have_the_captured_shapes() {
    let h = demo().await;
    let token = h.token().await;

    // Only tagged hosts: the capture's `tags` list is not empty.
    let query = [("limit", "3"), ("filter", "tags:'FalconGroupingTags/*'")];
    let combined = h.get(&token, "/devices/combined/devices/v1", &query).await;
    assert_eq!(combined.status, StatusCode::OK);
    let mut extra = meta_extras();
    extra.extend([
        "resources[].last_login_user",
        "resources[].host_hidden_status",
    ]);
    let diffs = shape_diff(
        &fixture("devices-combined-devices-v1.json"),
        &combined.body,
        "",
        &extra,
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));

    let ids = h
        .get(&token, "/alerts/queries/alerts/v2", &[("limit", "2")])
        .await;
    assert_same_shape("alerts-queries-alerts-v2.json", &ids.body, &[]);
    let composite: Vec<String> = ids.strings();
    let alerts = h
        .post(
            &token,
            "/alerts/entities/alerts/v2",
            &json!({ "composite_ids": composite }),
        )
        .await;
    assert_eq!(alerts.status, StatusCode::OK);
    let diffs = shape_diff(
        &fixture("alerts-entities-alerts-v2.json"),
        &alerts.body,
        "",
        &[],
    );
    let unexpected: Vec<&String> = diffs
        .iter()
        .filter(|d| !d.starts_with(".meta:") && !d.contains("not in the captured response"))
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
}

#[tokio::test]
async fn online_state_and_rtr_have_the_captured_shapes() {
    let h = demo().await;
    let token = h.token().await;
    let tenant = h.running.tenant();
    let by_state = |state: &str| -> Vec<String> {
        tenant
            .hosts
            .iter()
            .filter(|x| x.online_state == state)
            .map(|x| x.device_id.clone())
            .take(2)
            .collect()
    };
    let (online, offline) = (by_state("online"), by_state("offline"));

    let query: Vec<(&str, &str)> = online.iter().map(|id| ("ids", id.as_str())).collect();
    let states = h
        .get(&token, "/devices/entities/online-state/v1", &query)
        .await;
    assert_same_shape("devices-entities-online-state-v1.json", &states.body, &[]);

    let batch = h
        .post(
            &token,
            "/real-time-response/combined/batch-init-session/v1",
            &json!({ "host_ids": online }),
        )
        .await;
    assert_eq!(batch.status, StatusCode::CREATED, "{}", batch.body);
    let command = json!({
        "batch_id": batch.body["batch_id"], "base_command": "ls", "command_string": "ls C:\\"
    });
    let ran = h
        .post(
            &token,
            "/real-time-response/combined/batch-command/v1",
            &command,
        )
        .await;
    assert_eq!(ran.status, StatusCode::CREATED);
    let ran = rekey(
        ran.body,
        "/combined/resources",
        "284771ee197e422d5176d6634a62b934",
    );
    assert_same_shape("rtr-combined-batch-command-v1.json", &ran, &[]);

    let failed = h
        .post(
            &token,
            "/real-time-response/combined/batch-init-session/v1",
            &json!({ "host_ids": offline }),
        )
        .await;
    assert_eq!(failed.status, StatusCode::NOT_FOUND);
    let failed = rekey(
        failed.body,
        "/resources",
        "284771ee197e422d5176d6634a62b934",
    );
    assert_same_shape(
        "rtr-combined-batch-command-v1-sensor-offline-404.json",
        &failed,
        &[],
    );
}

// ---- limits -------------------------------------------------------------------------

#[tokio::test]
async fn id_caps_per_endpoint() {
    let h = demo().await;
    let token = h.token().await;
    let ids: Vec<String> = (0..101).map(|i| format!("{i:032x}")).collect();
    let query: Vec<(&str, &str)> = ids.iter().map(|id| ("ids", id.as_str())).collect();
    let answer = h.get(&token, "/devices/entities/devices/v2", &query).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.error_message(),
        "request must contain between 1 and 100 ids"
    );

    // The POST variant takes 5000; unknown ids come back as per-id 404s.
    let answer = h
        .post(
            &token,
            "/devices/entities/devices/v2",
            &json!({ "ids": ids }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.body["errors"].as_array().map(Vec::len), Some(101));

    let hide = "/devices/entities/devices-actions/v2?action_name=hide_host";
    let answer = h.post(&token, hide, &json!({ "ids": ids })).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);

    let alerts: Vec<String> = (0..1001).map(|i| format!("a{i}")).collect();
    let body = json!({ "composite_ids": alerts });
    let answer = h.post(&token, "/alerts/entities/alerts/v2", &body).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.error_message(), "request too large");
}

#[tokio::test]
async fn ten_thousand_details_in_one_request() {
    let spec = TenantSpec {
        hosts: 10_000,
        alerts: 0,
        ..TenantSpec::demo()
    };
    let emulator = Emulator::new(Tenant::generate(&spec), EmulatorConfig::default());
    let tenant = emulator.tenant();
    let admin = ApiClient::full_access();
    emulator.add_client(admin.clone());
    let running = emulator
        .serve(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let h = Harness {
        running,
        http,
        admin,
    };
    let token = h.token().await;
    // Two POST calls of 5000, the documented cap, cover 10,000 hosts.
    for chunk in tenant.hosts.chunks(5000) {
        let ids: Vec<&str> = chunk.iter().map(|x| x.device_id.as_str()).collect();
        let answer = h
            .post(
                &token,
                "/devices/entities/devices/v2",
                &json!({ "ids": ids }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(
            answer.body["resources"].as_array().map(Vec::len),
            Some(5000)
        );
    }
}

#[tokio::test]
async fn offset_window_stops_at_ten_thousand() {
    let h = demo().await;
    let token = h.token().await;
    for path in [
        "/devices/queries/devices/v1",
        "/alerts/queries/alerts/v2",
        "/iocs/queries/indicators/v1",
    ] {
        let answer = h
            .get(&token, path, &[("offset", "9950"), ("limit", "100")])
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(
            answer
                .error_message()
                .contains("less than or equal to 10000"),
            "{path}"
        );
    }
    let answer = h
        .get(
            &token,
            "/devices/queries/devices/v1",
            &[("offset", "9900"), ("limit", "100")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn cursors_are_bound_to_their_filter_and_expire() {
    let h = demo().await;
    let token = h.token().await;
    let filter = ("filter", "platform_name:'Windows'");
    let first = h
        .get(
            &token,
            "/devices/queries/devices-scroll/v1",
            &[("limit", "5"), filter],
        )
        .await;
    let offset = first.body["meta"]["pagination"]["offset"]
        .as_str()
        .expect("token")
        .to_owned();
    let next = [("limit", "5"), filter, ("offset", offset.as_str())];
    assert_eq!(
        h.get(&token, "/devices/queries/devices-scroll/v1", &next)
            .await
            .status,
        StatusCode::OK
    );

    let other = [
        ("limit", "5"),
        ("filter", "platform_name:'Mac'"),
        ("offset", offset.as_str()),
    ];
    let answer = h
        .get(&token, "/devices/queries/devices-scroll/v1", &other)
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);

    h.running.set_cursor_lifetime(Duration::from_millis(50));
    let body = json!({"limit": 10});
    let page = h.post(&token, "/alerts/combined/alerts/v1", &body).await;
    let after = page.body["meta"]["pagination"]["after"]
        .as_str()
        .expect("after")
        .to_owned();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = h
        .post(
            &token,
            "/alerts/combined/alerts/v1",
            &json!({"limit": 10, "after": after}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(
        answer.error_message(),
        "Search context expired, 'after' key no longer valid"
    );
}

#[tokio::test]
async fn long_urls_are_414() {
    let h = demo().await;
    let token = h.token().await;
    let ids = vec![("ids", "0123456789abcdef0123456789abcdef"); 600];
    let answer = h.get(&token, "/devices/entities/devices/v2", &ids).await;
    assert_eq!(answer.status, StatusCode::URI_TOO_LONG);
}

#[tokio::test]
async fn containment_is_pending_then_contained() {
    let h = demo().await;
    h.running.set_containment_delay(Duration::from_millis(200));
    let token = h.token().await;
    let aid = h.running.tenant().hosts[0].device_id.clone();
    let path = "/devices/entities/devices-actions/v2?action_name=contain";
    let answer = h.post(&token, path, &json!({ "ids": [aid] })).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert_eq!(answer.body["resources"][0]["id"], aid.as_str());
    let status = |r: &Reply| {
        r.body["resources"][0]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let details = h
        .get(&token, "/devices/entities/devices/v2", &[("ids", &aid)])
        .await;
    assert_eq!(status(&details), "containment_pending");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let details = h
        .get(&token, "/devices/entities/devices/v2", &[("ids", &aid)])
        .await;
    assert_eq!(status(&details), "contained");
}

#[tokio::test]
async fn detects_api_is_gone() {
    let h = demo().await;
    let token = h.token().await;
    let answer = h.get(&token, "/detects/queries/detects/v1", &[]).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn filters_that_do_not_parse_are_400() {
    let h = demo().await;
    let token = h.token().await;
    for filter in [
        "hostname:'x",
        "hostname:",
        "(platform_name:'Mac'",
        "nosuchfield:'x'",
    ] {
        let answer = h
            .get(&token, "/devices/queries/devices/v1", &[("filter", filter)])
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{filter}");
    }
    let answer = h
        .get(
            &token,
            "/alerts/queries/alerts/v2",
            &[("filter", "created_timestamp:>'now-7d'+severity:>=60")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
}

// ---- fault switches -----------------------------------------------------------------

#[tokio::test]
async fn latency_is_added() {
    let h = demo().await;
    let token = h.token().await;
    h.running.set_faults(Faults {
        latency: Duration::from_millis(300),
        ..Faults::default()
    });
    let started = std::time::Instant::now();
    assert_eq!(h.user_ids(&token, &[]).await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn server_error_share_fails_requests() {
    let h = demo().await;
    let token = h.token().await;
    h.running.set_faults(Faults {
        server_error_percent: 100,
        ..Faults::default()
    });
    for _ in 0..5 {
        let answer = h.user_ids(&token, &[]).await;
        assert!(answer.status.is_server_error(), "{}", answer.status);
        assert_eq!(answer.body["errors"][0]["code"], answer.status.as_u16());
    }
    h.running.set_faults(Faults::default());
    assert_eq!(h.user_ids(&token, &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn rate_limit_storm_is_429_everywhere() {
    let h = demo().await;
    let token = h.token().await;
    h.running.set_faults(Faults {
        rate_limit_storm: true,
        ..Faults::default()
    });
    let answer = h.user_ids(&token, &[]).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.header("x-ratelimit-remaining"), "0");
    let retry: u64 = answer
        .header("x-ratelimit-retryafter")
        .parse()
        .expect("epoch seconds");
    assert!(retry >= epoch_seconds());
    let token_answer = h
        .token_request(&[("client_id", "x"), ("client_secret", "y")])
        .await;
    assert_eq!(token_answer.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn error_bodies_can_be_html_text_or_empty() {
    let h = demo().await;
    let token = h.token().await;
    for (kind, content_type, marker) in [
        (ErrorBody::Html, "text/html", "<html>"),
        (ErrorBody::Text, "text/plain", "404 Not Found"),
        (ErrorBody::Empty, "text/plain", ""),
    ] {
        h.running.set_faults(Faults {
            error_body: kind,
            ..Faults::default()
        });
        let response = h
            .http
            .get(h.url("/no/such/path"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let header = response.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(header, content_type);
        let text = response.text().await.expect("body");
        assert!(
            text.contains(marker) && (marker.is_empty() == text.is_empty()),
            "{text}"
        );
    }
    // Successes keep their JSON.
    assert_eq!(h.user_ids(&token, &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn empty_lists_can_be_null() {
    let h = demo().await;
    let token = h.token().await;
    h.running.set_faults(Faults {
        null_lists: true,
        ..Faults::default()
    });
    let query = [("filter", "hostname:'no such host'")];
    let answer = h.get(&token, "/devices/queries/devices/v1", &query).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body["resources"].is_null() && answer.body["errors"].is_null());
    assert_eq!(answer.total(), 0);
}

#[tokio::test]
async fn token_lifetime_can_change_at_runtime() {
    let h = demo().await;
    h.running.set_token_lifetime(Duration::from_secs(1));
    let form = [
        ("client_id", &*h.admin.client_id),
        ("client_secret", &*h.admin.client_secret),
    ];
    let answer = h.token_request(&form).await;
    assert_eq!(answer.body["expires_in"], 1);
    let token = answer.body["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let answer = h.user_ids(&token, &[]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn member_cid_selects_a_child_tenant() {
    let h = demo().await;
    let tenant = h.running.tenant();
    assert_eq!(tenant.children.len(), 2);
    let child = &tenant.children[0];
    let (id, secret) = (&*h.admin.client_id, &*h.admin.client_secret);
    let form = [
        ("client_id", id),
        ("client_secret", secret),
        ("member_cid", child.cid.as_str()),
    ];
    let answer = h.token_request(&form).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    let child_token = answer.body["access_token"]
        .as_str()
        .expect("token")
        .to_owned();

    let hosts = h
        .get(
            &child_token,
            "/devices/queries/devices/v1",
            &[("limit", "5000")],
        )
        .await;
    assert_eq!(hosts.total(), child.hosts.len() as u64);
    let first = &child.hosts[0].device_id;
    let details = h
        .get(
            &child_token,
            "/devices/entities/devices/v2",
            &[("ids", first)],
        )
        .await;
    assert_eq!(details.body["resources"][0]["cid"], child.cid.as_str());

    // The parent's token does not see the child's hosts.
    let parent = h.token().await;
    let answer = h
        .get(&parent, "/devices/entities/devices/v2", &[("ids", first)])
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rtr_commands_that_outlast_the_timeout_are_incomplete() {
    let config = EmulatorConfig {
        rtr_command_delay: Duration::from_secs(5),
        ..EmulatorConfig::default()
    };
    let h = start(config).await;
    let token = h.token().await;
    let online: Vec<String> = h
        .running
        .tenant()
        .hosts
        .iter()
        .filter(|x| x.online_state == "online")
        .map(|x| x.device_id.clone())
        .take(2)
        .collect();
    let init = "/real-time-response/combined/batch-init-session/v1";
    let batch = h.post(&token, init, &json!({ "host_ids": online })).await;
    let command =
        json!({"batch_id": batch.body["batch_id"], "base_command": "ps", "command_string": "ps"});
    let path = "/real-time-response/combined/batch-command/v1?timeout=1";
    let ran = h.post(&token, path, &command).await;
    assert_eq!(ran.status, StatusCode::CREATED);
    for result in ran.body["combined"]["resources"]
        .as_object()
        .expect("per host")
        .values()
    {
        assert_eq!(result["complete"], false);
        assert_eq!(result["errors"][0]["message"], "command timed out");
    }
    let too_long = "/real-time-response/combined/batch-command/v1?timeout=601";
    assert_eq!(
        h.post(&token, too_long, &command).await.status,
        StatusCode::BAD_REQUEST
    );
}

/// Request costs on a 100,000-host tenant. Run with
/// `cargo test --release -p falcon-emulator --test api -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "slow in debug builds; run in release"]
async fn large_tenant_requests_stay_cheap() {
    let spec = TenantSpec {
        users: 10_000,
        hosts: 100_000,
        alerts: 50_000,
        incidents: 5_000,
        iocs: 2_000,
        ..TenantSpec::demo()
    };
    let tenant = Tenant::generate(&spec);
    let ids: Vec<String> = tenant
        .hosts
        .iter()
        .take(5000)
        .map(|x| x.device_id.clone())
        .collect();
    let emulator = Emulator::new(tenant, EmulatorConfig::default());
    let admin = ApiClient::full_access();
    emulator.add_client(admin.clone());
    let running = emulator
        .serve(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let h = Harness {
        running,
        http,
        admin,
    };
    let token = h.token().await;
    let timed = |label: &'static str, started: std::time::Instant| {
        eprintln!("{label}: {:?}", started.elapsed());
    };

    let started = std::time::Instant::now();
    let page = h
        .get(&token, "/devices/queries/devices/v1", &[("limit", "5000")])
        .await;
    timed("query 5000 ids, no filter", started);
    assert_eq!(page.status, StatusCode::OK);
    let started = std::time::Instant::now();
    let details = h
        .post(
            &token,
            "/devices/entities/devices/v2",
            &json!({ "ids": ids }),
        )
        .await;
    timed("details of 5000 hosts", started);
    eprintln!(
        "  of which in the handler: {} s",
        details.body["meta"]["query_time"]
    );
    assert_eq!(
        details.body["resources"].as_array().map(Vec::len),
        Some(5000)
    );
    let started = std::time::Instant::now();
    let query = [(
        "filter",
        "platform_name:'Linux'+reduced_functionality_mode:'yes'",
    )];
    let filtered = h.get(&token, "/devices/queries/devices/v1", &query).await;
    timed("filtered host query over 100,000", started);
    assert_eq!(filtered.status, StatusCode::OK);
    let started = std::time::Instant::now();
    let alerts = h
        .get(&token, "/alerts/queries/alerts/v2", &[("limit", "100")])
        .await;
    timed("alert ids, default sort over 50,000", started);
    assert_eq!(alerts.status, StatusCode::OK);
}

#[tokio::test]
async fn ioc_after_tokens_page_to_the_end() {
    let h = demo().await;
    let token = h.token().await;
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let mut query = vec![("limit", "15")];
        if !after.is_empty() {
            query.push(("after", after.as_str()));
        }
        let page = h.get(&token, "/iocs/queries/indicators/v1", &query).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen.extend(page.strings());
        after = page.body["meta"]["pagination"]["after"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if after.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 40);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 40);
}

#[tokio::test]
async fn new_areas_check_their_scopes() {
    let h = demo().await;
    let reader = ApiClient::read_only();
    h.running.add_client(reader.clone());
    let token = h.token_for(&reader).await;
    let aid = h.running.tenant().hosts[0].device_id.clone();
    let contain = "/devices/entities/devices-actions/v2?action_name=contain";
    let denied = h.post(&token, contain, &json!({ "ids": [aid] })).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(
        denied.error_message(),
        "access denied, authorization failed"
    );
    let command = json!({"base_command": "rm", "command_string": "rm x", "session_id": "s"});
    let path = "/real-time-response/entities/active-responder-command/v1";
    assert_eq!(
        h.post(&token, path, &command).await.status,
        StatusCode::FORBIDDEN
    );
    let reads = [
        "/devices/queries/devices/v1",
        "/policy/queries/prevention/v1",
        "/iocs/queries/indicators/v1",
    ];
    for path in reads {
        assert_eq!(
            h.get(&token, path, &[]).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
}
