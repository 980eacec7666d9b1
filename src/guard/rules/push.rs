//! Rule family push: `non-fast-forward` (force pushes), `protected-update` and
//! `protected-delete` (pushes that change a protected branch).

use super::super::git_grammar::{git_args, skips_hooks, Arg};
use super::super::{violation, Context};
use crate::policy::{Rule, Violation};

pub(crate) fn check_push(args: &[String], subject: &str, ctx: &mut Context) -> Option<Violation> {
    let parsed = git_args(args, "o", "", &["repo", "receive-pack", "exec", "push-option"]);
    let mut dry_run = false;
    let mut force = None::<String>;
    let mut delete = false;
    let mut all = None::<String>;
    let mut tags_only = false;
    let mut operands = Vec::new();
    for a in &parsed {
        match a {
            Arg::Short('n') => dry_run = true,
            Arg::Long("dry-run", _) => dry_run = true,
            Arg::Short('f') => force = Some("-f".into()),
            Arg::Long(n, _)
                if *n == "force" || n.starts_with("force-with") || n.starts_with("force-if") || *n == "mirror" =>
            {
                force = Some(format!("--{n}"))
            }
            Arg::Short('d') | Arg::Long("delete", _) => delete = true,
            Arg::Long(n @ ("all" | "branches"), _) => all = Some(format!("--{n}")),
            Arg::Long("tags", _) => tags_only = true,
            Arg::Operand(o) => operands.push(*o),
            _ => {}
        }
    }
    if dry_run {
        return None; // a dry run changes nothing
    }
    if skips_hooks(&parsed, false) {
        return Some(violation(Rule::NoVerify, subject, "`git push --no-verify` skips the pre-push hook"));
    }
    if let Some(f) = force {
        return Some(violation(
            Rule::NonFastForward,
            subject,
            format!("`git push {f}` can rewrite history on the remote"),
        ));
    }
    if let Some(a) = all {
        return Some(violation(
            Rule::ProtectedUpdate,
            subject,
            format!("`git push {a}` pushes every branch, the protected base branches included"),
        ));
    }
    // The first operand is the remote; the rest are refspecs (`tag <name>` is a tag).
    let mut specs = operands.iter().skip(1).peekable();
    while let Some(spec) = specs.next() {
        if *spec == "tag" {
            specs.next();
            continue;
        }
        if let Some(v) = judge_refspec(spec, delete, subject, ctx) {
            return Some(v);
        }
    }
    if operands.len() <= 1 && !tags_only && !delete {
        // No refspec: git pushes the current branch (push.default), so judge that one.
        let branch = ctx.current_branch()?;
        if ctx.protected().contains(&branch) {
            return Some(violation(
                Rule::ProtectedUpdate,
                subject,
                format!("this push updates the protected branch '{branch}' (the current branch) directly"),
            ));
        }
    }
    None
}

fn judge_refspec(spec: &str, delete: bool, subject: &str, ctx: &mut Context) -> Option<Violation> {
    if spec.starts_with('+') {
        return Some(violation(
            Rule::NonFastForward,
            subject,
            format!("the refspec `{spec}` forces the update and can rewrite history on the remote"),
        ));
    }
    let (src, dst) = match spec.split_once(':') {
        Some((s, d)) => (s, d),
        None => (spec, spec),
    };
    let deleting = delete || (src.is_empty() && !dst.is_empty());
    let dst = if dst == "HEAD" || dst == "@" { ctx.current_branch()? } else { dst.to_string() };
    let branch = match dst.strip_prefix("refs/") {
        Some(r) => match r.strip_prefix("heads/") {
            Some(b) => b.to_string(),
            None => return None, // tags, notes, …: not branches
        },
        None => dst,
    };
    let protected = ctx.protected();
    let hits = if branch.contains('*') {
        protected.names().iter().find(|p| glob_match(&branch, p)).cloned()
    } else {
        protected.contains(&branch).then(|| branch.clone())
    };
    let name = hits?;
    Some(if deleting {
        violation(Rule::ProtectedDelete, subject, format!("this push deletes the protected branch '{name}'"))
    } else {
        violation(Rule::ProtectedUpdate, subject, format!("this push updates the protected branch '{name}' directly"))
    })
}

/// A refspec glob (one `*`) against a branch name.
fn glob_match(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        Some((pre, post)) => name.len() >= pre.len() + post.len() && name.starts_with(pre) && name.ends_with(post),
        None => pattern == name,
    }
}

#[cfg(test)]
mod tests {
    use crate::guard::{check, Context};
    use crate::policy::{Protected, Rule};

    fn rule(cmd: &str) -> Option<Rule> {
        let mut ctx = Context::with(Protected::default(), Some("feat-x"));
        check(cmd, &mut ctx).map(|v| v.rule)
    }

    #[test]
    fn refspecs() {
        assert_eq!(rule("git push origin HEAD"), None, "current branch is feat-x");
        assert_eq!(rule("git push origin HEAD:main"), Some(Rule::ProtectedUpdate));
        assert_eq!(rule("git push origin 'refs/heads/*:refs/heads/*'"), Some(Rule::ProtectedUpdate));
        assert_eq!(rule("git push origin tag v1"), None);
        assert_eq!(rule("git push origin refs/tags/v1"), None);
        assert_eq!(rule("git push origin main:feat-y"), None);
    }
}
