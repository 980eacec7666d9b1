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

/// How many paths an error lists before "and N more".
const SHOWN_PATHS: usize = 5;
/// How many of the branch's own commits a reflog commit is compared with (by patch id).
const PATCH_ID_WINDOW: usize = 1000;

/// Commits that removing the worktree and deleting the branch would make unreachable.
#[derive(Debug, Default)]
pub struct LostCommits {
    /// Reachable from the worktree's HEAD or the branch (newest first).
    pub branch: Vec<String>,
    /// Reachable only from refs that belong to the worktree (`refs/worktree/*`,
    /// `refs/bisect/*`, `refs/rewritten/*`) or from its HEAD reflog, e.g. after a reset.
    pub worktree_only: Vec<String>,
}

/// What survives the removal: every other branch, remote-tracking branch, tag, and the base.
fn kept_revs(row: &Row) -> Vec<String> {
    let mut revs: Vec<String> = vec![
        "--not".into(),
        // `--exclude` patterns given to `--branches` are relative to refs/heads/.
        format!("--exclude={}", row.branch),
        "--branches".into(),
        "--remotes".into(),
        "--tags".into(),
    ];
    if !row.base_ref.is_empty() {
        revs.push(row.base_ref.clone());
    }
    revs
}

/// `git rev-list` of `positive` (and the object names in `stdin`) minus `negative`.
fn rev_list(cwd: &Path, positive: &[String], negative: &[String], stdin: &[String]) -> Result<Vec<String>> {
    let mut args: Vec<String> = vec!["rev-list".into()];
    if !stdin.is_empty() {
        // first, so that what it reads counts as positive in every git version
        args.push("--stdin".into());
    }
    args.extend(positive.iter().cloned());
    args.extend(negative.iter().cloned());
    args.push("--".into());
    let input = stdin.iter().map(|s| format!("{s}\n")).collect::<String>();
    let out = if stdin.is_empty() { git::run(cwd, &args)? } else { git::run_input(cwd, &args, input.as_bytes())? };
    Ok(out.stdout.lines().map(str::to_string).collect())
}

/// The refs git keeps per worktree and deletes with it.
const WORKTREE_REFS: [&str; 3] = ["--glob=refs/worktree/*", "--glob=refs/bisect/*", "--glob=refs/rewritten/*"];

/// Every commit that only this task's worktree or branch still reaches.
pub fn lost_commits(ctx: &Context, wt: &Path, row: &Row) -> Result<LostCommits> {
    let there = wt.is_dir();
    let mut tips = Vec::new();
    if there {
        tips.push("HEAD".to_string());
    }
    if ctx.repo.branch_exists(&row.branch) {
        tips.push(format!("refs/heads/{}", row.branch));
    }
    let kept = kept_revs(row);
    let cwd = if there { wt.to_path_buf() } else { ctx.repo.main_worktree().to_path_buf() };
    let branch = if tips.is_empty() { Vec::new() } else { rev_list(&cwd, &tips, &kept, &[])? };
    if !there {
        return Ok(LostCommits { branch, worktree_only: Vec::new() });
    }
    let reflog = git::Repo::open(wt).map(|r| r.head_reflog()).unwrap_or_default();
    let refs: Vec<String> = WORKTREE_REFS.iter().map(|s| s.to_string()).collect();
    // what HEAD and the branch reach is counted above
    let mut beyond = kept.clone();
    beyond.extend(tips.iter().cloned());
    let only = rev_list(wt, &refs, &beyond, &reflog)?;
    if only.is_empty() {
        return Ok(LostCommits { branch, worktree_only: only });
    }
    // A rebase (or an amend of the message only) leaves the old commits in the reflog while
    // their change lives on in the branch: those do not count. What a worktree ref holds does.
    let pinned: std::collections::HashSet<String> = rev_list(wt, &refs, &beyond, &[])?.into_iter().collect();
    let candidates: Vec<String> = only.iter().filter(|c| !pinned.contains(*c)).cloned().collect();
    let equivalent = same_change(wt, &candidates, &tips, row)?;
    let worktree_only = only.into_iter().filter(|c| !equivalent.contains(c)).collect();
    Ok(LostCommits { branch, worktree_only })
}

