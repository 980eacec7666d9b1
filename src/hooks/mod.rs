//! The git hooks toolkit (DESIGN §7): which hooks okstra installs, the shell shims that
//! call the binary ([`shim`]), install/uninstall/status ([`install`]), the entry points the
//! shims call ([`entry`]), git's hook input formats ([`protocol`]) and the per-process
//! stamps that reveal a skipped hook ([`stamp`]).
//!
//! Decisions come from [`crate::policy`]; this module only feeds it and reports.

pub mod entry;
pub mod install;
pub mod protocol;
pub mod shim;
pub mod stamp;

use std::fmt;

/// Every hook git runs (githooks(5)), for recognising a hook file whatever installed it.
pub const HOOK_NAMES: &[&str] = &[
    "applypatch-msg",
    "pre-applypatch",
    "post-applypatch",
    "pre-commit",
    "pre-merge-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "pre-rebase",
    "post-checkout",
    "post-merge",
    "pre-push",
    "pre-receive",
    "update",
    "proc-receive",
    "post-receive",
    "post-update",
    "reference-transaction",
    "push-to-checkout",
    "pre-auto-gc",
    "post-rewrite",
    "sendemail-validate",
    "fsmonitor-watchman",
    "p4-changelist",
    "p4-prepare-changelist",
    "p4-post-changelist",
    "p4-pre-submit",
    "post-index-change",
];

/// A hook okstra installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookName {
    /// Leaves a stamp for its `git commit`: proof that the checks were not skipped.
    PreCommit,
    /// The same for `git merge`.
    PreMergeCommit,
    /// Not skipped by `--no-verify`: refuses a commit or merge that left no stamp.
    PrepareCommitMsg,
    /// The push policy.
    PrePush,
    /// Notices a `push --no-verify` after the fact (remote-tracking update without a pre-push stamp).
    ReferenceTransaction,
    /// The push policy on the receiving bare repository (`--server`).
    PreReceive,
}

impl HookName {
    /// What a client repository gets. `commit-msg` is not among them: it is skipped by exactly
    /// the flags that skip `pre-commit`, so it would cost a process per commit and reveal nothing.
    pub const CLIENT: [HookName; 5] = [
        HookName::PreCommit,
        HookName::PreMergeCommit,
        HookName::PrepareCommitMsg,
        HookName::PrePush,
        HookName::ReferenceTransaction,
    ];
    /// What a bare repository that receives pushes gets.
    pub const SERVER: [HookName; 1] = [HookName::PreReceive];

    pub fn name(self) -> &'static str {
        match self {
            HookName::PreCommit => "pre-commit",
            HookName::PreMergeCommit => "pre-merge-commit",
            HookName::PrepareCommitMsg => "prepare-commit-msg",
            HookName::PrePush => "pre-push",
            HookName::ReferenceTransaction => "reference-transaction",
            HookName::PreReceive => "pre-receive",
        }
    }

    /// Whether git writes input for this hook on its stdin (a chained hook needs its own copy).
    pub fn reads_stdin(self) -> bool {
        matches!(self, HookName::PrePush | HookName::ReferenceTransaction | HookName::PreReceive)
    }

    pub fn set(server: bool) -> &'static [HookName] {
        if server {
            &Self::SERVER
        } else {
            &Self::CLIENT
        }
    }
}

impl fmt::Display for HookName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
