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

/// Where a pull request stands, as the forge last said (`gh pr view --json state,isDraft`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrState {
    Open,
    Draft,
    Merged,
    Closed,
    /// The forge could not be asked, or answered something this version does not know.
    Unknown,
}

impl PrState {
    pub fn name(self) -> &'static str {
        match self {
            PrState::Open => "open",
            PrState::Draft => "draft",
            PrState::Merged => "merged",
            PrState::Closed => "closed",
            PrState::Unknown => "unknown",
        }
    }
}

/// The task's pull request: recorded by the handoff that created or reused it, refreshed by
/// `task list --pr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrRecord {
    pub url: String,
    pub state: PrState,
    /// `approved`, `changes-requested`, `review-required`, or empty when the forge gave none.
    #[serde(default)]
    pub review: String,
    /// When `state` was learnt (RFC 3339).
    #[serde(default)]
    pub checked_at: String,
}

impl PrRecord {
    /// `#123` from a forge URL ending in the number, else the URL.
    pub fn short(&self) -> String {
        match self.url.trim_end_matches('/').rsplit('/').next() {
            Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => format!("#{n}"),
            _ => self.url.clone(),
        }
    }
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
    /// The pull request the handoff opened or reused; absent until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr: Option<PrRecord>,
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

    /// Record what is known of a task's pull request (no-op for an unknown key).
    pub fn set_pr(&mut self, key: &str, pr: PrRecord) {
        if let Some(row) = self.tasks.get_mut(key) {
            row.pr = Some(pr);
        }
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

    /// Decode registry JSON; `Err` says why it does not parse. An object that names a key
    /// twice (a hand edit, a bad merge) does not parse: serde_json would keep the last value
    /// silently, and the next write would drop the other.
    pub fn decode(text: &str) -> std::result::Result<Registry, String> {
        serde_json::from_str::<NoDuplicateKeys>(text).map_err(|e| e.to_string())?;
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// Parse registry text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Registry> {
        let reg = Registry::decode(text).map_err(|why| corrupt(path, &why))?;
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

/// Any JSON value, accepted only when no object in it names a key twice.
struct NoDuplicateKeys;

impl<'de> Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(NoDuplicateKeys)
    }
}

impl<'de> serde::de::Visitor<'de> for NoDuplicateKeys {
    type Value = NoDuplicateKeys;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<Self, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<Self, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<Self, E> {
        Ok(self)
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<Self, E> {
        Ok(self)
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<Self, E> {
        Ok(self)
    }
    fn visit_unit<E>(self) -> std::result::Result<Self, E> {
        Ok(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Self, A::Error> {
        while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
        Ok(self)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("the key {key:?} appears twice in one object")));
            }
            map.next_value::<NoDuplicateKeys>()?;
        }
        Ok(self)
    }
}

fn corrupt(path: &Path, why: &str) -> Error {
    Error::failed(format!("registry {} is corrupt ({why}); nothing was changed", path.display()))
        .hint("run `git okstra doctor --repair` to keep a copy and rebuild it from the worktrees on disk")
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

    /// The okstra home the store is under (what a task marker names).
    pub fn home(&self) -> &Path {
        self.dir.parent().unwrap_or(&self.dir)
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

    /// Refuse a `registry.json` that is a symlink: every write replaces the file in one
    /// rename, which would silently turn the link into a file of its own. Readers may follow it.
    pub fn refuse_symlink(&self) -> Result<()> {
        let path = self.file();
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Ok(());
        }
        let target = std::fs::canonicalize(&path).or_else(|_| std::fs::read_link(&path)).unwrap_or_default();
        Err(Error::failed(format!(
            "registry {} is a symlink (to {}); git-okstra replaces its registry in one rename and would turn the link into a file; nothing was changed",
            path.display(),
            target.display()
        ))
        .hint(format!(
            "put the file itself there (`mv {} {}`), or set OKSTRA_HOME to the folder above the one that holds it",
            target.display(),
            path.display()
        )))
    }

    /// [`Store::load`] for a command that will write the registry later: a symlinked registry
    /// is refused now, before the command changes anything.
    pub fn load_to_write(&self) -> Result<Registry> {
        self.refuse_symlink()?;
        self.load()
    }

    /// Take the exclusive lock (blocking). Released when the guard drops or the process dies.
    /// Refused for a symlinked registry (see [`Store::refuse_symlink`]).
    pub fn lock(&self) -> Result<fslock::LockFile> {
        self.refuse_symlink()?;
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
        self.write_atomic(&path, text.as_bytes()).map_err(|e| io_at("cannot write registry", &path, e))
    }

    /// Write `bytes` to `dest` in the registry's folder so that it is never seen torn: a temp
    /// file (`registry.json.tmp-<pid>`), fsync, rename, fsync the folder.
    pub fn write_atomic(&self, dest: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let tmp = self.dir.join(format!("registry.json.tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, dest)?;
            std::fs::File::open(&self.dir)?.sync_all()
        };
        write().inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
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
    fn a_key_named_twice_anywhere_does_not_parse() {
        for text in [
            r#"{"tasks": {"p/g/t": {"branch": "a"}, "p/g/t": {"branch": "b"}}}"#,
            r#"{"tasks": {}, "tasks": {}}"#,
            r#"{"tasks": {"p/g/t": {"branch": "a", "branch": "b"}}}"#,
            r#"{"branches": {"/r:feat-x": "p/g/t", "/r:feat-x": "p/g/u"}}"#,
            r#"{"tasks": {"p/g/t": {"phases": [{"phase": "implementation", "phase": "implementation"}]}}}"#,
        ] {
            let e = Registry::parse(text, Path::new("/x/registry.json")).unwrap_err();
            assert!(e.message.contains("appears twice in one object"), "{text}: {}", e.message);
            assert!(e.message.contains("is corrupt"), "{}", e.message);
        }
        assert!(Registry::parse(r#"{"tasks": {"a/b/c": {}, "a/b/d": {}}}"#, Path::new("r")).is_ok());
    }

    #[test]
    fn pr_short_names() {
        let pr = |url: &str| PrRecord {
            url: url.into(),
            state: PrState::Open,
            review: String::new(),
            checked_at: String::new(),
        };
        assert_eq!(pr("https://github.com/o/r/pull/42").short(), "#42");
        assert_eq!(pr("https://github.com/o/r/pull/42/").short(), "#42");
        assert_eq!(pr("https://forge.example/x").short(), "https://forge.example/x");
    }

    #[test]
    fn corrupt_and_future_files_are_errors() {
        let e = Registry::parse("{\"tasks\": [", Path::new("/x/registry.json")).unwrap_err();
        assert!(e.message.contains("/x/registry.json is corrupt"));
        let e = Registry::parse(r#"{"version": 9, "tasks": {}}"#, Path::new("r")).unwrap_err();
        assert!(e.message.contains("version 9"));
    }
}
