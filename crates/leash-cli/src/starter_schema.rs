//! `leash init --db URL`: a starter policy written from the live schema.
//! Every table gets one action, commented out, so nothing can write until a
//! person uncomments it; names keep the database's exact case.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{bail, Result};
use leash_core::policy::{is_identifier, NAME_MAX};
use leash_core::value::ColumnType;
use leash_engine::{ColumnOutline, TableOutline};

/// The starter policy for these tables; `url` is what the file names (no
/// password), `password_left_out` whether one was taken out of it.
pub fn starter_policy(url: &str, password_left_out: bool, tables: &[TableOutline]) -> String {
    let mut out = vec![
        "# A starter policy that `leash init --db` wrote from the database's tables.".to_string(),
        "# Nothing here can write: each table has one action, commented out, in".to_string(),
        "# suggest mode (every call becomes a suggestion a person accepts or drops).".to_string(),
        "# To let an agent work on a table: uncomment its action, keep only the fields".to_string(),
        "# it should touch, give them rules (docs/policy.md), write the summary, then".to_string(),
        "#   leash check && leash explain && leash approve-policy --by YOU".to_string(),
        "#".to_string(),
        "# LEASH_DATABASE_URL (or --db) overrides this url: keep a URL with a password".to_string(),
        "# there, not in this file.".to_string(),
    ];
    if password_left_out {
        out.push("# The password was left out of the url below; set LEASH_DATABASE_URL to the".into());
        out.push("# whole URL to run leash against this database.".into());
    }
    out.push("[database]".into());
    out.push(format!("url = {}", toml_string(url)));
    if tables.is_empty() {
        out.push(String::new());
        out.push("# The database has no tables yet (leash's own leash_* tables are left out).".into());
    }
    let mut names = HashSet::new();
    for table in tables {
        out.push(String::new());
        out.extend(table_block(table, &mut names));
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// One table: what it holds, then its action commented out (or why none).
fn table_block(table: &TableOutline, names: &mut HashSet<String>) -> Vec<String> {
    let mut out = vec![format!("# ── {} ──", table.name)];
    out.extend(wrap("# columns: ", &column_list(&table.columns)));
    if !is_identifier(&table.name) {
        out.push(format!(
            "# `{}` cannot be named in a policy (letters, digits and _ only); rename the table to guard it",
            table.name
        ));
        return out;
    }
    let key = if table.primary_key.is_empty() {
        table.unique_columns.first().map(|c| vec![c.clone()]).unwrap_or_default()
    } else {
        table.primary_key.clone()
    };
    if key.is_empty() {
        out.push("# no primary key or unique column: leash cannot name one record of it".into());
        return out;
    }
    if let Some(bad) = key.iter().find(|k| !is_identifier(k)) {
        out.push(format!("# its key column `{bad}` cannot be named in a policy (letters, digits and _ only)"));
        return out;
    }
    let (note, action) = starter_action(table, &key, names);
    out.extend(note.map(|n| format!("# {n}")));
    out.extend(action.into_iter().map(|l| format!("# {l}")));
    out
}

/// A note on the action, if it needs one, and its lines, uncommented.
fn starter_action(
    table: &TableOutline,
    key: &[String],
    names: &mut HashSet<String>,
) -> (Option<&'static str>, Vec<String>) {
    let open = |c: &&ColumnOutline| c.writable && !key.contains(&c.name) && is_identifier(&c.name);
    let text: Vec<&ColumnOutline> = table.columns.iter().filter(open).filter(|c| c.ty == ColumnType::Text).collect();
    let others: Vec<&ColumnOutline> = table.columns.iter().filter(open).filter(|c| c.ty != ColumnType::Json).collect();
    // A table of nothing but its key (a link table) only gains rows.
    let (verb, append, fields, note) = match (text.is_empty(), others.is_empty()) {
        (false, _) => ("edit", false, text, None),
        (true, false) => {
            ("edit", false, others, Some("no text columns: give each field a rule (range, one_of) before uncommenting"))
        }
        (true, true) => {
            let keys: Vec<&ColumnOutline> = table.columns.iter().filter(|c| key.contains(&c.name)).collect();
            ("add", true, keys, Some("every column is part of the key: the only change is a new row"))
        }
    };
    let name = action_name(verb, &table.name, names);
    let key_value = match key {
        [one] => toml_string(one),
        many => format!("[{}]", many.iter().map(|k| toml_string(k)).collect::<Vec<_>>().join(", ")),
    };
    let mut lines = vec![
        "[[actions]]".to_string(),
        format!("name = {}", toml_string(&name)),
        format!(
            "summary = {}",
            toml_string(&format!("TODO: say in one sentence what the agent may change in {}, and when.", table.name))
        ),
        format!("table = {}", toml_string(&table.name)),
        format!("key = {key_value}"),
    ];
    if append {
        lines.push("kind = \"append\"".into());
    }
    lines.push("mode = \"suggest\"".into());
    lines.push("requires = [\"reason\"]".into());
    for col in fields {
        lines.push(match &col.references {
            Some((table, column)) => {
                format!("  [actions.fields.{}]    # names a record of {table} ({column})", col.name)
            }
            None => format!("  [actions.fields.{}]", col.name),
        });
        if let Some((rule, why)) = guessed_rule(&col.name).filter(|_| col.ty == ColumnType::Text) {
            lines.push(format!("  {rule}    # guessed from the column's name{why}"));
        }
    }
    (note, lines)
}

/// `TrackId (INTEGER), GenreId (INTEGER, names Genre.GenreId), …`
fn column_list(columns: &[ColumnOutline]) -> Vec<String> {
    columns
        .iter()
        .map(|c| match &c.references {
            Some((table, col)) => format!("{} ({}, names {table}.{col})", c.name, c.declared),
            None => format!("{} ({})", c.name, c.declared),
        })
        .collect()
}

/// Items after `head`, joined by commas, in comment lines of about 90 characters.
fn wrap(head: &str, items: &[String]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = head.to_string();
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() { format!("{item},") } else { item.clone() };
        if line.len() + piece.len() + 1 > 90 && line.len() > head.len() {
            lines.push(line.trim_end().to_string());
            line = "#   ".to_string();
        }
        line.push_str(&piece);
        line.push(' ');
    }
    lines.push(line.trim_end().to_string());
    lines
}

/// The rule a column's name suggests (email, phone, address, ZIP, state,
/// date), and what to know about it.
fn guessed_rule(column: &str) -> Option<(&'static str, &'static str)> {
    let words = words(column);
    let has = |w: &[&str]| words.iter().any(|x| w.contains(&x.as_str()));
    let joined = words.concat();
    Some(if has(&["email", "mail"]) || joined.contains("email") {
        ("format = \"email\"", "")
    } else if has(&["phone", "telephone", "tel", "fax", "mobile", "cell"]) || joined.contains("phone") {
        ("format = \"phone\"", "")
    } else if has(&["zip", "zipcode", "postcode"]) || joined.contains("postalcode") {
        (r"pattern = '^\d{5}(-\d{4})?$'", ": a US ZIP code; widen it for other countries")
    } else if has(&["address", "addr", "street"]) {
        ("format = \"us_address\"", "")
    } else if has(&["state"]) {
        ("pattern = '^[A-Z]{2}$'", ": a two-letter state code")
    } else if has(&["date", "dob", "birthday", "birthdate"]) {
        ("format = \"date\"", "")
    } else {
        return None;
    })
}

/// `BillingPostalCode` → billing, postal, code; `e_mail` → e, mail.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            words.push(std::mem::take(&mut word));
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1);
        let starts = c.is_ascii_uppercase()
            && (prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(|p| p.is_ascii_uppercase()) && next.is_some_and(|n| n.is_ascii_lowercase())));
        if starts {
            words.push(std::mem::take(&mut word));
        }
        word.push(c.to_ascii_lowercase());
    }
    words.push(word);
    words.retain(|w| !w.is_empty());
    words
}

