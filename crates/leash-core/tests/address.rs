//! The us_address check against a table of real-looking pairs, and property
//! tests: canonical forms are fixed points, nothing mechanical loses a unit or
//! moves a number or ZIP, and the parser never panics.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use leash_core::codes::ReviewReason;
use leash_core::format::address::{canonical, compare, parse};
use proptest::prelude::*;

const BASES: &[&str] = &[
    "125 Main St, Apt 4B, Brooklyn, NY 11211",
    "18 Market St, Portland, OR 97201",
    "400 Park Ave, New York, NY 10022",
    "1600 Pennsylvania Ave NW, Washington, DC 20500",
    "77 Sunset Blvd, Apt 3, Los Angeles, CA 90028",
    "9 Elm St, Unit 12B, Austin, TX 78701",
    "300 Boylston St, Ste 200, Boston, MA 02116",
    "55 W 42nd St, Fl 3, New York, NY 10036",
    "742 Evergreen Ter, Springfield, OR 97477",
    "16 Maple Ave, Apt 2, Montclair, NJ 07042",
    "7 Pine Ct, Apt 1A, Durham, NC 27701",
    "901 Cherry Ave, San Bruno, CA 94066",
    "1000 Elm St, Manchester, NH 03101",
    "3 Ocean Dr, Miami Beach, FL 33139",
    "45 Park Pl, Pittsburgh, PA 15213",
    "221 Baker St, Ste 5, Atlanta, GA 30303",
    "88 Lake Shore Dr, Chicago, IL 60611",
    "12 Harbor Rd, Seattle, WA 98101",
    "640 Canyon Rd, Santa Fe, NM 87501",
    "2 Gold Hill Rd, Apt 9, Denver, CO 80202",
    "15 River St, Burlington, VT 05401",
    "31 Spring St, Nashville, TN 37201",
    "410 Bayou Rd, New Orleans, LA 70119",
    "9 Mill Ln, Unit 4, Madison, WI 53703",
    "27 Peachtree Way, Savannah, GA 31401",
];

fn reasons(expected: &str) -> Vec<String> {
    if expected.trim() == "ok" {
        return Vec::new();
    }
    let mut r: Vec<String> = expected.split(',').map(|s| s.trim().to_string()).collect();
    r.sort();
    r
}

/// Five variations of each base address with a known verdict.
fn generated() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for base in BASES {
        let parts: Vec<&str> = base.split(", ").collect();
        out.push((base.to_string(), base.to_lowercase(), "ok".into()));
        out.push((base.to_string(), base.to_uppercase().replace(", ", " ,  "), "ok".into()));
        if parts.len() == 4 {
            let dropped = [parts[0], parts[2], parts[3]].join(", ");
            out.push((base.to_string(), dropped, "unit_dropped".into()));
        } else {
            let added = [parts[0], "Apt 2", parts[1], parts[2]].join(", ");
            out.push((base.to_string(), added, "unit_changed".into()));
        }
        let (number, rest) = base.split_once(' ').unwrap();
        let moved = format!("{} {rest}", number.parse::<u32>().unwrap() + 1);
        out.push((base.to_string(), moved, "number_changed".into()));
        let zip = &base[base.len() - 5..];
        let other = if base.contains(", OR ") { "10001" } else { "97201" };
        out.push((base.to_string(), base.replace(zip, other), "not_mechanical, zip_state_mismatch".into()));
    }
    out
}

#[test]
fn address_pair_table_gets_every_verdict_right() {
    let mut cases: Vec<(String, String, String)> = include_str!("address_pairs.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let cols: Vec<&str> = l.split(" | ").collect();
            assert_eq!(cols.len(), 3, "bad line {l}");
            (cols[0].to_string(), cols[1].to_string(), cols[2].to_string())
        })
        .collect();
    cases.extend(generated());
    assert!(cases.len() >= 150, "the table has {} pairs", cases.len());
    let mut wrong = Vec::new();
    for (old, new, expected) in &cases {
        let flags = compare("address", old, new);
        let mut got: Vec<String> = flags.iter().map(|f| f.reason.as_str().to_string()).collect();
        got.sort();
        got.dedup();
        if got != reasons(expected) {
            wrong.push(format!(
                "{old} → {new}: expected {expected}, got {got:?} {:?}",
                flags.iter().map(|f| &f.note).collect::<Vec<_>>()
            ));
        }
        assert!(flags.iter().all(|f| !f.note.is_empty()), "every flag carries a note");
    }
    assert!(wrong.is_empty(), "{} of {} wrong:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
}

