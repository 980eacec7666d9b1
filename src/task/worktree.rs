//! Task worktrees: provisioning (`task start`), release and removal, and the sync-dir links.
//!
//! Owns the rules of DESIGN §3–§4. Reads facts through [`crate::git::Repo`], mutates only
//! through [`crate::git::run`], and changes the registry only inside its lock.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::config;
use crate::error::{io_at, Error, Result};
use crate::git::{self, Repo};
use crate::output;
use crate::task::names::{self, Category, TaskKey};
use crate::task::registry::{self, Registry, Row, Status, Store};

/// What a `task start` was asked for. `None` fields fall back to git config, then defaults.
#[derive(Debug, Default, Clone)]
pub struct StartRequest {
    pub task_id: String,
    pub group: Option<String>,
    pub project: Option<String>,
    pub category: Option<String>,
    pub title: Option<String>,
    pub base: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartStatus {
    Created,
    Reused,
    SkippedInWorktree,
    SkippedNotGit,
}

impl StartStatus {
    pub fn name(self) -> &'static str {
        match self {
            StartStatus::Created => "created",
            StartStatus::Reused => "reused",
            StartStatus::SkippedInWorktree => "skipped-in-worktree",
            StartStatus::SkippedNotGit => "skipped-not-git",
        }
    }
}

/// The outcome DESIGN §3 reports; empty strings where a field does not apply.
#[derive(Debug, Clone, Serialize)]
pub struct StartOutcome {
    pub status: StartStatus,
    pub key: String,
    pub path: String,
    pub branch: String,
    pub base_ref: String,
    pub repo: String,
    pub note: String,
}

/// The environment a task command works in: the repository, `OKSTRA_HOME` and the registry.
pub struct Context {
    pub repo: Repo,
    pub home: PathBuf,
    pub store: Store,
}

impl Context {
    /// Discover the repository around `cwd`; `Ok(None)` outside git.
    pub fn discover(cwd: &Path) -> Result<Option<Context>> {
        let Some(repo) = Repo::discover(cwd)? else { return Ok(None) };
        let home = config::okstra_home()?;
        let store = Store::at_home(&home);
        Ok(Some(Context { repo, home, store }))
    }

    /// Like [`Context::discover`], but outside git is an error.
    pub fn require(cwd: &Path) -> Result<Context> {
        Context::discover(cwd)?.ok_or_else(|| {
            Error::failed(format!("not a git repository: {}", cwd.display()))
                .hint("run this inside a git repository, or use `git -C <repo> okstra …`")
        })
    }

    pub fn repo_id(&self) -> String {
        self.repo.main_worktree().to_string_lossy().into_owned()
    }

