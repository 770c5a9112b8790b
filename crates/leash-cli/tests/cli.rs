//! The `leash` binary as a user runs it: exit statuses, JSON shapes, errors.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{demo_dir, json, leash};

use std::path::Path;

#[test]
fn call_exit_status_is_0_when_decided_2_when_rejected_1_on_error() {
    let dir = demo_dir();
    let ok = leash(dir.path(), &["call", "set_ticket_status", "--key", "1", "--set", "status=needs_reply", "--json"]);
    assert_eq!(ok.status.code(), Some(0));
    let r = json(&ok);
    assert_eq!(r["outcome"], "applied");
    for key in ["outcome", "change_id", "proposal_id", "code", "message", "reasons", "notes", "fields"] {
        assert!(r.get(key).is_some(), "result lacks {key}: {r}");
    }
    assert_eq!(r["fields"][0]["old"], "open");

    let bad = leash(dir.path(), &["call", "set_ticket_status", "--key", "1", "--set", "status=nope", "--json"]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(json(&bad)["code"], "value_not_allowed");

    let review =
        leash(dir.path(), &["call", "adjust_invoice", "--key", "1", "--set", "amount=1", "--reason", "r", "--json"]);
    assert_eq!(review.status.code(), Some(0), "pending_review is a decision");
    assert_eq!(json(&review)["outcome"], "pending_review");

    let usage = leash(dir.path(), &["call"]);
    assert_eq!(usage.status.code(), Some(1));
    let no_db =
        leash(dir.path(), &["call", "set_ticket_status", "--key", "1", "--set", "status=open", "--db", "oracle://x"]);
    assert_eq!(no_db.status.code(), Some(1));
    let stranger = leash(
        dir.path(),
        &["call", "set_ticket_status", "--key", "1", "--set", "status=open", "--as", "stranger", "--json"],
    );
    assert_eq!(stranger.status.code(), Some(2));
    assert_eq!(json(&stranger)["code"], "not_permitted");
}

#[test]
fn check_prints_every_policy_error_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("leash.toml"),
        "[[actions]]\nname = \"x\"\nsummary = \"s\"\ntable = \"t\"\nkey = \"id\"\nmood = \"happy\"\n  [actions.fields.a]\n  max_len = -1\n",
    )
    .unwrap();
    let out = leash(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("leash.toml:6: actions.x.mood: unknown key"), "{err}");
    assert!(err.contains("leash.toml:8: actions.x.fields.a.max_len"), "{err}");
}