#[test]
fn canonical_forms_read_like_an_envelope() {
    assert_eq!(canonical("125 main st apt#4b, brookln ny 11211").unwrap(), "125 Main St, Apt 4B, Brookln, NY 11211");
    assert_eq!(canonical("po box 77, juneau, alaska 99801").unwrap(), "PO Box 77, Juneau, AK 99801");
    assert_eq!(
        canonical("55 west 42nd street floor 3, new york ny 10036").unwrap(),
        "55 W 42nd St, Fl 3, New York, NY 10036"
    );
    assert_eq!(canonical("12 1/2 oak lane").unwrap(), "12 1/2 Oak Ln");
}

fn address_strategy() -> impl Strategy<Value = String> {
    let number =
        prop_oneof![(1u32..20000).prop_map(|n| n.to_string()), Just("12-14".to_string()), Just("7 1/2".to_string())];
    let street =
        prop::sample::select(vec!["Main", "Oak", "Elm", "Martin Luther King Jr", "42nd", "Peachtree", "Lake Shore"]);
    let suffix = prop::sample::select(vec!["St", "Street", "Ave", "Avenue", "Blvd", "Rd", "Ln", "Dr", "Way", "Ct"]);
    let unit = prop::option::of((prop::sample::select(vec!["Apt", "Suite", "Unit", "#", "Fl"]), "[1-9][0-9]?[A-D]?"));
    let place = prop::sample::select(vec![
        ("Brooklyn", "NY", "11211"),
        ("Portland", "OR", "97201"),
        ("Austin", "TX", "78701"),
        ("Boston", "MA", "02116"),
    ]);
    (number, street, suffix, unit, place).prop_map(|(n, s, x, u, (c, st, z))| match u {
        Some((d, id)) => format!("{n} {s} {x}, {d} {id}, {c}, {st} {z}"),
        None => format!("{n} {s} {x}, {c}, {st} {z}"),
    })
}

proptest! {
    #[test]
    fn canonicalization_is_idempotent(addr in address_strategy()) {
        let once = canonical(&addr).unwrap();
        prop_assert_eq!(canonical(&once).unwrap(), once.clone());
        prop_assert!(compare("a", &addr, &once).is_empty(), "{} vs {}", addr, once);
    }

    #[test]
    fn no_mechanical_verdict_loses_a_unit_or_moves_a_number_or_zip(old in address_strategy(), new in address_strategy()) {
        if compare("a", &old, &new).is_empty() {
            let (a, b) = (parse(&old).unwrap(), parse(&new).unwrap());
            prop_assert_eq!(&a.number, &b.number);
            prop_assert_eq!(&a.zip, &b.zip);
            prop_assert_eq!(a.unit.as_ref().map(|u| u.id.clone()), b.unit.as_ref().map(|u| u.id.clone()));
        }
    }

    #[test]
    fn parser_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        let _ = parse(&text);
        let _ = compare("a", &text, "1 Main St");
    }

    #[test]
    fn unit_rewrites_are_caught(addr in address_strategy()) {
        if let Some(at) = addr.find(", Apt ").or(addr.find(", Unit ")) {
            let end = addr[at + 2..].find(',').map(|e| at + 2 + e).unwrap_or(addr.len());
            let dropped = format!("{}{}", &addr[..at], &addr[end..]);
            let flags = compare("a", &addr, &dropped);
            prop_assert!(flags.iter().any(|f| f.reason == ReviewReason::UnitDropped), "{} → {}", addr, dropped);
        }
    }
}

