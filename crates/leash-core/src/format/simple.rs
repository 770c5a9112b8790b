//! `text`, `name` and `email`: forms small enough to share a file.

fn collapse_spaces(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Spacing only.
pub fn text(value: &str) -> String {
    collapse_spaces(value)
}

/// Spacing, and a hyphen or apostrophe standing alone joins its neighbours
/// (`Smith - Jones` → `Smith-Jones`, `O ' Brien` → `O'Brien`).
fn name_spacing(value: &str) -> String {
    let mut out = String::new();
    let mut glue = true;
    for word in value.split_whitespace() {
        let joiner = word == "-" || word == "'";
        if !(glue || joiner) {
            out.push(' ');
        }
        out.push_str(word);
        glue = joiner;
    }
    out
}

const NAME_PARTICLES: &[&str] =
    &["van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "la", "le", "bin", "ibn"];

/// A name in conventional case: `mary o'brien` → `Mary O'Brien`, `RONALD
/// MCDONALD` → `Ronald McDonald`, `anna van der berg` → `Anna van der Berg`.
/// A name already in mixed case is left as written: its owner knows best.
pub fn name(value: &str) -> String {
    let spaced = name_spacing(value);
    let mixed = spaced.chars().any(char::is_lowercase) && spaced.chars().any(char::is_uppercase);
    if mixed {
        return spaced;
    }
    let cased = spaced
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
        .join(" ");
    // Case rules that do not settle in one pass (a letter whose capital is
    // two letters, `ß` → `SS`) keep the name as it was spaced.
    match name_is_settled(&cased) {
        true => cased,
        false => spaced,
    }
}

/// Whether `cased` would come out of `name` unchanged.
fn name_is_settled(cased: &str) -> bool {
    let mixed = cased.chars().any(char::is_lowercase) && cased.chars().any(char::is_uppercase);
    mixed
        || cased.split(' ').enumerate().all(|(i, w)| {
            let lower = w.to_lowercase();
            match i > 0 && NAME_PARTICLES.contains(&lower.as_str()) {
                true => lower == w,
                false => super::title_word(w) == w,
            }
        })
}

/// Two spellings of a name are the same name when they differ only in case
/// and spacing: `mcdonald` and `McDonald` are, `Jon` and `John` are not.
pub fn name_key(canonical: &str) -> String {
    canonical.to_lowercase()
}

/// Surrounding spaces go and the domain is lower case; the part before the @
/// is the mailbox owner's and is not touched.
pub fn email(value: &str) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("empty".into());
    }
    if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("an email address has no spaces inside it".into());
    }
    let (local, domain) = trimmed.rsplit_once('@').ok_or("no @ in the address")?;
    if local.is_empty() || domain.is_empty() || local.contains('@') {
        return Err("expected exactly one @ between a name and a domain".into());
    }
    let domain = domain.to_lowercase();
    let label_chars = domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    if !domain.contains('.') || domain.split('.').any(str::is_empty) || !label_chars {
        return Err(format!("`{domain}` is not a domain name such as example.com"));
    }
    Ok(format!("{local}@{domain}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_trims_and_lowercases_the_domain_only() {
        assert_eq!(email(" Ann.Lee@Example.COM ").unwrap(), "Ann.Lee@example.com");
        assert_eq!(email(" michelleb@aol.com ").unwrap(), "michelleb@aol.com");
        assert!(email("ann.example.com").is_err());
        assert!(email("a@b@c.com").is_err());
        assert!(email("ann @example.com").is_err());
        assert!(email("ann@example..com").is_err());
        assert!(email("ann@example.com.").is_err());
    }

    #[test]
    fn name_keys_ignore_case_and_spacing_but_not_letters() {
        let key = |s: &str| name_key(&name(s));
        assert_eq!(key("  mary  o'brien "), key("Mary O'Brien"));
        assert_eq!(key("van der Berg"), key("Van Der  Berg"));
        assert_eq!(key("Smith - Jones"), key("smith-jones"));
        assert_ne!(key("Jon Smith"), key("John Smith"));
    }

    #[test]
    fn names_take_conventional_case_unless_written_in_mixed_case() {
        assert_eq!(name("mary  o'brien"), "Mary O'Brien");
        assert_eq!(name("RONALD MCDONALD"), "Ronald McDonald");
        assert_eq!(name("anna van der berg"), "Anna van der Berg");
        assert_eq!(name("Anna van der Berg"), "Anna van der Berg");
        assert_eq!(name("jean-luc picard"), "Jean-Luc Picard");
        assert_eq!(name("mary o ' brien"), "Mary O'Brien");
        assert_eq!(name("DeShawn  McKay"), "DeShawn McKay");
    }
}
