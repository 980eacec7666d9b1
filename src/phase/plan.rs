//! The approved plan's scope (DESIGN §8): its `## Files` section, one repository-relative
//! path or glob per list item, checked at the implementation gate and matched against the
//! paths an implementation run edits and commits; and the SHA-256 that ties a run to the
//! plan text the user approved.
//!
//! Text and hashing; the one file read is [`ApprovedPlan::still_approved`], through
//! [`gates::read_doc`].

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::phase::gates;
use gix::glob::{wildmatch, wildmatch::Mode};

/// What the gate's errors and the planning prompt show as an example section.
pub const FILES_EXAMPLE: &str = "`## Files` followed by `- src/login.rs` and `- tests/login/`";

/// The `## Files` entries, normalised: `/`-separated, no `.` or empty components, a trailing
/// `/` kept (a folder). A plain entry covers that path and everything under it, as a git
/// pathspec does; an entry with `*`, `?` or `[` is a glob matched against the whole path
/// (`*` stays inside one folder, `**` crosses folders), or against each leading folder when
/// it ends with `/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct FileList(Vec<String>);

/// Why a plan's `## Files` section is refused. Lines are 1-based lines of the plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilesError {
    #[error("no `## Files` section")]
    Missing,
    #[error("a second `## Files` section at line {line}")]
    Twice { line: usize },
    #[error("the `## Files` section (line {line}) lists no file")]
    Empty { line: usize },
    #[error("line {line} of the `## Files` section is not a top-level list item: '{text}'")]
    NotAnItem { line: usize, text: String },
    #[error("line {line} of the `## Files` section opens a backtick it never closes")]
    Unclosed { line: usize },
    #[error("line {line} of the `## Files` section: '{entry}' {why}")]
    Refused { line: usize, entry: String, why: &'static str },
}

impl FilesError {
    /// What to do about it, for the error's hint line.
    pub fn hint(&self) -> String {
        match self {
            FilesError::Missing | FilesError::Empty { .. } => format!(
                "list every file the implementation may change, one repository-relative path or glob per item: {FILES_EXAMPLE}"
            ),
            FilesError::Twice { .. } => "merge the two sections into one".into(),
            FilesError::NotAnItem { .. } | FilesError::Unclosed { .. } => {
                "write one path per top-level list item, e.g. `- src/login.rs` or `- `docs/a b.md`` (backticks for spaces); move prose out of the section".into()
            }
            FilesError::Refused { .. } => "list paths relative to the repository root, inside it".into(),
        }
    }
}

/// A markdown heading: up to three spaces, then `#`s and a space (or nothing).
fn heading(line: &str) -> Option<&str> {
    let t = line.trim_start_matches(' ');
    if line.len() - t.len() > 3 {
        return None;
    }
    let hashes = t.bytes().take_while(|b| *b == b'#').count();
    let rest = &t[hashes..];
    (hashes > 0 && (rest.is_empty() || rest.starts_with([' ', '\t']))).then_some(rest.trim())
}

fn is_files_heading(line: &str) -> bool {
    if !line.trim_start_matches(' ').starts_with("## ") {
        return false;
    }
    let Some(title) = heading(line) else { return false };
    // `## Files`, `## 4. Files`, `## 4) Files`
    let digits = title.bytes().take_while(u8::is_ascii_digit).count();
    let title = if digits > 0 { title[digits..].trim_start_matches(['.', ')']).trim_start() } else { title };
    title.trim_end_matches(':').eq_ignore_ascii_case("files")
}

/// The line of the `## Files` heading, and the section's lines with their numbers.
type Section<'a> = (usize, Vec<(usize, &'a str)>);

/// The lines of the `## Files` section, numbered, and its heading's line. Headings inside
/// fenced code blocks do not count, so a plan may quote an example.
fn section(plan: &str) -> std::result::Result<Section<'_>, FilesError> {
    let mut fenced = false;
    let mut found: Option<Section<'_>> = None;
    let mut inside = false;
    for (i, line) in plan.lines().enumerate() {
        let t = line.trim_start();
        let fence = t.starts_with("```") || t.starts_with("~~~");
        if !fenced && is_files_heading(line) {
            if found.is_some() {
                return Err(FilesError::Twice { line: i + 1 });
            }
            found = Some((i + 1, Vec::new()));
            inside = true;
        } else if !fenced && heading(line).is_some() {
            inside = false;
        } else if inside {
            found.as_mut().expect("inside a found section").1.push((i + 1, line));
        }
        if fence {
            fenced = !fenced;
        }
    }
    found.ok_or(FilesError::Missing)
}

/// The path an item names: its backticked text, else its first word (what follows is a
/// description).
fn item_path(line: usize, item: &str) -> std::result::Result<&str, FilesError> {
    if let Some(quoted) = item.strip_prefix('`') {
        return quoted.find('`').map(|end| &quoted[..end]).ok_or(FilesError::Unclosed { line });
    }
    Ok(item.split_whitespace().next().unwrap_or(""))
}

