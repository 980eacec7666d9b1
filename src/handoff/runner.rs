//! The one command runner of the release handoff: every `git` and `gh` process the handoff
//! starts goes through [`Runner`], which checks the command against a short allow-list and
//! refuses every other form before anything is spawned.
//!
//! Allowed: read-only git (status, diff, log, rev-parse, …); `git add -- <paths>`;
//! `git commit -m <msg>`; `git push -u origin <feature branch>`; `gh pr list --head
//! <feature branch> …`; `gh pr create --base <B> --head <feature branch> --title <T>
//! --body-file <F>`. Never: force, `+refspec`, `--no-verify`/`-n`, `--mirror`, a push to a
//! base or protected branch, `gh pr merge`, `gh release`, or anything else.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::git::{self, Output};

/// Why a command was refused (nothing was spawned).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused to run `{command}`: {why}")]
pub struct Refused {
    pub command: String,
    pub why: String,
}

impl From<Refused> for Error {
    fn from(r: Refused) -> Self {
        Error::failed(r.to_string()).hint("the release handoff runs only its allow-listed commands; nothing was run")
    }
}

/// Whether an allowed command can change anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
}

/// One command the runner started: how it reads, its exit code and a one-line summary.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Executed {
    pub command: String,
    pub exit_code: i32,
    pub summary: String,
}

/// Option flags refused wherever they stand, with the reason a user is shown.
const FORBIDDEN: &[(&str, &str)] = &[
    ("--force", "force is never used by the handoff"),
    ("-f", "force is never used by the handoff"),
    ("--no-verify", "hooks are never skipped"),
    ("-n", "-n skips hooks (commit) or fakes the push (push); neither is allowed"),
    ("--mirror", "mirror pushes rewrite every ref"),
    ("--all", "only the feature branch is pushed"),
    ("--tags", "only the feature branch is pushed"),
    ("--delete", "nothing is deleted"),
    ("-d", "nothing is deleted"),
    ("--prune", "nothing is deleted"),
    ("--amend", "existing commits are never rewritten"),
    ("-A", "only explicit paths are added"),
    ("--output", "read-only commands write no files"),
];

/// Read-only git subcommands, allowed with any arguments that pass the generic checks.
const READ_ONLY_GIT: &[&str] =
    &["status", "diff", "log", "rev-parse", "rev-list", "symbolic-ref", "ls-remote", "var", "check-ref-format"];

/// Flags whose next argument is a value (a message, a branch, a path), not an option.
const VALUE_FLAGS: &[&str] = &["-m", "--head", "--base", "--title", "--body-file", "--state", "--json", "--jq"];

pub struct Runner {
    cwd: PathBuf,
    feature: String,
    /// Branches the handoff must never push to: the chosen base and the protected branches.
    protected: Vec<String>,
    pub log: Vec<Executed>,
}

fn display(program: &str, args: &[String]) -> String {
    let mut s = program.to_string();
    for a in args {
        s.push(' ');
        let first = a.lines().next().unwrap_or("");
        let shown = if a.contains('\n') { format!("{first} …") } else { a.clone() };
        if shown.is_empty() || shown.contains(|c: char| c.is_whitespace() || "'\"$`\\;&|<>(){}*?!#".contains(c)) {
            s.push('\'');
            s.push_str(&shown.replace('\'', r"'\''"));
            s.push('\'');
        } else {
            s.push_str(&shown);
        }
    }
    s
}

/// The output's first line, with control characters (NULs of `-z` output) as spaces, cut
/// to 160 characters.
fn one_line(out: &Output) -> String {
    let line: String = out.summary().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 160 {
        format!("{}…", line.chars().take(159).collect::<String>())
    } else {
        line
    }
}

impl Runner {
    pub fn new(cwd: &Path, feature: &str, protected: Vec<String>) -> Runner {
        Runner { cwd: cwd.to_path_buf(), feature: feature.to_string(), protected, log: Vec::new() }
    }

    /// Add a branch the runner must never push to (the chosen base).
    pub fn protect(&mut self, branch: &str) {
        if !self.protected.iter().any(|b| b == branch) {
            self.protected.push(branch.to_string());
        }
    }

