//! `git okstra task …`: start, list, show, release.

use clap::{Args, Subcommand};
use serde_json::json;

use std::io::{IsTerminal, Write};

use crate::error::{Error, Result};
use crate::guard::contract::ContractView;
use crate::hooks::pushes;
use crate::output;
use crate::phase::current;
use crate::phase::lifecycle;
use crate::phase::session;
use crate::phase::status::{self, AgentState};
use crate::task::board::{self, render, Entry};
use crate::task::names::printable;
use crate::task::registry::Row;
use crate::task::worktree::{self, Context, StartRequest, StartStatus};

/// JSON shape version of `task` outputs.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Provision (or reuse) the worktree and branch of a task; prints its path.
    Start(StartArgs),
    /// The status board: a line per task of this repository (`--all`: of every repository).
    List(ListArgs),
    /// Show one task, with its board fields.
    Show(ShowArgs),
    /// Attach to the tmux session of a task's detached agent (switch to it inside tmux).
    Attach(AttachArgs),
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
    /// Also count each worktree's changed files (`git status` in every worktree at once).
    #[arg(long)]
    pub dirty: bool,
    /// Ask GitHub for each pull request's state (`gh pr view`, every task at once).
    #[arg(long)]
    pub pr: bool,
    /// Only the tasks waiting for you; exit 1 when none is (like grep).
    #[arg(long, conflicts_with = "watch")]
    pub waiting: bool,
    /// Redraw the board every SECONDS [default: 2] until interrupted.
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "2", value_parser = seconds, conflicts_with = "json")]
    pub watch: Option<f64>,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

