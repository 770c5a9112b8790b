//! Business-hours windows (`mon-fri 09:00-18:00 America/New_York`) and
//! durations (`10m`, `1h30m`).

use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;

#[derive(Debug, Clone)]
pub struct Window {
    pub source: String,
    /// Monday = 0 … Sunday = 6.
    days: [bool; 7],
    start: Time,
    end: Time,
    tz: TimeZone,
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day_index(name: &str) -> Option<usize> {
    DAY_NAMES.iter().position(|d| *d == name)
}

fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let mut days = [false; 7];
    if text == "daily" {
        return Ok([true; 7]);
    }
    for part in text.split(',') {
        let bad = || format!("unknown day `{part}`; use mon,tue,…,sun, a range like mon-fri, or daily");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day_index(a).ok_or_else(bad)?, day_index(b).ok_or_else(bad)?);
                let mut i = a;
                loop {
                    days[i] = true;
                    if i == b {
                        break;
                    }
                    i = (i + 1) % 7;
                }
            }
            None => days[day_index(part).ok_or_else(bad)?] = true,
        }
    }
    Ok(days)
}

fn parse_time(text: &str) -> Result<Time, String> {
    let (h, m) = text.split_once(':').ok_or_else(|| format!("`{text}` is not HH:MM"))?;
    let (h, m): (i8, i8) = (
        h.parse().map_err(|_| format!("`{text}` is not HH:MM"))?,
        m.parse().map_err(|_| format!("`{text}` is not HH:MM"))?,
    );
    if h == 24 && m == 0 {
        return Ok(Time::MAX);
    }
    Time::new(h, m, 0, 0).map_err(|_| format!("`{text}` is not a time of day"))
}

impl Window {
    pub fn parse(source: &str) -> Result<Window, String> {
        let parts: Vec<&str> = source.split_whitespace().collect();
        let [days, hours, tz] = parts.as_slice() else {
            return Err("expected `DAYS HH:MM-HH:MM TIME_ZONE`, e.g. `mon-fri 09:00-18:00 America/New_York`".into());
        };
        let days = parse_days(&days.to_ascii_lowercase())?;
        let (start, end) = hours.split_once('-').ok_or("hours must look like 09:00-18:00")?;
        let (start, end) = (parse_time(start)?, parse_time(end)?);
        if start >= end {
            return Err("the window must end after it starts on the same day".into());
        }
        let tz =
            TimeZone::get(tz).map_err(|_| format!("unknown time zone `{tz}`; use an IANA name like Europe/Berlin"))?;
        Ok(Window { source: source.to_string(), days, start, end, tz })
    }

    pub fn contains(&self, now: Timestamp) -> bool {
        let local = now.to_zoned(self.tz.clone());
        let day = match local.weekday() {
            Weekday::Monday => 0,
            Weekday::Tuesday => 1,
            Weekday::Wednesday => 2,
            Weekday::Thursday => 3,
            Weekday::Friday => 4,
            Weekday::Saturday => 5,
            Weekday::Sunday => 6,
        };
        let time = local.time();
        self.days[day] && time >= self.start && time < self.end
    }
}

/// `30s`, `10m`, `1h`, `2d`, `1h30m` → seconds.
pub fn parse_duration_s(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is not a duration; write e.g. 30s, 10m, 1h, 2d or 1h30m");
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = total.checked_add(n.checked_mul(unit).ok_or_else(bad)?).ok_or_else(bad)?;
        number.clear();
        any = true;
    }
    if !number.is_empty() || !any || total == 0 {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_holds_weekday_office_hours_in_its_own_zone() {
        let w = Window::parse("mon-fri 09:00-18:00 America/New_York").unwrap();
        // Wednesday 2026-11-25 15:00 UTC = 10:00 in New York.
        assert!(w.contains("2026-11-25T15:00:00Z".parse().unwrap()));
        // 23:30 UTC = 18:30 in New York: closed.
        assert!(!w.contains("2026-11-25T23:30:00Z".parse().unwrap()));
        // Saturday.
        assert!(!w.contains("2026-11-28T15:00:00Z".parse().unwrap()));
    }

    #[test]
    fn window_rejects_malformed_text() {
        assert!(Window::parse("mon-fri 09:00-18:00").is_err());
        assert!(Window::parse("funday 09:00-18:00 UTC").is_err());
        assert!(Window::parse("mon 18:00-09:00 UTC").is_err());
        assert!(Window::parse("mon 09:00-18:00 Mars/Olympus").is_err());
        assert!(Window::parse("sat,sun 00:00-24:00 UTC").is_ok());
    }

    #[test]
    fn durations_carry_units() {
        assert_eq!(parse_duration_s("10m"), Ok(600));
        assert_eq!(parse_duration_s("1h30m"), Ok(5400));
        assert!(parse_duration_s("10").is_err());
        assert!(parse_duration_s("0s").is_err());
        assert!(parse_duration_s("ten minutes").is_err());
    }
}
