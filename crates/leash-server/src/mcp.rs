//! The MCP server: one tool per action the token may use, plus `read_record`
//! and `proposal_status`. The caller is looked up again on every request, in
//! every process: over stdio (`leash mcp`) from the token (or name) given at
//! start, so a revocation ends a running session within the token cache time;
//! over streamable HTTP (`/mcp` on `leash serve`) from each request's bearer
//! token. Refusals are tool results with `isError: true` and the code, so the
//! model can correct itself; protocol errors are for protocol problems only.

use std::sync::Arc;

use leash_core::call::{Call, CallResult};
use leash_core::codes::Outcome;
use leash_core::policy::{Action, Kind};
use leash_core::schema::{describe, result_schema};
use leash_engine::{Caller, Engine};
#[allow(deprecated)]
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, JsonObject, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, SetLevelRequestParams, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{json, Value};

pub const READ_RECORD: &str = "read_record";
pub const PROPOSAL_STATUS: &str = "proposal_status";

/// Who a stdio session acts for: looked up again on every call.
#[derive(Clone)]
pub enum Identity {
    /// A bearer token (`--token`, `LEASH_TOKEN`).
    Token(String),
    /// `--as NAME`: the named, unrevoked token's rights.
    Named(String),
}

/// One MCP session's view of leash.
#[derive(Clone)]
pub struct LeashMcp {
    engine: Arc<Engine>,
    /// Set for stdio; `None` means: authenticate each HTTP request.
    identity: Option<Identity>,
}

const UNAUTHENTICATED: &str = leash_core::codes::ErrorCode::Unauthenticated.as_str();

/// The refusal for a missing, unknown or revoked token, with the stable code.
fn unauthenticated(message: &str) -> McpError {
    McpError::invalid_request(message.to_string(), Some(json!({"code": UNAUTHENTICATED})))
}

impl LeashMcp {
    pub fn stdio(engine: Arc<Engine>, identity: Identity) -> LeashMcp {
        LeashMcp { engine, identity: Some(identity) }
    }

    pub fn http(engine: Arc<Engine>) -> LeashMcp {
        LeashMcp { engine, identity: None }
    }

    async fn caller(&self, cx: &RequestContext<RoleServer>) -> Result<Caller, McpError> {
        let internal = |e: leash_engine::EngineError| {
            tracing::error!(error = %e, "mcp: the token could not be looked up");
            McpError::internal_error("leash could not check the token; the server log has the cause", None)
        };
        let token = match &self.identity {
            Some(Identity::Named(name)) => {
                return match self.engine.caller_named(name).await {
                    Ok(c) => Ok(c),
                    Err(e) if e.answer().failure == leash_engine::Failure::Forbidden => {
                        Err(unauthenticated(&format!("{}; ask an admin for a new token", e.answer().message)))
                    }
                    Err(e) => Err(internal(e)),
                };
            }
            Some(Identity::Token(t)) => Some(t.as_str()),
            None => cx
                .extensions
                .get::<axum::http::request::Parts>()
                .and_then(|p| p.headers.get(axum::http::header::AUTHORIZATION))
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim),
        };
        let caller = match token {
            Some(t) => self.engine.caller_for_token(t).await.map_err(internal)?,
            None => None,
        };
        caller.ok_or_else(|| {
            unauthenticated("the token is unknown or revoked; ask an admin for one (leash token create)")
        })
    }
}

fn object(v: Value) -> Arc<JsonObject> {
    Arc::new(v.as_object().cloned().unwrap_or_default())
}

fn action_tool(engine: &Engine, a: &Action) -> Tool {
    // Updates overwrite a value (reversible, but destructive in MCP's sense)
    // and are idempotent; appends add a row each time.
    let annotations = ToolAnnotations::with_title(a.summary.clone())
        .read_only(false)
        .destructive(a.kind == Kind::Update)
        .idempotent(a.kind == Kind::Update)
        .open_world(false);
    Tool::new(a.name.clone(), describe(a), object(engine.call_schema(a)))
        .with_raw_output_schema(object(result_schema()))
        .with_annotations(annotations)
}

