//! The agent guard: reads the command an agent host is about to run (Claude Code, Gemini CLI,
//! Cursor, or plain text), finds every git, gh and publishing invocation in it with
//! [`shell`], and judges it with the rule families in [`rules`] and the rules of
//! [`crate::policy`].
//!
//! Pure decisions; the only outside read is the repository's protected-branch list and current
//! branch (through gix), and only when the command pushes to an explicit ref.
//!
//! Where things live: [`hosts`] reads the hosts' hook JSON, [`shell`] splits the command,
//! [`walk`] goes through its simple commands and the wrappers around them, [`git_command`]
//! reads one git invocation (global options, aliases) and [`git_grammar`] its options; each
//! rule family is a file of [`rules`]. [`agents`] writes the hosts' settings files.

pub mod agents;
pub mod git_command;
pub mod git_grammar;
pub mod hosts;
pub mod rules;
pub mod shell;
pub mod walk;

use std::path::PathBuf;

use crate::policy::{self, Protected, Rule, Violation};

pub use hosts::{plain, read_request, Host, Request};

/// Where the command runs: the protected branches and the current branch are read from
/// there, lazily, the first time a push names a ref.
pub struct Context {
    pub cwd: PathBuf,
    repo: Option<Option<RepoFacts>>,
}

struct RepoFacts {
    protected: Protected,
    current_branch: Option<String>,
    /// `alias.<name>` from the repository's config (every level), last value wins.
    aliases: Vec<(String, String)>,
}

impl Context {
    pub fn new(cwd: PathBuf) -> Context {
        Context { cwd, repo: None }
    }

    /// A context with a fixed protected list and current branch (no repository is read).
    pub fn with(protected: Protected, current_branch: Option<&str>) -> Context {
        let facts = RepoFacts { protected, current_branch: current_branch.map(str::to_string), aliases: Vec::new() };
        Context { cwd: PathBuf::from("."), repo: Some(Some(facts)) }
    }

    fn facts(&mut self) -> Option<&RepoFacts> {
        if self.repo.is_none() {
            let facts = crate::git::Repo::discover(&self.cwd).ok().flatten().map(|repo| RepoFacts {
                protected: Protected::from_repo(&repo),
                current_branch: current_branch(&repo),
                aliases: aliases(&repo),
            });
            self.repo = Some(facts);
        }
        self.repo.as_ref().and_then(|r| r.as_ref())
    }

    pub(crate) fn protected(&mut self) -> Protected {
        self.facts().map(|f| f.protected.clone()).unwrap_or_default()
    }

    pub(crate) fn current_branch(&mut self) -> Option<String> {
        self.facts().and_then(|f| f.current_branch.clone())
    }

    pub(crate) fn alias(&mut self, name: &str) -> Option<String> {
        let facts = self.facts()?;
        facts.aliases.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }
}

fn aliases(repo: &crate::git::Repo) -> Vec<(String, String)> {
    let config = repo.gix().config_snapshot();
    let Some(sections) = config.plumbing().sections_by_name("alias") else { return Vec::new() };
    let mut out = Vec::new();
    for section in sections.filter(|s| s.header().subsection_name().is_none()) {
        for name in section.value_names() {
            if let Some(value) = section.value(&name) {
                out.push((name, value.to_string()));
            }
        }
    }
    out
}

fn current_branch(repo: &crate::git::Repo) -> Option<String> {
    let name = repo.gix().head_name().ok()??;
    Some(name.shorten().to_string())
}

/// Judge a whole shell command; the first violation found, if any.
pub fn check(command: &str, ctx: &mut Context) -> Option<Violation> {
    walk::check_script(command, 0, ctx)
}

pub(crate) fn violation(rule: Rule, subject: &str, message: impl Into<String>) -> Violation {
    Violation::new(rule, subject, message, policy::command_fix(rule))
}

/// At most 160 characters of a command, for messages.
pub(crate) fn clip(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn never_panics(text in "(git |push |commit |-f |-n |-m |--no-verify |sh |-c |' |\" |\\$\\( |\\) |; |&& |env |A=1 |main |:dev |\\+x |-C |-c |find |-exec |\\\\; |gh |api |-X |<<E\n|E\n)*") {
            let mut ctx = Context::with(Protected::default(), Some("feat-x"));
            let _ = check(&text, &mut ctx);
        }
    }
}
