//! Every format's canonical form is a fixed point and agrees with the
//! mechanical comparison (a value and its canonical form are the same value),
//! on realistic and messy input; two phone spellings are the same number
//! exactly when they are spellings of one E.164 number.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use leash_core::codes::{Code, ReviewReason};
use leash_core::format::address;
use leash_core::format::{canonical_in, canonical_of, mechanical_flags, DateOrder, Format, FormatOptions};
use leash_core::policy::parse_policy;
use leash_core::rules::check_new_value;
use proptest::prelude::*;
use serde_json::json;

/// The canonical form of a canonical form is itself, and the comparison
/// finds a value and its canonical form the same (an address's ZIP that does
/// not fit its state is flagged on both sides alike).
fn assert_settled(format: Format, value: &str, opts: &FormatOptions) -> Result<(), TestCaseError> {
    let Ok(once) = canonical_in(format, value, opts) else { return Ok(()) };
    let twice = canonical_in(format, &once, opts);
    prop_assert_eq!(twice.as_deref(), Ok(once.as_str()), "{:?} `{}` → `{}`", format, value, once);
    let flags = mechanical_flags(format, "f", value, &once, opts);
    prop_assert!(
        flags.iter().all(|f| f.reason == ReviewReason::ZipStateMismatch),
        "{:?} `{}` and its canonical form `{}`: {:?}",
        format,
        value,
        once,
        flags
    );
    Ok(())
}

fn opts(region: Option<&str>, date_order: Option<DateOrder>) -> FormatOptions<'_> {
    FormatOptions { date_order, region }
}

/// Text with the noise people and programs add: odd spaces, case, punctuation.
fn messy() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{0,40}", "[ \t\n\u{a0}\u{3000}a-zA-Z0-9@.,#'/()+-]{0,40}", "[ a-zA-ZéßİǅĲ'-]{0,30}",]
}

fn spaces() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", " ", "  ", "\t", "\u{a0}", " \n"])
}

// ---------------------------------------------------------------- date

