//! Formats for `change = "mechanical"`: each turns a value into a canonical
//! form; two values written differently but meaning the same have equal forms.

mod address;
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

/// The canonical form of `value`, or why it cannot be read in this format.
pub fn canonical(format: Format, value: &str) -> Result<String, String> {
    match format {
        Format::UsAddress => address::canonical(value),
        Format::Date => date::canonical(value),
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
pub fn mechanical_flags(format: Format, field: &str, old: &str, new: &str) -> Vec<Flag> {
    if format == Format::UsAddress {
        return address::compare(field, old, new);
    }
    let not_mechanical = |note: String| vec![Flag { reason: ReviewReason::NotMechanical, note }];
    match (canonical(format, old), canonical(format, new)) {
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
