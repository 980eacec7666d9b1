//! Rule family `discard`: local work that cannot be brought back — uncommitted changes,
//! untracked files, stashes, unmerged branches, worktrees, reflogs and unreachable objects,
//! and files outside the task's worktree. With several agents in several worktrees of one
//! repository, one of these in the wrong folder destroys another agent's work.
//!
//! Every phase, agents only; a user who wants agents allowed says so in their own config
//! (`okstra.guardAllow = discard`, user level only, which `self-protect` keeps agents from
//! writing).

use std::path::{Path, PathBuf};

use super::super::expand::{glob_match, Arg};
use super::super::files;
use super::super::git_command::{run_time, Call};
use super::super::git_grammar::Parsed;
use super::super::Context;
use super::{block, def, RuleDef};
use crate::policy::{Rule, Violation};

pub const RULES: &[RuleDef] = &[
    RuleDef { id: "discard:reset-hard", rule: Rule::Discard, what: "`git reset --hard`, `--merge` (uncommitted changes)", instead: "`git stash` first, or `git reset --keep`, which refuses to lose changes" },
    RuleDef { id: "discard:checkout-paths", rule: Rule::Discard, what: "`git checkout -- <path>`, `checkout .`, `checkout <ref> [--] <path>`, `--ours/--theirs <path>` (the paths' changes)", instead: "`git stash` first; `git restore --staged <path>` only unstages" },
    RuleDef { id: "discard:checkout-force", rule: Rule::Discard, what: "`git checkout -f`, `git switch -f`/`--discard-changes`", instead: "`git stash` first, then switch without force" },
    RuleDef { id: "discard:restore", rule: Rule::Discard, what: "`git restore` of the working tree (not `--staged` alone)", instead: "`git stash` first; `git restore --staged <path>` only unstages" },
    RuleDef { id: "discard:git-rm-force", rule: Rule::Discard, what: "`git rm -f` (not `--cached`): the files' uncommitted changes", instead: "commit or `git stash` the changes first; `git rm --cached` only unstages" },
    RuleDef { id: "discard:clean", rule: Rule::Discard, what: "`git clean -f` (untracked files; `-n` is fine)", instead: "`git clean -n` shows what it would delete; ask the user" },
    RuleDef { id: "discard:stash-drop", rule: Rule::Discard, what: "`git stash drop`, `git stash clear`", instead: "leave the stash; `git stash list` shows it" },
    RuleDef { id: "discard:branch-force-delete", rule: Rule::Discard, what: "`git branch -D`, `-d -f`, `--delete --force` (unmerged commits)", instead: "`git branch -d`, which refuses to delete unmerged work" },
    RuleDef { id: "discard:worktree-remove", rule: Rule::Discard, what: "`git worktree remove`", instead: "task worktrees are removed with `git okstra task release`, which checks for work first; ask the user" },
    RuleDef { id: "discard:update-ref-delete", rule: Rule::Discard, what: "`git update-ref -d`, `update-ref --stdin`", instead: "`git branch -d` for a merged branch; ask the user" },
    RuleDef { id: "discard:reflog-expire", rule: Rule::Discard, what: "`git reflog expire`, `git reflog delete` (the way back to lost commits)", instead: "leave the reflog; ask the user" },
    RuleDef { id: "discard:prune", rule: Rule::Discard, what: "`git gc --prune=<date>` (but `never`), `git prune` (unreachable objects)", instead: "`git gc` keeps recent unreachable objects; ask the user" },
    RuleDef { id: "discard:filter-branch", rule: Rule::Discard, what: "`git filter-branch`, `git filter-repo` (history rewritten in place)", instead: "ask the user" },
    RuleDef { id: "discard:rm-outside", rule: Rule::Discard, what: "`rm -r`/`-f` (and `find -delete`) of anything outside the task worktree, temporary folders aside", instead: "delete only inside this task's worktree, or ask the user" },
    RuleDef { id: "discard:rm-worktree", rule: Rule::Discard, what: "`rm -r`/`-f` of the worktree's own root (or a folder holding it) or its `.git`", instead: "task worktrees are removed with `git okstra task release`; ask the user" },
];

