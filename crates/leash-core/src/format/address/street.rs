//! The delivery line, read the way USPS Publication 28 reads it: a house
//! number and street, a PO Box, or a box line (military `PSC 1234 Box 5678`,
//! rural `RR 2 Box 152`).
//!
//! What must stay true, because `compare` trusts it: every word of the line
//! lands in some field, and only spellings that mean the same are merged.
//! So a directional is a pre- or post-directional only when a street name
//! remains (`North St` is a street named North, not `N St`); a route name keeps
//! its number (`County Road 45` is not `County Rd, # 45`); and a unit needs a
//! designator or `#` (a bare `4B` after the street is refused, not guessed).

use super::tables::{box_line_kind, direction, suffix, unit_designator};
use super::words::{has_digit, is_fraction, is_number, is_route, is_unit_id, join_routes, ROUTE_JOIN};
use super::{Address, BoxLine, Unit, ADDRESS_UNITS_MAX};

/// The street part of a line, before it is copied into an `Address`.
#[derive(Default)]
struct Street {
    predir: Option<&'static str>,
    name: Vec<String>,
    suffix: Option<&'static str>,
    postdir: Option<&'static str>,
    units: Vec<Unit>,
}

/// Why one reading of the street failed, when it says more than "no street".
type Why = Option<String>;

/// What follows the delivery line in its comma part.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum LineEnd {
    /// Nothing: the city has a comma part of its own.
    Comma,
    /// A city, without a comma (the address ends in a state or ZIP).
    City,
    /// Perhaps a city: one part with neither state nor ZIP.
    Unknown,
}

/// Reads the delivery line at the start of `t` into `a`; returns the words it
/// did not use (a city, when the address has no commas).
pub(super) fn read_delivery_line(
    t: &[String],
    a: &mut Address,
    end: LineEnd,
    military: bool,
) -> Result<Vec<String>, String> {
    if let Some(n) = po_box_words(t) {
        let skip = usize::from(t.get(n).is_some_and(|w| w == "#"));
        let id = t.get(n + skip).filter(|w| is_unit_id(w)).ok_or("a PO Box needs its number")?;
        a.po_box = Some(id.clone());
        return Ok(t[n + skip + 1..].to_vec());
    }
    if let Some((line, used)) = box_line(t, military)? {
        a.box_line = Some(line);
        return Ok(t[used..].to_vec());
    }
    let first = t.first().ok_or("the address is empty")?;
    if !is_number(first) {
        return Err(format!("no house number: the address starts with `{first}`"));
    }
    let mut number = first.clone();
    let mut i = 1;
    if let Some(f) = t.get(i).filter(|w| is_fraction(w)) {
        number = format!("{number} {f}");
        i += 1;
    }
    a.number = Some(number);
    let words = join_routes(&t[i..]);
    let (street, rest) = read_street(&words, end)?;
    a.predir = street.predir.map(str::to_string);
    a.street = street.name.iter().flat_map(|w| w.split(ROUTE_JOIN)).map(str::to_string).collect();
    a.suffix = street.suffix.map(str::to_string);
    a.postdir = street.postdir.map(str::to_string);
    let mut units = street.units.into_iter();
    (a.unit, a.second_unit) = (units.next(), units.next());
    Ok(rest.iter().flat_map(|w| w.split(ROUTE_JOIN)).map(str::to_string).collect())
}

/// How many words spell "PO Box" at the start (`P O Box`, `Post Office Box`, `Box`).
fn po_box_words(t: &[String]) -> Option<usize> {
    const SPELLINGS: &[&[&str]] =
        &[&["P", "O", "BOX"], &["PO", "BOX"], &["POST", "OFFICE", "BOX"], &["POBOX"], &["POB"], &["BOX"]];
    // A lone `Box` is a PO Box only with its number; `PO Box` alone still is one.
    let spelled = |s: &[&str]| s.iter().zip(t).all(|(a, b)| a == b) && t.len() >= s.len() + usize::from(s == ["BOX"]);
    SPELLINGS.iter().find(|s| spelled(s)).map(|s| s.len())
}

/// `PSC 1234 Box 5678`, `Unit 2050 Box 4190` (military only), `RR 2 Box 152`.
fn box_line(t: &[String], military: bool) -> Result<Option<(BoxLine, usize)>, String> {
    let Some((n, kind, is_military)) = box_line_kind(t) else { return Ok(None) };
    let Some(number) = t.get(n).filter(|w| has_digit(w)) else { return Ok(None) };
    if is_military && !military {
        return Ok(None);
    }
    let mut line = BoxLine { kind: kind.to_string(), number: number.clone(), box_id: None };
    let mut used = n + 1;
    if t.get(used).is_some_and(|w| w == "BOX") {
        let id = t.get(used + 1).filter(|w| is_unit_id(w)).ok_or(format!("`{kind} {number} Box` has no box number"))?;
        line.box_id = Some(id.clone());
        used += 2;
    }
    Ok(Some((line, used)))
}

