//! `git okstra doctor [--repair] [--json]`: print each finding with its fix.

use clap::Args;

use crate::config;
use crate::doctor;
use crate::error::{Error, Result};
use crate::output;
use crate::registry::Store;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Fix what is safe: prune stale worktrees, drop rows whose worktree and branch are both
    /// gone, re-link sync dirs, adopt unknown worktrees, move a corrupt registry aside and rebuild it.
    #[arg(long)]
    pub repair: bool,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: DoctorArgs) -> Result<i32> {
    let store = Store::at_home(&config::okstra_home()?);
    let report = doctor::run(&store, a.repair)?;
    if a.json {
        let v = serde_json::to_value(&report).map_err(|e| Error::failed(e.to_string()))?;
        output::json(&v);
    } else {
        for f in &report.findings {
            output::info(format!("{}: {}: {}", f.kind.name(), f.subject, f.message));
            output::info(format!("  fix: {}", f.fix));
            if report.repaired {
                let label = if f.repaired { "repaired" } else { "left" };
                output::info(format!("  {label}: {}", f.action));
            }
        }
        let summary = match (report.findings.len(), report.remaining) {
            (0, _) => "no problems found".to_string(),
            (n, 0) => format!("{n} problem(s) found, all repaired"),
            (n, r) if report.repaired => format!("{n} problem(s) found, {r} remain"),
            (n, _) => format!("{n} problem(s) found; `git okstra doctor --repair` fixes the safe ones"),
        };
        output::info(summary);
    }
    Ok(if report.remaining == 0 { 0 } else { 1 })
}
