//! The release-handoff phase (DESIGN §6): an accepted task becomes a commit and, on
//! request, a pushed feature branch and a pull request.
//!
//! Owns the entry gate, the three choices (action, PR base, message), the drafts, the
//! execution and the `release-handoff.md` report. Every process goes through
//! [`runner::Runner`], which can push only the feature branch and never forces, skips
//! hooks, merges or publishes. Nothing runs before the gate passes.

mod draft;
mod prompt;
mod report;
pub mod runner;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config;
use crate::error::{Error, Result};
use crate::output;
use crate::phase::gates::{self, Verdict};
use crate::phase::lifecycle;
use crate::phase::runs;
use crate::phase::Phase;
use crate::task::names::TaskKey;
use crate::task::registry::{self, PrRecord, PrState, Registry, Row};
use crate::task::worktree::Context;
use runner::{Executed, Runner};

pub use prompt::is_terminal;

/// The report every handoff run leaves in its run folder.
pub const REPORT_FILE: &str = "release-handoff.md";
/// The PR body handed to `gh pr create --body-file`.
pub const PR_BODY_FILE: &str = "pr-body.md";
/// The base branches offered in the menu, in order.
pub const STANDARD_BASES: [&str; 5] = ["staging", "preprod", "prod", "main", "dev"];
/// Scratch file for `edit`, in the worktree's git dir (like git's own COMMIT_EDITMSG).
const EDIT_FILE: &str = "OKSTRA_HANDOFF_EDITMSG";
/// The largest `--message-file` read: far beyond any commit message, far below trouble.
pub const MAX_MESSAGE_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Commit,
    Pr,
    Skip,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Commit => "commit",
            Action::Pr => "pr",
            Action::Skip => "skip",
        }
    }
}

impl std::str::FromStr for Action {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "commit" => Ok(Action::Commit),
            "pr" => Ok(Action::Pr),
            "skip" => Ok(Action::Skip),
            _ => Err(Error::usage(format!("unknown action '{}'; actions: commit, pr, skip", s.escape_debug()))),
        }
    }
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The entry gate refused: nothing asked, nothing run, nothing written.
    Blocked,
    Done,
    Skipped,
    Cancelled,
    Failed,
    DryRun,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Blocked => "blocked",
            Status::Done => "done",
            Status::Skipped => "skipped",
            Status::Cancelled => "cancelled",
            Status::Failed => "failed",
            Status::DryRun => "dry-run",
        }
    }
}

/// What became of the pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrOutcome {
    /// `created`, `reused`, `skipped` or `not-requested`.
    pub outcome: &'static str,
    pub url: String,
    pub reason: String,
}

impl PrOutcome {
    fn not_requested(why: &str) -> Self {
        PrOutcome { outcome: "not-requested", url: String::new(), reason: why.into() }
    }
    fn skipped(why: String) -> Self {
        PrOutcome { outcome: "skipped", url: String::new(), reason: why }
    }
}

/// One answered question: the value and where it came from (`--flag`, `menu`, `typed in`).
#[derive(Debug, Clone, Serialize)]
pub struct Selection {
    pub question: &'static str,
    pub answer: String,
    pub source: String,
}

/// A commit on the branch ahead of the base.
#[derive(Debug, Clone, Serialize)]
pub struct Commit {
    pub sha: String,
    pub short: String,
    pub subject: String,
    pub files: Vec<String>,
    /// Made by this handoff run.
    pub new: bool,
}

/// What `git okstra handoff` was asked for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub task: Option<String>,
    pub base: Option<String>,
    pub action: Option<Action>,
    pub message_file: Option<PathBuf>,
    pub verification_report: Option<PathBuf>,
    pub yes: bool,
    pub dry_run: bool,
    /// Ship a branch whose last push skipped okstra's pre-push hook without asking.
    pub accept_bypassed_push: bool,
    /// Questions may be asked (a terminal is attached).
    pub interactive: bool,
}

/// Everything a run did, decided and found: the command prints it, the report renders it.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub status: Status,
    pub reason: String,
    pub key: String,
    pub task_id: String,
    pub branch: String,
    pub worktree: String,
    pub head_before: String,
    pub head_after: String,
    pub pending: Vec<String>,
    pub base: String,
    pub base_rev: String,
    pub verification_report: String,
    pub verdict: String,
    pub verdict_line: String,
    pub selections: Vec<Selection>,
    pub commit_message: String,
    pub pr_body: String,
    pub commands: Vec<Executed>,
    pub planned: Vec<String>,
    pub commits: Vec<Commit>,
    pub commit_note: String,
    pub pr: PrOutcome,
    pub routing: String,
    pub reentry: String,
    pub report: String,
}

