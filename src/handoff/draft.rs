//! The drafted texts of the release handoff: a Conventional Commits message and a PR body,
//! grounded in the changed paths, `git diff --stat` and the final-verification report.
//! Pure text: no git, no files.

use crate::task::names;

/// Longest first line of a drafted commit message.
pub const MAX_HEADER: usize = 72;

/// Conventional Commits type from the branch prefix (`feat-dev-1` → `feat`).
pub fn commit_type(branch: &str) -> &'static str {
    match branch.split('-').next().unwrap_or("") {
        "feat" => "feat",
        "fix" | "hotfix" => "fix",
        "refactor" => "refactor",
        "docs" => "docs",
        "test" => "test",
        "perf" => "perf",
        "ci" => "ci",
        "build" => "build",
        _ => "chore",
    }
}

/// Folder names too generic to name a change.
const GENERIC_DIRS: &[&str] = &["src", "lib", "crates", "packages", "pkg", "app", "apps", "internal", "cmd"];

/// The scope: the deepest non-generic folder all changed paths share; for one file, its
/// stem. `None` when the paths have nothing in common.
pub fn scope(paths: &[String]) -> Option<String> {
    let first = paths.first()?;
    let dirs = |p: &str| -> Vec<String> {
        let parts: Vec<&str> = p.trim_end_matches('/').split('/').collect();
        parts[..parts.len().saturating_sub(1)].iter().map(|s| s.to_string()).collect()
    };
    let mut common = dirs(first);
    for p in &paths[1..] {
        let d = dirs(p);
        let n = common.iter().zip(&d).take_while(|(a, b)| a == b).count();
        common.truncate(n);
    }
    let named = common.iter().rev().find(|c| !GENERIC_DIRS.contains(&c.as_str()) && !c.starts_with('.'));
    let raw = match (named, paths.len()) {
        (Some(dir), _) => dir.clone(),
        (None, 1) => {
            let file = first.rsplit('/').next().unwrap_or(first);
            file.split('.').find(|s| !s.is_empty()).unwrap_or(file).to_string()
        }
        (None, _) => return None,
    };
    let s = names::sanitize(&raw);
    (s != "_").then_some(s)
}

/// The subject: the task title (trailing period dropped, first letter lower-cased unless
/// the word is an acronym), else `complete <task id>`.
pub fn subject(title: &str, task_raw: &str) -> String {
    let t = title.trim().trim_end_matches('.').trim();
    if t.is_empty() {
        return format!("complete {task_raw}");
    }
    let mut chars = t.chars();
    let first = chars.next().unwrap_or(' ');
    let second = chars.next();
    if first.is_uppercase() && !second.is_some_and(|c| c.is_uppercase()) {
        first.to_lowercase().chain(t.chars().skip(1)).collect()
    } else {
        t.to_string()
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out = out.trim_end().to_string();
    out.push('…');
    out
}

/// What the drafts are made from.
pub struct Facts<'a> {
    pub branch: &'a str,
    pub title: &'a str,
    pub task_raw: &'a str,
    pub key: &'a str,
    /// Paths this handoff commits (from `git status`).
    pub pending: &'a [String],
    /// Paths already changed on the branch against the base.
    pub committed: &'a [String],
    /// `git diff --stat <base>...HEAD`.
    pub stat: &'a str,
    pub base: &'a str,
    pub report_path: &'a str,
    pub report: &'a str,
}

/// `<type>(<scope>): <subject>`, a body listing the changes, and a `Refs:` footer.
pub fn commit_message(f: &Facts) -> String {
    let paths = if f.pending.is_empty() { f.committed } else { f.pending };
    let ty = commit_type(f.branch);
    let head = match scope(paths) {
        Some(s) => format!("{ty}({s}): "),
        None => format!("{ty}: "),
    };
    let subject = subject(f.title, f.task_raw);
    let mut msg = head.clone();
    msg.push_str(&cut(&subject, MAX_HEADER.saturating_sub(head.chars().count())));
    msg.push_str("\n\n");
    if !paths.is_empty() {
        msg.push_str("Changes:\n");
        for p in paths.iter().take(15) {
            msg.push_str(&format!("- {p}\n"));
        }
        if paths.len() > 15 {
            msg.push_str(&format!("- … and {} more\n", paths.len() - 15));
        }
        msg.push('\n');
    }
    msg.push_str(&format!("Final verification: accepted ({}).\n\n", f.report_path));
    msg.push_str(&format!("Refs: {}\n", f.task_raw));
    msg
}

/// Heading text without `#`s, numbering and case: `## 3. Test Evidence` → `test evidence`.
fn heading_text(line: &str) -> Option<String> {
    let t = line.trim_start();
    if !t.starts_with('#') {
        return None;
    }
    let t = t.trim_start_matches('#').trim();
    let t = t.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ')').trim();
    Some(t.to_ascii_lowercase())
}