/// The `candidates` whose patch id (`git patch-id --stable`) equals that of one of the
/// branch's own commits since the base.
fn same_change(
    wt: &Path,
    candidates: &[String],
    tips: &[String],
    row: &Row,
) -> Result<std::collections::HashSet<String>> {
    if candidates.is_empty() || tips.is_empty() {
        return Ok(Default::default());
    }
    let mut positive = tips.to_vec();
    positive.extend(["--no-merges".to_string(), format!("--max-count={PATCH_ID_WINDOW}")]);
    let base: Vec<String> =
        if row.base_ref.is_empty() { Vec::new() } else { vec!["--not".into(), row.base_ref.clone()] };
    let mine = rev_list(wt, &positive, &base, &[])?;
    let input: String = candidates.iter().chain(&mine).map(|c| format!("{c}\n")).collect();
    let log = git::run_input(
        wt,
        &[
            "log",
            "-p",
            "--no-walk=unsorted",
            "--stdin",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--format=commit %H",
        ],
        input.as_bytes(),
    )?;
    let ids = git::run_input(wt, &["patch-id", "--stable"], log.stdout.as_bytes())?;
    let by_commit: std::collections::HashMap<&str, &str> =
        ids.stdout.lines().filter_map(|l| l.split_once(' ')).map(|(id, c)| (c, id)).collect();
    let branch_ids: std::collections::HashSet<&str> =
        mine.iter().filter_map(|c| by_commit.get(c.as_str()).copied()).collect();
    Ok(candidates
        .iter()
        .filter(|c| by_commit.get(c.as_str()).is_some_and(|id| branch_ids.contains(id)))
        .cloned()
        .collect())
}

/// `a, b, c and 4 more`.
fn some_of(items: &[String]) -> String {
    let mut s = items.iter().take(SHOWN_PATHS).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > SHOWN_PATHS {
        s.push_str(&format!(" and {} more", items.len() - SHOWN_PATHS));
    }
    s
}

fn short(oid: &str) -> &str {
    &oid[..12.min(oid.len())]
}

/// The ignored paths removing the worktree would delete, less what git-okstra made there
/// itself: its sync links (symlinks to the main worktree's folder) and the agent-guard
/// settings files `task start` wrote.
fn ignored_work(ctx: &Context, wt: &Path, ignored: Vec<String>) -> Result<Vec<String>> {
    let main = ctx.repo.main_worktree();
    let sync = ctx.sync_dirs()?;
    let ours_link =
        |p: &str| sync.iter().any(|n| n == p) && std::fs::read_link(wt.join(p)).is_ok_and(|t| t == main.join(p));
    let agents = crate::guard::agents::configured(&ctx.repo)?;
    // The settings file, and the `.gitignore` beside it that keeps it out of git in this
    // worktree alone (see `worktree::install_guards`).
    let ours_settings = |p: &str| {
        agents.iter().filter_map(|a| a.task_settings_file()).any(|file| {
            let file = Path::new(file);
            let beside = file.parent().map(|d| d.join(".gitignore"));
            Path::new(p) == file || beside.is_some_and(|g| Path::new(p) == g && ours_gitignore(&wt.join(&g), file))
        })
    };
    Ok(ignored.into_iter().filter(|p| !ours_link(p) && !ours_settings(p)).collect())
}

/// Whether `gitignore` is the one `task start` wrote beside `file`: it names only the file and itself.
fn ours_gitignore(gitignore: &Path, file: &Path) -> bool {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    std::fs::read_to_string(gitignore).is_ok_and(|t| t == super::worktree::own_gitignore(&name))
}

/// Refuse what removing would lose: changes, untracked and ignored files (when `files`), and
/// commits nothing else reaches. Ignored files come last: when they are all that is left,
/// `--force` (which skips every check) loses nothing else.
fn refuse_losses(ctx: &Context, wt: &Path, row: &Row, files: bool) -> Result<()> {
    let status = if files && wt.is_dir() { git::worktree_status(wt, true)? } else { Default::default() };
    if !status.changed.is_empty() {
        return Err(Error::failed(format!(
            "worktree {} has uncommitted changes or untracked files ({} path(s): {})",
            wt.display(),
            status.changed.len(),
            some_of(&status.changed)
        ))
        .hint("commit or stash them, or pass --force to discard them"));
    }
    refuse_lost_commits(ctx, wt, row)?;
    let ignored = ignored_work(ctx, wt, status.ignored)?;
    if !ignored.is_empty() {
        return Err(Error::failed(format!(
            "worktree {} holds {} ignored path(s) that removing it would delete: {}",
            wt.display(),
            ignored.len(),
            some_of(&ignored)
        ))
        .hint("move what you need out of the worktree (or release without --remove), or pass --force to delete them"));
    }
    Ok(())
}

