//! `release-handoff.md`: the record of one handoff run, under the headings DESIGN §6 names.

use super::{Outcome, Status};

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn render(o: &Outcome) -> String {
    let mut r = format!("# Release handoff — {}\n\n", o.key);
    r.push_str(&format!("Status: `{}`", o.status.name()));
    if !o.reason.is_empty() {
        r.push_str(&format!(" — {}", o.reason));
    }
    r.push_str("\n\n## Source Verification Report\n\n");
    r.push_str(&format!("- Report: `{}`\n", o.verification_report));
    r.push_str(&format!("- Verdict line: `{}`\n", o.verdict_line));
    r.push_str(&format!("- Verdict: `{}`\n", o.verdict));

    r.push_str("\n## Feature Branch & Working-Tree State\n\n");
    r.push_str(&format!("- Task: `{}` (`{}`)\n", o.task_id, o.key));
    r.push_str(&format!("- Worktree: `{}`\n", o.worktree));
    r.push_str(&format!("- Feature branch: `{}`\n", o.branch));
    r.push_str(&format!("- HEAD before: `{}`\n", o.head_before));
    if !o.head_after.is_empty() {
        r.push_str(&format!("- HEAD after: `{}`\n", o.head_after));
    }
    if !o.base.is_empty() {
        r.push_str(&format!("- Base: `{}` (compared at `{}`)\n", o.base, o.base_rev));
    }
    if o.pending.is_empty() {
        r.push_str("- Working tree before the handoff: clean\n");
    } else {
        r.push_str(&format!("- Working tree before the handoff: {} changed or untracked path(s)\n", o.pending.len()));
        for p in &o.pending {
            r.push_str(&format!("  - `{p}`\n"));
        }
    }

    r.push_str("\n## User Selections\n\n");
    if o.selections.is_empty() {
        r.push_str("None.\n");
    }
    for s in &o.selections {
        r.push_str(&format!("- {}: `{}` (from {})\n", s.question, s.answer, s.source));
    }
    if o.status != Status::Skipped && !o.commit_message.is_empty() {
        r.push_str("\nCommit message:\n\n```text\n");
        r.push_str(o.commit_message.trim_end());
        r.push_str("\n```\n");
    }

    r.push_str("\n## Executed Commands\n\n");
    if o.commands.is_empty() {
        r.push_str("None.\n");
    } else {
        r.push_str("| # | Command | Exit | Summary |\n| --- | --- | --- | --- |\n");
        for (i, c) in o.commands.iter().enumerate() {
            r.push_str(&format!(
                "| {} | `{}` | {} | {} |\n",
                i + 1,
                cell(&c.command).replace('`', "'"),
                c.exit_code,
                cell(&c.summary)
            ));
        }
    }

    r.push_str("\n## Commit List\n\n");
    if !o.commit_note.is_empty() {
        r.push_str(&format!("{}.\n\n", o.commit_note));
    }
    if o.commits.is_empty() {
        r.push_str("No commits on the branch ahead of the base.\n");
    } else {
        r.push_str("| Short | Full SHA | Subject | Files | This run |\n| --- | --- | --- | --- | --- |\n");
        for c in &o.commits {
            let files = c.files.iter().map(|f| format!("`{}`", cell(f))).collect::<Vec<_>>().join(", ");
            r.push_str(&format!(
                "| `{}` | `{}` | {} | {} | {} |\n",
                c.short,
                c.sha,
                cell(&c.subject),
                files,
                if c.new { "yes" } else { "no" }
            ));
        }
    }

    r.push_str("\n## Pull Request Outcome\n\n");
    r.push_str(&format!("- Outcome: `{}`\n", o.pr.outcome));
    if !o.pr.url.is_empty() {
        r.push_str(&format!("- URL: {}\n", o.pr.url));
    }
    if !o.pr.reason.is_empty() {
        r.push_str(&format!("- Reason: {}\n", o.pr.reason));
    }

    r.push_str("\n## Routing Recommendation\n\n");
    r.push_str(&format!("- Next: `{}`\n", o.routing));
    if !o.reentry.is_empty() {
        r.push_str(&format!("- Re-entry: {}\n", o.reentry));
    }
    r
}
