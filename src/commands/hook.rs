//! `git okstra hook <NAME>`: the entry points installed hooks call.

use clap::Subcommand;

use crate::error::Result;

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Check a shell command an AI agent is about to run (Claude Code, Gemini CLI, Cursor hook
    /// JSON on stdin, or the command itself); exit 2 with the reason when it is blocked.
    AgentGuard(super::guard::AgentGuardArgs),
}

pub fn run(cmd: HookCommand) -> Result<i32> {
    match cmd {
        HookCommand::AgentGuard(a) => super::guard::agent_guard(a),
    }
}
