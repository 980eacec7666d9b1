//! Where and when (DESIGN §8): the task whose worktree holds a path, and that task's current
//! run — the latest run the registry records, with the approved plan an implementation run
//! was given. The agent guard and the `pre-commit` hook ask this before they judge with
//! [`crate::guard::contract`].
//!
//! Cheap, as the guard asks before every tool call: it reads the registry file and at most
//! one manifest, takes no lock and starts no process. It never guesses: a recorded run whose
//! folder or manifest is gone is an error, so that callers fail closed.

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::config;
use crate::error::{Error, Result};
use crate::phase::lifecycle::{Gate, MANIFEST};
use crate::phase::plan::ApprovedPlan;
use crate::phase::runs;
use crate::phase::Phase;
use crate::task::names::{Segment, TaskKey};
use crate::task::registry::{Registry, Row, Store};

/// A task worktree and the task's current run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskContext {
    pub key: TaskKey,
    /// The task worktree, canonical.
    pub worktree: PathBuf,
    /// The main worktree of the task's repository, canonical (where its notes live).
    pub main: PathBuf,
    pub branch: String,
    /// The latest recorded run; `None` before the first.
    pub run: Option<CurrentRun>,
}

/// The run a task is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentRun {
    pub phase: Phase,
    pub number: u32,
    pub dir: PathBuf,
    /// The approved plan of an implementation run (always there for one).
    pub plan: Option<ApprovedPlan>,
}

impl TaskContext {
    /// The phase of the current run, if there is one.
    pub fn phase(&self) -> Option<Phase> {
        self.run.as_ref().map(|r| r.phase)
    }

    /// `<main>/.project-docs/okstra/tasks/<task>`: the task's own notes.
    pub fn notes(&self) -> PathBuf {
        runs::task_docs(&self.main, &self.key.task)
    }
}

/// The task whose worktree holds `path` and its current run, read from the registry under
/// `OKSTRA_HOME`. `Ok(None)`: no task worktree holds it. A registry that does not parse is an
/// error, never "no task".
pub fn context_at(path: &Path) -> Result<Option<TaskContext>> {
    let reg = Store::at_home(&config::okstra_home()?).load()?;
    context_in(&reg, path)
}

/// The current phase of the task whose worktree holds `path`: `None` when no task does or
/// the task has no run yet.
pub fn current_phase(path: &Path) -> Result<Option<Phase>> {
    Ok(context_at(path)?.and_then(|c| c.phase()))
}

/// [`context_at`] with the registry given (`path` is made absolute and resolved first).
pub fn context_in(reg: &Registry, path: &Path) -> Result<Option<TaskContext>> {
    let path = resolve(path, &crate::error::current_dir()?);
    let Some((row, worktree)) = holding(reg, &path) else { return Ok(None) };
    let main = main_of(row);
    let key = TaskKey::new(&row.project_id, &row.task_group, &row.task_id);
    let run = latest_run(row, &key, &main)?;
    Ok(Some(TaskContext { key, worktree, main, branch: row.branch.clone(), run }))
}

/// The current run of the task of `row` (`None` before the first run), found as for
/// [`context_in`], whether or not its worktree still exists.
pub fn run_of(row: &Row) -> Result<Option<CurrentRun>> {
    latest_run(row, &TaskKey::new(&row.project_id, &row.task_group, &row.task_id), &main_of(row))
}

fn main_of(row: &Row) -> PathBuf {
    std::fs::canonicalize(&row.repo).unwrap_or_else(|_| PathBuf::from(&row.repo))
}

