//! `git okstra doctor`: checks the registry against the disk and git, and the okstra hook
//! files of the repository it runs in, and repairs what is safe to repair (DESIGN §2–§4, §7).
//!
//! Owns the list of breakages and their fixes. It never deletes a worktree that holds
//! anything: the only folders it removes are empty ones, and the only rows it drops are
//! those whose worktree and branch are both gone. Registry changes happen under the lock.
//! Hook files: it only re-writes okstra's own shims; a foreign hook is never moved or removed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::config;
use crate::error::{io_at, Error, Result};
use crate::git::{self, Repo};
use crate::hooks::install::{self, State};
use crate::hooks::HookName;
use crate::task::names::{Category, Segment, TaskKey};
use crate::task::registry::{self, Registry, Row, Status, Store};
use crate::task::worktree;

/// JSON shape version of `doctor --json`.
pub const SCHEMA: u32 = 1;

/// What is wrong. The kebab-case names are part of the JSON shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `registry.json` does not parse.
    CorruptRegistry,
    /// An active row whose worktree folder and branch are both gone.
    Gone,
    /// An active row whose worktree folder is gone; the branch is still there.
    MissingWorktree,
    /// An active row whose worktree is there but whose branch is gone.
    MissingBranch,
    /// A folder under `$OKSTRA_HOME/worktrees` that no row knows.
    UnknownWorktree,
    /// git still lists a worktree whose folder is gone (`git worktree prune` fixes it).
    StaleGitWorktree,
    /// A sync-dir symlink that dangles or points somewhere else.
    BrokenSyncLink,
    /// A sync dir that exists in the main worktree but is not linked into the task worktree.
    MissingSyncLink,
    /// A branch slot that names a task the registry does not hold.
    StaleBranchSlot,
    /// An active row whose folder is there but is no longer a git worktree (no `.git`): what a
    /// `git worktree remove` killed half-way leaves.
    NotAWorktree,
    /// An okstra hook file that is not what `hooks install` writes now (another binary, an
    /// older format).
    StaleHook,
    /// An okstra hook is missing (or a foreign hook sits in its place) while others are installed.
    MissingHook,
    /// A note: a foreign hook is chained (called first). Fine, but worth knowing.
    ChainedHook,
    /// A foreign hook set aside as `<hook>.okstra-chained` that nothing calls (okstra's shim
    /// is missing or was replaced): the user's own checks do not run.
    UncalledChainedHook,
    /// A note: the latest update of a remote-tracking branch was a push that skipped okstra's
    /// `pre-push` (`push --no-verify`, hooks switched off).
    BypassedPush,
    /// A `registry.json.tmp-<pid>` that `Store::save` left: its process is gone.
    StaleRegistryTemp,
    /// A lock file a killed git left (`*.lock`, or a worktree still locked `initializing`).
    StaleGitLock,
    /// A worktree admin entry without its `commondir` or `gitdir` file.
    BrokenWorktreeEntry,
    /// A row's repository no longer opens where the row says, its worktree is still there.
    MovedRepository,
    /// A row's worktree folder is gone, git lists its branch in another folder.
    MovedWorktree,
    /// `registry.json` is a symlink: writes would replace it with a file.
    RegistrySymlink,
    /// An active task's worktree without okstra's marker in its own git dir (or one that does
    /// not read, or names another okstra home): `pre-commit` then judges its commits only
    /// while the worktree lies under `$OKSTRA_HOME/worktrees/`.
    TaskMarker,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::CorruptRegistry => "corrupt-registry",
            Kind::Gone => "gone",
            Kind::MissingWorktree => "missing-worktree",
            Kind::MissingBranch => "missing-branch",
            Kind::UnknownWorktree => "unknown-worktree",
            Kind::StaleGitWorktree => "stale-git-worktree",
            Kind::BrokenSyncLink => "broken-sync-link",
            Kind::MissingSyncLink => "missing-sync-link",
            Kind::StaleBranchSlot => "stale-branch-slot",
            Kind::NotAWorktree => "not-a-worktree",
            Kind::StaleHook => "stale-hook",
            Kind::MissingHook => "missing-hook",
            Kind::ChainedHook => "chained-hook",
            Kind::UncalledChainedHook => "uncalled-chained-hook",
            Kind::BypassedPush => "bypassed-push",
            Kind::StaleRegistryTemp => "stale-registry-temp",
            Kind::StaleGitLock => "stale-git-lock",
            Kind::BrokenWorktreeEntry => "broken-worktree-entry",
            Kind::RegistrySymlink => "registry-symlink",
            Kind::MovedRepository => "moved-repository",
            Kind::MovedWorktree => "moved-worktree",
            Kind::TaskMarker => "task-marker",
        }
    }
}

/// How much a finding matters: a problem makes the exit code 1, a note never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Problem,
    Note,
}

/// One problem (or note), what fixes it, and (after `--repair`) what was done.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub kind: Kind,
    pub level: Level,
    /// The task key, path or repository the finding is about.
    pub subject: String,
    pub message: String,
    /// What the user can run or do.
    pub fix: String,
    /// Whether `--repair` fixes it.
    pub repairable: bool,
    /// Set by `--repair`: true when it was fixed.
    pub repaired: bool,
    /// Set by `--repair`: what was done, or why it was left.
    pub action: String,
    #[serde(skip)]
    detail: Detail,
}

/// What a repair needs to know beyond the text.
#[derive(Debug, Clone, Default)]
enum Detail {
    #[default]
    None,
    Row(String),
    Repo(PathBuf),
    Sync {
        repo: PathBuf,
        worktree: PathBuf,
        link: Option<PathBuf>,
    },
    Folder(PathBuf),
    Slot(String),
    /// The repository folder doctor ran in, and the hook to re-write there.
    Hook(PathBuf, HookName),
    /// A registry temp file of a dead process.
    Temp(PathBuf),
    /// A git `.lock` file.
    Lock(PathBuf),
    /// A row whose repository moved from `old` to (the main worktree) `new`.
    MovedRepo {
        key: String,
        old: String,
        new: PathBuf,
    },
    /// A task worktree's own git dir, where the marker goes.
    Marker(PathBuf),
    /// A row whose worktree moved from `from` to `to`.
    MovedWorktree {
        key: String,
        from: String,
        to: PathBuf,
    },
    /// A broken worktree admin entry whose folder is gone: the repository and the entry.
    Entry {
        repo: PathBuf,
        admin: PathBuf,
        /// Every entry of the repository found to serve no worktree: pruning one must not be
        /// blocked by another (each would otherwise hold the other back).
        orphans: Vec<PathBuf>,
    },
}

