//! rmcp parses a tool call's arguments into a map before leash sees them,
//! so a key given twice (in `set`, or `set` itself, or `key`) would quietly
//! keep its last value. Each incoming MCP message (HTTP body or stdio line)
//! is checked first; a tool call that repeats a key at any level has its
//! arguments replaced by a note the tool answers with `invalid_input`, so
//! nothing is written.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// The argument a rewritten message carries instead of its own.
pub const REFUSED_KEY: &str = "__leash_refused";
/// Bytes a stdio message is read through at a time.
const STDIO_PIPE_BYTES: usize = 64 * 1024;

/// Any JSON value, read only to find an object that names a key twice, at
/// any depth: `{"set": {...}, "set": {...}}` as much as `{"a": 1, "a": 2}`.
/// `path` names where the value is (`params.arguments.set`), for the message.
struct UniqueKeys<'p> {
    path: &'p str,
}

impl<'de> serde::de::DeserializeSeed<'de> for UniqueKeys<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = access.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                let shown: String = key.chars().take(64).collect();
                let place = self.path.strip_prefix("params.arguments.").unwrap_or(match self.path {
                    "params.arguments" => "the arguments",
                    "" => "the message",
                    other => other,
                });
                return Err(serde::de::Error::custom(format!(
                    "field `{shown}` appears twice in {place}; send each field once"
                )));
            }
            let path = if self.path.is_empty() { key } else { format!("{}.{key}", self.path) };
            access.next_value_seed(UniqueKeys { path: &path })?;
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let path = format!("{}[]", self.path);
        while access.next_element_seed(UniqueKeys { path: &path })?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A tool call whose message names a key twice anywhere (its arguments,
/// `set`, `expect`, or the params around them) is rewritten so that its
/// arguments are only a note the tool answers with `invalid_input`: rmcp
/// would keep the last value, and the call would write what the caller's
/// other copy did not say. `None` leaves the message as it is (any other
/// problem is rmcp's or the tool's to answer).
pub fn refuse_repeated_fields(message: &[u8]) -> Option<Vec<u8>> {
    let message = without_bom(message);
    let mut de = serde_json::Deserializer::from_slice(message);
    let why = serde::de::DeserializeSeed::deserialize(UniqueKeys { path: "" }, &mut de).err()?.to_string();
    if !why.contains("appears twice") {
        return None;
    }
    let mut value: Value = serde_json::from_slice(message).ok()?;
    if value.get("method").and_then(Value::as_str) != Some("tools/call") {
        return None;
    }
    let why = why.split(" at line ").next().unwrap_or(&why).to_string();
    let params = value.get_mut("params")?.as_object_mut()?;
    params.insert("arguments".into(), json!({ REFUSED_KEY: why }));
    serde_json::to_vec(&value).ok()
}

/// The message without a leading UTF-8 byte-order mark: rmcp reads past
/// one, so the check must read the same bytes rmcp will.
fn without_bom(message: &[u8]) -> &[u8] {
    message.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(message)
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
            let out = refuse_repeated_fields(line.as_bytes()).unwrap_or_else(|| without_bom(line.as_bytes()).to_vec());
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
    fn a_repeated_key_at_any_level_becomes_a_refusal_and_anything_else_passes() {
        let twice = br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"set_status","arguments":{"key":"1","set":{"status":"open","status":"solved"}}}}"#;
        let out: Value = serde_json::from_slice(&refuse_repeated_fields(twice).unwrap()).unwrap();
        let why = out["params"]["arguments"][REFUSED_KEY].as_str().unwrap();
        assert!(why.contains("field `status` appears twice in set"), "{why}");
        assert_eq!(out["params"]["name"], "set_status");
        assert_eq!(out["id"], 3);
        for repeated in [
            &br#"{"method":"tools/call","params":{"arguments":{"set":{"a":1},"expect":{"b":1,"b":2}}}}"#[..],
            br#"{"method":"tools/call","params":{"arguments":{"key":"1","key":"2","set":{"a":1}}}}"#,
            br#"{"method":"tools/call","params":{"arguments":{"set":{"a":1},"set":{"a":2}}}}"#,
            br#"{"method":"tools/call","params":{"name":"a","name":"b","arguments":{"set":{"a":1}}}}"#,
            br#"{"method":"tools/call","params":{"arguments":{"x":[{"y":1,"y":2}]}}}"#,
        ] {
            let out: Value = serde_json::from_slice(&refuse_repeated_fields(repeated).unwrap()).unwrap();
            assert!(out["params"]["arguments"][REFUSED_KEY].is_string(), "{}", String::from_utf8_lossy(repeated));
        }
        let bom = [&b"\xEF\xBB\xBF"[..], twice].concat();
        assert!(refuse_repeated_fields(&bom).is_some(), "a byte-order mark hides nothing");
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
