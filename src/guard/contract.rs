//! The task contract (DESIGN §8): what an agent may do in a task, by phase. One table,
//! [`TABLE`], that the agent guard and the git `pre-commit` hook both read, the rules that
//! hold in every phase ([`EVERYWHERE`]), the commands reserved to the user
//! ([`USER_ONLY`]), and the small functions that judge a write, a commit and a push.
//!
//! Decisions over facts the callers gather (the task's current run from
//! [`crate::phase::current`], resolved paths, whether git ignores a path): nothing here
//! reads the registry or starts a process; the one file read is the approved plan, to
//! check its hash. A test holds the table against the profiles'
//! **Allowed**/**Forbidden** text in `prompts/profiles/`, so the two cannot drift apart.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::phase::current::{self, CurrentRun, TaskContext};
use crate::phase::gates;
use crate::phase::Phase;
use crate::task::registry::Registry;

/// One row of the contract table: the four columns of DESIGN §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseContract {
    pub phase: Phase,
    pub writes: Writes,
    pub commits: Commits,
    pub builds: Builds,
    pub push: Push,
}

/// The "file writes" column. The notes locations are writable in every phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// Notes only.
    Notes,
    /// Notes and scratch scripts, in the notes locations; no tracked file.
    NotesAndScratch,
    /// Notes only, and never a plan's approval marker (the user approves).
    NotesNoApproval,
    /// The approved plan's `## Files` and notes; never the plan file itself.
    PlanFiles,
    /// Notes and the verification report.
    NotesAndReport,
    /// The drafts in the run folder.
    Drafts,
}

/// The "commits, merges, rebases" column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commits {
    No,
    /// To the task branch, with every staged path within the plan's files.
    WithinPlan,
    /// None by the agent: the user's `git okstra handoff` commits.
    ByHandoff,
}

/// The "builds, tests" column. Builds write only ignored paths, which are never source, so
/// the writes column is what enforces it; this column tells the agent what it may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builds {
    /// Read-only commands and the existing tests.
    ReadOnly,
    /// The program and its tests.
    ProgramAndTests,
    /// The existing tests.
    ExistingTests,
    Yes,
    /// Builds, tests and the project's checks.
    Checks,
    No,
}

/// The "push, PR" column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    No,
    /// None by the agent: the user's `git okstra handoff` pushes and opens the PR.
    ByHandoff,
}

/// DESIGN §8's table, one row per phase in [`Phase::ALL`] order.
pub const TABLE: [PhaseContract; 6] = [
    PhaseContract {
        phase: Phase::RequirementsDiscovery,
        writes: Writes::Notes,
        commits: Commits::No,
        builds: Builds::ReadOnly,
        push: Push::No,
    },
    PhaseContract {
        phase: Phase::ErrorAnalysis,
        writes: Writes::NotesAndScratch,
        commits: Commits::No,
        builds: Builds::ProgramAndTests,
        push: Push::No,
    },
    PhaseContract {
        phase: Phase::ImplementationPlanning,
        writes: Writes::NotesNoApproval,
        commits: Commits::No,
        builds: Builds::ExistingTests,
        push: Push::No,
    },
    PhaseContract {
        phase: Phase::Implementation,
        writes: Writes::PlanFiles,
        commits: Commits::WithinPlan,
        builds: Builds::Yes,
        push: Push::No,
    },
    PhaseContract {
        phase: Phase::FinalVerification,
        writes: Writes::NotesAndReport,
        commits: Commits::No,
        builds: Builds::Checks,
        push: Push::No,
    },
    PhaseContract {
        phase: Phase::ReleaseHandoff,
        writes: Writes::Drafts,
        commits: Commits::ByHandoff,
        builds: Builds::No,
        push: Push::ByHandoff,
    },
];

/// The contract of `phase`.
pub fn contract(phase: Phase) -> &'static PhaseContract {
    TABLE.iter().find(|c| c.phase == phase).expect("TABLE has a row for every phase")
}

/// The list of a profile a claim is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Allowed,
    Forbidden,
}

/// What a profile must say (or must not say) for a table value to hold: `phrase` is looked
/// for in the list's paragraph with case, emphasis, backticks and line breaks ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub list: List,
    pub states: bool,
    pub phrase: &'static str,
}

// Macros, not `const fn`s: a struct literal in `&[…]` is promoted to a static, a call is not.
macro_rules! says {
    ($list:expr, $phrase:expr) => {
        Claim { list: $list, states: true, phrase: $phrase }
    };
}
macro_rules! never {
    ($list:expr, $phrase:expr) => {
        Claim { list: $list, states: false, phrase: $phrase }
    };
}

use List::{Allowed, Forbidden};

impl Writes {
    /// The words of the table cell (for `task show` and the docs).
    pub fn summary(self) -> &'static str {
        match self {
            Writes::Notes => "notes only",
            Writes::NotesAndScratch => "notes and scratch scripts (notes locations) only; no tracked file",
            Writes::NotesNoApproval => "notes only; never the plan's approval marker",
            Writes::PlanFiles => "the approved plan's files and notes; never the plan file",
            Writes::NotesAndReport => "notes and the report only",
            Writes::Drafts => "the drafts in the run folder",
        }
    }

    /// Whether files outside the notes locations may be written (the plan's files).
    pub fn source(self) -> bool {
        self == Writes::PlanFiles
    }

    pub fn claims(self) -> &'static [Claim] {
        const SOURCE: &str = "editing source files, tests, build files or configuration";
        match self {
            Writes::Notes => &[says!(Allowed, "write notes"), says!(Forbidden, SOURCE)],
            Writes::NotesAndScratch => &[
                says!(Allowed, "scratch scripts under the run folder or .scratch"),
                says!(Allowed, "write notes"),
                says!(Forbidden, "changing any tracked file"),
                never!(Allowed, "logging"),
            ],
            Writes::NotesNoApproval => &[
                says!(Allowed, "write notes"),
                says!(Forbidden, SOURCE),
                says!(Forbidden, "checking the approval box or writing approved yourself"),
            ],
            Writes::PlanFiles => &[
                says!(Allowed, "edit the files the approved plan's ## files section lists"),
                says!(Forbidden, "editing any file the plan's ## files section does not list"),
                says!(Forbidden, "editing the approved plan file"),
            ],
            Writes::NotesAndReport => &[says!(Allowed, "write notes and the report"), says!(Forbidden, SOURCE)],
            Writes::Drafts => &[says!(Allowed, "writing the drafts"), says!(Forbidden, SOURCE)],
        }
    }
}

