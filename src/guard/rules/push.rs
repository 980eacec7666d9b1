//! Rule family push: `non-fast-forward` (force pushes), `protected-update` and
//! `protected-delete` (pushes that change a protected branch), judged on the refs git would
//! update: refspecs resolved as git resolves them (`HEAD:heads/main` is `refs/heads/main`,
//! `refs/*:refs/*` covers every branch, `:` is "matching"), and a push without refspec read
//! through `push.default` and `remote.<name>.push`. When the refs cannot be known, refuse.

use serde_json::Value;

use super::super::expand::Arg;
use super::super::git_command::{run_time, Call};
use super::super::git_grammar::Parsed;
use super::super::{explain, Context};
use super::{block, RuleDef};
use crate::policy::{Protected, Rule, Violation};

const INTEGRATE: &str = "integrate the remote work instead (`git pull --rebase`), then push without force";
const FEATURE: &str =
    "push your feature branch (`git push -u origin <feature-branch>`) and open a pull request instead";
const REVIEWED: &str = "protected branches are changed through reviewed pull requests only; ask the user";

pub const RULES: &[RuleDef] = &[
    RuleDef { id: "non-fast-forward:force", rule: Rule::NonFastForward, what: "`push -f`, `--force`, `--force-with-lease[=…]`, `--force-if-includes` (any unique prefix)", instead: INTEGRATE },
    RuleDef { id: "non-fast-forward:mirror", rule: Rule::NonFastForward, what: "`push --mirror`", instead: INTEGRATE },
    RuleDef { id: "non-fast-forward:plus-refspec", rule: Rule::NonFastForward, what: "a `+refspec` (`+feat`, `+:`)", instead: INTEGRATE },
    RuleDef { id: "protected-update:refspec", rule: Rule::ProtectedUpdate, what: "a refspec whose destination is protected as git resolves it (`main`, `HEAD:heads/main`, `x:refs/heads/dev`, a glob covering one)", instead: FEATURE },
    RuleDef { id: "protected-update:all", rule: Rule::ProtectedUpdate, what: "`push --all`/`--branches`", instead: FEATURE },
    RuleDef { id: "protected-update:matching", rule: Rule::ProtectedUpdate, what: "the matching refspec `:`, or a push without refspec under `push.default=matching`", instead: FEATURE },
    RuleDef { id: "protected-update:current-branch", rule: Rule::ProtectedUpdate, what: "a push without refspec (or of `HEAD`) while the branch it pushes to is protected (the current one, or its upstream)", instead: FEATURE },
    RuleDef { id: "protected-update:unknown-branch", rule: Rule::ProtectedUpdate, what: "a push without refspec (or of `HEAD`) where the current branch cannot be known (a repository the command clones, or a folder only known at run time)", instead: "name the branch: `git push -u origin <feature-branch>`" },
    RuleDef { id: "protected-update:mcp", rule: Rule::ProtectedUpdate, what: "an MCP tool call that writes to a protected branch (`push_files`, `create_or_update_file`, `delete_file`)", instead: FEATURE },
    RuleDef { id: "protected-delete:refspec", rule: Rule::ProtectedDelete, what: "`push --delete <b>`, `push -d <b>`, `push origin :<b>` for a protected `<b>`", instead: REVIEWED },
    RuleDef { id: "protected-delete:prune", rule: Rule::ProtectedDelete, what: "`push --prune` with a glob or matching refspec, or none (it deletes remote branches without a local one)", instead: REVIEWED },
    RuleDef { id: "no-verify:push", rule: Rule::NoVerify, what: "`git push --no-verify` (skips pre-push)", instead: "run it again without --no-verify and fix what the hooks report" },
    RuleDef { id: "no-verify:send-pack", rule: Rule::NoVerify, what: "`git send-pack` (pushes without running pre-push)", instead: "use `git push`, which runs the hooks" },
];

/// Where one update lands on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Dst {
    /// One of these branch names (git picks the one that exists: `heads/main` → `main`).
    Branch(Vec<String>),
    /// A glob over branch names.
    Pattern(String),
    /// Every branch that exists on both sides.
    Matching,
    /// Tags, notes and other non-branch refs.
    Other(String),
}

