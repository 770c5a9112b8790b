//! rmcp parses a tool call's arguments into a map before leash sees them,
//! so a field given twice in `set` would quietly keep its last value. Each
//! incoming MCP message (HTTP body or stdio line) is checked first; one that
//! repeats a field has its arguments replaced by a note the tool answers
//! with `invalid_input`, so nothing is written.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leash_core::call::{expect_once, fields_once};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// The argument a rewritten message carries instead of its own.
pub const REFUSED_KEY: &str = "__leash_refused";
/// Bytes a stdio message is read through at a time.
const STDIO_PIPE_BYTES: usize = 64 * 1024;

// Read only to be checked: the values are rmcp's to parse.
#[allow(dead_code)]
#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    params: Option<Params>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct Params {
    #[serde(default)]
    arguments: Option<Arguments>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct Arguments {
    #[serde(default, deserialize_with = "fields_once")]
    set: Map<String, Value>,
    #[serde(default, deserialize_with = "expect_once")]
    expect: Option<Map<String, Value>>,
}

/// The message rewritten when its tool arguments repeat a field; `None`
/// leaves it as it is (any other problem is rmcp's or the tool's to answer).
pub fn refuse_repeated_fields(message: &[u8]) -> Option<Vec<u8>> {
    let why = serde_json::from_slice::<Message>(message).err()?.to_string();
    if !why.contains("appears twice") {
        return None;
    }
    let why = why.split(" at line ").next().unwrap_or(&why).to_string();
    let mut value: Value = serde_json::from_slice(message).ok()?;
    *value.get_mut("params")?.get_mut("arguments")? = json!({ REFUSED_KEY: why });
    serde_json::to_vec(&value).ok()
}

/// Middleware for `POST /mcp`: reads the body (bounded) and rewrites it.
pub async fn http(req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, crate::BODY_BYTES_MAX).await {
        Ok(b) => b,
        Err(_) => {
            let why = format!("the message is larger than {} bytes; send less", crate::BODY_BYTES_MAX);
            return (StatusCode::PAYLOAD_TOO_LARGE, why).into_response();
        }
    };
    let bytes = refuse_repeated_fields(&bytes).map(Bytes::from).unwrap_or(bytes);
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// Stdin as rmcp should read it: line by line, each message checked.
pub fn stdin() -> tokio::io::DuplexStream {
    let (mut ours, theirs) = tokio::io::duplex(STDIO_PIPE_BYTES);
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let out = refuse_repeated_fields(line.as_bytes()).unwrap_or_else(|| line.into_bytes());
            if ours.write_all(&out).await.is_err() || ours.write_all(b"\n").await.is_err() {
                break;
            }
        }
    });
    theirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_field_becomes_a_refusal_and_anything_else_passes() {
        let twice = br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"set_status","arguments":{"key":"1","set":{"status":"open","status":"solved"}}}}"#;
        let out: Value = serde_json::from_slice(&refuse_repeated_fields(twice).unwrap()).unwrap();
        let why = out["params"]["arguments"][REFUSED_KEY].as_str().unwrap();
        assert!(why.contains("field `status` appears twice in set"), "{why}");
        assert_eq!(out["params"]["name"], "set_status");
        assert_eq!(out["id"], 3);
        let expect_twice = br#"{"method":"tools/call","params":{"arguments":{"set":{"a":1},"expect":{"b":1,"b":2}}}}"#;
        assert!(refuse_repeated_fields(expect_twice).is_some());
        for fine in [
            &br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"set":{"a":1,"b":2}}}}"#[..],
            br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}"#,
            br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            br#"{"params":{"arguments":{"set":null}}}"#,
            br#"[1, 2]"#,
            b"not json",
        ] {
            assert!(refuse_repeated_fields(fine).is_none(), "{}", String::from_utf8_lossy(fine));
        }
    }
}
