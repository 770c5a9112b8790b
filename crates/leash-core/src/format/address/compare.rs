//! Whether a rewritten address is the same place: every part that decides
//! where mail goes (house number or box, street, units, city, state, ZIP) must
//! mean the same, or the rewrite goes to a person with a note that says which
//! part moved and why that matters.
//!
//! City rule: two cities are the same when they match after case, spacing,
//! punctuation and the abbreviations St/Ste/Ft/Mt/Pt. A near spelling (same
//! first letter, one edit for names up to 5 letters, two for longer ones:
//! `brookln` → `Brooklyn`) is a typing fix only when both addresses carry the
//! same ZIP code, because the post office delivers by ZIP; without it `Bristol`
//! and `Bristow` are two towns.

use super::{parse, title_words, Address, Unit};
use crate::codes::ReviewReason;
use crate::format::Flag;

fn flag(reason: ReviewReason, note: String) -> Flag {
    Flag { reason, note }
}

/// Why `new` may not be the same place as `old`; empty when it is.
pub fn compare(field: &str, old: &str, new: &str) -> Vec<Flag> {
    match (parse(old), parse(new)) {
        (Err(why), _) => vec![flag(
            ReviewReason::Unparseable,
            format!("{field}: leash cannot read the current address `{old}`: {why}; compare the two by eye"),
        )],
        (_, Err(why)) => vec![flag(
            ReviewReason::Unparseable,
            format!("{field}: leash cannot read the new address `{new}`: {why}; compare the two by eye"),
        )],
        (Ok(a), Ok(b)) => diff(field, &a, &b),
    }
}

pub fn diff(field: &str, a: &Address, b: &Address) -> Vec<Flag> {
    let mut flags = Vec::new();
    flags.extend(delivery_point(field, a, b));
    flags.extend(street(field, a, b));
    flags.extend(units(field, a, b));
    flags.extend(city(field, a, b));
    flags.extend(state_and_zip(field, a, b));
    flags
}

fn or_none(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "none".into())
}

/// House number, PO Box or box line: the building or box the mail goes to.
fn delivery_point(field: &str, a: &Address, b: &Address) -> Option<Flag> {
    let kind = |x: &Address| (x.number.is_some(), x.po_box.is_some(), x.box_line.as_ref().map(|l| l.kind.clone()));
    if kind(a) != kind(b) {
        return Some(flag(
            ReviewReason::NumberChanged,
            format!(
                "{field}: the delivery line changes from `{}` to `{}`: a street address, a PO Box and a box line are different places",
                a.street_line(),
                b.street_line()
            ),
        ));
    }
    if a.po_box != b.po_box {
        let show = |p: &Option<String>| format!("PO Box {}", or_none(p));
        return Some(flag(
            ReviewReason::NumberChanged,
            format!(
                "{field}: the box changes from {} to {}: that is someone else's box",
                show(&a.po_box),
                show(&b.po_box)
            ),
        ));
    }
    if a.box_line != b.box_line {
        let show = |x: &Address| x.box_line.as_ref().map(|l| l.display()).unwrap_or_default();
        return Some(flag(
            ReviewReason::NumberChanged,
            format!(
                "{field}: `{}` becomes `{}`: a different unit or box number is someone else's mail",
                show(a),
                show(b)
            ),
        ));
    }
    (a.number != b.number).then(|| {
        flag(
            ReviewReason::NumberChanged,
            format!(
                "{field}: the house number changes from {} to {}: that is a different building",
                or_none(&a.number),
                or_none(&b.number)
            ),
        )
    })
}

/// `ST` and `SAINT` in a street name are one word (`St Charles Ave`).
fn street_key(words: &[String]) -> Vec<String> {
    words.iter().map(|w| city_word(w).to_string()).collect()
}

fn street(field: &str, a: &Address, b: &Address) -> Option<Flag> {
    let same = a.predir == b.predir
        && street_key(&a.street) == street_key(&b.street)
        && a.suffix == b.suffix
        && a.postdir == b.postdir;
    (!same).then(|| {
        flag(
            ReviewReason::StreetChanged,
            format!(
                "{field}: the street changes from `{}` to `{}`, not just its spelling",
                a.street_line(),
                b.street_line()
            ),
        )
    })
}

/// `4-B` and `4B` are one unit id; `1-2` and `12` are not.
fn unit_id_key(id: &Option<String>) -> String {
    let chars: Vec<char> = id.as_deref().unwrap_or("").chars().collect();
    let keep = |i: usize, c: char| {
        let joins_digit_and_letter = |x: char, y: char| x.is_ascii_digit() != y.is_ascii_digit();
        c != '-'
            || !matches!((i.checked_sub(1).and_then(|p| chars.get(p)), chars.get(i + 1)), (Some(x), Some(y)) if joins_digit_and_letter(*x, *y))
    };
    chars.iter().enumerate().filter(|(i, c)| keep(*i, **c)).map(|(_, c)| c.to_ascii_uppercase()).collect()
}

