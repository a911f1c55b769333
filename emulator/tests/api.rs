//! The emulator over real HTTP on 127.0.0.1, driven with reqwest as a client would.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use falcon_emulator::{ApiClient, Emulator, EmulatorConfig, RunningEmulator, Tenant, TenantSpec};
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
    let filter = r"last_name:'O\'Connor'";
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
