//! Approving from Slack: the Approve/Reject buttons of a `[[notify]]`
//! message post to `POST /api/v1/slack/actions`. Slack signs each request
//! (`v0:<timestamp>:<body>`, HMAC-SHA256 with the app's signing secret); a
//! bad or old signature is 401, a Slack user not mapped to a reviewer token
//! in `[slack.reviewers]` is 403, and nothing is decided. The person decides
//! as that token, so the journal's approver is its name.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hmac::{Hmac, Mac};
use leash_core::codes::{Code, ErrorCode};
use serde_json::Value;
use sha2::Sha256;

use crate::errors::ApiError;
use crate::AppState;

/// A request signed longer ago than this (or that far in the future) is
/// refused: a captured request cannot be replayed later.
pub const SLACK_REPLAY_WINDOW_S: i64 = 300;
pub const SLACK_TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
pub const SLACK_SIGNATURE_HEADER: &str = "x-slack-signature";

/// `v0=<hex of HMAC-SHA256(secret, "v0:<timestamp>:<body>")>`, as Slack signs.
pub fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length: this cannot fail.
    #[allow(clippy::expect_used)]
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn unauthenticated(why: &str) -> Response {
    ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated.as_str(), why).into_response()
}

/// Whether Slack signed this request with the secret, recently.
fn verified(secret: &str, headers: &HeaderMap, body: &[u8], now_s: i64) -> Result<(), &'static str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let ts = header(SLACK_TIMESTAMP_HEADER).ok_or("no Slack timestamp")?;
    let sent = ts.parse::<i64>().map_err(|_| "the Slack timestamp is not a number")?;
    if (now_s - sent).abs() > SLACK_REPLAY_WINDOW_S {
        return Err("the Slack request is too old (or from the future)");
    }
    let given = header(SLACK_SIGNATURE_HEADER).and_then(|s| s.strip_prefix("v0=")).ok_or("no Slack signature")?;
    let given = hex::decode(given).map_err(|_| "the Slack signature is not hex")?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).map_err(|_| "no signing secret")?;
    mac.update(format!("v0:{ts}:").as_bytes());
    mac.update(body);
    // Constant-time comparison.
    mac.verify_slice(&given).map_err(|_| "the Slack signature does not match")
}

pub async fn actions(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(slack) = s.engine.policy().slack.clone() else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound.as_str(),
            "Slack is not set up in the policy ([slack])",
        )
        .into_response();
    };
    let now_s = s.engine.clock().now().as_second();
    if let Err(why) = verified(&slack.signing_secret, &headers, &body, now_s) {
        tracing::warn!(why, "refused a Slack request");
        return unauthenticated(why);
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let Some(payload) =
        form.iter().find(|(k, _)| k == "payload").and_then(|(_, v)| serde_json::from_str::<Value>(v).ok())
    else {
        return ApiError::invalid("expected a form field `payload` with Slack's JSON").into_response();
    };
    let user = payload["user"]["id"].as_str().unwrap_or_default();
    let Some(name) = slack.reviewers.get(user) else {
        return forbidden(&format!("Slack user {user} is not mapped to a reviewer in [slack.reviewers]"));
    };
    let reviewer = match s.engine.reviewer_named(name).await {
        Ok(c) => c,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some(action) = payload["actions"].as_array().and_then(|a| a.first()) else {
        return ApiError::invalid("the payload has no action").into_response();
    };
    let id = action["value"].as_str().unwrap_or_default();
    let outcome = match action["action_id"].as_str().unwrap_or_default() {
        "leash_approve" => match s.engine.approve(&reviewer, id, Default::default(), Some("approved in Slack")).await {
            Ok(r) if r.code.is_none() => format!("✅ Approved by {name}: {}", r.message),
            Ok(r) => format!("Not approved ({}): {}", r.code.map(Code::as_str).unwrap_or(""), r.message),
            Err(e) => format!("Not approved: {}", e.answer().message),
        },
        "leash_reject" => match s.engine.reject(&reviewer, id, &format!("rejected in Slack by {name}")).await {
            Ok(p) => format!("❌ Rejected by {name}: the {} proposal", p.action),
            Err(e) => format!("Not rejected: {}", e.answer().message),
        },
        // The "Open in leash" link button also reports its click.
        _ => return StatusCode::OK.into_response(),
    };
    tracing::info!(proposal = id, reviewer = %name, outcome = %outcome, "decided in Slack");
    let reply = leash_core::chat::slack_outcome(&outcome);
    if let Some(url) = payload["response_url"].as_str().filter(|u| slack_url(u)) {
        let (url, reply) = (url.to_string(), reply.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build();
            if let Ok(client) = client {
                if let Err(e) = client.post(&url).json(&reply).send().await {
                    tracing::warn!(error = %e, "could not update the Slack message");
                }
            }
        });
    }
    Json(reply).into_response()
}

/// Only Slack's own hosts receive the updated message: the payload is signed,
/// but a URL from it still decides where leash sends a request.
fn slack_url(url: &str) -> bool {
    url.strip_prefix("https://")
        .and_then(|rest| rest.split('/').next())
        .is_some_and(|host| host == "hooks.slack.com" || host.ends_with(".slack.com"))
}

fn forbidden(why: &str) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, Code::NotPermitted.as_str(), why).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_slacks_example() {
        // Slack's documented example request.
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let ts = "1531420618";
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            signature(secret, ts, body.as_bytes()),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
        let mut headers = HeaderMap::new();
        headers.insert(SLACK_TIMESTAMP_HEADER, ts.parse().unwrap());
        headers.insert(SLACK_SIGNATURE_HEADER, signature(secret, ts, body.as_bytes()).parse().unwrap());
        assert!(verified(secret, &headers, body.as_bytes(), 1531420618 + 10).is_ok());
        assert!(verified("wrong", &headers, body.as_bytes(), 1531420618).is_err());
        assert!(verified(secret, &headers, body.as_bytes(), 1531420618 + 301).is_err(), "replayed too late");
        assert!(!slack_url("https://evil.test/hooks.slack.com") && slack_url("https://hooks.slack.com/actions/x"));
    }
}
