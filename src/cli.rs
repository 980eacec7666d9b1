//! The command line: the top-level parser and the list of command groups. Each group's
//! arguments live beside its code in `commands/`.

use clap::{Parser, Subcommand};

use crate::commands;

/// Task worktrees, lifecycle phases and safety hooks for AI coding agents.
#[derive(Debug, Parser)]
#[command(name = "git-okstra", bin_name = "git okstra", version, about, long_about = None)]
#[command(propagate_version = true, arg_required_else_help = true)]
pub struct Cli {
    /// Print only errors and warnings.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Show the git commands run and other detail.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start, list, show and release task worktrees.
    #[command(subcommand)]
    Task(commands::task::TaskCommand),
    /// Install, remove and inspect the okstra git hooks.
    #[command(subcommand)]
    Hooks(commands::hooks::HooksCommand),
    /// The entry points the installed hook files call (not for direct use).
    #[command(subcommand)]
    Hook(commands::hook::HookCommand),
    /// Release handoff: turn an accepted task into a commit and a pull request.
    Handoff(commands::handoff::HandoffArgs),
    /// Run a lifecycle phase of the task whose worktree you stand in (prints the launch prompt's path).
    Phase(commands::phase::PhaseArgs),
}
