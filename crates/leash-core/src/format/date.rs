//! Dates in common spellings → ISO-8601. `03/04/2025` is ambiguous (March 4 or
//! April 3) and is refused rather than guessed.

use jiff::civil::Date;

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// `Mar`, `Mar.`, `Sept`, `March`: the start of a month's name, three letters or more.
fn month_from_name(word: &str) -> Option<i8> {
    let w = word.trim_end_matches('.').to_ascii_lowercase();
    if w.len() < 3 {
        return None;
    }
    MONTHS.iter().position(|m| m.starts_with(&w)).map(|i| i as i8 + 1)
}

fn build(y: i64, m: i64, d: i64) -> Result<String, String> {
    let (y, m, d) = (
        i16::try_from(y).map_err(|_| "year out of range")?,
        i8::try_from(m).map_err(|_| "month out of range")?,
        i8::try_from(d).map_err(|_| "day out of range")?,
    );
    Date::new(y, m, d).map(|d| d.to_string()).map_err(|_| format!("{y:04}-{m:02}-{d:02} is not a calendar date"))
}

/// An ISO date with a time after it (`2026-03-14T10:00:00Z`, `2026-03-14
/// 10:00`) is that date; anything else after it is not a time.
fn without_time(text: &str) -> Result<&str, String> {
    let Some((date, rest)) = text.split_once(['T', ' ']) else { return Ok(text) };
    let iso = date.len() == 10 && date.as_bytes()[4] == b'-';
    match (iso, rest.trim_start().starts_with(|c: char| c.is_ascii_digit())) {
        (true, true) => Ok(date),
        (true, false) => Err(format!("`{text}` has something after the date that is not a time")),
        (false, _) => Ok(text),
    }
}

pub fn canonical(value: &str, order: Option<super::DateOrder>) -> Result<String, String> {
    let text = without_time(value.trim())?;
    let words: Vec<&str> = text.split(|c: char| c == ',' || c.is_whitespace()).filter(|w| !w.is_empty()).collect();
    // Digits only: `+3` or `-0001` is not how a day, month or year is written.
    let num = |s: &str| match s.bytes().all(|b| b.is_ascii_digit()) {
        true => s.parse::<i64>().map_err(|_| format!("`{value}` is not a date")),
        false => Err(format!("`{value}` is not a date")),
    };
    let year = |s: &str| match s.len() {
        4 => num(s),
        _ => Err(format!("`{value}` has no four-digit year")),
    };
    let day = |s: &str| num(s.trim_end_matches(['s', 't', 'n', 'd', 'r', 'h']));
    // Month names: `Jan 5 2026`, `5 January 2026`.
    if words.len() == 3 {
        if let Some(m) = month_from_name(words[0]) {
            return build(year(words[2])?, m.into(), day(words[1])?);
        }
        if let Some(m) = month_from_name(words[1]) {
            return build(year(words[2])?, m.into(), day(words[0])?);
        }
    }
    let parts: Vec<&str> = text.split(['-', '/', '.']).collect();
    let [a, b, c] = parts.as_slice() else {
        return Err(format!("`{value}` is not a date; write YYYY-MM-DD"));
    };
    let (a_n, b_n, c_n) = (num(a)?, num(b)?, num(c)?);
    if a.len() == 4 {
        return build(a_n, b_n, c_n);
    }
    if c.len() != 4 {
        return Err(format!("`{value}` has no four-digit year"));
    }
    match (a_n > 12, b_n > 12, order) {
        (false, true, _) => build(c_n, a_n, b_n),
        (true, false, _) => build(c_n, b_n, a_n),
        _ if a_n == b_n => build(c_n, a_n, b_n),
        (false, false, Some(super::DateOrder::Mdy)) => build(c_n, a_n, b_n),
        (false, false, Some(super::DateOrder::Dmy)) => build(c_n, b_n, a_n),
        _ => Err(format!(
            "`{value}` is ambiguous: day and month could be either way round (a policy can set date_order)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_spellings_reach_iso() {
        for d in [
            "2026-03-14",
            "2026/03/14",
            "03/14/2026",
            "14.03.2026",
            "Mar 14, 2026",
            "14 March 2026",
            "2026-03-14T10:00:00Z",
        ] {
            assert_eq!(canonical(d, None).unwrap(), "2026-03-14", "{d}");
        }
    }

    #[test]
    fn ambiguous_or_impossible_dates_are_refused() {
        assert!(canonical("03/04/2025", None).unwrap_err().contains("ambiguous"));
        assert_eq!(canonical("03/04/2025", Some(super::super::DateOrder::Mdy)).unwrap(), "2025-03-04");
        assert_eq!(canonical("03/04/2025", Some(super::super::DateOrder::Dmy)).unwrap(), "2025-04-03");
        assert!(canonical("2026-02-30", None).is_err());
        assert!(canonical("soon", None).is_err());
    }

    #[test]
    fn only_a_time_may_follow_a_date_and_numbers_are_digits() {
        assert_eq!(canonical("2026-03-14 10:00", None).unwrap(), "2026-03-14");
        assert!(canonical("2026-03-14 garbage", None).is_err());
        assert!(canonical("14.03.-001", None).is_err());
        assert!(canonical("+3/14/2026", None).is_err());
        assert!(canonical("Mar 14 26", None).unwrap_err().contains("four-digit year"));
        assert!(canonical("Marzipan 14 2026", None).is_err());
        assert_eq!(canonical("Sept. 3, 2026", None).unwrap(), "2026-09-03");
    }
}
