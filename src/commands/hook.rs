//! `git okstra hook <name> …`: the entry points the installed hook files call, one variant
//! per hook (the agent guard adds its own beside these). Arguments are exactly git's.

use clap::Subcommand;

use crate::error::Result;
use crate::hooks::entry;

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Leave the stamp that proves the commit checks ran.
    PreCommit,
    /// Leave the stamp that proves the merge checks ran.
    PreMergeCommit,
    /// Refuse a commit or merge made with --no-verify / -n.
    PrepareCommitMsg {
        /// git's arguments: message file [source [commit]].
        #[arg(num_args = 0..=3)]
        args: Vec<String>,
    },
    /// The push policy; reads git's ref lines on stdin.
    PrePush {
        /// The remote's name.
        remote: Option<String>,
        /// The remote's URL.
        url: Option<String>,
    },
    /// Notice a `push --no-verify` after the fact; reads git's ref lines on stdin.
    ReferenceTransaction {
        /// prepared, committed or aborted.
        state: String,
    },
    /// The push policy on a bare repository; reads git's ref lines on stdin.
    PreReceive,
    /// Check a shell command an AI agent is about to run (Claude Code, Gemini CLI, Cursor hook
    /// JSON on stdin, or the command itself); exit 2 with the reason when it is blocked.
    AgentGuard(super::guard::AgentGuardArgs),
}

pub fn run(cmd: HookCommand) -> Result<i32> {
    match cmd {
        HookCommand::PreCommit | HookCommand::PreMergeCommit => entry::pre_commit(),
        HookCommand::PrepareCommitMsg { .. } => entry::prepare_commit_msg(),
        HookCommand::PrePush { remote, .. } => entry::pre_push(&entry::read_stdin()?, remote.as_deref()),
        HookCommand::ReferenceTransaction { state } => {
            if state != "committed" {
                return Ok(0);
            }
            entry::reference_transaction(&state, &entry::read_stdin()?)
        }
        HookCommand::PreReceive => entry::pre_receive(&entry::read_stdin()?),
        HookCommand::AgentGuard(a) => super::guard::agent_guard(a),
    }
}
