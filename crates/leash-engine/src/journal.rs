//! The journal: every change sealed onto its record's hash chain and written
//! in the transaction that changes the record.

use leash_core::journal::Change;
use leash_store::StoreTx;

use crate::{Engine, Result};

impl Engine {
    /// Seals a change onto its record's chain and writes it.
    pub(crate) async fn journal(
        &self,
        tx: &mut dyn StoreTx,
        change: &mut Change,
        known_head: Option<Option<String>>,
    ) -> Result<()> {
        let head = match known_head {
            Some(head) => head,
            None => tx.chain_head(&change.table_name, &change.record_key).await?,
        };
        change.seal(head);
        tx.insert_change(change).await?;
        self.queue_change_event(tx, change).await
    }
}