impl Outcome {
    fn new(key: &TaskKey, row: &Row) -> Outcome {
        Outcome {
            status: Status::Done,
            reason: String::new(),
            key: key.to_string(),
            task_id: row.task_id_raw.clone(),
            branch: row.branch.clone(),
            worktree: row.worktree_path.clone(),
            head_before: String::new(),
            head_after: String::new(),
            pending: Vec::new(),
            base: String::new(),
            base_rev: String::new(),
            verification_report: String::new(),
            verdict: String::new(),
            verdict_line: String::new(),
            selections: Vec::new(),
            commit_message: String::new(),
            pr_body: String::new(),
            commands: Vec::new(),
            planned: Vec::new(),
            commits: Vec::new(),
            commit_note: String::new(),
            pr: PrOutcome::not_requested("the action was not `pr`"),
            routing: String::new(),
            reentry: String::new(),
            report: String::new(),
        }
    }

    fn select(&mut self, question: &'static str, answer: &str, source: impl Into<String>) {
        self.selections.push(Selection { question, answer: answer.to_string(), source: source.into() });
    }
}

/// The task the handoff is for: `--task`, else the task whose worktree the caller stands in.
fn find_task(ctx: &Context, reg: &Registry, spec: Option<&str>) -> Result<(TaskKey, Row)> {
    if let Some(spec) = spec {
        return ctx.resolve_task(reg, spec);
    }
    let hint = "run it inside the task's worktree, or name the task: `git okstra handoff --task <KEY|ID>`";
    let here = ctx.repo.current_worktree.clone().ok_or_else(|| Error::failed("not inside a worktree").hint(hint))?;
    ctx.task_here(reg)
        .ok_or_else(|| Error::failed(format!("{} is not a registered task worktree", here.display())).hint(hint))
}

/// The entry gate ([`lifecycle::check_verification`], shared with `task phase`): the
/// report's verdict must be `accepted`. Returns the report's text; `Err(reason)` means blocked.
fn gate(
    main: &Path,
    cwd: &Path,
    key: &TaskKey,
    req: &Request,
    out: &mut Outcome,
) -> std::result::Result<String, String> {
    let given = req.verification_report.as_ref().map(|p| cwd.join(p));
    if let Some(p) = &given {
        out.verification_report = p.to_string_lossy().into_owned();
    }
    let path = match lifecycle::check_verification(main, &key.task, given.as_deref()) {
        Ok(path) => path,
        Err(e) => {
            // Blocked: still say which report was read and what its verdict is.
            let seen = given.clone().or_else(|| {
                runs::newest_with(main, &key.task, Phase::FinalVerification, runs::FINAL_VERIFICATION_REPORT)
            });
            if let Some(p) = seen {
                out.verification_report = p.to_string_lossy().into_owned();
                if let Ok(text) = std::fs::read_to_string(&p) {
                    out.verdict_line = gates::verdict_line(&text).unwrap_or("").to_string();
                    out.verdict = gates::final_verdict(&text).map(|v| v.name().to_string()).unwrap_or_default();
                }
            }
            return Err(e.message);
        }
    };
    out.verification_report = path.to_string_lossy().into_owned();
    let text = gates::read_doc(&path, "verification report").map_err(|e| e.message)?;
    out.verdict_line = gates::verdict_line(&text).unwrap_or("").to_string();
    out.verdict = Verdict::Accepted.name().into();
    Ok(text)
}

fn no_terminal(flag: &str) -> Error {
    Error::usage(format!("no terminal to ask on, and {flag} was not given")).hint(
        "give every choice as a flag: --action commit|pr|skip, --base <branch> (for pr), --yes or --message-file F",
    )
}

/// Paths with changes or untracked files, from `git status --porcelain -z` (rename sources
/// are skipped: the rename is already staged).
fn pending_paths(runner: &mut Runner) -> Result<Vec<String>> {
    let out = runner.read(&["status", "--porcelain=v1", "-z", "--untracked-files=all"])?;
    let mut paths = Vec::new();
    let mut entries = out.stdout.split('\0').filter(|e| !e.is_empty());
    while let Some(e) = entries.next() {
        if e.len() < 4 {
            continue;
        }
        let (xy, path) = (&e[..2], &e[3..]);
        paths.push(path.to_string());
        if xy.starts_with('R') || xy.starts_with('C') {
            entries.next();
        }
    }
    Ok(paths)
}

/// Check a PR base: a valid branch name, not the feature branch, present on origin.
/// Returns the SHA origin has for it.
fn check_base(runner: &mut Runner, base: &str, feature: &str) -> Result<String> {
    if base == feature {
        return Err(Error::usage(format!("the PR base '{base}' is the feature branch itself"))
            .hint("choose the branch the PR merges into, e.g. --base staging"));
    }
    let valid = !base.starts_with('-') && runner.read(&["check-ref-format", "--branch", base]).is_ok();
    if !valid {
        return Err(Error::usage(format!("'{base}' is not a valid branch name")));
    }
    let wanted = format!("refs/heads/{base}");
    let out = runner.read(&["ls-remote", "--heads", "origin", &wanted]).map_err(|e| {
        Error::failed(format!("cannot list the branches of origin: {}", e.message))
            .hint("a pull request needs a remote named origin that this clone can reach")
    })?;
    out.stdout
        .lines()
        .find_map(|l| l.split_once('\t').filter(|(_, r)| *r == wanted).map(|(sha, _)| sha.to_string()))
        .ok_or_else(|| {
            Error::failed(format!("branch '{base}' does not exist on origin"))
                .hint("choose a base that exists there (`git ls-remote --heads origin` lists them)")
        })
}