fn date_spelling() -> impl Strategy<Value = String> {
    let months = ["January", "feb", "MAR.", "Apr", "may", "June", "jul", "Aug.", "Sept", "oct", "NOV", "December"];
    (1900i32..2100, 1usize..=12, 1u32..=31, 0usize..8, spaces(), spaces()).prop_map(move |(y, m, d, style, l, r)| {
        let text = match style {
            0 => format!("{y:04}-{m:02}-{d:02}"),
            1 => format!("{y}/{m}/{d}"),
            2 => format!("{m}/{d}/{y}"),
            3 => format!("{d}.{m}.{y}"),
            4 => format!("{} {d}, {y}", months[m - 1]),
            5 => format!("{d} {} {y}", months[m - 1]),
            6 => format!("{y:04}-{m:02}-{d:02}T10:00:00Z"),
            _ => format!("{y:04}-{m:02}-{d:02} 23:59"),
        };
        format!("{l}{text}{r}")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn date_canonical_forms_are_fixed_points(
        text in prop_oneof![date_spelling(), messy(), "[0-9./ -]{0,12}"],
        order in prop::option::of(prop::sample::select(vec![DateOrder::Mdy, DateOrder::Dmy])),
    ) {
        assert_settled(Format::Date, &text, &opts(None, order))?;
    }
}

// ---------------------------------------------------------------- phone

/// Numbers of six countries, with what writing them takes: ISO region,
/// calling code, trunk prefix, international prefix dialled from there, and
/// national significant numbers the plan calls valid.
const COUNTRIES: &[(&str, &str, &str, &str, &[&str])] = &[
    ("US", "1", "1", "011", &["4155550134", "2125550134", "2024561111", "6175550199"]),
    ("DE", "49", "0", "00", &["7112842222", "3012345678", "15123456789", "891234567"]),
    ("GB", "44", "0", "00", &["2079460958", "1614960000", "7400123456", "1212345678"]),
    ("FR", "33", "0", "00", &["142685300", "612345678", "491234567"]),
    ("JP", "81", "0", "010", &["312345678", "9012345678", "662345678"]),
    ("IN", "91", "0", "00", &["9876543210", "1123456789", "8012345678"]),
];

/// Digits in groups with the separators people type, the first group
/// sometimes in brackets.
fn grouped(digits: &str, cuts: &[usize], seps: &[&str], bracket: bool) -> String {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (digits.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut groups = Vec::new();
    let mut from = 0;
    for p in points.into_iter().chain([digits.len()]) {
        if p > from {
            groups.push(digits[from..p].to_string());
            from = p;
        }
    }
    if bracket && groups.len() > 1 {
        groups[0] = format!("({})", groups[0]);
    }
    let mut out = String::new();
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            out.push_str(seps[i % seps.len()]);
        }
        out.push_str(g);
    }
    out
}

#[derive(Debug, Clone)]
struct Spelling {
    country: usize,
    number: usize,
    style: usize,
    cuts: Vec<usize>,
    seps: Vec<&'static str>,
    bracket: bool,
}

fn spelling() -> impl Strategy<Value = Spelling> {
    let seps = prop::collection::vec(prop::sample::select(vec![" ", "-", ".", "", " - ", "/", "  "]), 1..4);
    (0..COUNTRIES.len(), 0usize..4, 0usize..5, prop::collection::vec(0usize..12, 0..4), seps, any::<bool>()).prop_map(
        |(country, number, style, cuts, seps, bracket)| Spelling { country, number, style, cuts, seps, bracket },
    )
}

impl Spelling {
    fn nsn(&self) -> &'static str {
        let numbers = COUNTRIES[self.country].4;
        numbers[self.number % numbers.len()]
    }

    fn e164(&self) -> String {
        format!("+{}{}", COUNTRIES[self.country].1, self.nsn())
    }

    /// The number as someone in `region` might write it: with `+`, with the
    /// trunk prefix kept after the country code (`+49 (0)711 …`), with the
    /// region's international prefix, or nationally with and without the
    /// trunk prefix when the number is the region's own.
    fn render(&self, region: usize) -> String {
        let (_, code, trunk, _, _) = COUNTRIES[self.country];
        let digits = grouped(self.nsn(), &self.cuts, &self.seps, self.bracket);
        let own = self.country == region;
        match (self.style, own) {
            (1, _) if trunk == "0" => {
                format!("+{code} ({trunk}){}", grouped(self.nsn(), &self.cuts, &self.seps, false))
            }
            (2, _) if trunk == "0" => format!("+{code} {trunk}{digits}"),
            (3, _) => format!("{} {code} {digits}", COUNTRIES[region].3),
            (4, true) => grouped(&format!("{trunk}{}", self.nsn()), &self.cuts, &self.seps, self.bracket),
            (_, true) if self.style.is_multiple_of(2) => digits,
            _ => format!("+{code} {digits}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Each spelling reads as its own E.164 number, so two spellings are
    /// judged the same number exactly when they spell one E.164 number.
    #[test]
    fn two_phone_spellings_are_the_same_number_exactly_when_their_e164_forms_agree(
        region in 0..COUNTRIES.len(),
        a in spelling(),
        b in spelling(),
        same in any::<bool>(),
    ) {
        let b = if same { Spelling { country: a.country, number: a.number, ..b } } else { b };
        let r = COUNTRIES[region].0;
        let o = opts(Some(r), None);
        let (old, new) = (a.render(region), b.render(region));
        prop_assert_eq!(canonical_of(Format::Phone, &old, &o), Some(a.e164()), "`{}` in {}", old, r);
        prop_assert_eq!(canonical_of(Format::Phone, &new, &o), Some(b.e164()), "`{}` in {}", new, r);
        let flags = mechanical_flags(Format::Phone, "phone", &old, &new, &o);
        prop_assert_eq!(flags.is_empty(), a.e164() == b.e164(), "`{}` → `{}` in {}: {:?}", old, new, r, flags);
    }

    #[test]
    fn phone_canonical_forms_are_fixed_points_in_every_region(
        text in prop_oneof![
            (spelling(), 0..COUNTRIES.len()).prop_map(|(s, r)| s.render(r)),
            "[+]?[0-9 ()./-]{0,22}",
            messy(),
        ],
        region in prop::sample::select(vec!["US", "DE", "GB", "FR", "JP", "IN", "RU", "BR", "IT", "AU", "IL"]),
        other in prop::sample::select(vec!["US", "DE", "JP", "RU"]),
    ) {
        assert_settled(Format::Phone, &text, &opts(Some(region), None))?;
        // E.164 names its country: the region does not change its reading.
        if let Some(e164) = canonical_of(Format::Phone, &text, &opts(Some(region), None)) {
            prop_assert_eq!(canonical_of(Format::Phone, &e164, &opts(Some(other), None)), Some(e164));
        }
    }
}

#[test]
fn the_plan_calls_every_number_of_the_table_valid() {
    for (region, code, _, _, numbers) in COUNTRIES {
        for n in *numbers {
            let e164 = format!("+{code}{n}");
            assert_eq!(canonical_of(Format::Phone, &e164, &opts(Some(region), None)), Some(e164.clone()), "{region}");
        }
    }
}

#[test]
fn a_german_number_with_its_trunk_zero_after_the_country_code_is_that_number() {
    let us = FormatOptions::default();
    assert_eq!(canonical_of(Format::Phone, "+49 0711 2842222", &us).as_deref(), Some("+497112842222"));
    assert!(mechanical_flags(Format::Phone, "phone", "+49 0711 2842222", "+497112842222", &us).is_empty());
    assert!(
        mechanical_flags(Format::Phone, "phone", "0711 2842222", "+497112842222", &opts(Some("DE"), None)).is_empty()
    );
    // The same number, but not its canonical spelling: a write of it is refused.
    assert_eq!(canonical_of(Format::Phone, "+4907112842222", &us).as_deref(), Some("+497112842222"));
    // A national German spelling read as American is another number, or none.
    assert!(!mechanical_flags(Format::Phone, "phone", "0711 2842222", "+497112842222", &us).is_empty());
}

// ---------------------------------------------------------------- email

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn email_canonical_forms_are_fixed_points(
        text in prop_oneof![
            (spaces(), "[A-Za-z0-9._+-]{1,12}", "[A-Za-z0-9ÄÖÜäöüİß-]{1,10}", prop::sample::select(vec!["COM", "com", "Co.UK", "de", "ORG"]), spaces())
                .prop_map(|(l, local, host, tld, r)| format!("{l}{local}@{host}.{tld}{r}")),
            messy(),
        ],
    ) {
        assert_settled(Format::Email, &text, &FormatOptions::default())?;
    }
}

#[test]
fn an_email_with_spaces_around_it_is_written_without_them() {
    let o = FormatOptions::default();
    assert_eq!(canonical_of(Format::Email, " michelleb@aol.com ", &o).as_deref(), Some("michelleb@aol.com"));
    assert_eq!(canonical_of(Format::Email, "michelleb@aol.com", &o).as_deref(), Some("michelleb@aol.com"));
    assert_eq!(canonical_of(Format::Email, "Ann.Lee@Example.COM", &o).as_deref(), Some("Ann.Lee@example.com"));
    assert!(mechanical_flags(Format::Email, "email", "michelleb@aol.com", " michelleb@aol.com ", &o).is_empty());
    assert_eq!(canonical_of(Format::Email, "michelleb at aol.com", &o), None);
}

// ---------------------------------------------------------------- name and text

fn name_spelling() -> impl Strategy<Value = String> {
    let word = prop::sample::select(vec![
        "mary", "O'BRIEN", "mcdonald", "van", "der", "Berg", "jean-luc", "DE", "la", "Cruz", "ß", "straße", "İLKER",
        "ǅemal", "Ĳssel", "-", "'", "42nd", "José", "MÜLLER", "de'", "o'",
    ]);
    (prop::collection::vec((word, spaces()), 1..5), spaces()).prop_map(|(words, lead)| {
        let mut out = lead.to_string();
        for (w, s) in words {
            out.push_str(w);
            out.push_str(if s.is_empty() { " " } else { s });
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn name_canonical_forms_are_fixed_points(text in prop_oneof![name_spelling(), messy()]) {
        assert_settled(Format::Name, &text, &FormatOptions::default())?;
    }

    #[test]
    fn text_canonical_forms_are_fixed_points(text in messy()) {
        assert_settled(Format::Text, &text, &FormatOptions::default())?;
    }
}

#[test]
fn a_name_is_written_in_conventional_case_and_compared_without_it() {
    let o = FormatOptions::default();
    assert_eq!(canonical_of(Format::Name, "mary  o'brien", &o).as_deref(), Some("Mary O'Brien"));
    assert!(mechanical_flags(Format::Name, "name", "MARY O'BRIEN", "Mary O'Brien", &o).is_empty());
    assert!(!mechanical_flags(Format::Name, "name", "Jon Smith", "John Smith", &o).is_empty());
}

// ---------------------------------------------------------------- us_address

fn address_spelling() -> impl Strategy<Value = String> {
    let number = prop::sample::select(vec!["123", "7", "12-14", "400", "9 1/2", "1600"]);
    let predir = prop::sample::select(vec!["", "N ", "north ", "S.W. ", "E. ", "West "]);
    let street = prop::sample::select(vec![
        "main",
        "MAIN",
        "Oak",
        "martin luther king jr",
        "42nd",
        "Lake Shore",
        "co rd 45",
        "North",
    ]);
    let suffix = prop::sample::select(vec!["st", "Street", "ST.", "Ave", "avenue", "Blvd.", "Rd", "", "Ln", "Dr"]);
    let unit = prop::sample::select(vec![
        "",
        " apt#4b",
        " Apt 4B",
        ", apartment 4b",
        " # 12",
        " Ste 200",
        ", suite200",
        " bldg 3 rm 101",
        " Unit 12-B",
        " fl 3",
    ]);
    let city = prop::sample::select(vec![
        "",
        "brooklyn",
        "New York",
        "st. louis",
        "Saint Louis",
        "springfield",
        "Kent",
        "Portland",
    ]);
    let state = prop::sample::select(vec![
        "", "NY", "ny", "New York", "IL", "il", "Illinois", "OR", "Oregon", "mo", "Missouri", "calif.",
    ]);
    let zip = prop::sample::select(vec!["", "11211", "62701", "97201", "63101", "11211-1234", "972011234", "00000"]);
    let comma = prop::sample::select(vec![", ", " ", ",", " ,  "]);
    (
        number,
        predir,
        street,
        suffix,
        unit,
        city,
        state,
        zip,
        (comma.clone(), comma.clone(), comma),
        spaces(),
        any::<bool>(),
    )
        .prop_map(|(n, p, s, x, u, c, st, z, (c1, c2, c3), pad, upper)| {
            let mut out = format!("{pad}{n} {p}{s} {x}{u}");
            if !c.is_empty() {
                out.push_str(c1);
                out.push_str(c);
            }
            if !st.is_empty() {
                out.push_str(c2);
                out.push_str(st);
            }
            if !z.is_empty() {
                out.push_str(c3);
                out.push_str(z);
            }
            out.push_str(pad);
            if upper {
                out.to_uppercase()
            } else {
                out
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn address_canonical_forms_are_fixed_points(
        text in prop_oneof![4 => address_spelling(), 1 => messy(), 1 => "[0-9A-Za-z #,.'/-]{0,60}"],
    ) {
        assert_settled(Format::UsAddress, &text, &FormatOptions::default())?;
    }
}

#[test]
fn a_state_after_the_street_reads_the_same_with_and_without_a_comma() {
    assert_eq!(address::canonical("123 Main St IL").as_deref(), Ok("123 Main St, IL"));
    assert_eq!(address::canonical("123 Main St, Il").as_deref(), Ok("123 Main St, IL"));
    assert_eq!(address::canonical("123 Main St Springfield IL").as_deref(), Ok("123 Main St, Springfield, IL"));
    assert!(address::compare("address", "123 Main St IL", "123 Main St, IL").is_empty());
}

// ---------------------------------------------------------------- the rules

const POLICY: &str = r#"
[[actions]]
name = "fix_contact"
summary = "Fix a customer's contact fields."
table = "customers"
key = "id"
mode = "direct"
  [actions.fields.email]
  change = "mechanical"
  format = "email"
  [actions.fields.phone]
  change = "mechanical"
  format = "phone"
  region = "DE"
"#;

#[test]
fn a_value_its_format_cannot_read_is_refused_in_a_mechanical_field_too() {
    let policy = parse_policy("p.toml", POLICY).unwrap();
    let field = |name: &str| policy.actions[0].fields.iter().find(|f| f.name == name).unwrap();
    let refused = check_new_value(field("email"), &json!("michelleb at aol.com")).unwrap_err();
    assert_eq!(refused.code, Code::PatternMismatch);
    assert!(refused.message.contains("cannot be read as an email address"), "{}", refused.message);
    let refused = check_new_value(field("phone"), &json!("+4907112842222x")).unwrap_err();
    assert!(refused.message.contains("cannot be read as a phone number"), "{}", refused.message);
    // The field's region reads a national number (0711 is Stuttgart), and
    // the value written is its standard form.
    assert!(check_new_value(field("phone"), &json!("+497112842222")).is_ok());
    let refused = check_new_value(field("phone"), &json!("0711 2842222")).unwrap_err();
    assert_eq!(refused.code, Code::NotCanonical);
    assert!(refused.message.contains("send `+497112842222`"), "{}", refused.message);
    // A region the plan does not know does not load (the plan says GB).
    let uk = POLICY.replace("region = \"DE\"", "region = \"UK\"");
    let errors = parse_policy("p.toml", &uk).unwrap_err();
    assert!(errors.iter().any(|e| e.key.ends_with("phone.region") && e.message.contains("`UK`")), "{errors:?}");
}