impl Commits {
    pub fn summary(self) -> &'static str {
        match self {
            Commits::No => "no commits",
            Commits::WithinPlan => "commits to the task branch, staged paths within the plan",
            Commits::ByHandoff => "no commits (the user's `git okstra handoff` commits)",
        }
    }

    pub fn claims(self) -> &'static [Claim] {
        match self {
            Commits::No => &[says!(Forbidden, "commits"), never!(Allowed, "commit")],
            Commits::WithinPlan => &[says!(Allowed, "commit to the task branch, staging only paths the plan lists")],
            Commits::ByHandoff => &[says!(Forbidden, "committing, pushing or opening the pull request yourself")],
        }
    }
}

impl Builds {
    pub fn summary(self) -> &'static str {
        match self {
            Builds::ReadOnly => "read-only commands, existing tests",
            Builds::ProgramAndTests => "the program and its tests",
            Builds::ExistingTests => "existing tests",
            Builds::Yes => "builds and tests",
            Builds::Checks => "builds, tests, checks",
            Builds::No => "no builds or tests",
        }
    }

    pub fn claims(self) -> &'static [Claim] {
        match self {
            Builds::ReadOnly => &[says!(Allowed, "run read-only commands"), says!(Allowed, "existing tests")],
            Builds::ProgramAndTests => &[says!(Allowed, "run the program and the tests")],
            Builds::ExistingTests => &[says!(Allowed, "run read-only commands and existing tests")],
            Builds::Yes => &[says!(Allowed, "run builds and tests")],
            Builds::Checks => &[says!(Allowed, "run builds, tests and checks")],
            Builds::No => &[says!(Forbidden, "running builds or tests"), never!(Allowed, "test")],
        }
    }
}

impl Push {
    pub fn summary(self) -> &'static str {
        match self {
            Push::No => "no push or PR",
            Push::ByHandoff => "no push or PR (the user's `git okstra handoff`)",
        }
    }

    pub fn claims(self) -> &'static [Claim] {
        match self {
            Push::No => &[says!(Forbidden, "pushing"), never!(Allowed, "push")],
            Push::ByHandoff => &[says!(Forbidden, "pushing"), never!(Allowed, "push")],
        }
    }
}

impl PhaseContract {
    /// Every claim the phase's profile must satisfy.
    pub fn claims(&self) -> impl Iterator<Item = &'static Claim> {
        let c = self;
        c.writes.claims().iter().chain(c.commits.claims()).chain(c.builds.claims()).chain(c.push.claims())
    }

    /// The row in one line: `writes …; commits …; builds …; push …`.
    pub fn summary(&self) -> String {
        format!(
            "writes {}; {}; {}; {}",
            self.writes.summary(),
            self.commits.summary(),
            self.builds.summary(),
            self.push.summary()
        )
    }
}

/// A rule that holds in every phase, for agents, whatever the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EverywhereRule {
    /// What blocks, the audit log and the docs name: a policy rule (the family of the rule
    /// ids), one rule id, or `protected-history` for the push and hook-bypass families.
    pub id: &'static str,
    pub summary: &'static str,
    /// What `profiles/_common-contract.md` must state for it (see [`Claim`]).
    pub phrase: &'static str,
}

/// The rules of every phase (DESIGN §8 "Everywhere").
pub const EVERYWHERE: &[EverywhereRule] = &[
    EverywhereRule {
        id: "protected-history",
        summary: "no force push, no push to or deletion of a protected branch, no hook bypass",
        phrase: "never rewrite or bypass protected history",
    },
    EverywhereRule {
        id: "publish",
        summary: "no publishing, releasing, deploying or `gh pr merge`",
        phrase: "never push, publish, release, deploy, merge a pull request",
    },
    EverywhereRule {
        id: "discard",
        summary: "no discarding of local work that cannot be brought back",
        phrase: "never discard local work",
    },
    EverywhereRule {
        id: "self-protect",
        summary: "no change to okstra, hook or include config, hook files, agent host settings or the okstra home",
        phrase: "never change what guards you",
    },
    EverywhereRule {
        id: "user-only",
        summary: "no command reserved to the user (`task phase`, `--approve`, `handoff`, `task release`, …)",
        phrase: "the user's own commands",
    },
    EverywhereRule {
        id: "other-task",
        summary: "no write into another task's worktree, branch or notes, or the main worktree outside the notes",
        phrase: "never write into another task's worktree",
    },
    EverywhereRule {
        id: "phase:run-record",
        summary: "no edit of a run folder's manifest.json or launch.md (okstra's own records)",
        phrase: "never edit a run folder's manifest.json or launch.md",
    },
];

/// An `okstra` command that only the user may run (DESIGN §8): the words after `okstra`
/// that name it, and an option that must be present, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserOnly {
    pub words: &'static [&'static str],
    /// When set, only the form with this option is reserved (`doctor --repair`).
    pub option: Option<&'static str>,
    pub why: &'static str,
}

