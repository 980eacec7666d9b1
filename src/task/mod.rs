//! Tasks: the names they get ([`names`]), the machine-wide registry of their worktrees
//! ([`registry`]), provisioning of the worktrees ([`worktree`]), and their release and
//! removal ([`release`]).

pub mod names;
pub mod registry;
pub mod release;
pub mod worktree;
