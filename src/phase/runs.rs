//! Run folders: `<main>/.project-docs/okstra/tasks/<task>/runs/<NNN>-<phase>/`, one per phase
//! run, numbered under a lock so concurrent runs never share a number.

use std::path::{Path, PathBuf};

use crate::error::{io_at, Result};
use crate::phase::Phase;
use crate::task::names::Segment;

/// The report a final-verification run leaves in its run folder.
pub const FINAL_VERIFICATION_REPORT: &str = "final-verification-report.md";
/// The plan an implementation-planning run leaves in its run folder (its profile says so).
pub const PLAN_FILE: &str = "plan.md";
/// What a `git okstra handoff` run did, as JSON, beside its report.
pub const HANDOFF_RECORD: &str = "handoff.json";

/// `<main>/.project-docs/okstra/tasks/<task>`: the task's shared notes.
pub fn task_docs(main: &Path, task: &Segment) -> PathBuf {
    main.join(".project-docs").join("okstra").join("tasks").join(task.as_str())
}

pub fn runs_dir(main: &Path, task: &Segment) -> PathBuf {
    task_docs(main, task).join("runs")
}

/// Existing run folders as (number, phase, path), oldest first.
pub fn list(main: &Path, task: &Segment) -> Vec<(u32, Option<Phase>, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(runs_dir(main, task)) else { return Vec::new() };
    let mut runs: Vec<_> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let (num, phase) = name.split_once('-')?;
            let n = num.parse::<u32>().ok()?;
            Some((n, phase.parse::<Phase>().ok(), e.path()))
        })
        .collect();
    runs.sort_by_key(|r| r.0);
    runs
}

/// The folder of run `number` of `phase`.
pub fn folder(main: &Path, task: &Segment, number: u32, phase: Phase) -> PathBuf {
    runs_dir(main, task).join(format!("{number:03}-{phase}"))
}

/// The number of a run folder (`004-implementation` → 4).
pub fn number(run_dir: &Path) -> Option<u32> {
    run_dir.file_name()?.to_str()?.split('-').next()?.parse().ok()
}

/// Make the next run folder for `phase` (numbering is machine-safe: an exclusive lock on
/// `runs/.lock` is held while the number is chosen and the folder made).
pub fn create(main: &Path, task: &Segment, phase: Phase) -> Result<PathBuf> {
    let dir = runs_dir(main, task);
    std::fs::create_dir_all(&dir).map_err(|e| io_at("cannot create", &dir, e))?;
    let lock_path = dir.join(".lock");
    let mut lock = fslock::LockFile::open(&lock_path).map_err(|e| io_at("cannot open lock", &lock_path, e))?;
    lock.lock().map_err(|e| io_at("cannot lock", &lock_path, e))?;
    let next = list(main, task).last().map(|r| r.0 + 1).unwrap_or(1);
    let path = folder(main, task, next, phase);
    std::fs::create_dir(&path).map_err(|e| io_at("cannot create run folder", &path, e))?;
    Ok(path)
}

/// The newest run folder of `phase` that holds `file`, and that file's path.
pub fn newest_with(main: &Path, task: &Segment, phase: Phase, file: &str) -> Option<PathBuf> {
    list(main, task).into_iter().rev().filter(|r| r.1 == Some(phase)).map(|r| r.2.join(file)).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_and_lookup() {
        let tmp = tempfile::tempdir().unwrap();
        let task = Segment::new("DEV-1");
        let a = create(tmp.path(), &task, Phase::RequirementsDiscovery).unwrap();
        let b = create(tmp.path(), &task, Phase::FinalVerification).unwrap();
        let c = create(tmp.path(), &task, Phase::FinalVerification).unwrap();
        assert!(a.ends_with("001-requirements-discovery"));
        assert!(b.ends_with("002-final-verification"));
        assert!(c.ends_with("003-final-verification"));
        assert_eq!(c, folder(tmp.path(), &task, 3, Phase::FinalVerification));
        assert_eq!(number(&c), Some(3));
        assert_eq!(number(Path::new("runs")), None);
        assert_eq!(newest_with(tmp.path(), &task, Phase::FinalVerification, FINAL_VERIFICATION_REPORT), None);
        std::fs::write(b.join(FINAL_VERIFICATION_REPORT), "x").unwrap();
        assert_eq!(
            newest_with(tmp.path(), &task, Phase::FinalVerification, FINAL_VERIFICATION_REPORT),
            Some(b.join(FINAL_VERIFICATION_REPORT))
        );
    }
}
