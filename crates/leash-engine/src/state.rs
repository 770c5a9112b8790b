//! The kill switch: pauses live in the database, so every gateway process
//! sees them on its next call.

use leash_store::{Pause, PauseKind, ALL_SCOPE};

use crate::{Caller, Engine, EngineError, Result, Role};

impl Engine {
    /// Pauses one action, or all with `None`.
    pub async fn pause(&self, by: &Caller, action: Option<&str>, reason: &str) -> Result<Pause> {
        by.require(Role::Admin, "pausing")?;
        let scope = self.scope(action)?;
        if reason.trim().is_empty() {
            return Err(EngineError::Invalid("say why with --reason; whoever resumes needs to know".into()));
        }
        let pause = Pause {
            scope,
            kind: PauseKind::Pause,
            reason: reason.into(),
            by: by.name.clone(),
            at: self.clock().stamp(),
            change_ids: Vec::new(),
        };
        let mut tx = self.store().begin().await?;
        tx.set_pause(&pause).await?;
        self.queue_event(tx.as_mut(), "action.paused", &pause).await?;
        tx.commit().await?;
        tracing::warn!(scope = %pause.scope, by = %by.name, reason, "pause");
        Ok(pause)
    }

    /// Clears a pause or a tripped breaker. Returns whether one was in force.
    pub async fn resume(&self, by: &Caller, action: Option<&str>, reason: &str) -> Result<bool> {
        by.require(Role::Admin, "resuming")?;
        let scope = self.scope(action)?;
        let mut tx = self.store().begin().await?;
        let cleared = tx.clear_pause(&scope, &by.name, &self.clock().stamp(), reason).await?;
        tx.commit().await?;
        tracing::warn!(scope = %scope, by = %by.name, cleared, "resume");
        Ok(cleared)
    }

    fn scope(&self, action: Option<&str>) -> Result<String> {
        match action {
            None => Ok(ALL_SCOPE.to_string()),
            Some(a) if self.policy().action(a).is_some() => Ok(a.to_string()),
            Some(a) => Err(EngineError::NotFound(format!("action {a}"))),
        }
    }
}
