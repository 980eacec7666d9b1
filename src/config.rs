//! Every setting git-okstra reads: git config keys under `okstra.*` and `OKSTRA_*`
//! environment variables, each declared once beside its default. A command-line flag wins
//! over the environment, which wins over git config.

use std::path::PathBuf;

use crate::error::{Error, Result};

pub const KEY_PROJECT: &str = "okstra.project";
pub const KEY_GROUP: &str = "okstra.group";
pub const KEY_CATEGORY: &str = "okstra.category";
pub const KEY_SYNC_DIR: &str = "okstra.syncDir";
pub const KEY_PROTECTED_BRANCH: &str = "okstra.protectedBranch";
pub const KEY_AGENT_GUARD: &str = "okstra.agentGuard";
/// `okstra.executor.<name>`: an argv template for a custom agent CLI.
pub const KEY_EXECUTOR_PREFIX: &str = "okstra.executor";

pub const ENV_HOME: &str = "OKSTRA_HOME";
pub const ENV_SYNC_DIRS: &str = "OKSTRA_WORKTREE_SYNC_DIRS";
pub const ENV_DEFAULT_EXECUTOR: &str = "OKSTRA_DEFAULT_EXECUTOR";
pub const ENV_ALLOW: &str = "OKSTRA_ALLOW";

pub const DEFAULT_GROUP: &str = "default";
pub const DEFAULT_CATEGORY: &str = "feature";
pub const DEFAULT_SYNC_DIRS: &[&str] = &[".project-docs", ".scratch", "graphify-out"];
pub const DEFAULT_PROTECTED_BRANCHES: &[&str] = &["main", "master", "dev", "staging", "preprod", "prod"];

/// `$OKSTRA_HOME`, else `~/.okstra`.
pub fn okstra_home() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os(ENV_HOME).filter(|h| !h.is_empty()) {
        let p = PathBuf::from(h);
        return Ok(if p.is_absolute() { p } else { std::env::current_dir()?.join(p) });
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".okstra"))
        .ok_or_else(|| Error::failed("neither OKSTRA_HOME nor HOME is set").hint("export OKSTRA_HOME=~/.okstra"))
}

/// Sync-dir names: `OKSTRA_WORKTREE_SYNC_DIRS` (colon-separated; set but empty disables),
/// else multi-valued `okstra.syncDir`, else the defaults.
pub fn sync_dirs(from_git: Option<Vec<String>>) -> Vec<String> {
    if let Some(v) = std::env::var_os(ENV_SYNC_DIRS) {
        return v.to_string_lossy().split(':').filter(|s| !s.is_empty()).map(str::to_string).collect();
    }
    match from_git {
        Some(v) if !v.is_empty() => v,
        _ => DEFAULT_SYNC_DIRS.iter().map(|s| s.to_string()).collect(),
    }
}

/// Set for an agent started by `--exec`: the task key, the phase and the run folder.
pub const ENV_TASK_KEY: &str = "OKSTRA_TASK_KEY";
pub const ENV_PHASE: &str = "OKSTRA_PHASE";
pub const ENV_RUN_DIR: &str = "OKSTRA_RUN_DIR";
