//! Task worktrees: provisioning (`task start`), the sync-dir links and the context every task
//! command works in. Release and removal are in [`crate::task::release`].
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
        Context::discover(cwd)?.ok_or_else(|| crate::error::not_a_repository(cwd))
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

    /// Whether `row` names another repository that is gone (it no longer opens) while this one
    /// holds git's entry for the row's worktree: the repository was moved (or renamed) here.
    pub fn moved_here(&self, row: &Row) -> bool {
        !row.repo.is_empty()
            && row.repo != self.repo_id()
            && Repo::open(Path::new(&row.repo)).is_err()
            && entry_naming(&self.repo.common_dir, Path::new(&row.worktree_path)).is_some()
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
            [] => {
                let near = near_misses(reg, &repo, spec);
                let guess =
                    if near.is_empty() { String::new() } else { format!("; did you mean {}?", near.join(" or ")) };
                Err(Error::failed(format!("no task '{}' in this repository{guess}", spec.escape_debug()))
                    .hint("`git okstra task list` shows the registered tasks"))
            }
            many => Err(Error::failed(format!(
                "task id '{}' matches several tasks: {}",
                spec.escape_debug(),
                many.iter().map(|r| r.key()).collect::<Vec<_>>().join(", ")
            ))
            .hint("name the task by its full key")),
        }
    }
}

/// Registered task ids of the repository `repo_id` that `spec` (an id or a key) looks like a
/// keyboard slip of, as they were typed at `task start`, sorted.
pub fn near_misses(reg: &Registry, repo_id: &str, spec: &str) -> Vec<String> {
    let typed = names::sanitize(spec.rsplit('/').next().unwrap_or(spec));
    let mut near: Vec<String> = reg
        .tasks
        .values()
        .filter(|r| r.repo == repo_id && names::looks_like_typo(&typed, &r.task_id))
        .map(|r| if r.task_id_raw.is_empty() { r.task_id.clone() } else { r.task_id_raw.clone() })
        .collect();
    near.sort_unstable();
    near.dedup();
    near
}

/// The error for a task whose repository moved here and whose rows still name the old place.
fn moved_error(key: &str, row: &Row) -> Error {
    Error::failed(format!(
        "task {key} is registered for the repository {}, which is gone, and git's entry for its worktree is in this repository: was the repository moved here?",
        row.repo
    ))
    .hint("`git okstra doctor --repair`, run here, moves the task to this repository and reconnects its worktree (`git worktree repair`)")
}

/// The error for a task whose worktree `git worktree move` took elsewhere.
fn moved_worktree_error(key: &TaskKey, row: &Row, to: &Path) -> Error {
    Error::failed(format!(
        "the worktree of task {key} is no longer at {}: branch '{}' is checked out in {} (moved with `git worktree move`?)",
        row.worktree_path,
        row.branch,
        to.display()
    ))
    .hint("`git okstra doctor --repair` records the new place; or move it back with `git worktree move`")
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

/// What a start works with once the repository and the task key are known.
struct Plan<'a> {
    ctx: Context,
    req: &'a StartRequest,
    key: TaskKey,
    category: Category,
    /// `$OKSTRA_HOME/worktrees/<project>/<group>/<task>`.
    path: PathBuf,
    sync_names: Vec<String>,
    guard_agents: Vec<crate::guard::agents::Agent>,
}

