//! The command line: the top-level parser and the list of command groups. Each group's
//! arguments live beside its code in `commands/`.

use clap::{Parser, Subcommand};

use crate::commands;

/// Task worktrees, lifecycle phases and safety hooks for AI coding agents.
#[derive(Debug, Parser)]
#[command(name = "git-okstra", bin_name = "git okstra", version, about, long_about = None)]
#[command(propagate_version = true, arg_required_else_help = true)]
pub struct Cli {
    // The global options come after each command's own (clap would slot them in by
    // declaration order), just before -h and -V.
    /// Print only errors and warnings.
    #[arg(short, long, global = true, conflicts_with = "verbose", display_order = 900)]
    pub quiet: bool,
    /// Show the git commands run and other detail.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, display_order = 901)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start, list, show and release task worktrees.
    #[command(subcommand)]
    Task(commands::task::TaskCommand),
    /// Run a lifecycle phase of the task whose worktree you stand in (prints the worktree path).
    Phase(commands::phase::PhaseArgs),
    /// Release handoff: turn an accepted task into a commit and a pull request.
    Handoff(commands::handoff::HandoffArgs),
    /// Install, remove and inspect the okstra git hooks and the agent guard.
    #[command(subcommand)]
    Hooks(commands::hooks::HooksCommand),
    /// The entry points installed hooks and agent hosts call (not for direct use).
    #[command(subcommand)]
    Hook(commands::hook::HookCommand),
    /// Check the registry against the disk and git; `--repair` fixes what is safe.
    Doctor(commands::doctor::DoctorArgs),
    /// Print a shell completion script (bash, zsh, fish).
    Completions(commands::shell::CompletionsArgs),
    /// Print a shell function `okstra` that cd's into the task worktree after `task start`/`phase`.
    ShellInit(commands::shell::ShellInitArgs),
    /// Completion helper the completion scripts call (task ids, phases, words).
    #[command(name = "__complete", hide = true)]
    Complete(commands::shell::CompleteArgs),
    /// Runs a detached agent inside its tmux session and records its exit code.
    #[command(name = "__agent", hide = true)]
    Agent(commands::phase::AgentArgs),
    /// Write the man pages into a folder.
    #[command(name = "__man", hide = true)]
    Man(commands::shell::ManArgs),
}
