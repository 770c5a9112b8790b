//! A character diff for the review page, so a dropped `Apt 4B` jumps out.

/// Longer values are shown whole, struck through and replaced.
pub const DIFF_CHARS_MAX: usize = 400;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// (old with deletions marked, new with insertions marked), HTML-escaped.
pub fn html(old: &str, new: &str) -> (String, String) {
    let (a, b): (Vec<char>, Vec<char>) = (old.chars().collect(), new.chars().collect());
    if a.len() > DIFF_CHARS_MAX || b.len() > DIFF_CHARS_MAX {
        return (format!("<del>{}</del>", escape(old)), format!("<ins>{}</ins>", escape(new)));
    }
    // Longest common subsequence table, then walk it.
    let mut lcs = vec![vec![0u16; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    // Mostly different values read better replaced whole than as confetti.
    if (lcs[0][0] as usize) * 2 < a.len().max(b.len()) {
        return (format!("<del>{}</del>", escape(old)), format!("<ins>{}</ins>", escape(new)));
    }
    let (mut i, mut j) = (0, 0);
    let (mut left, mut right) = (Vec::new(), Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            left.push((false, a[i]));
            right.push((false, b[j]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            right.push((true, b[j]));
            j += 1;
        } else {
            left.push((true, a[i]));
            i += 1;
        }
    }
    (render(&left, "del"), render(&right, "ins"))
}

fn render(chars: &[(bool, char)], tag: &str) -> String {
    let mut out = String::new();
    let mut open = false;
    for (marked, c) in chars {
        if *marked != open {
            let edge = if *marked { format!("<{tag}>") } else { format!("</{tag}>") };
            out.push_str(&edge);
            open = *marked;
        }
        out.push_str(&escape(&c.to_string()));
    }
    if open {
        out.push_str(&format!("</{tag}>"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_unit_is_marked_and_html_is_escaped() {
        let (old, new) = html("125 Main St, Apt 4B", "125 Main St");
        assert_eq!(old, "125 Main St<del>, Apt 4B</del>");
        assert_eq!(new, "125 Main St");
        let (_, new) = html("a", "<b>");
        assert_eq!(new, "<ins>&lt;b&gt;</ins>");
    }
}
