//! The phase gates' document checks (DESIGN §5): the approval marker of a plan, the
//! command-line approval, and the final verdict of a verification report.
//!
//! Pure text functions plus one careful reader; the lifecycle and handoff call these.

use std::path::Path;

use crate::error::{io_at, Error, Result};

/// Largest plan or report read (a report of several MB is fine; a runaway file is not).
pub const MAX_DOC_BYTES: u64 = 64 * 1024 * 1024;

/// Read a gate document: refuses a symlink, a non-regular file, a huge file and non-UTF-8.
pub fn read_doc(path: &Path, what: &str) -> Result<String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| io_at(&format!("cannot read {what}"), path, e))?;
    if meta.file_type().is_symlink() {
        return Err(Error::failed(format!("{what} {} is a symlink; refusing to follow it", path.display()))
            .hint("pass the real file"));
    }
    if !meta.is_file() {
        return Err(Error::failed(format!("{what} {} is not a regular file", path.display())));
    }
    if meta.len() > MAX_DOC_BYTES {
        return Err(Error::failed(format!("{what} {} is larger than 64 MiB", path.display())));
    }
    let bytes = std::fs::read(path).map_err(|e| io_at(&format!("cannot read {what}"), path, e))?;
    String::from_utf8(bytes).map_err(|_| Error::failed(format!("{what} {} is not UTF-8 text", path.display())))
}

/// A line with any list bullet (`-`, `*`, `+`, `1.`) and surrounding space removed.
fn unbullet(line: &str) -> &str {
    let t = line.trim();
    for b in ["- ", "* ", "+ "] {
        if let Some(rest) = t.strip_prefix(b) {
            return rest.trim();
        }
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 {
        if let Some(rest) = t[digits..].strip_prefix(". ").or_else(|| t[digits..].strip_prefix(") ")) {
            return rest.trim();
        }
    }
    t
}

fn checked_box(line: &str) -> bool {
    let l = unbullet(line);
    (l.starts_with("[x]") || l.starts_with("[X]")) && l[3..].trim_start().to_ascii_lowercase().starts_with("approved")
}

fn unchecked_box(line: &str) -> bool {
    let l = unbullet(line);
    l.starts_with("[ ]") && l[3..].trim_start().to_ascii_lowercase().starts_with("approved")
}

/// Whether `line` is an approval marker or an approval box, checked or not.
pub fn is_approval_line(line: &str) -> bool {
    let l = unbullet(line);
    l == "APPROVED" || l.starts_with("APPROVED:") || checked_box(line) || unchecked_box(line)
}

/// Whether a plan carries an approval marker: a line `APPROVED`, `APPROVED: …`, or a
/// checked `[x] Approved` box (list bullets allowed before them).
pub fn has_approval(plan: &str) -> bool {
    !approval_markers(plan).is_empty()
}

/// The lines of `text` that are approval markers (what [`has_approval`] counts), trimmed.
pub fn approval_markers(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| {
            let l = unbullet(line);
            l == "APPROVED" || l.starts_with("APPROVED:") || checked_box(line)
        })
        .map(str::trim)
        .collect()
}

/// The text of a plan after the user's command-line approval: the first unchecked
/// `[ ] Approved` box checked, and an audit line appended. Idempotent apart from the audit
/// line. Error (and nothing to write) when the plan has neither a box nor a marker.
pub fn approve(plan: &str, at: &str, who: &str) -> Result<String> {
    let mut out = String::with_capacity(plan.len() + 96);
    let mut checked = false;
    for line in plan.split_inclusive('\n') {
        if !checked && unchecked_box(line) {
            out.push_str(&line.replacen("[ ]", "[x]", 1));
            checked = true;
        } else {
            out.push_str(line);
        }
    }
    if !checked && !has_approval(plan) {
        return Err(Error::failed("the plan has no `[ ] Approved` box to check")
            .hint("add a line `- [ ] Approved` to the plan, then run --approve again"));
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("\n> Approved on the command line by {who} at {at} (git okstra --approve).\n"));
    Ok(out)
}

/// The verdict of a final-verification report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    ConditionalAccept,
    Blocked,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::ConditionalAccept => "conditional-accept",
            Verdict::Blocked => "blocked",
        }
    }
}

