//! Chat messages about proposals: Slack's Block Kit and Microsoft Teams'
//! Adaptive Cards, built from an event's data. Everything an agent wrote
//! (values, reasons, notes) is escaped and cut to the chat's limits, so a
//! hostile value cannot add a link, a mention or a button.

use serde_json::{json, Value};

use crate::policy::ChatKind;
use crate::value::display;

/// Slack's limits: header text, section text, a field's text, fields per section.
pub const SLACK_HEADER_CHARS_MAX: usize = 150;
pub const SLACK_TEXT_CHARS_MAX: usize = 3000;
pub const SLACK_FIELD_CHARS_MAX: usize = 2000;
pub const SLACK_FIELDS_MAX: usize = 10;
/// A value shown in a message: longer ones end in `…`.
pub const CHAT_VALUE_CHARS_MAX: usize = 200;

/// The message for `event` with `data` (the proposal, or the pause), for a
/// chat of `kind`; `ui_url` is where the web UI is, for the link.
pub fn message(kind: ChatKind, event: &str, data: &Value, ui_url: &str, approver: Option<&str>) -> Value {
    let m = Summary::of(event, data, ui_url, approver);
    match kind {
        ChatKind::Slack => slack(&m),
        ChatKind::Teams => teams(&m),
    }
}

/// What any chat shows, in plain text (escaped per chat when rendered).
struct Summary {
    title: String,
    lines: Vec<String>,
    changes: Vec<(String, String, String)>,
    notes: Vec<String>,
    proposal_id: Option<String>,
    link: Option<String>,
}

fn text(v: &Value) -> String {
    clip(&display(v), CHAT_VALUE_CHARS_MAX)
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

impl Summary {
    fn of(event: &str, data: &Value, ui_url: &str, approver: Option<&str>) -> Summary {
        let s = |k: &str| data.get(k).filter(|v| !v.is_null()).map(text);
        let action = s("action").unwrap_or_else(|| "?".into());
        let id = s("id");
        let who = approver.map(|a| format!(" — {a}")).unwrap_or_default();
        let title = match event {
            "proposal.created" => format!("{action} waits for a person{who}"),
            "proposal.escalated" => format!("Escalated: {action} waited too long{who}"),
            "action.paused" => format!("{} is paused", s("scope").unwrap_or(action)),
            other => format!("{other}: {action}"),
        };
        let mut lines = Vec::new();
        if let (Some(table), key) = (s("table_name"), s("record_key")) {
            lines.push(format!("{table} {}", key.unwrap_or_else(|| "(new row)".into())));
        }
        let labels: &[(&str, &str)] = if event == "action.paused" {
            &[("why", "reason"), ("by", "by")]
        } else {
            &[("by", "actor"), ("why", "reason"), ("evidence", "evidence")]
        };
        for (label, key) in labels {
            if let Some(v) = s(key) {
                lines.push(format!("{label}: {v}"));
            }
        }
        let changes = data
            .get("fields")
            .and_then(Value::as_array)
            .map(|fields| {
                fields
                    .iter()
                    .map(|f| (f.get("field").map(text).unwrap_or_default(), text(&f["old"]), text(&f["new"])))
                    .collect()
            })
            .unwrap_or_default();
        let notes =
            data.get("notes").and_then(Value::as_array).map(|n| n.iter().map(text).collect()).unwrap_or_default();
        let link = id.as_ref().map(|id| format!("{}/proposals/{id}", ui_url.trim_end_matches('/')));
        Summary { title, lines, changes, notes, proposal_id: id.filter(|_| event.starts_with("proposal.")), link }
    }
}

/// Slack's mrkdwn: `&`, `<` and `>` are the only characters that make links,
/// mentions and channel pings; escaped, text stays text.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn slack(m: &Summary) -> Value {
    let mut blocks =
        vec![json!({"type": "header", "text": {"type": "plain_text", "text": clip(&m.title, SLACK_HEADER_CHARS_MAX)}})];
    if !m.lines.is_empty() {
        let body: Vec<String> = m.lines.iter().map(|l| slack_escape(l)).collect();
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&body.join("\n"), SLACK_TEXT_CHARS_MAX)}}));
    }
    if !m.changes.is_empty() {
        let fields: Vec<Value> = m
            .changes
            .iter()
            .take(SLACK_FIELDS_MAX)
            .map(|(f, old, new)| {
                let t = format!("*{}*\n{} → {}", slack_escape(f), slack_escape(old), slack_escape(new));
                json!({"type": "mrkdwn", "text": clip(&t, SLACK_FIELD_CHARS_MAX)})
            })
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    if !m.notes.is_empty() {
        let notes: Vec<String> = m.notes.iter().map(|n| format!("• {}", slack_escape(n))).collect();
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(&notes.join("\n"), SLACK_TEXT_CHARS_MAX)}]}));
    }
    let mut buttons = Vec::new();
    if let Some(id) = &m.proposal_id {
        buttons.push(json!({"type": "button", "action_id": "leash_approve", "style": "primary", "value": id,
            "text": {"type": "plain_text", "text": "Approve"}}));
        buttons.push(json!({"type": "button", "action_id": "leash_reject", "style": "danger", "value": id,
            "text": {"type": "plain_text", "text": "Reject"}}));
    }
    if let Some(link) = &m.link {
        buttons.push(json!({"type": "button", "action_id": "leash_open", "url": link,
            "text": {"type": "plain_text", "text": "Open in leash"}}));
    }
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    json!({"text": clip(&m.title, SLACK_HEADER_CHARS_MAX), "blocks": blocks})
}

