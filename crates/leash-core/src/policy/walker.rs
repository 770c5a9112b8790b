//! Walking the policy's TOML: where each value sits (file, line, dotted
//! key) and reading typed values, collecting every error instead of stopping.

use toml_edit::{Item, TableLike};

use crate::condition::ConditionError;

use super::load::{excerpt, PolicyError};
use super::*;

pub(super) struct Walker<'a> {
    pub(super) file: &'a str,
    pub(super) line_starts: Vec<usize>,
    pub(super) errors: Vec<PolicyError>,
}

/// Where a value sits: its dotted key and the line to point at.
#[derive(Clone)]
pub(super) struct At {
    pub(super) key: String,
    pub(super) line: usize,
}

impl At {
    pub(super) fn child(&self, key: &str, line: Option<usize>) -> At {
        let key = if self.key.is_empty() { key.to_string() } else { format!("{}.{key}", self.key) };
        At { key, line: line.unwrap_or(self.line) }
    }
}

impl Walker<'_> {
    pub(super) fn line(&self, span: Option<std::ops::Range<usize>>) -> Option<usize> {
        let start = span?.start;
        Some(self.line_starts.partition_point(|&s| s <= start))
    }

    pub(super) fn error(&mut self, at: &At, message: impl Into<String>) {
        self.errors.push(PolicyError {
            file: self.file.to_string(),
            line: at.line,
            key: at.key.clone(),
            message: message.into(),
        });
    }

    /// The children of a table with the location of each, unknown keys reported.
    pub(super) fn entries<'t>(
        &mut self,
        table: &'t dyn TableLike,
        at: &At,
        allowed: &[&str],
    ) -> Vec<(&'t str, &'t Item, At)> {
        let mut out = Vec::new();
        for (name, item) in table.iter() {
            let line = self.line(table.key(name).and_then(|k| k.span())).or_else(|| self.line(item.span()));
            let child = at.child(name, line);
            if !allowed.is_empty() && !allowed.contains(&name) {
                self.error(&child, format!("unknown key; expected one of: {}", allowed.join(", ")));
                continue;
            }
            out.push((name, item, child));
        }
        out
    }

    pub(super) fn string(&mut self, item: &Item, at: &At) -> Option<String> {
        match item.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.error(at, "expected a string");
                None
            }
        }
    }

    pub(super) fn boolean(&mut self, item: &Item, at: &At) -> Option<bool> {
        let b = item.as_bool();
        if b.is_none() {
            self.error(at, "expected true or false");
        }
        b
    }

    pub(super) fn number(&mut self, item: &Item, at: &At) -> Option<f64> {
        match (item.as_integer(), item.as_float()) {
            (Some(i), _) => Some(i as f64),
            (_, Some(f)) if f.is_finite() => Some(f),
            _ => {
                self.error(at, "expected a number");
                None
            }
        }
    }

    pub(super) fn count(&mut self, item: &Item, at: &At, min: i64) -> Option<u32> {
        match item.as_integer() {
            Some(i) if i >= min && i <= u32::MAX as i64 => Some(i as u32),
            Some(i) => {
                self.error(at, format!("{i} is out of range; expected a whole number ≥ {min}"));
                None
            }
            None => {
                self.error(at, "expected a whole number");
                None
            }
        }
    }

    pub(super) fn string_list(&mut self, item: &Item, at: &At) -> Option<Vec<String>> {
        let Some(array) = item.as_array() else {
            self.error(at, "expected a list of strings, e.g. [\"a\", \"b\"]");
            return None;
        };
        let mut out = Vec::new();
        for v in array.iter() {
            match v.as_str() {
                Some(s) => out.push(s.to_string()),
                None => {
                    self.error(at, format!("expected only strings in the list, found a {}", v.type_name()));
                    return None;
                }
            }
        }
        Some(out)
    }

    pub(super) fn identifier(&mut self, item: &Item, at: &At) -> Option<String> {
        let s = self.string(item, at)?;
        if is_identifier(&s) {
            Some(s)
        } else {
            self.error(
                at,
                format!("`{s}` is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most {NAME_MAX} characters)"),
            );
            None
        }
    }

    /// A table: an identifier, or `schema.table` (PostgreSQL schemas, MySQL databases).
    pub(super) fn table_name(&mut self, item: &Item, at: &At) -> Option<String> {
        let s = self.string(item, at)?;
        if is_table_name(&s) {
            Some(s)
        } else {
            self.error(
                at,
                format!("`{s}` is not a table name: an identifier ([A-Za-z_][A-Za-z0-9_]*), or schema.table"),
            );
            None
        }
    }

    pub(super) fn condition(&mut self, item: &Item, at: &At) -> Option<Condition> {
        let s = self.string(item, at)?;
        match Condition::parse(&s) {
            Ok(c) => Some(c),
            Err(ConditionError::TooLarge(what)) => {
                let name = at.key.rsplit('.').next().unwrap_or("condition");
                self.error(at, format!("`{name}` {what}"));
                None
            }
            Err(ConditionError::Invalid(why)) => {
                self.error(at, format!("invalid CEL expression `{}`: {why}", excerpt(&s)));
                None
            }
        }
    }

    pub(super) fn choice<T>(
        &mut self,
        item: &Item,
        at: &At,
        names: &[&str],
        parse: fn(&str) -> Option<T>,
    ) -> Option<T> {
        let s = self.string(item, at)?;
        let parsed = parse(&s);
        if parsed.is_none() {
            self.error(at, format!("`{s}` is not one of: {}", names.join(", ")));
        }
        parsed
    }

    pub(super) fn duration(&mut self, item: &Item, at: &At) -> Option<u64> {
        let s = self.string(item, at)?;
        parse_duration_s(&s).map_err(|why| self.error(at, why)).ok()
    }
}
