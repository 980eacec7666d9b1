//! Rule families `phase`, `other-task` and `user-only`: the task contract (DESIGN §8) applied
//! to what a command does — each file it writes (found by the one reader's walk), each git
//! operation (commits, pushes, branch changes, where git runs), the okstra commands reserved
//! to the user — and to the hosts' file tools and MCP tools. The decisions are
//! [`crate::guard::contract`]'s; this file finds the task and the facts, and names the ids.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::super::contract::{self, Block, ContractRule, Place};
use super::super::expand::Arg;
use super::super::files::{self, Effect};
use super::super::git_command::{run_time, Call};
use super::super::git_grammar::Parsed;
use super::super::Context;
use super::{def, RuleDef};
use crate::phase::current::{self, TaskContext};
use crate::phase::Phase;
use crate::policy::{Rule, Violation};

const NOTES: &str = "write to the task notes (`.project-docs/okstra/tasks/<task>/`), `.scratch/` or a temporary folder";

pub const RULES: &[RuleDef] = &[
    RuleDef { id: "phase:write", rule: Rule::Phase, what: "a file write the phase's column does not allow: source outside implementation, anything outside the task worktree and the notes (redirections, `tee`, `cp`, `mv`, `rm`, `touch`, `sed -i`, `patch`, `git apply`/`checkout --`/`restore`/`stash pop`, a host's file tool)", instead: NOTES },
    RuleDef { id: "phase:commit", rule: Rule::Phase, what: "a commit, merge, rebase, cherry-pick, revert, am, pull or branch-moving reset outside implementation, or onto another branch than the task's", instead: "leave the change uncommitted and describe it in the task notes" },
    RuleDef { id: "phase:push", rule: Rule::Phase, what: "a push or a pull request from a task, in any phase (also through an MCP tool)", instead: "tell the user the branch is ready; pushing belongs to the user's `git okstra handoff`" },
    RuleDef { id: "phase:plan-scope", rule: Rule::Phase, what: "in implementation, an edit or a commit's path outside the approved plan's `## Files`", instead: "record the change you would make as an out-of-plan change in the run's notes" },
    RuleDef { id: "phase:plan-file", rule: Rule::Phase, what: "in implementation, an edit of the approved plan itself", instead: "note the change the plan needs and ask the user to approve a new plan" },
    RuleDef { id: "phase:plan-changed", rule: Rule::Phase, what: "in implementation, an edit or a commit while the approved plan no longer matches its approval hash (or cannot be read)", instead: "ask the user to approve the plan again" },
    RuleDef { id: "phase:approval-marker", rule: Rule::Phase, what: "writing a plan's approval marker (`APPROVED`, a checked `[x] Approved` box), or an in-place edit of a file holding the box", instead: "leave the `- [ ] Approved` box unchecked: only the user approves a plan" },
    RuleDef { id: "phase:run-record", rule: Rule::Phase, what: "an edit of a run folder's `manifest.json` or `launch.md`, or the runs' lock", instead: "write your notes in other files of the run folder" },
    RuleDef { id: "phase:context", rule: Rule::Phase, what: "an operation in a task whose contract cannot be told (the registry does not parse, the run folder, its manifest or the approved plan is gone)", instead: "stop and ask the user to repair the task" },
    RuleDef { id: "other-task:write", rule: Rule::OtherTask, what: "a write into another task's worktree or notes, or into the main worktree outside the notes (also git run there with `-C`, `--git-dir`, `--work-tree`); `git worktree add|move` from a task", instead: "work only in this task's worktree and notes" },
    RuleDef { id: "other-task:branch", rule: Rule::OtherTask, what: "checking out, resetting, moving, deleting or pushing another task's branch", instead: "leave other tasks' branches to their tasks" },
    RuleDef { id: "user-only:command", rule: Rule::UserOnly, what: "`git okstra task phase`/`phase`, `--approve`, `handoff`, `task handoff`, `task release`, `hooks install|uninstall`, `doctor --repair` from an agent", instead: "stop, and tell the user what to run and why" },
];

