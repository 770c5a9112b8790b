//! The pure core of leash: the policy language, field rules, formats and the
//! decision for one call. No I/O and no async: everything here can be tested,
//! fuzzed and benchmarked alone.

pub mod breaker;
pub mod call;
pub mod chat;
pub mod codes;
pub mod condition;
pub mod decide;
pub mod explain;
pub mod format;
pub mod journal;
pub mod policy;
pub mod report;
pub mod rules;
pub mod schema;
pub mod sight;
pub mod url;
pub mod value;

pub use codes::{Code, Outcome, ReviewReason};
