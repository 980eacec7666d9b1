//! Names: the one segment sanitiser, task-id validation, task keys and branch names.
//!
//! Every path segment and branch component git-okstra makes goes through [`sanitize`].
//! Nothing here touches the disk or git.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest sanitised segment; longer ones are cut and suffixed with a hash.
pub const MAX_SEGMENT: usize = 64;
const CUT_TO: usize = 55;
/// Longest task id a user may type.
pub const MAX_TASK_ID: usize = 128;
const SHELL_METACHARS: &[char] =
    &['`', '$', ';', '|', '&', '<', '>', '(', ')', '{', '}', '!', '*', '?', '\'', '"', '\\'];

/// A sanitised path/branch segment: `^[a-z0-9][a-z0-9-]*$` or `_`, at most 64 chars.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Segment(String);

impl Segment {
    pub fn new(raw: &str) -> Self {
        Segment(sanitize(raw))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lower-case ASCII; runs outside `[a-z0-9]` become one `-`; trimmed; empty → `_`;
/// longer than 64 → first 55 chars, `-`, 8 hex digits of SHA-1 of the raw input.
pub fn sanitize(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_dash = false;
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c);
        } else {
            pending_dash = true;
        }
    }
    if out.is_empty() {
        return "_".to_string();
    }
    if out.len() > MAX_SEGMENT {
        let digest = sha1_smol::Sha1::from(raw.as_bytes()).digest().to_string();
        let mut cut = out[..CUT_TO].trim_end_matches('-').to_string();
        cut.push('-');
        cut.push_str(&digest[..8]);
        return cut;
    }
    out
}

/// Why a typed task id was refused (a usage error: exit 2, nothing written).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TaskIdError {
    #[error("task id '{}' has no ASCII letter or digit", .0.escape_debug())]
    NoAlnum(String),
    #[error("task id is {0} characters long; the limit is 128")]
    TooLong(usize),
    #[error("task id '{}' contains a control or invisible formatting character", .0.escape_debug())]
    Control(String),
    #[error("task id '{}' looks like a path (leading '/' or '\\', or a '..' component)", .0.escape_debug())]
    PathLike(String),
    #[error("task id '{id}' contains the shell metacharacter {meta:?}; a shell expansion probably went wrong", id = .0.escape_debug(), meta = .1)]
    ShellMeta(String, char),
}

/// Check a task id typed by a user before it is sanitised (DESIGN §1).
pub fn validate_task_id(raw: &str) -> Result<(), TaskIdError> {
    let len = raw.chars().count();
    if len > MAX_TASK_ID {
        return Err(TaskIdError::TooLong(len));
    }
    // Debug-escaped in messages, so a bidi mark cannot reorder the terminal line.
    if raw.chars().any(is_control_or_format) {
        return Err(TaskIdError::Control(raw.to_string()));
    }
    if raw.starts_with('/') || raw.starts_with('\\') || raw.split(['/', '\\']).any(|c| c == "..") {
        return Err(TaskIdError::PathLike(raw.to_string()));
    }
    if let Some(c) = raw.chars().find(|c| SHELL_METACHARS.contains(c)) {
        return Err(TaskIdError::ShellMeta(raw.to_string(), c));
    }
    if !raw.chars().any(|c| c.is_ascii_alphanumeric()) {
        return Err(TaskIdError::NoAlnum(raw.to_string()));
    }
    Ok(())
}

/// The longest `--title` taken.
pub const MAX_TITLE: usize = 512;

/// Check a `--title`: it is printed by `task show` and goes into prompts and commit messages,
/// so a control or invisible formatting character (an ESC sequence, a tab, a bidi mark) is
/// refused as in task ids. Any other text is kept as typed.
pub fn validate_title(title: &str) -> Result<(), String> {
    let len = title.chars().count();
    if len > MAX_TITLE {
        return Err(format!("title is {len} characters long; the limit is {MAX_TITLE}"));
    }
    if title.chars().any(is_control_or_format) {
        return Err(format!("title {:?} contains a control or invisible formatting character", title));
    }
    Ok(())
}

/// `text` safe to print on a terminal: control and invisible formatting characters are
/// written as escapes (`\u{1b}`). For values read back from a registry someone edited.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_control_or_format) {
        return text.into();
    }
    text.chars()
        .map(|c| if is_control_or_format(c) { c.escape_unicode().to_string() } else { c.to_string() })
        .collect::<String>()
        .into()
}

/// Unicode general categories Cc and Cf (the latter holds bidi marks and zero-width characters).
fn is_control_or_format(c: char) -> bool {
    if c.is_control() {
        return true;
    }
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// `<project>/<group>/<task>`, each a [`Segment`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskKey {
    pub project: Segment,
    pub group: Segment,
    pub task: Segment,
}

impl TaskKey {
    pub fn new(project: &str, group: &str, task: &str) -> Self {
        TaskKey { project: Segment::new(project), group: Segment::new(group), task: Segment::new(task) }
    }

    /// Parse `<project>/<group>/<task>` whose segments are already sanitised.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split('/');
        let (p, g, t) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let key = TaskKey::new(p, g, t);
        (key.to_string() == s).then_some(key)
    }
}

impl fmt::Display for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.project, self.group, self.task)
    }
}