/// A refusal of the contract as the guard reports it, with the phase it was judged in.
pub fn violation(b: Block, subject: &str) -> Violation {
    let d = def(b.rule.id());
    Violation {
        rule: d.rule,
        id: d.id,
        subject: subject.to_string(),
        message: b.what,
        fix: b.instead,
        phase: Some(b.phase.map_or("none", Phase::name)),
    }
}

/// The task an operation on `p` (resolved) is judged for, and where `p` lies for it.
fn judged(p: &Path, subject: &str, ctx: &mut Context) -> Result<Option<(Rc<TaskContext>, Place)>, Violation> {
    let Some(task) = ctx.task_for(p).map_err(|b| violation(b, subject))? else { return Ok(None) };
    let reg = ctx.tasks.registry().map_err(|b| violation(b, subject))?;
    let place = contract::place(&task, &reg, p);
    ctx.note(|t| t.task(&task));
    Ok(Some((task, place)))
}

/// A path a command changes, resolved, with its task and place: `None` in no task, `Some(Err)`
/// a refusal already (the contract cannot be told).
type Located = Result<(PathBuf, Rc<TaskContext>, Place), Violation>;

fn located(effect: Effect, p: &Path, subject: &str, ctx: &mut Context) -> Option<Located> {
    let p = resolved(effect, p);
    judged(&p, subject, ctx).transpose().map(|r| r.map(|(task, place)| (p, task, place)))
}

/// `p` resolved as the kernel would write it: through every link, except that removing a
/// link removes the link itself.
fn resolved(effect: Effect, p: &Path) -> PathBuf {
    match effect {
        Effect::Remove => files::real(p, false),
        Effect::Write | Effect::Mode => current::resolve(p, Path::new("/")),
    }
}

/// A file the command changes (`p` absolute), with the text it writes when the guard knows it.
pub fn write(effect: Effect, p: &Path, text: Option<&str>, subject: &str, ctx: &mut Context) -> Option<Violation> {
    let (_, task, place) = match located(effect, p, subject, ctx)? {
        Ok(found) => found,
        Err(v) => return Some(v),
    };
    let worktree = task.worktree.clone();
    let tasks = &mut ctx.tasks;
    let verdict = contract::judge_write(&task, &place, |rel| tasks.ignored(&worktree, rel))
        .and_then(|()| text.map_or(Ok(()), |t| contract::judge_content(&task, t)));
    verdict.err().map(|b| violation(b, subject))
}

/// A host's file tool turning the file at `p` from `before` into `after` (`after` unknown:
/// only where it writes is judged).
pub fn edit(p: &Path, before: &str, after: Option<&str>, subject: &str, ctx: &mut Context) -> Option<Violation> {
    if let Some(v) = write(Effect::Write, p, None, subject, ctx) {
        return Some(v);
    }
    let after = after?;
    let task = ctx.task_for(&resolved(Effect::Write, p)).ok().flatten()?;
    contract::judge_edit(&task, before, after).err().map(|b| violation(b, subject))
}

/// `sed -i`/`perl -i` of the file at `p`: judged by where it writes, and refused for a file
/// that holds an approval box (what the edit makes of it is only known when it runs).
pub fn in_place(p: &Path, subject: &str, ctx: &mut Context) -> Option<Violation> {
    if let Some(v) = write(Effect::Write, p, None, subject, ctx) {
        return Some(v);
    }
    let task = ctx.task_for(&resolved(Effect::Write, p)).ok().flatten()?;
    let text = std::fs::read_to_string(p).ok()?;
    contract::judge_in_place(&task, &text).err().map(|b| violation(b, subject))
}

/// The folder of the worktree a git invocation acts on: `--work-tree`, else the worktree of
/// `--git-dir`, else the top of the worktree holding its folder (`-C`, `cd`).
fn acting_top(call: &Call, ctx: &mut Context) -> Option<PathBuf> {
    if let Some(wt) = &call.here.work_tree {
        return Some(wt.clone());
    }
    let dir = call.here.dir.clone()?;
    let top = ctx.repo_for(&call.here).and_then(|r| r.current_worktree.clone()).unwrap_or(dir);
    Some(current::resolve(&top, Path::new("/")))
}