/// Provision or reuse the task worktree (DESIGN §3 `task start`).
pub fn start(cwd: &Path, req: &StartRequest) -> Result<StartOutcome> {
    names::validate_task_id(&req.task_id)?;
    if let Some(title) = &req.title {
        names::validate_title(title).map_err(|m| {
            Error::usage(m).hint("a title is one line of printable text, e.g. --title \"Fix login loop\"")
        })?;
    }
    let Some(ctx) = Context::discover(cwd)? else { return skipped_not_git(cwd, req) };
    let plan = plan(ctx, req)?;
    if let Some(skipped) = skipped_in_worktree(&plan)? {
        return Ok(skipped);
    }
    let ctx = &plan.ctx;
    let _lock = ctx.store.lock()?;
    let mut reg = ctx.store.load()?;
    let previous = reg.get(&plan.key).cloned();
    refuse_other_repository(&plan, previous.as_ref())?;
    // What an interrupted start left at a registered path, or git's "missing but locked" entry
    // where nothing is on disk. (An unregistered folder stays a collision, below.)
    if let Some(row) = &previous {
        clear_interrupted(ctx.repo.main_worktree(), &ctx.repo.common_dir, Path::new(&row.worktree_path))?;
    }
    if std::fs::symlink_metadata(&plan.path).is_err() {
        clear_interrupted(ctx.repo.main_worktree(), &ctx.repo.common_dir, &plan.path)?;
    }
    if let Some(row) = previous.as_ref().filter(|r| Path::new(&r.worktree_path).is_dir()) {
        return reuse(&plan, &mut reg, row);
    }
    // A fresh worktree. Keep the branch of an earlier row for this key if it still exists,
    // so a restart after release (or after the folder was deleted) never drops commits.
    let (branch, attach) = match &previous {
        Some(row) if !row.branch.is_empty() && ctx.repo.branch_exists(&row.branch) => (row.branch.clone(), true),
        _ => (names::branch_name(recorded_category(&plan, previous.as_ref()), &plan.key.task), false),
    };
    if let Some(row) = previous.as_ref().filter(|_| attach) {
        warn_kept(ctx, &plan.key, row, req);
    }
    refuse_collisions(&plan, &reg, previous.as_ref(), &branch, attach)?;
    let base_ref = match (&previous, attach, &req.base) {
        (Some(row), true, _) => row.base_ref.clone(),
        (_, _, Some(base)) => ctx.repo.resolve_commit(base)?,
        _ => ctx.repo.main_head()?.ok_or_else(|| {
            Error::failed("the main worktree's HEAD has no commit yet")
                .hint("make a first commit, or pass --base <ref>")
        })?,
    };
    let row = new_row(&plan, previous.as_ref(), &branch, attach, &base_ref);
    create(&plan, reg, row, attach)
}

/// A restart keeps the recorded category unless the flag names one (config and the default
/// never replace what the task was started with).
fn recorded_category(plan: &Plan, previous: Option<&Row>) -> Category {
    match (&plan.req.category, previous) {
        (None, Some(row)) => row.category.parse::<Category>().unwrap_or(plan.category),
        _ => plan.category,
    }
}

/// `skipped-not-git`: the task runs in `cwd`, without a worktree.
fn skipped_not_git(cwd: &Path, req: &StartRequest) -> Result<StartOutcome> {
    if let Some(c) = &req.category {
        c.parse::<Category>()?;
    }
    Ok(StartOutcome {
        status: StartStatus::SkippedNotGit,
        key: String::new(),
        path: cwd.to_string_lossy().into_owned(),
        branch: String::new(),
        base_ref: String::new(),
        repo: String::new(),
        note: format!("{}; the task runs here, without a worktree", crate::error::not_a_repository(cwd).message),
    })
}

/// The key, the settings and every check that needs no lock.
fn plan(ctx: Context, req: &StartRequest) -> Result<Plan<'_>> {
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
    let path = ctx.worktrees_root()?.join(key.project.as_str()).join(key.group.as_str()).join(key.task.as_str());
    Ok(Plan { ctx, req, key, category, path, sync_names, guard_agents })
}

/// `skipped-in-worktree`: the caller stands in a linked worktree git-okstra did not make.
fn skipped_in_worktree(plan: &Plan) -> Result<Option<StartOutcome>> {
    let ctx = &plan.ctx;
    if !ctx.repo.is_linked || ctx.task_here(&ctx.store.load()?).is_some() {
        return Ok(None);
    }
    let here = ctx.repo.current_worktree.clone().unwrap_or_default();
    Ok(Some(StartOutcome {
        status: StartStatus::SkippedInWorktree,
        key: plan.key.to_string(),
        path: here.to_string_lossy().into_owned(),
        branch: String::new(),
        base_ref: String::new(),
        repo: ctx.repo_id(),
        note: format!(
            "{} is a linked worktree that git-okstra did not make; the task runs here and the registry is untouched",
            here.display()
        ),
    }))
}

/// Two clones whose folders share a name get the same project segment: never hand one
/// repository's worktree to the other (a repository that moved here is told so).
fn refuse_other_repository(plan: &Plan, previous: Option<&Row>) -> Result<()> {
    let Some(row) = previous.filter(|r| !r.repo.is_empty() && r.repo != plan.ctx.repo_id()) else { return Ok(()) };
    if plan.ctx.moved_here(row) {
        return Err(moved_error(&plan.key.to_string(), row));
    }
    Err(Error::failed(format!("task {} belongs to the repository {}, not this one", plan.key, row.repo))
        .hint("give this repository its own project name: `git config okstra.project <name>` (or pass --project)"))
}

