//! `git okstra hooks install|uninstall|status`: put the okstra hook files in place, take them
//! out again, and report their state.

use clap::{Args, Subcommand};
use serde_json::json;

use crate::error::Result;
use crate::hooks::install::{self, Action, InstallRequest, State};
use crate::hooks::pushes;
use crate::output;

/// JSON shape version of `hooks` outputs.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Subcommand)]
pub enum HooksCommand {
    /// Install the okstra hooks (chaining any hook already there); prints the hooks folder.
    Install(TargetArgs),
    /// Remove the okstra hooks and put back any hook they chained.
    Uninstall(UninstallArgs),
    /// Report each okstra hook: installed, chained, stale or missing.
    Status(TargetArgs),
}

/// What `hooks install|uninstall|status` act on. Other features add their flags here.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The server hook (`pre-receive`) of this bare repository; install also sets
    /// `receive.denyNonFastForwards` (implied in a bare repository for uninstall and status).
    #[arg(long, conflicts_with = "agent")]
    pub server: bool,
    /// Instead of the git hooks: the agent guard in these agent hosts' settings (repeat or
    /// separate with commas).
    // Declared values: clap checks each and every shell's completion offers them.
    #[arg(long, value_delimiter = ',', value_name = "AGENT", value_parser = agent_names())]
    pub agent: Vec<String>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

fn agent_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(crate::guard::agents::Agent::ALL.map(|a| a.name()))
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Also from a hooks folder other repositories use (an absolute core.hooksPath): their
    /// okstra hooks go too.
    #[arg(long, conflicts_with = "agent")]
    pub shared: bool,
}

fn agents(agent: &[String], json: bool) -> super::guard::AgentHooksArgs {
    super::guard::AgentHooksArgs { agent: agent.to_vec(), json }
}

pub fn run(cmd: HooksCommand) -> Result<i32> {
    let cwd = super::cwd()?;
    match cmd {
        HooksCommand::Install(a) if !a.agent.is_empty() => super::guard::install(&agents(&a.agent, a.json)),
        HooksCommand::Uninstall(UninstallArgs { target: a, .. }) if !a.agent.is_empty() => {
            super::guard::uninstall(&agents(&a.agent, a.json))
        }
        HooksCommand::Status(a) if !a.agent.is_empty() => super::guard::status(&agents(&a.agent, a.json)),
        HooksCommand::Install(a) => {
            let out = install::install(&cwd, &InstallRequest { server: a.server })?;
            report(&out, a.json, "install");
            Ok(0)
        }
        HooksCommand::Uninstall(UninstallArgs { target: a, shared }) => {
            let out = install::uninstall(&cwd, a.server, shared)?;
            report(&out, a.json, "uninstall");
            Ok(0)
        }
        HooksCommand::Status(a) => status(&cwd, a),
    }
}

fn status(cwd: &std::path::Path, a: TargetArgs) -> Result<i32> {
    let (dir, server, hooks) = install::status(cwd, a.server)?;
    let complete = hooks.iter().all(|h| matches!(h.state, State::Installed | State::Chained));
    let repo = crate::git::Repo::discover(cwd)?;
    let notices = match (server, &repo) {
        (false, Some(repo)) => pushes::check_or_warn(repo),
        _ => pushes::Notices::default(),
    };
    let shared_with = repo.as_ref().map(|r| crate::hooks::shared::others(r, &dir)).unwrap_or_default();
    if a.json {
        output::json(&json!({
            "schema": SCHEMA, "hooks_dir": dir, "server": server, "complete": complete, "hooks": hooks,
            "shared_with": shared_with, "bypassed_pushes": notices.open,
        }));
        return Ok(0);
    }
    output::info(format!("hooks folder: {}", dir.display()));
    if !shared_with.is_empty() {
        let list: Vec<String> = shared_with.iter().map(|p| p.display().to_string()).collect();
        output::value(format!("shared hooks folder, also used by: {}", list.join(", ")));
    }
    for h in &hooks {
        let state = match h.state {
            State::Installed => "installed".to_string(),
            State::Chained => format!("chained (calls {} first)", file_name(h.chained.as_deref())),
            State::Stale if h.retired => "stale (no longer used; `git okstra hooks install` removes it)".to_string(),
            State::Stale => "stale (run `git okstra hooks install`)".to_string(),
            State::Missing if h.chained.is_some() => format!(
                "missing ({} is set aside and nothing calls it; `git okstra hooks install` or `hooks uninstall` makes it run again)",
                file_name(h.chained.as_deref())
            ),
            State::Missing if h.foreign => {
                "missing (a foreign hook is in its place; run `git okstra hooks install` to chain it)".to_string()
            }
            State::Missing => "missing (run `git okstra hooks install`)".to_string(),
        };
        output::value(format!("{:<22} {state}", h.name));
    }
    for b in &notices.open {
        output::value(format!(
            "bypassed push           {} at {}: now {}",
            b.short_ref(),
            b.at,
            &b.new[..b.new.len().min(12)]
        ));
    }
    if !server {
        output::info("agent guard (`--agent` to install; `--agent … --json` for JSON):");
        return super::guard::status(&agents(&[], false));
    }
    Ok(0)
}

fn file_name(p: Option<&std::path::Path>) -> String {
    p.and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn report(out: &install::Outcome, as_json: bool, verb: &str) {
    if as_json {
        output::json(&json!({
            "schema": SCHEMA,
            "action": verb,
            "hooks_dir": out.hooks_dir,
            "server": out.server,
            "hooks": out.hooks,
            "hooks_path_changed": out.hooks_path_changed,
        }));
        return;
    }
    if let Some(p) = &out.hooks_path_changed {
        match verb {
            "install" => output::info(format!(
                "core.hooksPath was relative ({p}): set to {} so every worktree runs the hooks",
                out.hooks_dir.display()
            )),
            _ => output::info(format!("core.hooksPath restored to {}", if p.is_empty() { "(unset)" } else { p })),
        }
    }
    for h in &out.hooks {
        let what = match h.action {
            Action::Created => "installed".to_string(),
            Action::Updated => "updated".to_string(),
            Action::Unchanged => "already installed".to_string(),
            Action::Chained => {
                format!("installed; the hook that was there runs first ({})", file_name(h.chained.as_deref()))
            }
            Action::Removed => "removed".to_string(),
            Action::Restored => "removed; the chained hook is back in place".to_string(),
            Action::Foreign => "not okstra's, left alone".to_string(),
            Action::Absent => "not installed".to_string(),
        };
        output::info(format!("{}: {what}", h.name));
    }
    if verb == "install" && out.server {
        output::info("receive.denyNonFastForwards = true");
    }
    output::value(out.hooks_dir.to_string_lossy());
}
