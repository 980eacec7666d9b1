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
/// Rules the agent guard lets agents break after all; read from the user's own config only.
pub const KEY_GUARD_ALLOW: &str = "okstra.guardAllow";
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

/// `$OKSTRA_HOME`, else `~/.okstra`. A relative `OKSTRA_HOME` is refused: resolved against the
/// current folder it would give every folder a registry (and worktrees) of its own.
pub fn okstra_home() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os(ENV_HOME).filter(|h| !h.is_empty()) {
        let p = PathBuf::from(&h);
        if !p.is_absolute() {
            let shown = h.to_string_lossy().escape_debug().to_string();
            let tilde = if shown.starts_with('~') { " (a `~` inside quotes is not expanded)" } else { "" };
            return Err(Error::failed(format!(
                "OKSTRA_HOME is the relative path \"{shown}\"{tilde}; it must be absolute, or every folder would get a registry of its own"
            ))
            .hint("export OKSTRA_HOME=\"$HOME/.okstra\" (or unset it for that default)"));
        }
        return Ok(p);
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

/// Where a setting is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    GitConfig,
    Env,
}

/// One documented setting: the README's configuration table and the man page's
/// CONFIGURATION/ENVIRONMENT sections are written from [`SETTINGS`], and a test checks that
/// every `KEY_*`/`ENV_*` constant in this file is listed here.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub name: &'static str,
    pub source: Source,
    pub default: &'static str,
    pub doc: &'static str,
}

pub const SETTINGS: &[Setting] = &[
    Setting {
        name: KEY_PROJECT,
        source: Source::GitConfig,
        default: "the main worktree's folder name",
        doc: "Project segment of task keys and worktree paths (`--project` wins).",
    },
    Setting {
        name: KEY_GROUP,
        source: Source::GitConfig,
        default: DEFAULT_GROUP,
        doc: "Group segment of task keys and worktree paths (`--group` wins).",
    },
    Setting {
        name: KEY_CATEGORY,
        source: Source::GitConfig,
        default: DEFAULT_CATEGORY,
        doc: "Work category; decides the branch prefix (`--category` wins).",
    },
    Setting {
        name: KEY_SYNC_DIR,
        source: Source::GitConfig,
        default: ".project-docs, .scratch, graphify-out",
        doc: "Multi-valued: folders of the main worktree symlinked into every task worktree.",
    },
    Setting {
        name: KEY_PROTECTED_BRANCH,
        source: Source::GitConfig,
        default: "main, master, dev, staging, preprod, prod",
        doc: "Multi-valued: branches the hooks refuse to update or delete directly.",
    },
    Setting {
        name: KEY_AGENT_GUARD,
        source: Source::GitConfig,
        default: "unset",
        doc: "Agent hosts (claude, gemini, cursor; multi-valued or comma-separated) whose settings get the agent guard in every worktree `task start` creates.",
    },
    Setting {
        name: KEY_GUARD_ALLOW,
        source: Source::GitConfig,
        default: "unset",
        doc: "`discard`: the agent guard lets agents discard local work (`reset --hard`, `clean -f`, `rm -rf` outside the worktree, and the rest of the discard rule). Read only from your own `~/.gitconfig` (or `$XDG_CONFIG_HOME/git/config`), never from a repository, an included file or `-c`; agents cannot write it.",
    },
    Setting {
        name: "okstra.executor.<name>",
        source: Source::GitConfig,
        default: "unset",
        doc: "Command line of a custom agent CLI for `--exec <name>`.",
    },
    Setting {
        name: ENV_HOME,
        source: Source::Env,
        default: "~/.okstra",
        doc: "Root of the registry and of the task worktrees (`$OKSTRA_HOME/worktrees`); must be an absolute path.",
    },
    Setting {
        name: ENV_SYNC_DIRS,
        source: Source::Env,
        default: "unset",
        doc: "Colon-separated sync dirs; overrides okstra.syncDir; set but empty disables linking.",
    },
    Setting {
        name: ENV_DEFAULT_EXECUTOR,
        source: Source::Env,
        default: "unset",
        doc: "Agent CLI started by `phase` when `--exec` is not given (claude, codex, gemini or an okstra.executor name).",
    },
    Setting {
        name: ENV_ALLOW,
        source: Source::Env,
        default: "unset",
        doc: "An explicit, logged override of one hook rule, for a human who means it; agents must never set it.",
    },
    Setting {
        name: ENV_TASK_KEY,
        source: Source::Env,
        default: "set by git-okstra",
        doc: "Set for an agent started by `phase --exec`: the task key.",
    },
    Setting {
        name: ENV_PHASE,
        source: Source::Env,
        default: "set by git-okstra",
        doc: "Set for an agent started by `phase --exec`: the phase.",
    },
    Setting {
        name: ENV_RUN_DIR,
        source: Source::Env,
        default: "set by git-okstra",
        doc: "Set for an agent started by `phase --exec`: the run folder.",
    },
    Setting {
        name: "NO_COLOR",
        source: Source::Env,
        default: "unset",
        doc: "Set and non-empty: no colour in messages (colour is used only on a terminal anyway).",
    },
];
/// Set for an agent started by `--exec`: the task key, the phase and the run folder.
pub const ENV_TASK_KEY: &str = "OKSTRA_TASK_KEY";
pub const ENV_PHASE: &str = "OKSTRA_PHASE";
pub const ENV_RUN_DIR: &str = "OKSTRA_RUN_DIR";
