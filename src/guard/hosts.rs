//! The host formats: what Claude Code, Gemini CLI and Cursor send the guard on stdin (their
//! hook JSON), read into one [`Request`]; text that is not JSON is the command itself.

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
    /// A tool call that runs no shell command (a host hook matched more than the shell tool).
    NotShell { host: Host, tool: String },
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
            _ => Host::Claude,
        };
        if !tool.is_empty() && !SHELL_TOOLS.contains(&tool) {
            return Ok(Request::NotShell { host, tool: tool.to_string() });
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
        assert!(matches!(r, Ok(Request::NotShell { .. })));
        assert!(read_request(r#"{"tool_name":"Bash","tool_input":{}}"#).is_err());
        assert!(read_request("{\"not json").is_err());
        assert!(read_request(r#"{"hello":1}"#).is_err());
        assert!(matches!(read_request("git status"), Ok(Request::Shell { host: Host::Plain, .. })));
        assert_eq!(read_request("{ git push -f; }"), Ok(plain("{ git push -f; }")));
        assert!(read_request("{\n  \"tool_input\": ").is_err());
    }
}
