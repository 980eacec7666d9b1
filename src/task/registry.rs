//! The machine-wide registry of task worktrees (DESIGN §2):
//! `$OKSTRA_HOME/worktrees/registry.json`, guarded by an exclusive lock on `registry.lock`
//! held for the whole read-modify-write, written atomically (temp file, fsync, rename,
//! fsync folder). A file that does not parse is never treated as empty nor overwritten.
//!
//! This module owns the file format and the lock; it knows nothing of git.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{io_at, Error, Result};
use crate::phase::Phase;
use crate::task::names::TaskKey;

pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Active,
    Released,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Active => "active",
            Status::Released => "released",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseRecord {
    pub phase: Phase,
    pub at: String,
    /// The run's number (its folder `<NNN>-<phase>`); absent in records of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<u32>,
}

/// One task. Unknown fields (from older or newer tools) are kept as they were.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Row {
    #[serde(default)]
    pub project_id: String,
    #[serde(default)]
    pub task_group: String,
    #[serde(default)]
    pub task_id: String,
    #[serde(default)]
    pub task_id_raw: String,
    #[serde(default)]
    pub title: String,
    /// Main worktree path of the repository the task belongs to.
    #[serde(default)]
    pub repo: String,
    #[serde(default)]
    pub worktree_path: String,
    #[serde(default)]
    pub branch: String,
    /// Full SHA the branch was created from.
    #[serde(default)]
    pub base_ref: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub last_phase: Option<Phase>,
    #[serde(default)]
    pub phases: Vec<PhaseRecord>,
    #[serde(default)]
    pub status: Status,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Row {
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.project_id, self.task_group, self.task_id)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Registry {
    /// Absent in files written by the earlier Python tool: read as version 1.
    #[serde(default)]
    pub version: Option<u32>,
    #[serde(default)]
    pub tasks: BTreeMap<String, Row>,
    /// `<repo>:<branch>` → task key: branch uniqueness per repository.
    #[serde(default)]
    pub branches: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

pub fn branch_slot(repo: &str, branch: &str) -> String {
    format!("{repo}:{branch}")
}

/// The current time, RFC 3339 in UTC.
pub fn now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

impl Registry {
    pub fn get(&self, key: &TaskKey) -> Option<&Row> {
        self.tasks.get(&key.to_string())
    }

    pub fn get_mut(&mut self, key: &TaskKey) -> Option<&mut Row> {
        self.tasks.get_mut(&key.to_string())
    }

    /// Which task holds `branch` in `repo`, if any.
    pub fn branch_owner(&self, repo: &str, branch: &str) -> Option<&str> {
        self.branches.get(&branch_slot(repo, branch)).map(String::as_str)
    }

    /// Insert or replace an active row and claim its branch slot.
    /// Fails if the slot belongs to another task.
    pub fn reserve(&mut self, mut row: Row) -> Result<()> {
        let key = row.key();
        if let Some(owner) = self.branch_owner(&row.repo, &row.branch) {
            if owner != key {
                return Err(Error::failed(format!("branch '{}' is already reserved by task {owner}", row.branch)));
            }
        }
        row.status = Status::Active;
        self.branches.insert(branch_slot(&row.repo, &row.branch), key.clone());
        self.tasks.insert(key, row);
        Ok(())
    }

    /// Append a run of `phase` (numbered `run`) to a row's history.
    pub fn record_phase(&mut self, key: &TaskKey, phase: Phase, run: u32) -> Result<()> {
        let row = self.get_mut(key).ok_or_else(|| Error::failed(format!("no task {key} in the registry")))?;
        row.phases.push(PhaseRecord { phase, at: now(), run: Some(run) });
        row.last_phase = Some(phase);
        Ok(())
    }

    /// Mark a row released and free its branch slot.
    pub fn release(&mut self, key: &TaskKey) -> Result<()> {
        let k = key.to_string();
        let row = self.tasks.get_mut(&k).ok_or_else(|| Error::failed(format!("no task {key} in the registry")))?;
        row.status = Status::Released;
        let slot = branch_slot(&row.repo, &row.branch);
        if self.branches.get(&slot) == Some(&k) {
            self.branches.remove(&slot);
        }
        Ok(())
    }

    /// Drop a row and its slot entirely.
    pub fn remove(&mut self, key: &str) -> Option<Row> {
        let row = self.tasks.remove(key)?;
        let slot = branch_slot(&row.repo, &row.branch);
        if self.branches.get(&slot).map(String::as_str) == Some(key) {
            self.branches.remove(&slot);
        }
        Some(row)
    }

    /// Parse registry text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Registry> {
        let reg: Registry = serde_json::from_str(text).map_err(|e| corrupt(path, &e.to_string()))?;
        match reg.version {
            None | Some(VERSION) => Ok(reg),
            Some(v) => Err(Error::failed(format!(
                "registry {} has version {v}; this git-okstra understands version {VERSION}",
                path.display()
            ))
            .hint("upgrade git-okstra")),
        }
    }
}

