//! What a hostile caller found on the HTTP side, kept fixed: one test per
//! finding, each failing on the build before its fix. Requests go through the
//! real router in process (no sockets), each with a client address of its
//! own where the failed-auth slow-down would otherwise get in the way.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/inproc.rs"]
mod inproc;

use std::time::{Duration, Instant};

use axum::http::header;
use inproc::{fixture, send, Req};
use serde_json::json;

/// every unknown action name became a Prometheus label (a NUL
/// byte, an 8 KB name), so `/metrics` grew without bound.
#[tokio::test]
async fn hostile_action_names_do_not_grow_metrics() {
    let f = fixture(leash_server::Options::default()).await;
    let call = json!({"key": "1", "set": {"status": "open"}}).to_string();
    // Warm up: the metric families exist before measuring.
    send(&f.app, Req::post("/api/v1/actions/set_status", &call).bearer(&f.agent)).await;
    send(&f.app, Req::post("/api/v1/actions/nope", &call).bearer(&f.agent)).await;
    let before = send(&f.app, Req::get("/metrics")).await.body.len();
    for i in 0..60 {
        let name = format!("{}{i}", "x".repeat(8_000));
        send(&f.app, Req::post(&format!("/api/v1/actions/{name}"), &call).bearer(&f.agent)).await;
        send(&f.app, Req::post(&format!("/api/v1/actions/nul%00{i}"), &call).bearer(&f.agent)).await;
    }
    let metrics = send(&f.app, Req::get("/metrics")).await.body;
    assert!(metrics.len() < before + 8_000, "grew from {before} to {} bytes", metrics.len());
    assert!(!metrics.contains("xxxxxxxx") && !metrics.contains("nul"), "no hostile label");
    assert!(metrics.contains(&format!("action=\"{}\"", leash_server::UNKNOWN_ACTION_LABEL)), "counted as unknown");
    assert!(metrics.contains("action=\"set_status\""), "policy actions keep their label");
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"probe","version":"1"}}}"#;

fn mcp(body: &str) -> Req {
    Req::post("/mcp", body).header("accept", "application/json, text/event-stream")
}

/// `initialize` without a token created a session (~60 KB each).
#[tokio::test]
async fn mcp_initialize_without_a_token_creates_no_session() {
    let f = fixture(leash_server::Options::default()).await;
    for i in 0..20 {
        let r = send(&f.app, mcp(INIT).from(i)).await;
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(r.headers.get("mcp-session-id").is_none());
        let r = send(&f.app, mcp(INIT).bearer("leash_00").from(100 + i)).await;
        assert_eq!(r.status, 401);
    }
    assert_eq!(f.state_sessions(), 0);
    let r = send(&f.app, mcp(INIT).bearer(&f.agent)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.headers.get("mcp-session-id").is_some());
}

/// live sessions are capped per token and end when idle; a
/// session answers only the token that opened it.
#[tokio::test]
async fn mcp_sessions_are_capped_per_token_owned_and_end_when_idle() {
    let options = leash_server::Options {
        mcp_sessions_per_token: 3,
        mcp_session_idle: Duration::from_millis(800),
        ..leash_server::Options::default()
    };
    let f = fixture(options).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = send(&f.app, mcp(INIT).bearer(&f.agent)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        ids.push(r.headers["mcp-session-id"].to_str().unwrap().to_string());
    }
    let r = send(&f.app, mcp(INIT).bearer(&f.agent)).await;
    assert_eq!((r.status, r.code()), (429, "too_many_requests".into()), "{}", r.body);
    assert_eq!(send(&f.app, mcp(INIT).bearer(&f.reviewer)).await.status, 200, "another token has its own cap");

    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    let other = send(&f.app, mcp(list).bearer(&f.reviewer).header("mcp-session-id", &ids[0])).await;
    assert_eq!(other.status, 404, "another token cannot use the session");

    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let r = send(&f.app, mcp(list).bearer(&f.agent).header("mcp-session-id", &ids[0])).await;
    assert_eq!(r.status, 404, "an idle session ended: {}", r.body);
    let r = send(&f.app, mcp(INIT).bearer(&f.agent)).await;
    assert_eq!(r.status, 200, "idle sessions no longer count: {}", r.body);

    let few = leash_server::Options { mcp_sessions_max: 2, ..leash_server::Options::default() };
    let g = fixture(few).await;
    assert_eq!(send(&g.app, mcp(INIT).bearer(&g.agent)).await.status, 200);
    assert_eq!(send(&g.app, mcp(INIT).bearer(&g.reviewer)).await.status, 200);
    let r = send(&g.app, mcp(INIT).bearer(&g.admin)).await;
    assert_eq!((r.status, r.code()), (429, "too_many_requests".into()), "the server-wide cap: {}", r.body);
}