fn choose_action(req: &Request, out: &mut Outcome) -> Result<Option<Action>> {
    if let Some(a) = req.action {
        out.select("action", a.name(), "--action");
        return Ok(Some(a));
    }
    if !req.interactive {
        return Err(no_terminal("--action"));
    }
    let items = [
        "commit  — commit the changes on the feature branch only".to_string(),
        "pr      — commit, push the feature branch and open a pull request".to_string(),
        "skip    — do nothing now".to_string(),
    ];
    let Some(i) = prompt::select("Release handoff: what should happen?", &items, 1)? else { return Ok(None) };
    let a = [Action::Commit, Action::Pr, Action::Skip][i];
    out.select("action", a.name(), "menu");
    Ok(Some(a))
}

/// The PR base and the SHA origin has for it; `None` when the user left the menu.
fn choose_base(runner: &mut Runner, req: &Request, out: &mut Outcome) -> Result<Option<(String, String)>> {
    let feature = out.branch.clone();
    if let Some(b) = &req.base {
        let sha = check_base(runner, b, &feature)?;
        out.select("PR base", b, "--base");
        return Ok(Some((b.clone(), sha)));
    }
    if !req.interactive {
        return Err(no_terminal("--base"));
    }
    let mut items: Vec<String> = STANDARD_BASES.iter().map(|b| b.to_string()).collect();
    items.push("other (type a branch name)".into());
    loop {
        let Some(i) = prompt::select("Pull request base", &items, 0)? else { return Ok(None) };
        if i < STANDARD_BASES.len() {
            match check_base(runner, STANDARD_BASES[i], &feature) {
                Ok(sha) => {
                    out.select("PR base", STANDARD_BASES[i], "menu");
                    return Ok(Some((STANDARD_BASES[i].to_string(), sha)));
                }
                Err(e) => {
                    output::warn(format!("{}; choose another", e.message));
                    continue;
                }
            }
        }
        let mut sha = String::new();
        let name = prompt::input("Base branch on origin", |s| match check_base(runner, s, &feature) {
            Ok(found) => {
                sha = found;
                Ok(())
            }
            Err(e) => Err(e.message),
        })?;
        out.select("PR base", &name, "typed in");
        return Ok(Some((name, sha)));
    }
}

/// Open the draft in the user's git editor; `None` when the result is empty (cancel).
fn edit_message(runner: &mut Runner, wt: &Path, draft: &str) -> Result<Option<String>> {
    let editor = runner.read(&["var", "GIT_EDITOR"])?.stdout.trim().to_string();
    let path = wt.join(runner.read(&["rev-parse", "--git-path", EDIT_FILE])?.stdout.trim());
    let text = format!(
        "{draft}\n# Edit the commit message of the release handoff. Lines starting with '#' are\n# dropped; an empty message cancels the handoff.\n"
    );
    std::fs::write(&path, text).map_err(|e| crate::error::io_at("cannot write", &path, e))?;
    let path_s = path.to_string_lossy().into_owned();
    // exec_attached takes a program path; a bare relative name would be taken against `wt`.
    let sh = which::which("sh").map_err(|_| Error::failed("cannot find sh on PATH to start the editor"))?;
    let code = crate::git::exec_attached(&sh, &["-c", &format!("{editor} \"$@\""), &editor, &path_s], wt, &[], &[])?;
    if code != 0 {
        return Err(Error::failed(format!("the editor ({editor}) exited with {code}; nothing was committed")));
    }
    let edited = std::fs::read_to_string(&path).map_err(|e| crate::error::io_at("cannot read", &path, e))?;
    let _ = std::fs::remove_file(&path);
    let kept: Vec<&str> = edited.lines().filter(|l| !l.starts_with('#')).collect();
    let msg = kept.join("\n").trim().to_string();
    Ok((!msg.is_empty()).then(|| format!("{msg}\n")))
}

/// `O_NONBLOCK`: opening a FIFO swapped in after the check must not wait for a writer.
#[cfg(target_os = "linux")]
const O_NONBLOCK: i32 = 0o4000;
#[cfg(not(target_os = "linux"))]
const O_NONBLOCK: i32 = 0x0004;

