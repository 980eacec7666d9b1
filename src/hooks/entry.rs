//! The entry points the shims call (`git okstra hook <name>`). Hot path: each one does the
//! least it can before it knows there is something to check — the commit shims handle the
//! stamp in `sh` and call `pre-commit`/`prepare-commit-msg` only when they cannot (then
//! `pre-commit` writes one stamp and sweeps); an empty `pre-push` only checks for a mirror
//! push; the repository is opened only to judge or to log.
//!
//! Each returns the hook's exit code: 0 lets git go on, 1 stops it.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::process;
use super::protocol::{self, Malformed, PushLine};
use super::push_args::{self, PushArgs};
use super::stamp::{self, Kind};
use crate::error::{Error, Result};
use crate::git::{self, Repo};
use crate::output;
use crate::policy::{self, Ancestry, AuditRecord, Decision, Protected, Rule, Violation};

/// All of stdin (hook input is small).
pub fn read_stdin() -> Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).map_err(|e| Error::failed(format!("cannot read the hook's input: {e}")))?;
    Ok(s)
}

fn cwd() -> Result<PathBuf> {
    crate::error::current_dir()
}

fn open_repo() -> Result<Repo> {
    Repo::discover(&cwd()?)?.ok_or_else(|| Error::failed("the okstra hook is not running inside a git repository"))
}

fn git_dir() -> Result<PathBuf> {
    match stamp::hook_git_dir() {
        Some(d) => Ok(d),
        None => Ok(open_repo()?.gix().git_dir().to_path_buf()),
    }
}

/// `pre-commit` and `pre-merge-commit`: in a task worktree, the task contract's commit
/// column ([`super::backstop`]); then leave the stamp `prepare-commit-msg` looks for.
pub fn pre_commit(source: &str) -> Result<i32> {
    let dir = git_dir()?;
    if let Some(v) = super::backstop::judge(&dir, &cwd()?) {
        let common = open_repo().map(|r| r.common_dir).unwrap_or_else(|_| dir.clone());
        if decide(source, &common, vec![v]) != 0 {
            return Ok(1);
        }
    }
    stamp::write(&dir, Kind::Commit, process::parent()).map_err(|e| {
        Error::failed(format!("cannot write the okstra commit stamp under {}: {e}", dir.display()))
            .hint("check that the repository's git folder is writable")
    })?;
    Ok(0)
}

/// `prepare-commit-msg`: refuse a `git commit`/`git merge` whose `pre-commit`/`pre-merge-commit`
/// was skipped (`--no-verify`, `-n`). The sequencer (rebase, cherry-pick, revert) commits
/// without `pre-commit` by design, in its own process or through a child `git commit -n`: both
/// are let through, recognised from the processes.
pub fn prepare_commit_msg() -> Result<i32> {
    let parent = process::parent();
    let dir = git_dir()?;
    let stamped = stamp::check(&dir, Kind::Commit, parent, true);
    stamp::sweep(&dir);
    if stamped {
        return Ok(0);
    }
    let command = process::argv(parent).and_then(|a| process::git_subcommand(&a));
    let skipped_hook = match command.as_deref() {
        Some("commit") => super::HookName::PreCommit,
        Some("merge") => super::HookName::PreMergeCommit,
        _ => return Ok(0),
    };
    if process::started_by_sequencer(parent) {
        return Ok(0);
    }
    let repo = open_repo()?;
    // Without okstra's stamping hook there is no stamp to expect: say so, never refuse.
    let hook_file = repo.hooks_dir().join(skipped_hook.name());
    if !is_active_shim(&hook_file) {
        output::warn(format!(
            "okstra cannot tell whether this commit skipped its checks: {} is not okstra's; run `git okstra hooks install`",
            hook_file.display()
        ));
        return Ok(0);
    }
    let cmd = command.unwrap_or_default();
    let v = Violation::new(
        Rule::NoVerify,
        format!("git {cmd}"),
        format!("this {cmd} skipped the {skipped_hook} checks (--no-verify or -n); nothing was committed"),
        format!("run `git {cmd}` again without --no-verify/-n and fix what the checks report"),
    );
    Ok(decide("prepare-commit-msg", &repo.common_dir, vec![v]))
}

/// Whether git will run okstra's shim at `path` (git skips a hook file that is not executable).
fn is_active_shim(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o111 != 0).unwrap_or(false);
    executable && std::fs::read(path).map(|c| super::shim::is_shim(&c)).unwrap_or(false)
}

