//! What every page shares: the templates, rendering with the signed-in
//! person and the breaker banner, the flash message after a form, a page
//! whose data could not be read, and a diff row.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use leash_core::value::display;
use leash_engine::{EngineError, PauseKind};
use minijinja::Environment;
use serde_json::json;

use super::diff;
use super::session::Session;
use crate::AppState;

pub(super) type St = State<Arc<AppState>>;
pub(super) type FormData = Form<HashMap<String, String>>;

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("login.html", include_str!("templates/login.html")),
            ("queue.html", include_str!("templates/queue.html")),
            ("log.html", include_str!("templates/log.html")),
            ("revert.html", include_str!("templates/revert.html")),
            ("actions.html", include_str!("templates/actions.html")),
            ("proposal.html", include_str!("templates/proposal.html")),
            ("policy.html", include_str!("templates/policy.html")),
        ] {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "template does not compile");
            }
        }
        env
    })
}

pub(super) async fn render(
    s: &AppState,
    name: &str,
    page: &str,
    session: Option<&Session>,
    mut ctx: serde_json::Value,
    q: &HashMap<String, String>,
) -> Response {
    if let Some(sess) = session {
        ctx["who"] = json!(sess.who.name);
        ctx["role"] = json!(sess.who.role.as_str());
        ctx["csrf"] = json!(sess.csrf);
        ctx["breakers"] = json!(breakers(s).await);
    }
    ctx["page"] = json!(page);
    // One nonce per page: its inline style and script run, nothing injected does.
    let nonce = super::session::random_hex(16);
    ctx["nonce"] = json!(nonce);
    if let Some(done) = q.get("done") {
        ctx["flash"] = json!(done);
        ctx["flash_kind"] = json!("ok");
    }
    if let Some(err) = q.get("error") {
        ctx["flash"] = json!(err);
        ctx["flash_kind"] = json!("error");
    }
    let result =
        templates().get_template(name).and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(&ctx))));
    match result {
        Ok(html) => {
            let csp = crate::headers::page_csp(&nonce);
            let mut r = Html(html).into_response();
            if let Ok(v) = axum::http::HeaderValue::from_str(&csp) {
                r.headers_mut().insert(axum::http::header::CONTENT_SECURITY_POLICY, v);
            }
            r
        }
        Err(e) => {
            tracing::error!(template = name, error = %e, "page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<p>This page failed to render; the server log has the cause.</p>"),
            )
                .into_response()
        }
    }
}

/// A page whose data could not be read: the page with an error banner,
/// never an empty page that looks like "nothing here".
pub(super) async fn failed_page(
    s: &AppState,
    template: &str,
    page: &str,
    sess: &Session,
    e: &EngineError,
    q: &HashMap<String, String>,
) -> Response {
    let answer = e.answer();
    let mut q = q.clone();
    q.insert("error".into(), format!("This page could not be read: {}", answer.message));
    render(s, template, page, Some(sess), json!({"failed": true}), &q).await
}

/// Tripped breakers, with the changes they name, for the banner on every page.
async fn breakers(s: &AppState) -> Vec<serde_json::Value> {
    let pauses = match s.engine.pauses().await {
        Ok(p) => p,
        Err(e) => {
            return vec![
                json!({"scope": "?", "reason": format!("pauses could not be read: {}", e.answer().message), "ids": "", "count": 0}),
            ]
        }
    };
    pauses
        .into_iter()
        .filter(|p| p.kind == PauseKind::Breaker)
        .map(|p| {
            let reason = p.reason.split(';').next().unwrap_or(&p.reason);
            json!({"scope": p.scope, "reason": reason, "ids": p.change_ids.join(","), "count": p.change_ids.len()})
        })
        .collect()
}

/// A redirect to `path` with a flash message, percent-encoded.
pub(super) fn back(path: &str, key: &str, message: &str) -> Response {
    let query = serde_urlencoded::to_string([(key, message)]).unwrap_or_default();
    let sep = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{sep}{query}")).into_response()
}

pub(super) fn field_rows(fields: &[leash_core::call::FieldChange]) -> Vec<serde_json::Value> {
    fields
        .iter()
        .map(|f| {
            let (old_html, new_html) = diff::html(&display(&f.old), &display(&f.new));
            json!({"field": f.field, "old_html": old_html, "new_html": new_html, "new": display(&f.new)})
        })
        .collect()
}
