//! US addresses (`format = "us_address"`): a parser and canonical form in the
//! spirit of USPS Publication 28, and the comparison that decides whether a
//! rewrite only changes how an address is *written* or could change *where*.
//!
//! City rule: two cities are the same when they match after case, spacing,
//! punctuation and the abbreviations St/Ste/Ft/Mt/Pt, or when they start with
//! the same letter and differ by one edit (names up to 5 letters) or two edits
//! (longer names): `brookln` → `Brooklyn` is a typing fix, `Portland` → `Salem`
//! is not.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;

use super::Flag;
use crate::codes::ReviewReason;

/// Longer input is not an address; refuse it before any work.
pub const ADDRESS_BYTES_MAX: usize = 400;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Address {
    pub number: Option<String>,
    pub po_box: Option<String>,
    pub predir: Option<String>,
    /// Street name words, upper case.
    pub street: Vec<String>,
    /// USPS standard abbreviation, upper case (`ST`, `AVE`).
    pub suffix: Option<String>,
    pub postdir: Option<String>,
    pub unit: Option<Unit>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub zip4: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unit {
    /// USPS designator, upper case (`APT`, `STE`, `#`).
    pub designator: String,
    pub id: Option<String>,
}

struct Tables {
    suffixes: HashMap<String, String>,
    states: HashMap<String, String>,
    zip3: HashMap<u16, Vec<String>>,
}

fn data_lines(text: &'static str) -> impl Iterator<Item = Vec<&'static str>> {
    text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).map(|l| l.split_whitespace().collect())
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut suffixes = HashMap::new();
        for words in data_lines(include_str!("data/street_suffixes.txt")) {
            for w in &words {
                suffixes.insert(w.to_string(), words[0].to_string());
            }
        }
        let mut states = HashMap::new();
        for words in data_lines(include_str!("data/states.txt")) {
            for w in &words {
                states.insert(w.to_string(), words[0].to_string());
            }
        }
        let mut zip3 = HashMap::new();
        for words in data_lines(include_str!("data/zip3.txt")) {
            let (lo, hi) = words[0].split_once('-').unwrap_or((words[0], words[0]));
            let (lo, hi): (u16, u16) = (lo.parse().unwrap_or(0), hi.parse().unwrap_or(0));
            for p in lo..=hi {
                zip3.insert(p, words[1..].iter().map(|s| s.to_string()).collect());
            }
        }
        Tables { suffixes, states, zip3 }
    })
}

const DIRECTIONS: &[(&str, &str)] = &[
    ("N", "N"),
    ("S", "S"),
    ("E", "E"),
    ("W", "W"),
    ("NE", "NE"),
    ("NW", "NW"),
    ("SE", "SE"),
    ("SW", "SW"),
    ("NORTH", "N"),
    ("SOUTH", "S"),
    ("EAST", "E"),
    ("WEST", "W"),
    ("NORTHEAST", "NE"),
    ("NORTHWEST", "NW"),
    ("SOUTHEAST", "SE"),
    ("SOUTHWEST", "SW"),
];

