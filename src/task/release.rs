//! `task release [--remove [--force]]`: marking a task released, and removing its worktree
//! and branch only once everything that could lose work or stop the removal was checked.
//!
//! Reads facts through [`crate::git::Repo`] and `git status`/`rev-list`; mutates only through
//! [`crate::git::run`]; changes the registry only inside its lock.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::git;
use crate::task::registry::Row;
use crate::task::worktree::{interrupted_add, remove_interrupted, Context};

/// Commits reachable from the worktree's HEAD or its branch and from nothing else
/// (no other branch, remote-tracking branch, tag or the base): what `branch -D` would lose.
pub fn unique_commits(worktree: &Path, row: &Row) -> Result<Vec<String>> {
    let branch_ref = format!("refs/heads/{}", row.branch);
    let mut args: Vec<String> = vec!["rev-list".into()];
    if worktree.is_dir() {
        args.push("HEAD".into());
    }
    args.push(branch_ref.clone());
    args.extend([
        "--not".into(),
        // `--exclude` patterns given to `--branches` are relative to refs/heads/.
        format!("--exclude={}", row.branch),
        "--branches".into(),
        "--remotes".into(),
        "--tags".into(),
    ]);
    if !row.base_ref.is_empty() {
        args.push(row.base_ref.clone());
    }
    args.push("--".into());
    let cwd = if worktree.is_dir() { worktree.to_path_buf() } else { PathBuf::from(&row.repo) };
    let out = git::run(&cwd, &args)?;
    Ok(out.stdout.lines().map(str::to_string).collect())
}

/// What `task release` did.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseOutcome {
    pub key: String,
    pub status: String,
    pub removed_worktree: bool,
    pub deleted_branch: bool,
    pub path: String,
    pub branch: String,
}

/// A row (tampered with, or from a bug) may name a branch that is not the task's to delete:
/// a protected base branch, or one checked out in another worktree. `--force` never overrides.
fn refuse_foreign_branch(ctx: &Context, branch: &str, task_wt: &Path) -> Result<()> {
    if crate::policy::Protected::from_repo(&ctx.repo).contains(branch) {
        return Err(Error::failed(format!(
            "the task's row names the protected branch '{branch}'; refusing to delete it"
        ))
        .hint("the registry row is wrong: run `git okstra doctor`, or release without --remove"));
    }
    let list = git::run(ctx.repo.main_worktree(), &["worktree", "list", "--porcelain", "-z"])?;
    let want = format!("branch refs/heads/{branch}");
    let task_wt = std::fs::canonicalize(task_wt).unwrap_or_else(|_| task_wt.to_path_buf());
    for block in list.stdout.split("\0\0") {
        let mut fields = block.split('\0');
        let path = fields.next().and_then(|l| l.strip_prefix("worktree ")).map(PathBuf::from);
        if fields.any(|f| f == want) && path.as_deref() != Some(task_wt.as_path()) {
            return Err(Error::failed(format!(
                "branch '{branch}' is checked out in {}; refusing to delete it",
                path.unwrap_or_default().display()
            ))
            .hint("the registry row is wrong: run `git okstra doctor`, or release without --remove"));
        }
    }
    Ok(())
}

/// Mark a task released; with `remove`, also remove its worktree and branch (refusing a
/// dirty worktree or commits that exist nowhere else unless `force`).
pub fn release(ctx: &Context, spec: &str, remove: bool, force: bool) -> Result<ReleaseOutcome> {
    let _lock = ctx.store.lock()?;
    let mut reg = ctx.store.load()?;
    let (key, row) = ctx.resolve_task(&reg, spec)?;
    let wt = PathBuf::from(&row.worktree_path);
    let mut out = ReleaseOutcome {
        key: key.to_string(),
        status: "released".into(),
        removed_worktree: false,
        deleted_branch: false,
        path: row.worktree_path.clone(),
        branch: row.branch.clone(),
    };
    if remove {
        let root = ctx.worktrees_root()?;
        let lexically_inside = wt.starts_with(&root) && !wt.components().any(|c| c == Component::ParentDir);
        let inside = std::fs::canonicalize(&wt).map(|p| p.starts_with(&root)).unwrap_or(lexically_inside);
        if !inside {
            return Err(Error::failed(format!(
                "task {key} points at {}, outside {}; refusing to remove it",
                wt.display(),
                root.display()
            ))
            .hint("remove that folder yourself if you mean it, then `git okstra task release` without --remove"));
        }
        refuse_foreign_branch(ctx, &row.branch, &wt)?;
        // A worktree git still marks `initializing` holds only git's own partial checkout.
        let interrupted = interrupted_add(&ctx.repo.common_dir, &wt);
        if wt.is_dir() && !force && !interrupted && git::is_dirty(&wt)? {
            return Err(Error::failed(format!("worktree {} has uncommitted changes or untracked files", wt.display()))
                .hint("commit or stash them, or pass --force to discard them"));
        }
        let branch_oid = ctx.repo.branch_oid(&row.branch);
        if !force && (branch_oid.is_some() || wt.is_dir()) {
            let unique = unique_commits(&wt, &row)?;
            if !unique.is_empty() {
                return Err(Error::failed(format!(
                    "branch '{}' has {} commit(s) that are on no remote branch, no other branch and not in the base",
                    row.branch,
                    unique.len()
                ))
                .hint(format!(
                    "push or merge them first, or pass --force to delete them (newest: {})",
                    &unique[0][..12.min(unique[0].len())]
                )));
            }
        }
        let main = ctx.repo.main_worktree().to_path_buf();
        if wt.is_dir() {
            let wt_s = wt.to_string_lossy().into_owned();
            let mut args = vec!["worktree", "remove"];
            if force {
                args.push("--force");
            }
            args.extend(["--end-of-options", &wt_s]);
            // The sync links are ours and point into the main worktree: drop them first so
            // nothing can follow them.
            for name in ctx.sync_dirs().unwrap_or_default() {
                let p = wt.join(&name);
                if std::fs::symlink_metadata(&p).map(|m| m.file_type().is_symlink()).unwrap_or(false) {
                    let _ = std::fs::remove_file(&p);
                }
            }
            if interrupted {
                remove_interrupted(&main, &ctx.repo.common_dir, &wt)?;
            } else {
                git::run(&main, &args)?;
            }
            out.removed_worktree = true;
        }
        git::run(&main, &["worktree", "prune"])?;
        // Compare-and-swap on the value read before the removal: a branch that moved since is kept.
        if let Some(oid) = branch_oid {
            git::run(&main, &["update-ref", "-d", &format!("refs/heads/{}", row.branch), &oid])?;
            out.deleted_branch = true;
        }
    }
    reg.release(&key)?;
    ctx.store.save(&mut reg)?;
    Ok(out)
}
