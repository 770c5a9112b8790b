//! The web UI in a real browser (Debian's chromium through chromedriver):
//! sign in, approve with an edit, reject, undo one change, revert a run after
//! its preview, pause an action; a form post without its CSRF value is
//! refused. Screenshots of each page go to target/ui-screenshots/.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use leash_core::call::Call;
use leash_core::policy::parse_policy;
use leash_core::value::Value;
use leash_engine::{Caller, Engine, Role};
use leash_testkit::{fresh_database, Kind};
use serde_json::json;

const POLICY: &str = r#"
[[actions]]
name = "set_status"
summary = "Set a ticket's status."
table = "tickets"
key = "id"
mode = "direct"
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
"#;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A skip unless chromium and chromedriver are installed; under CI a failure.
fn browser_available() -> bool {
    let ok = std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("chromium and chromium-driver are missing; .ci/run installs them");
        }
        eprintln!("skipped: no {CHROMIUM} / {CHROMEDRIVER} (apt-get install chromium chromium-driver)");
    }
    ok
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn shots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn call(key: &str, status: &str, run: Option<&str>) -> Call {
    Call {
        key: Some(Value::String(key.into())),
        set: [("status".to_string(), json!(status))].into_iter().collect(),
        reason: Some("seen in the inbox".into()),
        run_id: run.map(str::to_string),
        ..Call::default()
    }
}