impl Finding {
    fn new(kind: Kind, subject: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            kind,
            level: Level::Problem,
            subject: subject.into(),
            message: message.into(),
            fix: fix.into(),
            repairable: false,
            repaired: false,
            action: String::new(),
            detail: Detail::None,
        }
    }
    fn note(mut self) -> Finding {
        self.level = Level::Note;
        self
    }
    fn repairable(mut self, detail: Detail) -> Finding {
        self.repairable = true;
        self.detail = detail;
        self
    }
}

/// The outcome of a check (and repair).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub registry: String,
    pub repaired: bool,
    pub findings: Vec<Finding>,
    /// Problems (not notes) still present after the run (without `--repair`: the problems found).
    pub remaining: usize,
}

fn problems(findings: &[Finding]) -> usize {
    findings.iter().filter(|f| f.level == Level::Problem).count()
}

/// Check everything (the hooks of the repository at `repo_dir`, when given); with `repair`,
/// fix what is safe and check again.
pub fn run(store: &Store, repo_dir: Option<&Path>, repair: bool) -> Result<Report> {
    let mut findings = check(store, repo_dir)?;
    let mut remaining = problems(&findings);
    if repair && !findings.is_empty() {
        for f in &mut findings {
            apply(store, f);
        }
        remaining = problems(&check(store, repo_dir)?);
    }
    Ok(Report {
        schema: SCHEMA,
        registry: store.file().to_string_lossy().into_owned(),
        repaired: repair,
        findings,
        remaining,
    })
}

/// The state of `registry.json`: parsed, corrupt (with why), or an error that is not
/// corruption (a newer version, unreadable file) and must stop the doctor.
enum Loaded {
    Ok(Registry),
    Corrupt(String),
}

fn load(store: &Store) -> Result<Loaded> {
    let path = store.file();
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::Ok(Registry::default())),
        Err(e) => return Err(io_at("cannot read registry", &path, e)),
    };
    let Ok(text) = String::from_utf8(bytes) else { return Ok(Loaded::Corrupt("not UTF-8".into())) };
    match Registry::decode(&text) {
        Err(why) => Ok(Loaded::Corrupt(why)),
        // A newer version parses as JSON but is not ours to repair: `parse` says so.
        Ok(_) => Registry::parse(&text, &path).map(Loaded::Ok),
    }
}

/// Find every problem; changes nothing.
pub fn check(store: &Store, repo_dir: Option<&Path>) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    if let Err(e) = store.refuse_symlink() {
        out.push(Finding::new(
            Kind::RegistrySymlink,
            store.file().to_string_lossy(),
            e.message.trim_end_matches("; nothing was changed").to_string(),
            format!(
                "{}; doctor never replaces it (repairs that write the registry are left)",
                e.hint.unwrap_or_default()
            ),
        ));
    }
    let reg = match load(store)? {
        Loaded::Ok(reg) => Some(reg),
        Loaded::Corrupt(why) => {
            out.push(
                Finding::new(
                    Kind::CorruptRegistry,
                    store.file().to_string_lossy(),
                    format!("the registry does not parse ({why})"),
                    "`git okstra doctor --repair` keeps a copy beside it and rebuilds the rows from the worktrees on disk",
                )
                .repairable(Detail::None),
            );
            None
        }
    };
    let known: BTreeSet<PathBuf> = match &reg {
        Some(reg) => reg.tasks.values().map(|r| PathBuf::from(&r.worktree_path)).collect(),
        None => BTreeSet::new(),
    };
    if let Some(reg) = &reg {
        let here = repo_dir.and_then(|d| Repo::discover(d).ok().flatten());
        check_rows(reg, here.as_ref(), store.home(), &mut out);
        check_slots(reg, &mut out);
    }
    if reg.is_some() {
        check_unknown_folders(store, &known, &mut out);
    }
    check_registry_temps(store, &mut out);
    let rows: Vec<PathBuf> =
        reg.iter().flat_map(|r| r.tasks.values()).map(|r| PathBuf::from(&r.worktree_path)).collect();
    for (common, (main, branches)) in repositories(reg.as_ref(), repo_dir) {
        check_git_locks(&main, &common, &branches, &mut out);
        check_worktree_entries(&main, &common, &rows, &mut out);
    }
    if let Some(dir) = repo_dir {
        check_hooks(dir, &mut out)?;
    }
    Ok(out)
}

/// The okstra hook files of the repository at `dir` (none outside a repository). A repository
/// that never installed the hooks is not broken: missing hooks count only once one of ours is
/// there or install's record says it ran.
fn check_hooks(dir: &Path, out: &mut Vec<Finding>) -> Result<()> {
    let Some(repo) = Repo::discover(dir)? else { return Ok(()) };
    let (_, _, hooks) = install::status(dir, false)?;
    let ours = install::is_recorded(&repo) || hooks.iter().any(|h| h.state != State::Missing);
    for h in hooks {
        let subject = h.path.to_string_lossy().into_owned();
        let detail = Detail::Hook(dir.to_path_buf(), h.hook);
        let finding = match h.state {
            State::Installed => continue,
            State::Chained => Finding::new(
                Kind::ChainedHook,
                subject,
                format!(
                    "okstra's {} hook calls the foreign hook {} first; its exit status counts",
                    h.name,
                    h.chained.as_deref().unwrap_or(Path::new("")).display()
                ),
                "nothing to do; `git okstra hooks uninstall` would put it back in place",
            )
            .note(),
            State::Stale if h.retired => Finding::new(
                Kind::StaleHook,
                subject,
                format!("okstra's old {} hook is still installed; okstra no longer uses it", h.name),
                "`git okstra hooks install` (or `git okstra doctor --repair`) removes it, putting back any hook it chained",
            )
            .repairable(detail),
            State::Stale => Finding::new(
                Kind::StaleHook,
                subject,
                format!(
                    "okstra's {} hook is not what this git-okstra installs (another binary or an older format)",
                    h.name
                ),
                "`git okstra hooks install` (or `git okstra doctor --repair`) writes it again",
            )
            .repairable(detail),
            State::Missing if h.chained.is_some() => Finding::new(
                Kind::UncalledChainedHook,
                h.chained.as_deref().unwrap_or(Path::new("")).to_string_lossy(),
                format!(
                    "this foreign {} hook was set aside for okstra's shim to call, but {} so nothing calls it and it does not run",
                    h.name,
                    if h.foreign { "another hook now sits in its place," } else { "okstra's shim is missing," }
                ),
                "`git okstra hooks install` calls it again, or `git okstra hooks uninstall` puts it back in place",
            ),
            State::Missing if !ours => continue,
            State::Missing if h.foreign => Finding::new(
                Kind::MissingHook,
                subject,
                format!("a foreign {} hook sits where okstra's should be, so okstra's checks do not run", h.name),
                "`git okstra hooks install` keeps it and calls it first (chains it); doctor never moves a foreign hook",
            ),
            State::Missing => Finding::new(
                Kind::MissingHook,
                subject,
                format!("okstra's {} hook is missing while the other okstra hooks are installed", h.name),
                "`git okstra hooks install` (or `git okstra doctor --repair`) writes it again",
            )
            .repairable(detail),
        };
        out.push(finding);
    }
    for b in crate::hooks::pushes::check_or_warn(&repo).open {
        out.push(
            Finding::new(
                Kind::BypassedPush,
                b.short_ref().to_string(),
                b.message.clone(),
                "nothing to repair here: the remote has it; if it was wrong, tell the team and fix it through a pull request",
            )
            .note(),
        );
    }
    Ok(())
}