/// A refusal, unless the user's own config allows agents to discard.
fn refuse(id: &str, subject: &str, message: impl Into<String>, ctx: &mut Context) -> Option<Violation> {
    if ctx.allowed_by_user(def(id)) {
        ctx.note(|t| t.allowed_by_user(id));
        return None;
    }
    Some(block(id, subject, message))
}

/// The git subcommands that discard.
pub fn check(call: &Call, key: &str, p: &Parsed, ctx: &mut Context) -> Option<Violation> {
    let s = call.subject;
    let first = p.operands.first().and_then(Arg::known);
    let (id, msg): (&str, String) = match call.sub.as_str() {
        "reset" if p.on("hard") || p.on("merge") => {
            ("discard:reset-hard", "`git reset --hard` throws away every uncommitted change in the worktree".into())
        }
        "checkout" => return checkout(call, p, ctx),
        "restore" if restores_worktree(p) => {
            ("discard:restore", "`git restore` overwrites the working tree's changes to those paths".into())
        }
        "switch" if p.on("force") || p.on("discard-changes") => {
            ("discard:checkout-force", "`git switch --force` throws away uncommitted changes".into())
        }
        "rm" if p.on("force") && !p.on("cached") => {
            ("discard:git-rm-force", "`git rm -f` deletes the files with their uncommitted changes".into())
        }
        "clean" if cleans(call, p, ctx) => ("discard:clean", "`git clean` deletes untracked files for good".into()),
        "stash" if matches!(first, Some("drop" | "clear")) => (
            "discard:stash-drop",
            format!("`git stash {}` deletes stashed changes for good", first.unwrap_or_default()),
        ),
        "branch" if force_deletes(p) => (
            "discard:branch-force-delete",
            "`git branch -D` deletes a branch even when its commits are merged nowhere".into(),
        ),
        "worktree" if first == Some("remove") => (
            "discard:worktree-remove",
            "`git worktree remove` deletes a worktree and anything uncommitted in it".into(),
        ),
        "update-ref" if p.on("d") || p.on("stdin") => (
            "discard:update-ref-delete",
            "`git update-ref -d` deletes a ref without checking what only it holds".into(),
        ),
        "reflog" if key.starts_with("reflog ") && !p.on("dry-run") => {
            ("discard:reflog-expire", format!("`git {key}` removes the reflog entries that lead back to lost commits"))
        }
        "gc" if prunes_now(call, p, ctx) => {
            ("discard:prune", "`git gc --prune=…` deletes unreachable objects, the last copy of dropped work".into())
        }
        "prune" if !p.on("dry-run") => {
            ("discard:prune", "`git prune` deletes every unreachable object, the last copy of dropped work".into())
        }
        "filter-branch" | "filter-repo" => {
            ("discard:filter-branch", format!("`git {}` rewrites the repository's history in place", call.sub))
        }
        _ => return None,
    };
    refuse(id, s, msg, ctx)
}

fn restores_worktree(p: &Parsed) -> bool {
    let worktree = p.on("worktree") || !p.on("staged");
    worktree && (!p.operands.is_empty() || !p.values("pathspec-from-file").is_empty() || p.on("patch"))
}

fn force_deletes(p: &Parsed) -> bool {
    let remote = p.on("remotes");
    let deleting = p.on("D") || (p.on("delete") && p.on("force"));
    deleting && !remote
}

/// `git clean` that deletes: forced, interactive, or with `clean.requireForce` off.
fn cleans(call: &Call, p: &Parsed, ctx: &mut Context) -> bool {
    if p.on("dry-run") {
        return false;
    }
    let require = call.config_value("clean.requireForce", ctx).map(|v| v.to_ascii_lowercase());
    p.on("force") || p.on("interactive") || matches!(require.as_deref(), Some("false" | "no" | "off" | "0"))
}

