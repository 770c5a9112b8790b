//! The router in process: a SQLite database with the testkit shop's tables
//! and tickets of its own, a token of each kind, and requests sent without
//! a socket, each from a client address the test chooses.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Request};
use axum::Router;
use leash_core::policy::parse_policy;
use leash_engine::{token_hash, Caller, Engine, Role, TokenRow};
use leash_testkit::{fresh_database, shop, Kind, TestDb};
use tower::ServiceExt;

pub const POLICY: &str = r#"
[slack]
signing_secret = "matrix-secret"
reviewers = { U0LEAD = "lead" }

[[actions]]
name = "set_status"
summary = "Set a ticket's status."
table = "tickets"
key = "id"
mode = "direct"
read = ["id", "status"]
  [actions.fields.status]
  one_of = ["open", "needs_reply", "pending", "solved"]

[[actions]]
name = "review_status"
summary = "Propose a ticket's status for a person to approve."
table = "tickets"
key = "id"
mode = "review"
  [actions.fields.status]
  one_of = ["open", "needs_reply", "pending", "solved"]

[[actions]]
name = "set_priority"
summary = "Set a ticket's priority."
table = "tickets"
key = "id"
mode = "direct"
  [actions.fields.priority]
  one_of = ["low", "high"]
  [actions.review]
  only = ["dana"]
"#;

pub struct Fixture {
    _db: TestDb,
    pub store: Arc<dyn leash_store::Store>,
    pub engine: Arc<Engine>,
    pub app: Router,
    pub state: Arc<leash_server::AppState>,
    /// An agent for every action, and one for `review_status` only.
    pub agent: String,
    pub scoped: String,
    pub reviewer: String,
    pub admin: String,
    pub revoked: String,
    /// A reviewer token with `actions`, as older versions stored them.
    pub legacy_reviewer: String,
    pub change_id: String,
    /// A change of `set_priority`, whose `only` names nobody here.
    pub priority_change_id: String,
}

pub async fn fixture(options: leash_server::Options) -> Fixture {
    let db = fresh_database(Kind::Sqlite).await.unwrap();
    let store: Arc<dyn leash_store::Store> = Arc::from(leash_store::open(&db.url).await.unwrap());
    // The shop's tables, with 200 open, low-priority tickets of this fixture's own.
    let rows: Vec<String> = (1..=200).map(|i| format!("({i}, 'open', 'low')")).collect();
    let mut statements = shop::tables(Kind::Sqlite);
    statements.push(format!("INSERT INTO tickets (id, status, priority) VALUES {}", rows.join(", ")));
    store.execute_script(&statements.iter().map(String::as_str).collect::<Vec<_>>()).await.unwrap();
    let engine = Arc::new(Engine::open(parse_policy("leash.toml", POLICY).unwrap(), store.clone()).await.unwrap());
    let ops = Caller::local("ops");
    engine.approve_policy(&ops, None).await.unwrap();
    let agent = engine.create_token(&ops, "assistant", Role::Agent, Vec::new()).await.unwrap();
    let scoped = engine.create_token(&ops, "scoped-bot", Role::Agent, vec!["review_status".into()]).await.unwrap();
    let reviewer = engine.create_token(&ops, "lead", Role::Reviewer, Vec::new()).await.unwrap();
    let admin = engine.create_token(&ops, "boss", Role::Admin, Vec::new()).await.unwrap();
    let revoked = engine.create_token(&ops, "gone", Role::Admin, Vec::new()).await.unwrap();
    engine.revoke_token(&ops, "gone").await.unwrap();
    let legacy_reviewer = "leash_0123456789abcdef0123456789abcdef0123456789abcdef".to_string();
    let row = TokenRow {
        name: "old-lead".into(),
        role: "reviewer".into(),
        actions: vec!["review_status".into()],
        created_at: engine.clock().stamp(),
        revoked_at: None,
    };
    let mut tx = store.begin().await.unwrap();
    tx.save_token(&row, &token_hash(&legacy_reviewer)).await.unwrap();
    tx.commit().await.unwrap();
    let who = engine.caller_named("assistant").await.unwrap();
    let change = engine.call(&who, "set_status", call("200", "solved")).await.unwrap();
    let change_id = change.change_id.unwrap();
    let priority = leash_core::call::Call {
        key: Some(leash_core::value::Value::String("199".into())),
        set: [("priority".to_string(), serde_json::json!("high"))].into_iter().collect(),
        ..leash_core::call::Call::default()
    };
    let priority_change_id = engine.call(&who, "set_priority", priority).await.unwrap().change_id.unwrap();
    // Run "shared" is two runs: this agent's and another's.
    let other = Caller { name: "other-bot".into(), role: Role::Agent, actions: Vec::new() };
    for (caller, key) in [(&who, "198"), (&other, "197")] {
        let shared = leash_core::call::Call { run_id: Some("shared".into()), ..call(key, "pending") };
        assert!(engine.call(caller, "set_status", shared).await.unwrap().change_id.is_some());
    }
    let (app, state) = leash_server::router_and_state(engine.clone(), options);
    Fixture {
        _db: db,
        store,
        engine,
        app,
        state,
        agent,
        scoped,
        reviewer,
        admin,
        revoked,
        legacy_reviewer,
        change_id,
        priority_change_id,
    }
}