/// The commands reserved to the user. `--approve` is reserved on any command.
pub const USER_ONLY: &[UserOnly] = &[
    UserOnly { words: &["task", "phase"], option: None, why: "a phase starts only by the user's new invocation" },
    UserOnly { words: &["phase"], option: None, why: "a phase starts only by the user's new invocation" },
    UserOnly { words: &["handoff"], option: None, why: "the handoff's choices are the user's" },
    UserOnly { words: &["task", "handoff"], option: None, why: "the handoff's choices are the user's" },
    UserOnly { words: &["task", "release"], option: None, why: "releasing a task is the user's decision" },
    UserOnly { words: &["hooks", "install"], option: None, why: "the hooks guard the agent" },
    UserOnly { words: &["hooks", "uninstall"], option: None, why: "the hooks guard the agent" },
    UserOnly { words: &["doctor"], option: Some("--repair"), why: "repairs change the registry and the worktrees" },
];

/// The option that approves a plan: the user's approval, whatever command carries it.
pub const APPROVE_OPTION: &str = "--approve";

/// The contract in force for a task, for `task show` (`--json`: the `contract` object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContractView {
    /// The current run's phase; `None` before the first run or when it cannot be told.
    pub phase: Option<Phase>,
    pub run: Option<u32>,
    /// The contract in one line.
    pub summary: String,
    pub file_writes: Option<&'static str>,
    pub commits: Option<&'static str>,
    pub builds_tests: Option<&'static str>,
    pub push_pr: Option<&'static str>,
    pub plan: Option<PlanView>,
    /// Why the current run cannot be told (the contract's callers then fail closed).
    pub error: Option<String>,
}

/// The approved plan of an implementation run, and whether it still matches its approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanView {
    pub file: String,
    pub sha256: String,
    pub files: Vec<String>,
    /// `None` when the plan cannot be read.
    pub matches: Option<bool>,
}

impl ContractView {
    /// The view of a task's current run as [`current::run_of`] found it.
    pub fn of(run: crate::error::Result<Option<CurrentRun>>) -> ContractView {
        let none = ContractView {
            phase: None,
            run: None,
            summary: String::new(),
            file_writes: None,
            commits: None,
            builds_tests: None,
            push_pr: None,
            plan: None,
            error: None,
        };
        let run = match run {
            Ok(Some(run)) => run,
            Ok(None) => return ContractView { summary: "no run yet: only the rules of every phase".into(), ..none },
            Err(e) => {
                let hint = e.hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default();
                let summary = format!("unknown: {}{hint}", e.message);
                return ContractView { summary, error: Some(e.message), ..none };
            }
        };
        let c = contract(run.phase);
        let plan = run.plan.as_ref().map(|p| PlanView {
            file: p.file.clone(),
            sha256: p.sha256.clone(),
            files: p.files.entries().to_vec(),
            matches: p.still_approved().ok(),
        });
        let mut summary = format!("{} (run {:03}): {}", run.phase, run.number, c.summary());
        if let Some(p) = &plan {
            summary.push_str(&format!("; plan files: {}", p.files.join(", ")));
            match p.matches {
                Some(true) => {}
                Some(false) => summary.push_str("; the plan changed since its approval: approve it again"),
                None => summary.push_str("; the approved plan cannot be read"),
            }
        }
        ContractView {
            phase: Some(run.phase),
            run: Some(run.number),
            summary,
            file_writes: Some(c.writes.summary()),
            commits: Some(c.commits.summary()),
            builds_tests: Some(c.builds.summary()),
            push_pr: Some(c.push.summary()),
            plan,
            error: None,
        }
    }
}

/// The contract rules a block names. (The other everywhere families, `discard`,
/// `self-protect` and the push rules, are the guard's own rules.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContractRule {
    /// A write the phase's "file writes" column does not allow.
    PhaseWrite,
    /// A commit in a phase without commits.
    PhaseCommit,
    /// A push or PR: never an agent's, in any phase.
    PhasePush,
    /// An edit or staged path outside the approved plan's `## Files`.
    PlanScope,
    /// An edit of the approved plan itself.
    PlanFile,
    /// The approved plan no longer matches its approval hash (or cannot be read).
    PlanChanged,
    /// Writing a plan's approval marker: only the user approves.
    ApprovalMarker,
    /// A write into another task's worktree or notes, or the main worktree outside the notes.
    OtherTask,
    /// An edit of a run folder's `manifest.json` or `launch.md`.
    RunRecord,
    /// A command reserved to the user.
    UserOnly,
    /// Checking out, resetting, deleting or pushing another task's branch.
    OtherBranch,
    /// The task's current run cannot be told (run folder or manifest gone, registry
    /// unreadable): the contract fails closed.
    Context,
}

impl ContractRule {
    pub const ALL: [ContractRule; 12] = [
        ContractRule::PhaseWrite,
        ContractRule::PhaseCommit,
        ContractRule::PhasePush,
        ContractRule::PlanScope,
        ContractRule::PlanFile,
        ContractRule::PlanChanged,
        ContractRule::ApprovalMarker,
        ContractRule::OtherTask,
        ContractRule::RunRecord,
        ContractRule::UserOnly,
        ContractRule::OtherBranch,
        ContractRule::Context,
    ];

    /// The id in the guard's rule tables ([`crate::guard::rules::contract::RULES`]), which the
    /// audit log and `--explain` show.
    pub fn id(self) -> &'static str {
        match self {
            ContractRule::PhaseWrite => "phase:write",
            ContractRule::PhaseCommit => "phase:commit",
            ContractRule::PhasePush => "phase:push",
            ContractRule::PlanScope => "phase:plan-scope",
            ContractRule::PlanFile => "phase:plan-file",
            ContractRule::PlanChanged => "phase:plan-changed",
            ContractRule::ApprovalMarker => "phase:approval-marker",
            ContractRule::RunRecord => "phase:run-record",
            ContractRule::Context => "phase:context",
            ContractRule::OtherTask => "other-task:write",
            ContractRule::OtherBranch => "other-task:branch",
            ContractRule::UserOnly => "user-only:command",
        }
    }
}

