//! Chat: `[[notify]]` channels (Slack or Microsoft Teams incoming webhooks)
//! that hear about proposals, and `[slack]`, which lets reviewers decide from
//! Slack's buttons.

use std::collections::BTreeMap;

use serde::Serialize;

/// Which chat a `[[notify]]` posts to; the message is in its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    Slack,
    Teams,
}

impl ChatKind {
    pub const NAMES: &'static [&'static str] = &["slack", "teams"];

    pub fn parse(s: &str) -> Option<ChatKind> {
        match s {
            "slack" => Some(ChatKind::Slack),
            "teams" => Some(ChatKind::Teams),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChatKind::Slack => "slack",
            ChatKind::Teams => "teams",
        }
    }
}

/// The events a chat channel can hear about.
pub const NOTIFY_EVENTS: &[&str] = &["proposal.created", "proposal.escalated", "action.paused"];

/// One chat channel.
#[derive(Debug, Clone, Serialize)]
pub struct Notify {
    pub kind: ChatKind,
    /// The incoming-webhook URL; it is the credential, so it is never printed whole.
    #[serde(skip)]
    pub url: String,
    pub events: Vec<String>,
    /// Where the web UI is, for the link to each proposal.
    pub ui_url: String,
}

/// `[slack]`: Slack's request signing secret and who each Slack user is.
#[derive(Debug, Clone)]
pub struct SlackSettings {
    pub signing_secret: String,
    /// Slack user id → the name of a reviewer token.
    pub reviewers: BTreeMap<String, String>,
}