#[derive(Debug, Clone)]
struct Update {
    src: String,
    dst: Dst,
    force: bool,
    delete: bool,
    /// Not named in the command: the current branch (`HEAD`, or no refspec at all).
    implicit: bool,
}

impl Update {
    fn trace(&self) -> explain::RefUpdate {
        let dst = match &self.dst {
            Dst::Branch(b) => b.iter().map(|b| format!("refs/heads/{b}")).collect::<Vec<_>>().join(" or "),
            Dst::Pattern(p) => format!("refs/heads/{p}"),
            Dst::Matching => "every branch on both sides".into(),
            Dst::Other(r) => r.clone(),
        };
        explain::RefUpdate { src: self.src.clone(), dst, force: self.force, delete: self.delete }
    }
}

/// `git push`.
pub fn check(call: &Call, p: &Parsed, ctx: &mut Context) -> Option<Violation> {
    match call.sub.as_str() {
        "push" => {}
        "send-pack" if !p.on("dry-run") => {
            return Some(block(
                "no-verify:send-pack",
                call.subject,
                "`git send-pack` updates the remote without the pre-push hook",
            ))
        }
        _ => return None,
    }
    let s = call.subject;
    if p.on("dry-run") {
        return None; // a dry run changes nothing (its receive-pack is judged with git_runs)
    }
    if p.last("verify") == Some(false) {
        return Some(block("no-verify:push", s, "`git push --no-verify` skips the pre-push hook"));
    }
    if let Some(w) = p.written("mirror") {
        return Some(block(
            "non-fast-forward:mirror",
            s,
            format!("`git push {w}` rewrites and deletes remote refs to match local ones"),
        ));
    }
    for f in ["force", "force-with-lease", "force-if-includes"] {
        if let Some(w) = p.written(f) {
            return Some(block(
                "non-fast-forward:force",
                s,
                format!("`git push {w}` can rewrite history on the remote"),
            ));
        }
    }
    if let Some(w) = p.written("all").or_else(|| p.written("branches")) {
        return Some(block(
            "protected-update:all",
            s,
            format!("`git push {w}` pushes every branch, the protected base branches included"),
        ));
    }
    let updates = match updates(call, p, ctx) {
        Ok(u) => u,
        Err(v) => return Some(v),
    };
    ctx.note(|t| t.updates(updates.iter().map(Update::trace)));
    let protected = protected(call, ctx);
    let covers = |u: &Update| match &u.dst {
        Dst::Matching => true,
        Dst::Pattern(pat) => protected.names().iter().any(|n| super::super::expand::glob_match(pat, n)),
        _ => false,
    };
    if p.on("prune") && updates.iter().any(covers) {
        return Some(block("protected-delete:prune", s, "`git push --prune` with this refspec deletes every remote branch it covers that has no local counterpart, protected ones included"));
    }
    updates.iter().find_map(|u| judge(u, &protected, s))
}

fn protected(call: &Call, ctx: &mut Context) -> Protected {
    ctx.repo_for(&call.here).map(|r| Protected::from_repo(&r)).unwrap_or_default()
}

/// The remote and the updates a push makes.
fn updates(call: &Call, p: &Parsed, ctx: &mut Context) -> Result<Vec<Update>, Violation> {
    let repo_opt = p.values("repo").last().map(|a| (*a).clone());
    let mut operands = p.operands.iter();
    let remote = repo_opt.or_else(|| operands.next().cloned());
    let delete = p.on("delete");
    let mut out = Vec::new();
    let mut specs: Vec<&Arg> = operands.collect();
    specs.reverse();
    while let Some(spec) = specs.pop() {
        if spec.known() == Some("tag") {
            let name = specs.pop().map(|a| a.text.clone()).unwrap_or_default();
            out.push(Update {
                src: name.clone(),
                dst: Dst::Other(format!("refs/tags/{name}")),
                force: false,
                delete,
                implicit: false,
            });
            continue;
        }
        out.extend(refspec(spec, delete, call, ctx)?);
    }
    if out.is_empty() && p.operands.len() <= 1 && !p.on("tags") && !delete {
        out = implicit(remote.as_ref(), call, ctx)?;
    }
    Ok(out)
}