fn prunes_now(call: &Call, p: &Parsed, ctx: &mut Context) -> bool {
    let keeps = |v: &str| matches!(v, "never" | "2.weeks.ago");
    let explicit = p.opts.iter().rev().find(|o| o.base == "prune");
    match explicit {
        Some(o) if !o.set => false,
        Some(o) => o.value.as_ref().is_some_and(|v| !keeps(&v.text)),
        None => {
            call.config_value("gc.pruneExpire", ctx).is_some_and(|v| !keeps(&v))
                && call.config.iter().any(|(k, _)| k.eq_ignore_ascii_case("gc.pruneExpire"))
        }
    }
}

/// `git checkout`: forced, or of paths (git reads a lone operand as a branch when it is one).
fn checkout(call: &Call, p: &Parsed, ctx: &mut Context) -> Option<Violation> {
    let s = call.subject;
    if p.on("force") {
        return refuse("discard:checkout-force", s, "`git checkout --force` throws away uncommitted changes", ctx);
    }
    let creates = ["b", "B", "orphan"].iter().any(|o| p.on(o));
    let (before, after) = p.split_operands();
    // `-p` offers every change to throw away, answered from stdin.
    let paths = !after.is_empty() || !p.values("pathspec-from-file").is_empty() || before.len() > 1 || p.on("patch");
    let lone = match before {
        [one] if after.is_empty() && !creates => Some(one),
        _ => None,
    };
    let lone_is_path = match lone {
        Some(a) => match branch_or_path(call, a, ctx) {
            Ok(path) => path,
            Err(v) => return Some(v),
        },
        None => false,
    };
    (paths || lone_is_path).then_some(())?;
    refuse("discard:checkout-paths", s, "`git checkout` of paths overwrites their uncommitted changes", ctx)
}

/// Whether `git checkout <a>` (one operand, no `--`) checks out a path rather than a branch.
fn branch_or_path(call: &Call, a: &Arg, ctx: &mut Context) -> Result<bool, Violation> {
    let Some(name) = a.known() else {
        return Err(run_time(call.subject, a, "could be a branch or a path to overwrite"));
    };
    if name == "-" || name.starts_with("@{") {
        return Ok(false);
    }
    match ctx.repo_for(&call.here) {
        Some(r) => Ok(!(r.resolves(name) || r.remote_branch_named(name))),
        None if call.here.dir.as_ref().is_some_and(|d| d.exists()) => Ok(false), // not a repository: git fails
        None => Err(run_time(call.subject, a, "is checked out in a repository only known at run time")),
    }
}

/// `rm -r`/`-f` (and `find -delete` start folders): only inside the task worktree, or in a
/// temporary folder; never the worktree's root or `.git`.
pub fn rm(args: &[Arg], subject: &str, ctx: &mut Context) -> Option<Violation> {
    let mut forceful = false;
    let mut operands = Vec::new();
    let mut options_done = false;
    for a in args {
        let t = a.text.as_str();
        if !options_done && a.exact && t == "--" {
            options_done = true;
        } else if !options_done && a.exact && t.starts_with("--") {
            forceful |= matches!(t, "--recursive" | "--force");
        } else if !options_done && a.exact && t.len() > 1 && t.starts_with('-') {
            forceful |= t[1..].contains(['r', 'R', 'f']);
        } else {
            operands.push(a.clone());
        }
    }
    if !forceful {
        return None;
    }
    operands.iter().find_map(|a| removal(a, subject, ctx))
}