/// `here`: the repository doctor runs in, which may be where a row's repository moved.
fn check_rows(reg: &Registry, here: Option<&Repo>, home: &Path, out: &mut Vec<Finding>) {
    let mut repos: BTreeSet<PathBuf> = BTreeSet::new();
    for (key, row) in &reg.tasks {
        let wt = Path::new(&row.worktree_path);
        let repo = Repo::open(Path::new(&row.repo)).ok();
        if let Some(r) = &repo {
            repos.insert(r.main_worktree().to_path_buf());
        }
        let wt_there = wt.is_dir();
        // active or released: `release --remove` of a released task can be cut short too
        if wt_there && std::fs::symlink_metadata(wt.join(".git")).is_err() {
            out.push(Finding::new(
                Kind::NotAWorktree,
                key,
                format!("{} is no longer a git worktree (no .git): a removal was interrupted", row.worktree_path),
                format!(
                    "look inside {0}, move what you need elsewhere, delete the folder, then `git okstra task start {1}`",
                    row.worktree_path,
                    typed_id(row)
                ),
            ));
            continue;
        }
        // The repository is gone from where the row says, the worktree is still here: moved.
        if repo.is_none() && wt_there && !row.repo.is_empty() {
            out.push(moved_repository(key, row, here));
            continue;
        }
        if row.status != Status::Active {
            continue;
        }
        let branch_there = repo.as_ref().is_some_and(|r| r.branch_exists(&row.branch));
        if let (false, true, Some(r)) = (wt_there, branch_there, &repo) {
            if let Some(f) = moved_worktree(key, row, r) {
                out.push(f);
                continue;
            }
        }
        match (wt_there, branch_there) {
            (false, false) => out.push(
                Finding::new(
                    Kind::Gone,
                    key,
                    format!("worktree {} and branch '{}' are both gone", row.worktree_path, row.branch),
                    "`git okstra doctor --repair` drops the row (nothing is left to lose)",
                )
                .repairable(Detail::Row(key.clone())),
            ),
            (false, true) => out.push(Finding::new(
                Kind::MissingWorktree,
                key,
                format!("worktree {} is gone; branch '{}' still exists", row.worktree_path, row.branch),
                format!(
                    "`git okstra task start {}` recreates the worktree on that branch, or `git okstra task release {key} --remove` deletes the branch",
                    typed_id(row)
                ),
            )),
            (true, false) => out.push(Finding::new(
                Kind::MissingBranch,
                key,
                format!("branch '{}' is gone; its worktree {} is still there", row.branch, row.worktree_path),
                format!(
                    "recreate it from the worktree's commit: `git -C {} switch -c {}` (or release the task)",
                    row.worktree_path, row.branch
                ),
            )),
            (true, true) => {
                if let Some(r) = &repo {
                    check_sync_links(r, key, wt, out);
                }
                check_marker(key, wt, home, out);
            }
        }
    }
    for repo in repos {
        check_git_worktrees(&repo, out);
    }
}

/// The task marker of an active task's worktree ([`crate::hooks::marker`]): missing, not
/// readable as one, or naming another okstra home.
fn check_marker(key: &str, wt: &Path, home: &Path, out: &mut Vec<Finding>) {
    let Ok(Some(repo)) = Repo::discover(wt) else { return };
    let git_dir = repo.git_dir();
    let what = match crate::hooks::marker::read(&git_dir) {
        Some(Some(h)) if h == home || same_folder(&h, home) => return,
        Some(Some(h)) => format!("names another okstra home ({})", h.display()),
        Some(None) => "does not read as one".to_string(),
        None => "is missing".to_string(),
    };
    out.push(
        Finding::new(
            Kind::TaskMarker,
            key,
            format!(
                "the task marker {} {what}: the commit hooks may not know {} as a task worktree",
                git_dir.join(crate::hooks::marker::FILE).display(),
                wt.display()
            ),
            "`git okstra doctor --repair` writes it (so does the next `git okstra task start` of the task)",
        )
        .repairable(Detail::Marker(git_dir)),
    );
}