/// Work category; decides the branch prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Feature,
    Bugfix,
    Hotfix,
    Refactor,
    Chore,
    Docs,
    Test,
    Perf,
    Ci,
    Build,
}

impl Category {
    pub const ALL: [Category; 10] = [
        Category::Feature,
        Category::Bugfix,
        Category::Hotfix,
        Category::Refactor,
        Category::Chore,
        Category::Docs,
        Category::Test,
        Category::Perf,
        Category::Ci,
        Category::Build,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Category::Feature => "feature",
            Category::Bugfix => "bugfix",
            Category::Hotfix => "hotfix",
            Category::Refactor => "refactor",
            Category::Chore => "chore",
            Category::Docs => "docs",
            Category::Test => "test",
            Category::Perf => "perf",
            Category::Ci => "ci",
            Category::Build => "build",
        }
    }

    pub fn prefix(self) -> &'static str {
        match self {
            Category::Feature => "feat",
            Category::Bugfix => "fix",
            other => other.name(),
        }
    }

    /// The category whose branch prefix `prefix` is (for reading a branch name back).
    pub fn from_prefix(prefix: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.prefix() == prefix)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown category '{}'", .0.escape_debug())]
pub struct UnknownCategory(pub String);

impl FromStr for Category {
    type Err = UnknownCategory;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL.into_iter().find(|c| c.name() == s).ok_or_else(|| UnknownCategory(s.to_string()))
    }
}

/// `<prefix>-<task>`, e.g. `feat-dev-9436`.
pub fn branch_name(category: Category, task: &Segment) -> String {
    format!("{}-{}", category.prefix(), task)
}

/// Whether the sanitised task id `typed` looks like a slip of the keyboard for the
/// registered `known`: at most two edits apart (insert, delete, substitute, swap neighbours)
/// with the same digits in the same order. Ids whose numbers differ (`dev-998`, `dev-99`)
/// are other tickets, never typos.
pub fn looks_like_typo(typed: &str, known: &str) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    typed != known && digits(typed) == digits(known) && edit_distance(typed, known) <= 2
}

/// Optimal string alignment distance (Levenshtein plus swaps of neighbours).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_near_ids_with_the_same_number() {
        assert!(looks_like_typo("dev-999x", "dev-999"));
        assert!(looks_like_typo("dve-999", "dev-999"));
        assert!(looks_like_typo("de-999", "dev-999"));
        assert!(!looks_like_typo("dev-999", "dev-999"), "the same id is no typo");
        assert!(!looks_like_typo("dev-998", "dev-999"), "another number is another ticket");
        assert!(!looks_like_typo("dev-99", "dev-999"));
        assert!(!looks_like_typo("dev-999-fix-login", "dev-999"), "far apart");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn design_examples() {
        assert_eq!(sanitize("DEV-9436"), "dev-9436");
        assert_eq!(sanitize("feat/ABC:12"), "feat-abc-12");
        assert_eq!(sanitize("Ünïcode 7"), "n-code-7");
        assert_eq!(sanitize("가나다"), "_");
        assert_eq!(sanitize(""), "_");
        assert_eq!(sanitize("--a--"), "a");
    }

    #[test]
    fn long_ids_are_cut_and_hashed_distinctly() {
        let a = "x".repeat(100);
        let b = format!("{}y", "x".repeat(99));
        let (sa, sb) = (sanitize(&a), sanitize(&b));
        assert_eq!(sa.len(), 64);
        assert!(sa.starts_with(&"x".repeat(55)));
        assert_ne!(sa, sb);
        assert_eq!(sa, sanitize(&a), "stable");
    }

    #[test]
    fn task_id_validation() {
        assert!(validate_task_id("DEV-9436").is_ok());
        assert!(validate_task_id("feat/ABC:12").is_ok());
        assert_eq!(validate_task_id("---"), Err(TaskIdError::NoAlnum("---".into())));
        assert!(matches!(validate_task_id(&"a".repeat(129)), Err(TaskIdError::TooLong(129))));
        assert!(matches!(validate_task_id("a\u{202E}b"), Err(TaskIdError::Control(_))));
        assert!(matches!(validate_task_id("a\tb"), Err(TaskIdError::Control(_))));
        assert!(matches!(validate_task_id("/etc"), Err(TaskIdError::PathLike(_))));
        assert!(matches!(validate_task_id("a/../b"), Err(TaskIdError::PathLike(_))));
        assert!(matches!(validate_task_id("a$(x)"), Err(TaskIdError::ShellMeta(_, '$'))));
        assert!(validate_task_id("a..b").is_ok(), "'..' inside a component is not a path step");
    }

    #[test]
    fn keys_and_branches() {
        let key = TaskKey::new("My Proj", "default", "DEV-1");
        assert_eq!(key.to_string(), "my-proj/default/dev-1");
        assert_eq!(TaskKey::parse("my-proj/default/dev-1"), Some(key.clone()));
        assert_eq!(TaskKey::parse("My/default/dev-1"), None);
        assert_eq!(branch_name(Category::Bugfix, &key.task), "fix-dev-1");
        assert_eq!("hotfix".parse::<Category>(), Ok(Category::Hotfix));
        assert!("nope".parse::<Category>().is_err());
        assert_eq!(Category::from_prefix("feat"), Some(Category::Feature));
    }
}