    /// The task-worktree root, `$OKSTRA_HOME/worktrees`, created and canonical.
    pub fn worktrees_root(&self) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.store.dir).map_err(|e| io_at("cannot create", &self.store.dir, e))?;
        std::fs::canonicalize(&self.store.dir).map_err(|e| io_at("cannot resolve", &self.store.dir, e))
    }

    /// project: flag, else `okstra.project`, else the main worktree's folder name.
    pub fn project(&self, flag: Option<&str>) -> String {
        flag.map(str::to_string)
            .or_else(|| self.repo.config_string(config::KEY_PROJECT).filter(|s| !s.is_empty()))
            .unwrap_or_else(|| {
                self.repo.main_worktree().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            })
    }

    pub fn group(&self, flag: Option<&str>) -> String {
        flag.map(str::to_string)
            .or_else(|| self.repo.config_string(config::KEY_GROUP).filter(|s| !s.is_empty()))
            .unwrap_or_else(|| config::DEFAULT_GROUP.to_string())
    }

    pub fn category(&self, flag: Option<&str>) -> Result<Category> {
        let name = flag
            .map(str::to_string)
            .or_else(|| self.repo.config_string(config::KEY_CATEGORY).filter(|s| !s.is_empty()))
            .unwrap_or_else(|| config::DEFAULT_CATEGORY.to_string());
        Ok(name.parse::<Category>()?)
    }

    /// The sync-dir names in force, validated (absolute names and `..` are refused).
    pub fn sync_dirs(&self) -> Result<Vec<String>> {
        let names = config::sync_dirs(self.repo.config_strings(config::KEY_SYNC_DIR));
        for n in &names {
            validate_sync_name(n)?;
        }
        Ok(names)
    }

    /// The registered task whose worktree the caller stands in (any repository's row: callers
    /// decide what a row of another repository means).
    pub fn task_here(&self, reg: &Registry) -> Option<(TaskKey, Row)> {
        let here = self.repo.current_worktree.as_ref().filter(|_| self.repo.is_linked)?;
        reg.tasks
            .values()
            .find(|r| std::fs::canonicalize(&r.worktree_path).is_ok_and(|p| &p == here))
            .map(|r| (TaskKey::new(&r.project_id, &r.task_group, &r.task_id), r.clone()))
    }

    /// Find the row a user means by `<KEY>` or `<TASK-ID>` (in this repository).
    pub fn resolve_task(&self, reg: &Registry, spec: &str) -> Result<(TaskKey, Row)> {
        if let Some(key) = TaskKey::parse(spec) {
            if let Some(row) = reg.get(&key) {
                // Every command acts on this repository's git: never on another one's task.
                if !row.repo.is_empty() && row.repo != self.repo_id() {
                    return Err(Error::failed(format!("task {key} belongs to the repository {}", row.repo))
                        .hint(format!("run the command there: `git -C {} okstra …`", row.repo)));
                }
                return Ok((key, row.clone()));
            }
        }
        // a typed id is checked as `task start` checks it: `DEV\u{202E}1` must not reach `dev-1`
        names::validate_task_id(spec)?;
        let wanted = names::sanitize(spec);
        let repo = self.repo_id();
        let matches: Vec<&Row> = reg.tasks.values().filter(|r| r.repo == repo && r.task_id == wanted).collect();
        match matches.as_slice() {
            [row] => Ok((TaskKey::new(&row.project_id, &row.task_group, &row.task_id), (*row).clone())),
            [] => Err(Error::failed(format!("no task '{}' in the registry for this repository", spec.escape_debug()))
                .hint("`git okstra task list` shows the registered tasks")),
            many => Err(Error::failed(format!(
                "task id '{}' matches several tasks: {}",
                spec.escape_debug(),
                many.iter().map(|r| r.key()).collect::<Vec<_>>().join(", ")
            ))
            .hint("name the task by its full key")),
        }
    }
}

/// Refuse sync-dir names that could leave the worktree.
pub fn validate_sync_name(name: &str) -> Result<()> {
    let p = Path::new(name);
    if p.is_absolute() || name.starts_with('/') {
        return Err(Error::usage(format!(
            "sync dir '{name}' is an absolute path; sync dirs are names inside the repository"
        )));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) || name.split(['/', '\\']).any(|c| c == "..") {
        return Err(Error::usage(format!(
            "sync dir '{name}' contains '..'; sync dirs are names inside the repository"
        )));
    }
    Ok(())
}

/// The sources (in the main worktree) that exist and may be linked; a source that is a
/// symlink leading outside the repository is refused.
fn sync_sources(main: &Path, names: &[String]) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for name in names {
        let src = main.join(name);
        let Ok(meta) = std::fs::symlink_metadata(&src) else { continue };
        if meta.file_type().is_symlink() {
            let real = std::fs::canonicalize(&src).map_err(|e| io_at("cannot resolve sync dir", &src, e))?;
            if !real.starts_with(main) {
                return Err(Error::failed(format!(
                    "sync dir '{name}' is a symlink to {}, outside the repository; refusing to link it",
                    real.display()
                ))
                .hint(format!("replace {} with a real folder, or drop it from okstra.syncDir", src.display())));
            }
        }
        out.push((name.clone(), src));
    }
    Ok(out)
}