fn same_folder(a: &Path, b: &Path) -> bool {
    matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

/// A row whose repository no longer opens while its worktree is there. Repairable from the
/// repository it moved to (`here` holds git's entry for the worktree); from anywhere else the
/// fix says where to run the repair.
fn moved_repository(key: &str, row: &Row, here: Option<&Repo>) -> Finding {
    let wt = Path::new(&row.worktree_path);
    let what = format!(
        "the repository {} of task {key} cannot be opened (moved or deleted), but its worktree {} is still there",
        row.repo, row.worktree_path
    );
    match here.filter(|h| worktree::entry_naming(&h.common_dir, wt).is_some()) {
        Some(h) => Finding::new(
            Kind::MovedRepository,
            key,
            format!("{what}; the repository moved to {}, which holds git's entry for that worktree", h.main_worktree().display()),
            format!(
                "`git okstra doctor --repair` runs `git -C {0} worktree repair {1}` and records {0} as the task's repository",
                h.main_worktree().display(),
                row.worktree_path
            ),
        )
        .repairable(Detail::MovedRepo {
            key: key.to_string(),
            old: row.repo.clone(),
            new: h.main_worktree().to_path_buf(),
        }),
        None => Finding::new(
            Kind::MovedRepository,
            key,
            what,
            format!(
                "if the repository moved, run `git -C <its new folder> okstra doctor --repair`; if it was deleted, keep what you need from {} and remove the folder",
                row.worktree_path
            ),
        ),
    }
}

/// A row whose folder is gone while git lists its branch checked out in another existing
/// folder: the worktree was moved (`git worktree move`). Repairable: the row takes the new path.
fn moved_worktree(key: &str, row: &Row, repo: &Repo) -> Option<Finding> {
    let list = git::worktree_list(repo.main_worktree()).ok()?;
    let to = list.into_iter().find(|w| w.branch.as_deref() == Some(row.branch.as_str()) && w.path.is_dir())?.path;
    if to == repo.main_worktree() {
        return None;
    }
    Some(
        Finding::new(
            Kind::MovedWorktree,
            key,
            format!(
                "worktree {} is gone; git lists branch '{}' checked out in {} (moved with `git worktree move`)",
                row.worktree_path,
                row.branch,
                to.display()
            ),
            format!("`git okstra doctor --repair` records {} as the task's worktree", to.display()),
        )
        .repairable(Detail::MovedWorktree { key: key.to_string(), from: row.worktree_path.clone(), to }),
    )
}

/// The id a user would type for a row.
fn typed_id(row: &Row) -> &str {
    if row.task_id_raw.is_empty() {
        &row.task_id
    } else {
        &row.task_id_raw
    }
}

fn check_sync_links(repo: &Repo, key: &str, wt: &Path, out: &mut Vec<Finding>) {
    let names = config::sync_dirs(repo.config_strings(config::KEY_SYNC_DIR));
    let task_repo = Repo::open(wt).ok();
    for name in names {
        if worktree::validate_sync_name(&name).is_err() {
            continue;
        }
        // Tracked content (a committed `.scratch -> tools`, say) is never a sync link of ours.
        if task_repo.as_ref().map_or(true, |r| r.tracks(&name)) {
            continue;
        }
        let src = repo.main_worktree().join(&name);
        let dst = wt.join(&name);
        let detail = |link: Option<PathBuf>| Detail::Sync {
            repo: repo.main_worktree().to_path_buf(),
            worktree: wt.to_path_buf(),
            link,
        };
        match std::fs::symlink_metadata(&dst) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&dst).unwrap_or_default();
                let dangling = !dst.exists();
                if dangling || target != src {
                    out.push(
                        Finding::new(
                            Kind::BrokenSyncLink,
                            key,
                            format!(
                                "sync link {} points at {}{}",
                                dst.display(),
                                target.display(),
                                if dangling { ", which does not exist" } else { "" }
                            ),
                            "`git okstra doctor --repair` replaces the link with one to the main worktree's folder",
                        )
                        .repairable(detail(Some(dst.clone()))),
                    );
                }
            }
            // A real file or folder: tracked content, never a link of ours.
            Ok(_) => {}
            Err(_) if src.exists() => out.push(
                Finding::new(
                    Kind::MissingSyncLink,
                    key,
                    format!("sync dir {name} exists in the main worktree but is not linked into {}", wt.display()),
                    "`git okstra doctor --repair` links it",
                )
                .repairable(detail(None)),
            ),
            Err(_) => {}
        }
    }
}

/// Worktrees git lists as prunable (folder gone), in one repository.
fn check_git_worktrees(repo: &Path, out: &mut Vec<Finding>) {
    let Ok(list) = git::worktree_list(repo) else { return };
    for wt in list.iter().filter(|w| w.prunable) {
        out.push(
            Finding::new(
                Kind::StaleGitWorktree,
                repo.to_string_lossy(),
                format!("git still lists worktree {}, whose folder is gone", wt.path.display()),
                format!("`git -C {} worktree prune` (run by `git okstra doctor --repair`)", repo.display()),
            )
            .repairable(Detail::Repo(repo.to_path_buf())),
        );
    }
}

fn check_slots(reg: &Registry, out: &mut Vec<Finding>) {
    for (slot, key) in &reg.branches {
        let live = reg
            .tasks
            .get(key)
            .is_some_and(|r| r.status == Status::Active && registry::branch_slot(&r.repo, &r.branch) == *slot);
        if !live {
            out.push(
                Finding::new(
                    Kind::StaleBranchSlot,
                    slot,
                    format!("branch slot {slot} names task {key}, which does not hold it"),
                    "`git okstra doctor --repair` frees the slot",
                )
                .repairable(Detail::Slot(slot.clone())),
            );
        }
    }
}

/// Task-worktree folders on disk: `$OKSTRA_HOME/worktrees/<project>/<group>/<task>`.
fn folders_on_disk(store: &Store) -> Vec<PathBuf> {
    fn dirs(p: &Path) -> Vec<PathBuf> {
        let Ok(rd) = std::fs::read_dir(p) else { return Vec::new() };
        let mut v: Vec<PathBuf> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    }
    let root = std::fs::canonicalize(&store.dir).unwrap_or_else(|_| store.dir.clone());
    dirs(&root).iter().flat_map(|p| dirs(p)).flat_map(|g| dirs(&g)).collect()
}

fn check_unknown_folders(store: &Store, known: &BTreeSet<PathBuf>, out: &mut Vec<Finding>) {
    for dir in folders_on_disk(store) {
        if known.contains(&dir) {
            continue;
        }
        let shown = dir.to_string_lossy().into_owned();
        let f = match read_worktree(&dir) {
            Some(_) => Finding::new(
                Kind::UnknownWorktree,
                &shown,
                format!("{shown} is a git worktree that no registry row knows"),
                "`git okstra doctor --repair` adds it to the registry (base ref unknown)",
            )
            .repairable(Detail::Folder(dir.clone())),
            None if is_empty_dir(&dir) => Finding::new(
                Kind::UnknownWorktree,
                &shown,
                format!("{shown} is an empty folder that no registry row knows"),
                "`git okstra doctor --repair` removes the empty folder",
            )
            .repairable(Detail::Folder(dir.clone())),
            None => Finding::new(
                Kind::UnknownWorktree,
                &shown,
                format!("{shown} is not a git worktree and no registry row knows it"),
                "look inside, move what you need elsewhere, then remove the folder by hand",
            ),
        };
        out.push(f);
    }
}

fn is_empty_dir(p: &Path) -> bool {
    std::fs::read_dir(p).map(|mut d| d.next().is_none()).unwrap_or(false)
}

/// What a task worktree on disk says about itself.
struct OnDisk {
    main: PathBuf,
    branch: String,
}

fn read_worktree(dir: &Path) -> Option<OnDisk> {
    if !dir.join(".git").is_file() {
        return None;
    }
    let repo = Repo::open(dir).ok()?;
    if !repo.is_linked {
        return None;
    }
    let branch = repo
        .gix()
        .head_name()
        .ok()
        .flatten()
        .and_then(|n| n.as_bstr().to_string().strip_prefix("refs/heads/").map(str::to_string))
        .unwrap_or_default();
    Some(OnDisk { main: repo.main_worktree().to_path_buf(), branch })
}

