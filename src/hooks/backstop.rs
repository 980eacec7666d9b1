//! The `pre-commit` backstop of the task contract (DESIGN §8): in a task worktree a commit
//! the task's phase does not allow is refused — for everyone, person or agent — and in
//! implementation so is a staged path outside the approved plan's `## Files` (all of them
//! listed), or any commit once the plan no longer matches its approval hash. What the guard
//! judged before the command ran, this judges on what git is about to commit.
//!
//! The user's `git okstra handoff` commits in release-handoff: recognised from the processes
//! (this very program running `handoff` is the committing git's parent), never from anything
//! a caller can set. A person who means it sets `OKSTRA_ALLOW=phase`, which is logged.
//! A lookup that cannot be made (registry, run folder, manifest, plan) refuses.

use std::path::Path;

use super::{marker, process};
use crate::guard::contract::{self, Block, ContractRule};
use crate::guard::rules::contract::violation;
use crate::phase::current;
use crate::policy::Violation;
use crate::task::registry::Store;

/// The refusal of a commit about to be made in the worktree at `top` (the hook's folder),
/// whose own git dir is `git_dir`; `None` lets it through.
pub fn judge(git_dir: &Path, top: &Path) -> Option<Violation> {
    let home = match marker::read(git_dir) {
        Some(Some(home)) => home,
        Some(None) => {
            let what = format!("okstra's task marker {} does not read", git_dir.join(marker::FILE).display());
            return Some(broken(what, "run `git okstra task start <TASK-ID>` for this task again, which rewrites it"));
        }
        None => crate::config::okstra_home().ok()?,
    };
    let reg = match Store::at_home(&home).load() {
        Ok(reg) => reg,
        Err(e) => return Some(from_error(e)),
    };
    let task = match current::context_in(&reg, top) {
        Ok(Some(task)) => task,
        Ok(None) => return None,
        Err(e) => return Some(from_error(e)),
    };
    task.run.as_ref()?;
    if process::started_by_handoff(process::parent()) {
        return None;
    }
    let staged = match staged(git_dir, top) {
        Ok(paths) => paths,
        Err(e) => return Some(from_error(e)),
    };
    contract::judge_commit(&task, &staged).err().map(|b| violation(b, "git commit"))
}

fn broken(what: String, instead: &str) -> Violation {
    let b = Block::new(None, ContractRule::Context, format!("the task contract cannot be told: {what}"), instead);
    violation(b, "git commit")
}

fn from_error(e: crate::error::Error) -> Violation {
    let hint = e.hint.clone().unwrap_or_else(|| "ask the user to repair the task".into());
    broken(e.message, &hint)
}

/// The paths this commit changes: the index (git's own for this commit, `commit -a` and
/// `commit <paths>` included) against `HEAD`. For a merge, only the paths the result changes
/// against every parent: what the other side brings in is not this task's edit.
fn staged(git_dir: &Path, top: &Path) -> crate::error::Result<Vec<String>> {
    // Against `HEAD` (no revision given: an unborn branch compares with the empty tree).
    let mut revs = vec![None];
    revs.extend(merge_heads(git_dir, top).into_iter().map(Some));
    let mut common: Option<Vec<String>> = None;
    for rev in &revs {
        let mut args = vec!["diff", "--cached", "--name-only", "-z", "--no-renames"];
        args.extend(rev.as_deref());
        args.push("--");
        let out = crate::git::exec_in_hook_env("git", &args, top)?;
        if out.code != 0 {
            let why = out.stderr.trim().to_string();
            return Err(crate::error::Error::failed(format!("cannot list the staged paths ({why})")));
        }
        let paths: Vec<String> = out.stdout.split('\0').filter(|p| !p.is_empty()).map(str::to_string).collect();
        common = Some(match common {
            None => paths,
            Some(prev) => prev.into_iter().filter(|p| paths.contains(p)).collect(),
        });
    }
    Ok(common.unwrap_or_default())
}

/// The other parents of a merge being made: `MERGE_HEAD` when git has written it (a
/// conflicted merge concluded by `git commit`), else — `pre-merge-commit` runs before git
/// writes it — the commits the parent `git merge` names, read with git's own option grammar.
fn merge_heads(git_dir: &Path, top: &Path) -> Vec<String> {
    if let Ok(merging) = std::fs::read_to_string(git_dir.join("MERGE_HEAD")) {
        return merging.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
    }
    let argv = process::argv(process::parent()).unwrap_or_default();
    let Some((at, sub)) = process::subcommand_at(&argv) else { return Vec::new() };
    let Some(grammar) = crate::guard::git_grammar::Grammar::of("merge").filter(|_| sub == "merge") else {
        return Vec::new();
    };
    let args: Vec<crate::guard::Arg> = argv[at..].iter().map(|a| crate::guard::Arg::lit(a.as_str())).collect();
    let parsed = grammar.parse(&args);
    parsed
        .operands
        .iter()
        .filter_map(|a| {
            let spec = format!("{}^{{commit}}", a.text);
            let out = crate::git::exec_in_hook_env("git", &["rev-parse", "--verify", "-q", spec.as_str()], top).ok()?;
            (out.code == 0).then(|| out.stdout.trim().to_string())
        })
        .collect()
}
