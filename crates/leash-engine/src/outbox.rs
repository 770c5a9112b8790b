//! The outbox: webhook events queued in the transaction that causes them,
//! and handed to the delivery worker (`leash-server`'s `webhooks.rs`), which
//! claims them with a lease so several servers never send one row at once.

use leash_core::chat;
use leash_core::journal::Change;
use leash_core::policy::Notify;
use leash_store::{OutboxRow, StoreTx, UndeliveredRow};

use crate::{Engine, Result};

/// How long a delivery is retried: a row still failing this long after its
/// event is parked (kept, shown by `leash verify`, never sent).
pub const OUTBOX_MAX_AGE_S: i64 = 3 * 24 * 3600;
/// How many parked rows `leash verify` lists (it counts them all).
pub const PARKED_SHOWN_MAX: u32 = 50;

/// Where a claimed row goes under the policy the engine runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A `[[webhooks]]` entry: signed with this secret.
    Webhook { secret: String },
    /// A `[[notify]]` chat: its URL is the credential, sent as chats expect.
    Chat,
    /// Neither: the target left the policy, so the row is parked unsent.
    Gone,
}

impl Engine {
    pub(crate) async fn queue_change_event(&self, tx: &mut dyn StoreTx, change: &Change) -> Result<()> {
        let event = if change.reverts.is_some() { "change.reverted" } else { "change.applied" };
        self.queue_event(tx, event, change).await
    }

    /// Queues a webhook event in the same transaction, when a webhook wants it.
    /// One outbox row per webhook that wants the event, each carrying the
    /// same event id so a receiver can drop duplicates.
    pub(crate) async fn queue_event<T: serde::Serialize + Sync + ?Sized>(
        &self,
        tx: &mut dyn StoreTx,
        event: &str,
        payload: &T,
    ) -> Result<()> {
        let policy = self.policy();
        let targets: Vec<&str> = policy
            .webhooks
            .iter()
            .filter(|w| w.events.is_empty() || w.events.iter().any(|e| e == event))
            .map(|w| w.url.as_str())
            .collect();
        let channels: Vec<&Notify> = policy.notify.iter().filter(|n| n.events.iter().any(|e| e == event)).collect();
        if targets.is_empty() && channels.is_empty() {
            return Ok(());
        }
        let event_id = self.clock().id();
        let at = self.clock().stamp();
        let data = serde_json::to_value(payload).unwrap_or_default();
        if !targets.is_empty() {
            let body = serde_json::json!({"id": event_id, "event": event, "at": at, "data": data}).to_string();
            for target in targets {
                tx.insert_outbox(&self.clock().id(), event, &body, &at, target).await?;
            }
        }
        // A chat gets its own message, written now, so the worker only sends.
        for channel in channels {
            let approver = data
                .get("action")
                .and_then(|a| a.as_str())
                .and_then(|a| policy.action(a))
                .and_then(|a| a.exception_approver.as_deref());
            let message = chat::message(channel.kind, event, &data, &channel.ui_url, approver);
            tx.insert_outbox(&self.clock().id(), event, &message.to_string(), &at, &channel.url).await?;
        }
        Ok(())
    }

    /// Claims up to `limit` due deliveries until `lease_until`.
    pub async fn claim_deliveries(&self, now: &str, lease_until: &str, limit: u32) -> Result<Vec<OutboxRow>> {
        Ok(self.store().claim_outbox(now, lease_until, limit).await?)
    }

    /// Where `row` may be sent, by the current policy.
    pub fn delivery_target(&self, row: &OutboxRow) -> Target {
        let policy = self.policy();
        if let Some(w) = policy.webhooks.iter().find(|w| w.url == row.target) {
            return Target::Webhook { secret: w.secret.clone() };
        }
        if policy.notify.iter().any(|n| n.url == row.target) {
            return Target::Chat;
        }
        Target::Gone
    }

    /// Whether a row created at `created_at` is past retrying at `now`.
    pub fn delivery_expired(&self, created_at: &str, now: jiff::Timestamp) -> bool {
        match created_at.parse::<jiff::Timestamp>() {
            Ok(t) => now.duration_since(t).as_secs() > OUTBOX_MAX_AGE_S,
            Err(_) => false,
        }
    }

    /// Parks a delivery for good, with why.
    pub async fn park_delivery(&self, id: &str, reason: &str) -> Result<()> {
        Ok(self.store().park_outbox(id, &self.clock().stamp(), reason).await?)
    }

    /// Undelivered rows (parked, or still retried), newest first, at most
    /// `PARKED_SHOWN_MAX`, and their count; targets and errors redacted.
    pub async fn undelivered(&self, parked: bool) -> Result<(Vec<UndeliveredRow>, u64)> {
        let (mut rows, total) = self.store().undelivered_outbox(parked, PARKED_SHOWN_MAX).await?;
        for row in &mut rows {
            let shown = if self.policy().notify.iter().any(|n| n.url == row.target) {
                leash_core::url::url_origin(&row.target)
            } else {
                leash_core::url::redact_url(&row.target)
            };
            row.last_error = row.last_error.as_deref().map(|e| leash_core::url::scrub(e, &row.target));
            row.target = shown;
        }
        Ok((rows, total))
    }

    /// Marks a delivery done, or schedules its retry with the error it met.
    pub async fn finish_delivery(
        &self,
        id: &str,
        delivered_at: Option<&str>,
        attempts: u32,
        next_attempt_at: &str,
        error: Option<&str>,
    ) -> Result<()> {
        Ok(self.store().finish_outbox(id, delivered_at, attempts, next_attempt_at, error).await?)
    }
}