/// A row rebuilt from a worktree found on disk. The base ref is unknown and left empty.
fn row_from_disk(key: &TaskKey, dir: &Path, disk: &OnDisk) -> Row {
    let category = disk
        .branch
        .split_once('-')
        .and_then(|(prefix, _)| Category::from_prefix(prefix))
        .map(|c| c.name().to_string())
        .unwrap_or_default();
    let mut extra = serde_json::Map::new();
    extra.insert("rebuilt_by_doctor".into(), serde_json::Value::String(registry::now()));
    Row {
        project_id: key.project.to_string(),
        task_group: key.group.to_string(),
        task_id: key.task.to_string(),
        task_id_raw: key.task.to_string(),
        title: String::new(),
        repo: disk.main.to_string_lossy().into_owned(),
        worktree_path: dir.to_string_lossy().into_owned(),
        branch: disk.branch.clone(),
        base_ref: String::new(),
        category,
        created_at: registry::now(),
        last_phase: None,
        phases: Vec::new(),
        status: Status::Active,
        pr: None,
        extra,
    }
}

/// The key a folder `<root>/<project>/<group>/<task>` stands for.
fn key_of(dir: &Path) -> Option<TaskKey> {
    let task = dir.file_name()?.to_str()?;
    let group = dir.parent()?.file_name()?.to_str()?;
    let project = dir.parent()?.parent()?.file_name()?.to_str()?;
    let key = TaskKey::new(project, group, task);
    // Only folders whose names are already sanitised are ours.
    (key.to_string() == format!("{project}/{group}/{task}")).then_some(key)
}

/// Add a worktree found on disk to the registry; `Err` text says why it was left.
fn adopt(reg: &mut Registry, dir: &Path) -> std::result::Result<String, String> {
    let disk = read_worktree(dir).ok_or("not a linked git worktree")?;
    let key = key_of(dir).ok_or("its folder names are not task-key segments")?;
    if reg.get(&key).is_some() {
        return Err(format!("the registry already has a row for {key}"));
    }
    let row = row_from_disk(&key, dir, &disk);
    if row.branch.is_empty() {
        // A detached HEAD has no branch slot to claim.
        reg.tasks.insert(key.to_string(), row);
        return Ok(format!("added {key} (detached HEAD: no branch; base ref unknown)"));
    }
    reg.reserve(row).map_err(|e| e.message)?;
    Ok(format!("added {key} on branch '{}' (base ref unknown)", disk.branch))
}

/// Repair one finding if it is repairable; records what was done on the finding (an error,
/// such as a registry that cannot be written, leaves that finding unrepaired).
fn apply(store: &Store, f: &mut Finding) {
    if f.level == Level::Note {
        f.action = "nothing to repair (a note)".into();
        return;
    }
    if !f.repairable {
        // The human output labels it `left:`; the text says why.
        f.action = "needs a decision only you can make".into();
        return;
    }
    match repair(store, f).unwrap_or_else(|e| Err(e.message)) {
        Ok(a) => {
            f.repaired = true;
            f.action = a;
        }
        Err(why) => f.action = format!("could not repair it: {why}"),
    }
}

/// The repair of one repairable finding: `Ok(Err(why))` when it was left.
fn repair(store: &Store, f: &Finding) -> Result<std::result::Result<String, String>> {
    Ok(match (&f.kind, f.detail.clone()) {
        (Kind::CorruptRegistry, _) => Ok(rebuild(store)?),
        (Kind::Gone, Detail::Row(key)) => store.transaction(|reg| {
            let gone = reg.tasks.get(&key).is_some_and(|r| !Path::new(&r.worktree_path).exists());
            Ok(if gone {
                reg.remove(&key);
                Ok(format!("dropped row {key}"))
            } else {
                Err("the worktree came back; row kept".to_string())
            })
        })?,
        (Kind::StaleGitWorktree, Detail::Repo(repo)) => {
            prune(&repo, &[]).map(|_| "ran `git worktree prune`".to_string())
        }
        (Kind::BrokenSyncLink | Kind::MissingSyncLink, Detail::Sync { repo, worktree, link }) => {
            relink(&repo, &worktree, link.as_deref()).map_err(|e| e.message)
        }
        (Kind::StaleBranchSlot, Detail::Slot(slot)) => store.transaction(|reg| {
            reg.branches.remove(&slot);
            Ok(Ok(format!("freed slot {slot}")))
        })?,
        (Kind::UnknownWorktree, Detail::Folder(dir)) => {
            if read_worktree(&dir).is_some() {
                let adopted = store.transaction(|reg| Ok(adopt(reg, &dir)))?;
                if adopted.is_ok() {
                    // Its commits are judged as a task's from now on, as after `task start`.
                    if let Ok(Some(repo)) = Repo::discover(&dir) {
                        let _ = crate::hooks::marker::write(&repo.git_dir(), store.home());
                    }
                }
                adopted
            } else if is_empty_dir(&dir) {
                std::fs::remove_dir(&dir)
                    .map(|_| format!("removed the empty folder {}", dir.display()))
                    .map_err(|e| e.to_string())
            } else {
                Err("not empty and not a worktree; left".into())
            }
        }
        (Kind::StaleRegistryTemp, Detail::Temp(file)) => {
            if stale_temp(&file) {
                std::fs::remove_file(&file).map(|_| format!("removed {}", file.display())).map_err(|e| e.to_string())
            } else {
                Err("its process is alive again (or the file is gone); left".into())
            }
        }
        (Kind::StaleGitLock, Detail::Lock(file)) => {
            if age(&file).is_some_and(|a| a >= REPAIR_AGE) {
                std::fs::remove_file(&file).map(|_| format!("removed {}", file.display())).map_err(|e| e.to_string())
            } else {
                Err(format!(
                    "younger than {} minutes: a git may still hold it; remove it by hand once no git runs",
                    REPAIR_AGE.as_secs() / 60
                ))
            }
        }
        (Kind::BrokenWorktreeEntry, Detail::Entry { repo, admin, orphans }) => prune_entry(&repo, &admin, &orphans),
        (Kind::MovedRepository, Detail::MovedRepo { key, old, new }) => {
            adopt_moved_repository(store, &key, &old, &new)?
        }
        (Kind::MovedWorktree, Detail::MovedWorktree { key, from, to }) => store.transaction(|reg| {
            let Some(row) = reg.tasks.get_mut(&key).filter(|r| r.worktree_path == from) else {
                return Ok(Err("the row changed meanwhile; left".to_string()));
            };
            row.worktree_path = to.to_string_lossy().into_owned();
            Ok(Ok(format!("recorded {} as the worktree of {key}", to.display())))
        })?,
        (Kind::TaskMarker, Detail::Marker(git_dir)) => crate::hooks::marker::write(&git_dir, store.home())
            .map(|_| format!("wrote {}", git_dir.join(crate::hooks::marker::FILE).display()))
            .map_err(|e| e.message),
        (Kind::StaleHook | Kind::MissingHook, Detail::Hook(dir, hook)) => {
            install::refresh(&dir, hook).map(|r| format!("wrote {}", r.path.display())).map_err(|e| e.message)
        }
        _ => Err("nothing to do".into()),
    })
}

