//! The sentences of a page. Each one says what a specific check does:
//! `rules::check_field` for field rules, `decide::decide` for conditions and
//! review routing, the engine's `take_limits`, window and breaker for limits.

use crate::format::{DateOrder, Format};
use crate::policy::{Action, FieldRule, Kind, Mode, OnExpire};
use crate::value::display;

use super::cel::{condition_words, is_column};

/// The table's columns as far as they are known: the caller's list plus every
/// column the action names, which the schema check has proved exist.
pub(super) fn known_columns(action: &Action, table_columns: &[String]) -> Vec<String> {
    let mut cols: Vec<String> = table_columns.to_vec();
    for col in action.columns() {
        if !cols.iter().any(|c| c == col) {
            cols.push(col.to_string());
        }
    }
    cols
}

/// `a`, `a and b`, `a, b and c`.
pub(super) fn list(items: &[&str], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., tail] => format!("{} {last} {tail}", init.join(", ")),
    }
}

fn is_mechanical_address(f: &FieldRule) -> bool {
    f.mechanical && f.format == Some(Format::UsAddress)
}

// ---------------------------------------------------------------- fields

/// The rules of one field, as whole sentences, strongest first.
pub(super) fn field_rules(action: &Action, f: &FieldRule, address: &[&str]) -> Vec<String> {
    let update = action.kind == Kind::Update;
    let mut rules = Vec::new();
    if let Some(kind) = f.sensitive {
        rules.push(format!("{} — a person approves every change.", capitalised(kind.as_str())));
    }
    if let Some(format) = f.format {
        rules.extend(format_rule(action, f, format));
    }
    if let Some(allowed) = &f.one_of {
        let values: Vec<String> = allowed.iter().map(display).collect();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        rules.push(format!("Only one of {}.", values.join(", ")));
    }
    if let Some((lo, hi)) = &f.range {
        rules.push(format!("Between {lo} and {hi}; anything else is refused."));
    }
    if let Some(set) = &f.exists_in {
        rules.push(format!(
            "Must be a value of {}.{}, read at the time of the write; anything else is refused.",
            set.table, set.column
        ));
    }
    match (&f.review_below, &f.review_above) {
        (Some(lo), Some(hi)) => rules.push(format!("Below {lo} or above {hi}, a person checks it first.")),
        (None, Some(hi)) => rules.push(format!("Above {hi}, a person checks it first.")),
        (Some(lo), None) => rules.push(format!("Below {lo}, a person checks it first.")),
        (None, None) => {}
    }
    if let Some(from) = &f.from {
        rules.push(format!(
            "Must equal {}; when that has no value on the record, a person checks.",
            from_words(from.source())
        ));
    }
    if let Some(pattern) = &f.pattern {
        rules.push(format!("Must match the pattern `{}`.", pattern.as_str()));
    }
    if let Some(max) = f.max_len {
        rules.push(format!("At most {max} characters."));
    }
    if let Some(sentence) = address_member(f, address) {
        rules.push(sentence);
    }
    if !constrains_value(f) {
        rules.insert(0, "Any value the column accepts.".to_string());
    }
    // An appended row has no old value, so "only if empty" and "never
    // emptied" cannot bite there.
    if update && f.only_if_empty {
        rules.push("Only when it is empty; never overwrites a value.".to_string());
    }
    if f.unique {
        rules.push("If another record already holds the same value, a person checks (a possible duplicate).".into());
    }
    // `from` still refuses an empty value unless the record's own value is
    // empty, so "may be emptied" would promise too much there.
    match (update && !f.only_if_empty, f.allow_blank, f.from.is_some()) {
        (true, false, _) => rules.push("Emptying it is refused.".to_string()),
        (true, true, false) => rules.push("May be emptied.".to_string()),
        _ => {}
    }
    rules
}