/// What a git invocation does, in the contract's columns.
#[derive(Default)]
struct GitOps {
    /// Makes or rewrites commits on the branch where it runs.
    commits: bool,
    /// Paths named for a `git commit` (relative to where git runs).
    commit_paths: Vec<Arg>,
    pushes: bool,
    /// Branch names it checks out, moves, deletes or pushes.
    branches: Vec<Arg>,
    /// Branches it points at another commit (`update-ref`, `branch -f`, `checkout -B`, a
    /// fetch into a local branch): a commit, in the contract's columns, when it is the task's.
    moves: Vec<Arg>,
    /// Files it writes (relative to where git runs); `unlisted`: it writes tracked files the
    /// guard cannot list before it runs (`git stash pop`).
    writes: Vec<Arg>,
    unlisted: Option<&'static str>,
    /// Changes only git's own state where it runs (the index, a stash, a tag).
    state: bool,
    /// `git worktree add|move`: a checkout of the shared repository outside the task's rooms.
    worktree: bool,
}

impl GitOps {
    fn is_empty(&self) -> bool {
        !(self.commits
            || self.pushes
            || self.state
            || self.worktree
            || self.unlisted.is_some()
            || !self.branches.is_empty()
            || !self.moves.is_empty()
            || !self.writes.is_empty())
    }
}

fn word(p: &Parsed, n: usize) -> Option<&str> {
    p.operands.get(n).and_then(Arg::known)
}

/// The sequencer's own controls (`--abort`, `--quit`, …), read from the grammar or, for the
/// commands without one, the words.
fn control(p: &Parsed, names: &[&str]) -> bool {
    names.iter().any(|n| p.on(n) || p.operands.iter().any(|a| a.known() == Some(&format!("--{n}"))))
}

/// Read a git invocation into [`GitOps`]; commands that only read give nothing.
fn git_ops(call: &Call, p: &Parsed, ctx: &mut Context) -> GitOps {
    let mut ops = GitOps::default();
    let operands = || p.operands.iter().filter(|a| !a.text.starts_with('-')).cloned();
    match call.sub.as_str() {
        "commit" if !p.on("dry-run") => {
            ops.commits = true;
            ops.commit_paths = p.operands.clone();
        }
        "merge" | "rebase" | "cherry-pick" | "revert" | "am" | "pull" => {
            if control(p, &["abort", "quit", "show-current-patch", "edit-todo"]) {
                ops.state = true;
            } else if p.on("no-commit") || p.on("squash") {
                ops.unlisted = Some("writes the merged changes into tracked files");
            } else {
                ops.commits = true;
            }
            if call.sub == "rebase" {
                ops.branches.extend(p.operands.get(1).cloned());
            }
        }
        "reset" => reset(call, p, &mut ops, ctx),
        "update-ref" if !p.on("d") && !p.on("stdin") => {
            if let Some(r) = p.operands.first() {
                ops.moves.push(Arg { text: r.text.trim_start_matches("refs/heads/").to_string(), ..r.clone() });
                ops.commits = r.text == "HEAD";
            }
        }
        // `symbolic-ref HEAD refs/heads/<b>` puts the worktree on another branch.
        "symbolic-ref" => {
            if let Some(r) = p.operands.get(1) {
                ops.branches.push(Arg { text: r.text.trim_start_matches("refs/heads/").to_string(), ..r.clone() });
            }
        }
        "fetch" => ops.moves.extend(fetched_into(p)),
        "checkout" | "switch" => checkout(call, p, &mut ops, ctx),
        "restore" => {
            if p.on("worktree") || !p.on("staged") {
                ops.writes.extend(operands());
            }
            ops.state = true;
        }
        "rm" if !p.on("cached") && !p.on("dry-run") => ops.writes.extend(operands()),
        "rm" | "add" | "tag" | "notes" => ops.state = !p.on("dry-run"),
        "mv" => ops.writes.extend(operands()),
        "apply" => apply(call, p, &mut ops, ctx),
        "stash" => match word(p, 0) {
            Some("pop" | "apply") => ops.unlisted = Some("writes the stashed changes into tracked files"),
            Some("branch") => {
                ops.unlisted = Some("writes the stashed changes into tracked files");
                ops.branches.extend(p.operands.get(1).cloned());
            }
            Some("list" | "show") => {}
            _ => ops.state = true,
        },
        "branch" => branch(p, &mut ops),
        "worktree" => match word(p, 0) {
            Some("add") => {
                ops.worktree = true;
                ops.branches.extend(p.operands.iter().filter(|a| !a.text.starts_with('-')).nth(2).cloned());
            }
            Some("move") => ops.worktree = true,
            _ => {}
        },
        "push" => {
            ops.pushes = !p.on("dry-run");
            ops.branches.extend(pushed_branches(p));
        }
        "clone" => ops.writes.extend(p.operands.get(1).cloned()),
        _ => {}
    }
    ops
}