/// `reused`: the registered worktree is there (a released row is reactivated).
fn reuse(plan: &Plan, reg: &mut Registry, row: &Row) -> Result<StartOutcome> {
    let ctx = &plan.ctx;
    let mut note = String::new();
    if row.status == Status::Released {
        reg.reserve(row.clone())?;
        ctx.store.save(reg)?;
        note = "reactivated a released task".into();
    }
    if !ctx.repo.branch_exists(&row.branch) {
        note = format!("branch '{}' is missing; see `git okstra doctor`", row.branch);
    }
    // a start killed after `git worktree add` left the links unmade: make them now
    if let Err(e) = link_sync_dirs(&ctx.repo, Path::new(&row.worktree_path), &plan.sync_names) {
        output::warn(format!("sync dirs not linked: {}", e.message));
    }
    // An earlier version made no marker, or it went missing: the commit hooks need it.
    if let Err(e) = mark_task(ctx, Path::new(&row.worktree_path)) {
        output::warn(format!("the task marker is not written: {}", e.message));
    }
    warn_kept(ctx, &plan.key, row, plan.req);
    Ok(outcome(StartStatus::Reused, &plan.key, row, note))
}

/// Collisions are errors, never silent reuse: an unregistered folder at the path, a branch
/// of another task, a branch checked out elsewhere, a branch no task holds.
fn refuse_collisions(plan: &Plan, reg: &Registry, previous: Option<&Row>, branch: &str, attach: bool) -> Result<()> {
    let (ctx, key) = (&plan.ctx, &plan.key);
    if std::fs::symlink_metadata(&plan.path).is_ok() {
        return Err(Error::failed(format!(
            "path {} exists but is not a registered task worktree",
            plan.path.display()
        ))
        .hint("move it away (or run `git okstra doctor`), then start the task again"));
    }
    if let Some(owner) = reg.branch_owner(&ctx.repo_id(), branch) {
        if owner != key.to_string() {
            return Err(Error::failed(format!("branch '{branch}' already belongs to task {owner}"))
                .hint("choose another --category or task id, or release that task first"));
        }
    }
    if let (true, Some(row)) = (attach, previous) {
        let list = git::worktree_list(ctx.repo.main_worktree())?;
        if let Some(w) = list.into_iter().find(|w| w.branch.as_deref() == Some(branch) && w.path.is_dir()) {
            return Err(moved_worktree_error(key, row, &w.path));
        }
    }
    if !attach && ctx.repo.branch_exists(branch) {
        if let Some((k, r)) = reg.tasks.iter().find(|(_, r)| r.branch == branch && ctx.moved_here(r)) {
            return Err(moved_error(k, r));
        }
        return Err(Error::failed(format!(
            "branch '{branch}' already exists in this repository and belongs to no task"
        ))
        .hint(format!("rename or delete it (`git branch -m {branch} <new>`), or use another --category")));
    }
    Ok(())
}

/// The row of a fresh worktree; what an earlier row of the key knew is kept.
fn new_row(plan: &Plan, previous: Option<&Row>, branch: &str, attach: bool, base_ref: &str) -> Row {
    let key = &plan.key;
    Row {
        project_id: key.project.to_string(),
        task_group: key.group.to_string(),
        task_id: key.task.to_string(),
        task_id_raw: plan.req.task_id.clone(),
        title: match (previous, attach) {
            (Some(row), true) => row.title.clone(),
            _ => plan.req.title.clone().or_else(|| previous.map(|r| r.title.clone())).unwrap_or_default(),
        },
        repo: plan.ctx.repo_id(),
        worktree_path: plan.path.to_string_lossy().into_owned(),
        branch: branch.to_string(),
        base_ref: base_ref.to_string(),
        category: previous
            .filter(|_| attach)
            .map(|r| r.category.clone())
            .unwrap_or_else(|| recorded_category(plan, previous).name().to_string()),
        created_at: registry::now(),
        last_phase: previous.and_then(|r| r.last_phase),
        phases: previous.map(|r| r.phases.clone()).unwrap_or_default(),
        status: Status::Active,
        // A worktree re-attached to the task's branch keeps that branch's pull request.
        pr: previous.filter(|_| attach).and_then(|r| r.pr.clone()),
        extra: previous.map(|r| r.extra.clone()).unwrap_or_default(),
    }
}