fn relink(repo: &Path, worktree: &Path, link: Option<&Path>) -> Result<String> {
    let repo = Repo::open(repo)?;
    if let Some(link) = link {
        let name = link.strip_prefix(worktree).unwrap_or(link).to_string_lossy().into_owned();
        if Repo::open(worktree).map_or(true, |r| r.tracks(&name)) {
            return Err(Error::failed(format!("{} is tracked by git now; left", link.display())));
        }
        // Only ever a symlink: never a folder with content.
        if std::fs::symlink_metadata(link).map(|m| m.file_type().is_symlink()).unwrap_or(false) {
            std::fs::remove_file(link).map_err(|e| io_at("cannot remove", link, e))?;
        }
    }
    let names = config::sync_dirs(repo.config_strings(config::KEY_SYNC_DIR));
    let linked = worktree::link_sync_dirs(&repo, worktree, &names)?;
    Ok(if linked.is_empty() {
        "removed the broken link (its source is gone from the main worktree)".into()
    } else {
        format!("linked {}", linked.join(", "))
    })
}

/// A task whose repository moved from `old` to `new`: reconnect its worktree (`git worktree
/// repair`), re-point the sync links that led into the old place, and move the row and its
/// branch slot to `new`. Where the folder name (the default project name) changed and
/// `okstra.project` is unset, it is set to the old name, so the task keeps its key.
fn adopt_moved_repository(
    store: &Store,
    key: &str,
    old: &str,
    new: &Path,
) -> Result<std::result::Result<String, String>> {
    let reg = store.load()?;
    let Some(row) = reg.tasks.get(key).filter(|r| r.repo == old) else {
        return Ok(Err("the row changed meanwhile; left".into()));
    };
    let wt = PathBuf::from(&row.worktree_path);
    git::run(new, &["worktree", "repair", "--end-of-options", &row.worktree_path])?;
    let repo = Repo::open(new)?;
    let names = config::sync_dirs(repo.config_strings(config::KEY_SYNC_DIR));
    let task_repo = Repo::open(&wt).ok();
    for name in names.iter().filter(|n| worktree::validate_sync_name(n).is_ok()) {
        let link = wt.join(name);
        let ours = task_repo.as_ref().is_some_and(|r| !r.tracks(name));
        if ours && std::fs::read_link(&link).is_ok_and(|t| t == Path::new(old).join(name)) {
            std::fs::remove_file(&link).map_err(|e| io_at("cannot remove", &link, e))?;
        }
    }
    worktree::link_sync_dirs(&repo, &wt, &names)?;
    let new_s = new.to_string_lossy().into_owned();
    let moved = store.transaction(|reg| {
        let Some(row) = reg.tasks.get_mut(key).filter(|r| r.repo == old) else { return Ok(false) };
        row.repo = new_s.clone();
        let (from, to) = (registry::branch_slot(old, &row.branch), registry::branch_slot(&new_s, &row.branch));
        if reg.branches.get(&from).map(String::as_str) == Some(key) {
            reg.branches.remove(&from);
            reg.branches.insert(to, key.to_string());
        }
        Ok(true)
    })?;
    if !moved {
        return Ok(Err("the row changed meanwhile; left".into()));
    }
    let mut action = format!("ran `git worktree repair`; {key} now belongs to {}", new.display());
    // only where the task's project was the default one, the folder name
    let segment = |p: &Path| p.file_name().map(|n| Segment::new(&n.to_string_lossy()).to_string());
    let was_default = segment(Path::new(old)).as_deref() == Some(row.project_id.as_str());
    if was_default && segment(new) != segment(Path::new(old)) && repo.config_string(config::KEY_PROJECT).is_none() {
        git::run(new, &["config", config::KEY_PROJECT, &row.project_id])?;
        action.push_str(&format!("; set {} = {} so the task keeps its key", config::KEY_PROJECT, row.project_id));
    }
    Ok(Ok(action))
}

/// Keep a copy of a corrupt registry beside it and rebuild it from the worktrees on disk.
/// `registry.json` is never moved: the rebuilt file replaces it in one rename, so at every
/// instant (a kill included) it exists, either as the corrupt original or as the new file.
fn rebuild(store: &Store) -> Result<String> {
    let _lock = store.lock()?;
    // Checked again under the lock: another process may have repaired it meanwhile.
    if let Loaded::Ok(_) = load(store)? {
        return Ok("the registry parses now; nothing moved".into());
    }
    let file = store.file();
    let bytes = std::fs::read(&file).map_err(|e| io_at("cannot read registry", &file, e))?;
    let aside = keep_corrupt_copy(store, &bytes)?;
    let mut reg = Registry::default();
    let mut added = Vec::new();
    let mut skipped = Vec::new();
    for dir in folders_on_disk(store) {
        match adopt(&mut reg, &dir) {
            Ok(_) => added.push(dir),
            Err(why) => skipped.push(format!("{} ({why})", dir.display())),
        }
    }
    store
        .save(&mut reg)
        .map_err(|e| Error::failed(format!("{}; the corrupt file is at {}", e.message, aside.display())))?;
    let mut msg = format!(
        "kept a copy at {} and rebuilt {} row(s) from the worktrees on disk (base refs unknown, left empty; titles and phase history are in the old file)",
        aside.display(),
        added.len()
    );
    if !skipped.is_empty() {
        msg.push_str(&format!("; skipped {}", skipped.join(", ")));
    }
    Ok(msg)
}