pub fn call(key: &str, status: &str) -> leash_core::call::Call {
    leash_core::call::Call {
        key: Some(leash_core::value::Value::String(key.into())),
        set: [("status".to_string(), serde_json::json!(status))].into_iter().collect(),
        reason: Some("seen in the inbox".into()),
        ..leash_core::call::Call::default()
    }
}

impl Fixture {
    /// A fresh open proposal by the full agent, on a record of its own.
    pub async fn proposal(&self) -> String {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let key = (NEXT.fetch_add(1, Ordering::Relaxed) % 190 + 1).to_string();
        let who = self.engine.caller_named("assistant").await.unwrap();
        let r = self.engine.call(&who, "review_status", call(&key, "solved")).await.unwrap();
        r.proposal_id.clone().unwrap_or_else(|| panic!("no proposal: {r:?}"))
    }

    pub async fn status_of(&self, key: &str) -> String {
        let schema = self.store.table_schema("tickets").await.unwrap().unwrap();
        let row = self.store.read_record(&schema, &leash_core::policy::Key::single("id"), key).await.unwrap().unwrap();
        leash_core::value::display(&row["status"])
    }

    pub fn state_sessions(&self) -> usize {
        self.state.mcp.count()
    }

    pub fn state_ui_sessions(&self) -> usize {
        self.state.ui.count()
    }

    /// The sign-in form's cookie and CSRF value.
    pub async fn login_form(&self) -> (String, String) {
        let page = send(&self.app, Req::get("/login")).await;
        let cookie = page.set_cookie("leash_login").expect("the form sets its cookie");
        let csrf = form_value(&page.body, "csrf").expect("the form carries its value");
        (cookie, csrf)
    }

    /// Signs in through the form; returns the session cookie (`name=value`).
    pub async fn sign_in(&self, token: &str) -> String {
        let (cookie, csrf) = self.login_form().await;
        let r = send(&self.app, Req::form("/login", &format!("token={token}&csrf={csrf}")).cookie(&cookie)).await;
        assert_eq!((r.status, r.location()), (303, "/queue".to_string()), "{}", r.body);
        r.set_cookie("leash_session").expect("a session cookie")
    }
}

/// The value of a hidden form field in a page.
pub fn form_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    rest.split('"').next().map(str::to_string)
}

pub struct Req {
    method: String,
    path: String,
    body: String,
    headers: Vec<(String, String)>,
    from: IpAddr,
}

impl Req {
    pub fn raw(method: &str, path: &str, body: &str) -> Req {
        Req {
            method: method.into(),
            path: path.into(),
            body: body.into(),
            headers: vec![("host".into(), "127.0.0.1:7777".into())],
            from: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }
    pub fn get(path: &str) -> Req {
        Req::raw("GET", path, "")
    }
    pub fn post(path: &str, body: &str) -> Req {
        Req::raw("POST", path, body).header("content-type", "application/json")
    }
    pub fn form(path: &str, body: &str) -> Req {
        Req::raw("POST", path, body).header("content-type", "application/x-www-form-urlencoded")
    }
    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }
    pub fn bearer(self, token: &str) -> Req {
        self.header("authorization", &format!("Bearer {token}"))
    }
    pub fn cookie(self, cookie: &str) -> Req {
        self.header("cookie", cookie)
    }
    pub fn host(self, host: &str) -> Req {
        self.header("host", host)
    }
    /// From 127.0.x.y: failures are counted per address.
    pub fn from(mut self, n: u32) -> Req {
        self.from = IpAddr::V4(Ipv4Addr::new(127, 0, (n >> 8) as u8, (n & 0xff) as u8));
        self
    }
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn code(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_string))
            .unwrap_or_default()
    }
    pub fn location(&self) -> String {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    }
    /// `name=value` of a cookie this answer sets (with a value).
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|c| c.starts_with(&format!("{name}=")) && c.len() > name.len() + 1)
            .map(str::to_string)
    }
}

fn request(req: Req) -> Request<Body> {
    let mut builder = Request::builder().method(req.method.as_str()).uri(req.path.as_str());
    for (n, v) in &req.headers {
        builder = builder.header(n.as_str(), v.as_str());
    }
    let mut request = builder.body(Body::from(req.body)).unwrap();
    request.extensions_mut().insert(ConnectInfo(SocketAddr::new(req.from, 40_000)));
    request
}

/// The status of one request, without waiting for its body.
pub async fn send_head(app: &Router, req: Req) -> u16 {
    app.clone().oneshot(request(req)).await.unwrap().status().as_u16()
}

/// Sends one request through the router; an event stream is read for at
/// most a second (an MCP answer arrives at once).
pub async fn send(app: &Router, req: Req) -> Resp {
    let response = app.clone().oneshot(request(req)).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let read = axum::body::to_bytes(response.into_body(), 64 << 20);
    let body = match tokio::time::timeout(std::time::Duration::from_secs(1), read).await {
        Ok(Ok(b)) => String::from_utf8_lossy(&b).into_owned(),
        _ => String::new(),
    };
    Resp { status, headers, body }
}
