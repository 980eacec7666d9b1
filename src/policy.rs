//! The safety policy, shared by the git hooks (`pre-push`, `pre-receive`, the `--no-verify`
//! detector) and the agent guard: which branches are protected, what each rule is called,
//! how a ref update is judged, the `OKSTRA_ALLOW` override and the audit log.
//!
//! Pure decisions plus one append-only log; it runs no git and parses no hook protocol.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use serde::Serialize;

use crate::config;

/// A rule of the policy. Names are what `OKSTRA_ALLOW` and the audit log use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// A non-fast-forward update of a remote branch (force push, `+refspec`, `--mirror`, …).
    NonFastForward,
    /// Deleting a protected branch.
    ProtectedDelete,
    /// Any update of a protected branch (a direct push to a base branch).
    ProtectedUpdate,
    /// A commit or merge made with `--no-verify` / `-n`, or a command asking for it.
    NoVerify,
    /// Switching hooks off another way: `core.hooksPath`, `HUSKY=0`, `SKIP=…`, …
    HookBypass,
    /// Publishing, releasing, merging PRs, deploying: never an agent's job.
    Publish,
    /// Input the policy cannot read with certainty (malformed hook stdin, unclosed quote).
    Malformed,
    /// An agent using the `OKSTRA_ALLOW` override itself.
    Override,
    /// Local work that cannot be brought back (`reset --hard`, `clean -f`, `rm -rf` outside).
    Discard,
    /// An agent changing what judges it: okstra/hook/include config, hook files, host settings.
    SelfProtect,
    /// The task contract's per-phase columns (DESIGN §8): writes, commits, pushes, the
    /// approved plan. `OKSTRA_ALLOW=phase` is a person's override of the `pre-commit` backstop.
    Phase,
    /// Another task's worktree, notes or branch, or the main worktree outside the notes.
    OtherTask,
    /// An okstra command reserved to the user (`task phase`, `--approve`, `handoff`, …).
    UserOnly,
}

impl Rule {
    pub const ALL: [Rule; 13] = [
        Rule::NonFastForward,
        Rule::ProtectedDelete,
        Rule::ProtectedUpdate,
        Rule::NoVerify,
        Rule::HookBypass,
        Rule::Publish,
        Rule::Malformed,
        Rule::Override,
        Rule::Discard,
        Rule::SelfProtect,
        Rule::Phase,
        Rule::OtherTask,
        Rule::UserOnly,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::NonFastForward => "non-fast-forward",
            Rule::ProtectedDelete => "protected-delete",
            Rule::ProtectedUpdate => "protected-update",
            Rule::NoVerify => "no-verify",
            Rule::HookBypass => "hook-bypass",
            Rule::Publish => "publish",
            Rule::Malformed => "malformed",
            Rule::Override => "override",
            Rule::Discard => "discard",
            Rule::SelfProtect => "self-protect",
            Rule::Phase => "phase",
            Rule::OtherTask => "other-task",
            Rule::UserOnly => "user-only",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Rule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rule::ALL.into_iter().find(|r| r.name() == s).ok_or_else(|| format!("unknown rule '{}'", s.escape_debug()))
    }
}

/// One refusal: the rule, the stable id of the exact check (`discard:reset-hard`; the rule's
/// name where a rule has one check), what it is about (a ref or a command), why, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub rule: Rule,
    pub id: &'static str,
    pub subject: String,
    pub message: String,
    pub fix: String,
    /// For a refusal of the task contract: the phase it was judged in (`none` before the
    /// first run); the message then reads as DESIGN §8 words it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<&'static str>,
}

impl Violation {
    pub fn new(rule: Rule, subject: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Violation {
            rule,
            id: rule.name(),
            subject: subject.into(),
            message: message.into(),
            fix: fix.into(),
            phase: None,
        }
    }