/// Whether any rule limits what the new value may be.
fn constrains_value(f: &FieldRule) -> bool {
    let format_checks = matches!(f.format, Some(Format::Date | Format::Phone | Format::Email | Format::UsAddress));
    f.sensitive.is_some()
        || f.mechanical
        || format_checks
        || f.one_of.is_some()
        || f.range.is_some()
        || f.from.is_some()
        || f.pattern.is_some()
        || f.max_len.is_some()
        || f.exists_in.is_some()
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn from_words(source: &str) -> String {
    match source.strip_prefix("record.").filter(|c| is_column(c)) {
        Some(col) => format!("the record's {col} (`{source}`)"),
        None => format!("what `{source}` gives on the record"),
    }
}

/// `change = "mechanical"`: what counts as formatting in that format, and
/// what goes to a person. Without it, `format` only checks the value reads.
fn format_rule(action: &Action, f: &FieldRule, format: Format) -> Option<String> {
    let name = format.as_str();
    if f.mechanical {
        // The words are long; say them once per format on a page.
        let first = action
            .fields
            .iter()
            .find(|g| g.mechanical && g.format == Some(format) && g.date_order == f.date_order)
            .filter(|g| g.name != f.name);
        if let Some(first) = first {
            return Some(format!("Formatting only ({name}), as for {}.", first.name));
        }
        let (formatting, other) = formatting_words(format, f.date_order);
        return Some(format!("Formatting only ({name}): {formatting}. {other} goes to a person."));
    }
    let must = match format {
        Format::Date => {
            let order = match f.date_order {
                None => "A date like 03/04/2026 is ambiguous and refused.".to_string(),
                order => format!("{}.", capitalised(date_order_words(order))),
            };
            return Some(format!("Must be a date leash can read ({DATE_SPELLINGS}); otherwise refused. {order}"));
        }
        Format::Phone => "Must be a phone number in the international numbering plan (without + it is read as a number of the field's region, the US unless set), written as +, country code and number (E.164)",
        Format::Email => "Must be an email address",
        Format::UsAddress => "Must be a US address leash can read",
        // `format::text` and `format::name` read any text: nothing to refuse.
        Format::Text | Format::Name => return None,
    };
    Some(format!("{must}; otherwise refused."))
}

const DATE_SPELLINGS: &str = "2026-03-14, 03/14/2026, 14.03.2026, Mar 14, 2026";

fn date_order_words(order: Option<DateOrder>) -> &'static str {
    match order {
        None => "a date like 03/04/2026 is ambiguous, so leash cannot read it",
        Some(DateOrder::Mdy) => "03/04/2026 is read month first",
        Some(DateOrder::Dmy) => "03/04/2026 is read day first",
    }
}

/// (what passes as formatting, what does not), from `format/`.
fn formatting_words(format: Format, order: Option<DateOrder>) -> (String, &'static str) {
    match format {
        Format::Date => (
            format!(
                "the same calendar day written another way ({DATE_SPELLINGS}); a time after the date is not compared; {}",
                date_order_words(order)
            ),
            "A different day, or a date leash cannot read,",
        ),
        Format::Phone => (
            "spaces, dashes, dots, brackets, a trunk prefix and the country code; two spellings are the same number when their E.164 forms (+14155550134) are".into(),
            "A different number, or one leash cannot read,",
        ),
        Format::Email => (
            "spaces around it and the case of the domain after the @".into(),
            "Any other change, even to the case of the part before the @,",
        ),
        Format::Name => (
            "upper and lower case and spacing (ann  lee → Ann Lee)".into(),
            "A different letter or punctuation mark (Jon → John, OBrien → O'Brien)",
        ),
        Format::Text => {
            ("extra, leading and trailing spaces, tabs and line breaks".into(), "Any other change, even to case or punctuation,")
        }
        Format::UsAddress => (
            "case, spacing and punctuation; abbreviations of street types, directions and units (Street → St, North → N, Apartment → Apt); state names to codes; Saint, Fort, Mount as St, Ft, Mt; an added ZIP+4; a small typo fix in the city (brookln → Brooklyn) when the ZIP stays the same".into(),
            "A different house number, PO Box, street, unit, city, state or ZIP, a dropped ZIP+4, a ZIP that does not fit the state, or an address leash cannot read",
        ),
    }
}

