//! The marker of a task worktree: `<the worktree's own git dir>/okstra/task`, written by
//! `task start`, naming the okstra home whose registry holds the task. The commit shims only
//! ask whether it exists, so an ordinary commit elsewhere starts no binary; `pre-commit` reads
//! the registry it names (not `OKSTRA_HOME`, which a command may set).
//!
//! What an agent could do to it: delete or rewrite it — refused by the guard's `self-protect`
//! (`<git dir>/worktrees/<id>/okstra/`); and the shim also runs the binary for any worktree
//! under the okstra home's `worktrees/` folder, so a marker gone by other means still leaves
//! the commit judged there.

use std::path::{Path, PathBuf};

use crate::error::{io_at, Result};

/// The marker's path under a worktree's git dir.
pub const FILE: &str = "okstra/task";

/// `okstra-task 1` then the okstra home, one line each.
const HEADER: &str = "okstra-task 1";

/// Write the marker for the worktree whose own git dir is `git_dir` (idempotent).
pub fn write(git_dir: &Path, okstra_home: &Path) -> Result<()> {
    let path = git_dir.join(FILE);
    let text = format!("{HEADER}\n{}\n", okstra_home.display());
    if std::fs::read_to_string(&path).is_ok_and(|t| t == text) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_at("cannot create", dir, e))?;
    }
    super::write_atomic(&path, text.as_bytes(), 0o644)
}

/// What the marker under `git_dir` says: `None` when there is none, `Some(None)` when it is
/// there but does not read as one (the caller fails closed), else the okstra home it names.
pub fn read(git_dir: &Path) -> Option<Option<PathBuf>> {
    let text = match std::fs::read_to_string(git_dir.join(FILE)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(_) => return Some(None),
    };
    let mut lines = text.lines();
    let home = (lines.next() == Some(HEADER)).then(|| lines.next()).flatten();
    Some(home.map(PathBuf::from).filter(|h| h.is_absolute()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tampering() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(read(tmp.path()), None);
        write(tmp.path(), Path::new("/h/.okstra")).unwrap();
        write(tmp.path(), Path::new("/h/.okstra")).unwrap();
        assert_eq!(read(tmp.path()), Some(Some(PathBuf::from("/h/.okstra"))));
        std::fs::write(tmp.path().join(FILE), "whatever\n").unwrap();
        assert_eq!(read(tmp.path()), Some(None), "a marker that does not read fails closed");
        std::fs::write(tmp.path().join(FILE), "okstra-task 1\nrelative\n").unwrap();
        assert_eq!(read(tmp.path()), Some(None));
    }
}