fn helper_tools(actions: &[&Action]) -> Vec<Tool> {
    let readable: Vec<&str> = actions.iter().filter(|a| a.kind == Kind::Update).map(|a| a.name.as_str()).collect();
    let read = Tool::new(
        READ_RECORD,
        "Read one record as an action sees it: only the fields that action may read.",
        object(json!({
            "type": "object",
            "properties": {"action": {"type": "string", "enum": readable}, "key": {"type": ["string", "integer"]}},
            "required": ["action", "key"], "additionalProperties": false
        })),
    )
    .with_annotations(ToolAnnotations::with_title("Read a record").read_only(true).idempotent(true).open_world(false));
    let status = Tool::new(
        PROPOSAL_STATUS,
        "What became of a proposal you made: pending, accepted, rejected or stale, who decided, and the change it made.",
        object(json!({
            "type": "object", "properties": {"proposal_id": {"type": "string"}},
            "required": ["proposal_id"], "additionalProperties": false
        })),
    )
    .with_annotations(ToolAnnotations::with_title("Check a proposal").read_only(true).idempotent(true).open_world(false));
    vec![read, status]
}

/// A refusal the model can read and act on.
const INVALID: &str = leash_core::codes::Code::InvalidInput.as_str();

/// An engine error as a tool error, with the code every interface uses for it.
fn engine_error(e: &leash_engine::EngineError) -> CallToolResult {
    let answer = e.answer();
    tool_error(answer.code, &answer.message)
}

fn tool_error(code: &str, message: &str) -> CallToolResult {
    let body = json!({"outcome": "rejected", "code": code, "message": message});
    let mut r = CallToolResult::structured_error(body);
    r.content = vec![ContentBlock::text(format!("refused ({code}): {message}"))];
    r
}

fn call_result(result: &CallResult) -> CallToolResult {
    let value = serde_json::to_value(result).unwrap_or(Value::Null);
    let summary = match (result.outcome, result.code) {
        (Outcome::Rejected, Some(code)) => format!("refused ({code}): {}", result.message),
        (outcome, _) if result.message.starts_with(outcome.as_str()) => result.message.clone(),
        (outcome, _) => format!("{outcome}: {}", result.message),
    };
    let mut r = if result.outcome == Outcome::Rejected {
        CallToolResult::structured_error(value)
    } else {
        CallToolResult::structured(value)
    };
    r.content = vec![ContentBlock::text(summary)];
    r
}