/// Link each sync dir into the worktree (absolute target) and list it in `info/exclude`.
/// Returns the names linked.
pub fn link_sync_dirs(repo: &Repo, worktree: &Path, names: &[String]) -> Result<Vec<String>> {
    // Never recreate a worktree folder another process removed meanwhile (a junk folder
    // holding only links would then block the task's next start).
    if std::fs::symlink_metadata(worktree.join(".git")).is_err() {
        return Err(Error::failed(format!("worktree {} is gone; no sync dir linked", worktree.display()))
            .hint("another process may have released the task; run `git okstra task start` again"));
    }
    let mut linked = Vec::new();
    for (name, src) in sync_sources(repo.main_worktree(), names)? {
        let dst = worktree.join(&name);
        if std::fs::symlink_metadata(&dst).is_ok() {
            output::debug(format!("sync dir {name}: {} exists (tracked content), not linked", dst.display()));
            continue;
        }
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_at("cannot create", parent, e))?;
        }
        std::os::unix::fs::symlink(&src, &dst).map_err(|e| io_at("cannot link sync dir", &dst, e))?;
        linked.push(name);
    }
    add_excludes(&repo.common_dir, &linked)?;
    Ok(linked)
}

/// Add `/<name>` lines to `<common dir>/info/exclude`, each once.
fn add_excludes(common_dir: &Path, names: &[String]) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let path = common_dir.join("info").join("exclude");
    let existing = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io_at("cannot read", &path, e)),
    };
    let mut text = existing.clone();
    for name in names {
        let line = format!("/{name}");
        if !existing.lines().any(|l| l.trim() == line) {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&line);
            text.push('\n');
        }
    }
    if text != existing {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_at("cannot create", dir, e))?;
        }
        std::fs::write(&path, text).map_err(|e| io_at("cannot write", &path, e))?;
    }
    Ok(())
}

