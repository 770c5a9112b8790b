//! `phone`: a number read with the international numbering plan (Google's
//! libphonenumber metadata, through the `phonenumber` crate) and written in
//! E.164 (`+497112842222`). A number without a country code belongs to the
//! field's `region` (default US); the plan knows each country's trunk prefix
//! (the German `0` of `0711 2842222`, also when written after the country
//! code, `+49 0711 2842222`) and its international prefix (`011` from the US,
//! `00` from most of Europe).
//!
//! What must stay true: the canonical form reads back as itself, and two
//! spellings are the same number exactly when their E.164 forms are equal.
//!
//! Around the crate (0.3.10): a number that carries its own country code is
//! parsed with no default region, so the trunk prefix stripped is that
//! country's, not the default region's (the crate uses the default region's
//! rules there; fixed upstream, not yet released); the international prefix is
//! read here from the region's plan for the same reason; and when the crate's
//! reading is not a valid number, the digits are tried as written (`+7 800 …`,
//! where the crate strips the Russian trunk prefix `8` from a toll-free number).

use phonenumber::metadata::{Metadata, DATABASE};
use phonenumber::{country, Mode, ParseError, PhoneNumber, Type};

/// The region of a number written without a country code, unless the field
/// names one (`region = "DE"`).
pub const DEFAULT_REGION: &str = "US";

/// Whether the numbering plan knows `region` (ISO 3166-1 alpha-2, e.g. `DE`;
/// `UK` is not one: the United Kingdom is `GB`).
pub fn region_known(region: &str) -> bool {
    plan_of(region).is_some()
}

fn plan_of(region: &str) -> Option<(&'static Metadata, country::Id)> {
    let region = region.to_ascii_uppercase();
    let id = region.parse::<country::Id>().ok()?;
    DATABASE.by_id(region.as_str()).map(|meta| (meta, id))
}

/// The kinds of number a person can be called on; not short codes or
/// emergency numbers, which have no E.164 form.
const NUMBER_TYPES: [Type; 10] = [
    Type::FixedLine,
    Type::Mobile,
    Type::TollFree,
    Type::PremiumRate,
    Type::SharedCost,
    Type::Voip,
    Type::PersonalNumber,
    Type::Pager,
    Type::Uan,
    Type::Voicemail,
];

/// `+497112842222` from any spelling of that number, or why it is not one.
pub fn canonical(value: &str, region: Option<&str>) -> Result<String, String> {
    let region = region.unwrap_or(DEFAULT_REGION);
    let (plan, id) = plan_of(region).ok_or_else(|| {
        format!("the field's region `{region}` is not a country of the numbering plan (the United Kingdom is GB)")
    })?;
    let text = value.trim();
    if text.is_empty() {
        return Err("empty".into());
    }
    check_characters(text)?;
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if let Some(after_code) = international_digits(text, &digits, plan) {
        let read = read_international(&after_code);
        // `01 …` in Israel may be a carrier prefix as well as an
        // international one: a reading that fails as the latter is tried as
        // a national number.
        match (read, text.starts_with('+')) {
            (Ok(e164), _) => return Ok(e164),
            (Err(why), true) => return Err(why),
            (Err(_), false) => {}
        }
    }
    let number = phonenumber::parse(Some(id), text).map_err(unreadable)?;
    valid_or_as_written(&number, &digits).map_err(|why| {
        format!("{why} (written without a country code, it was read as a number of {region}; write it with + and the country code, or set the field's region)")
    })
}

/// Refused up front: the crate's parser would find a number inside any text
/// (`call 415 555 0134 now`) and turn letters into digits.
fn check_characters(text: &str) -> Result<(), String> {
    const DASHES: &[char] = &['\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}', '\u{2212}'];
    for (i, c) in text.char_indices() {
        let fits = c.is_ascii_digit() || c.is_whitespace() || "()-./".contains(c) || DASHES.contains(&c);
        if fits || (c == '+' && i == 0) {
            continue;
        }
        if c == '+' {
            return Err("a `+` belongs only before the country code".into());
        }
        if c.is_alphabetic() {
            return Err(format!(
                "unexpected letter `{c}`: a phone number here is digits only (an extension or a word has no E.164 form)"
            ));
        }
        return Err(format!("unexpected character `{c}` in a phone number"));
    }
    Ok(())
}

/// The digits after `+` or after the region's international prefix (`011`
/// from the US, `00` from Germany), when the number is written with one.
fn international_digits(text: &str, digits: &str, plan: &Metadata) -> Option<String> {
    if text.starts_with('+') {
        return Some(digits.to_string());
    }
    let idd = plan.international_prefix()?.find(digits).filter(|m| m.start() == 0)?;
    let rest = &digits[idd.end()..];
    // No country code starts with 0: `0049…` from a region whose prefix is
    // `0` is the prefix `00`, not `0` and a code `049`.
    (!rest.starts_with('0') && !rest.is_empty()).then(|| rest.to_string())
}

/// A number written with its country code: the country's own plan strips its
/// trunk prefix (`+49 0711` → `+49 711`).
fn read_international(after_code: &str) -> Result<String, String> {
    let number = phonenumber::parse(None, format!("+{after_code}")).map_err(unreadable)?;
    let code = number.code().value().to_string();
    let written = after_code.strip_prefix(code.as_str()).unwrap_or(after_code);
    valid_or_as_written(&number, written)
}

