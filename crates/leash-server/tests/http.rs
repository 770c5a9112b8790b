//! `leash serve` with a real HTTP client on every store: each role's allowed
//! and forbidden calls, every status code, signed webhooks that see a change
//! and its revert, and an event that survives a restart.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use leash_core::policy::parse_policy;
use leash_engine::{Caller, Engine, Role};
use leash_testkit::{conformance, fresh_database, Kind, TestDb};
use serde_json::{json, Value};

const SECRET: &str = "s3cret-for-tests";

fn policy(hook: &str) -> String {
    format!(
        r#"
[[webhooks]]
url = "{hook}"
events = ["change.applied", "change.reverted", "proposal.created", "action.paused"]
secret = "{SECRET}"

[[actions]]
name = "set_status"
summary = "Set a ticket's status."
table = "tickets"
key = "id"
mode = "direct"
read = ["id", "status"]
when = "record.status != 'closed'"
  [actions.fields.status]
  one_of = ["open", "needs_reply", "pending", "solved"]
  [actions.limits]
  per_run = 2

[[actions]]
name = "review_status"
summary = "Propose a ticket's status for a person to approve."
table = "tickets"
key = "id"
mode = "review"
requires = ["reason"]
  [actions.fields.status]
  one_of = ["open", "needs_reply", "pending", "solved"]
"#
    )
}

type Seen = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A webhook receiver on loopback that records what it is sent.
async fn receiver(listener: tokio::net::TcpListener) -> Seen {
    let seen: Seen = Arc::default();
    let store = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let store = store.clone();
            async move {
                store.lock().unwrap().push((headers, body));
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    seen
}

struct Server {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(engine: Arc<Engine>) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            leash_server::serve_on(engine, listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Server { base, stop: Some(tx), task }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }
}

struct Setup {
    _db: TestDb,
    url: String,
    engine: Arc<Engine>,
    agent: String,
    other: String,
    reviewer: String,
    admin: String,
}

async fn setup(kind: Kind, hook: &str) -> Option<Setup> {
    let db = fresh_database(kind).await?;
    let store: Arc<dyn leash_store::Store> = Arc::from(leash_store::open(&db.url).await.unwrap());
    store
        .execute_script(&[
            leash_testkit::shop::TICKETS,
            "INSERT INTO tickets (id, status) VALUES (1, 'open'), (2, 'open'), (3, 'open'), (4, 'open'), (5, 'closed')",
        ])
        .await
        .unwrap();
    let engine = Engine::open(parse_policy("leash.toml", &policy(hook)).unwrap(), store).await.unwrap();
    let ops = Caller::local("ops");
    engine.approve_policy(&ops, None).await.unwrap();
    let both = vec!["set_status".to_string(), "review_status".to_string()];
    let agent = engine.create_token(&ops, "assistant", Role::Agent, both).await.unwrap();
    let other = engine.create_token(&ops, "other-bot", Role::Agent, vec!["review_status".into()]).await.unwrap();
    let reviewer = engine.create_token(&ops, "lead", Role::Reviewer, Vec::new()).await.unwrap();
    let admin = engine.create_token(&ops, "boss", Role::Admin, Vec::new()).await.unwrap();
    Some(Setup { url: db.url.clone(), _db: db, engine: Arc::new(engine), agent, other, reviewer, admin })
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<String>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url).header("content-type", "application/json"),
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.send("POST", path, Some(token), Some(body.to_string())).await
    }
    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.send("GET", path, Some(token), None).await
    }
}