/// `created`: write the row ahead, `git worktree add` (on the existing branch when `attach`),
/// link the sync dirs and install the agent guard; undo what was made if anything fails.
fn create(plan: &Plan, mut reg: Registry, row: Row, attach: bool) -> Result<StartOutcome> {
    let (ctx, key, path) = (&plan.ctx, &plan.key, &plan.path);
    let (branch, base_ref, path_s) = (&row.branch, &row.base_ref, &row.worktree_path);
    // Write ahead: the row is saved before git creates anything, so a start killed at any
    // instant leaves no worktree or branch that no row knows; the next `task start` (or
    // `doctor`) finds it through the row. Any failure below restores the registry as it was.
    let before = reg.clone();
    reg.reserve(row.clone())?;
    ctx.store.save(&mut reg)?;
    let main = ctx.repo.main_worktree().to_path_buf();
    let add = || -> Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_at("cannot create", parent, e))?;
        }
        if attach {
            git::run(&main, &["worktree", "prune"])?;
            git::run(&main, &["worktree", "add", "--quiet", "--end-of-options", path_s, branch])?;
        } else {
            git::run(&main, &["worktree", "add", "--quiet", "-b", branch, "--end-of-options", path_s, base_ref])?;
        }
        Ok(())
    };
    // Undo what git made; the registry goes back only if nothing is left that the row names
    // (else the write-ahead row stays, so `task start` and `doctor` find what is left).
    let undo = |e: Error| -> Error {
        if rollback(&main, path_s, (!attach).then_some((branch, base_ref))) {
            if let Err(e) = ctx.store.save(&mut before.clone()) {
                output::warn(format!("could not restore the registry: {}", e.message));
            }
        } else {
            output::warn(format!("kept the row of {key}: part of its worktree or branch could not be removed"));
        }
        e
    };
    add().map_err(undo)?;
    let finish = || -> Result<()> {
        link_sync_dirs(&ctx.repo, path, &plan.sync_names)?;
        mark_task(ctx, path)?;
        install_guards(path, &plan.guard_agents)
    };
    finish().map_err(undo)?;
    let note = if attach { format!("recreated the worktree on the existing branch '{branch}'") } else { String::new() };
    Ok(outcome(StartStatus::Created, key, &row, note))
}

/// The marker in the worktree's own git dir that tells the commit hooks it is a task's
/// ([`crate::hooks::marker`]), naming this okstra home.
fn mark_task(ctx: &Context, worktree: &Path) -> Result<()> {
    // The common case on reuse: the marker is there already. Read it through the `.git` file
    // git writes into a linked worktree, without opening the repository a second time.
    let marked = admin_dir(&ctx.repo.common_dir, worktree)
        .and_then(|git_dir| crate::hooks::marker::read(&git_dir))
        .is_some_and(|home| home.as_deref() == Some(ctx.store.home()));
    if marked {
        return Ok(());
    }
    let repo = git::Repo::discover(worktree)?
        .ok_or_else(|| Error::failed(format!("{} is not a git worktree", worktree.display())))?;
    crate::hooks::marker::write(&repo.git_dir(), ctx.store.home())
}

/// The configured agent guards, into a worktree this start created. A settings file it
/// creates is untracked: it must stay out of `git add -A` (handoff) and `release --remove`'s
/// dirty check, yet nothing shared may hide it, since `info/exclude` applies to every
/// worktree and would hide the main worktree's own files.
fn install_guards(worktree: &Path, agents: &[crate::guard::agents::Agent]) -> Result<()> {
    for agent in agents {
        let (file, in_worktree) = crate::guard::agents::task_settings_path(worktree, *agent);
        let existed = std::fs::symlink_metadata(&file).is_ok();
        crate::guard::agents::install_file(&file, *agent)?;
        if !existed && in_worktree {
            ignore_here(worktree, &file)?;
        }
    }
    Ok(())
}

