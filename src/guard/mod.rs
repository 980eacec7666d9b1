//! The agent guard: judges what a command an agent host is about to run would do — not how it
//! is spelled — and refuses what the policy and the task contract forbid. Decisions: the only
//! outside reads are the repository's config, refs and folders (through gix), the registry, a
//! run's manifest and its approved plan, each only when a rule needs it; the one process it
//! may start is `git check-ignore`, when whether git ignores a written path decides.
//!
//! Where things live:
//! - [`hosts`]: the hosts' hook JSON (Claude Code, Gemini CLI, Cursor), shell and other tools;
//! - [`shell`]: the one reader of shell text; [`expand`]: what bash would expand;
//! - [`walk`]: the simple commands in order, through wrappers, shells, `eval`, functions;
//!   [`interpreters`]: inline `python -c`/`node -e`/… code that runs commands;
//! - [`git_command`]: one git invocation (global options, config, aliases, autocorrect);
//!   [`git_grammar`] + [`git_options`]: git's own option grammar; [`git_runs`]: the commands
//!   git itself runs from options, config and environment;
//! - [`files`]: which files a command writes or removes;
//! - [`contract`]: the task contract's table and judgements; [`tasks`]: which task an
//!   operation acts for (the registry, read once per request);
//! - [`rules`]: one file per rule family, each a table of rules with stable ids;
//! - [`explain`]: the trace `--explain` prints; [`agents`]: the hosts' settings files.

pub mod agents;
pub mod contract;
pub mod expand;
pub mod explain;
pub mod files;
pub mod git_command;
pub mod git_grammar;
pub mod git_options;
pub mod git_runs;
pub mod hosts;
pub mod interpreters;
pub mod rules;
pub mod shell;
pub mod tasks;
pub mod walk;

use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::git::Repo;
use crate::policy::Violation;
pub use expand::{Arg, Var, Vars};
pub use hosts::{plain, read_request, Host, Request};

/// Where one git invocation runs: its folder (after `cd` and `-C`) and git dir override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Here {
    /// `None`: only known at run time.
    pub dir: Option<PathBuf>,
    pub git_dir: Option<PathBuf>,
    /// `--work-tree` / `GIT_WORK_TREE`: the folder git checks out into.
    pub work_tree: Option<PathBuf>,
}

/// What the walk knows at a point of the script; a subshell or nested shell gets a copy.
#[derive(Debug, Clone)]
pub struct State {
    pub cwd: Option<PathBuf>,
    pub vars: Vars,
    pub env: Vec<(String, Arg)>,
    pub shell_aliases: Vec<(String, String)>,
}

/// Everything the rules may consult while judging one request.
pub struct Context {
    /// The folder the next command runs in; `None` once it is only known at run time.
    pub cwd: Option<PathBuf>,
    /// The host's folder: the task worktree is the one that holds it.
    pub origin: PathBuf,
    pub vars: Vars,
    /// Environment the commands get beyond the guard's own (prefixes, `env`, `export`).
    pub env: Vec<(String, Arg)>,
    /// `alias name=value` definitions seen so far.
    pub shell_aliases: Vec<(String, String)>,
    /// Filled for `--explain`.
    pub trace: Option<explain::Trace>,
    /// Git aliases being expanded (a loop is refused).
    pub aliases_seen: Vec<String>,
    /// Branch switches made by earlier commands of the script, by worktree.
    branch_after: Vec<(PathBuf, BranchNow)>,
    /// Repositories the script itself creates (`git clone`, `git init`): unreadable now.
    pub new_repos: Vec<PathBuf>,
    /// The command being judged reads a pipe whose text is only known at run time.
    pub stdin_unknown: bool,
    /// What the git command being judged reads on stdin, when known (`git apply` of a heredoc).
    pub stdin_text: Option<String>,
    /// Judging a script file the agent did not write on this command line: what it surely does
    /// is judged, what only its run can tell (its `$1`, its variables) is not refused.
    pub in_file: bool,
    /// Files the script changes before later commands run (a script file among them is not
    /// read: what it will hold is unknown).
    pub written: Vec<PathBuf>,
    repos: Vec<(PathBuf, Option<Rc<Repo>>)>,
    user_allow: Option<Vec<String>>,
    /// The registry and the tasks the contract rules looked up.
    pub tasks: tasks::Tasks,
}