/// One path `rm -rf` (or `find … -delete`) removes.
pub fn removal(a: &Arg, subject: &str, ctx: &mut Context) -> Option<Violation> {
    if a.exact && a.text.is_empty() {
        return None; // `rm -f ""` removes nothing
    }
    if !a.alts.is_empty() {
        return a.alts.iter().find_map(|alt| removal(&alt_arg(alt), subject, ctx));
    }
    if a.glob {
        return glob_removal(a, subject, ctx);
    }
    if !a.exact {
        return Some(run_time(subject, a, "is what `rm` deletes"));
    }
    let Some(p) = ctx.resolve(&a.text) else {
        return Some(run_time(subject, a, "is relative to a folder only known at run time"));
    };
    let p = files::real(&p, a.text.ends_with('/') || a.text.ends_with("/."));
    let root = ctx.task_root();
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    if files::within(&root, &p) {
        return refuse(
            "discard:rm-worktree",
            subject,
            format!("this deletes the task's worktree itself ({})", root.display()),
            ctx,
        );
    }
    if files::within(&p, &root) {
        let git = root.join(".git");
        let repository = p == git || (files::within(&p, &git) && !git_state(&p, &git));
        return repository
            .then(|| {
                refuse(
                    "discard:rm-worktree",
                    subject,
                    format!("this deletes the worktree's .git or part of it ({})", p.display()),
                    ctx,
                )
            })
            .flatten();
    }
    if scratch(&p, ctx) {
        return None;
    }
    refuse(
        "discard:rm-outside",
        subject,
        format!("this deletes {} outside the task's worktree ({})", p.display(), root.display()),
        ctx,
    )
}

/// Scratch space: inside a temporary folder, but not in the home folder, the okstra home or a
/// git repository that happen to live there (a person's work is never scratch).
fn scratch(p: &Path, ctx: &mut Context) -> bool {
    if !files::in_temp(p) {
        return false;
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    let okstra = crate::config::okstra_home().ok();
    if home.iter().chain(okstra.iter()).any(|h| files::within(p, &files::normalize(h))) {
        return false;
    }
    files::existing_ancestor(p).map_or(true, |a| ctx.repo(&a).is_none())
}

/// What inside `.git` may go: stale locks and the state of an operation in progress (a stuck
/// rebase, merge, cherry-pick, bisect), which git's own commands also clear.
fn git_state(p: &Path, git: &Path) -> bool {
    const STATE: &[&str] = &[
        "rebase-merge",
        "rebase-apply",
        "sequencer",
        "MERGE_HEAD",
        "MERGE_MSG",
        "MERGE_MODE",
        "CHERRY_PICK_HEAD",
        "REVERT_HEAD",
        "BISECT_LOG",
        "BISECT_START",
        "BISECT_TERMS",
        "BISECT_NAMES",
        "BISECT_EXPECTED_REV",
        "AUTO_MERGE",
        "gc.pid",
        "gc.log",
    ];
    let first = p
        .strip_prefix(git)
        .ok()
        .and_then(|r| r.components().next())
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    p.extension().is_some_and(|e| e == "lock") || first.is_some_and(|f| STATE.contains(&f.as_str()))
}

fn alt_arg(alt: &str) -> Arg {
    let glob = alt.contains(['*', '?', '[']);
    Arg { text: alt.to_string(), exact: !glob, can_be_option: false, glob, alts: Vec::new() }
}

/// `rm -rf build/*`, `rm -rf .*`: the pattern's folder decides; a pattern that can match
/// `.git` in the worktree root is the worktree's `.git`.
fn glob_removal(a: &Arg, subject: &str, ctx: &mut Context) -> Option<Violation> {
    let first = a.text.find(['*', '?', '[']).unwrap_or(0);
    let (dir, pattern) = match a.text[..first].rfind('/') {
        Some(0) => ("/", &a.text[1..]),
        Some(i) => (&a.text[..i], &a.text[i + 1..]),
        None => (".", a.text.as_str()),
    };
    if pattern.contains('/') || dir.contains('$') {
        return Some(run_time(subject, a, "is a pattern of what `rm` deletes"));
    }
    let dir_path = ctx.resolve(dir)?;
    let root = ctx.task_root();
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    let dir_real = files::real(&dir_path, true);
    if dir_real == root && glob_match(pattern, ".git") {
        return refuse("discard:rm-worktree", subject, format!("`{}` matches the worktree's .git", a.text), ctx);
    }
    if files::within(&dir_real, &root) || scratch(&dir_real.join("x"), ctx) {
        return None;
    }
    refuse(
        "discard:rm-outside",
        subject,
        format!("`{}` deletes files outside the task's worktree ({})", a.text, root.display()),
        ctx,
    )
}