/// The crate's reading when the plan calls it valid; otherwise the digits
/// after the country code as written, with or without one trunk prefix.
fn valid_or_as_written(number: &PhoneNumber, written: &str) -> Result<String, String> {
    let e164 = number.format().mode(Mode::E164).to_string();
    if number.extension().is_some() {
        return Err("an extension has no E.164 form; keep it in another field".into());
    }
    if number.is_valid() {
        return Ok(e164);
    }
    let code = number.code().value();
    for plan in DATABASE.by_code(&code).unwrap_or_default() {
        let stripped = plan.national_prefix().and_then(|p| written.strip_prefix(p));
        if let Some(national) = stripped.into_iter().chain([written]).find(|n| in_plan(plan, n)) {
            return Ok(format!("+{code}{national}"));
        }
    }
    Err(format!("{e164} is not a number in the numbering plan of +{code}"))
}

fn in_plan(plan: &Metadata, national: &str) -> bool {
    let kinds = plan.descriptors();
    kinds.general().is_match(national)
        && NUMBER_TYPES.iter().any(|t| kinds.get(*t).is_some_and(|d| d.is_match(national)))
}

fn unreadable(why: ParseError) -> String {
    match why {
        ParseError::NoNumber => "no phone number in it".into(),
        ParseError::InvalidCountryCode => "no country has that calling code".into(),
        ParseError::TooShortAfterIdd | ParseError::TooShortNsn => "too short for a phone number".into(),
        ParseError::TooLong => "too long for a phone number".into(),
        other => format!("not a phone number ({other})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_spellings_reach_e164() {
        for p in ["(415) 555-0134", "415.555.0134", "+1 415 555 0134", "1-415-555-0134", "011 1 415 555 0134"] {
            assert_eq!(canonical(p, None).as_deref(), Ok("+14155550134"), "{p}");
        }
        assert!(canonical("555-0134", None).is_err());
        assert!(canonical("call me", None).is_err());
        assert!(canonical("415 555 0134 ext 12", None).is_err());
    }

    #[test]
    fn a_trunk_prefix_after_the_country_code_is_the_plans_to_strip() {
        assert_eq!(canonical("+49 0711 2842222", None).as_deref(), Ok("+497112842222"));
        assert_eq!(canonical("+49 0711 2842222", Some("DE")).as_deref(), Ok("+497112842222"));
        assert_eq!(canonical("0711 2842222", Some("DE")).as_deref(), Ok("+497112842222"));
        assert_eq!(canonical("+44 (0)20 7946 0958", None).as_deref(), Ok("+442079460958"));
        // The Russian trunk prefix is 8, and 800 numbers start with it.
        assert_eq!(canonical("+7 800 123-45-67", None).as_deref(), Ok("+78001234567"));
        assert_eq!(canonical("8 800 123-45-67", Some("RU")).as_deref(), Ok("+78001234567"));
        // Not E.164 as written, but the same number: its canonical form is the valid one.
        assert_eq!(canonical("+4907112842222", Some("US")).as_deref(), Ok("+497112842222"));
    }

    #[test]
    fn the_international_prefix_is_the_regions() {
        assert_eq!(canonical("011 49 711 2842222", None).as_deref(), Ok("+497112842222"));
        assert_eq!(canonical("00 49 711 2842222", Some("DE")).as_deref(), Ok("+497112842222"));
        assert_eq!(canonical("010 49 711 2842222", Some("JP")).as_deref(), Ok("+497112842222"));
    }

    #[test]
    fn an_unknown_region_is_named() {
        assert!(!region_known("UK"));
        assert!(region_known("GB") && region_known("de"));
        assert!(canonical("020 7946 0958", Some("UK")).unwrap_err().contains("`UK`"));
    }

    /// Every example number of every region's plan, in E.164, with the trunk
    /// prefix after the country code, and (for the listed regions) from
    /// abroad: each reads as its E.164 form, which reads back as itself.
    #[test]
    fn every_example_number_of_the_plan_reads_back_as_itself() {
        let mut wrong = Vec::new();
        for plan in DATABASE.iter() {
            for kind in NUMBER_TYPES {
                let Some(example) = plan.descriptors().get(kind).and_then(|d| d.example()) else { continue };
                let code = plan.country_code();
                let e164 = format!("+{code}{example}");
                let trunk = plan.national_prefix().unwrap_or("");
                let mut spellings = vec![e164.clone(), format!("+{code} {trunk}{example}")];
                spellings.push(format!("011 {code} {example}"));
                for (spelling, region) in spellings.iter().zip(["DE", "JP", "US"]) {
                    let once = canonical(spelling, Some(region));
                    let twice = once.as_deref().map(|c| canonical(c, Some(region)));
                    if once.as_deref() != Ok(e164.as_str()) || twice.as_ref().map(|t| t.as_deref()) != Ok(Ok(&e164)) {
                        wrong.push(format!("{} {spelling} [{region}]: {once:?}", plan.id()));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{} wrong:\n{}", wrong.len(), wrong.join("\n"));
    }
}