impl ServerHandler for LeashMcp {
    // logging/setLevel is deprecated by a newer spec revision but still part of
    // the versions clients negotiate today; keep answering it.
    #[allow(deprecated)]
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_logging().build())
            .with_server_info(Implementation::new("leash", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Each tool is one narrow action on the team's database. A call lands, waits for a person \
                 (pending_review / suggested), or is refused with a code and a message saying what to do instead. \
                 Always give a reason; never guess values you do not know.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let caller = self.caller(&cx).await?;
        let actions = self.engine.actions_for(&caller);
        let mut tools: Vec<Tool> = actions.iter().map(|a| action_tool(&self.engine, a)).collect();
        tools.extend(helper_tools(&actions));
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let caller = match self.caller(&cx).await {
            Ok(c) => c,
            Err(e) if e.data.as_ref().is_some_and(|d| d["code"] == UNAUTHENTICATED) => {
                return Ok(tool_error(UNAUTHENTICATED, &e.message).into());
            }
            Err(e) => return Err(e),
        };
        let args = Value::Object(request.arguments.clone().unwrap_or_default());
        if let Some(why) = args.get(crate::mcp_input::REFUSED_KEY).and_then(Value::as_str) {
            return Ok(tool_error(INVALID, why).into());
        }
        let started = std::time::Instant::now();
        let result = match request.name.as_ref() {
            READ_RECORD => {
                let (Some(action), Some(key)) = (args["action"].as_str(), args.get("key").filter(|k| !k.is_null()))
                else {
                    return Ok(tool_error(INVALID, "read_record needs {\"action\", \"key\"}").into());
                };
                let key = leash_core::value::display(key);
                match self.engine.read_record(&caller, action, &key).await {
                    Ok(Ok(record)) => {
                        let value = json!({"action": action, "key": key, "record": record});
                        let mut r = CallToolResult::structured(value.clone());
                        r.content = vec![ContentBlock::text(value.to_string())];
                        r
                    }
                    Ok(Err(refusal)) => tool_error(refusal.code.as_str(), &refusal.message),
                    Err(e) => engine_error(&e),
                }
            }
            PROPOSAL_STATUS => {
                let Some(id) = args["proposal_id"].as_str() else {
                    return Ok(tool_error(INVALID, "proposal_status needs {\"proposal_id\"}").into());
                };
                match self.engine.proposal_status(&caller, id).await {
                    Ok(view) => {
                        let value = serde_json::to_value(&view).unwrap_or(Value::Null);
                        let mut r = CallToolResult::structured(value.clone());
                        r.content = vec![ContentBlock::text(value.to_string())];
                        r
                    }
                    Err(e) => engine_error(&e),
                }
            }
            name => match serde_json::from_value::<Call>(args) {
                Err(e) => tool_error(INVALID, &format!("the arguments do not fit the tool's schema: {e}")),
                Ok(call) => match self.engine.call(&caller, name, call).await {
                    Ok(result) => {
                        crate::metrics::record_call(&self.engine, name, &result, started.elapsed());
                        call_result(&result)
                    }
                    Err(e) => {
                        tracing::error!(error = %e, tool = name, "mcp call failed");
                        return Err(McpError::internal_error(
                            "leash could not complete the call; the server log has the cause",
                            None,
                        ));
                    }
                },
            },
        };
        Ok(result.into())
    }

    #[allow(deprecated)]
    async fn set_level(&self, request: SetLevelRequestParams, _cx: RequestContext<RoleServer>) -> Result<(), McpError> {
        tracing::info!(level = ?request.level, "mcp client set its log level");
        Ok(())
    }
}

/// The streamable HTTP service behind `/mcp`.
pub type HttpService = rmcp::transport::streamable_http_server::StreamableHttpService<
    LeashMcp,
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
>;

/// The streamable HTTP endpoint for `/mcp`: loopback hosts only, and a
/// browser `Origin` must be this server's own (DNS-rebinding defence).
/// Sessions idle for `idle` end; `mcp_sessions::guard` authenticates and
/// caps them before any reaches this service.
pub fn http_service(
    engine: Arc<Engine>,
    idle: std::time::Duration,
) -> (HttpService, Arc<rmcp::transport::streamable_http_server::session::local::LocalSessionManager>) {
    use rmcp::transport::streamable_http_server::{
        session::local::LocalSessionManager, StreamableHttpServerConfig, StreamableHttpService,
    };
    let config = StreamableHttpServerConfig::default()
        .with_allowed_origins(["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"])
        .enforce_origin_validation()
        .with_max_request_body_bytes(crate::BODY_BYTES_MAX);
    let mut manager = LocalSessionManager::default();
    manager.session_config.keep_alive = Some(idle);
    let manager = Arc::new(manager);
    let service = StreamableHttpService::new(move || Ok(LeashMcp::http(engine.clone())), manager.clone(), config);
    (service, manager)
}

/// `leash mcp`: serve one client over stdin/stdout until it disconnects.
pub async fn serve_stdio(
    engine: Arc<Engine>,
    identity: Identity,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use rmcp::ServiceExt;
    let transport = (crate::mcp_input::stdin(), tokio::io::stdout());
    let service = LeashMcp::stdio(engine, identity).serve(transport).await?;
    service.waiting().await?;
    Ok(())
}