/// only `/mcp` checked the Host, so a DNS-rebinding page could
/// read `/openapi.json`, `/metrics`, the UI and the API.
#[tokio::test]
async fn a_rebinding_host_or_origin_is_refused_on_every_route() {
    let f = fixture(leash_server::Options::default()).await;
    for path in ["/openapi.json", "/metrics", "/healthz", "/login", "/queue", "/api/v1/actions", "/api/v1/changes"] {
        let r = send(&f.app, Req::get(path).host("evil.example:7777").bearer(&f.admin)).await;
        assert_eq!((r.status, r.code()), (403, "forbidden_host".into()), "{path}");
        let r = send(&f.app, Req::get(path).header("origin", "http://evil.example").bearer(&f.admin)).await;
        assert_eq!(r.status, 403, "{path} with a foreign Origin");
        let r = send(&f.app, Req::get(path).bearer(&f.admin)).await;
        assert_ne!(r.status, 403, "{path} on loopback: {}", r.body);
    }
    let r = send(&f.app, mcp(INIT).host("evil.example").bearer(&f.agent)).await;
    assert_eq!(r.status, 403);
    let open = leash_server::Options { loopback_only: false, ..leash_server::Options::default() };
    let g = fixture(open).await;
    let r = send(&g.app, Req::get("/openapi.json").host("leash.example.com")).await;
    assert_eq!(r.status, 200, "a server bound beyond loopback serves its own name");
}