fn teams(m: &Summary) -> Value {
    let mut body =
        vec![json!({"type": "TextBlock", "text": m.title, "weight": "Bolder", "size": "Medium", "wrap": true})];
    for line in &m.lines {
        body.push(json!({"type": "TextBlock", "text": line, "wrap": true, "spacing": "Small"}));
    }
    if !m.changes.is_empty() {
        let facts: Vec<Value> =
            m.changes.iter().map(|(f, old, new)| json!({"title": f, "value": format!("{old} → {new}")})).collect();
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    for note in &m.notes {
        body.push(json!({"type": "TextBlock", "text": format!("• {note}"), "wrap": true, "isSubtle": true}));
    }
    let actions: Vec<Value> =
        m.link.iter().map(|url| json!({"type": "Action.OpenUrl", "title": "Review in leash", "url": url})).collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": actions,
            }
        }]
    })
}

/// What replaces a Slack message once a person decided from its buttons.
pub fn slack_outcome(text: &str) -> Value {
    let t = slack_escape(&clip(text, SLACK_TEXT_CHARS_MAX));
    json!({"replace_original": true, "text": t, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": t}}]})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal() -> Value {
        json!({"id": "01PROP", "action": "adjust_invoice", "table_name": "invoices", "record_key": "3",
               "actor": "assistant", "reason": "customer <@U123> said <https://evil.test|so>",
               "fields": [{"field": "amount", "old": "100.00", "new": "95.00"}],
               "notes": ["amount is a money field: a person approves every change"]})
    }

    #[test]
    fn slack_messages_keep_agent_text_as_text_and_carry_the_buttons() {
        let m = message(ChatKind::Slack, "proposal.created", &proposal(), "https://leash.test/", Some("finance-lead"));
        let text = m.to_string();
        assert!(!text.contains("<@U123>") && !text.contains("<https://evil.test"), "{text}");
        assert!(text.contains("&lt;@U123&gt;"), "{text}");
        let actions = m["blocks"].as_array().unwrap().iter().find(|b| b["type"] == "actions").unwrap();
        let ids: Vec<&str> =
            actions["elements"].as_array().unwrap().iter().map(|e| e["action_id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["leash_approve", "leash_reject", "leash_open"]);
        assert_eq!(actions["elements"][0]["value"], "01PROP");
        assert_eq!(actions["elements"][2]["url"], "https://leash.test/proposals/01PROP");
    }

    #[test]
    fn long_values_are_cut_to_the_chats_limits() {
        let mut p = proposal();
        p["fields"][0]["new"] = json!("x".repeat(10_000));
        let m = message(ChatKind::Slack, "proposal.created", &p, "https://leash.test", None);
        for block in m["blocks"].as_array().unwrap() {
            for f in block["fields"].as_array().into_iter().flatten() {
                assert!(f["text"].as_str().unwrap().chars().count() <= SLACK_FIELD_CHARS_MAX);
            }
        }
        let teams = message(ChatKind::Teams, "proposal.created", &p, "https://leash.test", None);
        assert_eq!(teams["attachments"][0]["content"]["type"], "AdaptiveCard");
        assert!(teams.to_string().len() < 2_000, "values are cut in Teams too");
    }
}