/// Provision or reuse the task worktree (DESIGN §3 `task start`).
pub fn start(cwd: &Path, req: &StartRequest) -> Result<StartOutcome> {
    names::validate_task_id(&req.task_id)?;
    let Some(ctx) = Context::discover(cwd)? else {
        if let Some(c) = &req.category {
            c.parse::<Category>()?;
        }
        output::warn(format!(
            "{} is not inside a git repository; the task runs here, without a worktree",
            cwd.display()
        ));
        return Ok(StartOutcome {
            status: StartStatus::SkippedNotGit,
            key: String::new(),
            path: cwd.to_string_lossy().into_owned(),
            branch: String::new(),
            base_ref: String::new(),
            repo: String::new(),
            note: "not inside a git repository".into(),
        });
    };
    let category = ctx.category(req.category.as_deref())?;
    let project = ctx.project(req.project.as_deref());
    let group = ctx.group(req.group.as_deref());
    let key = TaskKey::new(&project, &group, &req.task_id);
    let sync_names = ctx.sync_dirs()?;
    // refuse a sync source that leads out of the repository before anything is created
    sync_sources(ctx.repo.main_worktree(), &sync_names)?;
    let guard_agents = crate::guard::agents::configured(&ctx.repo)?;
    if ctx.repo.is_bare() {
        return Err(Error::failed("this repository is bare; task worktrees are made from a main worktree")
            .hint("run the command in a clone with a working tree"));
    }
    let root = ctx.worktrees_root()?;

    if ctx.repo.is_linked {
        let here = ctx.repo.current_worktree.clone().unwrap_or_default();
        if ctx.task_here(&ctx.store.load()?).is_none() {
            output::warn(format!(
                "{} is a linked worktree that git-okstra did not make; the task runs here and the registry is untouched",
                here.display()
            ));
            return Ok(StartOutcome {
                status: StartStatus::SkippedInWorktree,
                key: key.to_string(),
                path: here.to_string_lossy().into_owned(),
                branch: String::new(),
                base_ref: String::new(),
                repo: ctx.repo_id(),
                note: "inside a linked worktree that is not a task worktree".into(),
            });
        }
    }

    let path = root.join(key.project.as_str()).join(key.group.as_str()).join(key.task.as_str());
    let branch = names::branch_name(category, &key.task);
    let _lock = ctx.store.lock()?;
    let mut reg = ctx.store.load()?;
    let repo_id = ctx.repo_id();
    let previous = reg.get(&key).cloned();
    // Two clones whose folders share a name get the same project segment: never hand one
    // repository's worktree to the other.
    if let Some(row) = previous.as_ref().filter(|r| !r.repo.is_empty() && r.repo != repo_id) {
        return Err(Error::failed(format!("task {key} belongs to the repository {}, not this one", row.repo)).hint(
            "give this repository its own project name: `git config okstra.project <name>` (or pass --project)",
        ));
    }

    // What an interrupted start left at a registered path, or git's "missing but locked" entry
    // where nothing is on disk. (An unregistered folder stays a collision, below.)
    if let Some(row) = &previous {
        clear_interrupted(ctx.repo.main_worktree(), &ctx.repo.common_dir, Path::new(&row.worktree_path))?;
    }
    if std::fs::symlink_metadata(&path).is_err() {
        clear_interrupted(ctx.repo.main_worktree(), &ctx.repo.common_dir, &path)?;
    }
    if let Some(row) = &previous {
        if Path::new(&row.worktree_path).is_dir() {
            let mut note = String::new();
            if row.status == Status::Released {
                let mut row = row.clone();
                reg.reserve(row.clone())?;
                row.status = Status::Active;
                ctx.store.save(&mut reg)?;
                note = "reactivated a released task".into();
            }
            if !ctx.repo.branch_exists(&row.branch) {
                note = format!("branch '{}' is missing; see `git okstra doctor`", row.branch);
            }
            // a start killed after `git worktree add` left the links unmade: make them now
            if let Err(e) = link_sync_dirs(&ctx.repo, Path::new(&row.worktree_path), &sync_names) {
                output::warn(format!("sync dirs not linked: {}", e.message));
            }
            return Ok(outcome(StartStatus::Reused, &key, row, note));
        }
    }

    // A fresh worktree. Keep the branch of an earlier row for this key if it still exists,
    // so a restart after release (or after the folder was deleted) never drops commits.
    let (branch, attach) = match &previous {
        Some(row) if !row.branch.is_empty() && ctx.repo.branch_exists(&row.branch) => (row.branch.clone(), true),
        _ => (branch, false),
    };
    if std::fs::symlink_metadata(&path).is_ok() {
        return Err(Error::failed(format!("path {} exists but is not a registered task worktree", path.display()))
            .hint("move it away (or run `git okstra doctor`), then start the task again"));
    }
    if let Some(owner) = reg.branch_owner(&repo_id, &branch) {
        if owner != key.to_string() {
            return Err(Error::failed(format!("branch '{branch}' already belongs to task {owner}"))
                .hint("choose another --category or task id, or release that task first"));
        }
    }
    if !attach && ctx.repo.branch_exists(&branch) {
        return Err(Error::failed(format!(
            "branch '{branch}' already exists in this repository and belongs to no task"
        ))
        .hint(format!("rename or delete it (`git branch -m {branch} <new>`), or use another --category")));
    }
    let base_ref = match (&previous, attach, &req.base) {
        (Some(row), true, _) => row.base_ref.clone(),
        (_, _, Some(base)) => ctx.repo.resolve_commit(base)?,
        _ => ctx.repo.main_head()?.ok_or_else(|| {
            Error::failed("the main worktree's HEAD has no commit yet")
                .hint("make a first commit, or pass --base <ref>")
        })?,
    };

    let path_s = path.to_string_lossy().into_owned();
    let row = Row {
        project_id: key.project.to_string(),
        task_group: key.group.to_string(),
        task_id: key.task.to_string(),
        task_id_raw: req.task_id.clone(),
        title: req.title.clone().or_else(|| previous.as_ref().map(|r| r.title.clone())).unwrap_or_default(),
        repo: repo_id.clone(),
        worktree_path: path_s.clone(),
        branch: branch.clone(),
        base_ref: base_ref.clone(),
        category: previous
            .as_ref()
            .filter(|_| attach)
            .map(|r| r.category.clone())
            .unwrap_or_else(|| category.name().to_string()),
        created_at: registry::now(),
        last_phase: previous.as_ref().and_then(|r| r.last_phase),
        phases: previous.as_ref().map(|r| r.phases.clone()).unwrap_or_default(),
        status: Status::Active,
        // A worktree re-attached to the task's branch keeps that branch's pull request.
        pr: previous.as_ref().filter(|_| attach).and_then(|r| r.pr.clone()),
        extra: previous.as_ref().map(|r| r.extra.clone()).unwrap_or_default(),
    };
    // Write ahead: the row is saved before git creates anything, so a start killed at any
    // instant leaves no worktree or branch that no row knows; the next `task start` (or
    // `doctor`) finds it through the row. Any failure below restores the registry as it was.
    let before = reg.clone();
    reg.reserve(row.clone())?;
    ctx.store.save(&mut reg)?;
    let restore = |reg: &Registry| {
        if let Err(e) = ctx.store.save(&mut reg.clone()) {
            output::warn(format!("could not restore the registry: {}", e.message));
        }
    };

    let main = ctx.repo.main_worktree().to_path_buf();
    let add = || -> Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_at("cannot create", parent, e))?;
        }
        if attach {
            git::run(&main, &["worktree", "prune"])?;
            git::run(&main, &["worktree", "add", "--quiet", "--end-of-options", &path_s, &branch])?;
        } else {
            git::run(&main, &["worktree", "add", "--quiet", "-b", &branch, "--end-of-options", &path_s, &base_ref])?;
        }
        Ok(())
    };
    // Undo what git made; the registry goes back only if nothing is left that the row names
    // (else the write-ahead row stays, so `task start` and `doctor` find what is left).
    let undo = |e: Error| -> Error {
        if rollback(&main, &path_s, (!attach).then_some((&branch, &base_ref))) {
            restore(&before);
        } else {
            output::warn(format!("kept the row of {key}: part of its worktree or branch could not be removed"));
        }
        e
    };
    if let Err(e) = add() {
        return Err(undo(e));
    }

    let finish = || -> Result<()> {
        link_sync_dirs(&ctx.repo, &path, &sync_names)?;
        // The agent guard; a settings file it creates is untracked, so keep it out of `git add -A`.
        let mut created = Vec::new();
        for agent in &guard_agents {
            let existed = crate::guard::agents::settings_path(&path, *agent).exists();
            crate::guard::agents::install(&path, *agent)?;
            if !existed {
                created.push(agent.settings_file().to_string());
            }
        }
        add_excludes(&ctx.repo.common_dir, &created)
    };
    match finish() {
        Ok(()) => {
            let note = if attach {
                format!("recreated the worktree on the existing branch '{branch}'")
            } else {
                String::new()
            };
            Ok(outcome(StartStatus::Created, &key, &row, note))
        }
        Err(e) => Err(undo(e)),
    }
}