#[test]
fn check_reports_tables_and_columns_missing_from_the_database() {
    let dir = demo_dir();
    let policy = std::fs::read_to_string(dir.path().join("leash.toml")).unwrap();
    let policy = policy
        .replace("[actions.fields.priority]", "[actions.fields.priorty]")
        .replace("table = \"invoices\"", "table = \"invoice\"");
    std::fs::write(dir.path().join("leash.toml"), policy).unwrap();
    let out = leash(dir.path(), &["check", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let r = json(&out);
    let errors = r["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["key"] == "actions.fill_ticket_priority.fields.priorty" && e["line"].as_u64() > Some(0)),
        "{r}"
    );
    assert!(errors.iter().any(|e| e["key"] == "actions.adjust_invoice.table"), "{r}");
}

#[test]
fn queue_approve_log_revert_and_verify_speak_the_documented_json() {
    let dir = demo_dir();
    let p = json(&leash(
        dir.path(),
        &["call", "adjust_invoice", "--key", "1", "--set", "amount=1", "--reason", "r", "--json"],
    ));
    let q = json(&leash(dir.path(), &["queue", "--json"]));
    let first = &q["proposals"][0];
    for key in ["id", "action", "record_key", "fields", "reasons", "notes", "status", "created_at"] {
        assert!(first.get(key).is_some(), "proposal lacks {key}");
    }
    assert_eq!(first["id"], p["proposal_id"]);
    let id = first["id"].as_str().unwrap();
    // The local user who made the call may not decide it.
    let own = leash(dir.path(), &["approve", id, "--json"]);
    assert_eq!(own.status.code(), Some(2), "{}", String::from_utf8_lossy(&own.stderr));
    assert_eq!(json(&own)["code"], "not_permitted");
    let own = leash(dir.path(), &["reject", id, "--note", "mine", "--by", "tester"]);
    assert_eq!(own.status.code(), Some(2), "{}", String::from_utf8_lossy(&own.stdout));
    assert!(String::from_utf8_lossy(&own.stderr).contains("may not reject"), "{own:?}");
    let approved = leash(dir.path(), &["approve", id, "--set", "amount=2", "--by", "lead", "--json"]);
    assert_eq!(approved.status.code(), Some(0), "{}", String::from_utf8_lossy(&approved.stderr));
    assert_eq!(json(&approved)["outcome"], "applied");

    for i in 1..=3 {
        let key = i.to_string();
        leash(dir.path(), &["call", "set_ticket_status", "--key", &key, "--set", "status=solved", "--run", "r1"]);
    }
    let log = json(&leash(dir.path(), &["log", "--json", "--run", "r1"]));
    let changes = log["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "ticket 3 is closed: {log}");
    for key in [
        "id",
        "at",
        "action",
        "record_key",
        "fields",
        "actor",
        "approver",
        "reason",
        "run_id",
        "reverts",
        "reverted_by",
    ] {
        assert!(changes[0].get(key).is_some(), "log row lacks {key}");
    }
    assert!(changes[0]["at"].as_str() < changes[1]["at"].as_str(), "--json is oldest first");

    let dry = json(&leash(dir.path(), &["revert", "--run", "r1", "--dry-run", "--json"]));
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["reverted"].as_array().unwrap().len(), 2);
    for key in ["dry_run", "reverted", "conflicts", "skipped"] {
        assert!(dry.get(key).is_some());
    }
    let done = json(&leash(dir.path(), &["revert", "--run", "r1", "--json"]));
    assert_eq!(done["reverted"].as_array().unwrap().len(), 2);
    let v = leash(dir.path(), &["verify", "--json"]);
    assert_eq!(v.status.code(), Some(0));
    let v = json(&v);
    assert_eq!(v["ok"], true);
    for key in ["ok", "checked", "chain_breaks", "drift"] {
        assert!(v.get(key).is_some());
    }
}

#[test]
fn pause_from_one_process_stops_the_next_call_of_another() {
    let dir = demo_dir();
    let out = leash(dir.path(), &["pause", "set_ticket_status", "--reason", "checking a bad batch"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = leash(dir.path(), &["call", "set_ticket_status", "--key", "1", "--set", "status=solved", "--json"]);
    assert_eq!(r.status.code(), Some(2));
    assert_eq!(json(&r)["code"], "paused");
    leash(dir.path(), &["resume", "set_ticket_status"]);
    let r = leash(dir.path(), &["call", "set_ticket_status", "--key", "1", "--set", "status=solved", "--json"]);
    assert_eq!(json(&r)["outcome"], "applied");
}

#[test]
fn demo_runs_end_to_end_and_reverts_the_bad_batch() {
    let dir = tempfile::tempdir().unwrap();
    let out = leash(dir.path(), &["demo", "--dir", "d", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json(&out);
    assert_eq!(r["batch"], 20, "the breaker stops the batch at its 20th identical shift");
    assert_eq!(r["breaker_tripped"], true);
    assert_eq!(r["reverted"], 20);
    assert_eq!(r["verify_ok"], true);
    assert!(r["applied"].as_u64().unwrap() > 20);
    assert!(r["rejected"].as_u64().unwrap() >= 5);
    assert!(r["pending_review"].as_u64().unwrap() >= 3);
    let v = leash(&dir.path().join("d"), &["verify"]);
    assert!(v.status.success());
}

const ADDRESS_POLICY: &str = r#"
[database]
url = "sqlite://people.db"

[[actions]]
name = "fix_address"
summary = "Rewrite a customer's address in standard form."
table = "people"
key = "id"
mode = "direct"
  [actions.fields.address]
  change = "mechanical"
  format = "us_address"
"#;

#[test]
fn address_seed_cases_through_a_real_call() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("leash.toml"), ADDRESS_POLICY).unwrap();
    let approve = |dir: &Path| assert!(leash(dir, &["approve-policy", "--by", "lead"]).status.success());
    let url = format!("sqlite://{}", dir.path().join("people.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = leash_store::open(&url).await.unwrap();
        store
            .execute_script(&[
                "CREATE TABLE people (id INTEGER PRIMARY KEY, address TEXT)",
                "INSERT INTO people VALUES (1, '125 main st apt#4b, brookln ny 11211'), (2, '18 Market Street, Portland, ME 97201'),
                    (3, '9 Elm St Unit 12B, Austin, TX 78701'), (4, '77 Sunset Blvd Apt 3, Los Angeles, CA 90028')",
            ])
            .await
            .unwrap();
    });
    approve(dir.path());
    let cases = [
        ("1", "125 Main St, Apt 4B, Brooklyn, NY 11211", "applied", None),
        ("2", "18 Market St, Portland, ME 97201", "pending_review", Some("zip_state_mismatch")),
        ("3", "9 Elm St, Unit 12D, Austin, TX 78701", "pending_review", Some("unit_changed")),
        ("4", "77 Sunset Blvd, Los Angeles, CA 90028", "pending_review", Some("unit_dropped")),
    ];
    for (key, new, outcome, reason) in cases {
        let set = format!("address={new}");
        let r = json(&leash(dir.path(), &["call", "fix_address", "--key", key, "--set", &set, "--json"]));
        assert_eq!(r["outcome"], outcome, "{r}");
        if let Some(reason) = reason {
            assert!(r["reasons"].as_array().unwrap().iter().any(|x| x == reason), "{r}");
            assert!(!r["notes"].as_array().unwrap().is_empty());
        }
    }
}

#[test]
fn normalize_prints_the_canonical_form_and_a_decision() {
    let dir = tempfile::tempdir().unwrap();
    let out = leash(dir.path(), &["normalize", "--format", "us_address", "125 main st apt#4b, brookln ny 11211"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("125 Main St, Apt 4B, Brookln, NY 11211"), "{text}");
    assert!(text.contains("unit      Apt 4B"), "{text}");
    let out = leash(
        dir.path(),
        &[
            "normalize",
            "--format",
            "us_address",
            "--old",
            "9 Elm St Unit 12B, Austin TX 78701",
            "--new",
            "9 Elm St Unit 12D, Austin TX 78701",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let r = json(&out);
    assert_eq!(r["mechanical"], false);
    assert_eq!(r["reasons"][0], "unit_changed");
    let out = leash(dir.path(), &["normalize", "--format", "phone", "(415) 555-0134"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "+14155550134");
    // A number without its country code belongs to --region (default US).
    let out = leash(dir.path(), &["normalize", "--format", "phone", "--region", "de", "0711 2842222"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "+497112842222");
    let out = leash(dir.path(), &["normalize", "--format", "phone", "0711 2842222"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("read as a number of US"), "{out:?}");
    let out = leash(dir.path(), &["normalize", "--format", "phone", "--region", "UK", "020 7976 5722"]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("GB (the United Kingdom)"),
        "{out:?}"
    );
}

#[test]
fn init_writes_a_starter_policy_whose_tests_pass() {
    let dir = tempfile::tempdir().unwrap();
    assert!(leash(dir.path(), &["init"]).status.success());
    let out = leash(dir.path(), &["test"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.trim_end().ends_with("7 passed, 0 failed"), "{text}");
    assert!(!dir.path().join("shop.db").exists(), "leash test does not create the policy's database");
    // A failing expectation is reported with its line and the summary counts it.
    let tests = std::fs::read_to_string(dir.path().join("leash.test.toml")).unwrap();
    std::fs::write(
        dir.path().join("leash.test.toml"),
        tests.replacen("code = \"not_empty\"", "code = \"too_long\"", 1),
    )
    .unwrap();
    let out = leash(dir.path(), &["test"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text.contains("FAIL  a priority a person set is never overwritten (")
            && text.contains("expected code too_long, got not_empty"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("6 passed, 1 failed"), "{text}");
}

#[test]
fn unapproved_policy_is_refused_until_an_admin_approves_it() {
    let dir = tempfile::tempdir().unwrap();
    assert!(leash(dir.path(), &["init", "--demo"]).status.success());
    let r = leash(dir.path(), &["call", "set_ticket_status", "--key", "1", "--set", "status=pending", "--json"]);
    assert_eq!(r.status.code(), Some(2));
    assert_eq!(json(&r)["code"], "policy_unapproved");
    let r = leash(
        dir.path(),
        &["call", "set_ticket_status", "--key", "1", "--set", "status=pending", "--allow-unapproved", "--json"],
    );
    assert_eq!(json(&r)["outcome"], "applied");
    let sheet = json(&leash(dir.path(), &["actions", "--json"]));
    assert_eq!(sheet["actions"][0]["approved"], false);
    assert!(leash(dir.path(), &["approve-policy", "--by", "ops-lead", "--note", "reviewed"]).status.success());
    let sheet = json(&leash(dir.path(), &["actions", "--json"]));
    assert_eq!(sheet["actions"][0]["approved_by"], "ops-lead");
    for key in
        ["name", "summary", "fields", "risk", "rollback_minutes", "owner", "exception_approver", "mode", "approved_at"]
    {
        assert!(sheet["actions"][0].get(key).is_some(), "planning sheet lacks {key}");
    }
    let report = json(&leash(dir.path(), &["report", "--json"]));
    let row = report["actions"].as_array().unwrap().iter().find(|a| a["name"] == "set_ticket_status").unwrap().clone();
    for key in [
        "name",
        "mode",
        "proposed",
        "applied",
        "pending",
        "accepted",
        "edited",
        "rejected",
        "reverted",
        "reversal_rate",
        "minutes_saved",
        "earned_next_stage",
        "why",
    ] {
        assert!(row.get(key).is_some(), "report lacks {key}");
    }
    assert_eq!(row["applied"], 1);
}

#[test]
fn bench_prints_every_figure_as_one_json_document() {
    // A small run: this checks the figures are produced, not how fast they are.
    let dir = tempfile::tempdir().unwrap();
    let out = leash(dir.path(), &["bench", "--records", "200", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let f = json(&out);
    for key in [
        "guarded_writes_per_s",
        "baseline_writes_per_s",
        "overhead_ratio",
        "baseline_indexed_writes_per_s",
        "overhead_vs_indexed_ratio",
        "concurrent_guarded_writes_per_s",
        "revert_10k_ms",
        "baseline_restore_10k_ms",
        "policy_eval_ns",
        "http_call_p50_ms",
        "http_call_p99_ms",
        "http_call_p50_1client_ms",
        "http_call_p99_1client_ms",
    ] {
        assert!(f[key].as_f64().is_some_and(|v| v > 0.0), "{key} missing or zero in {f}");
    }
    assert_eq!(f["revert_changes"], 200);
    assert!(f.get("journal").is_none(), "the journal curve only when asked");
}

#[test]
fn bench_journal_sizes_measure_each_size_and_draw_the_curve() {
    // A small smoke run: the full curve (to 1,000,000 rows) stays out of the tests.
    let dir = tempfile::tempdir().unwrap();
    let bad = leash(dir.path(), &["bench", "--journal-sizes", "5000,1000", "--json"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ascending"), "{bad:?}");
    let args = ["bench", "--records", "100", "--journal-sizes", "1000,5000", "--chart", "curve.svg", "--json"];
    let out = leash(dir.path(), &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let f = json(&out);
    let curve = f["journal"].as_array().unwrap();
    let rows: Vec<u64> = curve.iter().map(|j| j["rows"].as_u64().unwrap()).collect();
    assert_eq!(rows, [1000, 5000], "each size is measured at its size");
    for j in curve {
        for key in
            ["call_p50_ms", "call_p99_ms", "log_page_ms", "revert_run_1000_ms", "verify_s", "report_ms", "rss_mb"]
        {
            assert!(j[key].as_f64().is_some_and(|v| v > 0.0), "{key} missing or zero in {j}");
        }
    }
    assert!(f["targets"].as_object().unwrap().keys().any(|k| k.starts_with("journal:")));
    let svg = std::fs::read_to_string(dir.path().join("curve.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("verify (s)") && svg.matches("<polyline").count() == 7);
}

#[test]
fn explain_prints_one_page_per_action_and_json_in_the_documented_shape() {
    let dir = demo_dir();
    let text = leash(dir.path(), &["explain", "set_ticket_status"]);
    assert_eq!(text.status.code(), Some(0), "{}", String::from_utf8_lossy(&text.stderr));
    let page = String::from_utf8_lossy(&text.stdout);
    assert!(page.lines().count() <= 60, "{page}");
    assert!(page.contains("set_ticket_status") && page.contains("needs_reply"), "{page}");
    assert!(page.contains("lead"), "who approved it: {page}");

    let all = json(&leash(dir.path(), &["explain", "--json"]));
    let actions = all["actions"].as_array().unwrap();
    assert!(actions.len() > 1);
    for key in [
        "name",
        "summary",
        "table",
        "fields",
        "conditions",
        "limits",
        "to_a_person",
        "never",
        "owner",
        "exception_approver",
        "risk",
        "rollback_minutes",
        "approved_by",
        "approved_at",
    ] {
        assert!(actions[0].get(key).is_some(), "page lacks {key}: {}", actions[0]);
    }
    let status = actions.iter().find(|a| a["name"] == "set_ticket_status").unwrap();
    assert_eq!(status["approved_by"], "lead");
    assert_eq!(status["fields"][0]["field"], "status");
    assert!(status["fields"][0]["rules"].as_array().is_some_and(|r| !r.is_empty()));

    let unknown = leash(dir.path(), &["explain", "no_such_action", "--json"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert_eq!(json(&unknown)["code"], "not_found");
}

#[test]
fn audit_lists_what_a_tightened_policy_refuses_and_reverts_it() {
    let dir = demo_dir();
    for (key, status) in [("1", "solved"), ("2", "needs_reply")] {
        let out = leash(dir.path(), &["call", "set_ticket_status", "--key", key, "--set", &format!("status={status}")]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    }
    let log = json(&leash(dir.path(), &["log", "--action", "set_ticket_status", "--json"]));
    let solved = log["changes"][0]["id"].as_str().unwrap().to_string();
    let policy = std::fs::read_to_string(dir.path().join("leash.toml")).unwrap();
    let tight = policy.replace(
        "one_of = [\"open\", \"needs_reply\", \"pending\", \"solved\"]",
        "one_of = [\"open\", \"needs_reply\", \"pending\"]",
    );
    assert_ne!(tight, policy);
    std::fs::write(dir.path().join("tight.toml"), tight).unwrap();

    let out = leash(dir.path(), &["audit", "--policy", "tight.toml", "--action", "set_ticket_status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json(&out);
    for key in ["policy_hash", "checked", "actions", "refused", "reviewed", "approximate"] {
        assert!(r.get(key).is_some(), "audit lacks {key}: {r}");
    }
    assert_eq!(r["checked"], 2);
    assert_eq!(r["refused"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["refused"][0]["change_id"], solved.as_str());
    assert_eq!(r["refused"][0]["code"], "value_not_allowed");
    assert_eq!(r["actions"][0]["would_refuse"], 1);

    let dry = json(&leash(dir.path(), &["audit", "--policy", "tight.toml", "--revert-refused", "--dry-run", "--json"]));
    assert_eq!(dry["revert"]["dry_run"], true);
    assert_eq!(dry["revert"]["reverted"][0], solved.as_str());
    let run = json(&leash(dir.path(), &["audit", "--policy", "tight.toml", "--revert-refused", "--json"]));
    assert_eq!(run["revert"]["reverted"][0], solved.as_str(), "{run}");
    let verify = leash(dir.path(), &["verify", "--json"]);
    assert_eq!(json(&verify)["ok"], true);

    std::fs::write(dir.path().join("broken.toml"), "[[actions]]\nname = 1\n").unwrap();
    let broken = leash(dir.path(), &["audit", "--policy", "broken.toml"]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&broken.stderr).contains("broken.toml"), "names the file");
}
