//! Security headers on every answer: no framing (clickjacking), no content
//! sniffing, no referrer beyond this server (`same-origin`: under
//! `no-referrer` browsers send `Origin: null` on our own forms, which the
//! Host/Origin check refuses), and pages never cached. A page sets its own
//! Content-Security-Policy (with the nonce of its inline script and style);
//! anything else gets one that allows nothing.

use axum::http::{header, HeaderValue};
use axum::response::Response;

/// The CSP of an answer that did not set its own: nothing loads, nothing frames it.
pub const CSP_NONE: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// A page's CSP: only its own nonce-carrying script and style, forms back to
/// this server, images from itself or inline SVG.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src 'self' data:; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

pub async fn security_headers(mut response: Response) -> Response {
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let h = response.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP_NONE));
    }
    // Redirects carry session cookies and flash text; pages show journal data.
    if html || response.status().is_redirection() {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
