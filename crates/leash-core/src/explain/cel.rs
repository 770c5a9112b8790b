//! Plain CEL conditions in words, so a page can say "status is not closed"
//! beside `record.status != 'closed'`. Conservative by design: anything it
//! does not fully understand is left to the CEL alone.

pub(super) fn is_column(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Plain comparisons on `record.<column>` joined by only `&&` or only `||`,
/// in words: `record.status != 'closed'` → `status is not closed`. Anything
/// else (calls, grouping, escapes, mixed `&&`/`||`) is `None`: the page then
/// shows the CEL alone rather than guess at its meaning.
pub(super) fn condition_words(source: &str) -> Option<String> {
    let outside = outside_quotes(source)?;
    if outside.iter().any(|&i| matches!(source.as_bytes()[i], b'(' | b')')) {
        return None;
    }
    let ands = split_at(source, &outside, "&&");
    let ors = split_at(source, &outside, "||");
    let (parts, joiner) = match (ands.len(), ors.len()) {
        (1, 1) => (ands, ""),
        (_, 1) => (ands, " and "),
        (1, _) => (ors, " or "),
        _ => return None,
    };
    let words: Option<Vec<String>> = parts.iter().map(|p| comparison_words(p.trim())).collect();
    Some(words?.join(joiner))
}

/// Byte offsets of the ASCII characters outside string literals (operators
/// are ASCII, and only those offsets are safe to slice at); `None` when a
/// literal is unclosed or uses an escape, which the words do not attempt.
fn outside_quotes(source: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    let mut quote: Option<u8> = None;
    for (i, b) in source.bytes().enumerate() {
        match quote {
            Some(_) if b == b'\\' => return None,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b.is_ascii() => out.push(i),
            None => {}
        }
    }
    quote.is_none().then_some(out)
}

fn split_at<'s>(source: &'s str, outside: &[usize], sep: &str) -> Vec<&'s str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for &i in outside {
        if i >= start && source[i..].starts_with(sep) {
            parts.push(&source[start..i]);
            start = i + sep.len();
        }
    }
    parts.push(&source[start..]);
    parts
}

#[derive(Debug, PartialEq)]
enum Literal {
    Null,
    Bool(bool),
    Number(String),
    Text(String),
}

fn literal(text: &str) -> Option<Literal> {
    let text = text.trim();
    match text {
        "null" => return Some(Literal::Null),
        "true" => return Some(Literal::Bool(true)),
        "false" => return Some(Literal::Bool(false)),
        _ => {}
    }
    for q in ['\'', '"'] {
        if let Some(inner) = text.strip_prefix(q).and_then(|t| t.strip_suffix(q)) {
            // An empty text reads badly in words ("is "); leave it to the CEL.
            return (!inner.is_empty() && !inner.contains(['\'', '"'])).then(|| Literal::Text(inner.to_string()));
        }
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    let numeric = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.matches('.').count() <= 1
        && !digits.starts_with('.')
        && !digits.ends_with('.');
    numeric.then(|| Literal::Number(text.to_string()))
}

/// `record.x`, `!record.x`, or `record.x OP literal`.
fn comparison_words(part: &str) -> Option<String> {
    // `new.x` is the value the call would write: "the new x".
    let column = |t: &str| {
        let t = t.trim();
        match t.strip_prefix("new.") {
            Some(c) => Some(c).filter(|c| is_column(c)).map(|c| format!("the new {c}")),
            None => t.strip_prefix("record.").filter(|c| is_column(c)).map(str::to_string),
        }
    };
    if let Some(col) = column(part) {
        return Some(format!("{col} is true"));
    }
    if let Some(col) = part.strip_prefix('!').and_then(column) {
        return Some(format!("{col} is false"));
    }
    let outside = outside_quotes(part)?;
    // Two-character operators first, so `<=` is not read as `<`.
    const OPS: [&str; 7] = ["==", "!=", "<=", ">=", " in ", "<", ">"];
    let (at, op) =
        outside.iter().find_map(|&i| OPS.iter().find(|op| part[i..].starts_with(**op)).map(|op| (i, *op)))?;
    let col = column(&part[..at])?;
    let right = &part[at + op.len()..];
    if op == " in " {
        return Some(format!("{col} is one of {}", list_words(right)?));
    }
    let words = match (op, literal(right)?) {
        ("==", Literal::Null) => "is not set".to_string(),
        ("!=", Literal::Null) => "is set".to_string(),
        ("==", Literal::Bool(b)) => format!("is {b}"),
        ("!=", Literal::Bool(b)) => format!("is not {b}"),
        ("==", Literal::Number(v) | Literal::Text(v)) => format!("is {v}"),
        ("!=", Literal::Number(v) | Literal::Text(v)) => format!("is not {v}"),
        ("<", Literal::Number(n)) => format!("is under {n}"),
        ("<=", Literal::Number(n)) => format!("is at most {n}"),
        (">", Literal::Number(n)) => format!("is over {n}"),
        (">=", Literal::Number(n)) => format!("is at least {n}"),
        _ => return None,
    };
    Some(format!("{col} {words}"))
}

/// `['a', 'b']` → `a, b`: texts and numbers only.
fn list_words(text: &str) -> Option<String> {
    let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?;
    let outside = outside_quotes(inner)?;
    let items: Option<Vec<String>> = split_at(inner, &outside, ",")
        .into_iter()
        .map(|item| match literal(item)? {
            Literal::Number(v) | Literal::Text(v) => Some(v),
            _ => None,
        })
        .collect();
    let items = items?;
    (!items.is_empty()).then(|| items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_comparisons_read_as_words() {
        let cases = [
            ("record.status != 'closed'", "status is not closed"),
            ("record.deleted_at == null", "deleted_at is not set"),
            ("record.locked == true", "locked is true"),
            ("record.vip", "vip is true"),
            ("!record.vip", "vip is false"),
            ("record.amount >= 100 && record.amount < 5000.5", "amount is at least 100 and amount is under 5000.5"),
            ("record.tier in ['gold', \"platinum\"]", "tier is one of gold, platinum"),
            ("record.status == 'open' || record.status == 'on hold'", "status is open or status is on hold"),
            ("record.note == 'a && b'", "note is a && b"),
            ("record.city == 'Zürich' && record.vip", "city is Zürich and vip is true"),
            ("new.discount <= 30", "the new discount is at most 30"),
        ];
        for (cel, words) in cases {
            assert_eq!(condition_words(cel).as_deref(), Some(words), "{cel}");
        }
    }

    #[test]
    fn anything_more_is_left_to_the_cel() {
        for cel in [
            "size(record.name) > 3",
            "record.a == 1 && record.b == 2 || record.c == 3",
            "(record.a == 1)",
            "record.name.startsWith('A')",
            "record.a == 'it\\'s'",
            "record.a == ''",
            "record.a < 'b'",
            "record.a == record.b",
            "record['a'] == 1",
            "record.a == 1u",
            "record.a in [null]",
            "record.straße == 1",
            "record.a == 1 && é",
        ] {
            assert_eq!(condition_words(cel), None, "{cel}");
        }
    }

    proptest::proptest! {
        /// Policy text reaches this as written: no expression may panic it.
        #[test]
        fn any_expression_reads_or_falls_back(source in "(record\\.[a-zé_]{1,4}|[ !=<>&|'\"\\[\\],()ß0-9a-z.]){0,12}") {
            let _ = condition_words(&source);
        }
    }
}