async fn wait_for(seen: &Seen, event: &str) -> (HeaderMap, String) {
    for _ in 0..200 {
        if let Some(hit) =
            seen.lock().unwrap().iter().find(|(h, _)| h.get("x-leash-event").is_some_and(|v| v == event)).cloned()
        {
            return hit;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {event} webhook arrived");
}

async fn roles_and_status_codes(kind: Kind) {
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", hook_listener.local_addr().unwrap());
    let seen = receiver(hook_listener).await;
    let Some(s) = setup(kind, &hook).await else { return };
    let server = Server::start(s.engine.clone()).await;
    let c = Client { http: reqwest::Client::new(), base: server.base.clone() };

    assert_eq!(c.send("GET", "/healthz", None, None).await.0, 200);
    let (st, body) = c
        .send(
            "POST",
            "/api/v1/actions/set_status",
            None,
            Some(json!({"key": "1", "set": {"status": "solved"}}).to_string()),
        )
        .await;
    assert_eq!((st, body["code"].as_str()), (401, Some("unauthenticated")));
    assert_eq!(
        c.post("/api/v1/actions/set_status", "leash_nope", json!({"key": "1", "set": {"status": "solved"}})).await.0,
        401
    );

    let (st, r) = c
        .post(
            "/api/v1/actions/set_status",
            &s.agent,
            json!({"key": "1", "set": {"status": "needs_reply"}, "run_id": "r"}),
        )
        .await;
    assert_eq!((st, r["outcome"].as_str()), (200, Some("applied")), "{r}");
    let (st, r) = c.post("/api/v1/actions/set_status", &s.agent, json!({"key": "2", "set": {"status": "nope"}})).await;
    assert_eq!((st, r["code"].as_str()), (422, Some("value_not_allowed")));
    assert!(r["message"].as_str().unwrap().contains("use one of"));
    assert_eq!(
        c.post("/api/v1/actions/drop_tables", &s.agent, json!({"key": "1", "set": {"status": "open"}})).await.0,
        404
    );
    assert_eq!(
        c.post("/api/v1/actions/set_status", &s.agent, json!({"key": "99", "set": {"status": "open"}})).await.0,
        404
    );
    let (st, r) = c.send("POST", "/api/v1/actions/set_status", Some(&s.agent), Some("{not json".into())).await;
    assert_eq!((st, r["code"].as_str()), (400, Some("invalid_input")));
    assert_eq!(
        c.post("/api/v1/actions/set_status", &s.agent, json!({"key": "2", "set": {"status": "open"}, "sql": "x"}))
            .await
            .0,
        400
    );
    let (st, r) = c
        .post(
            "/api/v1/actions/set_status",
            &s.agent,
            json!({"key": "2", "set": {"status": "solved"}, "expect": {"status": "pending"}}),
        )
        .await;
    assert_eq!((st, r["code"].as_str()), (409, Some("stale_record")));
    assert_eq!(
        c.post("/api/v1/actions/set_status", &s.agent, json!({"key": "5", "set": {"status": "open"}})).await.0,
        422
    );
    assert_eq!(
        c.post("/api/v1/actions/set_status", &s.agent, json!({"key": "2", "set": {"status": "solved"}, "run_id": "r"}))
            .await
            .0,
        200
    );
    let (st, r) = c
        .post("/api/v1/actions/set_status", &s.agent, json!({"key": "3", "set": {"status": "solved"}, "run_id": "r"}))
        .await;
    assert_eq!((st, r["code"].as_str()), (429, Some("limit_run")));
    let huge = json!({"key": "3", "set": {"status": "x".repeat(70_000)}}).to_string();
    let (st, r) = c.send("POST", "/api/v1/actions/set_status", Some(&s.agent), Some(huge)).await;
    assert_eq!((st, r["code"].as_str()), (413, Some("invalid_input")), "{r}");

    // Reading: only the action's `read` fields.
    let (st, r) = c.get("/api/v1/actions/set_status/records/1", &s.agent).await;
    assert_eq!(st, 200);
    assert_eq!(r["record"], json!({"id": 1, "status": "needs_reply"}));

    // Review loop: the agent proposes, cannot approve; the reviewer edits and approves.
    let (st, p) = c
        .post(
            "/api/v1/actions/review_status",
            &s.agent,
            json!({"key": "4", "set": {"status": "solved"}, "reason": "customer said thanks"}),
        )
        .await;
    assert_eq!((st, p["outcome"].as_str()), (202, Some("pending_review")));
    let id = p["proposal_id"].as_str().unwrap().to_string();
    assert!(
        c.get("/api/v1/proposals", &s.other).await.1["proposals"].as_array().unwrap().is_empty(),
        "agents see only their own"
    );
    let (st, r) = c.post(&format!("/api/v1/proposals/{id}/approve"), &s.agent, json!({})).await;
    assert_eq!((st, r["code"].as_str()), (403, Some("not_permitted")));
    let record = c.get("/api/v1/actions/set_status/records/4", &s.agent).await.1;
    assert_eq!(record["record"]["status"], "open", "a refused approval changes nothing");
    let queue = c.get("/api/v1/proposals", &s.reviewer).await.1;
    assert_eq!(queue["proposals"][0]["id"], id.as_str());
    let (st, r) = c
        .post(
            &format!("/api/v1/proposals/{id}/approve"),
            &s.reviewer,
            json!({"set": {"status": "pending"}, "note": "not solved yet"}),
        )
        .await;
    assert_eq!((st, r["outcome"].as_str()), (200, Some("applied")), "{r}");
    assert_eq!(c.get(&format!("/api/v1/proposals/{id}"), &s.agent).await.1["status"], "accepted");
    // A reviewer's own call is decided by someone else.
    let (_, p) = c
        .post(
            "/api/v1/actions/review_status",
            &s.reviewer,
            json!({"key": "5", "set": {"status": "open"}, "reason": "r"}),
        )
        .await;
    let own = p["proposal_id"].as_str().unwrap_or_else(|| panic!("{p}")).to_string();
    for verb in ["approve", "reject"] {
        let (st, r) = c.post(&format!("/api/v1/proposals/{own}/{verb}"), &s.reviewer, json!({"note": "mine"})).await;
        assert_eq!((st, r["code"].as_str()), (403, Some("not_permitted")), "{verb}: {r}");
    }
    let (st, r) = c.post("/api/v1/proposals/approve", &s.reviewer, json!({"ids": [own]})).await;
    assert_eq!((st, r["results"][0]["status"].as_str()), (200, Some("not_permitted")), "{r}");
    let (st, r) = c.post(&format!("/api/v1/proposals/{own}/approve"), &s.admin, json!({})).await;
    assert_eq!((st, r["outcome"].as_str()), (200, Some("applied")), "{r}");

    // The change log is for reviewers.
    assert_eq!(c.get("/api/v1/changes", &s.agent).await.0, 403);
    let (st, log) = c.get("/api/v1/changes?run_id=r", &s.reviewer).await;
    assert_eq!((st, log["changes"].as_array().unwrap().len()), (200, 2));
    assert_eq!(c.get("/api/v1/changes?colour=red", &s.reviewer).await.0, 400);

    // Pausing is for admins; it stops the next call.
    assert_eq!(c.post("/api/v1/pause", &s.reviewer, json!({"action": "set_status", "reason": "x"})).await.0, 403);
    assert_eq!(c.post("/api/v1/pause", &s.admin, json!({"action": "set_status", "reason": "checking"})).await.0, 200);
    let (st, r) =
        c.post("/api/v1/actions/set_status", &s.agent, json!({"key": "3", "set": {"status": "solved"}})).await;
    assert_eq!((st, r["code"].as_str()), (503, Some("paused")));
    assert_eq!(c.post("/api/v1/resume", &s.admin, json!({"action": "set_status", "reason": "ok"})).await.0, 200);

    // Batch revert: plan, then execute.
    assert_eq!(c.post("/api/v1/reverts", &s.agent, json!({"run_id": "r", "dry_run": true})).await.0, 403);
    let (st, plan) = c.post("/api/v1/reverts", &s.reviewer, json!({"run_id": "r", "dry_run": true})).await;
    assert_eq!((st, plan["reverted"].as_array().unwrap().len()), (200, 2));
    let (_, done) = c.post("/api/v1/reverts", &s.reviewer, json!({"run_id": "r", "dry_run": false})).await;
    assert_eq!(done["reverted"].as_array().unwrap().len(), 2);
    assert_eq!(c.get("/api/v1/actions/set_status/records/1", &s.agent).await.1["record"]["status"], "open");

    let (st, doc) = c.send("GET", "/openapi.json", None, None).await;
    assert_eq!(st, 200);
    let schema =
        &doc["paths"]["/api/v1/actions/set_status"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(
        schema["properties"]["set"]["properties"]["status"]["enum"],
        json!(["open", "needs_reply", "pending", "solved"])
    );
    assert_eq!(
        doc["paths"]["/api/v1/actions/review_status"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["required"],
        json!(["set", "key", "reason"])
    );
    let (_, metrics) = c.send("GET", "/metrics", None, None).await;
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    assert!(
        metrics.contains("leash_calls_total")
            && metrics.contains("leash_queue_depth")
            && metrics.contains("leash_call_seconds"),
        "{metrics}"
    );

    // Webhooks: signed, one for the change and one for its revert.
    for event in ["change.applied", "change.reverted", "proposal.created", "action.paused"] {
        let (headers, body) = wait_for(&seen, event).await;
        let sig = headers.get("x-leash-signature").unwrap().to_str().unwrap();
        assert_eq!(sig, leash_server::webhooks::signature(SECRET, body.as_bytes()), "{event} signature");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(headers.get("x-leash-event-id").unwrap().to_str().unwrap(), v["id"].as_str().unwrap());
    }
    server.stop().await;
}

async fn webhook_event_survives_a_restart(kind: Kind) {
    // Reserve a port, then close it: the receiver is down at first.
    let hook_addr: SocketAddr = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let hook = format!("http://{hook_addr}/hook");
    let Some(s) = setup(kind, &hook).await else { return };
    let server = Server::start(s.engine.clone()).await;
    let c = Client { http: reqwest::Client::new(), base: server.base.clone() };
    let (_, r) = c.post("/api/v1/actions/set_status", &s.agent, json!({"key": "1", "set": {"status": "solved"}})).await;
    let change_id = r["change_id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(600)).await; // the worker tries and fails
    server.stop().await;

    let seen = receiver(tokio::net::TcpListener::bind(hook_addr).await.unwrap()).await;
    let store: Arc<dyn leash_store::Store> = Arc::from(leash_store::open(&s.url).await.unwrap());
    let engine = Engine::open(parse_policy("leash.toml", &policy(&hook)).unwrap(), store).await.unwrap();
    let restarted = Server::start(Arc::new(engine)).await;
    let (_, body) = wait_for(&seen, "change.applied").await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"]["id"], change_id.as_str(), "the event from before the restart arrives");
    restarted.stop().await;
}

async fn policy_page_and_audit(kind: Kind) {
    let Some(s) = setup(kind, "http://127.0.0.1:9/hook").await else { return };
    let server = Server::start(s.engine.clone()).await;
    let c = Client { http: reqwest::Client::new(), base: server.base.clone() };

    let (st, page) = c.get("/api/v1/actions/set_status/policy", &s.agent).await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["name"], "set_status");
    assert_eq!(page["approved_by"], "ops");
    assert_eq!(page["fields"][0]["field"], "status");
    let text = c
        .http
        .get(format!("{}/api/v1/actions/set_status/policy", c.base))
        .bearer_auth(&s.reviewer)
        .header("accept", "text/markdown")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status().as_u16(), 200);
    assert!(text.headers()["content-type"].to_str().unwrap().starts_with("text/markdown"));
    let text = text.text().await.unwrap();
    assert!(text.starts_with("# set_status"), "{text}");
    assert!(text.lines().count() <= 60);
    assert_eq!(c.get("/api/v1/actions/set_status/policy", &s.other).await.0, 403, "not its action");
    let (st, body) = c.get("/api/v1/actions/nope/policy", &s.reviewer).await;
    assert_eq!((st, body["code"].as_str()), (404, Some("not_found")));

    for key in ["1", "2"] {
        let (st, r) =
            c.post("/api/v1/actions/set_status", &s.agent, json!({"key": key, "set": {"status": "solved"}})).await;
        assert_eq!(st, 200, "{r}");
    }
    let tight = policy("http://127.0.0.1:9/hook").replace(
        "one_of = [\"open\", \"needs_reply\", \"pending\", \"solved\"]\n  [actions.limits]",
        "one_of = [\"open\", \"needs_reply\", \"pending\"]\n  [actions.limits]",
    );
    let (st, body) = c.post("/api/v1/audit", &s.agent, json!({"policy": tight})).await;
    assert_eq!((st, body["code"].as_str()), (403, Some("not_permitted")), "agents do not audit");
    let (st, r) = c.post("/api/v1/audit", &s.reviewer, json!({"policy": tight, "action": "set_status"})).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["checked"], 2);
    assert_eq!(r["refused"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(r["refused"][0]["code"], "value_not_allowed");
    assert!(r.get("revert").is_none());

    let before = s
        .engine
        .changes(&Caller::local("t"), &leash_engine::ChangeQuery { limit: 1000, ..Default::default() })
        .await
        .unwrap()
        .len();
    let (st, body) = c
        .post("/api/v1/audit", &s.reviewer, json!({"policy": "[[actions]]\nname = 7\n", "revert_refused": true}))
        .await;
    assert_eq!((st, body["code"].as_str()), (400, Some("invalid_input")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("policy"), "{body}");
    let (st, body) = c.post("/api/v1/audit", &s.reviewer, json!({"policy": tight, "revert": true})).await;
    assert_eq!(st, 400, "unknown fields are refused: {body}");
    let after = s
        .engine
        .changes(&Caller::local("t"), &leash_engine::ChangeQuery { limit: 1000, ..Default::default() })
        .await
        .unwrap()
        .len();
    assert_eq!(before, after, "a refused audit changes nothing");

    let (st, r) = c.post("/api/v1/audit", &s.reviewer, json!({"policy": tight, "revert_refused": true})).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["revert"]["reverted"].as_array().unwrap().len(), 2, "{r}");
    server.stop().await;
}

conformance!(roles_and_status_codes, webhook_event_survives_a_restart, policy_page_and_audit);