/// The demo's address calls (crates/leash-cli/src/demo.rs), as `rules.rs`
/// assembles them from the customer's columns.
#[test]
fn demo_seed_cases_keep_their_verdicts() {
    let verdict = |old: &str, new: &str| -> Vec<&'static str> {
        compare("address", old, new).iter().map(|f| f.reason.as_str()).collect()
    };
    assert_eq!(verdict("125 main st apt#4b, brookln, NY, 11211", "125 Main St, Apt 4B, Brooklyn, NY, 11211"), [""; 0]);
    assert_eq!(
        verdict("18 Market Street, Portland, ME 97201", "18 Market St, Portland, ME 97201"),
        ["zip_state_mismatch"]
    );
    assert_eq!(
        verdict("77 Sunset Blvd Apt 3, Los Angeles, CA 90028", "77 Sunset Blvd, Los Angeles, CA 90028"),
        ["unit_dropped"]
    );
    assert_eq!(
        verdict("77 Sunset Blvd Apt 3, Los Angeles, CA 90028", "77 Sunset Blvd, Apt 3, Los Angeles, CA 90028"),
        [""; 0]
    );
    assert_eq!(verdict("9 Elm St Unit 12B, Austin, TX 78701", "9 Elm St Unit 12D, Austin, TX 78701"), ["unit_changed"]);
}

#[test]
fn new_address_shapes_read_like_an_envelope() {
    let cases = [
        ("123 north st, boston, ma 02116", "123 North St, Boston, MA 02116"),
        ("8 north ave northeast, atlanta ga 30308", "8 North Ave NE, Atlanta, GA 30308"),
        ("123 co. rd. 45, alta, wy 83414", "123 County Road 45, Alta, WY 83414"),
        ("9 us hwy 101 n, eureka, ca 95501", "9 US Highway 101 N, Eureka, CA 95501"),
        ("77 I-95, Newark, NJ 07105", "77 Interstate 95, Newark, NJ 07105"),
        ("5 main st bldg 3 rm 101, dallas tx 75201", "5 Main St, Bldg 3 Rm 101, Dallas, TX 75201"),
        ("psc 1234 box 5678 apo ae 09204", "PSC 1234 Box 5678, APO, AE 09204"),
        ("unit 2050 box 4190, apo, ap 96278", "Unit 2050 Box 4190, APO, AP 96278"),
        ("rural route 2 box 152, alta wy 83414", "RR 2 Box 152, Alta, WY 83414"),
        ("1600 Pennsylvania Ave NW Washington DC 20500", "1600 Pennsylvania Ave NW, Washington, DC 20500"),
        ("12 palm key, trailer 5, key west, fl 33040", "12 Palm Ky, Trlr 5, Key West, FL 33040"),
        ("100 main st key 5 key west fl 33040", "100 Main St, Key 5, Key West, FL 33040"),
    ];
    for (input, expected) in cases {
        assert_eq!(canonical(input).as_deref(), Ok(expected), "{input}");
        assert_eq!(canonical(expected).as_deref(), Ok(expected), "{expected} is a fixed point");
    }
}

#[test]
fn unreadable_addresses_say_what_could_not_be_read() {
    let why = |s: &str| parse(s).err().unwrap_or_default();
    assert!(why("Dallas, TX 75201").contains("no house number"), "{}", why("Dallas, TX 75201"));
    assert!(why("5 Main St Apt Ste 4, Dallas, TX").contains("two unit designators"));
    assert!(why("5 Main St 4B, Dallas, TX").contains("without a unit designator"));
    assert!(why("5 Main St, Apt 4, Ste 5, Rm 6, Dallas TX").contains("more than 2 units"));
    assert!(why("5 Main St, Springfield, Dallas, TX").contains("two places where the city goes"));
    assert!(why("5 Main St, Apt, Dallas, TX").contains("`APT` has no unit number"));
    assert!(why("PO Box, Dallas, TX").contains("PO Box needs its number"));
}

#[test]
fn huge_and_strange_input_is_refused_not_panicked_on() {
    assert!(parse(&"1 Main St ".repeat(10_000)).is_err());
    assert!(parse("١٢٣ شارع").is_err());
    assert!(parse("").is_err());
    assert!(parse("#,#,#").is_err());
}
