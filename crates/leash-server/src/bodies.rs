//! The JSON bodies the HTTP API takes besides a call, and how any body is
//! read (`JsonBody`): our own `{code, message}` for malformed JSON and
//! unknown fields, never the framework's text. The OpenAPI document
//! describes these types.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leash_core::codes::{Code, ErrorCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::errors::ApiError;

/// A JSON body of type `T`, read by us so malformed JSON and unknown fields
/// get our `{code, message}` instead of the framework's text. An empty body
/// is `{}`: every field of a body without required ones may be left out.
/// That it is JSON at all is `require_json`'s check, before any handler.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<JsonBody<T>, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|r| unread(r.status()))?;
        let bytes: &[u8] = if bytes.is_empty() { b"{}" } else { &bytes };
        serde_json::from_slice(bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::invalid(format!("the body is not valid here: {e}")))
    }
}

/// A body that could not be read: over `BODY_BYTES_MAX`, or cut off.
fn unread(status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::too_large();
    }
    ApiError::new(status, Code::InvalidInput.as_str(), status.canonical_reason().unwrap_or("error"))
}

/// The one API route whose body is a form: Slack's buttons.
pub const FORM_ROUTE: &str = "/api/v1/slack/actions";

/// An API request with a body must say it is JSON (415 otherwise): a
/// browser form or `text/plain` post from a foreign page never reaches a
/// handler, and nothing guesses what a body is.
pub async fn require_json(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let h = req.headers();
    let has_body = axum::body::HttpBody::size_hint(req.body()).exact() != Some(0)
        || h.get(header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0");
    if !path.starts_with("/api/") || path == FORM_ROUTE || !has_body {
        return next.run(req).await;
    }
    let json = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if json {
        return next.run(req).await;
    }
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::UnsupportedMediaType.as_str(),
        "send the body as JSON with Content-Type: application/json",
    )
    .into_response()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// Values to change before applying; each field once.
    #[serde(default, deserialize_with = "leash_core::call::fields_once")]
    #[schema(value_type = Object)]
    pub set: serde_json::Map<String, Value>,
    pub note: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// Why; the agent and the report learn from it.
    pub note: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevertBody {
    pub change_ids: Option<Vec<String>>,
    pub run_id: Option<String>,
    pub action: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub actor: Option<String>,
    pub proposal_id: Option<String>,
    /// Plan only; nothing is written.
    pub dry_run: bool,
    #[serde(default)]
    pub force: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    pub action: Option<String>,
    #[serde(default)]
    pub all: bool,
    pub reason: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideManyBody {
    /// The proposals to decide, each alone.
    pub ids: Option<Vec<String>>,
    /// Or every open proposal of a group (`group` in the queue).
    pub group: Option<String>,
    /// Why; required to reject.
    pub note: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditBody {
    /// A policy to judge by, as TOML text (default: the current one); checked
    /// like the real policy and never written to disk.
    pub policy: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub action: Option<String>,
    /// Revert exactly the refused changes, in one run.
    #[serde(default)]
    pub revert_refused: bool,
    /// With revert_refused: plan only; nothing is written.
    #[serde(default)]
    pub dry_run: bool,
}
