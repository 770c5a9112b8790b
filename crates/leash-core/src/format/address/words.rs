//! From text to upper-case words, one list per comma-separated part, and the
//! word shapes the parser asks about (house numbers, unit ids, ZIP codes).

use super::tables::route_name;

/// Joins a route name and its number into one word (`COUNTY_ROAD_45`) so that
/// the suffix and unit rules pass over it; the parser splits it again.
pub(super) const ROUTE_JOIN: char = '_';

/// Upper-case words per comma-separated part. `#` and glued designators
/// (`apt#4b`, `APT4B`) become their own words, letter abbreviations lose their
/// dots (`N.W.` → `NW`, `P.O.` → `PO`), and `I-95` splits like `I 95`.
pub(super) fn tokenize(input: &str) -> Vec<Vec<String>> {
    let cleaned: String = input
        .chars()
        .map(|c| match c {
            '\n' | '\r' | ';' => ',',
            c if c.is_alphanumeric() || "-/'.,#".contains(c) => c,
            _ => ' ',
        })
        .collect::<String>()
        .replace('#', " # ");
    let mut parts = Vec::new();
    for part in cleaned.split(',') {
        let mut words = Vec::new();
        for raw in part.split_whitespace() {
            for w in undot(raw) {
                push_word(&mut words, w.to_uppercase());
            }
        }
        if !words.is_empty() {
            parts.push(words);
        }
    }
    parts
}

/// `N.W.` and `P.O.` are one abbreviation each; any other dot separates words.
fn undot(raw: &str) -> Vec<String> {
    let letters: Vec<&str> = raw.split('.').filter(|s| !s.is_empty()).collect();
    let initials = raw.contains('.')
        && letters.len() > 1
        && letters.iter().all(|s| s.chars().count() == 1 && s.chars().all(char::is_alphabetic));
    if initials {
        return vec![letters.concat()];
    }
    raw.split('.').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

const GLUED_DESIGNATORS: &[&str] = &["APT", "STE", "UNIT", "RM", "BLDG", "FL", "SUITE", "LOT", "SPC", "TRLR"];

fn push_word(words: &mut Vec<String>, w: String) {
    let w = w.trim_matches(|c| c == '-' || c == '\'').to_string();
    if w.is_empty() {
        return;
    }
    // APT4B → APT 4B
    let glued = GLUED_DESIGNATORS
        .iter()
        .find(|d| w.len() > d.len() && w.starts_with(*d) && w.as_bytes()[d.len()].is_ascii_digit());
    if let Some(d) = glued {
        words.push(d.to_string());
        words.push(w[d.len()..].to_string());
        return;
    }
    // I-95, SR-9, US-101 → I 95
    if let Some((head, tail)) = w.split_once('-') {
        let head_word = [head.to_string()];
        let is_route = route_name(&head_word).is_some_and(|(n, _)| n == 1);
        if is_route && tail.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            words.push(head.to_string());
            words.push(tail.to_string());
            return;
        }
    }
    words.push(w);
}

/// Route names with their number become one word: `COUNTY RD 45` → `COUNTY_ROAD_45`.
pub(super) fn join_routes(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if let Some((n, name)) = route_name(&words[i..]) {
            if let Some(number) = words.get(i + n).filter(|w| is_route_number(w)) {
                let mut joined = name.to_vec();
                joined.push(number.clone());
                out.push(joined.join(&ROUTE_JOIN.to_string()));
                i += n + 1;
                continue;
            }
        }
        out.push(words[i].clone());
        i += 1;
    }
    out
}

pub(super) fn is_route(word: &str) -> bool {
    word.contains(ROUTE_JOIN)
}

/// `45`, `45A`, `1960` or a lone letter (`County Road J`); not N, S, E or W,
/// which after `Pacific Hwy` is a directional.
fn is_route_number(t: &str) -> bool {
    let alphanumeric = t.chars().all(|c| c.is_ascii_alphanumeric());
    let letter = t.len() == 1 && !"NSEW".contains(t);
    alphanumeric && (has_digit(t) && t.len() <= 6 || letter)
}

pub(super) fn has_digit(t: &str) -> bool {
    t.chars().any(|c| c.is_ascii_digit())
}

/// A house number: digits first, at most two letters (`12`, `12B`, `12-14`).
pub(super) fn is_number(t: &str) -> bool {
    t.chars().next().is_some_and(|c| c.is_ascii_digit())
        && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && t.chars().filter(|c| c.is_ascii_alphabetic()).count() <= 2
}

pub(super) fn is_fraction(t: &str) -> bool {
    matches!(t.split_once('/'), Some((a, b)) if !a.is_empty() && !b.is_empty() && a.chars().chain(b.chars()).all(|c| c.is_ascii_digit()))
}

/// What can follow a designator: a number (`4B`, `200`, `A-1`) or a letter
/// (`Apt C`). `Key West` is a city, not the KEY designator with id WEST, and
/// `Trlr St Louis` is a trailer street in St Louis, not trailer "ST".
pub(super) fn is_unit_id(t: &str) -> bool {
    let shape = t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    shape && (has_digit(t) || (t.len() == 1 && t.chars().all(|c| c.is_ascii_alphabetic())))
}

pub(super) fn zip_parts(t: &str) -> Option<(String, Option<String>)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_join_initials_and_split_words() {
        assert_eq!(
            tokenize("1600 Penn. Ave. N.W., Washington D.C."),
            [vec!["1600", "PENN", "AVE", "NW"], vec!["WASHINGTON", "DC"]]
        );
        assert_eq!(tokenize("P.O. Box 5"), [vec!["PO", "BOX", "5"]]);
    }

    #[test]
    fn glued_designators_and_route_hyphens_split() {
        assert_eq!(tokenize("12 Oak St apt#4b"), [vec!["12", "OAK", "ST", "APT", "#", "4B"]]);
        assert_eq!(tokenize("12 Oak St STE200"), [vec!["12", "OAK", "ST", "STE", "200"]]);
        assert_eq!(tokenize("9 I-95"), [vec!["9", "I", "95"]]);
        assert_eq!(tokenize("9 Smith-Jones Rd"), [vec!["9", "SMITH-JONES", "RD"]]);
    }

    #[test]
    fn route_names_join_with_their_number() {
        let words: Vec<String> = ["CO", "RD", "45", "APT", "2"].iter().map(|s| s.to_string()).collect();
        assert_eq!(join_routes(&words), ["COUNTY_ROAD_45", "APT", "2"]);
        let words: Vec<String> = ["STATE", "ST"].iter().map(|s| s.to_string()).collect();
        assert_eq!(join_routes(&words), ["STATE", "ST"]);
    }
}
