//! Webhook delivery under hostile conditions, on every store: rows whose
//! webhook left the policy are parked and never sent, redirects are never
//! followed, retries stop after `OUTBOX_MAX_AGE_S`, and a URL's credentials
//! never reach `last_error` or `leash verify`. The policy side (secret
//! required, URLs checked) is here too. The events are the testkit shop's
//! ticket changes.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use leash_core::call::Call;
use leash_core::policy::parse_policy;
use leash_engine::{Caller, Clock, Engine, Role};
use leash_server::webhooks::{client, deliver_due, SIGNATURE_HEADER};
use leash_testkit::shop::{self, Shop};
use leash_testkit::{conformance, Kind};
use serde_json::json;

const SECRET: &str = "whsec-for-security-tests";

/// The shop's policy with these webhooks.
fn policy(hooks: &[&str]) -> String {
    let mut text = String::new();
    for hook in hooks {
        text.push_str(&format!("[[webhooks]]\nurl = \"{hook}\"\nsecret = \"{SECRET}\"\n\n"));
    }
    text.push_str(shop::POLICY);
    text
}

type Seen = Arc<Mutex<Vec<(String, HeaderMap)>>>;

/// A receiver on loopback that records every request; with `redirect_to`
/// it answers each with a 307 pointing there.
async fn receiver(redirect_to: Option<String>) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap| {
        let log = log.clone();
        let redirect_to = redirect_to.clone();
        async move {
            log.lock().unwrap().push((uri.to_string(), headers));
            let answer = axum::response::Response::builder();
            match redirect_to {
                Some(to) => answer.status(StatusCode::TEMPORARY_REDIRECT).header("location", to),
                None => answer.status(StatusCode::OK),
            }
            .body(axum::body::Body::empty())
            .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

/// An engine on `db` running a policy with these webhooks; `days_later`
/// moves its clock forward, as a gateway started days after the event.
async fn engine(db: &Shop, hooks: &[&str], days_later: i64) -> Engine {
    let policy = parse_policy("leash.toml", &policy(hooks)).unwrap();
    let shift = jiff::SignedDuration::from_hours(24 * days_later);
    let clock = Clock::new(move || jiff::Timestamp::now().checked_add(shift).unwrap());
    let engine = Engine::open(policy, db.store.clone()).await.unwrap().with_clock(clock);
    engine.approve_policy(&Caller::local("ops"), None).await.unwrap();
    engine
}

async fn change_a_ticket(engine: &Engine, key: &str) {
    let agent = Caller { name: "assistant".into(), role: Role::Agent, actions: Vec::new() };
    let call = Call {
        key: Some(json!(key)),
        set: [("status".to_string(), json!("solved"))].into_iter().collect(),
        ..Call::default()
    };
    let r = engine.call(&agent, "set_status", call).await.unwrap();
    assert!(r.change_id.is_some(), "{r:?}");
}

/// Removing a webhook from the policy stops its queued events: they must
/// not go out unsigned to the old URL, nor be retried forever.
async fn rows_of_a_removed_webhook_are_parked_and_never_sent(kind: Kind) {
    let Some(db) = shop::build(kind).await else { return };
    let (old, old_seen) = receiver(None).await;
    let (new, new_seen) = receiver(None).await;
    let before = engine(&db, &[&format!("{old}/hook")], 0).await;
    change_a_ticket(&before, "1").await;

    let after = engine(&db, &[&format!("{new}/hook")], 0).await;
    let http = client().unwrap();
    assert_eq!(deliver_due(&after, &http).await.unwrap(), 1, "the old row is claimed once");
    assert_eq!(deliver_due(&after, &http).await.unwrap(), 0, "and never again");
    assert!(old_seen.lock().unwrap().is_empty(), "the removed webhook hears nothing");
    assert!(new_seen.lock().unwrap().is_empty(), "nor does the new one: the event was not for it");

    let report = after.verify().await.unwrap();
    assert!(report.ok, "parked rows are not an integrity problem: {report:?}");
    assert_eq!(report.parked_total, 1, "{report:?}");
    let parked = &report.parked[0];
    assert_eq!(parked.target, format!("{old}/hook"));
    assert!(parked.last_error.as_deref().unwrap_or("").contains("no longer in the policy"), "{parked:?}");

    // A change under the new policy goes to the new webhook, signed.
    change_a_ticket(&after, "100").await;
    assert_eq!(deliver_due(&after, &http).await.unwrap(), 1);
    let got = new_seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert!(got[0].1.get(SIGNATURE_HEADER).is_some(), "every webhook delivery is signed");
    assert!(old_seen.lock().unwrap().is_empty());
}

/// A 307 is an answer, not an instruction; the signed body never
/// reaches the second listener, the row stays undelivered and is parked when
/// it grows too old.
async fn a_redirect_is_never_followed(kind: Kind) {
    let Some(db) = shop::build(kind).await else { return };
    let (elsewhere, elsewhere_seen) = receiver(None).await;
    let (hook, hook_seen) = receiver(Some(format!("{elsewhere}/stolen"))).await;
    let now = engine(&db, &[&format!("{hook}/hook")], 0).await;
    change_a_ticket(&now, "1").await;
    let http = client().unwrap();
    assert_eq!(deliver_due(&now, &http).await.unwrap(), 1);
    assert_eq!(hook_seen.lock().unwrap().len(), 1, "the webhook is asked once");
    assert!(elsewhere_seen.lock().unwrap().is_empty(), "the redirect target receives nothing");
    let (waiting, total) = now.undelivered(false).await.unwrap();
    assert_eq!(total, 1, "not delivered: {waiting:?}");
    let error = waiting[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("307") && error.contains("redirect"), "{error}");

    let later = engine(&db, &[&format!("{hook}/hook")], 4).await;
    assert_eq!(deliver_due(&later, &http).await.unwrap(), 1);
    assert!(elsewhere_seen.lock().unwrap().is_empty());
    let report = later.verify().await.unwrap();
    assert_eq!(report.parked_total, 1, "past the maximum age it is parked: {report:?}");
    assert_eq!(later.undelivered(false).await.unwrap().1, 0);
}

/// A failing delivery keeps no credential of its URL in
/// `last_error` (reqwest quotes the URL whole), and after
/// `OUTBOX_MAX_AGE_S` it is parked, shown redacted by `verify`.
async fn url_credentials_never_reach_last_error_and_old_failures_are_parked(kind: Kind) {
    let Some(db) = shop::build(kind).await else { return };
    let hook = "http://user:pass@127.0.0.1:1/x?token=s";
    let now = engine(&db, &[hook], 0).await;
    change_a_ticket(&now, "1").await;
    let http = client().unwrap();
    assert_eq!(deliver_due(&now, &http).await.unwrap(), 1);
    let (raw, _) = db.store.undelivered_outbox(false, 10).await.unwrap();
    assert_eq!(raw.len(), 1);
    let error = raw[0].last_error.clone().expect("a failed delivery records its error");
    assert!(!error.is_empty());
    assert!(!error.contains("pass") && !error.contains("token=s"), "last_error leaks the URL: {error}");

    let later = engine(&db, &[hook], 4).await;
    assert_eq!(deliver_due(&later, &http).await.unwrap(), 1);
    let (parked, total) = db.store.undelivered_outbox(true, 10).await.unwrap();
    assert_eq!(total, 1, "{parked:?}");
    let reason = parked[0].last_error.clone().unwrap_or_default();
    assert!(reason.contains("still failing after 3 day(s)"), "{reason}");
    assert!(!reason.contains("pass") && !reason.contains("token=s"), "{reason}");
    let report = serde_json::to_string(&later.verify().await.unwrap()).unwrap();
    assert!(report.contains("http://…@127.0.0.1:1/x?…"), "{report}");
    assert!(!report.contains("pass") && !report.contains("token=s"), "{report}");
    assert_eq!(deliver_due(&later, &http).await.unwrap(), 0, "a parked row is never claimed");
}

conformance!(
    rows_of_a_removed_webhook_are_parked_and_never_sent,
    a_redirect_is_never_followed,
    url_credentials_never_reach_last_error_and_old_failures_are_parked,
);

fn load_error(text: &str) -> String {
    match parse_policy("leash.toml", text) {
        Ok(_) => panic!("expected the policy to be refused:\n{text}"),
        Err(errors) => errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"),
    }
}

fn action() -> String {
    policy(&[])
}

/// Nothing is ever sent unsigned, so a webhook without a secret does not load.
#[test]
fn a_webhook_without_a_secret_is_refused_at_load() {
    let action = action();
    for hook in
        ["[[webhooks]]\nurl = \"https://h.test/x\"\n", "[[webhooks]]\nurl = \"https://h.test/x\"\nsecret = \"  \"\n"]
    {
        let error = load_error(&format!("{hook}\n{action}"));
        assert!(error.contains("missing required key `secret`") && error.contains("add secret ="), "{error}");
    }
    assert!(parse_policy("leash.toml", &policy(&["https://h.test/x"])).is_ok());
}

/// URLs that are not absolute http(s) with a host are refused
/// with a clear message, and the message never repeats userinfo or query.
#[test]
fn webhook_and_chat_urls_are_checked_at_load_and_printed_redacted() {
    let bad = [
        ("http://", "has no host"),
        ("https://", "has no host"),
        ("ftp://h.test/x", "must start with http:// or https://"),
        ("http://h .test/x", "contains spaces"),
        ("h.test/hook", "not an absolute URL"),
        ("http://h.test:0/x", "port"),
        ("http://user:pass@/x?token=s", "has no host"),
    ];
    let action = action();
    for (url, why) in bad {
        let webhook = format!("[[webhooks]]\nurl = \"{url}\"\nsecret = \"k\"\n\n{action}");
        let notify = format!("[[notify]]\nkind = \"slack\"\nurl = \"{url}\"\n\n{action}");
        for text in [webhook, notify] {
            let error = load_error(&text);
            assert!(error.contains(why), "{url}: {error}");
            assert!(!error.contains("pass") && !error.contains("token=s"), "{url}: {error}");
        }
    }
    let remote_http =
        load_error(&format!("[[notify]]\nkind = \"slack\"\nurl = \"http://u:p@h.test/T/B/sec?x=1\"\n\n{action}"));
    assert!(remote_http.contains("must be an https URL"), "{remote_http}");
    assert!(!remote_http.contains("sec") && !remote_http.contains("u:p"), "{remote_http}");
}
