//! The host formats: what Claude Code, Gemini CLI and Cursor send the guard on stdin (their
//! hook JSON), read into one [`Request`] — a shell command, or another tool call (MCP tools,
//! file edits) — and how such a tool call is judged; text that is not JSON is the command.

use std::path::PathBuf;

/// The agent host whose hook called us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    Claude,
    Gemini,
    Cursor,
    /// A command given as plain text (argument or stdin).
    Plain,
}

impl Host {
    pub fn name(self) -> &'static str {
        match self {
            Host::Claude => "claude",
            Host::Gemini => "gemini",
            Host::Cursor => "cursor",
            Host::Plain => "plain",
        }
    }
}

/// What the host asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A shell command to judge, the host, and the folder it runs in (if the host said).
    Shell { host: Host, command: String, cwd: Option<PathBuf> },
    /// A tool call that runs no shell command: an MCP tool, a file edit, a read.
    Tool { host: Host, tool: String, input: serde_json::Value, cwd: Option<PathBuf> },
}

/// Tool names that run a shell command.
const SHELL_TOOLS: &[&str] = &["Bash", "run_shell_command", "Shell", "shell", "bash"];

/// Read the hook input: one of the three host JSON shapes, else the text is the command.
/// Input that looks like JSON but cannot be read is an error (the caller blocks).
pub fn read_request(input: &str) -> Result<Request, String> {
    let trimmed = input.trim_start();
    // A JSON object starts `{"` or `{}`; a shell group `{ cmd; }` does not.
    let json =
        trimmed.strip_prefix('{').is_some_and(|r| matches!(r.trim_start().chars().next(), Some('"' | '}') | None));
    if !json {
        return Ok(plain(input));
    }
    let v: serde_json::Value =
        serde_json::from_str(trimmed).map_err(|e| format!("the hook input is not valid JSON ({e})"))?;
    let obj = v.as_object().ok_or("the hook input is not a JSON object")?;
    let event = obj.get("hook_event_name").and_then(|e| e.as_str()).unwrap_or("");
    let cwd = obj.get("cwd").and_then(|c| c.as_str()).filter(|c| !c.is_empty()).map(PathBuf::from);
    if let Some(input) = obj.get("tool_input") {
        let tool = obj.get("tool_name").and_then(|t| t.as_str()).unwrap_or("");
        let host = match (event, tool) {
            ("BeforeTool", _) | (_, "run_shell_command") => Host::Gemini,
            ("beforeMCPExecution", _) => Host::Cursor,
            _ => Host::Claude,
        };
        if !tool.is_empty() && !SHELL_TOOLS.contains(&tool) {
            // Cursor sends an MCP call's input as a JSON string.
            let input = match input.as_str().map(serde_json::from_str::<serde_json::Value>) {
                Some(Ok(v)) => v,
                Some(Err(e)) => {
                    return Err(format!("the {} hook input's tool_input is not valid JSON ({e})", host.name()))
                }
                None => input.clone(),
            };
            return Ok(Request::Tool { host, tool: tool.to_string(), input, cwd });
        }
        let command = input
            .get("command")
            .and_then(|c| c.as_str())
            .ok_or_else(|| format!("the {} hook input has no tool_input.command string", host.name()))?;
        return Ok(Request::Shell { host, command: command.to_string(), cwd });
    }
    if let Some(command) = obj.get("command").and_then(|c| c.as_str()) {
        return Ok(Request::Shell { host: Host::Cursor, command: command.to_string(), cwd });
    }
    Err(format!(
        "the hook input has neither tool_input.command (Claude Code, Gemini CLI) nor command (Cursor){}",
        if event.is_empty() { String::new() } else { format!("; event {event:?}") }
    ))
}

/// The file tools whose target path is judged (Claude Code, Gemini CLI).
const FILE_TOOLS: &[&str] = &["Write", "Edit", "MultiEdit", "NotebookEdit", "write_file", "replace", "edit"];

/// Judge a tool call that is not a shell command: MCP tools that merge or write to a branch,
/// file tools writing the guard's own files. Every other tool is allowed.
pub fn check_tool(tool: &str, input: &serde_json::Value, ctx: &mut super::Context) -> Option<crate::policy::Violation> {
    let subject = format!("tool {tool}");
    if FILE_TOOLS.contains(&tool) {
        let path = ["file_path", "notebook_path", "absolute_path", "path"]
            .iter()
            .find_map(|k| input.get(*k).and_then(|p| p.as_str()))?;
        return super::rules::self_protect::tool_file(path, &subject, ctx);
    }
    // MCP tools by their name (`mcp__github__merge_pull_request`; Cursor sends it bare).
    super::rules::publish::mcp(tool, input, &subject).or_else(|| super::rules::push::mcp(tool, input, &subject, ctx))
}

/// A command given as text (an argument, or stdin that is not JSON).
pub fn plain(command: &str) -> Request {
    Request::Shell { host: Host::Plain, command: command.to_string(), cwd: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_shapes() {
        let r = read_request(
            r#"{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"},"cwd":"/x"}"#,
        );
        assert_eq!(r, Ok(Request::Shell { host: Host::Claude, command: "ls".into(), cwd: Some("/x".into()) }));
        let r = read_request(
            r#"{"hook_event_name":"BeforeTool","tool_name":"run_shell_command","tool_input":{"command":"ls"}}"#,
        );
        assert!(matches!(r, Ok(Request::Shell { host: Host::Gemini, .. })));
        let r = read_request(r#"{"hook_event_name":"beforeShellExecution","command":"ls","cwd":""}"#);
        assert_eq!(r, Ok(Request::Shell { host: Host::Cursor, command: "ls".into(), cwd: None }));
        let r = read_request(r#"{"tool_name":"Read","tool_input":{"file_path":"x"}}"#);
        assert!(matches!(r, Ok(Request::Tool { .. })));
        let r = read_request(
            r#"{"hook_event_name":"beforeMCPExecution","tool_name":"merge_pull_request","tool_input":"{\"pull_number\":1}"}"#,
        );
        assert!(
            matches!(r, Ok(Request::Tool { host: Host::Cursor, ref input, .. }) if input["pull_number"] == 1),
            "{r:?}"
        );
        assert!(read_request(r#"{"tool_name":"Bash","tool_input":{}}"#).is_err());
        assert!(read_request("{\"not json").is_err());
        assert!(read_request(r#"{"hello":1}"#).is_err());
        assert!(matches!(read_request("git status"), Ok(Request::Shell { host: Host::Plain, .. })));
        assert_eq!(read_request("{ git push -f; }"), Ok(plain("{ git push -f; }")));
        assert!(read_request("{\n  \"tool_input\": ").is_err());
    }
}