/// One refusal of the contract: the phase it was judged in (`None`: no run yet), the rule,
/// what was refused and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Block {
    pub phase: Option<Phase>,
    pub rule: ContractRule,
    pub what: String,
    pub instead: String,
}

impl fmt::Display for Block {
    /// `blocked by okstra [phase:<phase>] <rule id>: <what> — <what to do instead>` (DESIGN §8).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = self.phase.map_or("none", Phase::name);
        write!(f, "blocked by okstra [phase:{phase}] {}: {} — {}", self.rule.id(), self.what, self.instead)
    }
}

fn block(ctx: &TaskContext, rule: ContractRule, what: impl Into<String>, instead: impl Into<String>) -> Block {
    Block { phase: ctx.phase(), rule, what: what.into(), instead: instead.into() }
}

impl Block {
    /// A refusal in `phase` (`None`: no task or no run; the rules of every phase).
    pub fn new(phase: Option<Phase>, rule: ContractRule, what: impl Into<String>, instead: impl Into<String>) -> Block {
        Block { phase, rule, what: what.into(), instead: instead.into() }
    }
}

/// Where a written path lies, seen from the task acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A notes location: the task's own folder under the sync dirs (its run folders among
    /// them) or `.scratch/`.
    Notes,
    /// A run folder's `manifest.json` or `launch.md`, or the runs' lock (any task's).
    RunRecord,
    /// The plan the current run was approved with.
    Plan,
    /// In the task worktree, at this repository-relative path.
    Worktree(String),
    /// Another task's worktree or notes (named for the message).
    OtherTask(String),
    /// The main worktree outside the task's notes, at this repository-relative path.
    MainWorktree(String),
    /// A temporary folder or a device such as `/dev/null`: never source.
    Transient,
    /// Anywhere else.
    Elsewhere,
}

/// The files of a run folder okstra writes and reads back.
const RUN_RECORDS: &[&str] = &["manifest.json", "launch.md"];

