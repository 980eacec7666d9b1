//! `git okstra task …`: start, list, show, release.

use clap::{Args, Subcommand};
use serde_json::json;

use crate::error::Result;
use crate::hooks::pushes::{self, Bypass};
use crate::output;
use crate::task::registry::Row;
use crate::task::worktree::{self, Context, Health, StartRequest};

/// JSON shape version of `task` outputs.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Provision (or reuse) the worktree and branch of a task; prints its path.
    Start(StartArgs),
    /// List the tasks of this repository (`--all`: of every repository).
    List(ListArgs),
    /// Show one task.
    Show(ShowArgs),
    /// Mark a task released; `--remove` also removes its worktree and branch.
    Release(ReleaseArgs),
    /// Release handoff of a named task (the same as `git okstra handoff --task`).
    Handoff(super::handoff::TaskHandoffArgs),
    /// Run a lifecycle phase of a task: gate, run folder, launch prompt (prints its path).
    Phase(super::phase::TaskPhaseArgs),
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The ticket id, e.g. DEV-9436.
    pub task_id: String,
    /// Task group [config: okstra.group; default: default].
    #[arg(long)]
    pub group: Option<String>,
    /// Project name [config: okstra.project; default: the main worktree's folder name].
    #[arg(long)]
    pub project: Option<String>,
    /// Work category, decides the branch prefix [config: okstra.category; default: feature].
    #[arg(long)]
    pub category: Option<String>,
    /// A human title, kept in the registry.
    #[arg(long)]
    pub title: Option<String>,
    /// Start the branch here instead of the main worktree's HEAD.
    #[arg(long)]
    pub base: Option<String>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Every repository, not just this one.
    #[arg(long)]
    pub all: bool,
    /// Also check each worktree for uncommitted changes (one `git status` per task).
    #[arg(long)]
    pub dirty: bool,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A task key (`project/group/task`) or a task id.
    pub task: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// A task key (`project/group/task`) or a task id.
    pub task: String,
    /// Also remove the worktree and delete the branch.
    #[arg(long)]
    pub remove: bool,
    /// With --remove: discard uncommitted changes and commits found nowhere else.
    #[arg(long, requires = "remove")]
    pub force: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: TaskCommand) -> Result<i32> {
    match cmd {
        TaskCommand::Start(a) => start(a),
        TaskCommand::List(a) => list(a),
        TaskCommand::Show(a) => show(a),
        TaskCommand::Release(a) => release(a),
        TaskCommand::Handoff(a) => super::handoff::run_for_task(a),
        TaskCommand::Phase(a) => super::phase::run_for_task(a),
    }
}

fn start(a: StartArgs) -> Result<i32> {
    let req = StartRequest {
        task_id: a.task_id,
        group: a.group,
        project: a.project,
        category: a.category,
        title: a.title,
        base: a.base,
    };
    let out = worktree::start(&super::cwd()?, &req)?;
    if a.json {
        let mut v = serde_json::to_value(&out).map_err(|e| crate::error::Error::failed(e.to_string()))?;
        v["schema"] = json!(SCHEMA);
        output::json(&v);
    } else {
        let detail = if out.branch.is_empty() { String::new() } else { format!(" on branch {}", out.branch) };
        output::info(format!("{}: {}{detail}", out.status.name(), out.path));
        if !out.note.is_empty() {
            output::info(format!("note: {}", out.note));
        }
        output::value(&out.path);
    }
    Ok(0)
}

fn row_json(row: &Row, health: Health, bypassed: Option<&Bypass>) -> serde_json::Value {
    let mut v = serde_json::to_value(row).unwrap_or_default();
    v["key"] = json!(row.key());
    v["health"] = json!(health.name());
    v["last_push_bypassed_hooks"] = json!(bypassed);
    v
}

/// The open bypassed push that was the last push of each row's branch (rows of this
/// repository only: the reflogs read are this repository's).
fn bypassed<'a>(ctx: &Context, notices: &'a pushes::Notices, rows: &[&Row]) -> Vec<Option<&'a Bypass>> {
    let here = ctx.repo_id();
    rows.iter().map(|r| if r.repo == here { notices.for_branch(&ctx.repo, &r.branch) } else { None }).collect()
}

