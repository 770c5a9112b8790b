//! `[environments.NAME]`: one policy, narrower authority where it matters;
//! an override that would widen an action does not load.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use leash_core::policy::{parse_policy, parse_policy_in, Mode};

const POLICY: &str = r#"
[database]
environment = "staging"

[[actions]]
name = "set_status"
summary = "Set a ticket's status."
table = "tickets"
key = "id"
mode = "direct"
  [actions.fields.status]
  one_of = ["open", "solved"]
  [actions.fields.priority]
  one_of = ["low", "high"]
  [actions.limits]
  per_run = 100

[environments.staging.actions.set_status]
mode = "direct"

[environments.production.actions.set_status]
mode = "review"
fields = ["status"]
review_if = "new.status == 'solved'"
limits = { per_run = 20, per_hour = 50 }
review = { below_confidence = 0.9 }
"#;

#[test]
fn the_environment_in_force_narrows_its_actions() {
    let staging = parse_policy("p.toml", POLICY).unwrap();
    assert_eq!(staging.environment.as_deref(), Some("staging"));
    let a = &staging.actions[0];
    assert_eq!((a.mode, a.fields.len(), a.limits.per_run_max), (Mode::Direct, 2, Some(100)));

    let production = parse_policy_in("p.toml", POLICY, Some("production")).unwrap();
    let p = &production.actions[0];
    assert_eq!(production.environment.as_deref(), Some("production"), "LEASH_ENV wins over the file");
    assert_eq!((p.mode, p.limits.per_run_max, p.limits.per_hour_max), (Mode::Review, Some(20), Some(50)));
    assert_eq!(p.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), vec!["status"]);
    assert_eq!(p.review.below_confidence, Some(0.9));
    assert!(p.review_if.as_ref().is_some_and(|c| c.uses_new()));
    assert_ne!(p.hash, a.hash, "approving staging's definition does not approve production's");
    let without = parse_policy("p.toml", &POLICY.replace("environment = \"staging\"", "")).unwrap();
    assert_eq!((without.environment.as_deref(), without.actions[0].mode), (None, Mode::Direct));
}

#[test]
fn an_override_that_widens_is_a_load_error() {
    for (widening, says) in [
        ("mode = \"direct\"\n  [actions.fields.status]", "mode = \"suggest\"\n  [actions.fields.status]"),
        ("limits = { per_run = 20, per_hour = 50 }", "limits = { per_run = 200 }"),
        ("fields = [\"status\"]", "fields = [\"status\", \"secret\"]"),
        ("review = { below_confidence = 0.9 }", "review = { below_confidence = 1.5 }"),
    ] {
        let text = POLICY.replace(widening, says);
        let errors = parse_policy_in("p.toml", &text, Some("production")).unwrap_err();
        assert!(errors.iter().any(|e| e.key.starts_with("environments.production")), "{says}: {errors:?}");
    }
    let errors = parse_policy_in("p.toml", POLICY, Some("prod")).unwrap_err();
    assert!(errors.iter().any(|e| e.message.contains("no [environments.prod] (staging, production)")), "{errors:?}");
    let errors = parse_policy(
        "p.toml",
        &POLICY.replace("[environments.staging.actions.set_status]", "[environments.staging.actions.nope]"),
    )
    .unwrap_err();
    assert!(errors.iter().any(|e| e.message.contains("no action `nope`")), "{errors:?}");
}