/// Keep a file this start created out of git in this worktree alone: nothing to do when the
/// repository ignores it already; else a `.gitignore` beside it that names the file and itself
/// (read only in this checkout). Where a `.gitignore` is there already, a warning says so.
fn ignore_here(worktree: &Path, file: &Path) -> Result<()> {
    let rel = file.strip_prefix(worktree).unwrap_or(file).to_string_lossy().into_owned();
    if git::exec("git", &["check-ignore", "-q", "--", &rel], worktree)?.ok() {
        return Ok(());
    }
    let dir = file.parent().unwrap_or(worktree);
    let ignore = dir.join(".gitignore");
    if std::fs::symlink_metadata(&ignore).is_ok() {
        output::warn(format!(
            "{rel} shows as untracked in {}: {} exists, and git-okstra never edits it",
            worktree.display(),
            ignore.display()
        ));
        return Ok(());
    }
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    std::fs::write(&ignore, own_gitignore(&name)).map_err(|e| io_at("cannot write", &ignore, e))
}

/// The `.gitignore` [`ignore_here`] writes beside a file named `name`: the file and itself.
pub(crate) fn own_gitignore(name: &str) -> String {
    format!("/{name}\n/.gitignore\n")
}

/// A start of a task whose worktree or branch exists keeps what was recorded: each flag that
/// says otherwise is named in a warning, never applied silently (the branch name comes from
/// the category, the base is where the branch began).
fn warn_kept(ctx: &Context, key: &TaskKey, row: &Row, req: &StartRequest) {
    let mut ignored = Vec::new();
    if let Some(c) = req.category.as_deref().filter(|c| *c != row.category) {
        ignored.push(format!("--category {c} (recorded: '{}', branch '{}')", row.category, row.branch));
    }
    if let Some(t) = req.title.as_deref().filter(|t| *t != row.title) {
        ignored.push(format!("--title '{t}' (recorded: '{}')", row.title));
    }
    if let Some(b) = req.base.as_deref() {
        if ctx.repo.resolve_commit(b).ok().as_deref() != Some(row.base_ref.as_str()) {
            let short = &row.base_ref[..12.min(row.base_ref.len())];
            ignored.push(format!("--base {b} (recorded: {short})"));
        }
    }
    if !ignored.is_empty() {
        output::warn(format!(
            "task {key} exists; it keeps what was recorded and ignores {} (release it with --remove to start it afresh)",
            ignored.join(", ")
        ));
    }
}

/// The admin folder (`<common dir>/worktrees/<id>`) of the worktree at `path`: from its
/// `.git` file, or, when a kill left that file empty, from the admin folders' `gitdir` files.
pub(crate) fn admin_dir(common_dir: &Path, path: &Path) -> Option<PathBuf> {
    let dotgit = std::fs::read_to_string(path.join(".git")).unwrap_or_default();
    if let Some(gitdir) = dotgit.trim().strip_prefix("gitdir: ") {
        // Relative to the worktree when git wrote it so (`worktree.useRelativePaths`).
        return Some(path.join(gitdir));
    }
    entry_naming(common_dir, path)
}

/// The admin folder of the repository at `common_dir` whose `gitdir` file names `<path>/.git`:
/// git's own record that the worktree at `path` is one of this repository's.
pub fn entry_naming(common_dir: &Path, path: &Path) -> Option<PathBuf> {
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
pub(crate) fn remove_interrupted(main: &Path, common_dir: &Path, path: &Path) -> Result<()> {
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
    /// Released, and its worktree and branch are gone: what `release --remove` leaves. Not a fault.
    Removed,
}

impl Health {
    pub fn name(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::MissingWorktree => "missing-worktree",
            Health::MissingBranch => "missing-branch",
            Health::Dirty => "dirty",
            Health::Removed => "removed",
        }
    }
}

/// Health without running git for status unless `check_dirty`.
pub fn health(row: &Row, repo: Option<&Repo>, check_dirty: bool) -> Health {
    let branch = repo.map(|r| r.branch_exists(&row.branch));
    let wt = Path::new(&row.worktree_path);
    let health = health_of(row, branch);
    if health == Health::Ok && check_dirty && git::is_dirty(wt).unwrap_or(false) {
        return Health::Dirty;
    }
    health
}

/// The health of `row` when whether its branch exists is known (`None`: not looked up),
/// without the dirty check.
pub fn health_of(row: &Row, branch_exists: Option<bool>) -> Health {
    if !Path::new(&row.worktree_path).is_dir() {
        let branch_left = branch_exists.unwrap_or(false);
        return if row.status == Status::Released && !branch_left { Health::Removed } else { Health::MissingWorktree };
    }
    if branch_exists == Some(false) {
        return Health::MissingBranch;
    }
    Health::Ok
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
