//! `git okstra hook agent-guard` (the entry point agent hosts call before each shell command)
//! and the `--agent` part of `git okstra hooks install|uninstall|status`.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use crate::error::{Error, Result};
use crate::guard::agents::{self, Agent, Change};
use crate::guard::rules;
use crate::guard::{self, Host, Request};
use crate::output;
use crate::policy::{self, AuditRecord, Decision, Violation};

/// JSON shape version of `hooks … --agent` outputs.
pub const SCHEMA: u32 = 1;
/// Exit code that every host reads as "blocked; tell the model why".
pub const EXIT_BLOCKED: i32 = 2;
/// Hook input larger than this is refused (a shell command is never this long).
const MAX_INPUT: u64 = 4 * 1024 * 1024;

#[derive(Debug, Args)]
pub struct AgentGuardArgs {
    /// The command to check: one argument is shell text, several are its words. Without it,
    /// stdin holds the host's hook JSON (Claude Code, Gemini CLI, Cursor, Codex CLI) or the command text.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    pub command: Vec<String>,
    /// The agent name for the audit log [default: detected from the hook JSON].
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// Print how the command was read (the commands after unwrapping, each git invocation's
    /// subcommand and options, the refs a push would update) and the rule that decided; no
    /// audit line is written. Exit 0 allowed, 2 blocked.
    #[arg(long)]
    pub explain: bool,
    /// With --explain: one JSON document on stdout.
    #[arg(long, requires = "explain")]
    pub json: bool,
}

/// `--agent` for `hooks install|uninstall|status`.
#[derive(Debug, Args, Default)]
pub struct AgentHooksArgs {
    /// Agent hosts whose settings get the agent guard: claude, gemini, cursor, codex (repeat the
    /// flag or separate with commas; codex: the user's $CODEX_HOME/hooks.json).
    #[arg(long, value_delimiter = ',', value_name = "AGENT")]
    pub agent: Vec<String>,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Exit 0 with no output when allowed; exit 2 with one sentence on stderr when blocked.
/// Anything that goes wrong blocks too: the guard never lets a command through by accident.
pub fn agent_guard(a: AgentGuardArgs) -> Result<i32> {
    let here = super::cwd()?;
    let (text, from_stdin) = match a.command.as_slice() {
        [] => (read_stdin().map_err(|e| e.with_code(EXIT_BLOCKED))?, true),
        [one] => (one.clone(), false),
        words => (crate::guard::shell::join(words), false),
    };
    let mut ctx = guard::Context::new(here.clone());
    if a.explain {
        ctx.trace = Some(Default::default());
    }
    let (host, verdict, judged) = match judge_input(&text, from_stdin, &mut ctx) {
        Input::Judged { host, verdict, judged } => (host, verdict, judged),
        Input::Refused(v) => (Host::Plain, Some(v), clip_input(&text)),
    };
    if a.explain {
        return Ok(explain(&ctx, &judged, verdict.as_ref(), a.json));
    }
    match verdict {
        None => Ok(0),
        Some(v) => {
            Ok(block(&v, host, a.agent.as_deref(), &judged, ctx.cwd.as_deref().filter(|c| c.is_dir()).unwrap_or(&here)))
        }
    }
}

enum Input {
    Judged { host: Host, verdict: Option<Violation>, judged: String },
    Refused(Violation),
}

/// Read the input (hook JSON or command text) and judge it in the host's folder.
fn judge_input(text: &str, from_stdin: bool, ctx: &mut guard::Context) -> Input {
    if text.len() as u64 > MAX_INPUT {
        let why = format!("the input is longer than {} MiB, so only part of it could be judged", MAX_INPUT >> 20);
        return Input::Refused(rules::block("malformed:too-long", "hook input", why));
    }
    let request = if from_stdin { guard::read_request(text) } else { Ok(guard::plain(text)) };
    let request = match request {
        Ok(r) => r,
        Err(why) => return Input::Refused(rules::block("malformed:hook-input", "hook input", why)),
    };
    let (host, cwd) = match &request {
        Request::Shell { host, cwd, .. } | Request::Tool { host, cwd, .. } => (*host, cwd.clone()),
    };
    if let Some(c) = cwd.filter(|c| c.is_dir()) {
        let trace = ctx.trace.take();
        *ctx = guard::Context::new(c);
        ctx.trace = trace;
    }
    match request {
        Request::Shell { command, .. } if command.trim().is_empty() => {
            Input::Refused(rules::block("malformed:empty", "hook input", "no command to check: the command is empty"))
        }
        Request::Shell { command, .. } => Input::Judged { host, verdict: guard::check(&command, ctx), judged: command },
        Request::Tool { tool, input, .. } => {
            let verdict = guard::hosts::check_tool(&tool, &input, ctx);
            Input::Judged { host, verdict, judged: format!("{tool} {input}") }
        }
    }
}

fn clip_input(text: &str) -> String {
    text.chars().take(4096).collect()
}

/// `--explain`: the trace on stdout, the verdict as the exit code.
fn explain(ctx: &guard::Context, command: &str, verdict: Option<&Violation>, json: bool) -> i32 {
    let empty = guard::explain::Trace::default();
    let trace = ctx.trace.as_ref().unwrap_or(&empty);
    if json {
        output::json(&trace.json(command, verdict));
    } else {
        print!("{}", trace.text(command, verdict));
    }
    if verdict.is_some() {
        EXIT_BLOCKED
    } else {
        0
    }
}

fn read_stdin() -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::usage("no command to check")
            .hint("pass the command as an argument, or the host's hook JSON on stdin"));
    }
    let mut bytes = Vec::new();
    // One byte more than the limit tells an oversized input from one that fits exactly.
    stdin
        .lock()
        .take(MAX_INPUT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::failed(format!("cannot read stdin: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
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
        return Err(Error::usage("name the agent host with --agent claude|gemini|cursor|codex"));
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

/// The state of an installed guard: `stale` (an older version's matcher: file tools or
/// MCP calls go unchecked), for Codex `untrusted` (Codex runs no hook the user has not
/// trusted in its `/hooks`), else `installed`.
fn installed_state(agent: Agent, path: &Path, current: bool) -> (&'static str, String) {
    let again = format!("run `git okstra hooks install --agent {agent}` to bring it up to date");
    if !current {
        return ("stale", format!("an older version's entry: {again}"));
    }
    match (agent, agents::codex_trusted(path)) {
        (Agent::Codex, Ok(false)) => {
            ("untrusted", "Codex runs it only once you trust it: open /hooks in Codex and trust the okstra hook".into())
        }
        (Agent::Codex, Err(e)) => ("untrusted", format!("cannot tell whether Codex trusts it: {e}")),
        _ => ("installed", String::new()),
    }
}

/// `hooks status [--agent …]`: every agent when none is named. Exit 1 if a file cannot be read.
pub fn status(a: &AgentHooksArgs) -> Result<i32> {
    let list = selected(a, true)?;
    let root = checkout_root()?;
    let mut rows = Vec::new();
    let mut code = 0;
    for agent in list {
        let mut path = agents::settings_path(&root, agent);
        let (state, detail) = match agents::state(&root, agent) {
            Ok(Some((found, current))) => {
                path = found;
                installed_state(agent, &path, current)
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
    if rows.iter().any(|r| r["state"] != "not-installed" && r["state"] != "error") {
        warn_if_not_on_path();
    }
    Ok(code)
}