async fn status(store: &dyn leash_store::Store, key: &str) -> Value {
    let schema = store.table_schema("tickets").await.unwrap().unwrap();
    store.read_record(&schema, &leash_core::policy::Key::single("id"), key).await.unwrap().unwrap()["status"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewer_works_the_queue_log_and_actions_in_a_browser() {
    if !browser_available() {
        return;
    }
    // Two TLS backends meet in this test binary; pick one (only loopback HTTP is used).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = fresh_database(Kind::Sqlite).await.unwrap();
    let store: Arc<dyn leash_store::Store> = Arc::from(leash_store::open(&db.url).await.unwrap());
    let rows: Vec<String> = (1..=12).map(|i| format!("({i}, 'open')")).collect();
    store
        .execute_script(&[
            leash_testkit::shop::TICKETS,
            &format!("INSERT INTO tickets (id, status) VALUES {}", rows.join(", ")),
        ])
        .await
        .unwrap();
    let engine = Arc::new(Engine::open(parse_policy("leash.toml", POLICY).unwrap(), store.clone()).await.unwrap());
    let ops = Caller::local("ops");
    engine.approve_policy(&ops, None).await.unwrap();
    let admin = engine.create_token(&ops, "lead", Role::Admin, Vec::new()).await.unwrap();
    let agent_token = engine.create_token(&ops, "assistant", Role::Agent, Vec::new()).await.unwrap();
    let agent = engine.caller_named("assistant").await.unwrap();
    engine.call(&agent, "review_status", call("1", "solved", None)).await.unwrap();
    engine.call(&agent, "review_status", call("2", "needs_reply", None)).await.unwrap();
    engine.call(&agent, "set_status", call("3", "needs_reply", None)).await.unwrap();
    for key in ["5", "6", "7"] {
        engine.call(&agent, "set_status", call(key, "solved", Some("bad-run"))).await.unwrap();
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(leash_server::serve_on(engine.clone(), listener, async {
        let _ = stopped.await;
    }));

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _driver = Killed(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": CHROMIUM, "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1200,1400",
            format!("--user-data-dir={}", profile.path().display())]}),
    );
    let mut client = None;
    for _ in 0..50 {
        if let Ok(c) = ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            client = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let b = client.expect("chromedriver answers");
    // Waits until the page shows a message containing `want` (the page
    // before a form post may still show the previous one), then returns it.
    let flash = |b: fantoccini::Client, want: &'static str| async move {
        let mut last = String::new();
        for _ in 0..100 {
            if let Ok(e) = b.find(Locator::Css("[role=status]")).await {
                last = e.text().await.unwrap_or_default();
                if last.contains(want) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        format!("{last} / {}", b.source().await.unwrap_or_default())
    };
    let shot = |name: &'static str| {
        let b = b.clone();
        async move {
            let png = b.screenshot().await.unwrap();
            std::fs::write(shots_dir().join(format!("{name}.png")), png).unwrap();
        }
    };

    // Agent tokens cannot sign in.
    b.goto(&format!("{base}/login")).await.unwrap();
    b.find(Locator::Id("token")).await.unwrap().send_keys(&agent_token).await.unwrap();
    b.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    let seen = flash(b.clone(), "Agent tokens cannot sign in").await;
    assert!(seen.contains("Agent tokens cannot sign in"), "{seen}");
    shot("login").await;

    // Sign in; the queue shows both proposals with their diffs.
    b.find(Locator::Id("token")).await.unwrap().send_keys(&admin).await.unwrap();
    b.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    b.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("[data-proposal]")).await.unwrap();
    assert!(b.current_url().await.unwrap().path().ends_with("/queue"));
    assert_eq!(b.find_all(Locator::Css("[data-proposal]")).await.unwrap().len(), 2);
    shot("queue").await;
    // The page's inline script runs under its CSP: `j` moves to the next card.
    let moved = b
        .execute(
            "document.dispatchEvent(new KeyboardEvent('keydown', {key: 'j'})); \
             return !!document.activeElement && document.activeElement.hasAttribute('data-proposal');",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(moved, json!(true), "the keyboard shortcuts work under the CSP");

    // Approve the first with an edit.
    let first = b.find(Locator::Css("[data-proposal]")).await.unwrap();
    let input = first.find(Locator::Css("input[name='set.status']")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys("pending").await.unwrap();
    first.find(Locator::Css("[data-key=a]")).await.unwrap().click().await.unwrap();
    let seen = flash(b.clone(), "Approved").await;
    assert!(seen.contains("Approved"), "{seen}");
    assert_eq!(status(store.as_ref(), "1").await, json!("pending"), "the edited value landed");

    // Reject the other with a note.
    let card = b.find(Locator::Css("[data-proposal]")).await.unwrap();
    card.find(Locator::Css("input[name=note]")).await.unwrap().send_keys("customer is still waiting").await.unwrap();
    card.find(Locator::Css("[data-key=r]")).await.unwrap().click().await.unwrap();
    let seen = flash(b.clone(), "Rejected").await;
    assert!(seen.contains("Rejected"), "{seen}");
    assert_eq!(status(store.as_ref(), "2").await, json!("open"));

    // Three proposals of the same change are one card; one of them goes
    // stale, and approving the group writes the other two only.
    for key in ["10", "11", "12"] {
        engine.call(&agent, "review_status", call(key, "pending", None)).await.unwrap();
    }
    engine.call(&agent, "set_status", call("11", "solved", None)).await.unwrap();
    b.goto(&format!("{base}/queue")).await.unwrap();
    let badge = b.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("[data-group]")).await.unwrap();
    assert_eq!(badge.text().await.unwrap(), "3 like this");
    assert_eq!(b.find_all(Locator::Css("[data-proposal]")).await.unwrap().len(), 1, "one card for the group");
    shot("queue-group").await;
    b.find(Locator::Css("form[action^='/queue/group/'][action$='/approve'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let seen = flash(b.clone(), "2 of 3 approved").await;
    assert!(seen.contains("2 of 3 approved") && seen.contains("stale_record"), "{seen}");
    assert_eq!(status(store.as_ref(), "10").await, json!("pending"));
    assert_eq!(status(store.as_ref(), "11").await, json!("solved"), "the stale member was not written");
    assert_eq!(status(store.as_ref(), "12").await, json!("pending"));

    // Undo one change from the log.
    b.goto(&format!("{base}/log?record_key=3")).await.unwrap();
    shot("log").await;
    b.find(Locator::Css("button[aria-label^='undo change']")).await.unwrap().click().await.unwrap();
    let seen = flash(b.clone(), "Undone").await;
    assert!(seen.contains("Undone"), "{seen}");
    assert_eq!(status(store.as_ref(), "3").await, json!("open"));

    // Revert a whole run after its preview.
    b.goto(&format!("{base}/log?run_id=bad-run")).await.unwrap();
    b.find(Locator::LinkText("Preview a revert of everything shown by this filter"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let confirm = b
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("form[action='/revert'] button"))
        .await
        .unwrap();
    assert!(confirm.text().await.unwrap().contains("Revert 3 change(s)"));
    shot("revert-preview").await;
    confirm.click().await.unwrap();
    let seen = flash(b.clone(), "Reverted 3 change(s)").await;
    assert!(seen.contains("Reverted 3 change(s)"), "{seen}");
    for key in ["5", "6", "7"] {
        assert_eq!(status(store.as_ref(), key).await, json!("open"));
    }

    // Pause an action with a reason.
    b.goto(&format!("{base}/actions")).await.unwrap();
    shot("actions").await;
    b.find(Locator::Css("input[aria-label='reason to pause set_status']"))
        .await
        .unwrap()
        .send_keys("checking a batch")
        .await
        .unwrap();
    b.find(Locator::Css("form[action='/actions/set_status/pause'] button")).await.unwrap().click().await.unwrap();
    let seen = flash(b.clone(), "Paused set_status").await;
    assert!(seen.contains("Paused set_status"), "{seen}");
    let refused = engine.call(&agent, "set_status", call("4", "solved", None)).await.unwrap();
    assert_eq!(refused.code.map(|c| c.as_str()), Some("paused"));
    shot("actions-paused").await;

    // The action's policy on one page, linked from the actions page.
    b.find(Locator::Css("a[href='/actions/set_status']")).await.unwrap().click().await.unwrap();
    shot("policy").await;

    // The same pages on a phone-sized screen.
    b.set_window_size(390, 844).await.unwrap();
    b.goto(&format!("{base}/log")).await.unwrap();
    shot("log-phone").await;
    b.goto(&format!("{base}/actions")).await.unwrap();
    shot("actions-phone").await;
    let session = b.get_named_cookie("leash_session").await.unwrap().value().to_string();
    assert!(!session.contains(&admin), "the cookie is a session id, not the token");
    b.close().await.unwrap();

    // A form post without the CSRF value is refused, even with the session cookie.
    let id = engine.call(&agent, "review_status", call("8", "solved", None)).await.unwrap().proposal_id.unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{base}/queue/{id}/approve"))
        .header("cookie", format!("leash_session={session}"))
        .form(&[("set.status", "solved")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert_eq!(status(store.as_ref(), "8").await, json!("open"), "nothing changed");

    // The policy page prints without the chrome, and names who approved it.
    let get = |path: &str| {
        reqwest::Client::new().get(format!("{base}{path}")).header("cookie", format!("leash_session={session}")).send()
    };
    let page = get("/actions/set_status").await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("@media print") && html.contains("<h1>set_status</h1>"), "{html}");
    assert!(html.contains("ops at "), "approved by: {html}");
    assert_eq!(get("/actions/nope").await.unwrap().status().as_u16(), 404);

    let _ = stop.send(());
    let _ = server.await;
}
