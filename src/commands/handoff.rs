//! `git okstra handoff` and `git okstra task handoff <KEY|ID>`: the release-handoff phase.

use std::path::PathBuf;

use clap::Args;

use crate::error::{Error, Result};
use crate::handoff::{self, Action, Outcome, Request, Status};
use crate::output;

/// JSON shape version of `handoff` output.
pub const SCHEMA: u32 = 1;

/// The flags that answer the handoff's questions (shared by both spellings of the command).
#[derive(Debug, Args)]
pub struct HandoffOptions {
    /// The PR base: staging, preprod, prod, main, dev, or another branch that exists on origin.
    #[arg(long, value_name = "BRANCH")]
    pub base: Option<String>,
    /// commit (commit only), pr (commit, push the feature branch, open a PR) or skip.
    #[arg(long, value_parser = ["commit", "pr", "skip"])]
    pub action: Option<String>,
    /// Use the text of this file as the commit message.
    #[arg(long, value_name = "FILE", conflicts_with = "yes")]
    pub message_file: Option<PathBuf>,
    /// The final-verification report [default: the newest one in the task's run folders].
    #[arg(long, value_name = "FILE")]
    pub verification_report: Option<PathBuf>,
    /// Use the drafted commit message as is.
    #[arg(long)]
    pub yes: bool,
    /// Print the drafts and the commands that would run; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Ship the branch even though its last push skipped okstra's pre-push hook (asked on a
    /// terminal; logged).
    #[arg(long)]
    pub accept_bypassed_push: bool,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HandoffArgs {
    /// The task (`project/group/task` or task id) [default: the task whose worktree you are in].
    #[arg(long, value_name = "KEY|ID")]
    pub task: Option<String>,
    #[command(flatten)]
    pub opts: HandoffOptions,
}

#[derive(Debug, Args)]
pub struct TaskHandoffArgs {
    /// A task key (`project/group/task`) or a task id.
    pub task: String,
    #[command(flatten)]
    pub opts: HandoffOptions,
}

pub fn run(a: HandoffArgs) -> Result<i32> {
    handoff_with(a.task, a.opts)
}

pub fn run_for_task(a: TaskHandoffArgs) -> Result<i32> {
    handoff_with(Some(a.task), a.opts)
}

fn handoff_with(task: Option<String>, o: HandoffOptions) -> Result<i32> {
    let req = Request {
        task,
        base: o.base,
        action: o.action.as_deref().map(str::parse::<Action>).transpose()?,
        message_file: o.message_file,
        verification_report: o.verification_report,
        yes: o.yes,
        dry_run: o.dry_run,
        accept_bypassed_push: o.accept_bypassed_push,
        interactive: handoff::is_terminal(),
    };
    let out = handoff::run(&super::cwd()?, &req)?;
    if o.json {
        output::document(SCHEMA, &out)?;
    } else {
        print_human(&out);
    }
    match out.status {
        Status::Blocked => {
            output::error(&Error::failed(format!("release handoff blocked: {}", out.reason)).hint(
                "run the final-verification phase until its verdict is `accepted` (or pass --verification-report F)",
            ));
            Ok(crate::error::EXIT_FAILED)
        }
        Status::Failed => {
            output::error(&Error::failed(out.reason.clone()).hint(format!("the report is {}", out.report)));
            Ok(crate::error::EXIT_FAILED)
        }
        _ => Ok(0),
    }
}

fn print_human(out: &Outcome) {
    match out.status {
        Status::Blocked | Status::Failed => {}
        Status::DryRun => {
            output::value("# Commit message (draft)\n");
            output::value(out.commit_message.trim_end());
            output::value("\n# Pull request body (draft)\n");
            output::value(out.pr_body.trim_end());
            output::value("\n# Commands that would run\n");
            if !out.commit_note.is_empty() {
                output::value(format!("# {}", out.commit_note));
            }
            for c in &out.planned {
                output::value(c);
            }
            if out.pr.outcome == "skipped" {
                output::value(format!("# pull request skipped: {}", out.pr.reason));
            }
        }
        _ => {
            output::info(format!("release handoff {}: {}", out.status.name(), out.key));
            if !out.pr.url.is_empty() {
                output::info(format!("pull request ({}): {}", out.pr.outcome, out.pr.url));
            }
            output::info(format!("routing: {}", out.routing));
            output::value(&out.report);
        }
    }
}