/// The same unit: the same id, and the same designator unless one of them is
/// the bare `#` that stands for "some designator". Not for TRLR and KEY: they
/// are street suffixes too, and `Palm Key # 1` → `Palm, # 1` drops the street's.
fn same_unit(x: &Unit, y: &Unit) -> bool {
    let stands_for = |d: &str, other: &str| d == "#" && other != "TRLR" && other != "KEY";
    let designator = x.designator == y.designator
        || stands_for(&x.designator, &y.designator)
        || stands_for(&y.designator, &x.designator);
    designator && unit_id_key(&x.id) == unit_id_key(&y.id)
}

fn same_id_and_designator(x: &Unit, y: &Unit) -> bool {
    x.designator == y.designator && unit_id_key(&x.id) == unit_id_key(&y.id)
}

fn units(field: &str, a: &Address, b: &Address) -> Vec<Flag> {
    let (old, new): (Vec<&Unit>, Vec<&Unit>) = (a.units().collect(), b.units().collect());
    // With two units a `#` could stand for either designator, so it stands for none.
    let single = old.len() == 1 && new.len() == 1;
    let matches = |x: &Unit, y: &Unit| if single { same_unit(x, y) } else { same_id_and_designator(x, y) };
    // Units are matched as a set: `Rm 101 Bldg 3` is `Bldg 3 Rm 101`.
    let mut unmatched_new = new.clone();
    let mut unmatched_old = Vec::new();
    for x in &old {
        match unmatched_new.iter().position(|y| matches(x, y)) {
            Some(at) => {
                unmatched_new.remove(at);
            }
            None => unmatched_old.push(*x),
        }
    }
    let mut flags = Vec::new();
    let mut pairs = unmatched_old.iter().zip(unmatched_new.iter());
    for (x, y) in pairs.by_ref() {
        flags.push(flag(
            ReviewReason::UnitChanged,
            format!(
                "{field}: the unit changes from `{}` to `{}`: that is a different apartment or office",
                x.display(),
                y.display()
            ),
        ));
    }
    for x in unmatched_old.iter().skip(unmatched_new.len()) {
        flags.push(flag(
            ReviewReason::UnitDropped,
            format!("{field}: `{}` is missing from the new address; mail would not reach the door", x.display()),
        ));
    }
    for y in unmatched_new.iter().skip(unmatched_old.len()) {
        flags.push(flag(
            ReviewReason::UnitChanged,
            format!("{field}: the new address adds `{}`, which the current one does not have", y.display()),
        ));
    }
    flags
}

fn city(field: &str, a: &Address, b: &Address) -> Option<Flag> {
    let note = match (&a.city, &b.city) {
        (Some(x), Some(y)) if city_key(x) == city_key(y) => return None,
        (Some(x), Some(y)) if a.zip.is_some() && a.zip == b.zip && is_typing_fix(x, y) => return None,
        (Some(x), Some(y)) if is_typing_fix(x, y) => format!(
            "{field}: the city changes from `{}` to `{}`; that may be a typing fix, but without the same ZIP code on both leash cannot tell it from another town",
            title_words(x),
            title_words(y)
        ),
        (Some(x), Some(y)) => format!(
            "{field}: the city changes from `{}` to `{}`, more than a spelling fix",
            title_words(x),
            title_words(y)
        ),
        (Some(x), None) => format!("{field}: the city `{}` is dropped", title_words(x)),
        (None, Some(y)) => format!("{field}: the city `{}` is added; check it is right", title_words(y)),
        (None, None) => return None,
    };
    Some(flag(ReviewReason::CityChanged, note))
}

fn state_and_zip(field: &str, a: &Address, b: &Address) -> Vec<Flag> {
    let mut flags = Vec::new();
    if a.state != b.state {
        flags.push(flag(
            ReviewReason::NotMechanical,
            format!(
                "{field}: the state changes from {} to {}: that is another place",
                or_none(&a.state),
                or_none(&b.state)
            ),
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
            format!(
                "{field}: the ZIP code changes from {} to {}: mail is sorted by ZIP, so this may send it elsewhere",
                show(&a.zip, &a.zip4),
                show(&b.zip, &b.zip4)
            ),
        ));
    }
    if let (Some(zip), Some(state)) = (&b.zip, &b.state) {
        let states = super::zip_states(zip);
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

fn city_word(w: &str) -> &str {
    match w {
        "ST" => "SAINT",
        "STE" => "SAINTE",
        "FT" => "FORT",
        "MT" => "MOUNT",
        "PT" => "POINT",
        other => other,
    }
}

fn city_key(city: &str) -> String {
    city.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| city_word(&w.to_uppercase()).to_string())
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
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// One or two slips of the keyboard in as many words: `Brookln`, `Miami Bch`,
/// not a word more or less (`Shore Street N Brooklyn`).
fn is_typing_fix(a: &str, b: &str) -> bool {
    let (a, b) = (city_key(a), city_key(b));
    if a.split(' ').count() != b.split(' ').count() {
        return false;
    }
    let (a, b) = (a.replace(' ', ""), b.replace(' ', ""));
    let allowed = if a.len().min(b.len()) <= 5 { 1 } else { 2 };
    a.chars().next() == b.chars().next() && edit_distance(&a, &b) <= allowed
}

/// The same city written differently, or a small typing fix of it (which
/// `compare` accepts only under an unchanged ZIP code).
pub fn same_city(a: &str, b: &str) -> bool {
    city_key(a) == city_key(b) || is_typing_fix(a, b)
}
