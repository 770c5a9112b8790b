//! Formats for `change = "mechanical"`: each turns a value into a canonical
//! form; two values written differently but meaning the same have equal forms.

pub mod address;
mod date;
mod simple;

use serde::Serialize;

use crate::codes::ReviewReason;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    UsAddress,
    Date,
    Phone,
    Email,
    Text,
    Name,
}

impl Format {
    pub const NAMES: &'static [&'static str] = &["us_address", "date", "phone", "email", "text", "name"];

    pub fn parse(text: &str) -> Option<Format> {
        Some(match text {
            "us_address" => Format::UsAddress,
            "date" => Format::Date,
            "phone" => Format::Phone,
            "email" => Format::Email,
            "text" => Format::Text,
            "name" => Format::Name,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        Format::NAMES[self as usize]
    }
}

/// How to read `03/04/2025`: a policy may name the order its data uses
/// (`date_order = "mdy"`); without it such a date is ambiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DateOrder {
    Mdy,
    Dmy,
}

impl DateOrder {
    pub const NAMES: &'static [&'static str] = &["mdy", "dmy"];
    pub fn parse(s: &str) -> Option<DateOrder> {
        match s {
            "mdy" => Some(DateOrder::Mdy),
            "dmy" => Some(DateOrder::Dmy),
            _ => None,
        }
    }
}

/// One word in conventional case: capital after a start, `-` or `'`
/// (`o'brien` → `O'Brien`), `Mc` names (`mcdonald` → `McDonald`), and
/// ordinals left lower case after their digits (`42ND` → `42nd`).
pub(crate) fn title_word(word: &str) -> String {
    let lower = word.to_lowercase();
    if word.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        return lower;
    }
    let mut out = String::new();
    let mut upper_next = true;
    for c in lower.chars() {
        out.extend(if upper_next { c.to_uppercase().collect::<Vec<_>>() } else { vec![c] });
        upper_next = c == '-' || c == '\'';
    }
    if let Some(rest) = out.strip_prefix("Mc").filter(|r| !r.is_empty()) {
        let mut chars = rest.chars();
        if let Some(first) = chars.next() {
            return format!("Mc{}{}", first.to_uppercase(), chars.as_str());
        }
    }
    out
}

/// The canonical form of `value`, or why it cannot be read in this format.
pub fn canonical(format: Format, value: &str) -> Result<String, String> {
    canonical_with(format, value, None)
}

pub fn canonical_date(value: &str, order: Option<DateOrder>) -> Result<String, String> {
    date::canonical(value, order)
}

/// A readable form for people: like `canonical`, but a name keeps its case rules.
pub fn display_form(format: Format, value: &str) -> Result<String, String> {
    match format {
        Format::Name => Ok(simple::name_display(value)),
        other => canonical(other, value),
    }
}

pub fn canonical_with(format: Format, value: &str, order: Option<DateOrder>) -> Result<String, String> {
    match format {
        Format::UsAddress => address::canonical(value),
        Format::Date => date::canonical(value, order),
        Format::Phone => simple::phone(value),
        Format::Email => simple::email(value),
        Format::Text => Ok(simple::text(value)),
        Format::Name => Ok(simple::name(value)),
    }
}

/// A reason a rewrite is not merely mechanical, with the sentence a reviewer reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    pub reason: ReviewReason,
    pub note: String,
}

/// Empty when `new` is the same value as `old`, written differently.
pub fn mechanical_flags(format: Format, field: &str, old: &str, new: &str, order: Option<DateOrder>) -> Vec<Flag> {
    if format == Format::UsAddress {
        return address::compare(field, old, new);
    }
    let not_mechanical = |note: String| vec![Flag { reason: ReviewReason::NotMechanical, note }];
    match (canonical_with(format, old, order), canonical_with(format, new, order)) {
        (Ok(a), Ok(b)) if a == b => Vec::new(),
        (Ok(a), Ok(b)) => not_mechanical(format!(
            "{field}: `{new}` is not `{old}` written differently ({} form `{b}` vs `{a}`); check it is the same {}",
            format.as_str(),
            format.as_str()
        )),
        (Err(why), _) => {
            not_mechanical(format!("{field}: the current value `{old}` cannot be read as a {}: {why}", format.as_str()))
        }
        (_, Err(why)) => {
            not_mechanical(format!("{field}: the new value `{new}` cannot be read as a {}: {why}", format.as_str()))
        }
    }
}