/// Why a report has no usable verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerdictError {
    #[error("the report has no `## 2. Final Verdict` section")]
    MissingSection,
    #[error("the `## 2. Final Verdict` section is empty")]
    Empty,
    #[error("the `## 2. Final Verdict` section says '{}', not one of accepted, conditional-accept, blocked", .0.escape_debug())]
    Unrecognised(String),
}

fn is_verdict_heading(line: &str) -> bool {
    let Some(rest) = line.trim().strip_prefix("## ") else { return false };
    let rest = rest.trim_start();
    let rest = rest.strip_prefix("2.").or_else(|| rest.strip_prefix("2)")).unwrap_or(rest);
    rest.trim().eq_ignore_ascii_case("final verdict")
}

/// Read the verdict line of the `## 2. Final Verdict` section: its first non-empty line,
/// without list bullets, emphasis, backticks or a `Verdict:` label, must be exactly one of
/// the three verdicts.
pub fn final_verdict(report: &str) -> std::result::Result<Verdict, VerdictError> {
    let mut lines = report.lines().skip_while(|l| !is_verdict_heading(l));
    if lines.next().is_none() {
        return Err(VerdictError::MissingSection);
    }
    let first = lines
        .take_while(|l| !l.trim_start().starts_with('#'))
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("<!--"))
        .ok_or(VerdictError::Empty)?;
    let mut v = unbullet(first).trim_matches(|c| c == '*' || c == '_' || c == '`' || c == ' ');
    for label in ["Verdict:", "verdict:", "VERDICT:"] {
        if let Some(rest) = v.strip_prefix(label) {
            v = rest.trim().trim_matches(|c| c == '*' || c == '_' || c == '`' || c == ' ');
        }
    }
    match v {
        "accepted" => Ok(Verdict::Accepted),
        "conditional-accept" => Ok(Verdict::ConditionalAccept),
        "blocked" => Ok(Verdict::Blocked),
        _ => Err(VerdictError::Unrecognised(first.chars().take(120).collect())),
    }
}

/// The line of the `## 2. Final Verdict` section that [`final_verdict`] reads, trimmed (for
/// quoting in reports).
pub fn verdict_line(report: &str) -> Option<&str> {
    let mut lines = report.lines().skip_while(|l| !is_verdict_heading(l));
    lines.next()?;
    lines
        .take_while(|l| !l.trim_start().starts_with('#'))
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("<!--"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_markers() {
        assert!(has_approval("# Plan\nAPPROVED\n"));
        assert!(has_approval("- APPROVED: by lead\n"));
        assert!(has_approval("* [x] Approved\n"));
        assert!(has_approval("1. [X] approved by me\n"));
        assert!(!has_approval("- [ ] Approved\n"));
        assert!(!has_approval("Not APPROVED yet\n"));
        assert!(!has_approval("APPROVEDish\n"));
    }

    #[test]
    fn approve_checks_the_box_once() {
        let plan = "# Plan\n- [ ] Approved\n";
        let once = approve(plan, "T1", "me").unwrap();
        assert!(once.contains("- [x] Approved\n"));
        assert!(has_approval(&once));
        let twice = approve(&once, "T2", "me").unwrap();
        assert_eq!(twice.matches("[x] Approved").count(), 1);
        assert!(twice.starts_with(&once), "a second approval only appends");
        assert!(approve("# Plan\nno box\n", "T", "me").is_err());
    }

    #[test]
    fn verdicts() {
        let r = |body: &str| {
            final_verdict(&format!("# Report\n## 1. Checks\nok\n## 2. Final Verdict\n{body}\n## 3. Next\n"))
        };
        assert_eq!(r("accepted"), Ok(Verdict::Accepted));
        assert_eq!(r("\n- **accepted**"), Ok(Verdict::Accepted));
        assert_eq!(r("Verdict: `accepted`"), Ok(Verdict::Accepted));
        assert_eq!(r("conditional-accept"), Ok(Verdict::ConditionalAccept));
        assert_eq!(r("blocked"), Ok(Verdict::Blocked));
        assert!(matches!(r("looks good"), Err(VerdictError::Unrecognised(_))));
        assert!(matches!(r("accepted, mostly"), Err(VerdictError::Unrecognised(_))));
        assert_eq!(r(""), Err(VerdictError::Empty));
        assert_eq!(final_verdict("# Report\naccepted\n"), Err(VerdictError::MissingSection));
    }
}