/// `rules::address_flags` reads several columns as one address: say so on
/// each of them, since a plain-looking `state` field is checked that way too.
fn address_member(f: &FieldRule, address: &[&str]) -> Option<String> {
    if address.len() < 2 || !address.contains(&f.name.as_str()) {
        return None;
    }
    let others: Vec<&str> = address.iter().copied().filter(|c| *c != f.name).collect();
    let with = list(&others, "and");
    Some(if is_mechanical_address(f) {
        format!("Read as one address with {with}.")
    } else {
        format!("Read as one address with {with}: a change that could move the address goes to a person.")
    })
}

// ------------------------------------------------------------ conditions

/// `requires`, `when`, `locked_if` and `review_if`, in the order `decide` checks them.
pub(super) fn conditions(action: &Action) -> Vec<String> {
    let mut out = Vec::new();
    match (action.requires_reason, action.requires_evidence) {
        (true, true) => {
            out.push("Every call must give a reason and quote its evidence; without them it is refused.".to_string())
        }
        (true, false) => out.push("Every call must give a reason; without one it is refused.".to_string()),
        (false, true) => out.push("Every call must quote its evidence; without it the call is refused.".to_string()),
        (false, false) => {}
    }
    if let Some(when) = &action.when {
        out.push(format!("Only when {}; otherwise refused.", condition_phrase(when.source())));
    }
    if let Some(locked) = &action.locked_if {
        out.push(format!("Refused when {}: the record is locked.", condition_phrase(locked.source())));
    }
    if let Some(review) = &action.review_if {
        out.push(format!("A person checks when {}{}.", condition_phrase(review.source()), review_note(action)));
    }
    out
}

/// `status is not closed (`record.status != 'closed'`)`, or the CEL alone
/// when it is more than plain comparisons.
fn condition_phrase(source: &str) -> String {
    match condition_words(source) {
        Some(words) => format!("{words} (`{source}`)"),
        None => format!("`{source}` holds"),
    }
}

fn review_note(action: &Action) -> String {
    match action.review_note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(note) => format!(" — {}", note.trim_end_matches('.')),
        None => String::new(),
    }
}

// ---------------------------------------------------------------- limits

/// Caps, window, breaker and watch, as the engine enforces them.
pub(super) fn limits(action: &Action) -> Vec<String> {
    let l = &action.limits;
    let mut out = Vec::new();
    // `take_limits` counts writes and proposals alike (a person's approval
    // is not counted again), and per run only when the call names its run.
    if let Some(n) = l.per_run_max {
        out.push(format!(
            "At most {n} records per run, written or proposed (counted when the agent names its run); past that, refused."
        ));
    }
    if let Some(n) = l.per_hour_max {
        out.push(format!(
            "At most {n} records per clock hour, written or proposed; past that, refused until the next hour."
        ));
    }
    if let Some(w) = &l.window {
        let when = match window_words(&w.source) {
            Some(words) => format!("{words} (`{}`)", w.source),
            None => format!("during `{}`", w.source),
        };
        out.push(format!("Only {when}; outside it every call is refused."));
    }
    if let Some(b) = &action.breaker {
        out.push(format!(
            "If {} identical changes (the same new value, or the same shift of a number or date) are written without a person within {}, the action pauses until a person resumes it.",
            b.same_change_max,
            span_words(b.within_s)
        ));
    }
    if l.per_run_max.is_none() && l.per_hour_max.is_none() && l.window.is_none() && action.breaker.is_none() {
        out.push("No cap per run or per hour, no time window and no breaker.".to_string());
    }
    if let Some(watch) = action.review.watch_s {
        out.push(watch_words(action.mode, watch));
    }
    if let Some(expire) = action.review.expire_s {
        let span = span_words(expire);
        out.push(match action.review.on_expire {
            OnExpire::Reject => {
                format!("A proposal nobody decides within {span} expires and can no longer be approved.")
            }
            OnExpire::Escalate => format!(
                "A proposal nobody decides within {span} stays open, is marked escalated, and {} is told.",
                action.exception_approver.as_deref().unwrap_or("the exception approver")
            ),
        });
    }
    out
}