/// One refspec as git resolves it.
fn refspec(spec: &Arg, delete: bool, call: &Call, ctx: &mut Context) -> Result<Vec<Update>, Violation> {
    let Some(text) = spec.known() else {
        return Err(run_time(call.subject, spec, "decides which remote refs the push updates"));
    };
    let force = text.starts_with('+');
    let body = text.trim_start_matches('+');
    if body.is_empty() || body.starts_with('^') {
        return Ok(Vec::new()); // `+` alone is git's own error; `^ref` only excludes
    }
    if delete {
        return Ok(vec![Update { src: String::new(), dst: classify(body), force, delete: true, implicit: false }]);
    }
    let (src, dst) = match body.split_once(':') {
        Some(("", "")) => {
            return Ok(vec![Update { src: ":".into(), dst: Dst::Matching, force, delete: false, implicit: false }])
        }
        Some(("", d)) => {
            return Ok(vec![Update { src: String::new(), dst: classify(d), force, delete: true, implicit: false }])
        }
        Some((s, d)) => (s, Some(d)),
        None => (body, None),
    };
    let head = |d: &str| matches!(d, "HEAD" | "@");
    if dst.map_or(head(src), head) {
        return Ok(match current_branch(call, ctx)? {
            Some(b) => {
                vec![Update { src: src.to_string(), dst: Dst::Branch(vec![b]), force, delete: false, implicit: true }]
            }
            None => Vec::new(), // detached: git refuses to push HEAD without a destination
        });
    }
    let dst = classify(dst.unwrap_or(src));
    Ok(vec![Update { src: src.to_string(), dst, force, delete: false, implicit: false }])
}

/// The branch names a destination can be, as git's DWIM reads it.
fn classify(dst: &str) -> Dst {
    if let Some(b) = dst.strip_prefix("refs/heads/") {
        return if b.contains('*') { Dst::Pattern(b.into()) } else { Dst::Branch(vec![b.into()]) };
    }
    if dst.starts_with("refs/") || dst.starts_with("tags/") {
        return if dst.contains('*') && dst.starts_with("refs/*") {
            Dst::Pattern("*".into())
        } else {
            Dst::Other(dst.into())
        };
    }
    if dst.contains('*') {
        return Dst::Pattern(dst.trim_start_matches("heads/").into());
    }
    match dst.strip_prefix("heads/") {
        // `heads/main` updates `refs/heads/main` when it exists, else creates `refs/heads/heads/main`.
        Some(b) => Dst::Branch(vec![b.into(), dst.into()]),
        None => Dst::Branch(vec![dst.into()]),
    }
}

/// The current branch of the repository the push runs in; unknowable is a refusal.
fn current_branch(call: &Call, ctx: &mut Context) -> Result<Option<String>, Violation> {
    ctx.current_branch(&call.here).ok_or_else(|| {
        block(
            "protected-update:unknown-branch",
            call.subject,
            "the branch this push updates depends on a repository or folder only known at run time",
        )
    })
}