    /// Whether `program args` is on the allow-list; the reason when it is not.
    pub fn check(&self, program: &str, args: &[String]) -> std::result::Result<Kind, Refused> {
        let refuse = |why: String| Refused { command: display(program, args), why };
        // Generic scan of option positions: everything before `--`, except flag values.
        let mut i = 0;
        while i < args.len() {
            let a = args[i].as_str();
            if a == "--" {
                break;
            }
            if VALUE_FLAGS.contains(&a) {
                i += 2;
                continue;
            }
            if let Some((_, why)) = FORBIDDEN.iter().find(|(f, _)| a == *f || a.starts_with(&format!("{f}="))) {
                return Err(refuse(format!("`{a}`: {why}")));
            }
            if a.starts_with("--force") {
                return Err(refuse(format!("`{a}`: force is never used by the handoff")));
            }
            if a.starts_with('-') && !a.starts_with("--") && a.len() > 2 && a[1..].contains(['f', 'n', 'd', 'A']) {
                return Err(refuse(format!("`{a}`: combined short options with force, -n, delete or -A")));
            }
            if a.starts_with('+') {
                return Err(refuse(format!("`{a}`: a +refspec forces the update")));
            }
            i += 1;
        }
        match program {
            "git" => self.check_git(args).map_err(refuse),
            "gh" => self.check_gh(args).map_err(refuse),
            _ => Err(refuse(format!("`{program}` is not on the handoff's allow-list (git, gh)"))),
        }
    }