fn slashed(rel: &Path) -> String {
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Classify `path` (resolved, see [`crate::phase::current::resolve`]) for the task `ctx`;
/// `reg` tells other tasks' worktrees apart from the rest of the disk.
pub fn place(ctx: &TaskContext, reg: &Registry, path: &Path) -> Place {
    if ctx.run.as_ref().and_then(|r| r.plan.as_ref()).is_some_and(|p| Path::new(&p.file) == path) {
        return Place::Plan;
    }
    let notes = ctx.notes();
    let tasks_root = notes.parent().unwrap_or(&ctx.main);
    if let Ok(rel) = path.strip_prefix(tasks_root) {
        let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        let record = match parts.as_slice() {
            [_, runs, _, file] => runs == "runs" && RUN_RECORDS.contains(&file.as_str()),
            [_, runs, lock] => runs == "runs" && lock == ".lock",
            _ => false,
        };
        match parts.first() {
            _ if record => return Place::RunRecord,
            Some(task) if task == ctx.key.task.as_str() => return Place::Notes,
            Some(task) => return Place::OtherTask(format!("the notes of task {task}")),
            None => {}
        }
    }
    let own_notes = [ctx.main.join(".scratch"), ctx.worktree.join(".scratch"), ctx.worktree.join(notes_rel(ctx))];
    if own_notes.iter().any(|n| path.starts_with(n)) {
        return Place::Notes;
    }
    if let Ok(rel) = path.strip_prefix(&ctx.worktree) {
        return Place::Worktree(slashed(rel));
    }
    if let Some((row, _)) = current::holding(reg, path) {
        return Place::OtherTask(format!("the worktree of task {}", row.key()));
    }
    if let Ok(rel) = path.strip_prefix(&ctx.main) {
        return Place::MainWorktree(slashed(rel));
    }
    if transient(path) {
        return Place::Transient;
    }
    Place::Elsewhere
}

/// The task's notes folder relative to a worktree root (`.project-docs/okstra/tasks/<task>`).
fn notes_rel(ctx: &TaskContext) -> PathBuf {
    ctx.notes().strip_prefix(&ctx.main).map(Path::to_path_buf).unwrap_or_default()
}

fn transient(path: &Path) -> bool {
    const DEVICES: &[&str] = &["/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero"];
    let tmp = std::fs::canonicalize(std::env::temp_dir()).unwrap_or_else(|_| std::env::temp_dir());
    DEVICES.iter().any(|d| path == Path::new(d))
        || path.starts_with("/dev/fd")
        || [tmp.as_path(), Path::new("/tmp"), Path::new("/var/tmp")].iter().any(|t| path.starts_with(t))
}

/// Judge a write of the file at `place`. `ignored` answers whether git ignores a
/// repository-relative path (build output is never source); it is asked only when that
/// decides. Reads the approved plan when the phase edits the plan's files.
pub fn judge_write(ctx: &TaskContext, place: &Place, ignored: impl FnOnce(&str) -> bool) -> Result<(), Block> {
    let notes = ctx.notes();
    match place {
        Place::RunRecord => {
            return Err(block(
                ctx,
                ContractRule::RunRecord,
                "writing a run folder's manifest.json or launch.md, okstra's own records",
                "write your notes in other files of the run folder",
            ))
        }
        Place::OtherTask(whose) => {
            return Err(block(
                ctx,
                ContractRule::OtherTask,
                format!("writing into {whose}"),
                format!("work only in this task's worktree {} and notes", ctx.worktree.display()),
            ))
        }
        Place::MainWorktree(rel) => {
            return Err(block(
                ctx,
                ContractRule::OtherTask,
                format!("writing {rel} in the main worktree, which belongs to no task"),
                format!("make the change in this task's worktree {}", ctx.worktree.display()),
            ))
        }
        Place::Notes | Place::Transient => return Ok(()),
        Place::Plan | Place::Worktree(_) | Place::Elsewhere => {}
    }
    // Before the first run only the rules of every phase hold.
    let Some(run) = &ctx.run else { return Ok(()) };
    let writes = contract(run.phase).writes;
    match place {
        Place::Plan => Err(block(
            ctx,
            ContractRule::PlanFile,
            "editing the approved plan",
            format!("note the change the plan needs in {} and ask the user to approve a new plan", run.dir.display()),
        )),
        Place::Worktree(rel) if writes.source() => within_plan(ctx, run, std::slice::from_ref(rel), ignored),
        Place::Worktree(rel) if ignored(rel) => Ok(()),
        Place::Worktree(rel) => Err(block(
            ctx,
            ContractRule::PhaseWrite,
            format!("editing {rel}: this phase writes {}", writes.summary()),
            format!("write what you found to the task notes {}", notes.display()),
        )),
        _ => Err(block(
            ctx,
            ContractRule::PhaseWrite,
            "writing outside the task worktree",
            format!("write to the task notes {} or a temporary folder", notes.display()),
        )),
    }
}

/// The approved plan still matches its hash, and every path of `rels` is within its files
/// (or, for an edit, ignored by git).
fn within_plan(
    ctx: &TaskContext,
    run: &CurrentRun,
    rels: &[String],
    ignored: impl FnOnce(&str) -> bool,
) -> Result<(), Block> {
    let again = "ask the user to approve the plan again (`git okstra task phase … implementation --approved-plan <plan> --approve`)";
    let plan = run.plan.as_ref().ok_or_else(|| {
        block(ctx, ContractRule::PlanChanged, "working without an approved plan recorded for this run", again)
    })?;
    match plan.still_approved() {
        Ok(true) => {}
        Ok(false) => {
            let what = format!("the approved plan {} changed after its approval", plan.file);
            return Err(block(ctx, ContractRule::PlanChanged, what, again));
        }
        Err(e) => return Err(block(ctx, ContractRule::PlanChanged, e.message, again)),
    }
    let outside: Vec<&String> = rels.iter().filter(|r| !plan.files.covers(r)).collect();
    match outside.as_slice() {
        [] => Ok(()),
        [one] if rels.len() == 1 && ignored(one) => Ok(()),
        _ => {
            let shown: Vec<&str> = outside.iter().take(10).map(|s| s.as_str()).collect();
            let more = if outside.len() > 10 { format!(" and {} more", outside.len() - 10) } else { String::new() };
            Err(block(
                ctx,
                ContractRule::PlanScope,
                format!("{}{more}: outside the approved plan's ## Files", shown.join(", ")),
                format!(
                    "record the change you would make as an out-of-plan change in {}/implementation-notes.md",
                    run.dir.display()
                ),
            ))
        }
    }
}

/// Judge a commit (or merge, or rebase) in the task worktree of the staged repository-relative
/// paths `staged`. Before the first run only the rules of every phase hold.
pub fn judge_commit(ctx: &TaskContext, staged: &[String]) -> Result<(), Block> {
    let Some(run) = &ctx.run else { return Ok(()) };
    match contract(run.phase).commits {
        Commits::WithinPlan => within_plan(ctx, run, staged, |_| false),
        Commits::No => Err(block(
            ctx,
            ContractRule::PhaseCommit,
            "committing: this phase makes no commits",
            format!("leave the change uncommitted and describe it in the notes {}", ctx.notes().display()),
        )),
        Commits::ByHandoff => Err(block(
            ctx,
            ContractRule::PhaseCommit,
            "committing: the user's `git okstra handoff` commits",
            "write the drafts in the run folder and tell the user to run `git okstra handoff`",
        )),
    }
}

/// Judge a push or a PR from the task. No phase lets an agent push.
pub fn judge_push(ctx: &TaskContext) -> Result<(), Block> {
    let Some(run) = &ctx.run else { return Ok(()) };
    let instead = match contract(run.phase).push {
        Push::No => "stop and tell the user the branch is ready; pushing belongs to the handoff",
        Push::ByHandoff => "tell the user to run `git okstra handoff`, which pushes and opens the PR",
    };
    Err(block(ctx, ContractRule::PhasePush, "pushing or opening a pull request", instead))
}

/// Judge the text a write puts into a file: an approval marker is the user's to write, in
/// every phase.
pub fn judge_content(ctx: &TaskContext, text: &str) -> Result<(), Block> {
    if !gates::has_approval(text) {
        return Ok(());
    }
    Err(block(
        ctx,
        ContractRule::ApprovalMarker,
        "writing a plan's approval marker (`APPROVED` or a checked `[x] Approved` box)",
        "leave the `- [ ] Approved` box unchecked: only the user approves a plan",
    ))
}

/// Judge an edit that turns a file's `before` text into `after` (a host's file tool): an
/// approval marker line it adds is the user's to write, in every phase; one already there may
/// stay.
pub fn judge_edit(ctx: &TaskContext, before: &str, after: &str) -> Result<(), Block> {
    let old = gates::approval_markers(before);
    if gates::approval_markers(after).iter().all(|m| old.contains(m)) {
        return Ok(());
    }
    judge_content(ctx, after)
}

/// Judge an in-place edit whose result cannot be known before it runs (`sed -i`, `perl -i`)
/// of a file holding `text`: one holding an approval box or marker could be approved by it.
pub fn judge_in_place(ctx: &TaskContext, text: &str) -> Result<(), Block> {
    if !text.lines().any(gates::is_approval_line) {
        return Ok(());
    }
    Err(block(
        ctx,
        ContractRule::ApprovalMarker,
        "an in-place edit (`sed -i`, `perl -i`) of a file holding a plan's approval box, which only the user checks",
        "edit the file with the host's edit tool, leaving the approval box as it is",
    ))
}

/// The reserved command the arguments after `okstra` name, if any (help never acts).
pub fn user_only(args: &[&str]) -> Option<&'static UserOnly> {
    if args.iter().any(|a| matches!(*a, "-h" | "--help")) {
        return None;
    }
    // The global `-q`/`-v` may stand anywhere; no option of okstra's before a subcommand
    // takes a value, so the words are the subcommand path.
    let words: Vec<&str> = args.iter().copied().filter(|a| !a.starts_with('-')).collect();
    let has = |option: &str| args.iter().any(|a| *a == option || a.starts_with(&format!("{option}=")));
    if has(APPROVE_OPTION) {
        return Some(&APPROVE);
    }
    USER_ONLY.iter().find(|u| words.starts_with(u.words) && u.option.map_or(true, has))
}

