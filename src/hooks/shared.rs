//! Which repositories use a hooks folder that lies outside any one of them (an absolute
//! `core.hooksPath` several repositories share). `hooks install` notes its repository in
//! `<hooks folder>/.okstra-repositories` (one common dir a line, under a lock), uninstall takes
//! it out again, and refuses while another repository on the list still uses the folder: one
//! whose common dir exists and whose `core.hooksPath` still leads there. Repositories that
//! point at the folder without ever running `hooks install` are not known.

use std::path::{Path, PathBuf};

use crate::error::{io_at, Result};
use crate::git::Repo;

const RECORD: &str = ".okstra-repositories";
const LOCK: &str = ".okstra-repositories.lock";

/// Whether `dir` lies outside the repository (neither in its git dir nor in its main worktree):
/// then other repositories may use it too, and the record is kept.
pub fn outside(repo: &Repo, dir: &Path) -> bool {
    !dir.starts_with(&repo.common_dir) && !dir.starts_with(repo.main_worktree())
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

fn read(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(dir.join(RECORD)).unwrap_or_default();
    text.lines().filter(|l| !l.is_empty()).map(PathBuf::from).collect()
}

/// Rewrite the record through `change` under its lock; an empty record is removed.
fn update(dir: &Path, change: impl FnOnce(&mut Vec<PathBuf>)) -> Result<()> {
    let lock_path = dir.join(LOCK);
    let mut lock = fslock::LockFile::open(&lock_path).map_err(|e| io_at("cannot open lock", &lock_path, e))?;
    lock.lock().map_err(|e| io_at("cannot lock", &lock_path, e))?;
    let mut list = read(dir);
    change(&mut list);
    let path = dir.join(RECORD);
    if list.is_empty() {
        let _ = std::fs::remove_file(&lock_path);
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_at("cannot remove", &path, e)),
            _ => Ok(()),
        };
    }
    let text: String = list.iter().map(|p| format!("{}\n", p.display())).collect();
    super::write_atomic(&path, text.as_bytes(), 0o644)
}

/// Note that `repo` uses the hooks folder `dir` (only kept for a folder outside it).
pub fn add(repo: &Repo, dir: &Path) -> Result<()> {
    if !outside(repo, dir) {
        return Ok(());
    }
    let me = canon(&repo.common_dir);
    update(dir, |list| {
        if !list.contains(&me) {
            list.push(me);
        }
    })
}

/// Take `repo` off the folder's record, with every entry no longer using it (`all`: every entry).
pub fn remove(repo: &Repo, dir: &Path, all: bool) -> Result<()> {
    if !dir.join(RECORD).exists() {
        return Ok(());
    }
    let me = canon(&repo.common_dir);
    update(dir, |list| {
        list.retain(|p| !all && *p != me && uses(p, dir));
    })
}

/// The other repositories on the folder's record that still use it.
pub fn others(repo: &Repo, dir: &Path) -> Vec<PathBuf> {
    let me = canon(&repo.common_dir);
    read(dir).into_iter().filter(|p| *p != me && uses(p, dir)).collect()
}

/// Whether the repository whose common dir is `common` exists and still runs hooks from `dir`.
fn uses(common: &Path, dir: &Path) -> bool {
    match Repo::open(common) {
        Ok(other) => canon(&other.hooks_dir()) == canon(dir),
        Err(_) => false,
    }
}