/// The body of the first report section whose heading matches, at most `max` lines.
pub fn section(report: &str, matches: impl Fn(&str) -> bool, max: usize) -> Option<String> {
    let mut lines = report.lines();
    lines.by_ref().find(|l| heading_text(l).is_some_and(|h| matches(&h)))?;
    let body: Vec<&str> = lines.take_while(|l| heading_text(l).is_none()).collect();
    let text = body.iter().take(max).copied().collect::<Vec<_>>().join("\n").trim().to_string();
    let more = body.len().saturating_sub(max);
    match (text.is_empty(), more) {
        (true, _) => None,
        (false, 0) => Some(text),
        (false, n) => Some(format!("{text}\n\n(… {n} more lines in the report)")),
    }
}

/// The PR body: `## Summary`, `## Changes`, `## Test plan`, `## Linked issues`.
pub fn pr_body(f: &Facts) -> String {
    let mut b = String::from("## Summary\n\n");
    let what = if f.title.trim().is_empty() { subject(f.title, f.task_raw) } else { f.title.trim().to_string() };
    b.push_str(&format!("{what}\n\n"));
    b.push_str(&format!("Task `{}` (`{}`): branch `{}` into `{}`.\n", f.task_raw, f.key, f.branch, f.base));
    b.push_str(&format!("Final verification: `accepted` ({}).\n", f.report_path));
    if let Some(s) = section(f.report, |h| h.contains("summary"), 12) {
        b.push_str(&format!("\n{s}\n"));
    }
    b.push_str("\n## Changes\n\n");
    let stat = f.stat.trim_end();
    if stat.is_empty() && f.pending.is_empty() {
        b.push_str(&format!("No changes against `{}`.\n", f.base));
    }
    if !stat.is_empty() {
        b.push_str(&format!("```text\n{stat}\n```\n"));
    }
    if !f.pending.is_empty() {
        b.push_str("\nCommitted by this handoff:\n");
        for p in f.pending.iter().take(30) {
            b.push_str(&format!("- `{p}`\n"));
        }
        if f.pending.len() > 30 {
            b.push_str(&format!("- … and {} more\n", f.pending.len() - 30));
        }
    }
    b.push_str("\n## Test plan\n\n");
    match section(f.report, |h| h.contains("test") || h.contains("evidence") || h.contains("check"), 30) {
        Some(s) => b.push_str(&format!("From the final-verification report:\n\n{s}\n")),
        None => b.push_str(&format!("- [x] Final verification `accepted`: see {}\n", f.report_path)),
    }
    b.push_str("\n## Linked issues\n\n");
    b.push_str(&format!("Refs: {}\n", f.task_raw));
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn types_from_branch_prefix() {
        assert_eq!(commit_type("feat-dev-1"), "feat");
        assert_eq!(commit_type("fix-dev-1"), "fix");
        assert_eq!(commit_type("hotfix-dev-1"), "fix");
        assert_eq!(commit_type("docs-x"), "docs");
        assert_eq!(commit_type("weird"), "chore");
    }

    #[test]
    fn scopes_from_paths() {
        assert_eq!(scope(&paths(&["src/handoff/a.rs", "src/handoff/b.rs"])), Some("handoff".into()));
        assert_eq!(scope(&paths(&["src/a.rs", "src/b.rs"])), None);
        assert_eq!(scope(&paths(&["src/login.rs"])), Some("login".into()));
        assert_eq!(scope(&paths(&["docs/guide/x.md", "docs/y.md"])), Some("docs".into()));
        assert_eq!(scope(&paths(&["a.txt", "b/c.txt"])), None);
        assert_eq!(scope(&[]), None);
    }

    #[test]
    fn subjects() {
        assert_eq!(subject("Add login page.", "DEV-1"), "add login page");
        assert_eq!(subject("API keys rotate", "DEV-1"), "API keys rotate");
        assert_eq!(subject("", "DEV-1"), "complete DEV-1");
    }

    #[test]
    fn drafts_hold_the_required_parts() {
        let report = "# Final verification\n## 1. Summary\nAll good.\n## 2. Final Verdict\naccepted\n## 3. Test Evidence\n- cargo test: 12 passed\n";
        let pending = paths(&["web/login.html", "web/login.css"]);
        let f = Facts {
            branch: "feat-dev-1",
            title: "Add login page",
            task_raw: "DEV-1",
            key: "p/default/dev-1",
            pending: &pending,
            committed: &[],
            stat: " web/login.html | 3 +++\n 1 file changed",
            base: "staging",
            report_path: "runs/005-final-verification/final-verification-report.md",
            report,
        };
        let msg = commit_message(&f);
        assert!(msg.starts_with("feat(web): add login page\n\n"), "{msg}");
        assert!(msg.ends_with("Refs: DEV-1\n"), "{msg}");
        let body = pr_body(&f);
        for h in ["## Summary", "## Changes", "## Test plan", "## Linked issues"] {
            assert!(body.contains(h), "{body}");
        }
        assert!(body.contains("All good."));
        assert!(body.contains("cargo test: 12 passed"));
        assert!(body.contains("1 file changed"));
        assert!(body.contains("- `web/login.css`"));
        let long = Facts { title: &"x".repeat(200), ..f };
        assert!(commit_message(&long).lines().next().unwrap().chars().count() <= MAX_HEADER);
    }
}
