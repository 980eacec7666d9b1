//! `git okstra phase <PHASE>` (inside a task worktree) and `git okstra task phase <KEY|ID> <PHASE>`.

use std::path::PathBuf;

use clap::Args;

use crate::error::{Error, Result};
use crate::output;
use crate::phase::executor;
use crate::phase::lifecycle::{self, PhaseOptions, TaskRef};
use crate::phase::Phase;
use crate::task::worktree::Context;

/// The flags both spellings share.
#[derive(Debug, Args)]
pub struct PhaseFlags {
    /// The approved plan (implementation): `APPROVED` or a checked `[x] Approved` box, and a `## Files` section.
    #[arg(long, value_name = "FILE")]
    pub approved_plan: Option<PathBuf>,
    /// Approve the plan now: check its `[ ] Approved` box and append an audit line (implementation only).
    #[arg(long)]
    pub approve: bool,
    /// The final-verification report (release-handoff) [default: the newest final-verification run's report].
    #[arg(long, value_name = "FILE")]
    pub verification_report: Option<PathBuf>,
    /// Start this agent CLI in the task worktree with the prompt: claude, codex, gemini, or a
    /// name configured as okstra.executor.<name> [env: OKSTRA_DEFAULT_EXECUTOR].
    #[arg(long, value_name = "AGENT")]
    pub exec: Option<String>,
    /// Start the agent in its own tmux session (named after the task key) and return at once;
    /// `git okstra task attach <task>` attaches.
    #[arg(long)]
    pub detach: bool,
    /// Print one JSON object on stdout (not with an agent in this terminal).
    #[arg(long)]
    pub json: bool,
}

/// `git okstra phase <PHASE>`: a phase of the task whose worktree you stand in.
#[derive(Debug, Args)]
pub struct PhaseArgs {
    /// requirements-discovery, error-analysis, implementation-planning, implementation,
    /// final-verification or release-handoff.
    pub phase: String,
    #[command(flatten)]
    pub flags: PhaseFlags,
}

/// `git okstra task phase <KEY|TASK-ID> <PHASE>`.
#[derive(Debug, Args)]
pub struct TaskPhaseArgs {
    /// A task key (`project/group/task`) or a task id; an unregistered id is started first.
    pub task: String,
    /// requirements-discovery, error-analysis, implementation-planning, implementation,
    /// final-verification or release-handoff.
    pub phase: String,
    /// The task is new: start it even when its id is close to a registered one (without it,
    /// DEV-999x is refused with "did you mean DEV-999?").
    #[arg(long)]
    pub new: bool,
    #[command(flatten)]
    pub flags: PhaseFlags,
}

pub fn run(a: PhaseArgs) -> Result<i32> {
    execute(TaskRef::Here, &a.phase, a.flags, false)
}

pub fn run_for_task(a: TaskPhaseArgs) -> Result<i32> {
    execute(TaskRef::Named(&a.task), &a.phase, a.flags, a.new)
}

fn execute(task: TaskRef<'_>, phase: &str, f: PhaseFlags, new_task: bool) -> Result<i32> {
    let phase: Phase = phase.parse()?;
    let exec = executor::chosen(f.exec.as_deref());
    if f.json && !f.detach {
        if let Some(name) = &exec {
            return Err(Error::usage(format!(
                "--json cannot be combined with an executor ({name}): the agent writes to the same stdout"
            ))
            .hint("add --detach to run the agent in tmux, or drop --exec (or unset OKSTRA_DEFAULT_EXECUTOR)"));
        }
    }
    let ctx = Context::require(&super::cwd()?)?;
    let opts = PhaseOptions {
        approved_plan: f.approved_plan,
        approve: f.approve,
        verification_report: f.verification_report,
        executor: exec,
        new_task,
        detach: f.detach,
    };
    let out = lifecycle::run_phase(&ctx, task, phase, &opts)?;
    if f.json {
        output::document(lifecycle::SCHEMA, &out)?;
        return Ok(0);
    }
    match &out.executor {
        Some(e) if e.detached => {
            output::value(&out.worktree.path);
            Ok(0)
        }
        None => {
            output::info(format!(
                "{} run {:03} of {} ({} worktree {})",
                out.phase,
                out.run,
                out.key,
                out.worktree.status.name(),
                out.worktree.path
            ));
            output::info(format!("launch prompt: {}", out.launch));
            // stdout is the worktree path, as for `task start`, so `cd "$(git okstra phase …)"`
            // and the shell-init function work the same for both.
            output::value(&out.worktree.path);
            Ok(0)
        }
        Some(e) => match e.exit_code {
            Some(0) => Ok(0),
            code => Err(Error::failed(format!(
                "{} exited with status {}; the run is recorded in {}",
                e.name,
                code.map(|c| c.to_string()).unwrap_or_else(|| "unknown".into()),
                out.run_dir
            ))),
        },
    }
}

/// `git-okstra __agent <RUN_DIR>`: what a detached agent's tmux session runs.
#[derive(Debug, Args)]
pub struct AgentArgs {
    pub run_dir: PathBuf,
}

pub fn run_agent(a: AgentArgs) -> Result<i32> {
    lifecycle::run_in_session(&a.run_dir)
}