/// `edit_playlist_track`: the verb and the table in snake case, unique in
/// the file and within the policy's name rules.
fn action_name(verb: &str, table: &str, taken: &mut HashSet<String>) -> String {
    let base: String = format!("{verb}_{}", words(table).join("_")).chars().take(NAME_MAX - 4).collect();
    let mut name = base.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The URL as the policy file keeps it: without a password (in the
/// userinfo or a `password=` parameter), and a relative SQLite path made
/// absolute when the policy is not in the current folder (the policy's
/// relative paths are read from its own folder). Also whether a password
/// was left out.
pub fn url_for_file(url: &str, policy_dir: &Path) -> (String, bool) {
    let mut left_out = false;
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h.to_string(), Some(q)),
        None => (url.to_string(), None),
    };
    let head = match (head.find("://"), head.rfind('@')) {
        (Some(s), Some(at)) if s < at => {
            let userinfo = &head[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    left_out = true;
                    format!("{}{user}{}", &head[..s + 3], &head[at..])
                }
                None => head,
            }
        }
        _ => head,
    };
    let query = query.map(|q| {
        let kept: Vec<&str> = q.split('&').filter(|p| !p.to_ascii_lowercase().starts_with("password=")).collect();
        left_out |= kept.len() < q.split('&').count();
        kept.join("&")
    });
    let head = match head.strip_prefix("sqlite://") {
        Some(path) if !path.starts_with('/') && !path.starts_with(':') && !is_here(policy_dir) => {
            let absolute = std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.into());
            format!("sqlite://{}", absolute.display())
        }
        _ => head,
    };
    match query.filter(|q| !q.is_empty()) {
        Some(q) => (format!("{head}?{q}"), left_out),
        None => (head, left_out),
    }
}

fn is_here(dir: &Path) -> bool {
    dir.as_os_str().is_empty() || dir == Path::new(".")
}