/// `registry.json.corrupt-<UTC time>`: a copy of the corrupt `bytes`, written like the registry
/// itself (temp file, fsync, rename, fsync folder). An earlier copy with the same bytes (a
/// repair killed after copying) is used again instead of making another.
fn keep_corrupt_copy(store: &Store, bytes: &[u8]) -> Result<PathBuf> {
    let prefix = "registry.json.corrupt-";
    let mut earlier: Vec<PathBuf> = std::fs::read_dir(&store.dir)
        .map_err(|e| io_at("cannot read", &store.dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix)))
        .collect();
    earlier.sort();
    if let Some(same) = earlier.into_iter().find(|p| std::fs::read(p).is_ok_and(|b| b == bytes)) {
        return Ok(same);
    }
    let t = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let mut aside = store.dir.join(format!("{prefix}{stamp}"));
    let mut n = 1;
    while std::fs::symlink_metadata(&aside).is_ok() {
        aside = store.dir.join(format!("{prefix}{stamp}-{n}"));
        n += 1;
    }
    store.write_atomic(&aside, bytes).map_err(|e| io_at("cannot keep a copy of the corrupt registry at", &aside, e))?;
    Ok(aside)
}

/// How old (by mtime) a git lock file must be before doctor reports it: a running git holds
/// its locks for far less, so a younger one is left to the git that may still own it.
pub const LOCK_MIN_AGE: Duration = Duration::from_secs(10);
/// How old a git `.lock` file must be before `--repair` removes it: no live git is that slow.
pub const REPAIR_AGE: Duration = Duration::from_secs(600);
/// Without `/proc` (no way to ask whether a pid lives): a registry temp file this old is stale.
const TEMP_AGE: Duration = Duration::from_secs(3600);
/// What `Store::save` names its temp file, before the pid.
const TEMP_PREFIX: &str = "registry.json.tmp-";

/// How long ago `p` was last modified (`None`: gone, or modified in the future).
/// How long an `initializing` lock on an entry without `gitdir` must be before the add that
/// made it counts as killed (git writes `gitdir` microseconds after the lock).
const ABANDONED_ADD: Duration = Duration::from_secs(5);

fn age(p: &Path) -> Option<Duration> {
    let m = std::fs::symlink_metadata(p).ok()?.modified().ok()?;
    SystemTime::now().duration_since(m).ok()
}

/// Whether the registry temp file `p` was left by a process that is gone: on Linux its pid has
/// no `/proc` entry; elsewhere it is older than an hour.
fn stale_temp(p: &Path) -> bool {
    let pid = p.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix(TEMP_PREFIX));
    let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else { return false };
    if !p.is_file() {
        return false;
    }
    if Path::new("/proc/self").exists() {
        !Path::new("/proc").join(pid.to_string()).exists()
    } else {
        age(p).is_some_and(|a| a >= TEMP_AGE)
    }
}

fn check_registry_temps(store: &Store, out: &mut Vec<Finding>) {
    let Ok(rd) = std::fs::read_dir(&store.dir) else { return };
    let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| stale_temp(p)).collect();
    files.sort();
    for file in files {
        out.push(
            Finding::new(
                Kind::StaleRegistryTemp,
                file.to_string_lossy(),
                format!(
                    "{} is a half-written registry copy whose process is gone (never the registry itself)",
                    file.display()
                ),
                "`git okstra doctor --repair` removes it",
            )
            .repairable(Detail::Temp(file.clone())),
        );
    }
}

/// The repositories doctor inspects, by common dir: those of the registry rows and the one it
/// runs in, each with its main worktree and the task branches rows hold there.
fn repositories(reg: Option<&Registry>, repo_dir: Option<&Path>) -> Vec<(PathBuf, (PathBuf, BTreeSet<String>))> {
    let mut repos: std::collections::BTreeMap<PathBuf, (PathBuf, BTreeSet<String>)> = Default::default();
    for row in reg.iter().flat_map(|r| r.tasks.values()) {
        if let Ok(r) = Repo::open(Path::new(&row.repo)) {
            let entry =
                repos.entry(r.common_dir.clone()).or_insert_with(|| (r.main_worktree().to_path_buf(), BTreeSet::new()));
            if !row.branch.is_empty() {
                entry.1.insert(row.branch.clone());
            }
        }
    }
    if let Some(Ok(Some(r))) = repo_dir.map(Repo::discover) {
        repos.entry(r.common_dir.clone()).or_insert_with(|| (r.main_worktree().to_path_buf(), BTreeSet::new()));
    }
    repos.into_iter().collect()
}

/// The admin entries `<common dir>/worktrees/<id>` of a repository.
fn admin_entries(common: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(common.join("worktrees")) else { return Vec::new() };
    let mut v: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    v.sort();
    v
}

/// Lock files a killed git leaves in one repository, older than `LOCK_MIN_AGE`.
fn check_git_locks(main: &Path, common: &Path, branches: &BTreeSet<String>, out: &mut Vec<Finding>) {
    let mut files = vec![common.join("packed-refs.lock"), common.join("index.lock")];
    for admin in admin_entries(common) {
        files.push(admin.join("index.lock"));
        files.push(admin.join("HEAD.lock"));
    }
    for branch in branches {
        files.push(common.join("refs/heads").join(format!("{branch}.lock")));
    }
    for file in files {
        let Some(old) = age(&file).filter(|a| *a >= LOCK_MIN_AGE) else { continue };
        let f = Finding::new(
            Kind::StaleGitLock,
            file.to_string_lossy(),
            format!(
                "{} is a git lock file {} s old, most likely left by a killed git; git refuses to update what it guards while it exists",
                file.display(),
                old.as_secs()
            ),
            format!(
                "make sure no git process is running in {}, then remove {} (`git okstra doctor --repair` does once it is {} minutes old)",
                main.display(),
                file.display(),
                REPAIR_AGE.as_secs() / 60
            ),
        );
        let mut f = f.repairable(Detail::Lock(file.clone()));
        f.repairable = old >= REPAIR_AGE;
        out.push(f);
    }
    for admin in admin_entries(common) {
        let locked = admin.join("locked");
        let initializing = std::fs::read_to_string(&locked).is_ok_and(|r| r.trim() == "initializing");
        let Some(old) = age(&locked).filter(|a| initializing && *a >= LOCK_MIN_AGE) else { continue };
        let folder = worktree_folder(&admin);
        let shown = folder.as_ref().map(|f| f.display().to_string()).unwrap_or_else(|| "(unknown folder)".into());
        out.push(Finding::new(
            Kind::StaleGitLock,
            locked.to_string_lossy(),
            format!(
                "worktree {shown} is still locked 'initializing' after {} s: a `git worktree add` was killed while making it",
                old.as_secs()
            ),
            format!(
                "make sure no git process is running in {}, then remove {}; nobody worked in that half-made worktree: \
                 `git -C {0} worktree remove --force {shown}` (or `git -C {0} worktree prune` if the folder is gone); \
                 for a task, `git okstra task start <id>` does both",
                main.display(),
                locked.display()
            ),
        ));
    }
}

