//! Formats: each reads a value and writes its canonical form, the one
//! spelling leash stores for it. Two values written differently but meaning
//! the same have equal canonical forms (a name's case aside), which is what
//! `change = "mechanical"` compares; and canonical forms are fixed points:
//! the canonical form of a canonical form is itself.

pub mod address;
mod date;
mod phone;
mod simple;

use serde::Serialize;

use crate::codes::ReviewReason;
use crate::policy::FieldRule;

pub use phone::{region_known as phone_region_known, DEFAULT_REGION as PHONE_DEFAULT_REGION};

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

    /// What a value of this format is called: `phone number`.
    pub fn noun(self) -> &'static str {
        match self {
            Format::UsAddress => "US address",
            Format::Date => "date",
            Format::Phone => "phone number",
            Format::Email => "email address",
            Format::Text => "text",
            Format::Name => "name",
        }
    }

    /// The noun with its article, for a sentence: `an email address`.
    pub fn a_value(self) -> &'static str {
        match self {
            Format::UsAddress => "a US address",
            Format::Date => "a date",
            Format::Phone => "a phone number",
            Format::Email => "an email address",
            Format::Text => "text",
            Format::Name => "a name",
        }
    }
}

/// What a field's policy adds to its format: how to read `03/04/2025`, and
/// the region of a phone number written without a country code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FormatOptions<'a> {
    pub date_order: Option<DateOrder>,
    /// Two letters (`DE`); `None` is `PHONE_DEFAULT_REGION`, the US.
    pub region: Option<&'a str>,
}

impl<'a> FormatOptions<'a> {
    /// The field's own options (`date_order`, `region`).
    pub fn of(rule: &'a FieldRule) -> FormatOptions<'a> {
        FormatOptions { date_order: rule.date_order, region: rule.region.as_deref() }
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

/// The canonical form of `value` with a field's options: the spelling leash
/// writes, or `None` when the value cannot be read in the format. A new value
/// of a formatted field is written as its canonical form or not at all.
pub fn canonical_of(format: Format, value: &str, opts: &FormatOptions) -> Option<String> {
    canonical_in(format, value, opts).ok()
}

/// The canonical form of `value`, or why it cannot be read in this format.
pub fn canonical_in(format: Format, value: &str, opts: &FormatOptions) -> Result<String, String> {
    match format {
        Format::UsAddress => address::canonical(value),
        Format::Date => date::canonical(value, opts.date_order),
        Format::Phone => phone::canonical(value, opts.region),
        Format::Email => simple::email(value),
        Format::Text => Ok(simple::text(value)),
        Format::Name => Ok(simple::name(value)),
    }
}

/// The canonical form of `value` with no field options (dates of one order
/// only, phone numbers of the US by default).
pub fn canonical(format: Format, value: &str) -> Result<String, String> {
    canonical_in(format, value, &FormatOptions::default())
}

pub fn canonical_date(value: &str, order: Option<DateOrder>) -> Result<String, String> {
    date::canonical(value, order)
}

/// Whether two canonical forms are the same value: equal, except that the
/// case of a name does not count (`DeShawn` and `Deshawn`).
fn same_canonical(format: Format, a: &str, b: &str) -> bool {
    match format {
        Format::Name => simple::name_key(a) == simple::name_key(b),
        _ => a == b,
    }
}

/// A reason a rewrite is not merely mechanical, with the sentence a reviewer reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    pub reason: ReviewReason,
    pub note: String,
}

/// Empty when `new` is the same value as `old`, written differently: their
/// canonical forms (`canonical_in`, the very function writes go through) agree.
pub fn mechanical_flags(format: Format, field: &str, old: &str, new: &str, opts: &FormatOptions) -> Vec<Flag> {
    if format == Format::UsAddress {
        return address::compare(field, old, new);
    }
    let not_mechanical = |note: String| vec![Flag { reason: ReviewReason::NotMechanical, note }];
    match (canonical_in(format, old, opts), canonical_in(format, new, opts)) {
        (Ok(a), Ok(b)) if same_canonical(format, &a, &b) => Vec::new(),
        (Ok(a), Ok(b)) => not_mechanical(format!(
            "{field}: `{new}` is not `{old}` written differently ({} form `{b}` vs `{a}`); check it is the same {}",
            format.as_str(),
            format.noun()
        )),
        (Err(why), _) => {
            not_mechanical(format!("{field}: the current value `{old}` cannot be read as {}: {why}", format.a_value()))
        }
        (_, Err(why)) => {
            not_mechanical(format!("{field}: the new value `{new}` cannot be read as {}: {why}", format.a_value()))
        }
    }
}
