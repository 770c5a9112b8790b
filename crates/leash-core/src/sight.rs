//! What a caller may learn through an action (SECURITY.md): its key, its
//! `read` fields and the fields it may write — nothing else of the record.
//! Every answer built from a record goes through here: `read_record` keeps
//! only what the action may show, `expect` may name only those columns, and
//! every message and note leaving the engine is scrubbed of the values of
//! the other columns, whatever rule or condition put them there.

use crate::condition::Condition;
use crate::policy::{Action, Policy};
use crate::value::{display, Record};

/// Shorter values are not scrubbed from messages: a hidden `0` or `true`
/// would blank every digit and word of a message while revealing nothing.
pub const HIDDEN_VALUE_CHARS_MIN: usize = 4;

/// What stands in a message where a hidden value was.
pub const HIDDEN_MARK: &str = "[hidden]";

impl Action {
    /// Whether a caller of this action may learn this column's value.
    pub fn may_see(&self, column: &str) -> bool {
        self.key == column || self.read.iter().any(|r| r == column) || self.field(column).is_some()
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

/// The texts of one record a caller of one action may not see.
#[derive(Debug, Clone, Default)]
pub struct Hidden {
    texts: Vec<String>,
}

impl Hidden {
    /// The values of `record`'s columns `action` may not show.
    pub fn of(action: &Action, record: &Record) -> Hidden {
        Hidden::where_not(record, |column| action.may_see(column))
    }

    /// The values of `record`'s columns for which `may_see` is false.
    pub fn where_not(record: &Record, may_see: impl Fn(&str) -> bool) -> Hidden {
        let mut texts: Vec<String> = record
            .iter()
            // true/false and null are words of every message, and a
            // yes/no is not what needs hiding.
            .filter(|(k, v)| !may_see(k) && (v.is_string() || v.is_number()))
            .map(|(_, v)| display(v))
            .filter(|t| t.trim().chars().count() >= HIDDEN_VALUE_CHARS_MIN)
            .collect();
        // Longest first, so a value that contains another is replaced whole.
        texts.sort_by_key(|t| std::cmp::Reverse(t.len()));
        texts.dedup();
        Hidden { texts }
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// `text` with every hidden value replaced by `HIDDEN_MARK`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for t in &self.texts {
            for form in [t.as_str(), t.trim()] {
                if out.contains(form) {
                    out = out.replace(form, HIDDEN_MARK);
                }
            }
        }
        out
    }

    pub fn scrub_all(&self, texts: &mut [String]) {
        if self.is_empty() {
            return;
        }
        for t in texts.iter_mut() {
            *t = self.scrub(t);
        }
    }
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
        let hidden = Hidden::of(&a, &rec);
        assert_eq!(hidden.scrub("ssn is `SSN-003-55-0199` and 3 is true"), "ssn is `[hidden]` and 3 is true");
    }
}