/// USPS C2 secondary unit designators; `true` when an id must follow.
const UNITS: &[(&str, &str, bool)] = &[
    ("APARTMENT", "APT", true),
    ("APT", "APT", true),
    ("BASEMENT", "BSMT", false),
    ("BSMT", "BSMT", false),
    ("BUILDING", "BLDG", true),
    ("BLDG", "BLDG", true),
    ("DEPARTMENT", "DEPT", true),
    ("DEPT", "DEPT", true),
    ("FLOOR", "FL", true),
    ("FL", "FL", true),
    ("FLR", "FL", true),
    ("FRONT", "FRNT", false),
    ("FRNT", "FRNT", false),
    ("HANGAR", "HNGR", true),
    ("HNGR", "HNGR", true),
    ("LOBBY", "LBBY", false),
    ("LBBY", "LBBY", false),
    ("LOT", "LOT", true),
    ("LOWER", "LOWR", false),
    ("LOWR", "LOWR", false),
    ("OFFICE", "OFC", false),
    ("OFC", "OFC", false),
    ("PENTHOUSE", "PH", false),
    ("PH", "PH", false),
    ("PIER", "PIER", true),
    ("REAR", "REAR", false),
    ("ROOM", "RM", true),
    ("RM", "RM", true),
    ("SIDE", "SIDE", false),
    ("SLIP", "SLIP", true),
    ("SPACE", "SPC", true),
    ("SPC", "SPC", true),
    ("STOP", "STOP", true),
    ("SUITE", "STE", true),
    ("STE", "STE", true),
    ("TRAILER", "TRLR", true),
    ("TRLR", "TRLR", true),
    ("UNIT", "UNIT", true),
    ("UPPER", "UPPR", false),
    ("UPPR", "UPPR", false),
    ("#", "#", true),
    ("NO", "#", true),
];

fn direction(t: &str) -> Option<&'static str> {
    DIRECTIONS.iter().find(|(k, _)| *k == t).map(|(_, v)| *v)
}

fn unit_designator(t: &str) -> Option<(&'static str, bool)> {
    UNITS.iter().find(|(k, _, _)| *k == t).map(|(_, v, id)| (*v, *id))
}

fn suffix(t: &str) -> Option<&'static str> {
    tables().suffixes.get(t).map(String::as_str)
}

/// The states that use a ZIP code's first three digits.
pub fn zip_states(zip: &str) -> &'static [String] {
    zip.get(..3)
        .and_then(|p| p.parse::<u16>().ok())
        .and_then(|p| tables().zip3.get(&p))
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A state's two-letter code from a code, a name or a common misspelling.
pub fn state_code(text: &str) -> Option<&'static str> {
    let key: String = text.split_whitespace().collect::<Vec<_>>().join("_").to_uppercase().replace('.', "_");
    let key = key.trim_matches('_');
    tables().states.get(key).map(String::as_str)
}

fn is_number(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_digit()
        && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && t.chars().filter(|c| c.is_ascii_alphabetic()).count() <= 2
}

fn is_fraction(t: &str) -> bool {
    matches!(t.split_once('/'), Some((a, b)) if !a.is_empty() && !b.is_empty() && a.chars().chain(b.chars()).all(|c| c.is_ascii_digit()))
}

fn zip_parts(t: &str) -> Option<(String, Option<String>)> {
    let digits: String = t.chars().filter(|c| *c != '-').collect();
    let well_formed = t.len() == 5 || (t.len() == 10 && t.as_bytes()[5] == b'-') || t.len() == 9;
    if !well_formed || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    match digits.len() {
        5 => Some((digits, None)),
        9 => Some((digits[..5].to_string(), Some(digits[5..].to_string()))),
        _ => None,
    }
}

/// Upper-case words per comma-separated part; `#` and glued designators
/// (`apt#4b`, `APT4B`) become their own words.
fn tokenize(input: &str) -> Vec<Vec<String>> {
    let cleaned: String = input
        .chars()
        .map(|c| match c {
            '\n' | '\r' | ';' => ',',
            '.' => ' ',
            '#' => '#',
            c if c.is_alphanumeric() || c == '-' || c == '/' || c == '\'' || c == ',' => c,
            _ => ' ',
        })
        .collect::<String>()
        .replace('#', " # ");
    let mut parts = Vec::new();
    for part in cleaned.split(',') {
        let mut words = Vec::new();
        for w in part.split_whitespace() {
            let w = w.to_uppercase();
            let w = w.trim_matches(|c| c == '-' || c == '\'').to_string();
            if w.is_empty() {
                continue;
            }
            // APT4B → APT 4B
            let glued = ["APT", "STE", "UNIT", "RM", "BLDG", "FL", "SUITE"]
                .iter()
                .find(|d| w.len() > d.len() && w.starts_with(*d) && w.as_bytes()[d.len()].is_ascii_digit());
            match glued {
                Some(d) => {
                    words.push(d.to_string());
                    words.push(w[d.len()..].to_string());
                }
                None => words.push(w),
            }
        }
        if !words.is_empty() {
            parts.push(words);
        }
    }
    parts
}