/// What `HEAD` names after an earlier command of the script switched it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchNow {
    Branch(String),
    Detached,
    Unknown,
}

impl Context {
    pub fn new(cwd: PathBuf) -> Context {
        Context {
            cwd: Some(cwd.clone()),
            origin: cwd,
            vars: Vars::new(),
            env: Vec::new(),
            shell_aliases: Vec::new(),
            trace: None,
            aliases_seen: Vec::new(),
            branch_after: Vec::new(),
            new_repos: Vec::new(),
            written: Vec::new(),
            stdin_unknown: false,
            stdin_text: None,
            in_file: false,
            repos: Vec::new(),
            user_allow: None,
            tasks: tasks::Tasks::default(),
        }
    }

    pub fn state(&self) -> State {
        State {
            cwd: self.cwd.clone(),
            vars: self.vars.clone(),
            env: self.env.clone(),
            shell_aliases: self.shell_aliases.clone(),
        }
    }

    pub fn restore(&mut self, s: State) {
        self.cwd = s.cwd;
        self.vars = s.vars;
        self.env = s.env;
        self.shell_aliases = s.shell_aliases;
    }

    /// The repository around `dir` (opened once per folder); none inside one the script creates.
    pub fn repo(&mut self, dir: &Path) -> Option<Rc<Repo>> {
        if self.new_repos.iter().any(|r| dir.starts_with(r)) {
            return None;
        }
        if let Some((_, r)) = self.repos.iter().find(|(d, _)| d == dir) {
            return r.clone();
        }
        let repo = Repo::discover(dir).ok().flatten().map(Rc::new);
        self.repos.push((dir.to_path_buf(), repo.clone()));
        repo
    }

    /// The repository a git invocation works on (`--git-dir`/`GIT_DIR` first).
    pub fn repo_for(&mut self, here: &Here) -> Option<Rc<Repo>> {
        if let Some(gd) = &here.git_dir {
            return Repo::open(gd).ok().map(Rc::new);
        }
        let dir = here.dir.clone()?;
        self.repo(&dir)
    }

    /// The branch `HEAD` names where a git invocation runs: `Some(None)` detached (or no
    /// repository there: git fails), `None` when it cannot be known before the run.
    pub fn current_branch(&mut self, here: &Here) -> Option<Option<String>> {
        let dir = here.dir.clone()?;
        if self.new_repos.iter().any(|r| dir.starts_with(r)) {
            return None;
        }
        let Some(repo) = self.repo_for(here) else {
            return dir.is_dir().then_some(None);
        };
        let key = repo.current_worktree.clone().unwrap_or(dir);
        match self.branch_after.iter().rev().find(|(k, _)| *k == key).map(|(_, b)| b.clone()) {
            Some(BranchNow::Branch(b)) => Some(Some(b)),
            Some(BranchNow::Detached) => Some(None),
            Some(BranchNow::Unknown) => None,
            None => Some(repo.head_branch()),
        }
    }

    /// Record that a command of the script switched the branch where it ran.
    pub fn set_branch(&mut self, here: &Here, now: BranchNow) {
        let Some(dir) = here.dir.clone() else { return };
        let key = self.repo_for(here).and_then(|r| r.current_worktree.clone()).unwrap_or(dir);
        self.branch_after.push((key, now));
    }

    /// The folder the command starts in, resolved against the current one.
    pub fn resolve(&self, path: &str) -> Option<PathBuf> {
        let p = Path::new(path);
        if p.is_absolute() {
            return Some(files::normalize(p));
        }
        self.cwd.as_ref().map(|c| files::normalize(&c.join(p)))
    }

    /// The task worktree: the top of the worktree holding the host's folder, else that folder.
    pub fn task_root(&mut self) -> PathBuf {
        let origin = self.origin.clone();
        self.repo(&origin).and_then(|r| r.current_worktree.clone()).unwrap_or(origin)
    }