/// The text after a top-level list bullet (`-`, `*`, `+`, `1.`, `1)`), or `None`.
fn list_item(line: &str) -> Option<&str> {
    let t = line.trim_start_matches(' ');
    if line.len() - t.len() > 1 {
        return None;
    }
    for b in ["- ", "* ", "+ "] {
        if let Some(rest) = t.strip_prefix(b) {
            return Some(rest.trim());
        }
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let rest = t[digits..].strip_prefix(". ").or_else(|| t[digits..].strip_prefix(") "));
    rest.filter(|_| digits > 0).map(str::trim)
}

/// `raw` as a [`FileList`] entry, or why it is refused.
fn normalise_entry(raw: &str) -> std::result::Result<String, &'static str> {
    if raw.is_empty() {
        return Err("names no file");
    }
    if raw.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    if raw.starts_with('/') {
        return Err("is an absolute path");
    }
    if raw.starts_with('~') {
        return Err("starts with `~` (a home folder is outside the repository)");
    }
    if raw.contains('\\') {
        return Err("contains a backslash (write paths with `/`)");
    }
    let parts: Vec<&str> = raw.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    if parts.contains(&"..") {
        return Err("leaves the repository (a `..` component)");
    }
    match parts.first() {
        None => Err("names the whole repository (list the files instead)"),
        Some(&".git") => Err("is inside git's own folder"),
        Some(_) => Ok(parts.join("/") + if raw.ends_with('/') { "/" } else { "" }),
    }
}

/// Read the `## Files` section of a plan.
pub fn files_section(plan: &str) -> std::result::Result<FileList, FilesError> {
    let (head, lines) = section(plan)?;
    let mut entries: Vec<String> = Vec::new();
    for (n, line) in lines {
        let t = line.trim();
        // The approval box and the `--approve` audit lines often follow the list directly.
        let aside = t.starts_with('>') || (t.starts_with("<!--") && t.ends_with("-->"));
        if t.is_empty() || aside || gates::is_approval_line(line) {
            continue;
        }
        let item = list_item(line).ok_or_else(|| FilesError::NotAnItem { line: n, text: clip(t) })?;
        let raw = item_path(n, item)?;
        let entry = normalise_entry(raw).map_err(|why| FilesError::Refused { line: n, entry: clip(raw), why })?;
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }
    if entries.is_empty() {
        return Err(FilesError::Empty { line: head });
    }
    Ok(FileList(entries))
}

fn clip(s: &str) -> String {
    s.chars().take(120).collect::<String>().escape_debug().to_string()
}

impl FileList {
    pub fn entries(&self) -> &[String] {
        &self.0
    }

    /// Whether the repository-relative path `rel` (`/`-separated) is within the list.
    pub fn covers(&self, rel: &str) -> bool {
        let rel = rel.trim_start_matches("./").trim_end_matches('/');
        !rel.is_empty() && self.0.iter().any(|e| entry_covers(e, rel))
    }
}