fn list(a: ListArgs) -> Result<i32> {
    let ctx = Context::require(&super::cwd()?)?;
    let reg = ctx.store.load()?;
    let repo_id = ctx.repo_id();
    let rows: Vec<&Row> = reg.tasks.values().filter(|r| a.all || r.repo == repo_id).collect();
    let healths: Vec<Health> =
        rows.iter().map(|r| worktree::health(r, (r.repo == repo_id).then_some(&ctx.repo), a.dirty)).collect();
    let notices = pushes::check_or_warn(&ctx.repo);
    let marks = bypassed(&ctx, &notices, &rows);
    if a.json {
        let tasks: Vec<_> = rows.iter().zip(&healths).zip(&marks).map(|((r, h), b)| row_json(r, *h, *b)).collect();
        output::json(&json!({"schema": SCHEMA, "tasks": tasks}));
        return Ok(0);
    }
    if rows.is_empty() {
        output::info("no tasks registered for this repository (`git okstra task start <TASK-ID>` makes one)");
        return Ok(0);
    }
    let width = rows.iter().map(|r| r.key().len()).max().unwrap_or(3).max(3);
    let bwidth = rows.iter().map(|r| r.branch.len() + 1).max().unwrap_or(6).max(6);
    output::value(format!(
        "{:<width$}  {:<8}  {:<16}  {:<bwidth$}  {}",
        "KEY", "STATUS", "HEALTH", "BRANCH", "LAST PHASE"
    ));
    for ((r, h), b) in rows.iter().zip(&healths).zip(&marks) {
        let phase = r.last_phase.map(|p| p.name()).unwrap_or("-");
        let branch = if b.is_some() { format!("{}!", r.branch) } else { r.branch.clone() };
        output::value(format!(
            "{:<width$}  {:<8}  {:<16}  {:<bwidth$}  {phase}",
            r.key(),
            r.status.to_string(),
            h.name(),
            branch
        ));
    }
    if marks.iter().any(Option::is_some) {
        output::info("!: the last push of this branch skipped okstra's pre-push hook (`git okstra task show <id>`)");
    }
    Ok(0)
}

fn show(a: ShowArgs) -> Result<i32> {
    let ctx = Context::require(&super::cwd()?)?;
    let reg = ctx.store.load()?;
    let (_, row) = ctx.resolve_task(&reg, &a.task)?;
    let health = worktree::health(&row, Some(&ctx.repo), true);
    let notices = pushes::check_or_warn(&ctx.repo);
    let bypass = if row.repo == ctx.repo_id() { notices.for_branch(&ctx.repo, &row.branch) } else { None };
    if a.json {
        let mut v = row_json(&row, health, bypass);
        v["schema"] = json!(SCHEMA);
        output::json(&v);
        return Ok(0);
    }
    let lines = [
        ("key", row.key()),
        ("task id", format!("{} ({})", row.task_id, row.task_id_raw)),
        ("title", row.title.clone()),
        ("status", row.status.to_string()),
        ("health", health.name().to_string()),
        ("worktree", row.worktree_path.clone()),
        ("branch", row.branch.clone()),
        ("base", row.base_ref.clone()),
        ("category", row.category.clone()),
        ("repository", row.repo.clone()),
        ("created", row.created_at.clone()),
        ("last phase", row.last_phase.map(|p| p.to_string()).unwrap_or_else(|| "-".into())),
    ];
    for (k, v) in lines {
        output::value(format!("{k:<11} {v}"));
    }
    if let Some(b) = bypass {
        output::value(format!(
            "{:<11} {} at {} skipped okstra's pre-push hook (now {}); `git okstra handoff` asks before shipping it",
            "last push",
            b.short_ref(),
            b.at,
            &b.new[..b.new.len().min(12)]
        ));
    }
    for p in &row.phases {
        output::value(format!("  {}  {}", p.at, p.phase));
    }
    Ok(0)
}

fn release(a: ReleaseArgs) -> Result<i32> {
    let ctx = Context::require(&super::cwd()?)?;
    let out = worktree::release(&ctx, &a.task, a.remove, a.force)?;
    if a.json {
        let mut v = serde_json::to_value(&out).unwrap_or_default();
        v["schema"] = json!(SCHEMA);
        output::json(&v);
    } else {
        let mut msg = format!("released {}", out.key);
        if out.removed_worktree {
            msg.push_str(&format!("; removed {}", out.path));
        }
        if out.deleted_branch {
            msg.push_str(&format!("; deleted branch {}", out.branch));
        }
        output::info(msg);
    }
    Ok(0)
}
