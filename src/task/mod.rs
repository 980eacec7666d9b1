//! Tasks: the names they get ([`names`]), the machine-wide registry of their worktrees
//! ([`registry`]), provisioning of the worktrees ([`worktree`]), their release and removal
//! ([`release`]), and the status board `task list`/`show` print ([`board`]).

pub mod board;
pub mod names;
pub mod registry;
pub mod release;
pub mod worktree;