/// Read `--message-file`: a regular file (a symlink to one is fine) of at most
/// [`MAX_MESSAGE_BYTES`], UTF-8 without NUL, not blank. Checked before any git command, so a
/// bad file stops the handoff before anything is staged.
pub fn read_message_file(f: &Path) -> Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let bad = |why: &str| {
        Error::usage(format!("message file {} {why}", f.display()))
            .hint("pass a regular text file with the commit message, or use --yes for the drafted one")
    };
    let meta = std::fs::metadata(f).map_err(|e| bad(&format!("cannot be read: {e}")))?;
    if !meta.is_file() {
        return Err(bad("is not a regular file"));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(f)
        .map_err(|e| bad(&format!("cannot be read: {e}")))?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(bad("is not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_MESSAGE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| bad(&format!("cannot be read: {e}")))?;
    if bytes.len() as u64 > MAX_MESSAGE_BYTES {
        return Err(bad(&format!("is larger than {} KiB", MAX_MESSAGE_BYTES / 1024)));
    }
    if bytes.contains(&0) {
        return Err(bad("contains a NUL byte"));
    }
    let text = String::from_utf8(bytes).map_err(|_| bad("is not UTF-8 text"))?;
    if text.trim().is_empty() {
        return Err(bad("is empty"));
    }
    Ok(text)
}

/// The commit message to use; `None` means cancel. `given` is `--message-file`'s text.
fn choose_message(
    runner: &mut Runner,
    req: &Request,
    given: Option<&str>,
    wt: &Path,
    out: &mut Outcome,
) -> Result<Option<String>> {
    if let (Some(f), Some(text)) = (&req.message_file, given) {
        out.select("message", "use", format!("--message-file {}", f.display()));
        return Ok(Some(text.to_string()));
    }
    if req.yes {
        out.select("message", "use", "--yes");
        return Ok(Some(out.commit_message.clone()));
    }
    if !req.interactive {
        return Err(no_terminal("--yes or --message-file"));
    }
    output::info(format!("\nDrafted commit message:\n\n{}", indent(&out.commit_message)));
    let items = vec![
        "use    — commit with this message".to_string(),
        "edit   — open it in your git editor first".to_string(),
        "cancel — stop here; nothing is committed or pushed".to_string(),
    ];
    let Some(i) = prompt::select("Commit message", &items, 0)? else {
        out.select("message", "cancel", "menu (Esc)");
        return Ok(None);
    };
    match i {
        0 => {
            out.select("message", "use", "menu");
            Ok(Some(out.commit_message.clone()))
        }
        1 => {
            let draft = out.commit_message.clone();
            let edited = edit_message(runner, wt, &draft)?;
            out.select("message", if edited.is_some() { "edit" } else { "edit (emptied: cancel)" }, "menu");
            Ok(edited)
        }
        _ => {
            out.select("message", "cancel", "menu");
            Ok(None)
        }
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

/// `<base>...HEAD` (changes since the merge base, as a PR shows them), else `<base>..HEAD`.
fn diff_against(runner: &mut Runner, base_rev: &str) -> Result<(String, Vec<String>)> {
    for range in [format!("{base_rev}...HEAD"), format!("{base_rev}..HEAD")] {
        let Ok(stat) = runner.read(&["diff", "--stat", &range]) else { continue };
        let names = runner.read(&["diff", "--name-only", "-z", &range])?;
        let files = names.stdout.split('\0').filter(|s| !s.is_empty()).map(str::to_string).collect();
        return Ok((stat.stdout, files));
    }
    Ok((String::new(), Vec::new()))
}

/// A base as a local revision: origin's SHA if we have that commit, else `origin/<base>`,
/// else the task's recorded base.
fn base_revision(runner: &mut Runner, base: &str, origin_sha: &str, recorded: &str) -> String {
    let candidates = [origin_sha.to_string(), format!("refs/remotes/origin/{base}"), format!("refs/heads/{base}")];
    for c in candidates.iter().filter(|c| !c.is_empty()) {
        if let Ok(o) = runner.read(&["rev-parse", "--verify", "--quiet", &format!("{c}^{{commit}}")]) {
            return o.stdout.trim().to_string();
        }
    }
    recorded.to_string()
}

fn commits_since(runner: &mut Runner, base_rev: &str, head_before: &str) -> Vec<Commit> {
    let range = format!("{base_rev}..HEAD");
    let Ok(out) = runner.read(&["log", "--format=%x1e%H%x1f%h%x1f%s", "--name-only", "--max-count=200", &range, "--"])
    else {
        return Vec::new();
    };
    let mut commits: Vec<Commit> = out
        .stdout
        .split('\x1e')
        .filter_map(|chunk| {
            let mut lines = chunk.lines();
            let mut head = lines.next()?.split('\x1f');
            let (sha, short, subject) = (head.next()?, head.next()?, head.next().unwrap_or(""));
            let files = lines.map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
            Some(Commit { sha: sha.into(), short: short.into(), subject: subject.into(), files, new: false })
        })
        .collect();
    // Commits made by this run are the ones above the HEAD we started from.
    if let Some(pos) = commits.iter().position(|c| c.sha == head_before) {
        for c in &mut commits[..pos] {
            c.new = true;
        }
    } else if head_before.is_empty() {
    } else {
        for c in &mut commits {
            c.new = true;
        }
        if let Ok(o) = runner.read(&["rev-list", &format!("{base_rev}..{head_before}")]) {
            let old: Vec<&str> = o.stdout.lines().collect();
            for c in &mut commits {
                c.new = !old.contains(&c.sha.as_str());
            }
        }
    }
    commits
}

/// A pull request needs commits: with nothing to commit and nothing on the branch beyond the
/// base, stop before the push (gh would refuse the PR after the branch was pushed).
fn refuse_empty_pr(runner: &mut Runner, out: &Outcome) -> Result<()> {
    if !out.pending.is_empty() {
        return Ok(());
    }
    let range = format!("{}..HEAD", out.base_rev);
    let ahead = runner.read(&["rev-list", "--count", &range, "--"])?;
    if ahead.stdout.trim() != "0" {
        return Ok(());
    }
    Err(Error::failed(format!(
        "branch '{}' has no commits beyond '{}' and nothing to commit: there is nothing to open a pull request for",
        out.branch, out.base
    ))
    .hint("commit the task's work on its branch first, or hand off with --action commit or --action skip"))
}

fn protected_branches(ctx: &Context) -> Vec<String> {
    match ctx.repo.config_strings(config::KEY_PROTECTED_BRANCH) {
        Some(v) if !v.is_empty() => v,
        _ => config::DEFAULT_PROTECTED_BRANCHES.iter().map(|s| s.to_string()).collect(),
    }
}

fn by_hand(base: &str, branch: &str, title: &str, body: &str) -> String {
    let title = title.replace('\'', r"'\''");
    format!("finish by hand: `gh pr create --base {base} --head {branch} --title '{title}' --body-file {body}`, or open a pull request from `{branch}` into `{base}` on the forge's website")
}

/// Run the release handoff for the task around `cwd` (or `req.task`).
pub fn run(cwd: &Path, req: &Request) -> Result<Outcome> {
    let message_file = req.message_file.as_deref().map(read_message_file).transpose()?;
    let ctx = Context::require(cwd)?;
    let reg = ctx.store.load_to_write()?;
    let (key, row) = find_task(&ctx, &reg, req.task.as_deref())?;
    let main = ctx.repo.main_worktree().to_path_buf();
    let mut out = Outcome::new(&key, &row);

    // 1. The gate. Nothing is asked, run or written before it passes.
    let report_text = match gate(&main, cwd, &key, req, &mut out) {
        Ok(text) => text,
        Err(reason) => {
            out.status = Status::Blocked;
            out.reason = reason;
            out.routing = "final-verification".into();
            out.reentry =
                "run the final-verification phase until its verdict is `accepted`, then hand off again".into();
            return Ok(out);
        }
    };

    let wt = PathBuf::from(&row.worktree_path);
    if !wt.is_dir() {
        return Err(Error::failed(format!("the worktree of task {key} is missing: {}", wt.display()))
            .hint(format!("`git okstra task start {}` recreates it on the same branch", row.task_id_raw)));
    }
    let mut runner = Runner::new(&wt, &row.branch, protected_branches(&ctx));

    // 2. Branch and working-tree state (read-only git).
    let head = runner.run("git", &["symbolic-ref".into(), "--quiet".into(), "--short".into(), "HEAD".into()])?;
    let on = head.stdout.trim();
    if !head.ok() || on != row.branch {
        let what = if head.ok() { format!("on branch '{on}'") } else { "on a detached HEAD".into() };
        return Err(Error::failed(format!(
            "the worktree {} is {what}, not on the task branch '{}'",
            wt.display(),
            row.branch
        ))
        .hint(format!("`git -C {} switch {}`, then hand off again", wt.display(), row.branch)));
    }
    out.head_before =
        runner.read(&["rev-parse", "--verify", "HEAD"]).map(|o| o.stdout.trim().to_string()).unwrap_or_default();
    out.pending = pending_paths(&mut runner)?;

    // 3. The choices.
    let finish_early = |mut out: Outcome, runner: Runner, status: Status| -> Result<Outcome> {
        out.status = status;
        out.commands = runner.log;
        out.pr = PrOutcome::not_requested(if status == Status::Skipped { "action `skip`" } else { "cancelled" });
        out.commit_note = "nothing committed".into();
        out.routing = "done".into();
        out.reentry = "re-entry makes sense: nothing was committed or pushed; run `git okstra handoff` again when ready (re-run final verification first if the branch changes)".into();
        Ok(out)
    };
    let Some(action) = choose_action(req, &mut out)? else {
        out.select("action", "cancel", "menu (Esc)");
        return finish(&ctx, &key, req, finish_early(out, runner, Status::Cancelled)?);
    };
    if action == Action::Skip {
        return finish(&ctx, &key, req, finish_early(out, runner, Status::Skipped)?);
    }
    if action == Action::Pr {
        check_push_refmap(&ctx.repo, &row.branch)?;
        if !confirm_bypassed_push(&ctx, &row.branch, req, &mut out)? {
            return finish(&ctx, &key, req, finish_early(out, runner, Status::Cancelled)?);
        }
    }
    let (base, origin_sha) = if action == Action::Pr {
        match choose_base(&mut runner, req, &mut out)? {
            Some(b) => b,
            None => {
                out.select("PR base", "cancel", "menu (Esc)");
                return finish(&ctx, &key, req, finish_early(out, runner, Status::Cancelled)?);
            }
        }
    } else {
        match &req.base {
            Some(b) if *b == row.branch => {
                return Err(Error::usage(format!("the base '{b}' is the feature branch itself"))
                    .hint("choose the branch the work is compared with, e.g. --base staging"))
            }
            Some(b) => {
                out.select("PR base", b, "--base (diff only: no PR for `commit`)");
                (b.clone(), String::new())
            }
            None => (String::new(), String::new()),
        }
    };
    if !base.is_empty() {
        runner.protect(&base);
    }
    out.base = if base.is_empty() { row.base_ref.clone() } else { base.clone() };
    out.base_rev = if base.is_empty() {
        row.base_ref.clone()
    } else {
        base_revision(&mut runner, &base, &origin_sha, &row.base_ref)
    };
    let (stat, committed) = diff_against(&mut runner, &out.base_rev)?;
    if action == Action::Pr {
        refuse_empty_pr(&mut runner, &out)?;
    }
    // Drafts name the report relative to the main worktree: no machine paths in commits.
    let report_rel = Path::new(&out.verification_report)
        .strip_prefix(&main)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| out.verification_report.clone());
    // a title from a hand-edited registry never puts a control character in a commit
    let title = crate::task::names::printable(&row.title);
    let facts = draft::Facts {
        branch: &row.branch,
        title: &title,
        task_raw: &row.task_id_raw,
        key: &out.key,
        pending: &out.pending,
        committed: &committed,
        stat: &stat,
        base: &out.base,
        report_path: &report_rel,
        report: &report_text,
    };
    out.commit_message = draft::commit_message(&facts);
    out.pr_body = draft::pr_body(&facts);

    let needs_message = !out.pending.is_empty() || action == Action::Pr;
    let message = if needs_message {
        match choose_message(&mut runner, req, message_file.as_deref(), &wt, &mut out)? {
            Some(m) => m,
            None => return finish(&ctx, &key, req, finish_early(out, runner, Status::Cancelled)?),
        }
    } else {
        out.commit_message.clone()
    };
    out.commit_message = message.clone();
    let title = message.lines().next().unwrap_or("").trim().to_string();
    let gh = which::which("gh").ok();

    // 4. Dry run: show the drafts and the commands, run nothing that changes anything.
    if req.dry_run {
        let add = add_args(&out.pending);
        if out.pending.is_empty() {
            out.commit_note = "no changes; commit skipped".into();
        } else {
            out.planned.push(runner.plan("git", &add)?);
            out.planned.push(runner.plan("git", &["commit".into(), "-m".into(), message.clone()])?);
        }
        if action == Action::Pr {
            out.planned.push(runner.plan("git", &push_args(&row.branch))?);
            if gh.is_some() {
                out.planned.push(runner.plan("gh", &list_args(&row.branch))?);
                let body = runs::runs_dir(&main, &key.task).join("<NNN>-release-handoff").join(PR_BODY_FILE);
                out.planned.push(runner.plan("gh", &create_args(&base, &row.branch, &title, &body))?);
            } else {
                out.pr = PrOutcome::skipped("gh is not on PATH".into());
            }
        }
        out.status = Status::DryRun;
        out.commands = runner.log;
        out.routing = "done".into();
        return Ok(out);
    }

    // 5. Execute.
    let run_dir = runs::create(&main, &key.task, Phase::ReleaseHandoff)?;
    out.report = run_dir.join(REPORT_FILE).to_string_lossy().into_owned();
    execute(&mut runner, &mut out, action, &base, &title, &message, &run_dir, gh.is_some())?;
    out.head_after =
        runner.read(&["rev-parse", "--verify", "HEAD"]).map(|o| o.stdout.trim().to_string()).unwrap_or_default();
    let base_rev = out.base_rev.clone();
    let head_before = out.head_before.clone();
    out.commits = commits_since(&mut runner, &base_rev, &head_before);
    out.commands = runner.log;
    if out.status == Status::Failed {
        out.routing = "release-handoff".into();
        out.reentry = "fix the cause above, then run `git okstra handoff` again; what already happened (commit, push) is kept and is not redone".into();
    } else {
        out.routing = "done".into();
        out.reentry = match out.pr.outcome {
            "skipped" => "re-entry makes sense only to open the pull request: see the outcome above".into(),
            _ => "no re-entry needed; if review asks for changes, run final verification again before the next handoff"
                .into(),
        };
    }
    finish(&ctx, &key, req, out)
}

/// A branch whose last push skipped okstra's pre-push hook (`push --no-verify`, hooks switched
/// off) is not shipped until the user confirms: `--accept-bypassed-push`, or yes in a menu. The
/// confirmation is logged and ends the notice. `false`: the user declined.
fn confirm_bypassed_push(ctx: &Context, branch: &str, req: &Request, out: &mut Outcome) -> Result<bool> {
    let notices = crate::hooks::pushes::check(&ctx.repo)?;
    let Some(b) = notices.for_branch(&ctx.repo, branch) else { return Ok(true) };
    let what = format!("the last push of {branch} ({} at {}) skipped okstra's pre-push hook", b.short_ref(), b.at);
    if req.accept_bypassed_push {
        out.select("bypassed push", "accept", "--accept-bypassed-push");
    } else if req.interactive {
        let items = [
            "no  — stop here; nothing is committed or pushed".to_string(),
            "yes — I checked what that push sent: ship the branch".to_string(),
        ];
        if prompt::select(&format!("{what}. Ship it anyway?"), &items, 0)? != Some(1) {
            out.select("bypassed push", "decline", "menu");
            return Ok(false);
        }
        out.select("bypassed push", "accept", "menu");
    } else {
        return Err(Error::failed(what).hint(format!(
            "check what that push sent (`git log {}`), then hand off again with --accept-bypassed-push",
            b.short_ref()
        )));
    }
    if !req.dry_run {
        crate::hooks::pushes::acknowledge(&ctx.repo, branch, "handoff")?;
    }
    Ok(true)
}

fn add_args(paths: &[String]) -> Vec<String> {
    let mut a: Vec<String> = vec!["--literal-pathspecs".into(), "add".into(), "--".into()];
    a.extend(paths.iter().cloned());
    a
}

/// git applies `remote.origin.push` to `git push origin <branch>` as well: a `+` there forces
/// the push, another destination sends the branch elsewhere (even onto a base branch), behind
/// the runner's back. Refused before anything runs; an identity mapping is harmless.
fn check_push_refmap(repo: &crate::git::Repo, branch: &str) -> Result<()> {
    for spec in repo.config_strings("remote.origin.push").unwrap_or_default() {
        let (force, rest) = match spec.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, spec.as_str()),
        };
        let (src, dst) = rest.split_once(':').unwrap_or((rest, rest));
        if !refmap_matches(src, branch) || (!force && src == dst) {
            continue;
        }
        let effect = if force { "a forced push" } else { "an update of another ref" };
        return Err(Error::failed(format!(
            "remote.origin.push = {spec} would turn `git push -u origin {branch}` into {effect}"
        ))
        .hint("the handoff pushes only the feature branch to itself, never forced: remove that setting from this repository (`git config --unset-all remote.origin.push`) or push by hand"));
    }
    Ok(())
}

/// Whether a push refspec's source side could stand for `refs/heads/<branch>` (conservatively:
/// `HEAD`, `@` and the empty "matching" source count).
fn refmap_matches(src: &str, branch: &str) -> bool {
    let full = format!("refs/heads/{branch}");
    match src.split_once('*') {
        Some((pre, post)) => full.len() >= pre.len() + post.len() && full.starts_with(pre) && full.ends_with(post),
        None => matches!(src, "" | "HEAD" | "@") || src == full || src == branch || src == format!("heads/{branch}"),
    }
}

fn push_args(branch: &str) -> Vec<String> {
    vec!["push".into(), "-u".into(), "origin".into(), branch.into()]
}

fn list_args(branch: &str) -> Vec<String> {
    ["pr", "list", "--head", branch, "--state", "open", "--json", "url", "--jq", ".[].url"].map(String::from).to_vec()
}

fn create_args(base: &str, branch: &str, title: &str, body: &Path) -> Vec<String> {
    let body = body.to_string_lossy().into_owned();
    ["pr", "create", "--base", base, "--head", branch, "--title", title, "--body-file", &body]
        .map(String::from)
        .to_vec()
}

/// The commit, push and PR steps. A failed step sets `Failed` and stops; nothing is retried.
#[allow(clippy::too_many_arguments)]
fn execute(
    runner: &mut Runner,
    out: &mut Outcome,
    action: Action,
    base: &str,
    title: &str,
    message: &str,
    run_dir: &Path,
    have_gh: bool,
) -> Result<()> {
    let fail = |out: &mut Outcome, what: String, detail: &str| {
        out.status = Status::Failed;
        if !detail.trim().is_empty() {
            output::info(detail.trim_end());
        }
        out.reason = what;
    };
    if out.pending.is_empty() {
        out.commit_note = "no changes; commit skipped".into();
        output::info("no changes; commit skipped");
    } else {
        let add = runner.run("git", &add_args(&out.pending))?;
        if !add.ok() {
            fail(out, format!("git add failed: {}", add.summary()), &add.stderr);
            return Ok(());
        }
        let commit = runner.run("git", &["commit".into(), "-m".into(), message.to_string()])?;
        if !commit.ok() {
            fail(out, format!("git commit failed: {}", commit.summary()), &commit.stderr);
            out.commit_note = "the commit failed; the paths stay staged".into();
            return Ok(());
        }
        out.commit_note = format!("committed {} path(s)", out.pending.len());
        output::info(out.commit_note.clone());
    }
    if action != Action::Pr {
        return Ok(());
    }
    let push = runner.run("git", &push_args(&out.branch))?;
    if !push.ok() {
        out.pr = PrOutcome::skipped("the push failed".into());
        fail(out, format!("git push -u origin {} failed; nothing was retried or forced", out.branch), &push.stderr);
        return Ok(());
    }
    output::info(format!("pushed {} to origin", out.branch));
    let body_path = run_dir.join(PR_BODY_FILE);
    let body_s = body_path.to_string_lossy().into_owned();
    if !have_gh {
        out.pr = PrOutcome::skipped(format!("gh is not on PATH; {}", by_hand(base, &out.branch, title, &body_s)));
        std::fs::write(&body_path, &out.pr_body).map_err(|e| crate::error::io_at("cannot write", &body_path, e))?;
        output::warn(format!("pull request skipped: {}", out.pr.reason));
        return Ok(());
    }
    let list = runner.run("gh", &list_args(&out.branch))?;
    if !list.ok() {
        out.pr = PrOutcome::skipped(format!(
            "gh pr list failed: {}; {}",
            list.summary(),
            by_hand(base, &out.branch, title, &body_s)
        ));
        std::fs::write(&body_path, &out.pr_body).map_err(|e| crate::error::io_at("cannot write", &body_path, e))?;
        fail(out, format!("gh pr list --head {} failed: {}", out.branch, list.summary()), &list.stderr);
        return Ok(());
    }
    if let Some(url) = list.stdout.lines().map(str::trim).find(|l| !l.is_empty()) {
        out.pr =
            PrOutcome { outcome: "reused", url: url.to_string(), reason: "an open PR for this branch exists".into() };
        output::info(format!("reused the open pull request {url}"));
        return Ok(());
    }
    // The body drafted before anything ran, as the dry run shows it: `## Changes` holds the
    // branch's diff against the base and the paths this handoff committed.
    std::fs::write(&body_path, &out.pr_body).map_err(|e| crate::error::io_at("cannot write", &body_path, e))?;
    let create = runner.run("gh", &create_args(base, &out.branch, title, &body_path))?;
    if !create.ok() {
        out.pr = PrOutcome::skipped(format!(
            "gh pr create failed: {}; {}",
            create.summary(),
            by_hand(base, &out.branch, title, &body_s)
        ));
        fail(out, format!("gh pr create failed: {}", create.summary()), &create.stderr);
        return Ok(());
    }
    let url = create.stdout.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("").to_string();
    output::info(format!("created the pull request {url}"));
    out.pr = PrOutcome { outcome: "created", url, reason: String::new() };
    Ok(())
}

/// Write the report and record the phase (every run that got past the gate, except dry runs).
fn finish(ctx: &Context, key: &TaskKey, req: &Request, mut out: Outcome) -> Result<Outcome> {
    if req.dry_run {
        return Ok(out);
    }
    if out.report.is_empty() {
        let dir = runs::create(ctx.repo.main_worktree(), &key.task, Phase::ReleaseHandoff)?;
        out.report = dir.join(REPORT_FILE).to_string_lossy().into_owned();
    }
    let path = PathBuf::from(&out.report);
    std::fs::write(&path, report::render(&out)).map_err(|e| crate::error::io_at("cannot write", &path, e))?;
    // The board reads the run's outcome from here (its status, the pull request).
    let record = path.with_file_name(runs::HANDOFF_RECORD);
    let mut json = serde_json::to_value(&out).map_err(|e| Error::failed(e.to_string()))?;
    json["schema"] = serde_json::json!(lifecycle::SCHEMA);
    let text = serde_json::to_string_pretty(&json).map_err(|e| Error::failed(e.to_string()))? + "\n";
    std::fs::write(&record, text).map_err(|e| crate::error::io_at("cannot write", &record, e))?;
    let run = path.parent().and_then(runs::number).unwrap_or(0);
    lifecycle::record(ctx, key, Phase::ReleaseHandoff, run)?;
    if matches!(out.pr.outcome, "created" | "reused") && !out.pr.url.is_empty() {
        let pr = PrRecord {
            url: out.pr.url.clone(),
            state: PrState::Open,
            review: String::new(),
            checked_at: registry::now(),
        };
        ctx.store.transaction(|reg| {
            reg.set_pr(&key.to_string(), pr);
            Ok(())
        })?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_refmaps_that_could_apply_to_the_branch() {
        for src in ["refs/heads/*", "refs/heads/feat-*", "*", "refs/heads/feat-dev-1", "feat-dev-1", "HEAD", ""] {
            assert!(refmap_matches(src, "feat-dev-1"), "{src}");
        }
        for src in ["refs/tags/*", "refs/heads/fix-*", "main", "refs/heads/feat-dev-10", "refs/remotes/*"] {
            assert!(!refmap_matches(src, "feat-dev-1"), "{src}");
        }
    }
}
