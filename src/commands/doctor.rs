//! `git okstra doctor [--repair] [--json]`: print each finding with its fix.

use clap::Args;

use crate::config;
use crate::doctor;
use crate::error::{Error, Result};
use crate::output;
use crate::task::registry::Store;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Fix what is safe: prune stale worktrees, drop rows whose worktree and branch are both
    /// gone, re-link sync dirs, adopt unknown worktrees, move a corrupt registry aside and rebuild it,
    /// re-write stale or missing okstra hooks (a foreign hook is never moved), remove registry
    /// temp files of dead processes and git `.lock` files older than 10 minutes, prune broken
    /// worktree entries whose folder is gone.
    #[arg(long)]
    pub repair: bool,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: DoctorArgs) -> Result<i32> {
    let store = Store::at_home(&config::okstra_home()?);
    let report = doctor::run(&store, Some(&super::cwd()?), a.repair)?;
    if a.json {
        let v = serde_json::to_value(&report).map_err(|e| Error::failed(e.to_string()))?;
        output::json(&v);
    } else {
        for f in &report.findings {
            let note = if f.level == doctor::Level::Note { "note: " } else { "" };
            output::info(format!("{note}{}: {}: {}", f.kind.name(), f.subject, f.message));
            output::info(format!("  fix: {}", f.fix));
            if report.repaired {
                let label = if f.repaired { "repaired" } else { "left" };
                output::info(format!("  {label}: {}", f.action));
            }
        }
        let found = report.findings.iter().filter(|f| f.level == doctor::Level::Problem).count();
        let summary = match (found, report.remaining) {
            (0, _) => "no problems found".to_string(),
            (n, 0) => format!("{n} problem(s) found, all repaired"),
            (n, r) if report.repaired => format!("{n} problem(s) found, {r} remain"),
            (n, _) => format!("{n} problem(s) found; `git okstra doctor --repair` fixes the safe ones"),
        };
        let notes = report.findings.len() - found;
        let summary = if notes > 0 { format!("{summary} ({notes} note(s))") } else { summary };
        output::info(summary);
    }
    Ok(if report.remaining == 0 { 0 } else { 1 })
}
