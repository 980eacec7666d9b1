//! Tasks: the names they get ([`names`]), the machine-wide registry of their worktrees
//! ([`registry`]), and provisioning, release and removal of the worktrees ([`worktree`]).

pub mod names;
pub mod registry;
pub mod worktree;