fn take_state(words: &mut Vec<String>) -> Option<String> {
    for n in (1..=4.min(words.len())).rev() {
        let tail = words[words.len() - n..].join(" ");
        if let Some(code) = state_code(&tail) {
            // A lone word like "WASHINGTON" before nothing else is a street, not a state.
            if words.len() > n || n > 0 {
                words.truncate(words.len() - n);
                return Some(code.to_string());
            }
        }
    }
    None
}

/// Parses `[postdir] [unit] ...rest` starting at `i`; returns the end index of
/// what it consumed.
fn parse_tail(t: &[String], mut i: usize, a: &mut Address) -> usize {
    if let Some(d) = t.get(i).and_then(|w| direction(w)) {
        // A direction followed by more words that are not a unit starts a city.
        let next_is_unit = t.get(i + 1).is_none_or(|w| unit_designator(w).is_some());
        if next_is_unit {
            a.postdir = Some(d.to_string());
            i += 1;
        }
    }
    if let Some((designator, needs_id)) = t.get(i).and_then(|w| unit_designator(w)) {
        let mut j = i + 1;
        // "APT # 4B": the sign adds nothing after a designator.
        if designator != "#" && t.get(j).is_some_and(|w| w == "#") {
            j += 1;
        }
        let id = t.get(j).filter(|w| *w != "#" && (needs_id || w.chars().any(|c| c.is_ascii_digit()))).cloned();
        if needs_id && id.is_none() {
            return i;
        }
        i = j + id.is_some() as usize;
        a.unit = Some(Unit { designator: designator.to_string(), id });
    } else if let Some(w) = t.get(i).filter(|w| w.chars().any(|c| c.is_ascii_digit()) && w.len() <= 6) {
        // A bare id after the street ("Main St 4B") is a secondary unit.
        a.unit = Some(Unit { designator: "#".into(), id: Some(w.clone()) });
        i += 1;
    }
    i
}

/// Street line: number, directions, name, suffix, unit. Returns the index of
/// the first word it did not use (the start of a city, when there are no commas).
fn parse_street(t: &[String], a: &mut Address, whole_part: bool) -> Result<usize, String> {
    let mut i = 0;
    let box_at = match t {
        [p, o, b, ..] if p == "P" && o == "O" && b == "BOX" => Some(3),
        [po, b, ..] if po == "PO" && b == "BOX" => Some(2),
        [p, o, b, ..] if p == "POST" && o == "OFFICE" && b == "BOX" => Some(3),
        [b, ..] if b == "POBOX" => Some(1),
        _ => None,
    };
    if let Some(n) = box_at {
        let id = t.get(n).ok_or("a PO Box needs its number")?;
        a.po_box = Some(id.clone());
        return Ok(n + 1);
    }
    let first = t.first().ok_or("the address is empty")?;
    if !is_number(first) {
        return Err(format!("it does not start with a house number (`{first}`)"));
    }
    let mut number = first.clone();
    i += 1;
    if let Some(f) = t.get(i).filter(|w| is_fraction(w)) {
        number = format!("{number} {f}");
        i += 1;
    }
    a.number = Some(number);
    let start = i;
    for with_predir in [true, false] {
        let mut b = a.clone();
        let mut j = start;
        if with_predir {
            match t.get(j).and_then(|w| direction(w)) {
                Some(d) if t.len() > j + 1 => {
                    b.predir = Some(d.to_string());
                    j += 1;
                }
                _ => continue,
            }
        }
        if let Some(end) = parse_name(t, j, &mut b, whole_part) {
            *a = b;
            return Ok(end);
        }
    }
    Err("no street name after the house number".into())
}

