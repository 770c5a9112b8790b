//! Everything else leash keeps in a write transaction: proposals, pauses
//! and their history, limit counters, idempotency keys, runs, outbox rows,
//! tokens, policy approvals and breaker events.

use leash_core::journal::{Proposal, ProposalStatus};
use leash_core::value::{display, Value};

use super::query::json_text;
use super::tx::SqlTx;
use crate::rows::{
    approval_from_row, pause_from_row, proposal_from_row, value_at, APPROVAL_COLUMNS, PAUSE_COLUMNS, PROPOSAL_COLUMNS,
};
use crate::*;

pub(super) async fn insert_proposal(tx: &mut SqlTx, p: &Proposal) -> Result<()> {
    let mut q = tx.q(&format!("INSERT INTO leash_proposals ({PROPOSAL_COLUMNS}) VALUES ("));
    q.text(&p.id).push(", ").text(&p.created_at).push(", ").text(&p.action).push(", ").text(&p.table_name).push(", ");
    q.opt_text(p.record_key.as_deref()).push(", ").text(&json_text(&p.fields)).push(", ");
    q.text(&json_text(&p.reasons)).push(", ").text(&json_text(&p.notes)).push(", ").text(p.status.as_str()).push(", ");
    q.text(&p.actor).push(", ").opt_text(p.reason.as_deref()).push(", ").opt_text(p.evidence.as_deref()).push(", ");
    q.opt_float(p.confidence).push(", ").opt_text(p.run_id.as_deref()).push(", ");
    q.opt_text(p.reviewer.as_deref()).push(", ");
    q.opt_text(p.decided_at.as_deref()).push(", ").opt_text(p.review_note.as_deref()).push(", ");
    q.opt_text(p.edited.as_ref().map(json_text).as_deref()).push(", ").opt_text(p.change_id.as_deref()).push(", ");
    q.opt_text(p.group.as_deref()).push(", ").opt_text(p.expires_at.as_deref()).push(", ");
    q.opt_text(p.on_expire.map(|o| o.as_str())).push(", ").opt_text(p.escalated_at.as_deref()).push(")");
    tx.exec(q).await?;
    Ok(())
}

pub(super) async fn lock_proposal(tx: &mut SqlTx, id: &str) -> Result<Option<Proposal>> {
    let mut q = tx.q(&format!("SELECT {PROPOSAL_COLUMNS} FROM leash_proposals WHERE id = "));
    q.text(id).push(tx.dialect().for_update());
    tx.one(q).await?.as_ref().map(proposal_from_row).transpose()
}

pub(super) async fn update_proposal(tx: &mut SqlTx, p: &Proposal) -> Result<()> {
    let mut q = tx.q("UPDATE leash_proposals SET status = ");
    q.text(p.status.as_str()).push(", reviewer = ").opt_text(p.reviewer.as_deref());
    q.push(", decided_at = ").opt_text(p.decided_at.as_deref());
    q.push(", review_note = ").opt_text(p.review_note.as_deref());
    q.push(", edited = ").opt_text(p.edited.as_ref().map(json_text).as_deref());
    q.push(", change_id = ").opt_text(p.change_id.as_deref());
    q.push(", escalated_at = ").opt_text(p.escalated_at.as_deref()).push(" WHERE id = ").text(&p.id);
    tx.exec(q).await?;
    Ok(())
}

pub(super) async fn pauses_for(tx: &mut SqlTx, action: &str) -> Result<Vec<Pause>> {
    let mut q = tx.q(&format!("SELECT {PAUSE_COLUMNS} FROM leash_state WHERE scope IN ("));
    q.text(ALL_SCOPE).push(", ").text(action).push(")");
    tx.all(q).await?.iter().map(pause_from_row).collect()
}

/// The pauses in force and the record's chain head, in one round trip.
pub(super) async fn call_context(
    tx: &mut SqlTx,
    action: &str,
    table: &str,
    key: Option<&str>,
) -> Result<(Vec<Pause>, Option<String>)> {
    let Some(key) = key else {
        return Ok((pauses_for(tx, action).await?, None));
    };
    let mut q = tx.q(&format!("SELECT {PAUSE_COLUMNS}, NULL AS hash FROM leash_state WHERE scope IN ("));
    q.text(ALL_SCOPE)
        .push(", ")
        .text(action)
        .push(") UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, h.hash FROM (");
    q.push("SELECT hash FROM leash_changes WHERE table_name = ").text(table).push(" AND record_key = ").text(key);
    q.push(" ORDER BY seq DESC LIMIT 1) h");
    let (mut pauses, mut head) = (Vec::new(), None);
    for row in tx.all(q).await? {
        match value_at(&row, 6)? {
            Value::Null => pauses.push(pause_from_row(&row)?),
            hash => head = Some(display(&hash)),
        }
    }
    Ok((pauses, head))
}

