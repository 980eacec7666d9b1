//! The host formats: what Claude Code, Gemini CLI, Cursor and Codex CLI send the guard on stdin
//! (their hook JSON), read into one [`Request`] — a shell command, or another tool call (MCP
//! tools, file edits, Codex's `apply_patch`) — and how such a tool call is judged; text that is
//! not JSON is the command.

use std::path::PathBuf;

use super::rules::{block, contract, self_protect};
use crate::policy::Violation;

/// The agent host whose hook called us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    Claude,
    Gemini,
    Cursor,
    /// Codex CLI: Claude Code's shape plus `turn_id`; file edits arrive as `apply_patch`.
    Codex,
    /// A command given as plain text (argument or stdin).
    Plain,
}

impl Host {
    pub fn name(self) -> &'static str {
        match self {
            Host::Claude => "claude",
            Host::Gemini => "gemini",
            Host::Cursor => "cursor",
            Host::Codex => "codex",
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
            _ if obj.contains_key("turn_id") || tool == APPLY_PATCH => Host::Codex,
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
        let command = match input.get("command") {
            Some(serde_json::Value::String(c)) => c.clone(),
            // Codex's older `shell` tool: the argv (`["bash", "-lc", "…"]`), read as its words.
            Some(serde_json::Value::Array(words)) if !words.is_empty() => {
                let words: Option<Vec<String>> = words.iter().map(|w| w.as_str().map(str::to_string)).collect();
                let words = words
                    .ok_or_else(|| format!("the {} hook input's tool_input.command holds a non-string", host.name()))?;
                super::shell::join(&words)
            }
            _ => return Err(format!("the {} hook input has no tool_input.command string", host.name())),
        };
        return Ok(Request::Shell { host, command, cwd });
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
/// Codex CLI's file edits: the patch text in `tool_input.command`.
pub const APPLY_PATCH: &str = "apply_patch";

/// Judge a tool call that is not a shell command: file tools and `apply_patch` by the files
/// they write (the guard's own files, the task contract, approval markers), MCP tools that
/// merge, push or write to a branch. Every other tool (reads, searches) is allowed.
pub fn check_tool(tool: &str, input: &serde_json::Value, ctx: &mut super::Context) -> Option<Violation> {
    let subject = format!("tool {tool}");
    if tool == APPLY_PATCH {
        let text = ["command", "patch", "input"].iter().find_map(|k| input.get(*k).and_then(|p| p.as_str()));
        return apply_patch(text.unwrap_or_default(), &subject, ctx);
    }
    if FILE_TOOLS.contains(&tool) {
        return file_tool(tool, input, &subject, ctx);
    }
    // MCP tools by their name (`mcp__github__merge_pull_request`; Cursor sends it bare).
    super::rules::publish::mcp(tool, input, &subject)
        .or_else(|| super::rules::push::mcp(tool, input, &subject, ctx))
        .or_else(|| contract::mcp(tool, &subject, ctx))
}

/// A file tool (Claude Code `Write`/`Edit`/`MultiEdit`/`NotebookEdit`, Gemini CLI
/// `write_file`/`replace`): the file it names, and the text the file would hold after it.
fn file_tool(tool: &str, input: &serde_json::Value, subject: &str, ctx: &mut super::Context) -> Option<Violation> {
    let Some(path) = ["file_path", "notebook_path", "absolute_path", "path"]
        .iter()
        .find_map(|k| input.get(*k).and_then(|p| p.as_str()).filter(|p| !p.is_empty()))
    else {
        return Some(block(
            "malformed:hook-input",
            subject,
            "the file tool's input names no file, so it cannot be checked",
        ));
    };
    if let Some(v) = self_protect::tool_file(path, subject, ctx) {
        return Some(v);
    }
    let Some(abs) = ctx.resolve(path) else {
        return Some(block(
            "malformed:hook-input",
            subject,
            "the file tool names a relative path and the host gave no folder",
        ));
    };
    let before = std::fs::read_to_string(&abs).unwrap_or_default();
    let after = edited(tool, input, &before);
    contract::edit(&abs, &before, after.as_deref(), subject, ctx)
}

/// What the file would hold after the tool ran (`None`: the tool would fail, or the guard
/// cannot tell; then only where it writes is judged).
fn edited(tool: &str, input: &serde_json::Value, before: &str) -> Option<String> {
    let text = |k: &str| input.get(k).and_then(|v| v.as_str());
    let replace = |text: &str, edit: &serde_json::Value| -> Option<String> {
        let old = edit.get("old_string")?.as_str()?;
        let new = edit.get("new_string")?.as_str()?;
        let all = edit.get("replace_all").and_then(|v| v.as_bool()).unwrap_or(false)
            || edit.get("expected_replacements").and_then(|v| v.as_u64()).is_some_and(|n| n > 1);
        if old.is_empty() {
            return Some(format!("{new}{text}"));
        }
        text.contains(old).then(|| if all { text.replace(old, new) } else { text.replacen(old, new, 1) })
    };
    match tool {
        "Write" | "write_file" => text("content").map(str::to_string),
        "Edit" | "replace" | "edit" => replace(before, input),
        "MultiEdit" => {
            let edits = input.get("edits")?.as_array()?;
            edits.iter().try_fold(before.to_string(), |acc, e| replace(&acc, e))
        }
        // A notebook cell's new source is judged as lines added to the file.
        "NotebookEdit" => text("new_source").map(|s| format!("{before}\n{s}")),
        _ => None,
    }
}

/// Codex `apply_patch`: each file its headers name, with the lines it adds.
pub fn apply_patch(text: &str, subject: &str, ctx: &mut super::Context) -> Option<Violation> {
    let Some(files) = super::files::codex_patch(text) else {
        return Some(block(
            "malformed:hook-input",
            subject,
            "the apply_patch input is not a patch whose files can be read",
        ));
    };
    files.iter().find_map(|f| {
        let arg = super::expand::Arg::lit(f.path.clone());
        self_protect::path(f.effect, &arg, subject, ctx).or_else(|| {
            let abs = ctx.resolve(&f.path)?;
            let added = (!f.added.is_empty()).then_some(f.added.as_str());
            contract::write(f.effect, &abs, added, subject, ctx)
        })
    })
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