/// `git reset`: a commit operand moves the branch (the modes that discard are `discard`'s);
/// paths, or `HEAD` itself, only unstage.
fn reset(call: &Call, p: &Parsed, ops: &mut GitOps, ctx: &mut Context) {
    ops.state = true;
    let (before, after) = p.split_operands();
    let Some(target) = before.first().filter(|_| after.is_empty() && before.len() == 1) else { return };
    let moves = match target.known() {
        Some("HEAD" | "@") => false,
        Some(name) => ctx.repo_for(&call.here).is_some_and(|r| r.resolves(name)),
        None => true,
    };
    ops.commits |= moves;
}

/// `git checkout`/`switch`: the branch it checks out (or force-moves with `-B`/`-C`), and the
/// paths it overwrites.
fn checkout(call: &Call, p: &Parsed, ops: &mut GitOps, ctx: &mut Context) {
    for o in ["B", "force-create"] {
        ops.moves.extend(p.values(o).into_iter().cloned());
    }
    let creates = ["b", "B", "orphan", "create", "force-create"].iter().any(|o| p.on(o));
    let (before, after) = p.split_operands();
    if !after.is_empty() || (call.sub == "checkout" && before.len() > 1) {
        let paths = if after.is_empty() { &before[1..] } else { after };
        ops.writes.extend(paths.iter().cloned());
        return;
    }
    let Some(lone) = before.first() else { return };
    let is_branch = lone.known().is_some_and(|name| {
        ctx.repo_for(&call.here).is_some_and(|r| r.branch_exists(name) || r.remote_branch_named(name))
    });
    if is_branch || call.sub == "switch" {
        if !creates {
            ops.branches.push(lone.clone());
        }
    } else if call.sub == "checkout" && !creates {
        // Not a branch: a commit to detach at, or a path to overwrite; the discard rule decided
        // which already, and a path is a write.
        if lone.known().is_some_and(|n| !ctx.repo_for(&call.here).is_some_and(|r| r.resolves(n))) {
            ops.writes.push(lone.clone());
        }
    }
}

/// `git branch`: what it deletes, renames, copies, force-moves or re-points.
fn branch(p: &Parsed, ops: &mut GitOps) {
    let named: Vec<Arg> = p.operands.iter().filter(|a| !a.text.starts_with('-')).cloned().collect();
    let changes =
        ["delete", "D", "move", "M", "copy", "C", "unset-upstream", "edit-description"].iter().any(|o| p.on(o))
            || !p.values("set-upstream-to").is_empty();
    if changes {
        ops.branches.extend(named);
    } else if p.on("force") {
        ops.moves.extend(named.into_iter().take(1));
    }
}

/// The local branches a fetch writes (`git fetch . HEAD:b`, `origin main:b`).
fn fetched_into(p: &Parsed) -> Vec<Arg> {
    p.operands
        .iter()
        .skip(1)
        .filter_map(|a| {
            let (_, dst) = a.text.trim_start_matches('+').split_once(':')?;
            let name = dst.trim_start_matches("refs/heads/").trim_start_matches("heads/");
            (!name.is_empty() && !dst.starts_with("refs/remotes/") && !dst.starts_with("refs/tags/"))
                .then(|| Arg { text: name.to_string(), ..a.clone() })
        })
        .collect()
}

/// The branch names a push's refspecs name, on either side (`feat:feat`, `+x`, `:x`,
/// `--delete x`).
fn pushed_branches(p: &Parsed) -> Vec<Arg> {
    let mut out = Vec::new();
    for a in p.operands.iter().skip(1) {
        for side in a.text.trim_start_matches('+').split(':') {
            let name = side.trim_start_matches("refs/heads/").trim_start_matches("heads/");
            if !name.is_empty() && name != "HEAD" {
                out.push(Arg { text: name.to_string(), ..a.clone() });
            }
        }
    }
    out
}