/// The engine watches only a direct definition, from its approval on.
fn watch_words(mode: Mode, watch_s: u64) -> String {
    let span = span_words(watch_s);
    match mode {
        Mode::Direct => format!(
            "Watched for the first {span} after this definition is approved: each change written without a person is marked watched in the journal."
        ),
        other => format!(
            "The watch ({span}) does nothing in {} mode; it starts when a direct definition is approved.",
            other.as_str()
        ),
    }
}

/// `5400` → `1 hour 30 minutes`.
pub(super) fn span_words(seconds: u64) -> String {
    let units = [(86_400, "day"), (3600, "hour"), (60, "minute"), (1, "second")];
    let mut left = seconds;
    let mut parts = Vec::new();
    for (size, name) in units {
        let n = left / size;
        left %= size;
        if n > 0 {
            parts.push(format!("{n} {name}{}", if n == 1 { "" } else { "s" }));
        }
    }
    if parts.is_empty() {
        return "0 seconds".to_string();
    }
    parts.join(" ")
}

const DAYS: [(&str, &str); 7] = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];

/// `mon-fri 09:00-18:00 America/New_York` → `Monday to Friday, 09:00 to
/// 18:00 America/New_York time`; `None` if the text is not in that shape
/// (`Window::parse` accepted it, so that would be a new syntax).
fn window_words(source: &str) -> Option<String> {
    let [days, hours, tz] = source.split_whitespace().collect::<Vec<_>>()[..] else { return None };
    let (start, end) = hours.split_once('-')?;
    let day = |d: &str| DAYS.iter().find(|(short, _)| *short == d).map(|(_, long)| *long);
    let days = days.to_ascii_lowercase();
    let days = if days == "daily" {
        "every day".to_string()
    } else {
        let mut spans = Vec::new();
        for part in days.split(',') {
            spans.push(match part.split_once('-') {
                Some((a, b)) => format!("{} to {}", day(a)?, day(b)?),
                None => day(part)?.to_string(),
            });
        }
        let spans: Vec<&str> = spans.iter().map(String::as_str).collect();
        list(&spans, "and")
    };
    Some(format!("{days}, {start} to {end} {tz} time"))
}

// ----------------------------------------------------------- to a person

/// What `decide` routes to review, whatever the agent sends.
pub(super) fn to_a_person(action: &Action, address: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    match action.mode {
        Mode::Suggest => {
            out.push("Every change: in suggest mode each call is only a suggestion, which a person may accept.".into())
        }
        Mode::Review => {
            out.push("Every change: in review mode a person approves each one before it is written.".into())
        }
        Mode::Direct => {}
    }
    if let Some(review) = &action.review_if {
        out.push(format!("Records where {}{}.", condition_phrase(review.source()), review_note(action)));
    }
    let named = |keep: &dyn Fn(&FieldRule) -> bool| -> Vec<&str> {
        action.fields.iter().filter(|f| keep(f)).map(|f| f.name.as_str()).collect()
    };
    let sensitive: Vec<String> = action
        .fields
        .iter()
        .filter_map(|f| f.sensitive.map(|kind| format!("{} ({})", f.name, kind.as_str())))
        .collect();
    if !sensitive.is_empty() {
        let sensitive: Vec<&str> = sensitive.iter().map(String::as_str).collect();
        out.push(format!("Any change to {}.", list(&sensitive, "or")));
    }
    let mechanical = named(&|f: &FieldRule| f.mechanical && f.format.is_some());
    if !mechanical.is_empty() {
        out.extend(mechanical_lines(action, &mechanical, address));
    }
    let from = named(&|f: &FieldRule| f.from.is_some());
    if !from.is_empty() {
        out.push(format!(
            "A value for {} when the record has nothing to check it against (its `from` gives no value).",
            list(&from, "or")
        ));
    }
    let unique = named(&|f: &FieldRule| f.unique);
    if !unique.is_empty() {
        out.push(format!(
            "A value for {} that another record already holds (a possible duplicate).",
            list(&unique, "or")
        ));
    }
    if let Some(min) = action.review.below_confidence {
        let percent = (min * 1000.0).round() / 10.0;
        out.push(format!("A change the agent is less than {percent}% sure of, or gives no confidence for."));
    }
    if action.when.is_some() || action.locked_if.is_some() || action.review_if.is_some() {
        out.push(
            "A record on which a condition above cannot be evaluated (for example, a column it reads is missing)."
                .into(),
        );
    }
    if out.is_empty() {
        out.push("Nothing: every change that passes the rules on this page is written at once.".into());
    }
    if let Some(only) = &action.review.only {
        let mut names: Vec<&str> = only.iter().map(String::as_str).collect();
        names.extend(action.exception_approver.as_deref());
        out.push(format!("Only {} may approve or reject these; nobody decides a call they made.", list(&names, "or")));
    }
    out
}