/// A push without refspec: `remote.<name>.push`, else `push.default` applied to the current branch.
fn implicit(remote: Option<&Arg>, call: &Call, ctx: &mut Context) -> Result<Vec<Update>, Violation> {
    let branch = current_branch(call, ctx)?;
    let remote = match remote {
        Some(r) if r.exact => r.text.clone(),
        Some(r) => return Err(run_time(call.subject, r, "names the remote whose push config applies")),
        None => branch
            .as_ref()
            .and_then(|b| call.config_value(&format!("branch.{b}.pushRemote"), ctx))
            .or_else(|| call.config_value("remote.pushDefault", ctx))
            .or_else(|| branch.as_ref().and_then(|b| call.config_value(&format!("branch.{b}.remote"), ctx)))
            .unwrap_or_else(|| "origin".into()),
    };
    let mirror = call.config_value(&format!("remote.{remote}.mirror"), ctx).map(|v| v.to_ascii_lowercase());
    if matches!(mirror.as_deref(), Some("true" | "yes" | "on" | "1")) {
        return Err(block(
            "non-fast-forward:mirror",
            call.subject,
            format!("`remote.{remote}.mirror` makes this push a mirror push, which rewrites and deletes remote refs"),
        ));
    }
    let configured = call.config_values(&format!("remote.{remote}.push"), ctx);
    if !configured.is_empty() {
        let mut out = Vec::new();
        for spec in configured {
            out.extend(refspec(&Arg::lit(spec), false, call, ctx)?);
        }
        return Ok(out);
    }
    let Some(branch) = branch else { return Ok(Vec::new()) }; // detached HEAD: git refuses
    let mode = call.config_value("push.default", ctx).unwrap_or_else(|| "simple".into()).to_ascii_lowercase();
    let dst = match mode.as_str() {
        "matching" => Dst::Matching,
        "nothing" => return Ok(Vec::new()),
        "upstream" | "tracking" => {
            let merge = call.config_value(&format!("branch.{branch}.merge"), ctx);
            let up = merge.map(|m| m.trim_start_matches("refs/heads/").to_string()).unwrap_or_else(|| branch.clone());
            Dst::Branch(vec![up])
        }
        _ => Dst::Branch(vec![branch.clone()]),
    };
    Ok(vec![Update { src: branch, dst, force: false, delete: false, implicit: true }])
}

fn judge(u: &Update, protected: &Protected, s: &str) -> Option<Violation> {
    if u.force {
        return Some(block(
            "non-fast-forward:plus-refspec",
            s,
            format!("the refspec `+{}` forces the update and can rewrite history on the remote", u.src),
        ));
    }
    let hit =
        match &u.dst {
            Dst::Branch(names) => names.iter().find(|n| protected.contains(n)).cloned(),
            Dst::Pattern(p) => protected.names().iter().find(|n| super::super::expand::glob_match(p, n)).cloned(),
            Dst::Matching => return Some(block(
                "protected-update:matching",
                s,
                "a matching push updates every branch that exists on both sides, the protected base branches included",
            )),
            Dst::Other(_) => None,
        }?;
    Some(if u.delete {
        block("protected-delete:refspec", s, format!("this push deletes the protected branch '{hit}'"))
    } else if u.implicit {
        block(
            "protected-update:current-branch",
            s,
            format!("this push updates the protected branch '{hit}' (the branch it pushes) directly"),
        )
    } else {
        block("protected-update:refspec", s, format!("this push updates the protected branch '{hit}' directly"))
    })
}

/// MCP tools that write to a branch of a forge repository (`mcp__github__push_files`, …).
pub fn mcp(tool: &str, input: &Value, subject: &str, ctx: &mut Context) -> Option<Violation> {
    const WRITES: &[&str] = &["push_files", "create_or_update_file", "delete_file", "create_commit"];
    let name = tool.rsplit("__").next().unwrap_or(tool);
    if !WRITES.contains(&name) {
        return None;
    }
    let Some(branch) = input.get("branch").and_then(Value::as_str) else {
        return Some(block(
            "protected-update:mcp",
            subject,
            format!("`{name}` without a branch writes to the repository's default branch"),
        ));
    };
    let origin = ctx.origin.clone();
    let protected = ctx.repo(&origin).map(|r| Protected::from_repo(&r)).unwrap_or_default();
    let branch = branch.trim_start_matches("refs/heads/");
    protected.contains(branch).then(|| {
        block("protected-update:mcp", subject, format!("`{name}` writes to the protected branch '{branch}' directly"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_resolve_as_git_does() {
        assert_eq!(classify("heads/main"), Dst::Branch(vec!["main".into(), "heads/main".into()]));
        assert_eq!(classify("refs/heads/dev"), Dst::Branch(vec!["dev".into()]));
        assert_eq!(classify("refs/heads/*"), Dst::Pattern("*".into()));
        assert_eq!(classify("refs/*"), Dst::Pattern("*".into()));
        assert_eq!(classify("refs/tags/v1"), Dst::Other("refs/tags/v1".into()));
        assert_eq!(classify("ma*"), Dst::Pattern("ma*".into()));
    }
}