fn parse_name(t: &[String], from: usize, a: &mut Address, whole_part: bool) -> Option<usize> {
    let candidates: Vec<usize> = (from + 1..t.len()).filter(|&j| suffix(&t[j]).is_some()).collect();
    let ordered: Vec<usize> = if whole_part { candidates.into_iter().rev().collect() } else { candidates };
    for j in ordered {
        let mut b = a.clone();
        b.street = t[from..j].to_vec();
        b.suffix = suffix(&t[j]).map(str::to_string);
        let end = parse_tail(t, j + 1, &mut b);
        if !whole_part || end == t.len() {
            *a = b;
            return Some(end);
        }
    }
    // No suffix: the name runs to a unit designator or the end of the part.
    let stop = (from..t.len()).find(|&j| j > from && unit_designator(&t[j]).is_some()).unwrap_or(t.len());
    if stop == from {
        return None;
    }
    if !whole_part && stop == t.len() {
        // Without commas or a suffix, street and city cannot be told apart.
        a.street = t[from..].to_vec();
        return Some(t.len());
    }
    a.street = t[from..stop].to_vec();
    Some(parse_tail(t, stop, a))
}

/// Parses one US address, single-line or street-only.
pub fn parse(input: &str) -> Result<Address, String> {
    if input.len() > ADDRESS_BYTES_MAX {
        return Err(format!("longer than {ADDRESS_BYTES_MAX} bytes; not an address"));
    }
    let mut parts = tokenize(input);
    if parts.is_empty() {
        return Err("the address is empty".into());
    }
    let mut a = Address::default();
    // ZIP and state from the end, across the last part.
    if let Some(last) = parts.last_mut() {
        if let Some(z) = last.last().and_then(|w| zip_parts(w)) {
            if last.len() > 1 || parts.len() > 1 {
                (a.zip, a.zip4) = (Some(z.0), z.1);
                parts.last_mut().map(|l| l.pop());
            }
        }
    }
    parts.retain(|p| !p.is_empty());
    if parts.len() > 1 || a.zip.is_some() {
        if let Some(last) = parts.last_mut() {
            a.state = take_state(last);
        }
        parts.retain(|p| !p.is_empty());
    }
    let street_part = parts.first().cloned().ok_or("no street")?;
    let whole_part = parts.len() > 1;
    let end = parse_street(&street_part, &mut a, whole_part)?;
    let mut rest: Vec<Vec<String>> = Vec::new();
    if end < street_part.len() {
        rest.push(street_part[end..].to_vec());
    }
    rest.extend(parts.into_iter().skip(1));
    for part in rest {
        let is_unit = unit_designator(&part[0]).is_some() && a.unit.is_none();
        if is_unit {
            let end = parse_tail(&part, 0, &mut a);
            if end < part.len() {
                a.city = Some(part[end..].join(" "));
            }
        } else if a.city.is_none() {
            a.city = Some(part.join(" "));
        } else {
            return Err(format!("cannot tell what `{}` is", part.join(" ")));
        }
    }
    Ok(a)
}

fn title(word: &str) -> String {
    super::title_word(word)
}

fn titles(words: &[String]) -> String {
    words.iter().map(|w| title(w)).collect::<Vec<_>>().join(" ")
}

impl Unit {
    pub fn display(&self) -> String {
        let d = if self.designator == "#" { "#".to_string() } else { title(&self.designator) };
        match &self.id {
            Some(id) => format!("{d} {id}"),
            None => d,
        }
    }
}

impl Address {
    pub fn street_line(&self) -> String {
        if let Some(b) = &self.po_box {
            return format!("PO Box {b}");
        }
        let mut words: Vec<String> = Vec::new();
        words.extend(self.number.clone());
        words.extend(self.predir.clone());
        words.push(titles(&self.street));
        words.extend(self.suffix.as_deref().map(title));
        words.extend(self.postdir.clone());
        words.join(" ")
    }