    /// `[okstra:<rule>] <message> (<subject>). <fix>` — one line.
    pub fn one_line(&self) -> String {
        format!("[okstra:{}] {}: {}. {}", self.rule, self.subject, self.message, self.fix)
    }
}

/// The protected branch names: multi-valued `okstra.protectedBranch`, else the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protected(Vec<String>);

impl Protected {
    pub fn new(configured: Option<Vec<String>>) -> Self {
        match configured {
            Some(v) if !v.is_empty() => Protected(v),
            _ => Protected::default(),
        }
    }

    pub fn from_repo(repo: &crate::git::Repo) -> Self {
        Protected::new(repo.config_strings(config::KEY_PROTECTED_BRANCH))
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }

    /// Whether a branch (`main`) or full ref (`refs/heads/main`) is protected. Case does not
    /// matter: on a case-insensitive file system `refs/heads/Main` is `refs/heads/main`.
    pub fn contains(&self, name: &str) -> bool {
        let short = name.strip_prefix("refs/heads/").unwrap_or(name);
        self.0.iter().any(|p| p.eq_ignore_ascii_case(short))
    }
}

impl Default for Protected {
    fn default() -> Self {
        Protected(config::DEFAULT_PROTECTED_BRANCHES.iter().map(|s| s.to_string()).collect())
    }
}

/// An all-zero object id (a created or deleted ref).
pub fn is_zero_oid(oid: &str) -> bool {
    !oid.is_empty() && oid.bytes().all(|b| b == b'0')
}

/// Ancestry as the caller could establish it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ancestry {
    FastForward,
    NotAncestor,
    /// The old value is not in this repository: cannot be in local history.
    Unknown,
}

/// Judge one update of a remote ref from `old` to `new` (pre-push and pre-receive).
/// Tags and other non-branch refs are allowed; `ancestry` is asked only when needed.
pub fn judge_ref_update(
    protected: &Protected,
    remote_ref: &str,
    old: &str,
    new: &str,
    ancestry: impl FnOnce() -> Ancestry,
) -> Option<Violation> {
    let branch = remote_ref.strip_prefix("refs/heads/")?;
    let deleting = is_zero_oid(new);
    let creating = is_zero_oid(old);
    if deleting {
        return protected.contains(branch).then(|| {
            Violation::new(
                Rule::ProtectedDelete,
                remote_ref,
                format!("deleting the protected branch '{branch}' is not allowed"),
                "protected branches are changed through reviewed pull requests only",
            )
        });
    }
    if protected.contains(branch) {
        return Some(Violation::new(
            Rule::ProtectedUpdate,
            remote_ref,
            format!("'{branch}' is a protected base branch; direct pushes to it are not allowed"),
            "push your feature branch and open a pull request instead",
        ));
    }
    if creating {
        return None;
    }
    match ancestry() {
        Ancestry::FastForward => None,
        Ancestry::NotAncestor => Some(Violation::new(
            Rule::NonFastForward,
            remote_ref,
            "this push rewrites history on the remote (force push, +refspec, --force-with-lease or --mirror)",
            "integrate the remote work instead (`git pull --rebase`, then push without force)",
        )),
        Ancestry::Unknown => Some(Violation::new(
            Rule::NonFastForward,
            remote_ref,
            format!("the remote tip {} is not in this repository, so this push may rewrite history", short(old)),
            "fetch first (`git fetch`), integrate the remote work, then push without force",
        )),
    }
}

fn short(oid: &str) -> &str {
    &oid[..oid.len().min(12)]
}

/// Whether `OKSTRA_ALLOW` names this rule (comma- or space-separated names; only named rules).
pub fn override_allows(rule: Rule) -> bool {
    std::env::var(config::ENV_ALLOW).map(|v| v.split([',', ' ']).any(|n| n.trim() == rule.name())).unwrap_or(false)
}

/// What happened to a checked action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    Refused,
    AllowedByOverride,
    Warned,
    /// A person confirmed they saw a bypassed push (`handoff --accept-bypassed-push`).
    Acknowledged,
}

