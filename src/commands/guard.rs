//! `git okstra hook agent-guard` (the entry point agent hosts call before each shell command)
//! and the `--agent` part of `git okstra hooks install|uninstall|status`.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use crate::error::{Error, Result};
use crate::guard::agents::{self, Agent, Change};
use crate::guard::{self, Host, Request};
use crate::output;
use crate::policy::{self, AuditRecord, Decision, Rule, Violation};

/// JSON shape version of `hooks … --agent` outputs.
pub const SCHEMA: u32 = 1;
/// Exit code that every host reads as "blocked; tell the model why".
pub const EXIT_BLOCKED: i32 = 2;
/// Refuse hook input larger than this (a shell command is never this long).
const MAX_INPUT: u64 = 4 * 1024 * 1024;

#[derive(Debug, Args)]
pub struct AgentGuardArgs {
    /// The command to check: one argument is shell text, several are its words. Without it,
    /// stdin holds the host's hook JSON (Claude Code, Gemini CLI, Cursor) or the command text.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    pub command: Vec<String>,
    /// The agent name for the audit log [default: detected from the hook JSON].
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
}

/// `--agent` for `hooks install|uninstall|status`.
#[derive(Debug, Args, Default)]
pub struct AgentHooksArgs {
    /// Agent hosts whose settings get the agent guard: claude, gemini, cursor (repeat the flag or
    /// separate with commas).
    #[arg(long, value_delimiter = ',', value_name = "AGENT")]
    pub agent: Vec<String>,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Exit 0 with no output when allowed; exit 2 with one sentence on stderr when blocked.
/// Anything that goes wrong blocks too: the guard never lets a command through by accident.
pub fn agent_guard(a: AgentGuardArgs) -> Result<i32> {
    let (text, request) = match a.command.as_slice() {
        [] => {
            let text = read_stdin().map_err(|e| e.with_code(EXIT_BLOCKED))?;
            let request = guard::read_request(&text);
            (text, request)
        }
        [one] => (one.clone(), Ok(guard::plain(one))),
        words => {
            let text = crate::guard::shell::join(words);
            let request = Ok(guard::plain(&text));
            (text, request)
        }
    };
    let here = super::cwd()?;
    let (host, command, cwd) = match request {
        Ok(Request::Shell { host, command, cwd }) => (host, command, cwd),
        Ok(Request::NotShell { .. }) => return Ok(0),
        Err(why) => {
            let v = Violation::new(Rule::Malformed, "hook input", why, policy::command_fix(Rule::Malformed));
            return Ok(block(&v, Host::Plain, a.agent.as_deref(), &text, &here));
        }
    };
    let cwd = cwd.filter(|c| c.is_dir()).unwrap_or(here);
    let mut ctx = guard::Context::new(cwd.clone());
    match guard::check(&command, &mut ctx) {
        None => Ok(0),
        Some(v) => Ok(block(&v, host, a.agent.as_deref(), &command, &cwd)),
    }
}

fn read_stdin() -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::usage("no command to check")
            .hint("pass the command as an argument, or the host's hook JSON on stdin"));
    }
    let mut text = String::new();
    stdin
        .lock()
        .take(MAX_INPUT)
        .read_to_string(&mut text)
        .map_err(|e| Error::failed(format!("cannot read stdin: {e}")))?;
    if text.trim().is_empty() {
        return Err(Error::usage("no command to check: stdin is empty")
            .hint("pass the command as an argument, or the host's hook JSON on stdin"));
    }
    Ok(text)
}

