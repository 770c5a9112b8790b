//! The outbox: webhook events queued in the transaction that causes them,
//! and handed to the delivery worker (`leash-server`'s `webhooks.rs`), which
//! claims them with a lease so several servers never send one row at once.

use leash_core::chat;
use leash_core::journal::Change;
use leash_core::policy::Notify;
use leash_store::{OutboxRow, StoreTx};

use crate::{Engine, Result};

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
