//! Proposals nobody decided in time: past `expires_at` (on the database's
//! clock) a proposal expires, or — with `on_expire = "escalate"` — stays
//! open, marked escalated, and `proposal.escalated` tells the exception
//! approver. No process has to stay up for it: whichever gateway process
//! looks next (a read of the queue, an approve or reject, the outbox
//! worker's tick) deals with what is due, each proposal once.

use leash_core::journal::ProposalStatus;
use leash_core::policy::OnExpire;

use crate::{Engine, Result};

/// Proposals dealt with per transaction.
pub const EXPIRE_BATCH_MAX: u32 = 200;

impl Engine {
    /// Expires or escalates every open proposal past its deadline; returns
    /// how many it dealt with. Safe from any number of processes: the rows
    /// are locked and re-read, so each is dealt with once.
    pub async fn expire_due(&self) -> Result<usize> {
        if !self.store().has_due_proposals().await? {
            return Ok(0);
        }
        let mut done = 0;
        loop {
            let mut tx = self.store().begin().await?;
            let (now, due) = tx.due_proposals(EXPIRE_BATCH_MAX).await?;
            let n = due.len();
            for mut p in due {
                match p.on_expire.unwrap_or_default() {
                    OnExpire::Reject => {
                        p.status = ProposalStatus::Expired;
                        p.decided_at = Some(now.clone());
                        p.review_note = Some("nobody decided in time; it expired".into());
                        tx.update_proposal(&p).await?;
                        tracing::info!(proposal = %p.id, action = %p.action, "proposal expired");
                    }
                    OnExpire::Escalate => {
                        p.escalated_at = Some(now.clone());
                        tx.update_proposal(&p).await?;
                        let approver = self.policy().action(&p.action).and_then(|a| a.exception_approver.clone());
                        let mut data = serde_json::to_value(&p).unwrap_or_default();
                        data["exception_approver"] = serde_json::json!(approver);
                        self.queue_event(tx.as_mut(), "proposal.escalated", &data).await?;
                        tracing::warn!(proposal = %p.id, action = %p.action, approver = approver.as_deref().unwrap_or(""),
                            "proposal escalated");
                    }
                }
            }
            tx.commit().await?;
            done += n;
            if n < EXPIRE_BATCH_MAX as usize {
                return Ok(done);
            }
        }
    }
}