    /// `125 Main St, Apt 4B, Brooklyn, NY 11211`.
    pub fn canonical(&self) -> String {
        let mut parts = vec![self.street_line()];
        parts.extend(self.unit.as_ref().map(Unit::display));
        parts.extend(self.city.as_deref().map(|c| titles(&c.split(' ').map(str::to_string).collect::<Vec<_>>())));
        let zip = match (&self.zip, &self.zip4) {
            (Some(z), Some(p)) => Some(format!("{z}-{p}")),
            (Some(z), None) => Some(z.clone()),
            _ => None,
        };
        let last: Vec<String> = self.state.iter().cloned().chain(zip).collect();
        if !last.is_empty() {
            parts.push(last.join(" "));
        }
        parts.join(", ")
    }
}

pub fn canonical(value: &str) -> Result<String, String> {
    parse(value).map(|a| a.canonical())
}

fn city_key(city: &str) -> String {
    let expand = |w: &str| {
        match w {
            "ST" => "SAINT",
            "STE" => "SAINTE",
            "FT" => "FORT",
            "MT" => "MOUNT",
            "PT" => "POINT",
            other => other,
        }
        .to_string()
    };
    city.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| expand(&w.to_uppercase()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Optimal string alignment distance (edits incl. one transposition).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = (a[i - 1] != b[j - 1]) as usize;
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// The same city written differently, or a small typing fix of it.
pub fn same_city(a: &str, b: &str) -> bool {
    let (a, b) = (city_key(a), city_key(b));
    if a == b {
        return true;
    }
    let (a, b) = (a.replace(' ', ""), b.replace(' ', ""));
    let allowed = if a.len().min(b.len()) <= 5 { 1 } else { 2 };
    a.chars().next() == b.chars().next() && edit_distance(&a, &b) <= allowed
}

fn unit_id_key(id: &Option<String>) -> String {
    id.as_deref().unwrap_or("").chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_uppercase()
}

fn flag(reason: ReviewReason, note: String) -> Flag {
    Flag { reason, note }
}

/// Why `new` may not be the same place as `old`; empty when it is.
pub fn compare(field: &str, old: &str, new: &str) -> Vec<Flag> {
    let (a, b) = match (parse(old), parse(new)) {
        (Err(why), _) => {
            return vec![flag(
                ReviewReason::Unparseable,
                format!("{field}: leash cannot read the current address `{old}` ({why}); compare by eye"),
            )]
        }
        (_, Err(why)) => {
            return vec![flag(
                ReviewReason::Unparseable,
                format!("{field}: leash cannot read the new address `{new}` ({why}); compare by eye"),
            )]
        }
        (Ok(a), Ok(b)) => (a, b),
    };
    diff(field, &a, &b)
}

pub fn diff(field: &str, a: &Address, b: &Address) -> Vec<Flag> {
    let mut flags = Vec::new();
    let opt = |s: &Option<String>| s.clone().unwrap_or_else(|| "none".into());
    if a.number != b.number || a.po_box != b.po_box {
        let (x, y) = if a.po_box.is_some() || b.po_box.is_some() {
            (a.po_box.clone().map(|p| format!("PO Box {p}")), b.po_box.clone().map(|p| format!("PO Box {p}")))
        } else {
            (a.number.clone(), b.number.clone())
        };
        flags.push(flag(
            ReviewReason::NumberChanged,
            format!("{field}: the house number changes from {} to {}: that is a different building", opt(&x), opt(&y)),
        ));
    }
    if a.predir != b.predir || a.street != b.street || a.postdir != b.postdir || a.suffix != b.suffix {
        flags.push(flag(
            ReviewReason::StreetChanged,
            format!(
                "{field}: the street changes from `{}` to `{}`, not just its spelling",
                a.street_line(),
                b.street_line()
            ),
        ));
    }
    match (&a.unit, &b.unit) {
        (Some(u), None) => flags.push(flag(
            ReviewReason::UnitDropped,
            format!("{field}: `{}` is missing from the new address; mail would not reach the door", u.display()),
        )),
        (None, Some(u)) => flags.push(flag(
            ReviewReason::UnitChanged,
            format!("{field}: the new address adds `{}`, which the current one does not have", u.display()),
        )),
        (Some(x), Some(y)) => {
            let designator_moved = x.designator != y.designator && x.designator != "#" && y.designator != "#";
            if unit_id_key(&x.id) != unit_id_key(&y.id) || designator_moved {
                flags.push(flag(
                    ReviewReason::UnitChanged,
                    format!(
                        "{field}: the unit changes from `{}` to `{}`: that is a different apartment",
                        x.display(),
                        y.display()
                    ),
                ));
            }
        }
        (None, None) => {}
    }
    match (&a.city, &b.city) {
        (Some(x), Some(y)) if !same_city(x, y) => flags.push(flag(
            ReviewReason::CityChanged,
            format!(
                "{field}: the city changes from `{}` to `{}`, more than a spelling fix",
                title_words(x),
                title_words(y)
            ),
        )),
        (Some(x), None) => {
            flags.push(flag(ReviewReason::CityChanged, format!("{field}: the city `{}` is dropped", title_words(x))))
        }
        (None, Some(y)) => flags.push(flag(
            ReviewReason::CityChanged,
            format!("{field}: the city `{}` is added; check it is right", title_words(y)),
        )),
        _ => {}
    }
    if a.state != b.state {
        flags.push(flag(
            ReviewReason::NotMechanical,
            format!("{field}: the state changes from {} to {}", opt(&a.state), opt(&b.state)),
        ));
    }
    let zip4_dropped_or_changed = a.zip4.is_some() && a.zip4 != b.zip4;
    if a.zip != b.zip || zip4_dropped_or_changed {
        let show = |z: &Option<String>, p: &Option<String>| match (z, p) {
            (Some(z), Some(p)) => format!("{z}-{p}"),
            (Some(z), None) => z.clone(),
            _ => "none".into(),
        };
        flags.push(flag(
            ReviewReason::NotMechanical,
            format!("{field}: the ZIP code changes from {} to {}", show(&a.zip, &a.zip4), show(&b.zip, &b.zip4)),
        ));
    }
    if let (Some(zip), Some(state)) = (&b.zip, &b.state) {
        let states = zip_states(zip);
        if !states.iter().any(|s| s == state) {
            let belongs = if states.is_empty() {
                "is not in use".to_string()
            } else {
                format!("belongs to {}", states.join("/"))
            };
            flags.push(flag(
                ReviewReason::ZipStateMismatch,
                format!("{field}: ZIP {zip} {belongs}, but the address says {state}; one of them is wrong"),
            ));
        }
    }
    flags
}

fn title_words(s: &str) -> String {
    titles(&s.split(' ').map(str::to_string).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_address_canonicalizes() {
        assert_eq!(
            canonical("125 main st apt#4b, brookln ny 11211").unwrap(),
            "125 Main St, Apt 4B, Brookln, NY 11211"
        );
        assert_eq!(
            canonical("125 Main Street Apartment 4B, Brooklyn, New York 11211").unwrap(),
            "125 Main St, Apt 4B, Brooklyn, NY 11211"
        );
    }

    #[test]
    fn zip_table_knows_prefixes() {
        assert_eq!(zip_states("97201"), ["OR"]);
        assert_eq!(zip_states("11211"), ["NY"]);
        assert_eq!(zip_states("20001"), ["DC"]);
        assert!(zip_states("00001").is_empty());
    }

    #[test]
    fn city_typo_rule() {
        assert!(same_city("brookln", "Brooklyn"));
        assert!(same_city("St. Louis", "Saint Louis"));
        assert!(!same_city("Portland", "Salem"));
        assert!(!same_city("Austin", "Boston"));
    }
}