/// Street words after the house number: [predir] name [suffix] [postdir] [unit [unit]].
fn read_street(w: &[String], line_end: LineEnd) -> Result<(Street, Vec<String>), String> {
    let whole_part = line_end == LineEnd::Comma;
    let predir = w.first().and_then(|x| direction(x));
    let starts: Vec<(Option<&'static str>, usize)> =
        predir.map(|d| (Some(d), 1)).into_iter().chain([(None, 0)]).collect();
    let mut why: Why = None;
    // Where the name ends decides first, the directional second: without
    // commas `1 North Street Fishers Island` ends at Street, not at Island.
    for end in name_ends(w, whole_part) {
        for &(predir, from) in starts.iter().filter(|(_, from)| is_route(&w[end]) || end > *from) {
            match after_name(w, from, end, predir, whole_part) {
                Ok(found) => return Ok(found),
                Err(reason) => why = why.or(reason),
            }
        }
    }
    if let Some(why) = why {
        return Err(why);
    }
    for &(predir, from) in &starts {
        if let Some(found) = without_suffix(w, from, predir, line_end)? {
            return Ok(found);
        }
    }
    Err("no street name after the house number".into())
}

/// Suffixes that end a street and rarely begin a city (`Lake Shore Dr Chicago`
/// but `Main St Park City`): without commas, a suffix followed by one of these
/// is taken as part of the name.
const STREET_ENDINGS: &[&str] =
    &["AVE", "BLVD", "CIR", "CT", "DR", "LN", "PKWY", "PL", "RD", "TER", "TRL", "WAY", "HWY", "ALY", "SQ", "EXPY"];

/// Suffixes that often begin a city name (Saint, Mount, Fort, Lake, Park, Key …).
const CITY_STARTS: &[&str] = &[
    "ST", "MT", "FT", "PT", "PRT", "LK", "LKS", "PARK", "SPG", "SPGS", "FLS", "GLN", "HBR", "KY", "CPE", "FRST", "GDN",
    "ML", "PNE", "PNES", "VLY", "CTR", "IS", "GRV", "BCH", "HL", "HLS", "CRK", "RDG", "VLG",
];

fn suffix_is_street_type(word: &str) -> bool {
    suffix(word).is_some_and(|s| s == "ST" || STREET_ENDINGS.contains(&s))
}

/// Where the street name may end: at a suffix after the first word, or at a
/// route name. With commas the last such word is tried first (`Lake Shore Dr`);
/// without, the first, since a city follows.
fn name_ends(w: &[String], whole_part: bool) -> Vec<usize> {
    // TRAILER and KEY are suffixes and designators. `Trailer 5` and `Key A`
    // are units, `Key N` is Key North; `Palm Key # 1` is Palm Key with unit 1,
    // unless a street type came first (`Main St Trlr # 1`).
    let starts_unit = |j: usize| {
        let signed = w.get(j + 1).is_some_and(|n| n == "#");
        let after_suffix = j > 0 && suffix_is_street_type(&w[j - 1]);
        match read_unit(w, &mut j.clone()) {
            Ok(Some(Unit { id: Some(_), .. })) if signed => after_suffix,
            Ok(Some(Unit { id: Some(id), .. })) => direction(&id).is_none(),
            _ => false,
        }
    };
    let mut ends: Vec<usize> =
        (0..w.len()).filter(|&j| is_route(&w[j]) || (j > 0 && suffix(&w[j]).is_some() && !starts_unit(j))).collect();
    if whole_part {
        ends.reverse();
    } else {
        // A suffix followed by another suffix is inside the name (`Spring Hill
        // Hts`, `Lake Shore Dr`) unless that one may begin a city (`Main St St
        // Paul`, `Main St Park City`, `Main St Key West`).
        let before_street_ending = |j: usize| {
            let next = w.get(j + 1).map(String::as_str);
            let street = matches!(next, Some("STREET" | "STR" | "STRT"));
            let inside_name = next.and_then(suffix).is_some_and(|s| !CITY_STARTS.contains(&s)) && !starts_unit(j + 1);
            street || inside_name
        };
        // `1 N Lake Shore St Brooklyn` is not a street named N Lake: a lone
        // directional names a street before a street type (`N St`), and
        // otherwise only when nothing else reads.
        let lone_directional =
            |j: usize| j == 1 && direction(&w[0]).is_some() && !is_route(&w[1]) && !suffix_is_street_type(&w[1]);
        ends.sort_by_key(|&j| (lone_directional(j), before_street_ending(j)));
    }
    ends
}

fn after_name(
    w: &[String],
    from: usize,
    end: usize,
    predir: Option<&'static str>,
    whole_part: bool,
) -> Result<(Street, Vec<String>), Why> {
    let (name, suffix) =
        if is_route(&w[end]) { (w[from..=end].to_vec(), None) } else { (w[from..end].to_vec(), suffix(&w[end])) };
    // `North Street Key West`: a directional is not a pre-directional when all
    // that would remain of the name is a street type.
    let name_is_a_street_type = matches!(name.as_slice(), [only] if suffix_is_street_type(only));
    if predir.is_some() && name_is_a_street_type {
        return Err(None);
    }
    let mut i = end + 1;
    let postdir = postdir_at(w, i);
    i += usize::from(postdir.is_some());
    let units = read_units(w, &mut i)?;
    let rest = w[i..].to_vec();
    check_rest(&rest, whole_part)?;
    Ok((Street { predir, name, suffix, postdir, units }, rest))
}

/// A directional after the street is a post-directional when it is written as
/// one (`NW`) or nothing but a unit follows; a spelled-out one followed by
/// more words starts a city (`Main St West Hartford`).
fn postdir_at(w: &[String], i: usize) -> Option<&'static str> {
    let word = w.get(i)?;
    let d = direction(word)?;
    let next = w.get(i + 1);
    (word == d || next.is_none_or(|n| unit_designator(n).is_some())).then_some(d)
}