/// The worktree folder an admin entry names in its `gitdir` file.
fn worktree_folder(admin: &Path) -> Option<PathBuf> {
    let gitdir = std::fs::read_to_string(admin.join("gitdir")).ok()?;
    Some(Path::new(gitdir.trim()).parent()?.to_path_buf())
}

/// Admin entries missing `commondir` or `gitdir`: git cannot use them (`git worktree remove`
/// fails). Repairable only when the worktree folder is gone (then `git worktree prune`).
fn check_worktree_entries(main: &Path, common: &Path, rows: &[PathBuf], out: &mut Vec<Finding>) {
    let orphans: Vec<PathBuf> =
        admin_entries(common).into_iter().filter(|a| !a.join("gitdir").is_file() && orphan_entry(a, rows)).collect();
    for admin in admin_entries(common) {
        let missing: Vec<&str> = ["commondir", "gitdir"].into_iter().filter(|f| !admin.join(f).is_file()).collect();
        if missing.is_empty() {
            continue;
        }
        let folder = worktree_folder(&admin);
        let gone = folder.as_ref().is_some_and(|f| std::fs::symlink_metadata(f).is_err());
        let what = format!("git's worktree entry {} has no {} file", admin.display(), missing.join(" or "));
        let f = match (&folder, gone) {
            (Some(folder), true) => Finding::new(
                Kind::BrokenWorktreeEntry,
                admin.to_string_lossy(),
                format!("{what}; its folder {} is gone", folder.display()),
                format!("`git -C {} worktree prune` (run by `git okstra doctor --repair`)", main.display()),
            )
            .repairable(Detail::Entry {
                repo: main.to_path_buf(),
                admin: admin.clone(),
                orphans: orphans.clone(),
            }),
            (Some(folder), false) => Finding::new(
                Kind::BrokenWorktreeEntry,
                admin.to_string_lossy(),
                format!("{what}, so `git worktree remove` fails for {}", folder.display()),
                format!(
                    "the folder may hold work: write the missing file (`printf '../..\\n' > {}/commondir`), \
                     or move what you need out of {} and delete it, then `git -C {} worktree prune`",
                    admin.display(),
                    folder.display(),
                    main.display()
                ),
            ),
            // No `gitdir`: git writes it before the worktree's `.git` file and deletes it in a
            // removal after the folder, so a crash leaves it missing only where no worktree uses
            // the entry. Pruned when it has no HEAD (no worktree can use it) or no row's
            // worktree names it; git itself counts it prunable.
            (None, _) if orphan_entry(&admin, rows) => Finding::new(
                Kind::BrokenWorktreeEntry,
                admin.to_string_lossy(),
                format!("{what}; no task worktree uses it (a `git worktree add` or `remove` was killed half-way)"),
                format!("`git -C {} worktree prune` (run by `git okstra doctor --repair`)", main.display()),
            )
            .repairable(Detail::Entry {
                repo: main.to_path_buf(),
                admin: admin.clone(),
                orphans: orphans.clone(),
            }),
            (None, _) => Finding::new(
                Kind::BrokenWorktreeEntry,
                admin.to_string_lossy(),
                format!("{what}, so git does not know which folder it belongs to"),
                format!(
                    "find the worktree whose .git file names {0}: `git -C {1} worktree repair <folder>` reconnects it; \
                     if there is none, `git -C {1} worktree prune` drops the entry",
                    admin.display(),
                    main.display()
                ),
            ),
        };
        out.push(f);
    }
}

/// Whether an entry without `gitdir` serves no worktree: it has no HEAD, or none of the
/// task worktrees `rows` points its `.git` file at it.
fn orphan_entry(admin: &Path, rows: &[PathBuf]) -> bool {
    if !admin.join("HEAD").is_file() {
        return true;
    }
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let admin = canon(admin);
    !rows.iter().any(|wt| {
        std::fs::read_to_string(wt.join(".git"))
            .is_ok_and(|g| g.trim().strip_prefix("gitdir: ").is_some_and(|d| canon(Path::new(d)) == admin))
    })
}

/// `git worktree prune` for a broken entry whose folder is gone; says whether git dropped it.
fn prune_entry(repo: &Path, admin: &Path, orphans: &[PathBuf]) -> std::result::Result<String, String> {
    let folder_there = match worktree_folder(admin) {
        Some(f) => std::fs::symlink_metadata(f).is_ok(),
        // decided by the check: an orphan entry
        None => false,
    };
    if folder_there {
        return Err("its folder is there now; left".into());
    }
    // git writes `gitdir` right after it locks a new entry `initializing`: an entry still
    // without a usable `gitdir` seconds later belongs to a `git worktree add` that was killed,
    // and git's prune keeps it only because of that lock.
    let locked = admin.join("locked");
    // (a kill can also leave the lock file empty, before its reason is written)
    let abandoned = std::fs::read_to_string(&locked).is_ok_and(|r| matches!(r.trim(), "initializing" | ""))
        && age(&locked).is_some_and(|a| a >= ABANDONED_ADD)
        && worktree_folder(admin).is_none();
    if abandoned {
        std::fs::remove_file(&locked).map_err(|e| format!("cannot remove {}: {e}", locked.display()))?;
    }
    let mut skip = orphans.to_vec();
    skip.push(admin.to_path_buf());
    prune(repo, &skip)?;
    if admin.exists() {
        let why = std::fs::read_to_string(admin.join("locked")).unwrap_or_default();
        return Err(format!("git keeps the entry: it is locked ({}); see the stale-git-lock finding", why.trim()));
    }
    Ok("ran `git worktree prune`".into())
}

/// `git worktree prune`, refused while another entry (not in `skip`, the entries known to
/// serve no worktree) has no `gitdir` but a HEAD and no lock: git would prune it though a
/// worktree may still use it.
fn prune(repo: &Path, skip: &[PathBuf]) -> std::result::Result<(), String> {
    let common = Repo::open(repo).map_err(|e| e.message)?.common_dir;
    let at_risk: Vec<PathBuf> = admin_entries(&common)
        .into_iter()
        .filter(|a| !skip.contains(a))
        .filter(|a| !a.join("gitdir").exists() && a.join("HEAD").is_file() && !a.join("locked").exists())
        .collect();
    if let Some(a) = at_risk.first() {
        return Err(format!(
            "`git worktree prune` would also drop {}, which has no gitdir file but may serve a worktree; fix that entry first",
            a.display()
        ));
    }
    git::run(repo, &["worktree", "prune"]).map(|_| ()).map_err(|e| e.message)
}