fn corrupt(path: &Path, why: &str) -> Error {
    Error::failed(format!("registry {} is corrupt ({why}); nothing was changed", path.display()))
        .hint("run `git okstra doctor --repair` to move it aside and rebuild it from the worktrees on disk")
}

/// Where the registry lives, and its lock.
#[derive(Debug, Clone)]
pub struct Store {
    pub dir: PathBuf,
}

impl Store {
    /// The store under `$OKSTRA_HOME/worktrees`.
    pub fn at_home(home: &Path) -> Store {
        Store { dir: home.join("worktrees") }
    }

    pub fn file(&self) -> PathBuf {
        self.dir.join("registry.json")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.dir.join("registry.lock")
    }

    /// Read the registry without the lock (the file is replaced atomically, so a reader
    /// sees one whole version). A missing file is an empty registry.
    pub fn load(&self) -> Result<Registry> {
        let path = self.file();
        match std::fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| corrupt(&path, "not UTF-8"))?;
                Registry::parse(&text, &path)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Registry::default()),
            Err(e) => Err(io_at("cannot read registry", &path, e)),
        }
    }

    /// Take the exclusive lock (blocking). Released when the guard drops or the process dies.
    pub fn lock(&self) -> Result<fslock::LockFile> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io_at("cannot create", &self.dir, e))?;
        let path = self.lock_file();
        let mut lock = fslock::LockFile::open(&path).map_err(|e| io_at("cannot open lock", &path, e))?;
        lock.lock().map_err(|e| io_at("cannot lock", &path, e))?;
        Ok(lock)
    }

    /// Lock, load, let `f` change the registry, write it back if it changed, unlock.
    /// If `f` fails nothing is written.
    pub fn transaction<T>(&self, f: impl FnOnce(&mut Registry) -> Result<T>) -> Result<T> {
        let _lock = self.lock()?;
        let mut reg = self.load()?;
        let before = reg.clone();
        let out = f(&mut reg)?;
        if reg != before {
            self.save(&mut reg)?;
        }
        Ok(out)
    }

    /// Atomic write; call only with the lock held.
    pub fn save(&self, reg: &mut Registry) -> Result<()> {
        reg.version = Some(VERSION);
        let path = self.file();
        let mut text = serde_json::to_string_pretty(reg).map_err(|e| Error::failed(e.to_string()))?;
        text.push('\n');
        let tmp = self.dir.join(format!("registry.json.tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io_at("cannot write registry", &path, e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: (&str, &str, &str), repo: &str, branch: &str) -> Row {
        Row {
            project_id: key.0.into(),
            task_group: key.1.into(),
            task_id: key.2.into(),
            repo: repo.into(),
            branch: branch.into(),
            ..Row::default()
        }
    }

    #[test]
    fn branch_slots_are_per_repository() {
        let mut reg = Registry::default();
        reg.reserve(row(("p", "g", "t1"), "/r1", "feat-x")).unwrap();
        reg.reserve(row(("q", "g", "t1"), "/r2", "feat-x")).unwrap();
        let err = reg.reserve(row(("p", "g", "t2"), "/r1", "feat-x")).unwrap_err();
        assert!(err.message.contains("already reserved by task p/g/t1"), "{}", err.message);
        reg.release(&TaskKey::new("p", "g", "t1")).unwrap();
        assert_eq!(reg.branch_owner("/r1", "feat-x"), None);
        assert_eq!(reg.tasks["p/g/t1"].status, Status::Released);
        reg.reserve(row(("p", "g", "t2"), "/r1", "feat-x")).unwrap();
    }

    #[test]
    fn versionless_and_unknown_fields_survive() {
        let text = r#"{"tasks": {"p/g/t": {"project_id": "p", "task_group": "g", "task_id": "t",
            "legacy": 7}}, "branches": {}, "note": "py"}"#;
        let reg = Registry::parse(text, Path::new("r.json")).unwrap();
        assert_eq!(reg.version, None);
        let out = serde_json::to_value(&reg).unwrap();
        assert_eq!(out["tasks"]["p/g/t"]["legacy"], 7);
        assert_eq!(out["note"], "py");
    }

    #[test]
    fn corrupt_and_future_files_are_errors() {
        let e = Registry::parse("{\"tasks\": [", Path::new("/x/registry.json")).unwrap_err();
        assert!(e.message.contains("/x/registry.json is corrupt"));
        let e = Registry::parse(r#"{"version": 9, "tasks": {}}"#, Path::new("r")).unwrap_err();
        assert!(e.message.contains("version 9"));
    }
}