/// `git apply`: the files its patches name (`--directory` in front), or unlisted when a patch
/// cannot be read; `--check`, `--stat`, … only read; `--cached` writes the index alone.
fn apply(call: &Call, p: &Parsed, ops: &mut GitOps, ctx: &mut Context) {
    let reads = ["check", "stat", "numstat", "summary"].iter().any(|o| p.on(o)) && !p.on("apply");
    if reads {
        return;
    }
    ops.state = true;
    if p.on("cached") {
        return;
    }
    let strip = p.values("p").last().and_then(|a| a.known()).and_then(|n| n.parse().ok()).unwrap_or(1);
    let dir = p.values("directory").last().map(|a| a.text.trim_end_matches('/').to_string());
    let patches: Vec<&Arg> = p.operands.iter().filter(|a| a.text != "-").collect();
    let texts: Option<Vec<String>> = if patches.is_empty() {
        ctx.stdin_text.clone().map(|t| vec![t])
    } else {
        patches.iter().map(|a| a.known().and_then(|f| read_patch(call, f, ctx))).collect()
    };
    match texts {
        Some(texts) => {
            for t in &texts {
                for path in files::patch_targets(t, strip) {
                    let path = dir.as_ref().map_or(path.clone(), |d| format!("{d}/{path}"));
                    ops.writes.push(Arg::lit(path));
                }
            }
        }
        None => ops.unlisted = Some("writes the files its patch names, which cannot be read now"),
    }
}

fn read_patch(call: &Call, file: &str, ctx: &mut Context) -> Option<String> {
    let base = call.here.dir.clone().or_else(|| ctx.cwd.clone())?;
    let path = base.join(file);
    if ctx.written.contains(&files::normalize(&path)) {
        return None; // written earlier in this command: what it will hold is unknown
    }
    std::fs::read_to_string(path).ok()
}

/// Judge a git invocation against the contract (after the other rule families passed).
pub fn git(call: &Call, p: &Parsed, ctx: &mut Context) -> Option<Violation> {
    let ops = git_ops(call, p, ctx);
    if ops.is_empty() {
        return None;
    }
    let s = call.subject;
    // A folder only known at run time (`cd "$DIR"`): the agent's own task judges it, when it
    // has one (a task agent's pushes and commits are judged by its phase wherever they run).
    let top = match acting_top(call, ctx) {
        Some(top) => top,
        None => match ctx.own_task() {
            Ok(Some(t)) => t.worktree.clone(),
            Ok(None) => return None,
            Err(b) => return Some(violation(b, s)),
        },
    };
    let task = match ctx.task_for(&top) {
        Ok(t) => t,
        Err(b) => return Some(violation(b, s)),
    };
    let changed: Vec<Arg> = ops.branches.iter().chain(&ops.moves).cloned().collect();
    if let Some(v) = other_branches(call, task.as_deref(), &changed, ctx) {
        return Some(v);
    }
    let task = task?;
    // Pointing the task's own branch elsewhere makes its history what a commit would.
    let mut ops = ops;
    ops.commits |= ops.moves.iter().any(|b| b.known() == Some(task.branch.as_str()));
    let reg = ctx.tasks.registry().map_err(|b| violation(b, s)).ok()?;
    ctx.note(|t| t.task(&task));
    let place = contract::place(&task, &reg, &top);
    let verdict = where_git_runs(&task, &place, &call.sub)
        .and_then(|()| if ops.worktree { Err(worktree_add(&task)) } else { Ok(()) })
        .and_then(|()| if ops.pushes { contract::judge_push(&task) } else { Ok(()) })
        .and_then(|()| if ops.commits { commit(call, &task, &top, &ops, ctx) } else { Ok(()) })
        .and_then(|()| ops.unlisted.map_or(Ok(()), |why| unlisted(&task, &format!("`git {}` {why}", call.sub))));
    if let Err(b) = verdict {
        return Some(violation(b, s));
    }
    let base = call.here.dir.clone().unwrap_or_else(|| top.clone());
    ops.writes.iter().find_map(|a| match a.known() {
        Some(rel) => write(Effect::Write, &base.join(rel), None, s, ctx),
        None => Some(run_time(s, a, "is a file this git command writes")),
    })
}

