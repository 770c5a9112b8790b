//! What a caller may learn through an action (SECURITY.md): its key, its
//! `read` fields and the fields it may write — nothing else of the record.
//! `expect` may name only those columns, the address rule joins only those
//! part columns, `from` quotes its value only when it reads only those, and
//! condition errors quote no values; so no answer carries another column's
//! value. Nothing is scrubbed from messages after the fact: a message that
//! echoes the caller's own text would then show which guess was a secret.

use crate::condition::Condition;
use crate::policy::{Action, Policy};
use crate::value::Record;

impl Action {
    /// Whether a caller of this action may learn this column's value.
    pub fn may_see(&self, column: &str) -> bool {
        self.key.contains(column)
            || self.read.iter().any(|r| r == column)
            || self.field(column).is_some()
            // An address's `parts` are named by the policy as part of a field it writes.
            || self.fields.iter().any(|f| f.parts.values().any(|c| c == column))
    }

    /// The record as this action may show it.
    pub fn visible(&self, record: &Record) -> Record {
        record.iter().filter(|(k, _)| self.may_see(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

impl Policy {
    /// Whether any action of this policy on `table` may show `column`: what
    /// a backtest of a candidate policy may read of that table.
    pub fn may_see(&self, table: &str, column: &str) -> bool {
        self.actions.iter().any(|a| a.table == table && a.may_see(column))
    }

    /// Where `candidate` would read what this (the live) policy's actions may
    /// not show: a table none of them names, or a new condition or `from`
    /// over another column or over the whole record. A condition worded as
    /// one of the live policy's own on that table, under the same key,
    /// learns nothing new. Empty:
    /// a backtest under the candidate learns nothing the live policy hides.
    pub fn reads_beyond(&self, candidate: &Policy) -> Vec<String> {
        let mut out = Vec::new();
        for a in &candidate.actions {
            if !self.actions.iter().any(|live| live.table == a.table) {
                out.push(format!("{} names table {}, which no action of the live policy reads", a.name, a.table));
                continue;
            }
            // What the candidate's rules may quote and join: its key, `read`
            // and fields.
            for col in a.columns().into_iter().filter(|c| !self.may_see(&a.table, c)) {
                out.push(format!("{}: it names {col}, which no action of the live policy may read", a.name));
            }
            for (key, condition) in conditions(a) {
                let same = |(k, c): (&str, &Condition)| k == key && c.source() == condition.source();
                if self.actions.iter().any(|l| l.table == a.table && conditions(l).any(same)) {
                    continue;
                }
                match condition.columns() {
                    None => out.push(format!("{}: `{key}` reads the whole record", a.name)),
                    Some(cols) => out.extend(cols.iter().filter(|c| !self.may_see(&a.table, c)).map(|c| {
                        format!(
                            "{}: `{key}` reads {c}, which no action of the live policy may read \
                             (list it in an action's `read` if it is not secret)",
                            a.name
                        )
                    })),
                }
            }
        }
        out
    }
}

/// An action's conditions and `from` expressions, each with its key.
fn conditions(a: &Action) -> impl Iterator<Item = (&str, &Condition)> {
    let named = [("when", &a.when), ("locked_if", &a.locked_if), ("review_if", &a.review_if)];
    let froms = a.fields.iter().filter_map(|f| f.from.as_ref().map(|c| (f.name.as_str(), c)));
    named.into_iter().filter_map(|(k, c)| c.as_ref().map(|c| (k, c))).chain(froms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn action() -> Action {
        let toml = r#"
[[actions]]
name = "fix_contact"
summary = "Fix a name."
table = "shop"
key = "id"
read = ["name"]
  [actions.fields.email]
  format = "email"
"#;
        let policy = crate::policy::parse_policy("leash.toml", toml).unwrap_or_else(|e| panic!("{e:?}"));
        policy.actions[0].clone()
    }

    #[test]
    fn an_action_sees_its_key_read_and_written_fields_only() {
        let a = action();
        for ok in ["id", "name", "email"] {
            assert!(a.may_see(ok), "{ok}");
        }
        assert!(!a.may_see("ssn"));
        let mut rec = Record::new();
        rec.insert("id".into(), Value::from(3));
        rec.insert("ssn".into(), Value::from("SSN-003-55-0199"));
        rec.insert("vip".into(), Value::from(true));
        assert_eq!(a.visible(&rec).keys().collect::<Vec<_>>(), vec!["id"]);
    }
}
