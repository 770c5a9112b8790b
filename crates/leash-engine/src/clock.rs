//! Time and ids. Journal timestamps have a fixed width so they sort as text.

use std::sync::{Arc, Mutex};

use jiff::Timestamp;

#[derive(Clone)]
pub struct Clock {
    now: Arc<dyn Fn() -> Timestamp + Send + Sync>,
    ids: Arc<Mutex<ulid::Generator>>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::new(Timestamp::now)
    }

    pub fn new(now: impl Fn() -> Timestamp + Send + Sync + 'static) -> Clock {
        Clock { now: Arc::new(now), ids: Arc::new(Mutex::new(ulid::Generator::new())) }
    }

    /// Always the same instant, for tests of windows and hours.
    pub fn fixed(at: Timestamp) -> Clock {
        Clock::new(move || at)
    }

    pub fn now(&self) -> Timestamp {
        (self.now)()
    }

    pub fn stamp(&self) -> String {
        stamp(self.now())
    }

    /// A new ULID, increasing within this process.
    pub fn id(&self) -> String {
        let mut ids = match self.ids.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        match ids.generate() {
            Ok(id) => id.to_string(),
            // Only on overflow of the random part within one millisecond.
            Err(_) => ulid::Ulid::new().to_string(),
        }
    }
}

/// `2026-11-25T12:00:00.123456Z`: fixed width, UTC.
pub fn stamp(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Reads a user's time: RFC 3339, a date (midnight UTC), or `30m`/`2h`/`7d` ago.
pub fn parse_time(text: &str, now: Timestamp) -> Result<String, String> {
    let text = text.trim();
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(stamp(t));
    }
    if let Ok(d) = text.parse::<jiff::civil::Date>() {
        let t = d.to_zoned(jiff::tz::TimeZone::UTC).map_err(|e| e.to_string())?.timestamp();
        return Ok(stamp(t));
    }
    if let Ok(s) = leash_core::policy::parse_duration_s(text) {
        let t = now.checked_sub(jiff::SignedDuration::from_secs(s as i64)).map_err(|e| e.to_string())?;
        return Ok(stamp(t));
    }
    Err(format!("`{text}` is not a time; use 2026-11-25, 2026-11-25T09:00:00Z, or a span ago like 2h or 7d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_have_fixed_width_and_sort_as_text() {
        let a = stamp("2026-11-25T12:00:00Z".parse().unwrap());
        let b = stamp("2026-11-25T12:00:00.5Z".parse().unwrap());
        assert_eq!(a, "2026-11-25T12:00:00.000000Z");
        assert_eq!(a.len(), b.len());
        assert!(a < b);
    }

    #[test]
    fn user_times_accept_dates_instants_and_spans_ago() {
        let now: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        assert_eq!(parse_time("2026-11-24", now).unwrap(), "2026-11-24T00:00:00.000000Z");
        assert_eq!(parse_time("2h", now).unwrap(), "2026-11-25T10:00:00.000000Z");
        assert!(parse_time("yesterday-ish", now).is_err());
    }
}