    fn check_git(&self, args: &[String]) -> std::result::Result<Kind, String> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let rest = match args.as_slice() {
            ["--literal-pathspecs", rest @ ..] => rest,
            rest => rest,
        };
        match rest {
            [] => Err("no git subcommand".into()),
            ["add", "--", paths @ ..] if !paths.is_empty() => Ok(Kind::Write),
            ["add", ..] => Err("only `git add -- <paths>` with explicit paths is allowed".into()),
            ["commit", "-m", _msg] => Ok(Kind::Write),
            ["commit", ..] => Err("only `git commit -m <message>` is allowed".into()),
            ["push", "-u", "origin", branch] => self.check_push_target(branch).map(|_| Kind::Write),
            ["push", ..] => Err(format!("only `git push -u origin {}` is allowed", self.feature)),
            ["remote", "get-url", "origin"] => Ok(Kind::Read),
            [sub, ..] if READ_ONLY_GIT.contains(sub) => Ok(Kind::Read),
            [sub, ..] if sub.starts_with('-') => Err(format!("git option `{sub}` is not allowed")),
            [sub, ..] => Err(format!("`git {sub}` is not on the handoff's allow-list")),
        }
    }

    fn check_push_target(&self, branch: &str) -> std::result::Result<(), String> {
        if branch.contains(':') || branch.starts_with('-') || branch.starts_with("refs/") {
            return Err(format!("push target `{branch}`: only the feature branch, by its plain name"));
        }
        if self.protected.iter().any(|p| p == branch) {
            return Err(format!("`{branch}` is a base or protected branch; the handoff never pushes to it"));
        }
        if branch != self.feature {
            return Err(format!("`{branch}` is not the feature branch `{}`", self.feature));
        }
        Ok(())
    }

    fn check_gh(&self, args: &[String]) -> std::result::Result<Kind, String> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let feature = self.feature.as_str();
        match args.as_slice() {
            ["pr", "list", "--head", head, "--state", "open", "--json", "url", "--jq", ".[].url"] => {
                if *head != feature {
                    return Err(format!("`--head {head}` is not the feature branch `{feature}`"));
                }
                Ok(Kind::Read)
            }
            ["pr", "create", "--base", base, "--head", head, "--title", _title, "--body-file", _file] => {
                if *head != feature {
                    return Err(format!("`--head {head}` is not the feature branch `{feature}`"));
                }
                if *base == feature {
                    return Err("the PR base is the feature branch itself".into());
                }
                Ok(Kind::Write)
            }
            ["pr", "merge", ..] => Err("`gh pr merge` is never run: merging is the reviewer's call".into()),
            ["release", ..] => Err("`gh release` is never run: the handoff publishes nothing".into()),
            _ => {
                Err("only `gh pr list --head` and `gh pr create --base --head --title --body-file` are allowed".into())
            }
        }
    }

    /// How a command would read, after the allow-list check (for `--dry-run`).
    pub fn plan(&self, program: &str, args: &[String]) -> Result<String> {
        self.check(program, args)?;
        Ok(display(program, args))
    }

    /// Check, then run, and log the command with its exit code and a one-line summary.
    pub fn run(&mut self, program: &str, args: &[String]) -> Result<Output> {
        self.check(program, args)?;
        let out = git::exec(program, args, &self.cwd)?;
        self.log.push(Executed { command: display(program, args), exit_code: out.code, summary: one_line(&out) });
        Ok(out)
    }

    /// A read-only git command whose failure is an error carrying git's message.
    pub fn read(&mut self, args: &[&str]) -> Result<Output> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let out = self.run("git", &args)?;
        if !out.ok() {
            return Err(Error::failed(format!("{} failed: {}", display("git", &args), out.summary())));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner() -> Runner {
        Runner::new(Path::new("."), "feat-dev-1", vec!["staging".into(), "main".into(), "dev".into()])
    }

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[track_caller]
    fn refused(program: &str, args: &[&str], why_contains: &str) {
        let err = runner().check(program, &argv(args)).expect_err(&format!("{program} {args:?} must be refused"));
        assert!(err.why.contains(why_contains), "{program} {args:?}: {}", err.why);
    }

    #[test]
    fn allows_exactly_the_listed_forms() {
        let r = runner();
        let ok = |p: &str, a: &[&str], k: Kind| assert_eq!(r.check(p, &argv(a)), Ok(k), "{p} {a:?}");
        ok("git", &["--literal-pathspecs", "add", "--", "src/a.rs", "-f", "--force"], Kind::Write);
        ok("git", &["commit", "-m", "feat: x\n\n-n is only text"], Kind::Write);
        ok("git", &["push", "-u", "origin", "feat-dev-1"], Kind::Write);
        ok("git", &["status", "--porcelain=v1", "-z", "--untracked-files=all"], Kind::Read);
        ok("git", &["ls-remote", "--heads", "origin", "refs/heads/staging"], Kind::Read);
        ok(
            "gh",
            &["pr", "list", "--head", "feat-dev-1", "--state", "open", "--json", "url", "--jq", ".[].url"],
            Kind::Read,
        );
        ok(
            "gh",
            &["pr", "create", "--base", "staging", "--head", "feat-dev-1", "--title", "-f", "--body-file", "b.md"],
            Kind::Write,
        );
    }

    #[test]
    fn refuses_every_forbidden_form() {
        refused("git", &["push", "--force", "-u", "origin", "feat-dev-1"], "--force");
        refused("git", &["push", "-f", "-u", "origin", "feat-dev-1"], "-f");
        refused("git", &["push", "--force-with-lease", "-u", "origin", "feat-dev-1"], "force");
        refused("git", &["push", "-uf", "origin", "feat-dev-1"], "combined");
        refused("git", &["push", "-u", "origin", "+feat-dev-1"], "+refspec");
        refused("git", &["push", "-u", "origin", "+refs/heads/feat-dev-1:refs/heads/feat-dev-1"], "+refspec");
        refused("git", &["push", "--no-verify", "-u", "origin", "feat-dev-1"], "hooks are never skipped");
        refused("git", &["commit", "--no-verify", "-m", "x"], "hooks are never skipped");
        refused("git", &["commit", "-n", "-m", "x"], "-n");
        refused("git", &["push", "-n", "-u", "origin", "feat-dev-1"], "-n");
        refused("git", &["push", "--mirror", "origin"], "mirror");
        refused("git", &["push", "-u", "origin", "staging"], "base or protected");
        refused("git", &["push", "-u", "origin", "main"], "base or protected");
        refused("git", &["push", "-u", "origin", "feat-dev-1:staging"], "plain name");
        refused("git", &["push", "-u", "origin", "other-branch"], "not the feature branch");
        refused("git", &["push", "origin", "feat-dev-1"], "only `git push -u origin feat-dev-1`");
        refused("git", &["push", "-u", "upstream", "feat-dev-1"], "only `git push -u origin feat-dev-1`");
        refused("git", &["push", "--delete", "origin", "feat-dev-1"], "deleted");
        refused("git", &["add", "-A"], "-A");
        refused("git", &["add", "."], "explicit paths");
        refused("git", &["commit", "--amend", "-m", "x"], "rewritten");
        refused("git", &["-c", "core.hooksPath=/dev/null", "commit", "-m", "x"], "not allowed");
        refused("git", &["reset", "--hard"], "allow-list");
        refused("git", &["diff", "--output=x", "HEAD"], "write no files");
        refused("gh", &["pr", "merge", "7"], "gh pr merge");
        refused("gh", &["release", "create", "v1"], "gh release");
        refused(
            "gh",
            &["pr", "create", "--base", "feat-dev-1", "--head", "feat-dev-1", "--title", "t", "--body-file", "b"],
            "feature branch itself",
        );
        refused(
            "gh",
            &["pr", "create", "--base", "main", "--head", "staging", "--title", "t", "--body-file", "b"],
            "not the feature branch",
        );
        refused("gh", &["api", "repos"], "only `gh pr list");
        refused("sh", &["-c", "git push --force"], "allow-list");
    }

    #[test]
    fn display_quotes_and_shortens() {
        assert_eq!(display("git", &argv(&["commit", "-m", "feat: a\n\nbody"])), "git commit -m 'feat: a …'");
        assert_eq!(display("git", &argv(&["add", "--", "a b"])), "git add -- 'a b'");
    }
}
