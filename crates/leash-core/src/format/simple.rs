//! `text`, `name`, `phone` and `email`: forms small enough to share a file.

fn collapse_spaces(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Spacing only.
pub fn text(value: &str) -> String {
    collapse_spaces(value)
}

/// Case and spacing only: `mcdonald` and `McDonald` are the same name, `Jon`
/// and `John` are not.
pub fn name(value: &str) -> String {
    let spaced = collapse_spaces(value);
    let tight = spaced.replace(" - ", "-").replace(" ' ", "'");
    tight.to_lowercase()
}

const NAME_PARTICLES: &[&str] =
    &["van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "la", "le", "bin", "ibn"];

/// A name in conventional case: `mary o'brien` → `Mary O'Brien`, `ronald mcdonald`
/// → `Ronald McDonald`, `Anna van der Berg` keeps its particles. A name already
/// in mixed case is left as written: its owner knows best.
pub fn name_display(value: &str) -> String {
    let spaced = collapse_spaces(value);
    let mixed = spaced.chars().any(|c| c.is_lowercase()) && spaced.chars().any(|c| c.is_uppercase());
    if mixed {
        return spaced;
    }
    spaced
        .split(' ')
        .enumerate()
        .map(|(i, w)| {
            let lower = w.to_lowercase();
            if i > 0 && NAME_PARTICLES.contains(&lower.as_str()) {
                return lower;
            }
            super::title_word(w)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// E.164; a number of 10 digits is taken as US (+1).
pub fn phone(value: &str) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("empty".into());
    }
    if let Some(bad) = trimmed.chars().find(|c| !(c.is_ascii_digit() || " ()-.+/".contains(*c))) {
        return Err(format!("unexpected character `{bad}` in a phone number"));
    }
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let international = trimmed.starts_with('+') || trimmed.starts_with("00");
    let e164 = if international {
        let digits = if trimmed.starts_with("00") { &digits[2..] } else { &digits[..] };
        format!("+{digits}")
    } else if digits.len() == 10 {
        format!("+1{digits}")
    } else if digits.len() == 11 && digits.starts_with('1') {
        format!("+{digits}")
    } else {
        return Err(format!("{} digits is not a US number; write it with +country code", digits.len()));
    };
    let n = e164.len() - 1;
    if !(8..=15).contains(&n) {
        return Err(format!("{n} digits is not a valid E.164 number"));
    }
    Ok(e164)
}

/// The domain is case-insensitive, the local part is not touched.
pub fn email(value: &str) -> Result<String, String> {
    let trimmed = value.trim();
    let (local, domain) = trimmed.rsplit_once('@').ok_or("no @ in the address")?;
    if local.is_empty() || domain.is_empty() || local.contains('@') {
        return Err("expected exactly one @ between a name and a domain".into());
    }
    if trimmed.chars().any(char::is_whitespace) || !domain.contains('.') {
        return Err("not an email address".into());
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_reaches_e164_from_common_us_spellings() {
        for p in ["(415) 555-0134", "415.555.0134", "+1 415 555 0134", "1-415-555-0134"] {
            assert_eq!(phone(p).unwrap(), "+14155550134", "{p}");
        }
        assert!(phone("555-0134").is_err());
        assert!(phone("call me").is_err());
    }

    #[test]
    fn email_lowercases_domain_only() {
        assert_eq!(email(" Ann.Lee@Example.COM ").unwrap(), "Ann.Lee@example.com");
        assert!(email("ann.example.com").is_err());
        assert!(email("a@b@c.com").is_err());
    }

    #[test]
    fn name_ignores_case_and_spacing_but_not_letters() {
        assert_eq!(name("  mary  o'brien "), name("Mary O'Brien"));
        assert_eq!(name("van der Berg"), name("Van Der  Berg"));
        assert_ne!(name("Jon Smith"), name("John Smith"));
    }

    #[test]
    fn name_display_keeps_mc_o_and_particles_right() {
        assert_eq!(name_display("mary  o'brien"), "Mary O'Brien");
        assert_eq!(name_display("RONALD MCDONALD"), "Ronald McDonald");
        assert_eq!(name_display("anna van der berg"), "Anna van der Berg");
        assert_eq!(name_display("Anna van der Berg"), "Anna van der Berg");
        assert_eq!(name_display("jean-luc picard"), "Jean-Luc Picard");
    }
}
