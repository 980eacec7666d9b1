//! Stamps: proof that a skippable hook ran for one git process. `pre-commit` and
//! `pre-merge-commit` leave a `commit` stamp named after the parent git process (the hooks are
//! its direct children: the shim `exec`s the binary); `prepare-commit-msg`, which
//! `--no-verify` cannot skip, looks for the stamp of the same process.
//!
//! A stamp holds the process start time where the system reports it, so a recycled pid never
//! matches an old stamp; elsewhere stamps older than a day are ignored. Also here: finding the
//! git dir without opening the repository.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::process;

/// Stamps older than this are ignored and swept.
const MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Commit,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Commit => "commit",
        }
    }
}

/// The git dir of the process that ran the hook, cheaply: git exports `GIT_DIR` to hooks in
/// linked worktrees and bare repositories; in a main worktree the hook runs at the top, next
/// to `.git`. `None` when neither holds (then the caller opens the repository properly).
pub fn hook_git_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("GIT_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    let dot_git = Path::new(".git");
    let meta = std::fs::metadata(dot_git).ok()?;
    if meta.is_dir() {
        return Some(dot_git.to_path_buf());
    }
    let text = std::fs::read_to_string(dot_git).ok()?;
    let target = text.strip_prefix("gitdir:")?.trim();
    Some(PathBuf::from(target))
}

fn dir(git_dir: &Path) -> PathBuf {
    git_dir.join("okstra").join("stamps")
}

fn path(git_dir: &Path, kind: Kind, pid: u32) -> PathBuf {
    dir(git_dir).join(format!("{}-{pid}", kind.prefix()))
}

/// Record that the skippable hook of `kind` ran for process `pid`. The commit shims write the
/// same bytes in `sh` (`hooks/stamp.sh`): change both or neither. The `prepare-commit-msg`
/// shim consumes a stamp by appending `x`, which no start time matches; [`sweep`] removes it.
pub fn write(git_dir: &Path, kind: Kind, pid: u32) -> std::io::Result<()> {
    let d = dir(git_dir);
    std::fs::create_dir_all(&d)?;
    sweep_dir(&d);
    std::fs::write(path(git_dir, kind, pid), process::start_time(pid).unwrap_or_default())
}

/// Whether a valid stamp of `kind` exists for `pid`; `consume` removes it.
pub fn check(git_dir: &Path, kind: Kind, pid: u32, consume: bool) -> bool {
    let p = path(git_dir, kind, pid);
    let Ok(content) = std::fs::read_to_string(&p) else { return false };
    let valid = match process::start_time(pid) {
        Some(start) => content == start,
        None => content.is_empty() && !too_old(&p),
    };
    if consume || !valid {
        let _ = std::fs::remove_file(&p);
    }
    valid
}

fn too_old(p: &Path) -> bool {
    let modified = std::fs::metadata(p).and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
    SystemTime::now().duration_since(modified).map(|age| age > MAX_AGE).unwrap_or(false)
}

/// Remove the stamps nobody will read: those of a git process that has exited (a commit that
/// stopped before `prepare-commit-msg`; the `push-` stamps earlier versions left), and,
/// where the system does not say which processes live, those older than a day. The commit
/// shims write and consume stamps in `sh` and leave the binary to sweep: `pre-commit` starts
/// it once more than 16 commit stamps (consumed or not) are there, and `prepare-commit-msg`
/// sweeps whenever the binary runs.
pub fn sweep(git_dir: &Path) {
    sweep_dir(&dir(git_dir));
}

fn sweep_dir(d: &Path) {
    let Ok(entries) = std::fs::read_dir(d) else { return };
    let proc_known = Path::new("/proc/self/stat").exists();
    for e in entries.flatten() {
        let name = e.file_name();
        let pid = name.to_str().and_then(|n| n.rsplit_once('-')).and_then(|(_, pid)| pid.parse::<u32>().ok());
        let exited = proc_known && pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
        if exited || too_old(&e.path()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_match_their_process_only() {
        let tmp = tempfile::tempdir().unwrap();
        let me = std::process::id();
        write(tmp.path(), Kind::Commit, me).unwrap();
        assert!(check(tmp.path(), Kind::Commit, me, false));
        assert!(check(tmp.path(), Kind::Commit, me, true));
        assert!(!check(tmp.path(), Kind::Commit, me, true), "consumed");
        // Consumed by the sh shim: an `x` appended.
        write(tmp.path(), Kind::Commit, me).unwrap();
        let p = path(tmp.path(), Kind::Commit, me);
        std::fs::write(&p, std::fs::read_to_string(&p).unwrap() + "x").unwrap();
        assert!(!check(tmp.path(), Kind::Commit, me, false));
        assert!(!p.exists(), "an invalid stamp is removed");
        // A stamp from an earlier process that had this pid.
        std::fs::write(path(tmp.path(), Kind::Commit, me), "1").unwrap();
        assert_eq!(check(tmp.path(), Kind::Commit, me, false), process::start_time(me).is_none());
    }
}
