//! The git hooks toolkit (DESIGN §7): which hooks okstra installs, the shell shims that
//! call the binary ([`shim`]), install/uninstall/status ([`install`]), the entry points the
//! shims call ([`entry`]), git's hook input formats ([`protocol`]), the per-process stamps
//! that reveal a skipped commit hook ([`stamp`]), what the processes around a hook are
//! ([`process`]), the pushes that skipped `pre-push`, noticed afterwards ([`pushes`]),
//! which repositories share a hooks folder ([`shared`]), the task contract's `pre-commit`
//! backstop ([`backstop`]) and the marker that tells a task worktree ([`marker`]).
//!
//! Decisions come from [`crate::policy`]; this module only feeds it and reports.

pub mod backstop;
pub mod entry;
pub mod install;
pub mod marker;
pub mod process;
pub mod protocol;
pub mod push_args;
pub mod pushes;
pub mod shared;
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
    /// No longer installed: it noticed a `push --no-verify` at the cost of a process per ref
    /// update. `hooks install` removes okstra's old shim; until then it does nothing.
    ReferenceTransaction,
    /// The push policy on the receiving bare repository (`--server`).
    PreReceive,
}

impl HookName {
    /// What a client repository gets. `commit-msg` is not among them: it is skipped by exactly
    /// the flags that skip `pre-commit`, so it would cost a process per commit and reveal nothing.
    /// Nor is `reference-transaction` ([`Self::RETIRED`]): git starts it for every ref
    /// transaction (308 times in a 20-commit rebase), and bypassed pushes are found from the
    /// reflogs instead ([`pushes`]).
    pub const CLIENT: [HookName; 4] =
        [HookName::PreCommit, HookName::PreMergeCommit, HookName::PrepareCommitMsg, HookName::PrePush];
    /// Hooks earlier versions installed: install removes okstra's shim of them (only that).
    pub const RETIRED: [HookName; 1] = [HookName::ReferenceTransaction];
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

/// Write `content` to `path` through a temp file beside it and a rename, with `mode`: a kill
/// at any moment leaves the old file or the new one, never a torn one.
pub(crate) fn write_atomic(path: &std::path::Path, content: &[u8], mode: u32) -> crate::error::Result<()> {
    use crate::error::io_at;
    use std::os::unix::fs::PermissionsExt;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // The name install's cleanup knows (`install::temp_of`).
    let tmp = path.with_file_name(format!(".{name}.okstra-tmp"));
    std::fs::write(&tmp, content).map_err(|e| io_at("cannot write", &tmp, e))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
        .map_err(|e| io_at("cannot chmod", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_at("cannot write", path, e))
}