fn malformed(source: &str, m: Malformed) -> Violation {
    Violation::new(
        Rule::Malformed,
        format!("{source} input line {}", m.line),
        format!("okstra cannot read git's {source} input {:?}, so it cannot check this push", m.text),
        "report this with your git version; nothing was pushed",
    )
}

/// The values of a multi-valued config key as the running git sees them. `git -c key=… push`
/// reaches the hook only through git's environment: then (rarely) git itself is asked;
/// otherwise the config already read in-process answers.
fn config_values(repo: &Repo, key: &str) -> Vec<String> {
    let from_env = ["GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT"].iter().any(|v| std::env::var_os(v).is_some());
    if !from_env {
        return repo.config_strings(key).unwrap_or_default();
    }
    let out = cwd().and_then(|dir| git::exec("git", &["config", "--get-all", key], &dir));
    out.map(|o| o.stdout.lines().map(str::to_string).collect()).unwrap_or_default()
}

/// Whether this push is a mirror push: `--mirror` (or an abbreviation) on the parent
/// `git push`, or a remote configured with `remote.<name>.mirror`. Returns how it was asked for.
fn mirror_push(repo: &Repo, remote: Option<&str>, args: Option<PushArgs>) -> Option<String> {
    if args.is_some_and(|a| a.mirror) {
        return Some("--mirror".into());
    }
    let remote = remote.filter(|r| !r.is_empty())?;
    let key = format!("remote.{remote}.mirror");
    let value = config_values(repo, &key).pop()?;
    let on = matches!(value.to_ascii_lowercase().as_str(), "" | "true" | "yes" | "on" | "1");
    on.then(|| format!("to remote '{remote}' ({key})"))
}

/// Whether the push provably forces nothing: its command line has no force in any spelling,
/// and no `remote.<name>.push` refspec of the remote starts with `+`. `false` when unsure.
fn provably_unforced(repo: &Repo, remote: Option<&str>, args: Option<PushArgs>) -> bool {
    if !args.is_some_and(|a| !a.force && !a.mirror) {
        return false;
    }
    let configured = remote.map(|r| config_values(repo, &format!("remote.{r}.push"))).unwrap_or_default();
    !configured.iter().any(|spec| spec.trim_start().starts_with('+'))
}

/// Ancestry of two commits as this repository knows it.
pub(super) fn ancestry(repo: &Repo, old: &str, new: &str) -> Ancestry {
    match repo.is_ancestor(old, new) {
        Some(true) => Ancestry::FastForward,
        Some(false) => Ancestry::NotAncestor,
        None => Ancestry::Unknown,
    }
}

/// `pre-push <remote> <url>`: judge every ref git is about to update on the remote, and record
/// what it lets through ([`super::pushes`] finds the pushes that skipped it by what is not
/// recorded).
pub fn pre_push(input: &str, remote: Option<&str>, url: Option<&str>) -> Result<i32> {
    // `push --mirror` does not list the remote branches it deletes on the hook's stdin (seen
    // with git 2.47): judged line by line it could delete every protected branch.
    // (An empty input otherwise means git already rejected the push itself: nothing to check.)
    let repo = open_repo()?;
    let args = push_args::read(&process::argv(process::parent()).unwrap_or_default());
    let mirror = mirror_push(&repo, remote, args);
    if input.is_empty() && mirror.is_none() {
        return Ok(0);
    }
    let lines = match protocol::parse_pre_push(input) {
        Ok(lines) => lines,
        Err(m) => return Ok(decide("pre-push", &repo.common_dir, vec![malformed("pre-push", m)])),
    };
    // git rejects an unforced update whose remote tip it does not have ("fetch first") after
    // this hook, on its own, with its own hint: such a line is left to git, so the other refs
    // of the push go through as they would without okstra. A forced one is judged.
    let unforced = std::cell::OnceCell::new();
    let left_to_git = |l: &PushLine| {
        !policy::is_zero_oid(&l.remote_oid)
            && !policy::is_zero_oid(&l.local_oid)
            && !repo.has_object(&l.remote_oid)
            && *unforced.get_or_init(|| provably_unforced(&repo, remote, args))
    };
    let judged: Vec<&PushLine> = lines.iter().filter(|l| !left_to_git(l)).collect();
    let protected = Protected::from_repo(&repo);
    let mut violations: Vec<Violation> = judged
        .iter()
        .filter_map(|l| {
            policy::judge_ref_update(&protected, &l.remote_ref, &l.remote_oid, &l.local_oid, || {
                ancestry(&repo, &l.remote_oid, &l.local_oid)
            })
        })
        .collect();
    // A mirror push force-updates and prunes what the hook cannot see: refused as a whole.
    if let (true, Some(how)) = (violations.is_empty(), mirror) {
        violations.push(Violation::new(
            Rule::NonFastForward,
            format!("push {how}"),
            "a mirror push force-updates and deletes remote branches, and git does not show the hook the deletions",
            "push the branches you mean by name (`git push origin <branch>`)",
        ));
    }
    let code = decide("pre-push", &repo.common_dir, violations);
    if code == 0 && !args.is_some_and(|a| a.dry_run) {
        record(&repo, remote, url, &judged);
    }
    Ok(code)
}