/// The admin folder (`<common dir>/worktrees/<id>`) of the worktree at `path`: from its
/// `.git` file, or, when a kill left that file empty, from the admin folders' `gitdir` files.
fn admin_dir(common_dir: &Path, path: &Path) -> Option<PathBuf> {
    let dotgit = std::fs::read_to_string(path.join(".git")).unwrap_or_default();
    if let Some(gitdir) = dotgit.trim().strip_prefix("gitdir: ") {
        return Some(PathBuf::from(gitdir));
    }
    let wanted = std::fs::canonicalize(path.parent()?).ok()?.join(path.file_name()?).join(".git");
    std::fs::read_dir(common_dir.join("worktrees"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|admin| std::fs::read_to_string(admin.join("gitdir")).is_ok_and(|g| Path::new(g.trim()) == wanted))
}

/// Whether `path` is a worktree whose `git worktree add` was interrupted: git marks a
/// worktree it is still populating with the lock reason `initializing` and removes the mark
/// when done. Nobody can have worked in such a folder: git-okstra never reuses it.
pub fn interrupted_add(common_dir: &Path, path: &Path) -> bool {
    admin_dir(common_dir, path)
        .and_then(|a| std::fs::read_to_string(a.join("locked")).ok())
        .is_some_and(|r| r.trim() == "initializing")
}

/// Before reusing a registered task folder: remove what an interrupted `task start` left (a
/// worktree git still marks `initializing`, or an empty folder), so the start that follows
/// makes it afresh on the existing branch. A non-empty folder that is not a worktree is refused.
fn clear_interrupted(main: &Path, common_dir: &Path, path: &Path) -> Result<()> {
    if !path.is_dir() {
        // git refuses to add a worktree where a "missing but locked" entry is registered
        if let Some(admin) = admin_dir(common_dir, path).filter(|_| interrupted_add(common_dir, path)) {
            let _ = std::fs::remove_file(admin.join("locked"));
            git::run(main, &["worktree", "prune"])?;
        }
        return Ok(());
    }
    if interrupted_add(common_dir, path) {
        output::warn(format!("removing the half-made worktree {} left by an interrupted start", path.display()));
        return remove_interrupted(main, common_dir, path);
    }
    if std::fs::symlink_metadata(path.join(".git")).is_err() {
        if std::fs::remove_dir(path).is_ok() {
            return Ok(());
        }
        return Err(Error::failed(format!("task folder {} is not a git worktree (no .git)", path.display()))
            .hint("move it away (or run `git okstra doctor`), then start the task again"));
    }
    Ok(())
}

/// Remove a worktree whose `git worktree add` was interrupted. git refuses to remove one it
/// killed before writing its admin files (`validation failed`); then drop git's lock, the
/// folder (only git's partial checkout is in it) and let `worktree prune` drop the admin entry.
fn remove_interrupted(main: &Path, common_dir: &Path, path: &Path) -> Result<()> {
    let p = path.to_string_lossy();
    if git::run(main, &["worktree", "remove", "-f", "-f", "--end-of-options", &p]).is_err() {
        let admin = admin_dir(common_dir, path).unwrap_or_default();
        let admins = common_dir.join("worktrees");
        let admins = std::fs::canonicalize(&admins).unwrap_or(admins);
        if !admin.starts_with(&admins) || !admin.is_dir() {
            return Err(Error::failed(format!("cannot remove the half-made worktree {}", path.display()))
                .hint("run `git worktree list` and remove it by hand"));
        }
        let _ = std::fs::remove_file(admin.join("locked"));
        std::fs::remove_dir_all(path).map_err(|e| io_at("cannot remove", path, e))?;
    }
    git::run(main, &["worktree", "prune"])?;
    Ok(())
}

/// Undo a half-made worktree: remove it, and the branch if this run created it (only if it
/// still points where we made it).
fn rollback(main: &Path, path: &str, created_branch: Option<(&String, &String)>) -> bool {
    output::warn(format!("rolling back the half-made worktree {path}"));
    let _ = git::run(main, &["worktree", "remove", "--force", "--end-of-options", path]);
    let mut clean = true;
    if let Some((branch, oid)) = created_branch {
        let name = format!("refs/heads/{branch}");
        if git::run(main, &["update-ref", "-d", &name, oid]).is_err() {
            // gone anyway (never created), or still there (a stale lock, or it moved)
            clean = git::exec("git", &["rev-parse", "--verify", "-q", &name], main).map(|o| !o.ok()).unwrap_or(false);
        }
    }
    let _ = git::run(main, &["worktree", "prune"]);
    clean && std::fs::symlink_metadata(path).is_err()
}

fn outcome(status: StartStatus, key: &TaskKey, row: &Row, note: String) -> StartOutcome {
    StartOutcome {
        status,
        key: key.to_string(),
        path: row.worktree_path.clone(),
        branch: row.branch.clone(),
        base_ref: row.base_ref.clone(),
        repo: row.repo.clone(),
        note,
    }
}

/// Health of a row as `task list` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    Ok,
    MissingWorktree,
    MissingBranch,
    Dirty,
}

impl Health {
    pub fn name(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::MissingWorktree => "missing-worktree",
            Health::MissingBranch => "missing-branch",
            Health::Dirty => "dirty",
        }
    }
}

/// Health without running git for status unless `check_dirty`.
pub fn health(row: &Row, repo: Option<&Repo>, check_dirty: bool) -> Health {
    let wt = Path::new(&row.worktree_path);
    if !wt.is_dir() {
        return Health::MissingWorktree;
    }
    if let Some(repo) = repo {
        if !repo.branch_exists(&row.branch) {
            return Health::MissingBranch;
        }
    }
    if check_dirty && git::is_dirty(wt).unwrap_or(false) {
        return Health::Dirty;
    }
    Health::Ok
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_names_are_checked() {
        assert!(validate_sync_name(".project-docs").is_ok());
        assert!(validate_sync_name("notes/shared").is_ok());
        assert_eq!(validate_sync_name("/etc").unwrap_err().code, 2);
        assert!(validate_sync_name("../up").is_err());
        assert!(validate_sync_name("a/../../b").is_err());
    }
}
