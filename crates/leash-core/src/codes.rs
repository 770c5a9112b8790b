//! The stable strings of docs/policy.md. Each is defined once, here; every other
//! crate prints them through `as_str` so that no code is ever typed twice.

use serde::{Deserialize, Serialize};

macro_rules! stable_codes {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stable_codes! {
    /// Why a call was refused.
    Code {
        UnknownAction => "unknown_action",
        NotPermitted => "not_permitted",
        InvalidInput => "invalid_input",
        FieldNotAllowed => "field_not_allowed",
        ValueNotAllowed => "value_not_allowed",
        OutOfRange => "out_of_range",
        PatternMismatch => "pattern_mismatch",
        TooLong => "too_long",
        NotEmpty => "not_empty",
        WouldBlank => "would_blank",
        MissingRequired => "missing_required",
        RecordNotFound => "record_not_found",
        RecordLocked => "record_locked",
        ConditionFalse => "condition_false",
        StaleRecord => "stale_record",
        LimitRun => "limit_run",
        LimitHour => "limit_hour",
        OutsideWindow => "outside_window",
        Paused => "paused",
        BreakerTripped => "breaker_tripped",
        PolicyUnapproved => "policy_unapproved",
        Conflict => "conflict",
        Expired => "expired",
        NotCanonical => "not_canonical",
    }
}

stable_codes! {
    /// Codes an interface answers with besides a call's: no valid token, no
    /// such thing, a failure that is leash's or the database's, and the
    /// HTTP guards (foreign host, wrong body type, too many requests).
    ErrorCode {
        Unauthenticated => "unauthenticated",
        NotFound => "not_found",
        Internal => "internal",
        ForbiddenHost => "forbidden_host",
        UnsupportedMediaType => "unsupported_media_type",
        TooManyRequests => "too_many_requests",
    }
}

stable_codes! {
    /// Why a call waits for a person.
    ReviewReason {
        ModeReview => "mode_review",
        LowConfidence => "low_confidence",
        NotMechanical => "not_mechanical",
        SensitiveField => "sensitive_field",
        DuplicateValue => "duplicate_value",
        MissingContext => "missing_context",
        ReviewIf => "review_if",
        WatchWindow => "watch_window",
        ZipStateMismatch => "zip_state_mismatch",
        UnitDropped => "unit_dropped",
        UnitChanged => "unit_changed",
        NumberChanged => "number_changed",
        CityChanged => "city_changed",
        StreetChanged => "street_changed",
        Unparseable => "unparseable",
        OverThreshold => "over_threshold",
    }
}

stable_codes! {
    /// The one outcome every call gets.
    Outcome {
        Applied => "applied",
        PendingReview => "pending_review",
        Suggested => "suggested",
        Rejected => "rejected",
        Unchanged => "unchanged",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_stable_string_and_serde() {
        for code in Code::ALL {
            assert_eq!(Code::parse(code.as_str()), Some(*code));
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
        for reason in ReviewReason::ALL {
            assert_eq!(ReviewReason::parse(reason.as_str()), Some(*reason));
        }
        assert_eq!(Code::ALL.len(), 24, "docs/policy.md lists 24 error codes");
    }
}