/// Formatting-only fields: more than formatting, or a blank filled in, is
/// not a rewrite (`check_field` flags a blank old value as new information).
fn mechanical_lines(action: &Action, fields: &[&str], address: &[&str]) -> Vec<String> {
    if action.kind == Kind::Append {
        return vec![format!(
            "Any value for {}: a new row has nothing to rewrite, so each value is new information.",
            list(fields, "or")
        )];
    }
    let mut out = Vec::new();
    let plain: Vec<&str> =
        fields.iter().copied().filter(|n| action.field(n).is_some_and(|f| !is_mechanical_address(f))).collect();
    if !plain.is_empty() {
        out.push(format!("A change to {} that is more than formatting (see May change).", list(&plain, "or")));
    }
    if fields.len() > plain.len() {
        out.push(format!(
            "A change to the address ({}, read as one) that is more than formatting (see May change).",
            list(address, "and")
        ));
    }
    out.push(format!("Filling in an empty {}: that is new information, not a rewrite.", list(fields, "or")));
    out
}

// ----------------------------------------------------------------- never

/// What the action cannot do: other columns, other rows, other tables.
pub(super) fn never(action: &Action, table_columns: &[String]) -> Vec<String> {
    let others: Vec<&str> = table_columns
        .iter()
        .map(String::as_str)
        .filter(|c| !action.fields.iter().any(|f| f.name.eq_ignore_ascii_case(c)))
        .collect();
    let table = &action.table;
    let mut out = Vec::new();
    match (action.kind, table_columns.is_empty(), others.is_empty()) {
        (Kind::Update, true, _) => out.push(format!("Change any other column of {table}.")),
        (Kind::Update, false, false) => out.push(format!("Change any other column of {table}: {}.", others.join(", "))),
        (Kind::Append, true, _) => out.push(format!("Set any other column of {table}; the database fills those in.")),
        (Kind::Append, false, false) => {
            out.push(format!("Set any other column of {table} ({}); the database fills those in.", others.join(", ")))
        }
        (_, false, true) => {}
    }
    out.push(match action.kind {
        Kind::Update => format!("Add rows to {table} or delete any."),
        Kind::Append => format!("Change or delete a row that already exists in {table}."),
    });
    out.push(format!("Touch any table other than {table}."));
    out.push("Write a value these rules refuse, even with a person's approval.".into());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_windows_read_as_words() {
        assert_eq!(span_words(600), "10 minutes");
        assert_eq!(span_words(5400), "1 hour 30 minutes");
        assert_eq!(span_words(86_400), "1 day");
        assert_eq!(
            window_words("mon-fri 09:00-18:00 America/New_York").as_deref(),
            Some("Monday to Friday, 09:00 to 18:00 America/New_York time")
        );
        assert_eq!(
            window_words("Sat,sun 00:00-24:00 UTC").as_deref(),
            Some("Saturday and Sunday, 00:00 to 24:00 UTC time")
        );
        assert_eq!(window_words("daily 08:00-20:00 UTC").as_deref(), Some("every day, 08:00 to 20:00 UTC time"));
    }
}