/// pages could be framed and sniffed, and were cacheable.
#[tokio::test]
async fn pages_cannot_be_framed_sniffed_or_cached() {
    let f = fixture(leash_server::Options::default()).await;
    let session = f.sign_in(&f.admin).await;
    for path in ["/login", "/queue", "/log", "/actions"] {
        let r = send(&f.app, Req::get(path).cookie(&session)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let h =
            |name: header::HeaderName| r.headers.get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        assert_eq!(h(header::X_FRAME_OPTIONS), "DENY", "{path}");
        assert_eq!(h(header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{path}");
        assert_eq!(h(header::CACHE_CONTROL), "no-store", "{path}");
        let csp = h(header::CONTENT_SECURITY_POLICY);
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"), "{path}: {csp}");
        let nonce = csp.split("'nonce-").nth(1).and_then(|n| n.split('\'').next()).unwrap();
        assert!(r.body.contains(&format!("<style nonce=\"{nonce}\">")), "the page's own style runs");
        assert!(!r.body.contains("style=\""), "{path}: no inline style attribute the CSP would block");
    }
    let r = send(&f.app, Req::get("/openapi.json")).await;
    assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

/// the cookie held the bearer token itself, so signing out did
/// not end anything and a stolen cookie was the token.
#[tokio::test]
async fn the_session_cookie_is_not_the_token_and_signing_out_ends_it() {
    let f = fixture(leash_server::Options::default()).await;
    let session = f.sign_in(&f.reviewer).await;
    let id = session.trim_start_matches("leash_session=");
    assert!(!id.contains(&f.reviewer) && !id.contains("leash_") && id.len() == 64, "{session}");
    let page = send(&f.app, Req::get("/queue").cookie(&session)).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(&f.reviewer), "the token is nowhere in the page");
    let csrf = inproc::form_value(&page.body, "csrf").unwrap();
    // The token as a cookie is no session.
    let r = send(&f.app, Req::get("/queue").cookie(&format!("leash_session={}", f.reviewer))).await;
    assert_eq!(r.status, 303);

    let r = send(&f.app, Req::form("/logout", &format!("csrf={csrf}")).cookie(&session)).await;
    assert_eq!(r.status, 303);
    let r = send(&f.app, Req::get("/queue").cookie(&session)).await;
    assert_eq!((r.status, r.location()), (303, "/login".into()), "the old cookie no longer signs in");
    assert_eq!(f.state_ui_sessions(), 0);

    // A revoked token ends its session too.
    let session = f.sign_in(&f.admin).await;
    f.engine.revoke_token(&leash_engine::Caller::local("ops"), "boss").await.unwrap();
    let r = send(&f.app, Req::get("/queue").cookie(&session)).await;
    assert_eq!(r.status, 303, "revoked: {}", r.body);
}

/// the sign-in page reflected `?error=` text, and its form had
/// no CSRF value (login CSRF).
#[tokio::test]
async fn the_login_page_shows_fixed_messages_and_its_form_needs_csrf() {
    let f = fixture(leash_server::Options::default()).await;
    let r = send(&f.app, Req::get("/login?error=Call+0800+EVIL+now&done=phish&m=%3Cb%3E")).await;
    assert!(!r.body.contains("EVIL") && !r.body.contains("phish") && !r.body.contains("&lt;b"), "{}", r.body);
    let r = send(&f.app, Req::get("/login?m=agent")).await;
    assert!(r.body.contains("Agent tokens cannot sign in"));

    // Without the cookie the form came with, the right token does not sign in.
    let body = format!("token={}", f.admin);
    let r = send(&f.app, Req::form("/login", &body)).await;
    assert_eq!((r.status, r.location()), (303, "/login?m=stale".into()));
    let r = send(&f.app, Req::form("/login", &format!("{body}&csrf=00")).cookie("leash_login=11")).await;
    assert_eq!(r.location(), "/login?m=stale");
    assert!(r.headers.get(header::SET_COOKIE).is_none(), "no session");
    f.sign_in(&f.admin).await;
}

/// failures on `POST /login` and `/mcp` were not slowed, and
/// parallel failures from one address all slept at once.
#[tokio::test]
async fn failed_auth_is_slowed_on_every_route_and_parallel_failures_get_429() {
    let f = fixture(leash_server::Options::default()).await;
    let (cookie, csrf) = f.login_form().await;
    let bad_login = || Req::form("/login", &format!("token=leash_bad&csrf={csrf}")).cookie(&cookie).from(7);
    for _ in 0..leash_server::auth::AUTH_FAILURES_FREE {
        assert_eq!(send(&f.app, bad_login()).await.location(), "/login?m=unknown");
    }
    let started = Instant::now();
    send(&f.app, bad_login()).await;
    assert!(started.elapsed() >= Duration::from_millis(150), "the sign-in form is slowed");
    let started = Instant::now();
    assert_eq!(send(&f.app, mcp(INIT).bearer("leash_bad").from(7)).await.status, 401);
    assert!(started.elapsed() >= Duration::from_millis(300), "/mcp counts against the same address");
    let started = Instant::now();
    assert_eq!(send(&f.app, Req::get("/api/v1/actions").bearer("leash_bad").from(7)).await.status, 401);
    assert!(started.elapsed() >= Duration::from_millis(700), "and the API");

    let started = Instant::now();
    let burst: Vec<_> = (0..10)
        .map(|_| {
            let app = f.app.clone();
            tokio::spawn(async move { send(&app, Req::get("/api/v1/actions").bearer("leash_bad").from(7)).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in burst {
        statuses.push(t.await.unwrap().status);
    }
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(refused, 10 - leash_server::auth::AUTH_WAITING_PER_ADDRESS_MAX as usize, "{statuses:?}");
    assert!(started.elapsed() < Duration::from_secs(12), "the excess did not wait");
    // Another address is not affected, and a valid token passes at once.
    assert_eq!(send(&f.app, Req::get("/api/v1/actions").bearer(&f.agent).from(8)).await.status, 200);
}

/// the API took bodies of any type (a browser form or a
/// `text/plain` post from a foreign page reached the handlers).
#[tokio::test]
async fn api_bodies_must_be_sent_as_json() {
    let f = fixture(leash_server::Options::default()).await;
    let call = json!({"key": "1", "set": {"status": "solved"}}).to_string();
    for ct in [None, Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("application/jsonx")] {
        let mut req = Req::raw("POST", "/api/v1/actions/set_status", &call).bearer(&f.agent);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let r = send(&f.app, req).await;
        assert_eq!((r.status, r.code()), (415, "unsupported_media_type".into()), "{ct:?}: {}", r.body);
    }
    assert_eq!(f.status_of("1").await, "open", "nothing was written");
    let r = send(
        &f.app,
        Req::post("/api/v1/actions/set_status", &call)
            .bearer(&f.agent)
            .header("content-type", "application/json; charset=utf-8"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(
        &f.app,
        Req::raw("POST", "/api/v1/slack/actions", "payload=%7B%7D")
            .header("content-type", "application/x-www-form-urlencoded"),
    )
    .await;
    // Slack's form route is exempt: it checks Slack's signature itself.
    assert_eq!((r.status, r.code()), (401, "unauthenticated".into()), "{}", r.body);
}

/// `--actions` on a reviewer token did not limit reviewing.
#[tokio::test]
async fn scoped_reviewer_tokens_are_refused_and_old_ones_act_as_agents() {
    let f = fixture(leash_server::Options::default()).await;
    let ops = leash_engine::Caller::local("ops");
    for role in [leash_engine::Role::Reviewer, leash_engine::Role::Admin] {
        let e = f.engine.create_token(&ops, "lead2", role, vec!["set_status".into()]).await.unwrap_err();
        assert_eq!(e.answer().code, "invalid_input");
        assert!(e.answer().message.contains("scoping applies to agent tokens"), "{e}");
    }
    // A token stored that way by an older version may not review anything.
    let id = f.proposal().await;
    let r = send(&f.app, Req::post(&format!("/api/v1/proposals/{id}/approve"), "{}").bearer(&f.legacy_reviewer)).await;
    assert_eq!((r.status, r.code()), (403, "not_permitted".into()), "{}", r.body);
    assert_eq!(send(&f.app, Req::get("/api/v1/changes").bearer(&f.legacy_reviewer)).await.status, 403);
    let r = send(&f.app, Req::get("/queue").cookie(&format!("leash_session={}", f.legacy_reviewer))).await;
    assert_eq!(r.status, 303);
}

/// The identities of the role matrix, in the table's column order.
const IDENTITIES: &[&str] =
    &["none", "bad", "revoked", "agent-scoped", "agent", "reviewer-scoped", "reviewer", "admin"];

/// One request per route for one identity; fresh proposals for decisions.
async fn matrix_request(f: &inproc::Fixture, method: &str, route: &str) -> Req {
    let id = if route.contains("/proposals") { f.proposal().await } else { String::new() };
    let path = route
        .split('#')
        .next()
        .unwrap_or(route)
        .replace("{name}", "set_status")
        .replace("{key}", "1")
        .replace("{id}", if route.starts_with("/api/v1/changes") { &f.change_id } else { &id });
    let body = match route {
        "/api/v1/actions/{name}" => json!({"key": "1", "set": {"status": "open"}}),
        "/api/v1/proposals/{id}/reject" => json!({"note": "matrix"}),
        "/api/v1/proposals/approve" => json!({"ids": [id]}),
        "/api/v1/proposals/reject" => json!({"ids": [id], "note": "matrix"}),
        "/api/v1/reverts" => json!({"change_ids": [f.change_id], "dry_run": true}),
        "/api/v1/reverts#only" => json!({"change_ids": [f.priority_change_id], "dry_run": true}),
        "/api/v1/reverts#shared-run" => json!({"run_id": "shared", "dry_run": true}),
        "/api/v1/reverts#shared-run-one-actor" => json!({"run_id": "shared", "actor": "assistant", "dry_run": true}),
        "/api/v1/pause" | "/api/v1/resume" => json!({"action": "set_priority", "reason": "matrix"}),
        _ => json!({}),
    };
    match (method, route) {
        ("get", _) => Req::get(&path),
        (_, "/api/v1/slack/actions") => Req::form(&path, "payload=%7B%7D"),
        _ => Req::post(&path, &body.to_string()),
    }
}

/// Every route of the OpenAPI list × every kind of caller, against the
/// expected statuses in tests/role_matrix.txt. `LEASH_BLESS=1` rewrites the
/// table from what the server answers (review the diff before committing).
#[tokio::test]
async fn role_matrix_matches_the_table() {
    let f = fixture(leash_server::Options::default()).await;
    let mut routes: Vec<(&str, &str)> = leash_server::openapi::ENDPOINTS.iter().map(|(m, p, ..)| (*m, *p)).collect();
    routes.push(("post", "/api/v1/actions/{name}"));
    routes.push(("get", "/openapi.json"));
    // Reverts bounded by `[actions.review] only`, and a run id two tokens used
    // (refused unless the actor says whose).
    routes.extend([
        ("post", "/api/v1/reverts#only"),
        ("post", "/api/v1/reverts#shared-run"),
        ("post", "/api/v1/reverts#shared-run-one-actor"),
    ]);
    let tokens = ["", "leash_0000", &f.revoked, &f.scoped, &f.agent, &f.legacy_reviewer, &f.reviewer, &f.admin];
    let mut from = 1000;
    let mut lines = vec![format!("# method path {}", IDENTITIES.join(" "))];
    for (method, route) in &routes {
        let mut cells = Vec::new();
        for token in tokens {
            let mut req = matrix_request(&f, method, route).await.from(from);
            from += 1; // failures are slowed per address; each cell has its own
            if !token.is_empty() {
                req = req.bearer(token);
            }
            let r = send(&f.app, req).await;
            assert!(r.status < 500, "{method} {route}: {} {}", r.status, r.body);
            cells.push(r.status.to_string());
        }
        lines.push(format!("{} {route} {}", method.to_uppercase(), cells.join(" ")));
    }
    let actual = lines.join("\n") + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/role_matrix.txt");
    if std::env::var("LEASH_BLESS").as_deref() == Ok("1") {
        std::fs::write(path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    let rows = |t: &str| -> Vec<String> {
        t.lines().filter(|l| !l.trim().is_empty()).map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect()
    };
    let (want, got) = (rows(&expected), rows(&actual));
    for line in &got {
        let key: Vec<&str> = line.split(' ').take(2).collect();
        let row = want.iter().find(|w| w.split(' ').take(2).collect::<Vec<_>>() == key);
        assert_eq!(
            row,
            Some(line),
            "role_matrix.txt: the row for {} (columns: {})",
            key.join(" "),
            IDENTITIES.join(" ")
        );
    }
    assert_eq!(want.len(), got.len(), "role_matrix.txt has rows for routes the server no longer lists");
}

/// Arbitrary and mutated JSON-RPC bodies to `/mcp`, with and without a
/// session: never a 5xx, never a panic (a panic in a session task is caught
/// by tokio, so a hook counts them).
#[test]
fn mcp_messages_never_get_a_5xx_or_a_panic() {
    use proptest::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static PANICS: AtomicUsize = AtomicUsize::new(0);
    // Tool calls the session answered: the fuzz reaches the tools, not only the parser.
    static ANSWERED: AtomicUsize = AtomicUsize::new(0);
    let hook = std::panic::take_hook();
    // Only this runtime's threads count: other tests run alongside.
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some("mcp-fuzz") {
            PANICS.fetch_add(1, Ordering::Relaxed);
        }
        hook(info);
    }));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("mcp-fuzz")
        .enable_all()
        .build()
        .unwrap();
    // Caps out of the way: a fuzzed message may end its session, and a new one is opened.
    let roomy = leash_server::Options {
        mcp_sessions_per_token: 100_000,
        mcp_sessions_max: 100_000,
        ..leash_server::Options::default()
    };
    let f = rt.block_on(fixture(roomy));
    let open = || {
        rt.block_on(async {
            let r = send(&f.app, mcp(INIT).bearer(&f.agent)).await;
            let id = r.headers["mcp-session-id"].to_str().unwrap().to_string();
            let ready = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
            send(&f.app, mcp(ready).bearer(&f.agent).header("mcp-session-id", &id)).await;
            id
        })
    };
    let session = std::cell::RefCell::new(open());
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(serde_json::Value::Number).unwrap_or_default()),
        prop::collection::vec(any::<char>(), 0..12)
            .prop_map(|c| serde_json::Value::from(c.into_iter().collect::<String>())),
        prop::sample::select(vec![
            "1",
            "",
            "set_status",
            "review_status",
            "read_record",
            "proposal_status",
            "key",
            "\u{0}"
        ])
        .prop_map(serde_json::Value::from),
    ];
    let keys = prop::sample::select(vec!["key", "set", "status", "reason", "action", "proposal_id", "name", "x"])
        .prop_map(str::to_string);
    let value = leaf.clone().prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    // A tool's arguments: mostly an object, as the schema asks.
    let arg_keys = prop::sample::select(vec!["key", "set", "reason", "action", "proposal_id", "evidence", "x"])
        .prop_map(str::to_string);
    let args = prop_oneof![
        3 => prop::collection::btree_map(arg_keys, value.clone(), 0..4)
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        1 => value.clone(),
    ];
    // Mostly well-formed requests (a numeric id, tool calls), so most cases
    // get past the parser and reach the tools.
    let method = prop_oneof![
        4 => Just("tools/call"),
        3 => prop::sample::select(vec![
            "initialize", "tools/list", "ping", "notifications/initialized", "notifications/cancelled",
            "logging/setLevel", "resources/list", "prompts/get", "completion/complete", "", "tools/call/x",
        ]),
    ];
    let id = prop_oneof![3 => any::<i64>().prop_map(serde_json::Value::from), 1 => leaf.clone()];
    let message = (method, id, value, args, any::<u8>()).prop_map(|(m, id, params, args, shape)| {
        let mut msg = json!({"jsonrpc": "2.0", "method": m, "id": id, "params": params});
        if m == "tools/call" && shape % 4 != 0 {
            let name = ["set_status", "review_status", "read_record", "proposal_status", "nope"][shape as usize % 5];
            msg["params"] = json!({"name": name, "arguments": args});
        }
        if shape % 7 == 0 {
            msg.as_object_mut().map(|o| o.remove("id"));
        }
        if shape % 11 == 0 {
            msg["jsonrpc"] = json!("1.0");
        }
        if shape % 13 == 0 {
            msg = json!([msg]);
        }
        msg.to_string()
    });
    let raw = prop::collection::vec(any::<u8>(), 0..120).prop_map(|b| String::from_utf8_lossy(&b).into_owned());
    let body = prop_oneof![4 => message, 1 => raw];
    let config = ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(body in body, with_session in any::<bool>())| {
        let mut req = mcp(&body).bearer(&f.agent);
        if with_session {
            req = req.header("mcp-session-id", &session.borrow());
        }
        // A tool call in a session is read to its answer: an internal
        // JSON-RPC error (-32603) is leash's 5xx.
        if with_session && body.contains("tools/call") {
            let r = rt.block_on(async { send(&f.app, req).await });
            if r.body.contains("\"result\"") {
                ANSWERED.fetch_add(1, Ordering::Relaxed);
            }
            prop_assert!(r.status < 500 && !r.body.contains("-32603"), "{} {} for {body}", r.status, r.body);
            if r.status == 404 {
                *session.borrow_mut() = open();
            }
        } else {
            let status = rt.block_on(async { send_status(&f.app, req).await });
            prop_assert!(status < 500, "{status} for {body}");
            if with_session && status == 404 {
                *session.borrow_mut() = open();
            }
        }
    });
    assert_eq!(PANICS.load(Ordering::Relaxed), 0, "a session task panicked");
    let answered = ANSWERED.load(Ordering::Relaxed);
    eprintln!("{answered} fuzzed tool calls were answered by a tool");
    assert!(answered >= 100, "only {answered} fuzzed tool calls reached a tool");
}

/// The status only: an MCP answer's event stream is not waited for.
async fn send_status(app: &axum::Router, req: Req) -> u16 {
    inproc::send_head(app, req).await
}