/// A SQLite URL must name a file that exists: opening it would create an
/// empty one, and a starter from no tables helps nobody.
pub fn refuse_missing_sqlite(url: &str) -> Result<()> {
    let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else { return Ok(()) };
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path.starts_with(':') || Path::new(path).exists() {
        return Ok(());
    }
    bail!("there is no SQLite database at {path}; name an existing file (sqlite://path/to/file.db)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, ty: ColumnType, declared: &str) -> ColumnOutline {
        ColumnOutline { name: name.into(), ty, declared: declared.into(), writable: true, references: None }
    }

    fn chinook() -> Vec<TableOutline> {
        let int = |n: &str| column(n, ColumnType::Integer, "INTEGER");
        let text = |n: &str, d: &str| column(n, ColumnType::Text, d);
        let mut genre_id = int("GenreId");
        genre_id.references = Some(("Genre".into(), "GenreId".into()));
        vec![
            TableOutline {
                name: "Customer".into(),
                primary_key: vec!["CustomerId".into()],
                unique_columns: vec!["CustomerId".into()],
                columns: vec![
                    int("CustomerId"),
                    text("FirstName", "VARCHAR(40)"),
                    text("Email", "VARCHAR(60)"),
                    text("Phone", "VARCHAR(24)"),
                    text("Address", "VARCHAR(70)"),
                    text("State", "VARCHAR(40)"),
                    text("PostalCode", "VARCHAR(10)"),
                    column("SupportRepId", ColumnType::Integer, "INTEGER"),
                    column("BirthDate", ColumnType::Text, "TEXT"),
                ],
            },
            TableOutline {
                name: "InvoiceLine".into(),
                primary_key: vec!["InvoiceLineId".into()],
                unique_columns: vec!["InvoiceLineId".into()],
                columns: vec![
                    int("InvoiceLineId"),
                    column("UnitPrice", ColumnType::Numeric, "NUMERIC(10,2)"),
                    int("Quantity"),
                ],
            },
            TableOutline {
                name: "PlaylistTrack".into(),
                primary_key: vec!["PlaylistId".into(), "TrackId".into()],
                unique_columns: vec![],
                columns: vec![int("PlaylistId"), int("TrackId")],
            },
            TableOutline {
                name: "Track".into(),
                primary_key: vec!["TrackId".into()],
                unique_columns: vec!["TrackId".into()],
                columns: vec![
                    int("TrackId"),
                    text("Name", "VARCHAR(200)"),
                    genre_id,
                    column("UnitPrice", ColumnType::Numeric, "NUMERIC(10,2)"),
                ],
            },
            TableOutline { name: "audit log".into(), primary_key: vec![], unique_columns: vec![], columns: vec![] },
            TableOutline {
                name: "notes".into(),
                primary_key: vec![],
                unique_columns: vec![],
                columns: vec![text("body", "TEXT")],
            },
        ]
    }

    #[test]
    fn the_starter_for_a_chinook_like_schema_reads_well() {
        insta::assert_snapshot!(starter_policy("postgres://leash@db/chinook", true, &chinook()));
    }

    #[test]
    fn names_split_into_words_and_actions_stay_unique() {
        assert_eq!(words("BillingPostalCode"), ["billing", "postal", "code"]);
        assert_eq!(words("HTTPLog"), ["http", "log"]);
        assert_eq!(words("e_mail2"), ["e", "mail2"]);
        let mut taken = HashSet::new();
        assert_eq!(action_name("edit", "PlaylistTrack", &mut taken), "edit_playlist_track");
        assert_eq!(action_name("edit", "playlist_track", &mut taken), "edit_playlist_track_2");
        assert_eq!(guessed_rule("EmailAddress").map(|r| r.0), Some("format = \"email\""));
        assert_eq!(guessed_rule("BillingAddress").map(|r| r.0), Some("format = \"us_address\""));
        assert_eq!(guessed_rule("InvoiceDate").map(|r| r.0), Some("format = \"date\""));
        assert_eq!(guessed_rule("LastUpdatedBy"), None);
    }

    #[test]
    fn the_file_keeps_no_password() {
        let here = Path::new("");
        assert_eq!(
            url_for_file("postgres://ann:s3cret@db:5432/shop?sslmode=require", here),
            ("postgres://ann@db:5432/shop?sslmode=require".into(), true)
        );
        assert_eq!(url_for_file("mysql://root@db/shop", here), ("mysql://root@db/shop".into(), false));
        assert_eq!(
            url_for_file("postgres://db/shop?user=a&password=b", here),
            ("postgres://db/shop?user=a".into(), true)
        );
        assert_eq!(url_for_file("sqlite://chinook.db", here), ("sqlite://chinook.db".into(), false));
        let elsewhere = url_for_file("sqlite://chinook.db", Path::new("conf")).0;
        assert!(elsewhere.starts_with("sqlite:///") && elsewhere.ends_with("/chinook.db"), "{elsewhere}");
        assert_eq!(toml_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