pub(super) async fn set_pause(tx: &mut SqlTx, p: &Pause) -> Result<()> {
    let mut q = tx.q("DELETE FROM leash_state WHERE scope = ");
    q.text(&p.scope);
    tx.exec(q).await?;
    // The current state, and its history with who and why.
    let mut q = tx.q("INSERT INTO leash_state (scope, kind, reason, by_name, at, change_ids) VALUES (");
    q.text(&p.scope).push(", ").text(p.kind.as_str()).push(", ").text(&p.reason).push(", ");
    let ids = (!p.change_ids.is_empty()).then(|| json_text(&p.change_ids));
    q.text(&p.by).push(", ").text(&p.at).push(", ").opt_text(ids.as_deref()).push(")");
    tx.exec(q).await?;
    let mut q = tx.q("INSERT INTO leash_state_log (scope, event, reason, by_name, at) VALUES (");
    q.text(&p.scope).push(", ").text(p.kind.as_str()).push(", ").text(&p.reason).push(", ");
    q.text(&p.by).push(", ").text(&p.at).push(")");
    tx.exec(q).await?;
    Ok(())
}

pub(super) async fn clear_pause(tx: &mut SqlTx, scope: &str, by: &str, at: &str, reason: &str) -> Result<bool> {
    let mut q = tx.q("DELETE FROM leash_state WHERE scope = ");
    q.text(scope);
    let cleared = tx.exec(q).await? > 0;
    let mut q = tx.q("INSERT INTO leash_state_log (scope, event, reason, by_name, at) VALUES (");
    q.text(scope).push(", 'resume', ").text(reason).push(", ").text(by).push(", ").text(at).push(")");
    tx.exec(q).await?;
    Ok(cleared)
}

pub(super) async fn bump_counter(tx: &mut SqlTx, name: &str, window_start: i64, max: u32) -> Result<bool> {
    let mut q = tx.q("INSERT INTO leash_limits (name, window_start, count) VALUES (");
    q.text(name).push(", ").int(window_start).push(", 0)");
    q.push(&tx.dialect().insert_or_keep("name, window_start", "count"));
    tx.exec(q).await?;
    // The row lock taken here is held to commit, and the WHERE is
    // re-checked against the latest committed count, so N processes
    // together never pass the cap.
    let mut q = tx.q("UPDATE leash_limits SET count = count + 1 WHERE name = ");
    q.text(name).push(" AND window_start = ").int(window_start).push(" AND count < ").int(max as i64);
    Ok(tx.exec(q).await? == 1)
}

pub(super) async fn idempotent_result(tx: &mut SqlTx, action: &str, actor: &str, key: &str) -> Result<Option<String>> {
    let mut q = tx.q("SELECT result FROM leash_idempotency WHERE action = ");
    q.text(action).push(" AND actor = ").text(actor).push(" AND idem_key = ").text(key);
    tx.one(q).await?.map(|row| Ok(display(&value_at(&row, 0)?))).transpose()
}

pub(super) async fn save_idempotent(
    tx: &mut SqlTx,
    action: &str,
    actor: &str,
    key: &str,
    result: &str,
    at: &str,
) -> Result<()> {
    let mut q = tx.q("INSERT INTO leash_idempotency (action, actor, idem_key, result, at) VALUES (");
    q.text(action).push(", ").text(actor).push(", ").text(key).push(", ").text(result).push(", ").text(at).push(")");
    tx.exec(q).await?;
    Ok(())
}

pub(super) async fn touch_run(tx: &mut SqlTx, run_id: &str, actor: &str, action: &str, at: &str) -> Result<()> {
    let d = tx.dialect();
    let mut q = tx.q("INSERT INTO leash_runs (run_id, actor, action, started_at, last_at) VALUES (");
    q.text(run_id).push(", ").text(actor).push(", ").text(action).push(", ").text(at).push(", ").text(at).push(")");
    q.push(&d.on_conflict_update("run_id, actor")).push("last_at = ").text(at);
    q.push(&format!(", calls = {}calls + 1", d.existing_row("leash_runs")));
    tx.exec(q).await?;
    Ok(())
}

pub(super) async fn insert_outbox(
    tx: &mut SqlTx,
    id: &str,
    event: &str,
    payload: &str,
    at: &str,
    target: &str,
) -> Result<()> {
    let mut q = tx.q("INSERT INTO leash_outbox (id, event, payload, created_at, next_attempt_at, target) VALUES (");
    q.text(id).push(", ").text(event).push(", ").text(payload).push(", ").text(at).push(", ").text(at);
    q.push(", ").text(target).push(")");
    tx.exec(q).await?;
    Ok(())
}