fn entry_covers(entry: &str, rel: &str) -> bool {
    let folder = entry.ends_with('/');
    let pattern = entry.trim_end_matches('/');
    if !pattern.contains(['*', '?', '[']) {
        return rel == pattern || rel.strip_prefix(pattern).is_some_and(|rest| rest.starts_with('/'));
    }
    let glob = |text: &str| wildmatch(pattern.into(), text.into(), Mode::NO_MATCH_SLASH_LITERAL);
    if !folder {
        return glob(rel);
    }
    // A folder glob covers what lies under a folder it matches.
    rel.match_indices('/').any(|(i, _)| glob(&rel[..i]))
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The plan an implementation run was approved with, as its manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovedPlan {
    /// The plan's canonical path.
    pub file: String,
    /// Whether this run's `--approve` checked the box.
    pub approved_now: bool,
    /// SHA-256 of the plan's bytes as the gate read them (after `--approve`).
    pub sha256: String,
    pub files: FileList,
}

impl ApprovedPlan {
    /// Whether the plan on disk is still the text the run approved. A plan that is gone or
    /// unreadable is an error, so that callers fail closed.
    pub fn still_approved(&self) -> Result<bool> {
        let text = gates::read_doc(Path::new(&self.file), "approved plan")?;
        Ok(sha256_hex(text.as_bytes()) == self.sha256)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(plan: &str) -> std::result::Result<Vec<String>, FilesError> {
        files_section(plan).map(|f| f.0)
    }

    #[test]
    fn the_section_is_read_with_descriptions_numbers_and_backticks() {
        let plan = "# Plan\n\n## Steps\n- not a file\n\n## Files\n\n- src/login.rs — the form\n* `docs/a b.md`\n\
                    1. ./tests//login/ (new)\n<!-- more later -->\n- src/login.rs\n\n## 5. Risks\n- x\n";
        assert_eq!(files(plan).unwrap(), ["src/login.rs", "docs/a b.md", "tests/login/"]);
        assert_eq!(files("## 3. Files:\n- a\n").unwrap(), ["a"]);
        // The approval box, a marker and the audit lines of `--approve` are not entries.
        let approved =
            "## Files\n- a\n\n- [x] Approved\n- [ ] Approved\nAPPROVED: me\n\n> Approved on the command line\n";
        assert_eq!(files(approved).unwrap(), ["a"]);
        // A quoted example in a fence or an indented block is not the section.
        let quoted = "```\n## Files\n- x\n```\n    ## Files\n\n## Files\n- real\n";
        assert_eq!(files(quoted).unwrap(), ["real"]);
    }

    #[test]
    fn a_missing_empty_or_malformed_section_is_refused_with_its_line() {
        assert_eq!(files("# Plan\n### Files\n- a\n"), Err(FilesError::Missing));
        assert_eq!(files("# Plan\n## Files\n\n## Next\n- a\n"), Err(FilesError::Empty { line: 2 }));
        assert_eq!(files("## Files\n- a\n## Files\n- b\n"), Err(FilesError::Twice { line: 3 }));
        assert_eq!(
            files("## Files\nThese files:\n- a\n"),
            Err(FilesError::NotAnItem { line: 2, text: "These files:".into() })
        );
        assert!(matches!(files("## Files\n- a\n    - nested\n"), Err(FilesError::NotAnItem { line: 3, .. })));
        assert!(matches!(files("## Files\n```\n- a\n```\n"), Err(FilesError::NotAnItem { line: 2, .. })));
        assert_eq!(files("## Files\n- `a b\n"), Err(FilesError::Unclosed { line: 2 }));
        assert!(matches!(files("## Files\n-\n"), Err(FilesError::NotAnItem { .. })));
        assert!(matches!(files("## Files\n- ``\n"), Err(FilesError::Refused { why: "names no file", .. })));
    }

    #[test]
    fn entries_that_leave_the_repository_are_refused() {
        for (entry, why) in [
            ("../secret", "leaves the repository (a `..` component)"),
            ("src/../../x", "leaves the repository (a `..` component)"),
            ("**/../x", "leaves the repository (a `..` component)"),
            ("/etc/passwd", "is an absolute path"),
            ("~/notes", "starts with `~` (a home folder is outside the repository)"),
            ("src\\a.rs", "contains a backslash (write paths with `/`)"),
            (".", "names the whole repository (list the files instead)"),
            (".git/hooks/pre-commit", "is inside git's own folder"),
        ] {
            let plan = format!("## Files\n- `{entry}`\n");
            assert_eq!(
                files(&plan),
                Err(FilesError::Refused { line: 2, entry: entry.escape_debug().to_string(), why }),
                "{entry}"
            );
        }
    }

    #[test]
    fn coverage_follows_pathspec_for_paths_and_wildmatch_for_globs() {
        let list =
            files_section("## Files\n- src/auth\n- tests/*.rs\n- docs/**/*.md\n- gen/*/\n- Cargo.toml\n").unwrap();
        for yes in ["src/auth", "src/auth/mod.rs", "src/auth/deep/x.rs", "tests/a.rs", "docs/a.md", "docs/x/y/z.md"] {
            assert!(list.covers(yes), "{yes}");
        }
        for yes in ["gen/a/b.rs", "gen/a/b/c", "Cargo.toml", "./Cargo.toml"] {
            assert!(list.covers(yes), "{yes}");
        }
        for no in ["src/authx.rs", "src", "tests/sub/a.rs", "tests/a.txt", "docs/a.txt", "gen/a", "Cargo.lock", ""] {
            assert!(!list.covers(no), "{no}");
        }
    }

    #[test]
    fn hashes_are_sha256() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn still_approved_compares_the_file_and_fails_on_a_missing_one() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("plan.md");
        std::fs::write(&path, "## Files\n- a\nAPPROVED\n").unwrap();
        let plan = ApprovedPlan {
            file: path.to_string_lossy().into_owned(),
            approved_now: false,
            sha256: sha256_hex(b"## Files\n- a\nAPPROVED\n"),
            files: files_section("## Files\n- a\n").unwrap(),
        };
        assert!(plan.still_approved().unwrap());
        std::fs::write(&path, "## Files\n- a\n- b\nAPPROVED\n").unwrap();
        assert!(!plan.still_approved().unwrap());
        std::fs::remove_file(&path).unwrap();
        assert!(plan.still_approved().unwrap_err().message.contains("cannot read approved plan"));
    }
}
