//! Chat on a real server: a proposal's Slack message (Block Kit, checked
//! against Slack's rules) and Teams card reach their incoming webhooks
//! through the outbox, and Slack's buttons decide — signed exactly as Slack
//! signs, refused when the signature is wrong or old or the user unknown.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use leash_core::call::Call;
use leash_core::policy::parse_policy;
use leash_engine::{Caller, Engine, Role};
use leash_server::slack::{signature, SLACK_SIGNATURE_HEADER, SLACK_TIMESTAMP_HEADER};
use leash_testkit::{shop, Kind};
use serde_json::{json, Value};

const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

fn policy(hooks: &str) -> String {
    format!(
        r#"
[[actions]]
name = "adjust_amount"
summary = "Correct an invoice's amount."
table = "invoices"
key = "id"
mode = "review"
exception_approver = "finance-lead"
  [actions.fields.amount]
  range = [0, 1000]

[[notify]]
kind = "slack"
url = "{hooks}/slack"
ui_url = "https://leash.example.test"

[[notify]]
kind = "teams"
url = "{hooks}/teams"

[slack]
signing_secret = "{SIGNING_SECRET}"
  [slack.reviewers]
  U0DANA = "dana"
  U0BOT = "assistant"
"#
    )
}

type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// Incoming webhooks of both chats, on loopback.
async fn chats() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let (a, b) = (seen.clone(), seen.clone());
    let app = axum::Router::new()
        .route(
            "/slack",
            axum::routing::post(move |body: String| async move {
                a.lock().unwrap().push(("slack".into(), serde_json::from_str(&body).unwrap_or_default()));
                "ok"
            }),
        )
        .route(
            "/teams",
            axum::routing::post(move |body: String| async move {
                b.lock().unwrap().push(("teams".into(), serde_json::from_str(&body).unwrap_or_default()));
                "1"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

/// Slack's Block Kit rules for the blocks leash sends.
fn check_block_kit(message: &Value) {
    assert!(message["text"].as_str().is_some_and(|t| !t.is_empty()), "a fallback text");
    let blocks = message["blocks"].as_array().expect("blocks");
    assert!(!blocks.is_empty() && blocks.len() <= 50);
    for block in blocks {
        match block["type"].as_str().unwrap() {
            "header" => {
                assert_eq!(block["text"]["type"], "plain_text");
                assert!(block["text"]["text"].as_str().unwrap().chars().count() <= 150);
            }
            "section" => {
                let text = block["text"]["text"].as_str();
                let fields = block["fields"].as_array();
                assert!(text.is_some() || fields.is_some(), "a section has text or fields");
                assert!(text.is_none_or(|t| t.chars().count() <= 3000));
                for f in fields.into_iter().flatten() {
                    assert!(["mrkdwn", "plain_text"].contains(&f["type"].as_str().unwrap()));
                    assert!(f["text"].as_str().unwrap().chars().count() <= 2000);
                }
                assert!(fields.is_none_or(|f| f.len() <= 10));
            }
            "context" => assert!(!block["elements"].as_array().unwrap().is_empty()),
            "actions" => {
                let elements = block["elements"].as_array().unwrap();
                assert!(!elements.is_empty() && elements.len() <= 25);
                for e in elements {
                    assert_eq!(e["type"], "button");
                    assert_eq!(e["text"]["type"], "plain_text");
                    assert!(e["text"]["text"].as_str().unwrap().chars().count() <= 75);
                    assert!(e["action_id"].as_str().unwrap().len() <= 255);
                    assert!(e["value"].as_str().is_none_or(|v| v.len() <= 2000));
                    assert!(e["style"].as_str().is_none_or(|s| s == "primary" || s == "danger"));
                }
            }
            other => panic!("a block type leash does not send: {other}"),
        }
    }
}

fn check_adaptive_card(message: &Value) {
    assert_eq!(message["type"], "message");
    let attachment = &message["attachments"][0];
    assert_eq!(attachment["contentType"], "application/vnd.microsoft.card.adaptive");
    let card = &attachment["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert!(card["version"].as_str().is_some());
    for item in card["body"].as_array().unwrap() {
        assert!(["TextBlock", "FactSet"].contains(&item["type"].as_str().unwrap()), "{item}");
    }
    for action in card["actions"].as_array().unwrap() {
        assert_eq!(action["type"], "Action.OpenUrl");
    }
}

async fn slack_post(base: &str, secret: &str, age_s: i64, user: &str, action_id: &str, id: &str) -> reqwest::Response {
    let payload = json!({"type": "block_actions", "user": {"id": user},
        "actions": [{"action_id": action_id, "value": id}], "response_url": "https://hooks.slack.com/actions/T/1/x"});
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let ts = (jiff::Timestamp::now().as_second() - age_s).to_string();
    reqwest::Client::new()
        .post(format!("{base}/api/v1/slack/actions"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(SLACK_TIMESTAMP_HEADER, &ts)
        .header(SLACK_SIGNATURE_HEADER, signature(secret, &ts, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_messages_reach_both_chats_and_slack_buttons_decide_as_the_mapped_reviewer() {
    // The shop's invoices 1..=3 are 100, 200 and 300.
    let shop = shop::build(Kind::Sqlite).await.unwrap();
    let (hooks, seen) = chats().await;
    let store = shop.store.clone();
    let engine = Engine::open(parse_policy("leash.toml", &policy(&hooks)).unwrap(), store.clone()).await.unwrap();
    let ops = Caller::local("ops");
    engine.approve_policy(&ops, None).await.unwrap();
    engine.create_token(&ops, "dana", Role::Reviewer, Vec::new()).await.unwrap();
    engine.create_token(&ops, "assistant", Role::Agent, Vec::new()).await.unwrap();
    let agent = engine.caller_named("assistant").await.unwrap();
    let engine = Arc::new(engine);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(leash_server::serve_on(engine.clone(), listener, async {
        let _ = stopped.await;
    }));

    let propose = |key: &str, amount: &str, reason: &str| Call {
        key: Some(json!(key)),
        set: [("amount".to_string(), json!(amount))].into_iter().collect(),
        reason: Some(reason.into()),
        ..Call::default()
    };
    let first = engine.call(&agent, "adjust_amount", propose("1", "95", "customer <@U0DANA> asked")).await.unwrap();
    let first = first.proposal_id.unwrap();
    let second = engine.call(&agent, "adjust_amount", propose("2", "150", "duplicate charge")).await.unwrap();
    let second = second.proposal_id.unwrap();

    // Both chats hear about both proposals, through the outbox.
    for _ in 0..100 {
        if seen.lock().unwrap().len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let messages = seen.lock().unwrap().clone();
    assert_eq!(messages.len(), 4, "{messages:?}");
    for (chat, m) in &messages {
        match chat.as_str() {
            "slack" => check_block_kit(m),
            _ => check_adaptive_card(m),
        }
    }
    let slack = messages.iter().find(|(c, m)| c == "slack" && m.to_string().contains(&first)).unwrap();
    let text = slack.1.to_string();
    assert!(text.contains("https://leash.example.test/proposals/") && text.contains("finance-lead"), "{text}");
    assert!(!text.contains("<@U0DANA>"), "agent text cannot mention anyone: {text}");

    // A wrong secret, an old timestamp, an unmapped user and an agent's
    // token: refused, nothing decided.
    assert_eq!(slack_post(&base, "not-the-secret", 0, "U0DANA", "leash_approve", &first).await.status(), 401);
    assert_eq!(slack_post(&base, SIGNING_SECRET, 600, "U0DANA", "leash_approve", &first).await.status(), 401);
    assert_eq!(slack_post(&base, SIGNING_SECRET, 0, "U0NOBODY", "leash_approve", &first).await.status(), 403);
    assert_eq!(slack_post(&base, SIGNING_SECRET, 0, "U0BOT", "leash_approve", &first).await.status(), 403);
    let open = engine.queue(&Caller::local("ops")).await.unwrap();
    assert_eq!(open.len(), 2, "nothing was decided");

    // Signed as Slack signs: approved as dana, and the message is replaced.
    let resp = slack_post(&base, SIGNING_SECRET, 0, "U0DANA", "leash_approve", &first).await;
    assert_eq!(resp.status(), 200);
    let reply: Value = resp.json().await.unwrap();
    assert_eq!(reply["replace_original"], true);
    assert!(reply["text"].as_str().unwrap().contains("Approved by dana"), "{reply}");
    let change = store.changes(&Default::default()).await.unwrap().pop().unwrap();
    assert_eq!(change.approver.as_deref(), Some("dana"), "the journal's approver is the mapped reviewer");
    let resp = slack_post(&base, SIGNING_SECRET, 0, "U0DANA", "leash_reject", &second).await;
    let reply: Value = resp.json().await.unwrap();
    assert!(reply["text"].as_str().unwrap().contains("Rejected by dana"), "{reply}");
    assert!(engine.queue(&Caller::local("ops")).await.unwrap().is_empty());

    // Dana's own call cannot be decided by dana, in Slack either.
    let dana = engine.caller_named("dana").await.unwrap();
    let own = engine.call(&dana, "adjust_amount", propose("3", "250", "refund")).await.unwrap();
    let own = own.proposal_id.unwrap();
    for action in ["leash_approve", "leash_reject"] {
        let resp = slack_post(&base, SIGNING_SECRET, 0, "U0DANA", action, &own).await;
        let reply: Value = resp.json().await.unwrap();
        let text = reply["text"].as_str().unwrap();
        assert!(text.starts_with("Not ") && text.contains("may not"), "{action}: {reply}");
    }
    assert_eq!(engine.queue(&Caller::local("ops")).await.unwrap().len(), 1, "still open");

    let _ = stop.send(());
    let _ = server.await;
}
