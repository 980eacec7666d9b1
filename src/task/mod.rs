//! Tasks: the names they get ([`names`]), the machine-wide registry of their worktrees
//! ([`registry`]), provisioning, release and removal of the worktrees ([`worktree`]), and the
//! status board `task list`/`show` print ([`board`]).

pub mod board;
pub mod names;
pub mod registry;
pub mod worktree;