/// One line of `<common dir>/okstra/audit.jsonl`.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord<'a> {
    pub at: String,
    /// Which entry point decided: `pre-push`, `pre-receive`, `prepare-commit-msg`, `agent-guard`, …
    pub source: &'a str,
    pub decision: Decision,
    pub rule: Rule,
    /// The check's stable id (`--explain` and the guard's messages show the same).
    pub id: &'a str,
    pub subject: &'a str,
    pub message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<&'a str>,
    /// For a refusal of the task contract, the phase it was judged in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<&'a str>,
    pub pid: u32,
}

impl<'a> AuditRecord<'a> {
    pub fn new(source: &'a str, decision: Decision, v: &'a Violation) -> Self {
        AuditRecord {
            at: crate::task::registry::now(),
            source,
            decision,
            rule: v.rule,
            id: v.id,
            subject: &v.subject,
            message: &v.message,
            agent: None,
            command: None,
            phase: v.phase,
            pid: std::process::id(),
        }
    }
}

/// Append one JSON line to `<common dir>/okstra/audit.jsonl` (one `write` with `O_APPEND`,
/// so concurrent writers do not interleave lines).
pub fn audit(common_dir: &Path, record: &AuditRecord) -> std::io::Result<()> {
    let dir = common_dir.join("okstra");
    std::fs::create_dir_all(&dir)?;
    let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("audit.jsonl"))?;
    f.write_all(line.as_bytes())
}

impl Violation {
    /// `blocked by okstra [<id>]: <message> (<subject>); <fix>.` — one sentence for an agent;
    /// a contract refusal reads `blocked by okstra [phase:<phase>] <id>: <what> — <instead>`
    /// (DESIGN §8), as [`crate::guard::contract::Block`] prints it.
    pub fn sentence(&self) -> String {
        match self.phase {
            Some(phase) => format!("blocked by okstra [phase:{phase}] {}: {} — {}", self.id, self.message, self.fix),
            None => format!("blocked by okstra [{}]: {} ({}); {}.", self.id, self.message, self.subject, self.fix),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";
    const Z: &str = "0000000000000000000000000000000000000000";

    fn judge(r: &str, old: &str, new: &str, anc: Ancestry) -> Option<Rule> {
        judge_ref_update(&Protected::default(), r, old, new, || anc).map(|v| v.rule)
    }

    #[test]
    fn ref_updates() {
        assert_eq!(judge("refs/heads/feat-x", Z, A, Ancestry::NotAncestor), None, "new branch");
        assert_eq!(judge("refs/heads/feat-x", A, B, Ancestry::FastForward), None);
        assert_eq!(judge("refs/heads/feat-x", A, B, Ancestry::NotAncestor), Some(Rule::NonFastForward));
        assert_eq!(judge("refs/heads/feat-x", A, B, Ancestry::Unknown), Some(Rule::NonFastForward));
        assert_eq!(judge("refs/heads/main", A, B, Ancestry::FastForward), Some(Rule::ProtectedUpdate));
        assert_eq!(judge("refs/heads/dev", Z, A, Ancestry::FastForward), Some(Rule::ProtectedUpdate));
        assert_eq!(judge("refs/heads/dev", A, Z, Ancestry::FastForward), Some(Rule::ProtectedDelete));
        assert_eq!(judge("refs/heads/feat-x", A, Z, Ancestry::FastForward), None);
        assert_eq!(judge("refs/tags/v1", A, B, Ancestry::NotAncestor), None);
    }

    #[test]
    fn protected_list_from_config() {
        let p = Protected::new(Some(vec!["trunk".into()]));
        assert!(p.contains("refs/heads/trunk"));
        assert!(!p.contains("main"));
        assert!(Protected::new(None).contains("preprod"));
    }

    #[test]
    fn rule_names_round_trip() {
        for r in Rule::ALL {
            assert_eq!(r.name().parse::<Rule>(), Ok(r));
        }
    }
}
