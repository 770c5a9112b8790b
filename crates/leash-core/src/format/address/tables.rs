//! The words an address is read with: USPS Publication 28's suffixes (C1),
//! secondary unit designators (C2), directionals, route names, states and the
//! ZIP-prefix table. The long lists live in `format/data/`, one line per entry.

use std::collections::HashMap;
use std::sync::OnceLock;

struct Tables {
    suffixes: HashMap<String, String>,
    states: HashMap<String, String>,
    zip3: HashMap<u16, Vec<String>>,
    /// Route names by their spelling, as word lists: (spelling, name leash writes).
    routes: Vec<(Vec<String>, Vec<String>)>,
}

fn data_lines(text: &'static str) -> impl Iterator<Item = Vec<&'static str>> {
    text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).map(|l| l.split_whitespace().collect())
}

/// Every spelling on a line maps to the line's first word.
fn aliases(text: &'static str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for words in data_lines(text) {
        for w in &words {
            map.insert(w.to_string(), words[0].to_string());
        }
    }
    map
}

fn zip3_table(text: &'static str) -> HashMap<u16, Vec<String>> {
    let mut zip3 = HashMap::new();
    for words in data_lines(text) {
        let (lo, hi) = words[0].split_once('-').unwrap_or((words[0], words[0]));
        // A line that does not read is skipped, and `zip3_table_reads_whole` fails.
        let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) else { continue };
        for p in lo..=hi {
            zip3.insert(p, words[1..].iter().map(|s| s.to_string()).collect());
        }
    }
    zip3
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let split = |s: &str| s.split('_').map(str::to_string).collect::<Vec<_>>();
        let mut routes: Vec<(Vec<String>, Vec<String>)> = data_lines(include_str!("../data/route_names.txt"))
            .flat_map(|words| words.iter().map(|w| (split(w), split(words[0]))).collect::<Vec<_>>())
            .collect();
        // Longest spelling first: `US Highway 1` before `US 1`.
        routes.sort_by_key(|(spelling, _)| std::cmp::Reverse(spelling.len()));
        Tables {
            suffixes: aliases(include_str!("../data/street_suffixes.txt")),
            states: aliases(include_str!("../data/states.txt")),
            zip3: zip3_table(include_str!("../data/zip3.txt")),
            routes,
        }
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
    ("KEY", "KEY", true),
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

/// The first words of a box line (Pub 28 §225 military, §24 rural and
/// highway contract routes): spelling, the kind leash writes, military.
const BOX_LINES: &[(&[&str], &str, bool)] = &[
    (&["PSC"], "PSC", true),
    (&["CMR"], "CMR", true),
    (&["UNIT"], "UNIT", true),
    (&["RR"], "RR", false),
    (&["RURAL", "ROUTE"], "RR", false),
    (&["RURAL", "RTE"], "RR", false),
    (&["HC"], "HC", false),
    (&["HIGHWAY", "CONTRACT"], "HC", false),
    (&["STAR", "ROUTE"], "HC", false),
];

/// The post offices of military mail (Pub 28 §225), which stand where a city would.
pub(super) const MILITARY_POST_OFFICES: &[&str] = &["APO", "FPO", "DPO"];
pub(super) const MILITARY_STATES: &[&str] = &["AA", "AE", "AP"];

pub(super) fn direction(t: &str) -> Option<&'static str> {
    DIRECTIONS.iter().find(|(k, _)| *k == t).map(|(_, v)| *v)
}

/// A designator's standard form, and whether an id must follow it.
pub(super) fn unit_designator(t: &str) -> Option<(&'static str, bool)> {
    UNITS.iter().find(|(k, _, _)| *k == t).map(|(_, v, id)| (*v, *id))
}

pub(super) fn suffix(t: &str) -> Option<&'static str> {
    tables().suffixes.get(t).map(String::as_str)
}

/// The route name spelled by the words at the start of `words`: how many words
/// it takes and the name leash writes.
pub(super) fn route_name(words: &[String]) -> Option<(usize, &'static [String])> {
    tables()
        .routes
        .iter()
        .find(|(spelling, _)| words.len() >= spelling.len() && words[..spelling.len()] == spelling[..])
        .map(|(spelling, name)| (spelling.len(), name.as_slice()))
}

/// The box-line kind spelled at the start of `words`: words taken, kind, military.
pub(super) fn box_line_kind(words: &[String]) -> Option<(usize, &'static str, bool)> {
    BOX_LINES
        .iter()
        .find(|(spelling, _, _)| words.len() >= spelling.len() && spelling.iter().zip(words).all(|(s, w)| s == w))
        .map(|(spelling, kind, military)| (spelling.len(), *kind, *military))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip3_table_reads_whole() {
        let lines = data_lines(include_str!("../data/zip3.txt")).count();
        let read = data_lines(include_str!("../data/zip3.txt"))
            .filter(|w| w[0].split('-').all(|p| p.len() == 3 && p.parse::<u16>().is_ok()) && w.len() > 1)
            .count();
        assert_eq!(lines, read, "every zip3.txt line is a prefix or range and its states");
    }

    #[test]
    fn zip_table_lists_every_state_of_a_shared_prefix() {
        assert_eq!(zip_states("97201"), ["OR"]);
        assert_eq!(zip_states("11211"), ["NY"]);
        assert_eq!(zip_states("20001"), ["DC"]);
        assert_eq!(zip_states("06390"), ["CT", "NY"]);
        assert_eq!(zip_states("20588"), ["DC", "MD", "VA"]);
        assert_eq!(zip_states("72643"), ["AR", "MO"]);
        assert_eq!(zip_states("73949"), ["OK", "TX"]);
        assert_eq!(zip_states("83414"), ["ID", "WY"]);
        assert_eq!(zip_states("09901"), ["AE"]);
        assert_eq!(zip_states("34001"), ["AA"]);
        assert_eq!(zip_states("96201"), ["AP"]);
        assert!(zip_states("00001").is_empty());
    }

    #[test]
    fn longest_route_spelling_wins() {
        let words: Vec<String> = ["US", "HWY", "1"].iter().map(|s| s.to_string()).collect();
        assert_eq!(route_name(&words), Some((2, &["US".to_string(), "HIGHWAY".to_string()][..])));
    }
}
