//! Delivers `leash_outbox` rows to webhooks: HMAC-SHA256 signed, retried
//! with backoff, at least once (a receiver de-duplicates by event id), and
//! resumed after a restart because the rows live in the database.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use leash_engine::{stamp, Engine};
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

/// How often the worker deals with proposals whose time is up.
pub const EXPIRY_POLL_MS: u64 = 5_000;

/// Runs until the task is aborted: delivers the outbox, and deals with
/// expired proposals (any gateway's worker may; each is dealt with once).
pub async fn run(engine: Arc<Engine>) {
    let policy = engine.policy();
    let delivers = !policy.webhooks.is_empty() || !policy.notify.is_empty();
    let expires = policy.actions.iter().any(|a| a.review.expire_s.is_some());
    if !delivers && !expires {
        return;
    }
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(DELIVERY_TIMEOUT_S)).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhooks disabled: no HTTP client");
            return;
        }
    };
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

async fn deliver_due(engine: &Engine, client: &reqwest::Client) -> Result<(), leash_engine::EngineError> {
    let now = engine.clock().now();
    let lease = now.checked_add(jiff::SignedDuration::from_secs(CLAIM_LEASE_S)).unwrap_or(now);
    for row in engine.claim_deliveries(&stamp(now), &stamp(lease), BATCH_MAX).await? {
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
        if let Some(secret) =
            engine.policy().webhooks.iter().find(|w| w.url == row.target).and_then(|w| w.secret.as_deref())
        {
            req = req.header(SIGNATURE_HEADER, signature(secret, row.payload.as_bytes()));
        }
        let outcome = match req.send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("HTTP {}", r.status())),
            Err(e) => Err(e.to_string()),
        };
        let attempts = row.attempts + 1;
        let done = engine.clock().now();
        match outcome {
            Ok(()) => engine.finish_delivery(&row.id, Some(&stamp(done)), attempts, &stamp(done), None).await?,
            Err(why) => {
                let next = done.checked_add(jiff::SignedDuration::from_secs(backoff_s(attempts))).unwrap_or(done);
                tracing::warn!(target = %row.target, event = %row.event, attempts, error = %why, "webhook delivery failed; retrying later");
                engine.finish_delivery(&row.id, None, attempts, &stamp(next), Some(&why)).await?
            }
        }
    }
    Ok(())
}