const APPROVE: UserOnly =
    UserOnly { words: &[], option: Some(APPROVE_OPTION), why: "approving a plan is the user's decision" };

/// Judge a `git okstra` invocation (`args`: the words after `okstra`) from an agent whose
/// task is in `phase` (`None`: no task or no run; the user's commands stay the user's).
pub fn judge_okstra(phase: Option<Phase>, args: &[&str]) -> Result<(), Block> {
    let Some(cmd) = user_only(args) else { return Ok(()) };
    let mut spelled = std::iter::once("git okstra").chain(cmd.words.iter().copied()).collect::<Vec<_>>().join(" ");
    if let Some(o) = cmd.option {
        spelled = format!("{spelled} {o}");
    }
    Err(Block::new(
        phase,
        ContractRule::UserOnly,
        format!("running `{spelled}`: {}", cmd.why),
        "stop, and tell the user what to run and why",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phase::prompt::BUILTIN;

    /// Lower-case, `*` emphasis and backticks removed, every run of white space one space.
    fn normalise(text: &str) -> String {
        let plain: String = text.chars().filter(|c| !matches!(c, '*' | '`')).collect();
        plain.to_lowercase().split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn builtin(name: &str) -> &'static str {
        BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).unwrap_or_else(|| panic!("no prompt {name}"))
    }

    /// The paragraph that starts `**Allowed.**` (or `**Forbidden.**`), up to the next blank line.
    fn paragraph(profile: &str, list: List) -> String {
        let head = match list {
            List::Allowed => "**Allowed.**",
            List::Forbidden => "**Forbidden.**",
        };
        let mut found = profile.split("\n\n").filter(|p| p.trim_start().starts_with(head));
        let para = found.next().unwrap_or_else(|| panic!("no {head} paragraph"));
        assert!(found.next().is_none(), "two {head} paragraphs");
        normalise(para.trim_start().trim_start_matches(head))
    }

    #[test]
    fn the_table_has_one_row_per_phase_in_order() {
        let phases: Vec<Phase> = TABLE.iter().map(|c| c.phase).collect();
        assert_eq!(phases, Phase::ALL);
        for p in Phase::ALL {
            assert_eq!(contract(p).phase, p);
        }
        assert_eq!(TABLE.iter().filter(|c| c.writes.source()).count(), 1, "only implementation edits source");
    }

    #[test]
    fn every_profile_states_its_row_of_the_table() {
        let mut failures = Vec::new();
        for row in &TABLE {
            let file = format!("profiles/{}.md", row.phase);
            let text = builtin(&file);
            for claim in row.claims() {
                let para = paragraph(text, claim.list);
                let phrase = normalise(claim.phrase);
                if para.contains(&phrase) != claim.states {
                    let verb = if claim.states { "must state" } else { "must not state" };
                    failures.push(format!("{file}: {:?} {verb} '{}'", claim.list, claim.phrase));
                }
            }
        }
        assert!(failures.is_empty(), "profiles disagree with the contract table:\n{}", failures.join("\n"));
    }

    #[test]
    fn the_common_contract_states_every_everywhere_rule_and_user_command() {
        let text = normalise(builtin("profiles/_common-contract.md"));
        for rule in EVERYWHERE {
            assert!(text.contains(&normalise(rule.phrase)), "_common-contract.md must state '{}'", rule.phrase);
        }
        for cmd in USER_ONLY {
            let mut spelled = format!("git okstra {}", cmd.words.join(" "));
            if let Some(o) = cmd.option {
                spelled = format!("{spelled} {o}");
            }
            assert!(text.contains(&spelled), "_common-contract.md must name `{spelled}`");
        }
        assert!(text.contains(APPROVE_OPTION) && text.contains("okstra_allow"));
    }

    /// A main worktree, a task worktree and another task's, in a temp folder; the task's
    /// current run is `phase` (an implementation run with a plan listing `src/` and `Cargo.toml`).
    struct Rooms {
        _tmp: tempfile::TempDir,
        root: PathBuf,
        reg: Registry,
    }

    fn rooms() -> Rooms {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        for d in ["main/.project-docs/okstra/tasks/dev-1/runs/001-implementation", "main/.scratch", "wt/src", "wt2"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let mut reg = Registry::default();
        for (task, wt) in [("dev-1", "wt"), ("dev-2", "wt2")] {
            let row = crate::task::registry::Row {
                project_id: "p".into(),
                task_group: "g".into(),
                task_id: task.into(),
                repo: root.join("main").to_string_lossy().into_owned(),
                worktree_path: root.join(wt).to_string_lossy().into_owned(),
                branch: format!("feat-{task}"),
                ..Default::default()
            };
            reg.tasks.insert(row.key(), row);
        }
        Rooms { _tmp: tmp, root, reg }
    }

    impl Rooms {
        fn plan_path(&self) -> PathBuf {
            self.root.join("main/.project-docs/okstra/tasks/dev-1/runs/001-implementation/plan.md")
        }

        fn ctx(&self, phase: Option<Phase>) -> TaskContext {
            let plan_text = "## Files\n- src/\n- Cargo.toml\nAPPROVED\n";
            std::fs::write(self.plan_path(), plan_text).unwrap();
            let run = phase.map(|phase| CurrentRun {
                phase,
                number: 1,
                dir: self.root.join("main/.project-docs/okstra/tasks/dev-1/runs/001-implementation"),
                plan: (phase == Phase::Implementation).then(|| crate::phase::plan::ApprovedPlan {
                    file: self.plan_path().to_string_lossy().into_owned(),
                    approved_now: false,
                    sha256: crate::phase::plan::sha256_hex(plan_text.as_bytes()),
                    files: crate::phase::plan::files_section(plan_text).unwrap(),
                }),
            });
            TaskContext {
                key: crate::task::names::TaskKey::new("p", "g", "dev-1"),
                worktree: self.root.join("wt"),
                main: self.root.join("main"),
                branch: "feat-dev-1".into(),
                run,
            }
        }

        fn place(&self, ctx: &TaskContext, rel: &str) -> Place {
            place(ctx, &self.reg, &current::resolve(Path::new(rel), &self.root))
        }

        fn write(&self, ctx: &TaskContext, rel: &str) -> Result<(), ContractRule> {
            judge_write(ctx, &self.place(ctx, rel), |p| p.starts_with("target/")).map_err(|b| b.rule)
        }
    }

    #[test]
    fn places_are_told_apart() {
        let r = rooms();
        let ctx = r.ctx(Some(Phase::Implementation));
        let docs = "main/.project-docs/okstra/tasks";
        for (rel, want) in [
            (format!("{docs}/dev-1/requirements.md"), Place::Notes),
            (format!("{docs}/dev-1/runs/001-implementation/notes.md"), Place::Notes),
            ("main/.scratch/try.sh".into(), Place::Notes),
            ("wt/.scratch/try.sh".into(), Place::Notes),
            (format!("{docs}/dev-1/runs/001-implementation/manifest.json"), Place::RunRecord),
            (format!("{docs}/dev-2/runs/003-error-analysis/launch.md"), Place::RunRecord),
            (format!("{docs}/dev-1/runs/.lock"), Place::RunRecord),
            (format!("{docs}/dev-1/runs/001-implementation/plan.md"), Place::Plan),
            ("wt/src/new/file.rs".into(), Place::Worktree("src/new/file.rs".into())),
            (format!("{docs}/dev-2/x.md"), Place::OtherTask("the notes of task dev-2".into())),
            ("wt2/src/a.rs".into(), Place::OtherTask("the worktree of task p/g/dev-2".into())),
            ("main/src/a.rs".into(), Place::MainWorktree("src/a.rs".into())),
            ("/dev/null".into(), Place::Transient),
            ("/etc/okstra-test-nothing".into(), Place::Elsewhere),
        ] {
            assert_eq!(r.place(&ctx, &rel), want, "{rel}");
        }
        let tmp_file = std::env::temp_dir().join("okstra-contract-test-scratch");
        assert_eq!(place(&ctx, &r.reg, &current::resolve(&tmp_file, &r.root)), Place::Transient);
        // A link out of the worktree is judged by where it leads.
        std::os::unix::fs::symlink(r.root.join("wt2"), r.root.join("wt/sneaky")).unwrap();
        assert_eq!(r.place(&ctx, "wt/sneaky/a.rs"), Place::OtherTask("the worktree of task p/g/dev-2".into()));
    }

    #[test]
    fn writes_follow_the_phase() {
        use ContractRule::*;
        let r = rooms();
        let notes = "main/.project-docs/okstra/tasks/dev-1/n.md";
        for phase in Phase::ALL {
            let ctx = r.ctx(Some(phase));
            assert_eq!(r.write(&ctx, notes), Ok(()), "{phase}: notes");
            assert_eq!(r.write(&ctx, "wt/target/debug/x"), Ok(()), "{phase}: ignored build output");
            assert_eq!(r.write(&ctx, "main/src/a.rs"), Err(OtherTask), "{phase}: main worktree");
            assert_eq!(r.write(&ctx, "wt2/a.rs"), Err(OtherTask), "{phase}: another task");
            assert_eq!(
                r.write(&ctx, "main/.project-docs/okstra/tasks/dev-1/runs/001-implementation/manifest.json"),
                Err(RunRecord)
            );
            assert_eq!(r.write(&ctx, "/etc/okstra-test-nothing"), Err(PhaseWrite), "{phase}: elsewhere");
            let src = r.write(&ctx, "wt/src/a.rs");
            let plan = r.write(&ctx, "main/.project-docs/okstra/tasks/dev-1/runs/001-implementation/plan.md");
            if phase == Phase::Implementation {
                assert_eq!(src, Ok(()));
                assert_eq!(r.write(&ctx, "wt/Cargo.toml"), Ok(()));
                assert_eq!(r.write(&ctx, "wt/README.md"), Err(PlanScope));
                assert_eq!(plan, Err(PlanFile));
            } else {
                assert_eq!(src, Err(PhaseWrite), "{phase}: source");
                assert_eq!(plan, Ok(()), "{phase}: the plan is a note outside implementation");
            }
        }
        // Before the first run: only the rules of every phase.
        let ctx = r.ctx(None);
        assert_eq!(r.write(&ctx, "wt/src/a.rs"), Ok(()));
        assert_eq!(r.write(&ctx, "main/src/a.rs"), Err(OtherTask));
    }

    #[test]
    fn a_changed_or_missing_plan_stops_edits_and_commits() {
        let r = rooms();
        let ctx = r.ctx(Some(Phase::Implementation));
        let staged = ["src/a.rs".to_string()];
        assert_eq!(judge_commit(&ctx, &staged), Ok(()));
        std::fs::write(r.plan_path(), "## Files\n- **\nAPPROVED\n").unwrap();
        let b = judge_write(&ctx, &Place::Worktree("src/a.rs".into()), |_| true).unwrap_err();
        assert_eq!(b.rule, ContractRule::PlanChanged);
        assert!(b.what.contains("changed after its approval"), "{b}");
        assert_eq!(judge_commit(&ctx, &staged).unwrap_err().rule, ContractRule::PlanChanged);
        std::fs::remove_file(r.plan_path()).unwrap();
        let b = judge_commit(&ctx, &staged).unwrap_err();
        assert_eq!(b.rule, ContractRule::PlanChanged);
        assert!(b.what.contains("cannot read approved plan"), "{b}");
        // Notes stay writable, so the agent can say why it stopped.
        let notes = r.place(&ctx, "main/.project-docs/okstra/tasks/dev-1/why.md");
        assert_eq!(judge_write(&ctx, &notes, |_| false), Ok(()));
    }

    #[test]
    fn commits_and_pushes_follow_the_phase() {
        let r = rooms();
        let staged: Vec<String> = ["src/a.rs", "README.md", "docs/x.md"].iter().map(|s| s.to_string()).collect();
        for phase in Phase::ALL {
            let ctx = r.ctx(Some(phase));
            let commit = judge_commit(&ctx, &staged[..1]);
            assert_eq!(commit.is_ok(), phase == Phase::Implementation, "{phase}");
            let push = judge_push(&ctx).unwrap_err();
            assert_eq!((push.rule, push.phase), (ContractRule::PhasePush, Some(phase)));
        }
        let ctx = r.ctx(Some(Phase::Implementation));
        let b = judge_commit(&ctx, &staged).unwrap_err();
        assert_eq!(b.rule, ContractRule::PlanScope);
        assert!(b.what.starts_with("README.md, docs/x.md: outside the approved plan's ## Files"), "{b}");
        let handoff = judge_commit(&r.ctx(Some(Phase::ReleaseHandoff)), &staged).unwrap_err();
        assert!(handoff.instead.contains("git okstra handoff"), "{handoff}");
        let none = r.ctx(None);
        assert_eq!(judge_commit(&none, &staged), Ok(()));
        assert_eq!(judge_push(&none), Ok(()));
    }

    #[test]
    fn blocks_read_as_design_says() {
        let r = rooms();
        let ctx = r.ctx(Some(Phase::RequirementsDiscovery));
        let b = judge_write(&ctx, &Place::Worktree("src/a.rs".into()), |_| false).unwrap_err();
        let notes = ctx.notes();
        assert_eq!(
            b.to_string(),
            format!(
                "blocked by okstra [phase:requirements-discovery] phase:write: editing src/a.rs: this phase writes \
                 notes only — write what you found to the task notes {}",
                notes.display()
            )
        );
        let b = judge_write(&r.ctx(None), &Place::RunRecord, |_| false).unwrap_err();
        assert!(b.to_string().starts_with("blocked by okstra [phase:none] phase:run-record: "), "{b}");
    }

    #[test]
    fn approval_markers_are_the_users() {
        let r = rooms();
        let ctx = r.ctx(Some(Phase::ImplementationPlanning));
        assert_eq!(judge_content(&ctx, "# Plan\n- [ ] Approved\n"), Ok(()));
        for text in ["- [x] Approved\n", "APPROVED\n", "x\nAPPROVED: me\n"] {
            assert_eq!(judge_content(&ctx, text).unwrap_err().rule, ContractRule::ApprovalMarker, "{text}");
        }
    }

    #[test]
    fn the_users_commands_are_recognised() {
        let r = rooms();
        let ctx = r.ctx(Some(Phase::Implementation));
        for args in [
            &["task", "phase", "DEV-1", "final-verification"][..],
            &["-q", "phase", "implementation-planning"],
            &["handoff", "--action", "pr"],
            &["task", "handoff", "DEV-1"],
            &["task", "release", "DEV-1", "--remove"],
            &["hooks", "install", "--agent", "claude"],
            &["hooks", "uninstall"],
            &["doctor", "--repair"],
            &["-v", "doctor", "--json", "--repair"],
            &["task", "start", "DEV-1", "--approve"],
        ] {
            let b = judge_okstra(ctx.phase(), args).unwrap_err();
            assert_eq!(b.rule, ContractRule::UserOnly, "{args:?}");
        }
        assert!(judge_okstra(None, &["doctor", "--repair"])
            .unwrap_err()
            .what
            .starts_with("running `git okstra doctor --repair`"));
        for args in [
            &["task", "list"][..],
            &["task", "show", "DEV-1", "--json"],
            &["doctor"],
            &["hooks", "status"],
            &["task", "phase", "--help"],
            &["handoff", "-h"],
            &["task", "start", "DEV-3"],
        ] {
            assert_eq!(judge_okstra(ctx.phase(), args), Ok(()), "{args:?}");
        }
    }

    #[test]
    fn a_claim_is_checked_both_ways() {
        // The check itself must be able to fail: a profile that allows commits breaks `Commits::No`.
        let drifted = "**Allowed.** Read everything; commit when done.\n\n**Forbidden.** Commits; pushing.\n";
        let allowed = paragraph(drifted, List::Allowed);
        let bad: Vec<_> =
            Commits::No.claims().iter().filter(|c| paragraph(drifted, c.list).contains(c.phrase) != c.states).collect();
        assert_eq!(bad.len(), 1, "{allowed}");
        assert_eq!(bad[0].list, List::Allowed);
    }
}
