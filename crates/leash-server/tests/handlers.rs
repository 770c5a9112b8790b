//! Handlers render the engine's answer: a database failure reaches the
//! person as the shared error answer (the UI's banner, the API's JSON),
//! never as an empty page, and every JSON body is read one way, with the
//! API's own answers for malformed JSON, unknown fields and empty bodies.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/inproc.rs"]
mod inproc;

use inproc::{fixture, send, Fixture, Req};
use serde_json::{json, Value};

const DATABASE_FAILED: &str = "the database could not complete this; try again shortly (the server log has the cause)";

async fn drop_table(f: &Fixture, table: &str) {
    f.store.execute_script(&[&format!("DROP TABLE {table}")]).await.unwrap();
}

fn message(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_database_failure_on_the_actions_page_shows_the_error_banner_not_an_empty_page() {
    // The sheet reads approvals; the report reads proposals. Either failing
    // fails the page.
    for table in ["leash_policy_approvals", "leash_proposals"] {
        let f = fixture(leash_server::Options::default()).await;
        let cookie = f.sign_in(&f.reviewer).await;
        let page = send(&f.app, Req::get("/actions").cookie(&cookie)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("/actions/set_status"), "the sheet before the failure: {}", page.body);

        drop_table(&f, table).await;
        let page = send(&f.app, Req::get("/actions").cookie(&cookie)).await;
        let banner = format!("This page could not be read: {DATABASE_FAILED}");
        assert!(page.body.contains(&banner), "{table}: the banner: {}", page.body);
        assert!(!page.body.contains("/actions/set_status"), "{table}: no half-read sheet: {}", page.body);
    }
}

#[tokio::test]
async fn a_database_failure_answers_the_api_with_the_shared_error() {
    let f = fixture(leash_server::Options::default()).await;
    drop_table(&f, "leash_policy_approvals").await;
    for token in [&f.agent, &f.reviewer, &f.admin] {
        let r = send(&f.app, Req::get("/api/v1/actions").bearer(token)).await;
        assert_eq!((r.status, r.code(), message(&r.body)), (503, "internal".into(), DATABASE_FAILED.into()));
    }
    // `/healthz` gives the same answer, never the database's own text.
    drop_table(&f, "leash_state").await;
    let r = send(&f.app, Req::get("/healthz")).await;
    assert_eq!((r.status, r.code(), message(&r.body)), (503, "internal".into(), DATABASE_FAILED.into()));
    let r = send(&f.app, Req::get("/metrics")).await;
    assert_eq!((r.status, r.code(), message(&r.body)), (503, "internal".into(), DATABASE_FAILED.into()));
}

#[tokio::test]
async fn a_token_the_database_cannot_check_is_not_called_unknown() {
    let f = fixture(leash_server::Options::default()).await;
    let (cookie, csrf) = f.login_form().await;
    drop_table(&f, "leash_tokens").await;
    let form = format!("token={}&csrf={csrf}", f.reviewer);
    let r = send(&f.app, Req::form("/login", &form).cookie(&cookie)).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains(&format!("The token could not be checked: {DATABASE_FAILED}")), "{}", r.body);
    assert!(!r.body.contains("unknown or revoked"), "{}", r.body);
}

/// Status, code and message of an answer.
type Answer = (u16, String, String);

/// One route's answer to one body.
async fn answer(f: &Fixture, path: &str, token: &str, body: &str) -> Answer {
    let r = send(&f.app, Req::post(path, body).bearer(token)).await;
    let m = message(&r.body);
    (r.status, r.code(), m)
}

fn invalid(detail: &str) -> Answer {
    (400, "invalid_input".into(), format!("the body is not valid here: {detail}"))
}

#[tokio::test]
async fn malformed_unknown_and_empty_bodies_answer_as_before() {
    let f = fixture(leash_server::Options::default()).await;
    let id = f.proposal().await;
    let approve = format!("/api/v1/proposals/{id}/approve");
    let reject = format!("/api/v1/proposals/{id}/reject");
    let cases: &[(&str, &str, &str, Answer)] = &[
        ("/api/v1/actions/set_status", &f.agent, "{not json", invalid("key must be a string at line 1 column 2")),
        ("/api/v1/pause", &f.admin, "[1, 2]", invalid("invalid type: integer `1`, expected a string at line 1 column 2")),
        (
            "/api/v1/pause",
            &f.admin,
            r#"{"all": true, "reason": "x", "force": true}"#,
            invalid("unknown field `force`, expected one of `action`, `all`, `reason` at line 1 column 36"),
        ),
        ("/api/v1/pause", &f.admin, "", invalid("missing field `reason` at line 1 column 2")),
        ("/api/v1/reverts", &f.reviewer, "", invalid("missing field `dry_run` at line 1 column 2")),
        (&reject, &f.reviewer, "", invalid("missing field `note` at line 1 column 2")),
        (
            &approve,
            &f.reviewer,
            r#"{"set": {"status": "open", "status": "solved"}}"#,
            invalid("field `status` appears twice in set; send each field once at line 1 column 46"),
        ),
        (
            "/api/v1/audit",
            &f.reviewer,
            r#"{"revert": true}"#,
            invalid("unknown field `revert`, expected one of `policy`, `since`, `until`, `action`, `revert_refused`, `dry_run` at line 1 column 9"),
        ),
        (
            "/api/v1/proposals/approve",
            &f.reviewer,
            "",
            (400, "invalid_input".into(), "name the proposals with `ids` (a non-empty list) or a `group`, not both".into()),
        ),
    ];
    for (path, token, body, expected) in cases {
        assert_eq!(&answer(&f, path, token, body).await, expected, "{path} with {body:?}");
    }
    // An empty body is `{}`: an approval without edits goes through.
    let r = send(&f.app, Req::post(&approve, "").bearer(&f.reviewer)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn oversized_and_non_json_bodies_answer_as_before() {
    let f = fixture(leash_server::Options::default()).await;
    let huge = json!({"key": "3", "set": {"status": "x".repeat(70_000)}}).to_string();
    let over = format!("the request body is over {} bytes; send less", leash_server::BODY_BYTES_MAX);
    for path in ["/api/v1/actions/set_status", "/api/v1/pause", "/api/v1/reverts"] {
        let r = send(&f.app, Req::post(path, &huge).bearer(&f.admin)).await;
        assert_eq!((r.status, r.code(), message(&r.body)), (413, "invalid_input".into(), over.clone()), "{path}");
        let r = send(&f.app, Req::raw("POST", path, "{}").header("content-type", "text/plain").bearer(&f.admin)).await;
        assert_eq!((r.status, r.code()), (415, "unsupported_media_type".into()), "{path}: {}", r.body);
    }
    // Authentication comes before the body.
    let r = send(&f.app, Req::post("/api/v1/pause", "{not json")).await;
    assert_eq!((r.status, r.code()), (401, "unauthenticated".into()));
}
