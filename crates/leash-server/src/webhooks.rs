//! Delivers `leash_outbox` rows to webhooks: HMAC-SHA256 signed, retried
//! with backoff, at least once (a receiver de-duplicates by event id), and
//! resumed after a restart because the rows live in the database. A row is
//! sent only to a target the running policy still names (a webhook always
//! signed, a chat by its URL); redirects are never followed; a row whose
//! target left, or that fails past `OUTBOX_MAX_AGE_S`, is parked. Target URLs
//! are printed only redacted: they may carry credentials.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use leash_core::url::{redact_url, scrub, url_origin};
use leash_engine::{stamp, Engine, OutboxRow, Target};
use sha2::Sha256;

pub const POLL_INTERVAL_MS: u64 = 250;
pub const DELIVERY_TIMEOUT_S: u64 = 10;
/// How long a claimed row stays with this worker before another may retry it.
pub const CLAIM_LEASE_S: i64 = 60;
pub const RETRY_BACKOFF_S_MAX: i64 = 3600;
pub const BATCH_MAX: u32 = 32;
pub const SIGNATURE_HEADER: &str = "x-leash-signature";
pub const EVENT_ID_HEADER: &str = "x-leash-event-id";
pub const EVENT_HEADER: &str = "x-leash-event";

/// `sha256=<hex>` of the body under the webhook's secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn backoff_s(attempts: u32) -> i64 {
    (1i64 << attempts.min(12)).min(RETRY_BACKOFF_S_MAX)
}

/// The delivery client: a redirect is an answer, never followed (it would
/// re-POST the signed body to wherever the receiver points).
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(DELIVERY_TIMEOUT_S))
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// How often the worker deals with proposals whose time is up.
pub const EXPIRY_POLL_MS: u64 = 5_000;

/// Runs until the task is aborted: delivers the outbox, and deals with
/// expired proposals (any gateway's worker may; each is dealt with once).
pub async fn run(engine: Arc<Engine>) {
    let policy = engine.policy();
    let delivers = !policy.webhooks.is_empty() || !policy.notify.is_empty();
    let expires = policy.actions.iter().any(|a| a.review.expire_s.is_some());
    let client = match client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhooks disabled: no HTTP client");
            return;
        }
    };
    if !delivers {
        // Rows queued for webhooks this policy no longer has: park them once.
        while let Ok(n) = deliver_due(&engine, &client).await {
            if n == 0 {
                break;
            }
        }
    }
    if !delivers && !expires {
        return;
    }
    let mut expired_at: Option<std::time::Instant> = None;
    loop {
        if expires && expired_at.is_none_or(|t| t.elapsed() >= Duration::from_millis(EXPIRY_POLL_MS)) {
            expired_at = Some(std::time::Instant::now());
            if let Err(e) = engine.expire_due().await {
                tracing::warn!(error = %e, "dealing with expired proposals failed; will retry");
            }
        }
        if delivers {
            if let Err(e) = deliver_due(&engine, &client).await {
                tracing::warn!(error = %e, "webhook delivery pass failed; will retry");
            }
        }
        tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
    }
}

/// Delivers every due row once (tests call it to run one pass).
/// Returns how many rows it claimed.
pub async fn deliver_due(engine: &Engine, client: &reqwest::Client) -> Result<usize, leash_engine::EngineError> {
    let now = engine.clock().now();
    let lease = now.checked_add(jiff::SignedDuration::from_secs(CLAIM_LEASE_S)).unwrap_or(now);
    let rows = engine.claim_deliveries(&stamp(now), &stamp(lease), BATCH_MAX).await?;
    let claimed = rows.len();
    for row in rows {
        let target = engine.delivery_target(&row);
        // A chat URL is its own credential: only its host is ever printed.
        let shown = if target == Target::Chat { url_origin(&row.target) } else { redact_url(&row.target) };
        let secret = match target {
            Target::Webhook { secret } => Some(secret),
            Target::Chat => None,
            Target::Gone => {
                let why = "its webhook is no longer in the policy; never sent";
                tracing::warn!(target = %shown, event = %row.event, id = %row.id, "webhook delivery parked: {why}");
                engine.park_delivery(&row.id, why).await?;
                continue;
            }
        };
        let outcome = send(client, &row, secret.as_deref()).await.map_err(|why| scrub(&why, &row.target));
        let attempts = row.attempts + 1;
        let done = engine.clock().now();
        match outcome {
            Ok(()) => engine.finish_delivery(&row.id, Some(&stamp(done)), attempts, &stamp(done), None).await?,
            Err(why) if engine.delivery_expired(&row.created_at, done) => {
                let days = leash_engine::OUTBOX_MAX_AGE_S / 86_400;
                let reason = format!("still failing after {days} day(s) and {attempts} attempt(s); last error: {why}");
                tracing::warn!(target = %shown, event = %row.event, id = %row.id, "webhook delivery parked: {reason}");
                engine.finish_delivery(&row.id, None, attempts, &stamp(done), Some(&why)).await?;
                engine.park_delivery(&row.id, &reason).await?
            }
            Err(why) => {
                let next = done.checked_add(jiff::SignedDuration::from_secs(backoff_s(attempts))).unwrap_or(done);
                tracing::warn!(target = %shown, event = %row.event, attempts, error = %why, "webhook delivery failed; retrying later");
                engine.finish_delivery(&row.id, None, attempts, &stamp(next), Some(&why)).await?
            }
        }
    }
    Ok(claimed)
}

/// One POST; the error never quotes the URL (reqwest's would, credentials and all).
async fn send(client: &reqwest::Client, row: &OutboxRow, secret: Option<&str>) -> Result<(), String> {
    let event_id = serde_json::from_str::<serde_json::Value>(&row.payload)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_string))
        .unwrap_or_default();
    let mut req = client
        .post(&row.target)
        .header("content-type", "application/json")
        .header(EVENT_HEADER, &row.event)
        .header(EVENT_ID_HEADER, &event_id)
        .body(row.payload.clone());
    if let Some(secret) = secret {
        req = req.header(SIGNATURE_HEADER, signature(secret, row.payload.as_bytes()));
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) if r.status().is_redirection() => Err(format!(
            "HTTP {} (a redirect; leash does not follow redirects, point the webhook at the final URL)",
            r.status()
        )),
        Ok(r) => Err(format!("HTTP {}", r.status())),
        Err(e) => Err(error_text(e.without_url())),
    }
}

/// The error and its causes, one line.
fn error_text(e: reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
