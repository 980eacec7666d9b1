//! git-okstra: task worktrees, lifecycle phases and safety hooks for AI coding agents.
//!
//! `commands` holds the thin CLI layer (one file per command group); the domain modules
//! beside it hold the logic and can be used without the CLI.

pub mod cli;
pub mod commands;
pub mod completion;
pub mod config;
pub mod doctor;
pub mod error;
pub mod git;
pub mod guard;
pub mod handoff;
pub mod hooks;
pub mod manpages;
pub mod output;
pub mod phase;
pub mod policy;
pub mod shell_init;
pub mod task;
