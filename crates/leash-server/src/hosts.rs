//! DNS-rebinding defence for every route: while `serve` listens on loopback,
//! a request must name this machine in `Host` (and in `Origin`, when a
//! browser sends one). A page on evil.example that rebinds its name to
//! 127.0.0.1 sends `Host: evil.example` and is refused before any handler.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leash_core::codes::ErrorCode;

use crate::errors::ApiError;
use crate::AppState;

/// `localhost`, or a loopback address; `authority` may carry a port.
pub fn is_this_machine(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, port)) if port.is_empty() || port.starts_with(':') => h,
            _ => return false,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            Some(_) => return false,
            None => authority,
        }
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn origin_is_this_machine(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else { return false };
    (scheme == "http" || scheme == "https") && !rest.contains('/') && is_this_machine(rest)
}

pub async fn only_this_machine(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if !s.options.loopback_only {
        return next.run(req).await;
    }
    let allowed = {
        let text = |h| req.headers().get(h).map(|v: &axum::http::HeaderValue| v.to_str().unwrap_or("\u{fffd}"));
        // HTTP/1.1 always has a Host; HTTP/2 carries it in the URI.
        let host = text(header::HOST).or_else(|| req.uri().authority().map(|a| a.as_str()));
        host.is_none_or(is_this_machine) && text(header::ORIGIN).is_none_or(origin_is_this_machine)
    };
    if allowed {
        return next.run(req).await;
    }
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::ForbiddenHost.as_str(),
        "leash listens on loopback and answers only requests for this machine: use http://127.0.0.1:PORT \
         or http://localhost:PORT (a proxy on this machine sets Host to one of those)",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_pass_and_others_do_not() {
        for ok in ["localhost", "localhost:7777", "127.0.0.1", "127.0.0.1:80", "[::1]:7777", "[::1]", "LOCALHOST:1"] {
            assert!(is_this_machine(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:7777",
            "127.0.0.1.evil.example",
            "10.0.0.1:7777",
            "[::1]x",
            "",
            "localhost:x",
        ] {
            assert!(!is_this_machine(bad), "{bad}");
        }
        assert!(origin_is_this_machine("http://127.0.0.1:7777"));
        assert!(!origin_is_this_machine("null"));
        assert!(!origin_is_this_machine("http://evil.example"));
        assert!(!origin_is_this_machine("http://localhost:1/x"));
    }
}
