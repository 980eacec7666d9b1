//! `git okstra hook <name> …`: the entry points the installed hook files call, one variant
//! per hook (the agent guard adds its own beside these). Arguments are exactly git's.

use clap::Subcommand;

use crate::error::Result;
use crate::hooks::entry;

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// In a task worktree, refuse a commit the task's phase does not allow (in implementation:
    /// staged paths outside the approved plan, or a plan changed since its approval); leave
    /// the stamp that proves the commit checks ran.
    PreCommit,
    /// The same for a merge commit (judged on what it changes against every parent).
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
    /// Nothing: what earlier versions installed as reference-transaction calls it until
    /// `git okstra hooks install` removes that hook.
    #[command(hide = true)]
    ReferenceTransaction {
        /// prepared, committed or aborted.
        state: String,
    },
    /// The push policy on a bare repository; reads git's ref lines on stdin.
    PreReceive,
    /// Check a shell command or file edit an AI agent is about to make (Claude Code, Gemini CLI,
    /// Cursor, Codex CLI hook JSON on stdin, or the command itself) against the policy and its
    /// task's phase; exit 2 with the reason when it is blocked.
    AgentGuard(super::guard::AgentGuardArgs),
}

/// The installed shims call exactly `hook <name> <git's arguments>`. Those calls skip clap,
/// whose command tree (every subcommand and its arguments) costs a hook more than its own
/// work does; so does the agent guard, which runs before every command an agent runs.
/// Anything else (a flag, `--help`, an unknown hook, the guard given several words, the wrong
/// number of arguments) returns `None` and goes through clap as any command does.
pub fn fast_path(args: &[std::ffi::OsString]) -> Option<Result<i32>> {
    fast_parse(args).map(run)
}

fn fast_parse(args: &[std::ffi::OsString]) -> Option<HookCommand> {
    let args: Vec<&str> = args.iter().skip(1).map(|a| a.to_str()).collect::<Option<_>>()?;
    let (["hook", name], rest) = args.split_at_checked(2)? else { return None };
    if rest.iter().any(|a| a.starts_with('-')) {
        return None;
    }
    let owned = || rest.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let cmd = match (*name, rest.len()) {
        ("pre-commit", 0) => HookCommand::PreCommit,
        ("pre-merge-commit", 0) => HookCommand::PreMergeCommit,
        ("prepare-commit-msg", 0..=3) => HookCommand::PrepareCommitMsg { args: owned() },
        ("pre-push", 0..=2) => {
            let mut a = owned().into_iter();
            HookCommand::PrePush { remote: a.next(), url: a.next() }
        }
        ("reference-transaction", 1) => HookCommand::ReferenceTransaction { state: rest[0].to_string() },
        ("pre-receive", 0) => HookCommand::PreReceive,
        // What the agent hosts' settings run (the command comes as JSON on stdin), or the
        // command given as one shell text.
        ("agent-guard", 0..=1) => HookCommand::AgentGuard(super::guard::AgentGuardArgs {
            command: owned(),
            agent: None,
            explain: false,
            json: false,
        }),
        _ => return None,
    };
    Some(cmd)
}

pub fn run(cmd: HookCommand) -> Result<i32> {
    match cmd {
        HookCommand::PreCommit => entry::pre_commit("pre-commit"),
        HookCommand::PreMergeCommit => entry::pre_commit("pre-merge-commit"),
        HookCommand::PrepareCommitMsg { .. } => entry::prepare_commit_msg(),
        HookCommand::PrePush { remote, url } => {
            entry::pre_push(&entry::read_stdin()?, remote.as_deref(), url.as_deref())
        }
        HookCommand::ReferenceTransaction { .. } => Ok(0),
        HookCommand::PreReceive => entry::pre_receive(&entry::read_stdin()?),
        HookCommand::AgentGuard(a) => super::guard::agent_guard(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn argv(args: &[&str]) -> Vec<std::ffi::OsString> {
        std::iter::once("git-okstra").chain(args.iter().copied()).map(Into::into).collect()
    }

    /// What clap makes of the same arguments, for comparison.
    fn by_clap(args: &[&str]) -> String {
        let cli = crate::cli::Cli::try_parse_from(argv(args)).expect("clap accepts it");
        match cli.command {
            crate::cli::Command::Hook(cmd) => format!("{cmd:?}"),
            other => panic!("not a hook command: {other:?}"),
        }
    }

    #[test]
    fn fast_path_calls_parse_as_clap_parses_them() {
        for args in [
            &["hook", "pre-commit"][..],
            &["hook", "pre-merge-commit"],
            &["hook", "prepare-commit-msg", ".git/COMMIT_EDITMSG"],
            &["hook", "prepare-commit-msg", ".git/COMMIT_EDITMSG", "message"],
            &["hook", "prepare-commit-msg", ".git/COMMIT_EDITMSG", "commit", "HEAD"],
            &["hook", "pre-push", "origin", "/srv/git/proj.git"],
            &["hook", "pre-push", "", "/srv/git/proj.git"],
            &["hook", "pre-push"],
            &["hook", "reference-transaction", "committed"],
            &["hook", "pre-receive"],
            &["hook", "agent-guard"],
            &["hook", "agent-guard", "git push -u origin feat-x"],
            &["hook", "agent-guard", "cargo test && git status --short | head"],
            &["hook", "agent-guard", ""],
        ] {
            let fast = fast_parse(&argv(args)).unwrap_or_else(|| panic!("{args:?} takes the fast path"));
            assert_eq!(format!("{fast:?}"), by_clap(args), "{args:?}");
        }
    }

    #[test]
    fn everything_else_goes_through_clap() {
        for args in [
            &["hook", "pre-push", "--help"][..],
            &["hook", "--help"],
            &["hook", "pre-commit", "extra"],
            &["hook", "reference-transaction"],
            &["hook", "pre-push", "a", "b", "c"],
            &["hook", "agent-guard", "git", "status"],
            &["hook", "agent-guard", "--agent", "claude"],
            &["hook", "agent-guard", "-f"],
            &["hook", "no-such-hook"],
            &["-q", "hook", "pre-commit"],
            &["task", "list"],
            &["hook"],
            &[],
        ] {
            assert!(fast_parse(&argv(args)).is_none(), "{args:?} is clap's");
        }
        use std::os::unix::ffi::OsStringExt;
        let not_utf8 =
            vec!["git-okstra".into(), "hook".into(), "pre-push".into(), std::ffi::OsString::from_vec(vec![0xff])];
        assert!(fast_parse(&not_utf8).is_none());
    }
}