/// The row whose worktree holds the resolved path `path`, with that worktree's canonical
/// path. Stored paths are canonical when written; a row whose stored path is not (a moved
/// `OKSTRA_HOME`) is found through its canonical form.
pub fn holding<'r>(reg: &'r Registry, path: &Path) -> Option<(&'r Row, PathBuf)> {
    let rows = || reg.tasks.values().filter(|r| !r.worktree_path.is_empty());
    let longest = |found: Vec<(&'r Row, PathBuf)>| found.into_iter().max_by_key(|(_, p)| p.as_os_str().len());
    let direct: Vec<_> = rows()
        .map(|r| (r, PathBuf::from(&r.worktree_path)))
        .filter(|(_, p)| path.starts_with(p) && p.is_dir())
        .collect();
    if !direct.is_empty() {
        return longest(direct);
    }
    longest(
        rows()
            .filter_map(|r| std::fs::canonicalize(&r.worktree_path).ok().map(|p| (r, p)))
            .filter(|(_, p)| path.starts_with(p))
            .collect(),
    )
}

/// The manifest fields the contract needs.
#[derive(Deserialize)]
struct Manifest {
    phase: Phase,
    gate: Gate,
}

/// The run the row's latest phase record names. Records of older versions carry no number:
/// then the newest folder of that phase is the run.
fn latest_run(row: &Row, key: &TaskKey, main: &Path) -> Result<Option<CurrentRun>> {
    let task = Segment::new(&row.task_id);
    let Some(last) = row.phases.last() else {
        return match row.last_phase {
            None => Ok(None),
            Some(p) => Err(run_gone(key, p, &runs::runs_dir(main, &task))),
        };
    };
    let dir = match last.run {
        Some(n) => Some(runs::folder(main, &task, n, last.phase)).filter(|d| d.is_dir()),
        None => runs::list(main, &task).into_iter().rev().find(|r| r.1 == Some(last.phase)).map(|r| r.2),
    };
    let dir = dir.ok_or_else(|| run_gone(key, last.phase, &runs::runs_dir(main, &task)))?;
    let number = runs::number(&dir).unwrap_or(0);
    let plan = if last.phase == Phase::Implementation { Some(recorded_plan(key, &dir)?) } else { None };
    Ok(Some(CurrentRun { phase: last.phase, number, dir, plan }))
}

/// The approved plan an implementation run's manifest records.
fn recorded_plan(key: &TaskKey, dir: &Path) -> Result<ApprovedPlan> {
    let path = dir.join(MANIFEST);
    let unusable = |why: String| {
        Error::failed(format!("task {key}: the manifest {} of its implementation run {why}", path.display())).hint(
            format!(
                "run the implementation phase again: `git okstra task phase {} implementation --approved-plan <plan>`",
                key.task
            ),
        )
    };
    let text = std::fs::read_to_string(&path).map_err(|e| unusable(format!("cannot be read ({e})")))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| unusable(format!("does not parse ({e})")))?;
    match (manifest.phase, manifest.gate) {
        (Phase::Implementation, Gate::ApprovedPlan(plan)) => Ok(plan),
        (Phase::Implementation, _) => Err(unusable("records no approved plan with its `## Files`".into())),
        (other, _) => Err(unusable(format!("is of the {other} phase"))),
    }
}

fn run_gone(key: &TaskKey, phase: Phase, runs_dir: &Path) -> Error {
    Error::failed(format!("task {key}: the folder of its latest run ({phase}) is gone from {}", runs_dir.display()))
        .hint(format!("start a new run: `git okstra task phase {} <PHASE>`", key.task))
}

/// `path` made absolute against `cwd` with every symbolic link resolved, also when its last
/// components do not exist yet (a file an edit would create): the longest existing prefix is
/// resolved, the rest appended with `.` and `..` applied.
pub fn resolve(path: &Path, cwd: &Path) -> PathBuf {
    let abs = if path.is_absolute() { path.to_path_buf() } else { cwd.join(path) };
    if let Ok(real) = std::fs::canonicalize(&abs) {
        return real;
    }
    let mut out = PathBuf::from("/");
    let mut exists = true;
    for comp in abs.components() {
        match comp {
            Component::Prefix(_) | Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                out.push(name);
                if exists {
                    match std::fs::canonicalize(&out) {
                        Ok(real) => out = real,
                        Err(_) => exists = false,
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_follows_links_and_keeps_missing_tails() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::create_dir_all(root.join("real/sub")).unwrap();
        std::os::unix::fs::symlink(root.join("real"), root.join("link")).unwrap();
        assert_eq!(resolve(Path::new("link/sub"), &root), root.join("real/sub"));
        assert_eq!(resolve(Path::new("link/new/file.rs"), &root), root.join("real/new/file.rs"));
        assert_eq!(resolve(Path::new("link/sub/../x"), &root), root.join("real/x"));
        assert_eq!(resolve(&root.join("link/./new/../y"), Path::new("/")), root.join("real/y"));
        // `..` after a link leaves the link's target, as the kernel resolves it, not the link.
        std::fs::create_dir_all(root.join("a/target")).unwrap();
        std::os::unix::fs::symlink(root.join("a/target"), root.join("deep")).unwrap();
        assert_eq!(resolve(Path::new("deep/../x"), &root), root.join("a/x"));
    }
}
