//! Field rules (docs/policy.md): the one place where a single field's new value is
//! checked. Hard rules refuse the call; soft rules flag it for a person.

use crate::call::FieldChange;
use crate::call::Refusal;
use crate::codes::{Code, ReviewReason};
use crate::format::{self, address, Flag, Format};
use crate::policy::Action;
use crate::policy::{Bound, FieldRule};
use crate::value::{display, display_text, is_blank, same_value, Record, Value};

/// Context a field check may need beyond the old and new values.
pub struct FieldContext<'a> {
    pub record: &'a Record,
    /// The action the field belongs to: what its caller may see (`sight.rs`).
    pub action: &'a Action,
    /// The key of another record that already holds the new value, for `unique`.
    pub duplicate_of: Option<&'a str>,
}

impl FieldContext<'_> {
    fn may_see(&self, column: &str) -> bool {
        self.action.may_see(column)
    }
}

fn refuse(code: Code, message: String) -> Result<Vec<Flag>, Refusal> {
    Err(Refusal::new(code, message))
}

/// Checks one field. `Ok(flags)` means no hard rule is broken; `flags` lists
/// the reasons a person must look.
pub fn check_field(rule: &FieldRule, old: &Value, new: &Value, cx: &FieldContext) -> Result<Vec<Flag>, Refusal> {
    let f = &rule.name;
    let mut flags = Vec::new();
    if is_blank(new) && !is_blank(old) && !rule.allow_blank {
        return refuse(
            Code::WouldBlank,
            format!(
                "{f}: refusing to blank `{}`; leave {f} out of `set`, or ask the owner to set allow_blank",
                display(old)
            ),
        );
    }
    if rule.only_if_empty && !is_blank(old) {
        return refuse(
            Code::NotEmpty,
            format!("{f} already holds `{}`; this action only fills blank fields, so leave it as it is", display(old)),
        );
    }
    if !is_blank(new) {
        check_value(rule, new)?;
    }
    if let Some(from) = &rule.from {
        match from.eval(cx.record) {
            Ok(expected) if !expected.is_null() => {
                if !same_value(&expected, new) {
                    // Quote the value only when the caller may see every
                    // column it comes from.
                    let message = match from.columns() {
                        Some(cols) if cols.iter().all(|c| cx.may_see(c)) => {
                            format!(
                                "{f}: the only value allowed is `{}` (from `{}`)",
                                display(&expected),
                                from.source()
                            )
                        }
                        _ => format!("{f}: the only value allowed is the one `{}` gives", from.source()),
                    };
                    return refuse(Code::ValueNotAllowed, message);
                }
            }
            Ok(_) | Err(_) => flags.push(Flag {
                reason: ReviewReason::MissingContext,
                note: format!(
                    "{f}: `{}` has nothing to read on this record, so leash cannot confirm `{}`",
                    from.source(),
                    display(new)
                ),
            }),
        }
    }
    if rule.mechanical {
        if let Some(fmt) = rule.format {
            if is_blank(old) {
                flags.push(Flag {
                    reason: ReviewReason::NotMechanical,
                    note: format!("{f} was blank, so `{}` is new information, not a rewrite", display(new)),
                });
            } else if fmt != Format::UsAddress {
                // Addresses are judged whole, across their fields: `address_flags`.
                let opts = format::FormatOptions::of(rule);
                flags.extend(format::mechanical_flags(fmt, f, &display(old), &display(new), &opts));
            }
        }
    }
    flags.extend(threshold_flag(rule, new));
    if let Some(kind) = rule.sensitive {
        flags.push(Flag {
            reason: ReviewReason::SensitiveField,
            note: format!("{f} is a {} field: a person approves every change to it", kind.as_str()),
        });
    }
    if let (true, Some(other)) = (rule.unique, cx.duplicate_of) {
        flags.push(Flag {
            reason: ReviewReason::DuplicateValue,
            note: format!(
                "{f}: record {other} already has `{}`; check these are not the same customer twice",
                display(new)
            ),
        });
    }
    Ok(flags)
}

/// The rules that read only the new value (set, range, pattern, length,
/// format): the engine runs them before the database parses the value, so
/// a value outside the policy's closed set is refused by the policy's rule,
/// not by the column's type.
pub fn check_new_value(rule: &FieldRule, new: &Value) -> Result<(), Refusal> {
    if is_blank(new) {
        return Ok(());
    }
    check_value(rule, new)
}