/// What is left after the street: nothing when the street has its own comma
/// part, a city otherwise, and never a bare unit number.
fn check_rest(rest: &[String], whole_part: bool) -> Result<(), Why> {
    match rest.first() {
        None => Ok(()),
        Some(w) if has_digit(w) => {
            Err(Some(format!("`{w}` follows the street without a unit designator such as Apt, Ste or #")))
        }
        Some(w) if whole_part && unit_designator(w).is_some_and(|(_, needs_id)| needs_id) => {
            Err(Some(format!("`{w}` has no unit number after it")))
        }
        Some(_) if whole_part => Err(None),
        Some(_) => Ok(()),
    }
}

/// No suffix: the name runs to a unit designator or the end of the part.
fn without_suffix(
    w: &[String],
    from: usize,
    predir: Option<&'static str>,
    line_end: LineEnd,
) -> Result<Option<(Street, Vec<String>)>, String> {
    let whole_part = line_end == LineEnd::Comma;
    // A name may start with a designator word (`Front`), but not with a unit (`Apt 1`).
    if matches!(read_unit(w, &mut from.clone()), Ok(Some(_))) {
        return Ok(None);
    }
    let stop = (from + 1..w.len()).find(|&j| unit_designator(&w[j]).is_some()).unwrap_or(w.len());
    let mut name = w.get(from..stop).unwrap_or_default().to_vec();
    let postdir = match name.as_slice() {
        [_, .., last] => direction(last),
        _ => None,
    };
    if postdir.is_some() {
        name.pop();
    }
    // `1 North N` reads as North St going north or N St on the north side;
    // either reading would merge two streets, so a person reads it.
    if let ([only], Some(d)) = (name.as_slice(), predir.or(postdir)) {
        if direction(only).is_some() && predir.is_some() != postdir.is_some() {
            let spelled = if predir.is_some() { format!("{d} {only}") } else { format!("{only} {d}") };
            return Err(format!("`{spelled}` could be a directional and a street named either way"));
        }
    }
    if name.is_empty() {
        return Ok(None);
    }
    if line_end == LineEnd::City && stop == w.len() {
        return Err(
            "without a comma or a street suffix, leash cannot tell where the street ends and the city begins".into()
        );
    }
    let mut i = stop;
    let units = read_units(w, &mut i).map_err(|why| why.unwrap_or_default())?;
    let rest = w[i..].to_vec();
    match check_rest(&rest, whole_part) {
        Ok(()) => Ok(Some((Street { predir, name, suffix: None, postdir, units }, rest))),
        Err(Some(why)) => Err(why),
        Err(None) => Ok(None),
    }
}

/// Up to two units from `i` on (`Bldg 3 Rm 101`); `i` moves past them.
pub(super) fn read_units(w: &[String], i: &mut usize) -> Result<Vec<Unit>, Why> {
    let mut units = Vec::new();
    while let Some(unit) = read_unit(w, i)? {
        units.push(unit);
        if units.len() > ADDRESS_UNITS_MAX {
            let shown: Vec<String> = units.iter().map(Unit::display).collect();
            return Err(Some(format!("more than {ADDRESS_UNITS_MAX} units ({})", shown.join(", "))));
        }
    }
    Ok(units)
}

fn read_unit(w: &[String], i: &mut usize) -> Result<Option<Unit>, Why> {
    let Some(word) = w.get(*i) else { return Ok(None) };
    let Some((designator, needs_id)) = unit_designator(word) else { return Ok(None) };
    let mut j = *i + 1;
    // "APT # 4B", "APT NO 4B": the sign adds nothing after a designator.
    if designator != "#" && w.get(j).is_some_and(|n| unit_designator(n) == Some(("#", true))) {
        j += 1;
    }
    let next = w.get(j);
    // `Trlr Rm 1` is two designators, not trailer "RM".
    let id = next.filter(|n| is_unit_id(n) && unit_designator(n).is_none() && (needs_id || has_digit(n)));
    if needs_id && id.is_none() {
        return match next {
            Some(n) if unit_designator(n).is_some() => {
                Err(Some(format!("two unit designators in a row (`{word} {n}`), and no unit number between them")))
            }
            _ => Ok(None),
        };
    }
    *i = j + usize::from(id.is_some());
    Ok(Some(Unit { designator: designator.to_string(), id: id.cloned() }))
}