/// Record what the push lets through, so that [`super::pushes`] can tell it from a push that
/// skipped this hook. Deletes are left out (git deletes the tracking ref's reflog with it).
fn record(repo: &Repo, remote: Option<&str>, url: Option<&str>, lines: &[&PushLine]) {
    let allowed: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| !policy::is_zero_oid(&l.local_oid))
        .map(|l| (l.remote_ref.as_str(), l.local_oid.as_str()))
        .collect();
    let (remote, url) = (remote.unwrap_or_default(), url.unwrap_or_default());
    if let Err(e) = super::pushes::record(&repo.common_dir, remote, url, &allowed) {
        output::warn(format!("cannot record this push under {}: {e}", repo.common_dir.display()));
    }
}

/// `pre-receive` in the bare repository: the same policy, whatever the client skipped.
pub fn pre_receive(input: &str) -> Result<i32> {
    if input.is_empty() {
        return Ok(0);
    }
    let repo = open_repo()?;
    let updates = match protocol::parse_ref_updates(input) {
        Ok(u) => u,
        Err(m) => return Ok(decide("pre-receive", &repo.common_dir, vec![malformed("pre-receive", m)])),
    };
    let protected = Protected::from_repo(&repo);
    let here = cwd()?;
    let violations = updates
        .iter()
        .filter_map(|u| {
            // git updates (and deletes) the branch a symbolic ref points to: the push is judged
            // as one to every name on the way there (`trunk -> main` is a push to main).
            let names = std::iter::once(u.name.clone()).chain(repo.symref_chain(&u.name));
            names
                .map(|name| {
                    (
                        name.clone(),
                        policy::judge_ref_update(&protected, &name, &u.old, &u.new, || {
                            quarantine_ancestry(&here, &u.old, &u.new)
                        }),
                    )
                })
                .find_map(|(name, v)| {
                    v.map(|mut v| {
                        if name != u.name {
                            v.subject = format!("{} (a symbolic ref to {name})", u.name);
                        }
                        v
                    })
                })
        })
        .collect();
    Ok(decide("pre-receive", &repo.common_dir, violations))
}

/// Ancestry while receiving: the pushed objects sit in git's quarantine folder, which only a
/// git that keeps the hook's object-directory environment can see.
fn quarantine_ancestry(cwd: &Path, old: &str, new: &str) -> Ancestry {
    match git::exec_in_hook_env("git", &["merge-base", "--is-ancestor", old, new], cwd) {
        Ok(out) if out.code == 0 => Ancestry::FastForward,
        Ok(out) if out.code == 1 => Ancestry::NotAncestor,
        _ => Ancestry::Unknown,
    }
}

fn log(common_dir: &Path, record: &AuditRecord) {
    if let Err(e) = policy::audit(common_dir, record) {
        output::warn(format!("cannot write the okstra audit log under {}: {e}", common_dir.display()));
    }
}

/// Report each violation (refused, or let through by `OKSTRA_ALLOW=<rule>`), log it, and
/// return the exit code: 1 if anything stays refused.
fn decide(source: &str, common_dir: &Path, violations: Vec<Violation>) -> i32 {
    let mut code = 0;
    for v in &violations {
        if policy::override_allows(v.rule) {
            output::warn(format!("OKSTRA_ALLOW={} lets this through (logged): {}: {}", v.rule, v.subject, v.message));
            log(common_dir, &AuditRecord::new(source, Decision::AllowedByOverride, v));
        } else if v.phase.is_some() {
            // The task contract's refusals read as the guard's do (DESIGN §8).
            output::error(&Error::failed(v.sentence()));
            log(common_dir, &AuditRecord::new(source, Decision::Refused, v));
            code = 1;
        } else {
            output::error(
                &Error::failed(format!("[okstra:{}] {}: {}", v.rule, v.subject, v.message)).hint(v.fix.clone()),
            );
            log(common_dir, &AuditRecord::new(source, Decision::Refused, v));
            code = 1;
        }
    }
    code
}