/// git run in another task's worktree or in the main worktree changes that room.
fn where_git_runs(task: &TaskContext, place: &Place, sub: &str) -> Result<(), Block> {
    let whose = match place {
        Place::OtherTask(whose) => whose.clone(),
        Place::MainWorktree(_) => "the main worktree, which belongs to no task".into(),
        Place::Elsewhere => return contract::judge_write(task, place, |_| false),
        _ => return Ok(()),
    };
    Err(Block::new(
        task.phase(),
        ContractRule::OtherTask,
        format!("running `git {sub}` in {whose}"),
        format!("work only in this task's worktree {}", task.worktree.display()),
    ))
}

fn worktree_add(task: &TaskContext) -> Block {
    Block::new(
        task.phase(),
        ContractRule::OtherTask,
        "adding or moving a worktree: a checkout of the shared repository outside the task's rooms",
        format!(
            "work in this task's worktree {}; a new task worktree is the user's `git okstra task start`",
            task.worktree.display()
        ),
    )
}

/// A commit (or merge, rebase, …) where the task's worktree is: the phase's commit column, the
/// paths it names within the plan, and the task's own branch.
fn commit(call: &Call, task: &TaskContext, top: &Path, ops: &GitOps, ctx: &mut Context) -> Result<(), Block> {
    let base = call.here.dir.clone().unwrap_or_else(|| top.to_path_buf());
    let rels: Vec<String> = ops
        .commit_paths
        .iter()
        .filter_map(|a| a.known())
        .filter_map(|rel| {
            let p = current::resolve(&base.join(rel), Path::new("/"));
            p.strip_prefix(&task.worktree).ok().map(|r| r.to_string_lossy().into_owned())
        })
        .filter(|r| !r.is_empty())
        .collect();
    contract::judge_commit(task, &rels)?;
    match ctx.current_branch(&call.here) {
        Some(Some(b)) if task.run.is_some() && b != task.branch => Err(Block::new(
            task.phase(),
            ContractRule::PhaseCommit,
            format!("committing onto branch '{b}', which is not the task's branch '{}'", task.branch),
            format!("switch back to the task branch (`git switch {}`) and commit there", task.branch),
        )),
        _ => Ok(()),
    }
}

/// A command that writes tracked files it cannot list before it runs: fine where source may
/// be edited (the `pre-commit` backstop checks the plan), refused elsewhere.
fn unlisted(task: &TaskContext, what: &str) -> Result<(), Block> {
    let Some(run) = &task.run else { return Ok(()) };
    let writes = contract::contract(run.phase).writes;
    if writes.source() {
        return Ok(());
    }
    Err(Block::new(
        Some(run.phase),
        ContractRule::PhaseWrite,
        format!("{what}: this phase writes {}", writes.summary()),
        format!("write what you found to the task notes {}", task.notes().display()),
    ))
}

/// A command writing files under the folder `p` that cannot be listed before it runs
/// (`patch` of a patch it cannot read).
pub fn unlisted_write(p: &Path, what: &str, subject: &str, ctx: &mut Context) -> Option<Violation> {
    let (p, task, place) = match located(Effect::Write, p, subject, ctx)? {
        Ok(found) => found,
        Err(v) => return Some(v),
    };
    match place {
        Place::Worktree(_) => unlisted(&task, what).err().map(|b| violation(b, subject)),
        _ => write(Effect::Write, &p, None, subject, ctx),
    }
}

/// Branch names that are another task's (of the same repository): any task's branch but the
/// acting task's own.
fn other_branches(call: &Call, task: Option<&TaskContext>, names: &[Arg], ctx: &mut Context) -> Option<Violation> {
    if names.is_empty() {
        return None;
    }
    let reg = match ctx.tasks.registry() {
        Ok(r) => r,
        Err(b) => return Some(violation(b, call.subject)),
    };
    let main = ctx.repo_for(&call.here).map(|r| current::resolve(r.main_worktree(), Path::new("/")))?;
    let own = task.map(|t| t.key.to_string());
    for name in names {
        let Some(n) = name.known() else { continue };
        let row = reg.tasks.values().find(|r| {
            r.branch == n
                && Some(r.key()) != own
                && current::resolve(Path::new(&r.repo), Path::new("/")) == main
                && r.status != crate::task::registry::Status::Released
        });
        if let Some(row) = row {
            let b = Block::new(
                task.and_then(TaskContext::phase),
                ContractRule::OtherBranch,
                format!("`git {}` changes the branch '{n}' of task {}", call.sub, row.key()),
                "leave other tasks' branches to their tasks; work on this task's own branch",
            );
            return Some(violation(b, call.subject));
        }
    }
    None
}