/// Rules on the new value alone (set, range, pattern, length, format).
fn check_value(rule: &FieldRule, new: &Value) -> Result<(), Refusal> {
    let f = &rule.name;
    let text = display_text(new);
    if let Some(allowed) = &rule.one_of {
        if !allowed.iter().any(|a| same_value(a, new)) {
            let list: Vec<String> = allowed.iter().map(display).collect();
            return Err(Refusal::new(
                Code::ValueNotAllowed,
                format!("{f}: `{text}` is not allowed; use one of: {}", list.join(", ")),
            ));
        }
    }
    if let Some((lo, hi)) = &rule.range {
        let inside = match (lo, hi) {
            (Bound::Number(lo), Bound::Number(hi)) => number_of(new).map(|n| *lo <= n && n <= *hi),
            (Bound::Date(lo), Bound::Date(hi)) => format::canonical_date(&text, rule.date_order)
                .ok()
                .and_then(|d| d.parse::<jiff::civil::Date>().ok())
                .map(|d| *lo <= d && d <= *hi),
            _ => None,
        };
        if inside != Some(true) {
            return Err(Refusal::new(
                Code::OutOfRange,
                format!("{f}: `{text}` is outside [{lo}, {hi}]; use a value in that range"),
            ));
        }
    }
    if let Some(max) = rule.max_len {
        let len = text.chars().count();
        if len > max {
            return Err(Refusal::new(
                Code::TooLong,
                format!("{f}: {len} characters is over the limit of {max}; shorten it"),
            ));
        }
    }
    if let Some(pattern) = &rule.pattern {
        if !pattern.is_match(&text) {
            return Err(Refusal::new(
                Code::PatternMismatch,
                format!("{f}: `{text}` does not match the pattern {}; send a value in that form", pattern.as_str()),
            ));
        }
    }
    // A value its format cannot read is refused, in a mechanical field too;
    // only an address is judged whole, by `address_flags` (`unparseable`).
    if let Some(fmt) = rule.format.filter(|fmt| !(rule.mechanical && *fmt == Format::UsAddress)) {
        if let Err(why) = format::canonical_in(fmt, &text, &format::FormatOptions::of(rule)) {
            return Err(Refusal::new(
                Code::PatternMismatch,
                format!("{f}: `{text}` cannot be read as {}: {why}", fmt.a_value()),
            ));
        }
    }
    // A formatted field is written in its standard spelling: leash never
    // writes a value worse-formed than its format allows, and never rewrites
    // silently what the agent sent.
    if let Some(fmt) = rule.format {
        if let Some(canonical) = format::canonical_of(fmt, &text, &format::FormatOptions::of(rule)) {
            if canonical != text {
                return Err(Refusal::new(
                    Code::NotCanonical,
                    format!("{f}: `{text}` is not written in standard form; send `{canonical}`"),
                ));
            }
        }
    }
    Ok(())
}

/// `review_above` / `review_below`: a number or date beyond the threshold
/// lands only with a person. A value that cannot be read as the threshold's
/// kind goes to a person too: the rule cannot vouch for it.
fn threshold_flag(rule: &FieldRule, new: &Value) -> Option<Flag> {
    let f = &rule.name;
    let text = display_text(new);
    let beyond = |bound: &Bound, above: bool| -> Option<bool> {
        let ord = match bound {
            Bound::Number(t) => number_of(new)?.partial_cmp(t)?,
            Bound::Date(t) => format::canonical_date(&text, rule.date_order)
                .ok()
                .and_then(|d| d.parse::<jiff::civil::Date>().ok())?
                .cmp(t),
        };
        Some(if above { ord.is_gt() } else { ord.is_lt() })
    };
    let checks = [(rule.review_above.as_ref(), true, "above"), (rule.review_below.as_ref(), false, "below")];
    checks.into_iter().find_map(|(bound, above, word)| {
        let bound = bound?;
        if is_blank(new) {
            return None;
        }
        match beyond(bound, above) {
            Some(false) => None,
            Some(true) => Some(Flag {
                reason: ReviewReason::OverThreshold,
                note: format!("{f}: `{text}` is {word} {bound}, beyond which a person checks the change"),
            }),
            None => Some(Flag {
                reason: ReviewReason::OverThreshold,
                note: format!("{f}: `{text}` cannot be compared with the threshold {bound}; a person checks it"),
            }),
        }
    })
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Which part of an address a column holds, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddressPart {
    Street,
    Unit,
    City,
    State,
    Zip,
}

fn address_part(column: &str) -> AddressPart {
    // Whether the name contains `part` in any case. Column names are short
    // and this runs on every call: comparing windows in place is quicker
    // than lowercasing a copy and setting up a substring search per part.
    let has = |part: &str| column.as_bytes().windows(part.len()).any(|w| w.eq_ignore_ascii_case(part.as_bytes()));
    if has("city") || has("town") {
        AddressPart::City
    } else if has("state") || has("province") {
        AddressPart::State
    } else if has("zip") || has("postal") {
        AddressPart::Zip
    } else if ["unit", "apt", "suite", "line2", "address2", "secondary"].into_iter().any(has) {
        AddressPart::Unit
    } else {
        AddressPart::Street
    }
}

/// The columns that make up the record's address: the action's `us_address`
/// fields, plus `city`/`state`/`zip`-named columns of the record when the
/// street field does not carry them itself.
fn address_columns<'a>(action: &'a Action, record: &'a Record) -> Vec<(AddressPart, &'a str)> {
    address_columns_among(action, record.keys().map(String::as_str))
}