fn seconds(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.1..=86_400.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a number of seconds between 0.1 and 86400")),
    }
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A task key (`project/group/task`) or a task id.
    pub task: String,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// A task key (`project/group/task`) or a task id.
    pub task: String,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// A task key (`project/group/task`) or a task id.
    pub task: String,
    /// Also remove the worktree and delete the branch.
    #[arg(long)]
    pub remove: bool,
    /// With --remove: discard uncommitted changes, ignored files and commits found nowhere else.
    #[arg(long, requires = "remove")]
    pub force: bool,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: TaskCommand) -> Result<i32> {
    match cmd {
        TaskCommand::Start(a) => start(a),
        TaskCommand::List(a) => list(a),
        TaskCommand::Show(a) => show(a),
        TaskCommand::Attach(a) => attach(a),
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
    // A skipped start is one warning (with --json too): the note says why and where the task
    // runs, the status is named at its end.
    let skipped = matches!(out.status, StartStatus::SkippedNotGit | StartStatus::SkippedInWorktree);
    if skipped {
        output::warn(format!("{} ({})", out.note, out.status.name()));
    }
    if a.json {
        output::document(SCHEMA, &out)?;
    } else {
        if !skipped {
            report_start(&out);
        }
        output::value(&out.path);
    }
    Ok(0)
}

/// The status line on stderr, and the note if there is one.
fn report_start(out: &worktree::StartOutcome) {
    let detail = if out.branch.is_empty() { String::new() } else { format!(" on branch {}", out.branch) };
    output::info(format!("{}: {}{detail}", out.status.name(), out.path));
    if !out.note.is_empty() {
        output::info(format!("note: {}", out.note));
    }
}

/// The board entries `task list` shows, registry read afresh; `gh`: ask for the pull
/// requests' states too.
fn entries(ctx: &Context, a: &ListArgs, gh: Option<&std::path::Path>) -> Result<Vec<Entry>> {
    let reg = ctx.store.load()?;
    let repo_id = ctx.repo_id();
    let rows: Vec<Row> = reg.tasks.into_values().filter(|r| a.all || r.repo == repo_id).collect();
    let mut entries = board::collect(&ctx.repo, rows, board::Options { dirty: a.dirty });
    // Only this repository's reflogs are read: a push from another clone is its own to notice.
    Entry::mark_bypassed(&mut entries, &ctx.repo, &repo_id, &pushes::check_or_warn(&ctx.repo));
    if let Some(gh) = gh {
        board::refresh_prs(gh, &mut entries, &ctx.store)?;
    }
    if a.waiting {
        entries.retain(|e| e.waiting.is_some());
    }
    Ok(entries)
}

fn style() -> render::Style {
    let fancy = output::stdout_styled();
    render::Style { fancy, width: output::terminal_width().filter(|_| std::io::stdout().is_terminal()) }
}

fn list(a: ListArgs) -> Result<i32> {
    let ctx = Context::require(&super::cwd()?)?;
    let gh = if a.pr { Some(board::gh()?) } else { None };
    if let Some(secs) = a.watch {
        return watch(&ctx, &a, gh.as_deref(), secs);
    }
    let entries = entries(&ctx, &a, gh.as_deref())?;
    // `--waiting` answers like grep: 0 when something matched, 1 when nothing did.
    let code = if a.waiting && entries.is_empty() { 1 } else { 0 };
    if a.json {
        let tasks: Vec<_> = entries.iter().map(Entry::to_json).collect();
        output::json(&json!({"schema": SCHEMA, "tasks": tasks}));
    } else if entries.is_empty() {
        if !a.waiting {
            output::info("no tasks registered for this repository (`git okstra task start <TASK-ID>` makes one)");
        }
    } else {
        print!("{}", render::table(&entries, style()));
        if entries.iter().any(|e| e.bypassed_push().is_some()) {
            output::info(
                "!: the last push of this branch skipped okstra's pre-push hook (`git okstra task show <id>`)",
            );
        }
    }
    Ok(code)
}

/// How often `--watch --pr` asks the forge again (the recorded state is shown in between).
const PR_REFRESH: std::time::Duration = std::time::Duration::from_secs(60);

/// Redraw the board in place every `secs` seconds until interrupted (on a terminal the
/// cursor goes home and each line is cleared to its end, which does not flicker the way a
/// full clear does; elsewhere each board is printed after the last).
fn watch(ctx: &Context, a: &ListArgs, gh: Option<&std::path::Path>, secs: f64) -> Result<i32> {
    let tty = std::io::stdout().is_terminal();
    let mut flags = String::new();
    for (on, flag) in [(a.all, " --all"), (a.dirty, " --dirty"), (a.pr, " --pr")] {
        if on {
            flags.push_str(flag);
        }
    }
    if tty {
        print!("\x1b[H\x1b[2J");
    }
    // The forge is asked at most once a minute, however often the board is drawn.
    let mut asked: Option<std::time::Instant> = None;
    loop {
        let ask = gh.filter(|_| asked.map_or(true, |t| t.elapsed() >= PR_REFRESH));
        if ask.is_some() {
            asked = Some(std::time::Instant::now());
        }
        let entries = entries(ctx, a, ask)?;
        let mut frame = format!("Every {secs}s: git okstra task list{flags}    {}\n\n", crate::task::registry::now());
        frame.push_str(&render::table(&entries, style()));
        let mut out = std::io::stdout().lock();
        let written = if tty {
            let lines: String = frame.lines().map(|l| format!("{l}\x1b[K\n")).collect();
            write!(out, "\x1b[H{lines}\x1b[J")
        } else {
            writeln!(out, "{frame}")
        };
        // A closed pipe (`| head`) ends the watch like an interrupt does.
        if written.and_then(|_| out.flush()).is_err() {
            return Ok(0);
        }
        drop(out);
        std::thread::sleep(std::time::Duration::from_secs_f64(secs));
    }
}

fn show(a: ShowArgs) -> Result<i32> {
    let ctx = Context::require(&super::cwd()?)?;
    let reg = ctx.store.load()?;
    let (_, row) = ctx.resolve_task(&reg, &a.task)?;
    let mut entries = board::collect(&ctx.repo, vec![row], board::Options { dirty: true });
    Entry::mark_bypassed(&mut entries, &ctx.repo, &ctx.repo_id(), &pushes::check_or_warn(&ctx.repo));
    let e = entries.remove(0);
    let bypass = e.bypassed_push().cloned();
    let contract = ContractView::of(current::run_of(&e.row));
    if a.json {
        let mut v = e.to_json();
        v["contract"] = json!(contract);
        output::document(SCHEMA, &v)?;
        return Ok(0);
    }
    let row = &e.row;
    let mut lines = vec![
        ("key", row.key()),
        ("task id", format!("{} ({})", row.task_id, row.task_id_raw)),
        ("title", row.title.clone()),
        ("status", row.status.to_string()),
        ("health", e.health.name().to_string()),
        ("worktree", row.worktree_path.clone()),
        ("branch", row.branch.clone()),
        ("base", row.base_ref.clone()),
        ("category", row.category.clone()),
        ("repository", row.repo.clone()),
        ("created", row.created_at.clone()),
        ("last phase", row.last_phase.map(|p| p.to_string()).unwrap_or_else(|| "-".into())),
    ];
    lines.extend(board_lines(&e));
    lines.push(("contract", contract.summary));
    // a hand-edited registry may hold anything: nothing reaches the terminal raw
    for (k, v) in lines {
        output::value(format!("{k:<11} {}", printable(&v)));
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

/// `task show`'s lines for the board fields.
fn board_lines(e: &Entry) -> Vec<(&'static str, String)> {
    let mut lines = Vec::new();
    if let Some(r) = &e.run {
        lines.push(("run", format!("{:03} {} ({}) {}", r.number, r.phase, r.state.name(), r.dir)));
    }
    let agent = match &e.agent {
        None => "-".to_string(),
        Some(a) => {
            let state = match a.state {
                AgentState::Running => "running".to_string(),
                AgentState::Exited(c) => format!("exited {c}"),
                AgentState::Gone => "gone (no exit status was recorded)".to_string(),
            };
            let place = a.session.as_ref().map(|s| format!(", tmux session {s}")).unwrap_or_default();
            format!("{} {state} (run {:03}{place})", a.name, a.run)
        }
    };
    lines.push(("agent", agent));
    if let Some(d) = &e.divergence {
        lines.push(("ahead", format!("{} ahead of {}, {} behind", d.ahead, d.base, d.behind)));
    }
    lines.push(("changes", e.changed_files.map_or("-".into(), |n| format!("{n} file(s)"))));
    if let Some(pr) = &e.row.pr {
        let review = if pr.review.is_empty() { String::new() } else { format!(", {}", pr.review) };
        lines.push(("pr", format!("{} {}{review} (as of {})", pr.url, pr.state.name(), pr.checked_at)));
    }
    lines.push(("activity", format!("{} ({} ago)", e.activity_at, render::age(e.age_seconds))));
    lines.push(("waiting", e.waiting.map_or("no".into(), |w| format!("yes: {}", w.text()))));
    if !e.notices.is_empty() {
        lines.push(("notices", e.notices.iter().map(|n| n.text()).collect::<Vec<_>>().join(", ")));
    }
    lines
}

fn attach(a: AttachArgs) -> Result<i32> {
    let ctx = Context::require(&super::cwd()?)?;
    let reg = ctx.store.load()?;
    let (key, _) = ctx.resolve_task(&reg, &a.task)?;
    let tmux = session::tmux()?;
    let name = session::name(&key);
    if !session::live().contains_key(&name) {
        return Err(Error::failed(format!("task {key} has no agent session (no tmux session {name})"))
            .hint(format!("start one: `git okstra task phase {key} <PHASE> --exec <AGENT> --detach`")));
    }
    let inside = std::env::var_os("TMUX").is_some_and(|v| !v.is_empty());
    let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if !(inside || terminal) {
        return Err(Error::failed(format!("attaching to {name} needs a terminal"))
            .hint(format!("run it in a terminal, or read the screen with `tmux capture-pane -p -t ={name}:`")));
    }
    session::attach(&tmux, &name)
}

fn release(a: ReleaseArgs) -> Result<i32> {
    let ctx = Context::require(&super::cwd()?)?;
    if a.remove {
        // Removing the worktree under a working agent would pull its files away mid-edit,
        // whatever --force says about the work already there.
        let reg = ctx.store.load()?;
        if let Ok((key, row)) = ctx.resolve_task(&reg, &a.task) {
            if let Some(agent) = status::running_agent(std::path::Path::new(&row.repo), &key.task) {
                return Err(lifecycle::agent_runs(&key, &agent, "remove the worktree once it has exited"));
            }
        }
    }
    let out = crate::task::release::release(&ctx, &a.task, a.remove, a.force)?;
    if a.json {
        output::document(SCHEMA, &out)?;
    } else {
        let mut msg = format!("released {}", out.key);
        if out.removed_worktree {
            msg.push_str(&format!("; removed {}", out.path));
        }
        if out.deleted_branch {
            msg.push_str(&format!("; deleted branch {}", out.branch));
        }
        output::info(msg);
        // The caller's shell still stands in the folder that is gone: say where to go.
        let here = std::env::current_dir().ok();
        if out.removed_worktree && here.as_deref().map_or(true, |h| h.starts_with(&out.path)) {
            output::warn(format!(
                "your shell's current folder was in the removed worktree: `cd {}`",
                ctx.repo.main_worktree().display()
            ));
        }
    }
    Ok(0)
}