/// `ln -s TARGET LINK`: a link in the task's worktree that leads into another task's room or
/// the main worktree is a way to write there later; refused like a write there.
pub fn link_target(p: &Path, subject: &str, ctx: &mut Context) -> Option<Violation> {
    let (_, task, place) = match located(Effect::Write, p, subject, ctx)? {
        Ok(found) => found,
        Err(v) => return Some(v),
    };
    match place {
        Place::OtherTask(_) | Place::MainWorktree(_) => {
            contract::judge_write(&task, &place, |_| false).err().map(|b| violation(b, subject))
        }
        _ => None,
    }
}

/// `git okstra …` from an agent: the user's commands stay the user's, in every phase.
pub fn okstra(args: &[Arg], subject: &str, ctx: &mut Context) -> Option<Violation> {
    if let Some(a) = args.iter().find(|a| !a.exact) {
        return Some(run_time(subject, a, "could name an okstra command reserved to the user"));
    }
    let words: Vec<&str> = args.iter().map(|a| a.text.as_str()).collect();
    contract::user_only(&words)?;
    let phase = ctx.own_task().ok().flatten().and_then(|t| t.phase());
    contract::judge_okstra(phase, &words).err().map(|b| violation(b, subject))
}

/// A program that opens a pull request (`gh pr create`, `hub pull-request`, `glab mr create`):
/// a push in the contract's columns, never the agent's from a task.
pub fn program(prog: &str, args: &[Arg], subject: &str, ctx: &mut Context) -> Option<Violation> {
    let words: Vec<&str> = args.iter().filter_map(Arg::known).filter(|w| !w.starts_with('-')).collect();
    let opens = match prog {
        "gh" => words.windows(2).any(|w| w == ["pr", "create"]),
        "hub" => words.first() == Some(&"pull-request"),
        "glab" => words.windows(2).any(|w| w == ["mr", "create"]),
        _ => false,
    };
    if !opens || args.iter().any(|a| matches!(a.text.as_str(), "-h" | "--help")) {
        return None;
    }
    let here = ctx.cwd.clone()?;
    let task = match ctx.task_for(&current::resolve(&here, Path::new("/"))) {
        Ok(t) => t?,
        Err(b) => return Some(violation(b, subject)),
    };
    ctx.note(|t| t.task(&task));
    contract::judge_push(&task).err().map(|b| violation(b, subject))
}

/// An MCP tool that pushes or opens a pull request, from a task: never the agent's.
pub fn mcp(tool: &str, subject: &str, ctx: &mut Context) -> Option<Violation> {
    const PUSHES: &[&str] = &[
        "push_files",
        "create_or_update_file",
        "delete_file",
        "create_commit",
        "create_pull_request",
        "create_branch",
    ];
    let name = tool.rsplit("__").next().unwrap_or(tool);
    if !PUSHES.contains(&name) {
        return None;
    }
    let task = match ctx.own_task() {
        Ok(t) => t?,
        Err(b) => return Some(violation(b, subject)),
    };
    contract::judge_push(&task).err().map(|b| violation(b, subject))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract's every-phase rules name what the one id table holds.
    #[test]
    fn everywhere_rules_name_rule_families_or_ids() {
        for r in contract::EVERYWHERE {
            let known = r.id == "protected-history"
                || r.id.parse::<Rule>().is_ok()
                || super::super::all().any(|d| d.id == r.id);
            assert!(known, "{} is neither a policy rule nor a rule id", r.id);
        }
        for c in ContractRule::ALL {
            assert_eq!(def(c.id()).id, c.id(), "{c:?} has a row in RULES");
        }
        assert_eq!(RULES.len(), ContractRule::ALL.len());
    }
}
