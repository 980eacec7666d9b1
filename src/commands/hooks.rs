//! `git okstra hooks install|uninstall|status`.

use clap::{Args, Subcommand};

use crate::error::Result;

#[derive(Debug, Subcommand)]
pub enum HooksCommand {
    /// Install the safety hooks (`--agent`: the agent guard into an agent host's settings).
    Install(HooksArgs),
    /// Remove what `install` added, and nothing else.
    Uninstall(HooksArgs),
    /// Show what is installed.
    Status(HooksArgs),
}

#[derive(Debug, Args)]
pub struct HooksArgs {
    #[command(flatten)]
    pub agents: super::guard::AgentHooksArgs,
}

pub fn run(cmd: HooksCommand) -> Result<i32> {
    match cmd {
        HooksCommand::Install(a) => super::guard::install(&a.agents),
        HooksCommand::Uninstall(a) => super::guard::uninstall(&a.agents),
        HooksCommand::Status(a) => super::guard::status(&a.agents),
    }
}