    /// The value of a command substitution the guard can know without running it: the
    /// current branch idioms, `pwd`, the worktree top, `mktemp` (a path in the temp folder).
    pub fn command_value(&mut self, source: &str) -> Option<String> {
        let cmds = shell::parse(source).ok()?;
        let [cmd] = cmds.as_slice() else { return None };
        let words: Vec<String> = cmd.words.iter().map(shell::Word::literal).collect::<Option<_>>()?;
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let cwd = self.cwd.clone()?;
        match words.as_slice() {
            ["git", "branch", "--show-current"]
            | ["git", "rev-parse", "--abbrev-ref", "HEAD"]
            | ["git", "symbolic-ref", "--short", "HEAD"]
            | ["git", "symbolic-ref", "--short", "-q", "HEAD"] => self.repo(&cwd)?.head_branch(),
            ["git", "rev-parse", "--show-toplevel"] => {
                self.repo(&cwd)?.current_worktree.as_ref().map(|p| p.to_string_lossy().into_owned())
            }
            ["pwd"] | ["pwd", "-P"] | ["pwd", "-L"] => Some(cwd.to_string_lossy().into_owned()),
            ["mktemp", rest @ ..] => Some(mktemp_path(rest)),
            _ => None,
        }
    }

    /// Whether the user's own config (`okstra.guardAllow`, user level only) lets agents do
    /// what this rule forbids: its family name or its id.
    pub fn allowed_by_user(&mut self, def: &rules::RuleDef) -> bool {
        let allow =
            self.user_allow.get_or_insert_with(|| crate::git::user_config_strings(crate::config::KEY_GUARD_ALLOW));
        let family = def.rule.name();
        rules::USER_ALLOWABLE.contains(&family)
            && allow.iter().flat_map(|v| v.split([',', ' '])).any(|n| n.trim() == family || n.trim() == def.id)
    }

    /// Add to the `--explain` trace, when one is kept.
    pub fn note(&mut self, f: impl FnOnce(&mut explain::Trace)) {
        if let Some(t) = self.trace.as_mut() {
            f(t);
        }
    }
}

/// Where `mktemp [-d] [-p DIR] [TEMPLATE]` creates its file.
fn mktemp_path(args: &[&str]) -> String {
    let mut dir = expand::temp_dir();
    let mut template = "tmp.XXXXXXXXXX".to_string();
    let mut i = 0;
    while let Some(a) = args.get(i) {
        match *a {
            "-p" | "--tmpdir" => {
                if let Some(d) = args.get(i + 1) {
                    dir = d.to_string();
                }
                i += 1;
            }
            s if s.starts_with("--tmpdir=") => dir = s["--tmpdir=".len()..].to_string(),
            s if s.starts_with('-') => {}
            s if s.contains('/') => return s.to_string(),
            s => template = s.to_string(),
        }
        i += 1;
    }
    format!("{}/{template}", dir.trim_end_matches('/'))
}

/// Judge a whole shell command; the first violation found, if any.
pub fn check(command: &str, ctx: &mut Context) -> Option<Violation> {
    walk::check_script(command, 0, ctx)
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
        fn never_panics(text in "(git |push |commit |-f |-n |-m |--no-verify |sh |-c |' |\" |\\$\\( |\\) |; |&& |env |A=1 |main |:dev |\\+x |-C |-c |find |-exec |\\\\; |gh |api |-X |<<E\n|E\n|rm |-rf |\\{a,b\\} |\\$X |X=main |cd |\\.\\. |> |\\.git/config |python -c |for x in a b; do |done )*") {
            let mut ctx = Context::new(std::env::temp_dir());
            let _ = check(&text, &mut ctx);
        }
    }

    #[test]
    fn mktemp_paths() {
        assert!(mktemp_path(&["-d"]).starts_with(&expand::temp_dir()));
        assert_eq!(mktemp_path(&["-p", "/x", "a.XXX"]), "/x/a.XXX");
        assert_eq!(mktemp_path(&["/var/tmp/q.XXX"]), "/var/tmp/q.XXX");
    }
}