pub(super) async fn save_token(tx: &mut SqlTx, t: &TokenRow, hash: &str) -> Result<()> {
    let mut q = tx.q("INSERT INTO leash_tokens (name, role, actions, hash, created_at) VALUES (");
    q.text(&t.name).push(", ").text(&t.role).push(", ").text(&json_text(&t.actions)).push(", ").text(hash);
    q.push(", ").text(&t.created_at).push(")");
    tx.exec(q).await?;
    Ok(())
}

pub(super) async fn revoke_token(tx: &mut SqlTx, name: &str, at: &str) -> Result<bool> {
    let mut q = tx.q("UPDATE leash_tokens SET revoked_at = ");
    q.text(at).push(" WHERE name = ").text(name).push(" AND revoked_at IS NULL");
    Ok(tx.exec(q).await? == 1)
}

pub(super) async fn insert_approval(tx: &mut SqlTx, a: &Approval) -> Result<()> {
    let mut q = tx.q(&format!("INSERT INTO leash_policy_approvals ({APPROVAL_COLUMNS}) VALUES ("));
    q.text(&a.action).push(", ").text(&a.action_hash).push(", ").text(&a.policy_hash).push(", ");
    q.text(&a.approved_by).push(", ").opt_text(a.note.as_deref()).push(", ").text(&a.at).push(", ");
    q.opt_text(a.page.as_deref()).push(")");
    tx.exec(q).await?;
    Ok(())
}

pub(super) async fn approval_for(tx: &mut SqlTx, action: &str, action_hash: &str) -> Result<Option<Approval>> {
    let mut q = tx.q(&format!("SELECT {APPROVAL_COLUMNS} FROM leash_policy_approvals WHERE action = "));
    q.text(action).push(" AND action_hash = ").text(action_hash).push(" ORDER BY seq DESC LIMIT 1");
    tx.one(q).await?.as_ref().map(approval_from_row).transpose()
}

pub(super) async fn breaker_event(
    tx: &mut SqlTx,
    action: &str,
    signature: &str,
    change_id: &str,
    at: &str,
    since: &str,
) -> Result<Vec<String>> {
    let mut q = tx.q("INSERT INTO leash_breaker_events (action, signature, change_id, at) VALUES (");
    q.text(action).push(", ").text(signature).push(", ").text(change_id).push(", ").text(at).push(")");
    tx.exec(q).await?;
    let mut q = tx.q("SELECT change_id FROM leash_breaker_events WHERE action = ");
    q.text(action).push(" AND signature = ").text(signature).push(" AND at >= ").text(since).push(" ORDER BY seq");
    tx.all(q).await?.iter().map(|r| Ok(display(&value_at(r, 0)?))).collect()
}

pub(super) async fn clear_breaker(tx: &mut SqlTx, action: &str, signature: &str) -> Result<()> {
    let mut q = tx.q("DELETE FROM leash_breaker_events WHERE action = ");
    q.text(action).push(" AND signature = ").text(signature);
    tx.exec(q).await?;
    Ok(())
}

/// Open proposals whose time is up and that have not been dealt with (an
/// escalated one is dealt with), locked, oldest first; and the database's
/// clock that decided it.
pub(super) async fn due_proposals(tx: &mut SqlTx, limit: u32) -> Result<(String, Vec<Proposal>)> {
    let d = tx.dialect();
    let q = tx.q(&format!("SELECT {}", d.now_stamp()));
    let row = tx.one(q).await?.ok_or_else(|| StoreError::Database("the database gave no time".into()))?;
    let now = display(&value_at(&row, 0)?);
    let mut q = tx.q(&format!("SELECT {PROPOSAL_COLUMNS} FROM leash_proposals WHERE status IN ("));
    q.text(ProposalStatus::Pending.as_str()).push(", ").text(ProposalStatus::Suggested.as_str());
    q.push(") AND expires_at <= ").text(&now).push(" AND escalated_at IS NULL ORDER BY expires_at");
    q.push(&format!(" LIMIT {limit}")).push(d.for_update());
    let due = tx.all(q).await?.iter().map(proposal_from_row).collect::<Result<_>>()?;
    Ok((now, due))
}

/// The database's clock, as leash stamps times.
pub(super) async fn db_now(tx: &mut SqlTx) -> Result<String> {
    let q = tx.q(&format!("SELECT {}", tx.dialect().now_stamp()));
    let row = tx.one(q).await?.ok_or_else(|| StoreError::Database("the database gave no time".into()))?;
    Ok(display(&value_at(&row, 0)?))
}