/// Tell the agent, log it, and return the blocking exit code.
fn block(v: &Violation, host: Host, agent: Option<&str>, command: &str, cwd: &Path) -> i32 {
    let sentence = v.sentence();
    eprintln!("{sentence}");
    if host == Host::Cursor {
        // Cursor reads its decision from stdout JSON as well as from the exit code.
        let answer = json!({
            "permission": "deny",
            "user_message": sentence,
            "agent_message": sentence,
            "userMessage": sentence,
            "agentMessage": sentence,
        });
        println!("{answer}");
    }
    let agent = agent.unwrap_or(host.name());
    if let Ok(Some(repo)) = crate::git::Repo::discover(cwd) {
        let mut record = AuditRecord::new("agent-guard", Decision::Refused, v);
        record.agent = Some(agent);
        record.command = Some(command);
        if let Err(e) = policy::audit(&repo.common_dir, &record) {
            output::debug(format!("cannot append to the audit log: {e}"));
        }
    }
    EXIT_BLOCKED
}

/// The checkout whose agent settings we edit: the worktree the caller stands in, else the folder.
fn checkout_root() -> Result<PathBuf> {
    let cwd = super::cwd()?;
    Ok(match crate::git::Repo::discover(&cwd)? {
        Some(repo) => repo.current_worktree.clone().unwrap_or(cwd),
        None => cwd,
    })
}

fn selected(a: &AgentHooksArgs, default_all: bool) -> Result<Vec<Agent>> {
    let agents = agents::parse_list(&a.agent)?;
    if agents.is_empty() && !default_all {
        return Err(Error::usage("name the agent host with --agent claude|gemini|cursor"));
    }
    Ok(if agents.is_empty() { Agent::ALL.to_vec() } else { agents })
}

fn warn_if_not_on_path() {
    if which::which("git-okstra").is_err() {
        output::warn(
            "git-okstra is not on PATH: the agent host cannot start the guard and will let every command through",
        );
    }
}

/// `hooks install --agent …`
pub fn install(a: &AgentHooksArgs) -> Result<i32> {
    change(a, agents::install)
}

/// `hooks uninstall --agent …`
pub fn uninstall(a: &AgentHooksArgs) -> Result<i32> {
    change(a, agents::uninstall)
}

fn change(a: &AgentHooksArgs, op: fn(&Path, Agent) -> Result<Change, agents::AgentsError>) -> Result<i32> {
    let list = selected(a, false)?;
    let root = checkout_root()?;
    let mut rows = Vec::new();
    for agent in list {
        let path = agents::installed_in(&root, agent)?.unwrap_or_else(|| agents::settings_path(&root, agent));
        let done = op(&root, agent)?;
        output::info(format!("{agent}: agent guard {} ({})", done.name().replace('-', " "), path.display()));
        rows.push(json!({"agent": agent.name(), "file": path, "result": done.name()}));
        if !a.json {
            output::value(path.to_string_lossy());
        }
        if done == Change::Installed {
            warn_if_not_on_path();
        }
    }
    if a.json {
        output::json(&json!({"schema": SCHEMA, "agents": rows}));
    }
    Ok(0)
}

/// `hooks status [--agent …]`: every agent when none is named. Exit 1 if a file cannot be read.
pub fn status(a: &AgentHooksArgs) -> Result<i32> {
    let list = selected(a, true)?;
    let root = checkout_root()?;
    let mut rows = Vec::new();
    let mut code = 0;
    for agent in list {
        let mut path = agents::settings_path(&root, agent);
        let (state, detail) = match agents::installed_in(&root, agent) {
            Ok(Some(found)) => {
                path = found;
                ("installed", String::new())
            }
            Ok(None) => ("not-installed", String::new()),
            Err(e) => {
                code = 1;
                ("error", e.to_string())
            }
        };
        if !a.json {
            let extra = if detail.is_empty() { String::new() } else { format!("  {detail}") };
            output::value(format!("{:<7} {:<14} {}{extra}", agent.name(), state, path.display()));
        }
        rows.push(json!({"agent": agent.name(), "file": path, "state": state, "error": detail}));
    }
    if a.json {
        output::json(&json!({"schema": SCHEMA, "agents": rows}));
    }
    if rows.iter().any(|r| r["state"] == "installed") {
        warn_if_not_on_path();
    }
    Ok(code)
}