fn refuse_lost_commits(ctx: &Context, wt: &Path, row: &Row) -> Result<()> {
    let lost = lost_commits(ctx, wt, row)?;
    if let Some(newest) = lost.branch.first() {
        return Err(Error::failed(format!(
            "branch '{}' has {} commit(s) that are on no remote branch, no other branch and not in the base",
            row.branch,
            lost.branch.len()
        ))
        .hint(format!("push or merge them first, or pass --force to delete them (newest: {})", short(newest))));
    }
    if let Some(newest) = lost.worktree_only.first() {
        return Err(Error::failed(format!(
            "worktree {} has {} commit(s) that only its own refs (refs/worktree/*, refs/bisect/*) or its HEAD reflog reach, e.g. after a reset; removing it loses them",
            wt.display(),
            lost.worktree_only.len()
        ))
        .hint(format!(
            "keep what you need on a branch (`git -C {} branch <name> {}`; `git -C {0} log -g` lists the reflog), or pass --force to delete them",
            wt.display(),
            short(newest)
        )));
    }
    Ok(())
}

/// What would make `git worktree remove` fail half-way, checked before anything changes: a
/// lock (`git worktree lock`; only `remove -f -f` overrides it, which git-okstra never does)
/// and an admin entry git cannot validate.
fn refuse_blockers(ctx: &Context, wt: &Path) -> Result<()> {
    if !wt.is_dir() {
        return Ok(());
    }
    let Some(admin) = crate::task::worktree::admin_dir(&ctx.repo.common_dir, wt) else {
        return Err(Error::failed(format!("{} has no usable .git file; git cannot remove it", wt.display()))
            .hint("run `git okstra doctor` to see what is wrong with it"));
    };
    if let Ok(reason) = std::fs::read_to_string(admin.join("locked")) {
        let reason = reason.trim();
        let shown = if reason.is_empty() { String::new() } else { format!(" ({})", reason.escape_debug()) };
        return Err(Error::failed(format!("worktree {} is locked{shown}; nothing was changed", wt.display())).hint(
            format!("unlock it if you mean to remove it: `git worktree unlock {}`, then release again", wt.display()),
        ));
    }
    let missing: Vec<&str> = ["commondir", "gitdir"].into_iter().filter(|f| !admin.join(f).is_file()).collect();
    if !missing.is_empty() {
        return Err(Error::failed(format!(
            "git's entry {} for worktree {} has no {} file, so `git worktree remove` would fail; nothing was changed",
            admin.display(),
            wt.display(),
            missing.join(" or ")
        ))
        .hint("run `git okstra doctor`, which says how to repair it"));
    }
    Ok(())
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
    let task_wt = std::fs::canonicalize(task_wt).unwrap_or_else(|_| task_wt.to_path_buf());
    for wt in git::worktree_list(ctx.repo.main_worktree())? {
        if wt.branch.as_deref() == Some(branch) && wt.path != task_wt {
            return Err(Error::failed(format!(
                "branch '{branch}' is checked out in {}; refusing to delete it",
                wt.path.display()
            ))
            .hint("the registry row is wrong: run `git okstra doctor`, or release without --remove"));
        }
    }
    Ok(())
}

/// Mark a task released; with `remove`, also remove its worktree and branch (refusing, unless
/// `force`, anything that would be lost; refusing always what would stop the removal).
pub fn release(ctx: &Context, spec: &str, remove: bool, force: bool) -> Result<ReleaseOutcome> {
    let _lock = ctx.store.lock()?;
    let mut reg = ctx.store.load()?;
    let (key, row) = ctx.resolve_task(&reg, spec)?;
    let mut out = ReleaseOutcome {
        key: key.to_string(),
        status: "released".into(),
        removed_worktree: false,
        deleted_branch: false,
        path: row.worktree_path.clone(),
        branch: row.branch.clone(),
    };
    if remove {
        remove_task(ctx, &key.to_string(), &row, force, &mut out)?;
    }
    reg.release(&key)?;
    ctx.store.save(&mut reg)?;
    Ok(out)
}

/// `--remove`: every check first, then `git worktree remove`, the prune and the branch's
/// compare-and-swap deletion.
fn remove_task(ctx: &Context, key: &str, row: &Row, force: bool, out: &mut ReleaseOutcome) -> Result<()> {
    let wt = PathBuf::from(&row.worktree_path);
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
    if !interrupted {
        refuse_blockers(ctx, &wt)?;
    }
    if !force {
        refuse_losses(ctx, &wt, row, !interrupted)?;
    }
    let branch_oid = ctx.repo.branch_oid(&row.branch);
    let main = ctx.repo.main_worktree().to_path_buf();
    if wt.is_dir() {
        // The sync links stay until git removes the folder: git deletes a symlink and never
        // follows it, and a removal that fails leaves the worktree as it was.
        if interrupted {
            remove_interrupted(&main, &ctx.repo.common_dir, &wt)?;
        } else {
            let wt_s = wt.to_string_lossy().into_owned();
            let mut args = vec!["worktree", "remove"];
            if force {
                args.push("--force");
            }
            args.extend(["--end-of-options", &wt_s]);
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
    Ok(())
}
