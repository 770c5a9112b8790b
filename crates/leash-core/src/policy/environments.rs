//! `[environments.NAME]`: one policy, different authority per environment
//! (staging direct, production review). An environment's overrides may only
//! narrow an action: a lower mode, lower caps, fewer fields, more reasons to
//! ask a person. A widening override is a load error, so reading the base
//! policy says the most any environment may do.

use sha2::{Digest, Sha256};
use toml_edit::{Item, TableLike};

use super::load::{item_json, ACTIONS_KEY};
use super::walker::{At, Walker};
use super::{canonical_json, Action, Mode};
use crate::condition::Condition;

pub(super) const ENVIRONMENT_KEYS: &[&str] = &[ACTIONS_KEY];
pub(super) const OVERRIDE_KEYS: &[&str] = &["mode", "fields", "review_if", "limits", "review"];
pub(super) const OVERRIDE_LIMIT_KEYS: &[&str] = &["per_run", "per_hour"];
pub(super) const OVERRIDE_REVIEW_KEYS: &[&str] = &["below_confidence"];

fn rank(mode: Mode) -> u8 {
    match mode {
        Mode::Suggest => 0,
        Mode::Review => 1,
        Mode::Direct => 2,
    }
}

/// Checks every environment's overrides against the actions and applies
/// those of `chosen` (if any). Returns the names defined.
pub(super) fn apply(w: &mut Walker, item: &Item, at: &At, chosen: Option<&str>, actions: &mut [Action]) -> Vec<String> {
    let Some(table) = item.as_table_like() else {
        w.error(at, "expected tables [environments.<name>.actions.<action>]");
        return Vec::new();
    };
    let mut names = Vec::new();
    for (name, env, at) in w.entries(table, at, &[]) {
        names.push(name.to_string());
        let Some(env) = env.as_table_like() else {
            w.error(&at, "expected a table: [environments.<name>.actions.<action>]");
            continue;
        };
        for (_, overrides, at) in w.entries(env, &at, ENVIRONMENT_KEYS) {
            let Some(overrides) = overrides.as_table_like() else {
                w.error(&at, "expected tables [environments.<name>.actions.<action>]");
                continue;
            };
            for (action_name, item, at) in w.entries(overrides, &at, &[]) {
                let Some(action) = actions.iter_mut().find(|a| a.name == action_name) else {
                    w.error(&at, format!("no action `{action_name}` to override"));
                    continue;
                };
                let Some(o) = item.as_table_like() else {
                    w.error(&at, "expected a table of overrides (mode, fields, review_if, limits, review)");
                    continue;
                };
                let mut narrowed = action.clone();
                narrow(w, o, &at, &mut narrowed);
                if chosen == Some(name) {
                    narrowed.hash = override_hash(&action.hash, item);
                    *action = narrowed;
                }
            }
        }
    }
    names
}

/// One action's overrides, each refused if it would widen the action.
fn narrow(w: &mut Walker, o: &dyn TableLike, at: &At, a: &mut Action) {
    for (k, item, at) in w.entries(o, at, OVERRIDE_KEYS) {
        match k {
            "mode" => {
                let Some(mode) = w.choice(item, &at, Mode::NAMES, Mode::parse) else { continue };
                if rank(mode) > rank(a.mode) {
                    w.error(&at, widens(format!("the mode from {} to {}", a.mode.as_str(), mode.as_str())));
                } else {
                    a.mode = mode;
                }
            }
            "fields" => {
                let Some(keep) = w.string_list(item, &at) else { continue };
                if let Some(extra) = keep.iter().find(|f| a.field(f).is_none()) {
                    w.error(&at, widens(format!("the fields with `{extra}`, which {} does not write", a.name)));
                } else if keep.is_empty() {
                    w.error(&at, "an action must keep at least one field");
                } else {
                    a.fields.retain(|f| keep.contains(&f.name));
                }
            }
            "review_if" => {
                let Some(extra) = w.string(item, &at) else { continue };
                let source = match &a.review_if {
                    Some(base) => format!("({}) || ({extra})", base.source()),
                    None => extra,
                };
                match Condition::compile(&source) {
                    Ok(c) => a.review_if = Some(c),
                    Err(why) => w.error(&at, format!("invalid condition: {why}")),
                }
            }
            "limits" => narrow_limits(w, item, &at, a),
            _ => narrow_review(w, item, &at, a),
        }
    }
}

fn narrow_limits(w: &mut Walker, item: &Item, at: &At, a: &mut Action) {
    let Some(t) = item.as_table_like() else {
        w.error(at, "expected a table: limits = { per_run = N, per_hour = N }");
        return;
    };
    for (k, item, at) in w.entries(t, at, OVERRIDE_LIMIT_KEYS) {
        let Some(n) = w.count(item, &at, 1) else { continue };
        let cap = if k == "per_run" { &mut a.limits.per_run_max } else { &mut a.limits.per_hour_max };
        match *cap {
            Some(base) if n > base => w.error(&at, widens(format!("{k} from {base} to {n}"))),
            _ => *cap = Some(n),
        }
    }
}

fn narrow_review(w: &mut Walker, item: &Item, at: &At, a: &mut Action) {
    let Some(t) = item.as_table_like() else {
        w.error(at, "expected a table: review = { below_confidence = 0.9 }");
        return;
    };
    for (_, item, at) in w.entries(t, at, OVERRIDE_REVIEW_KEYS) {
        let Some(c) = w.number(item, &at) else { continue };
        match a.review.below_confidence {
            _ if !(0.0..=1.0).contains(&c) => w.error(&at, format!("{c} is not a confidence between 0 and 1")),
            Some(base) if c < base => w.error(&at, widens(format!("below_confidence from {base} to {c}"))),
            _ => a.review.below_confidence = Some(c),
        }
    }
}

fn widens(what: String) -> String {
    format!("this widens {what}; an environment may only narrow an action (a lower mode, lower caps, fewer fields, more review)")
}

/// The definition in force: the base definition and the overrides, so an
/// approval of one environment's action is not an approval of another's.
fn override_hash(base: &str, overrides: &Item) -> String {
    let json = canonical_json(&item_json(overrides));
    hex::encode(Sha256::digest(format!("{base}:{json}").as_bytes()))
}
