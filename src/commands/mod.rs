//! The CLI layer: one file per command group, each with clap `Args` and a `run` function.
//! Logic lives in the domain modules; these files parse, call and print.

pub mod doctor;
pub mod guard;
pub mod handoff;
pub mod hook;
pub mod hooks;
pub mod phase;
pub mod shell;
pub mod task;

use crate::cli::{Cli, Command};
use crate::error::Result;

/// Run a parsed command line; returns the exit code.
pub fn run(cli: Cli) -> Result<i32> {
    crate::output::set_verbosity(if cli.quiet { -1 } else { cli.verbose.min(100) as i8 });
    match cli.command {
        Command::Task(cmd) => task::run(cmd),
        Command::Hooks(cmd) => hooks::run(cmd),
        Command::Hook(cmd) => hook::run(cmd),
        Command::Handoff(a) => handoff::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Completions(a) => shell::completions(a),
        Command::ShellInit(a) => shell::shell_init(a),
        Command::Complete(a) => shell::complete(a),
        Command::Man(a) => shell::man(a),
        Command::Phase(a) => phase::run(a),
        Command::Agent(a) => phase::run_agent(a),
    }
}

/// The caller's folder (git has already applied `-C`).
pub fn cwd() -> Result<std::path::PathBuf> {
    crate::error::current_dir()
}