/// The columns `address_flags` reads as one address when the record has
/// `columns`; `explain` names them on the action's page.
pub fn address_column_names<'a>(action: &'a Action, columns: &'a [String]) -> Vec<&'a str> {
    address_columns_among(action, columns.iter().map(String::as_str)).into_iter().map(|(_, col)| col).collect()
}

/// Columns joined, by these exact names, to an action's `us_address`
/// field as the other parts of one address.
pub const ADDRESS_PART_COLUMNS: &[&str] = &["city", "state", "zip", "zip_code", "zipcode", "postal_code", "unit"];

fn address_columns_among<'a>(
    action: &'a Action,
    columns: impl Iterator<Item = &'a str>,
) -> Vec<(AddressPart, &'a str)> {
    let mut cols: Vec<(AddressPart, &str)> = action
        .fields
        .iter()
        .filter(|f| f.mechanical && f.format == Some(Format::UsAddress))
        .map(|f| (address_part(&f.name), f.name.as_str()))
        .collect();
    if cols.is_empty() {
        return cols;
    }
    // Parts the policy names (`parts = {city = "City"}`) come first.
    let declared = action.fields.iter().filter(|f| f.format == Some(Format::UsAddress)).flat_map(|f| &f.parts);
    for (part, col) in declared {
        let part = address_part(part);
        if part != AddressPart::Street && !cols.iter().any(|(p, _)| *p == part) {
            cols.push((part, col.as_str()));
        }
    }
    // Only these exact names join; testing the name first spares working
    // out the part of every other column on every call. A column the action
    // may not read is not joined: the notes would quote it to the agent.
    for col in columns.filter(|col| ADDRESS_PART_COLUMNS.contains(col) && action.may_see(col)) {
        let part = address_part(col);
        if part != AddressPart::Street && !cols.iter().any(|(p, _)| *p == part) {
            cols.push((part, col));
        }
    }
    cols
}

fn assemble(cols: &[(AddressPart, &str)], value: &dyn Fn(&str) -> Option<String>) -> String {
    let get = |part: AddressPart| -> Vec<String> {
        cols.iter().filter(|(p, _)| *p == part).filter_map(|(_, c)| value(c)).filter(|v| !v.trim().is_empty()).collect()
    };
    let street = get(AddressPart::Street).join(" ");
    // A street field that already ends in a ZIP is a whole single-line address.
    let single_line = street
        .split(|c: char| !c.is_ascii_digit())
        .rfind(|w| !w.is_empty())
        .is_some_and(|w| w.len() == 5 || w.len() == 9)
        && street.contains(',');
    if single_line {
        return street;
    }
    let mut parts = vec![street];
    parts.extend(get(AddressPart::Unit));
    parts.extend(get(AddressPart::City));
    let tail: Vec<String> = get(AddressPart::State).into_iter().chain(get(AddressPart::Zip)).collect();
    if !tail.is_empty() {
        parts.push(tail.join(" "));
    }
    parts.join(", ")
}

/// The whole-address check for `change = "mechanical"`, `format = "us_address"`:
/// the record's address before and after the call must be the same place.
pub fn address_flags(action: &Action, record: &Record, changes: &[FieldChange]) -> Vec<Flag> {
    let cols = address_columns(action, record);
    if cols.is_empty() || !changes.iter().any(|c| cols.iter().any(|(_, col)| *col == c.field)) {
        return Vec::new();
    }
    let old = |col: &str| record.get(col).filter(|v| !v.is_null()).map(display);
    let new = |col: &str| match changes.iter().find(|c| c.field == col) {
        Some(c) => (!c.new.is_null()).then(|| display(&c.new)),
        None => old(col),
    };
    let (before, after) = (assemble(&cols, &old), assemble(&cols, &new));
    if before.trim().is_empty() {
        return Vec::new();
    }
    address::compare("address", &before, &after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_part_matches_parts_of_names_in_any_case() {
        // The lowercase-then-contains rule it replaces, as the reference.
        let reference = |column: &str| {
            let c = column.to_ascii_lowercase();
            let any = |parts: &[&str]| parts.iter().any(|p| c.contains(p));
            [
                (&["city", "town"][..], AddressPart::City),
                (&["state", "province"], AddressPart::State),
                (&["zip", "postal"], AddressPart::Zip),
                (&["unit", "apt", "suite", "line2", "address2", "secondary"], AddressPart::Unit),
            ]
            .into_iter()
            .find(|(parts, _)| any(parts))
            .map_or(AddressPart::Street, |(_, part)| part)
        };
        let names = [
            "address",
            "Address2",
            "CITY",
            "home_town",
            "State",
            "provINCE",
            "zip_code",
            "ZIP",
            "postal",
            "apt_no",
            "Suite",
            "line2",
            "secondary_unit",
            "street",
            "Straße",
            "ÇITY",
            "ci",
            "",
            "STATEMENT",
            "zi",
        ];
        for name in names {
            assert_eq!(address_part(name), reference(name), "{name}");
        }
    }
}
