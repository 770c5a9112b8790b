//! Errors as JSON `{code, message}` with a fitting status code.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use leash_core::call::CallResult;
use leash_core::codes::{Code, ErrorCode, Outcome};
use leash_engine::{EngineError, Failure};

/// The HTTP status for a call's outcome.
pub fn status_for(result: &CallResult) -> StatusCode {
    match (result.outcome, result.code) {
        (Outcome::Applied | Outcome::Unchanged, _) => StatusCode::OK,
        (Outcome::PendingReview | Outcome::Suggested, _) => StatusCode::ACCEPTED,
        (Outcome::Rejected, Some(code)) => code_status(code),
        (Outcome::Rejected, None) => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

pub fn code_status(code: Code) -> StatusCode {
    match code {
        Code::InvalidInput => StatusCode::BAD_REQUEST,
        Code::UnknownAction | Code::RecordNotFound => StatusCode::NOT_FOUND,
        Code::NotPermitted | Code::PolicyUnapproved => StatusCode::FORBIDDEN,
        Code::StaleRecord | Code::Conflict => StatusCode::CONFLICT,
        Code::Expired => StatusCode::GONE,
        Code::LimitRun | Code::LimitHour | Code::OutsideWindow => StatusCode::TOO_MANY_REQUESTS,
        Code::Paused | Code::BreakerTripped => StatusCode::SERVICE_UNAVAILABLE,
        Code::FieldNotAllowed
        | Code::ValueNotAllowed
        | Code::OutOfRange
        | Code::PatternMismatch
        | Code::TooLong
        | Code::NotEmpty
        | Code::WouldBlank
        | Code::MissingRequired
        | Code::RecordLocked
        | Code::ConditionFalse
        | Code::NotCanonical => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// An error the API answers with; `code` is a call's `Code` where one fits,
/// or an `ErrorCode` (`unauthenticated`, `not_found`, `internal`, …).
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, Code::InvalidInput.as_str(), message)
    }
    /// A body over `BODY_BYTES_MAX`, whichever layer noticed.
    pub fn too_large() -> ApiError {
        let message = format!("the request body is over {} bytes; send less", crate::BODY_BYTES_MAX);
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, Code::InvalidInput.as_str(), message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({"code": self.code, "message": self.message}))).into_response()
    }
}

/// The HTTP status of an engine failure, for the API and the UI alike.
pub fn failure_status(failure: Failure) -> StatusCode {
    match failure {
        Failure::Invalid => StatusCode::BAD_REQUEST,
        Failure::Forbidden => StatusCode::FORBIDDEN,
        Failure::NotFound => StatusCode::NOT_FOUND,
        Failure::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Failure::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        let answer = e.answer();
        ApiError::new(failure_status(answer.failure), answer.code, answer.message)
    }
}

const INVALID: &str = Code::InvalidInput.as_str();
const INTERNAL: &str = ErrorCode::Internal.as_str();

/// Layers answer some errors (413, 408, 405) with plain text; make every error JSON.
pub async fn json_for_plain_errors(response: Response) -> Response {
    let status = response.status();
    // Only bare or plain-text errors from layers are rewritten; JSON from the
    // API and HTML from the UI pages are already what their readers expect.
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain") && !v.contains("version=0.0.4"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return response;
    }
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => return ApiError::too_large().into_response(),
        StatusCode::REQUEST_TIMEOUT => (INTERNAL, "the request took too long and was stopped".to_string()),
        StatusCode::METHOD_NOT_ALLOWED => (INVALID, "this method is not allowed here; see /openapi.json".to_string()),
        StatusCode::NOT_FOUND => (ErrorCode::NotFound.as_str(), "no such endpoint; see /openapi.json".to_string()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            let m = "the body is not accepted: send JSON of the shape this endpoint takes, with Content-Type: application/json";
            (ErrorCode::UnsupportedMediaType.as_str(), m.to_string())
        }
        s if s.is_server_error() => {
            (INTERNAL, "leash could not complete this; the server log has the cause".to_string())
        }
        _ => (INVALID, status.canonical_reason().unwrap_or("error").to_string()),
    };
    ApiError::new(status, code, message).into_response()
}
