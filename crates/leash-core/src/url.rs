//! URLs leash posts to (`[[webhooks]]`, `[[notify]]`): checked when the policy
//! loads, and printed only through `redact_url`, because a URL may carry a
//! credential in its userinfo (`user:pass@`) or its query (`?token=`).

/// Longest URL a policy may name.
pub const URL_BYTES_MAX: usize = 2_000;

/// The parts of an absolute http(s) URL that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl<'a> {
    pub scheme: &'a str,
    /// `user:pass` when the URL has one.
    pub userinfo: Option<&'a str>,
    /// Host with its port, without userinfo.
    pub host: &'a str,
    /// Path, from its `/` (may be empty).
    pub path: &'a str,
    /// Query and fragment, from the `?` or `#` (may be empty).
    pub rest: &'a str,
}

/// Splits an absolute `http://` or `https://` URL with a host; the error says
/// what is wrong in words a policy author can act on (it never repeats the URL).
pub fn parse_http_url(url: &str) -> Result<HttpUrl<'_>, String> {
    if url.len() > URL_BYTES_MAX {
        return Err(format!("is longer than {URL_BYTES_MAX} bytes"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains spaces or control characters; percent-encode them".into());
    }
    let Some((scheme, after)) = url.split_once("://") else {
        return Err("is not an absolute URL; write it as https://host/path".into());
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err("must start with http:// or https://".into());
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, tail) = after.split_at(end);
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let (path, rest) = tail.split_at(tail.find(['?', '#']).unwrap_or(tail.len()));
    let parsed = HttpUrl { scheme, userinfo, host, path, rest };
    let (name, port) = split_port(host);
    if name.is_empty() {
        return Err("has no host; write it as https://host/path".into());
    }
    let bracketed = name.starts_with('[') && name.ends_with(']') && name.len() > 2;
    let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '%'));
    if !(bracketed || plain) || name.starts_with('.') || name.starts_with('-') {
        return Err("has a host that is not a host name or address".into());
    }
    if let Some(p) = port {
        if p.parse::<u16>().map_or(true, |n| n == 0) {
            return Err("has a port that is not a number from 1 to 65535".into());
        }
    }
    Ok(parsed)
}

fn split_port(host: &str) -> (&str, Option<&str>) {
    // `[::1]:8080`: the port follows the closing bracket.
    let from = host.rfind(']').unwrap_or(0);
    match host[from..].rfind(':') {
        Some(i) => (&host[..from + i], Some(&host[from + i + 1..])),
        None => (host, None),
    }
}

/// The URL without userinfo, query or fragment: `https://h/p?token=s` →
/// `https://h/p?…`. Text that is not a URL keeps only what precedes `?`, `#`
/// and any `@`. The one way a target URL is printed (logs, errors, output).
pub fn redact_url(url: &str) -> String {
    match parse_http_url(url) {
        Ok(u) => {
            let login = if u.userinfo.is_some() { "…@" } else { "" };
            let rest = if u.rest.is_empty() { "" } else { "?…" };
            format!("{}://{login}{}{}{rest}", u.scheme, u.host, u.path)
        }
        Err(_) => {
            let cut = url.find(['?', '#']).map(|i| (&url[..i], "?…")).unwrap_or((url, ""));
            let (head, mark) = cut;
            let head = match head.rfind('@') {
                Some(i) => match head.find("://") {
                    Some(s) if s < i => format!("{}://…@{}", &head[..s], &head[i + 1..]),
                    _ => format!("…@{}", &head[i + 1..]),
                },
                None => head.to_string(),
            };
            let head: String = head.chars().filter(|c| !c.is_control()).take(200).collect();
            format!("{head}{mark}")
        }
    }
}

/// Only scheme and host: for URLs whose path is itself the credential (chat
/// incoming webhooks).
pub fn url_origin(url: &str) -> String {
    match parse_http_url(url) {
        Ok(u) => format!("{}://{}/…", u.scheme, u.host),
        Err(_) => "(a URL that is not valid)".into(),
    }
}

/// `text` with every secret part of `url` (its userinfo, its query, the whole
/// URL) removed: for messages from libraries that quote the URL they used.
pub fn scrub(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &redact_url(url));
    if let Ok(u) = parse_http_url(url) {
        if let Some(login) = u.userinfo.filter(|s| !s.is_empty()) {
            out = out.replace(login, "…");
        }
        if u.rest.len() > 1 {
            out = out.replace(&u.rest[1..], "…");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_absolute_http_urls_with_a_host() {
        for ok in ["http://127.0.0.1:8080/x", "https://hooks.example.com", "https://[::1]:9/a?b=c", "HTTPS://a.b/"] {
            assert!(parse_http_url(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_what_is_not_one() {
        for bad in [
            "http://",
            "https://",
            "ftp://example.com",
            "http://exa mple.com",
            "example.com/hook",
            "http://:80/x",
            "http://a.com:99999/",
            "http://a.com:0/",
            "http://user@/x",
            "http://a.com\n/x",
            "http://a<b>.com/",
        ] {
            assert!(parse_http_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redaction_drops_userinfo_and_query() {
        assert_eq!(redact_url("http://user:pass@127.0.0.1:1/x?token=s"), "http://…@127.0.0.1:1/x?…");
        assert_eq!(redact_url("https://h.test/p"), "https://h.test/p");
        assert_eq!(redact_url("ftp://u:p@h/x?k=v"), "ftp://…@h/x?…");
        assert_eq!(url_origin("https://hooks.slack.com/services/T/B/secret"), "https://hooks.slack.com/…");
        let msg = "error for url (http://user:pass@127.0.0.1:1/x?token=s): refused";
        let clean = scrub(msg, "http://user:pass@127.0.0.1:1/x?token=s");
        assert!(!clean.contains("pass") && !clean.contains("token=s"), "{clean}");
    }
}
