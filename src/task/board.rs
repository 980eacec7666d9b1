//! The status board behind `task list` and `task show`: one [`Entry`] per task with what a
//! person running several agents asks first — the latest phase run and its state, the agent,
//! commits ahead of and behind the base, changed files, the pull request, how long since
//! anything happened, whether the task waits for them — and the [`Notice`]s beside it.
//!
//! Facts come from the registry row, gix (branches, ahead/behind, in-process), the run
//! folders and one tmux query ([`crate::phase::status`]); on request the changed files of
//! every worktree ([`git::change_counts`]) and `gh pr view` per pull request, all at once
//! ([`git::exec_parallel`]). Rendering is [`render`]'s. The registry is written only to keep a
//! refreshed pull-request state.

pub mod render;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use crate::error::{Error, Result};
use crate::git::{self, Repo};
use crate::phase::session;
use crate::phase::status::{self, Agent, RunStatus, Waiting};
use crate::task::names::Segment;
use crate::task::registry::{self, PrRecord, PrState, Row, Status, Store};
use crate::task::worktree::{self, Health};

/// What to look up beyond the cheap facts (the pull requests' states are asked for
/// separately, by [`refresh_prs`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Count each worktree's changed files (`git status`, all worktrees at once).
    pub dirty: bool,
}

/// Something about a task the board shows beside its columns. New kinds of notice (another
/// engineer's "bypassed push", say) are added here and appear in the NOTES column and JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The task's health is not `ok` (dirty is shown as a change count instead).
    Health(Health),
    /// The row is released: its branch slot is free.
    Released,
    /// `gh pr view` failed for the task's pull request.
    PrCheckFailed(String),
    /// The branch's last push skipped okstra's `pre-push` hook (`git push --no-verify`).
    BypassedPush(Box<crate::hooks::pushes::Bypass>),
}

impl Notice {
    pub fn text(&self) -> String {
        match self {
            Notice::Health(h) => h.name().to_string(),
            Notice::Released => "released".to_string(),
            Notice::PrCheckFailed(why) => format!("pr check failed: {why}"),
            Notice::BypassedPush(b) => format!("! last push ({}) skipped the pre-push hook", b.short_ref()),
        }
    }
}

impl Serialize for Notice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

/// Commits between the task branch and the base it is compared with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Divergence {
    /// What the branch was compared with: the main worktree's branch, or its HEAD's SHA.
    pub base: String,
    pub ahead: usize,
    pub behind: usize,
}

/// One task on the board.
#[derive(Debug, Clone)]
pub struct Entry {
    pub row: Row,
    pub health: Health,
    pub run: Option<RunStatus>,
    pub agent: Option<Agent>,
    pub divergence: Option<Divergence>,
    /// Changed and untracked files, when `--dirty` asked.
    pub changed_files: Option<usize>,
    /// The newest thing known to have happened: creation, a phase run, an agent's exit.
    pub activity_at: String,
    pub age_seconds: i64,
    pub waiting: Option<Waiting>,
    pub notices: Vec<Notice>,
}

impl Entry {
    /// The row's fields plus every board field (`null` where a fact does not apply).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.row).unwrap_or_default();
        v["key"] = json!(self.row.key());
        v["health"] = json!(self.health.name());
        v["run"] = json!(self.run);
        v["agent"] = json!(self.agent);
        v["ahead"] = json!(self.divergence.as_ref().map(|d| d.ahead));
        v["behind"] = json!(self.divergence.as_ref().map(|d| d.behind));
        v["compared_with"] = json!(self.divergence.as_ref().map(|d| d.base.clone()));
        v["changed_files"] = json!(self.changed_files);
        v["pr"] = json!(self.row.pr);
        v["activity_at"] = json!(self.activity_at);
        v["age_seconds"] = json!(self.age_seconds);
        v["waiting"] = json!(self.waiting.is_some());
        v["waiting_reason"] = json!(self.waiting);
        v["notices"] = json!(self.notices);
        v["last_push_bypassed_hooks"] = json!(self.bypassed_push());
        v
    }

    /// The bypassed push noticed for this task's branch, if any.
    pub fn bypassed_push(&self) -> Option<&crate::hooks::pushes::Bypass> {
        self.notices.iter().find_map(|n| match n {
            Notice::BypassedPush(b) => Some(b.as_ref()),
            _ => None,
        })
    }

    /// Note the bypassed pushes of `notices` on the entries of `repo`'s tasks.
    pub fn mark_bypassed(
        entries: &mut [Entry],
        repo: &crate::git::Repo,
        repo_id: &str,
        notices: &crate::hooks::pushes::Notices,
    ) {
        for e in entries.iter_mut().filter(|e| e.row.repo == repo_id) {
            if let Some(b) = notices.for_branch(repo, &e.row.branch) {
                e.notices.push(Notice::BypassedPush(Box::new(b.clone())));
            }
        }
    }
}

/// Seconds since the epoch now.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn epoch(rfc3339: &str) -> Option<i64> {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// A repository the board reads: its handle and the base its tasks are compared with.
struct Source<'a> {
    repo: &'a Repo,
    /// The main worktree's HEAD (full SHA) and the name shown for it (its branch, else the SHA).
    base: Option<(String, String)>,
}

impl<'a> Source<'a> {
    fn new(repo: &'a Repo) -> Source<'a> {
        let base = repo.main_head().ok().flatten().map(|sha| {
            let name = repo.main_head_branch().unwrap_or_else(|| sha.clone());
            (sha, name)
        });
        Source { repo, base }
    }
}

/// The board entries of `rows` (in their order). `here` is the repository the command runs
/// in; rows of other repositories are read through their own main worktree.
pub fn collect(here: &Repo, rows: Vec<Row>, opts: Options) -> Vec<Entry> {
    let now = now();
    let facts: Vec<_> = rows.iter().map(|r| status::read(Path::new(&r.repo), &Segment::new(&r.task_id))).collect();
    let sessions = if facts.iter().flatten().any(|f| f.needs_sessions()) { session::live() } else { HashMap::new() };
    let here_id = here.main_worktree().to_string_lossy().into_owned();
    let opened: HashMap<String, Repo> = rows
        .iter()
        .filter(|r| r.repo != here_id)
        .map(|r| r.repo.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter_map(|id| Repo::open(Path::new(&id)).ok().map(|repo| (id, repo)))
        .collect();
    let mut sources: HashMap<&str, Source<'_>> = opened.iter().map(|(id, r)| (id.as_str(), Source::new(r))).collect();
    sources.insert(here_id.as_str(), Source::new(here));
    let mut entries: Vec<Entry> = rows
        .into_iter()
        .zip(facts)
        .map(|(row, facts)| {
            let source = sources.get(row.repo.as_str());
            entry(row, source, facts.map(|f| f.resolve(&sessions, now)), now)
        })
        .collect();
    if opts.dirty {
        count_changes(&mut entries);
    }
    entries
}

fn entry(row: Row, source: Option<&Source<'_>>, run: Option<RunStatus>, now: i64) -> Entry {
    // One branch lookup serves both the health and the comparison.
    let tip = source.and_then(|s| s.repo.branch_oid(&row.branch));
    let health = worktree::health_of(&row, source.map(|_| tip.is_some()));
    let divergence = source.zip(tip).and_then(|(s, tip)| {
        let (sha, name) = s.base.as_ref()?;
        let (ahead, behind) = s.repo.ahead_behind(&tip, sha)?;
        Some(Divergence { base: name.clone(), ahead, behind })
    });
    let agent = run.as_ref().and_then(|r| r.agent.clone());
    let last_phase = row.phases.last().map(|p| p.at.clone()).unwrap_or_default();
    let run_at = run.as_ref().map(|r| r.activity_at.clone()).unwrap_or_default();
    let activity_at = [row.created_at.clone(), last_phase, run_at].into_iter().max().unwrap_or_default();
    let age_seconds = epoch(&activity_at).map_or(0, |t| (now - t).max(0));
    let waiting = run.as_ref().filter(|_| row.status == Status::Active).and_then(|r| r.waiting());
    let mut notices = Vec::new();
    if !matches!(health, Health::Ok | Health::Dirty) {
        notices.push(Notice::Health(health));
    }
    if row.status == Status::Released {
        notices.push(Notice::Released);
    }
    Entry { row, health, run, agent, divergence, changed_files: None, activity_at, age_seconds, waiting, notices }
}

/// The changed files of each existing worktree, all worktrees at once ([`git::change_counts`]).
fn count_changes(entries: &mut [Entry]) {
    let idx: Vec<usize> = (0..entries.len()).filter(|i| Path::new(&entries[*i].row.worktree_path).is_dir()).collect();
    let worktrees: Vec<PathBuf> = idx.iter().map(|i| PathBuf::from(&entries[*i].row.worktree_path)).collect();
    for (i, counted) in idx.into_iter().zip(git::change_counts(&worktrees)) {
        let e = &mut entries[i];
        match counted {
            Ok(n) => {
                e.changed_files = Some(n);
                if n > 0 && e.health == Health::Ok {
                    e.health = Health::Dirty;
                }
            }
            Err(err) => {
                crate::output::debug(format!("cannot count the changes in {}: {}", e.row.worktree_path, err.message))
            }
        }
    }
}

/// `gh` on PATH, or the error `--pr` gives without it.
pub fn gh() -> Result<PathBuf> {
    which::which("gh").map_err(|_| {
        Error::failed("--pr asks GitHub's CLI for each pull request's state, and gh was not found on PATH")
            .hint("install gh and run `gh auth login`, or drop --pr to see the state the handoff recorded")
    })
}

/// The `gh` arguments that read one pull request's state.
pub fn gh_view_args(url: &str) -> Vec<String> {
    ["pr", "view", url, "--json", "url,state,isDraft,reviewDecision"].map(String::from).to_vec()
}

/// Ask the forge for every recorded pull request's state at once; keep what changed in the
/// registry (under its lock) so a later plain listing shows it.
pub fn refresh_prs(gh: &Path, entries: &mut [Entry], store: &Store) -> Result<()> {
    let idx: Vec<usize> = (0..entries.len()).filter(|i| entries[*i].row.pr.is_some()).collect();
    let jobs: Vec<git::Job> = idx
        .iter()
        .map(|i| {
            let row = &entries[*i].row;
            let cwd = [&row.worktree_path, &row.repo].into_iter().map(PathBuf::from).find(|p| p.is_dir());
            git::Job {
                program: gh.to_string_lossy().into_owned(),
                args: gh_view_args(&row.pr.as_ref().map(|p| p.url.clone()).unwrap_or_default())
                    .into_iter()
                    .map(Into::into)
                    .collect(),
                cwd: cwd.unwrap_or_else(|| PathBuf::from("/")),
            }
        })
        .collect();
    let at = registry::now();
    let mut changed: Vec<(String, PrRecord)> = Vec::new();
    for (i, out) in idx.into_iter().zip(git::exec_parallel(&jobs, git::parallelism())) {
        let e = &mut entries[i];
        let Some(old) = e.row.pr.clone() else { continue };
        let parsed = match out {
            Ok(o) if o.ok() => parse_pr_view(&o.stdout, &old, &at).ok_or_else(|| "unreadable answer".to_string()),
            Ok(o) => Err(o.summary()),
            Err(err) => Err(err.message),
        };
        match parsed {
            Ok(pr) => {
                if pr.state != old.state || pr.review != old.review {
                    changed.push((e.row.key(), pr.clone()));
                }
                e.row.pr = Some(pr);
            }
            Err(why) => {
                crate::output::warn(format!("gh pr view {} failed: {why}", old.url));
                e.notices.push(Notice::PrCheckFailed(why));
            }
        }
    }
    if !changed.is_empty() {
        store.transaction(|reg| {
            for (key, pr) in changed {
                reg.set_pr(&key, pr);
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// The record a `gh pr view --json url,state,isDraft,reviewDecision` answer gives.
fn parse_pr_view(stdout: &str, old: &PrRecord, at: &str) -> Option<PrRecord> {
    let v: serde_json::Value = serde_json::from_str(stdout).ok()?;
    let state = match (v["state"].as_str()?, v["isDraft"].as_bool().unwrap_or(false)) {
        ("OPEN", true) => PrState::Draft,
        ("OPEN", false) => PrState::Open,
        ("MERGED", _) => PrState::Merged,
        ("CLOSED", _) => PrState::Closed,
        _ => PrState::Unknown,
    };
    let review = v["reviewDecision"].as_str().unwrap_or("").to_ascii_lowercase().replace('_', "-");
    let url = v["url"].as_str().filter(|u| !u.is_empty()).unwrap_or(&old.url).to_string();
    Some(PrRecord { url, state, review, checked_at: at.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pr_view_answers() {
        let old = PrRecord { url: "u".into(), state: PrState::Open, review: String::new(), checked_at: String::new() };
        let p = |s: &str| parse_pr_view(s, &old, "t");
        let merged = p(r#"{"url":"https://x/pull/3","state":"MERGED","isDraft":false,"reviewDecision":"APPROVED"}"#);
        assert_eq!(
            merged.as_ref().map(|p| (p.state, p.review.as_str(), p.url.as_str())),
            Some((PrState::Merged, "approved", "https://x/pull/3"))
        );
        let draft = p(r#"{"state":"OPEN","isDraft":true,"reviewDecision":"CHANGES_REQUESTED"}"#).unwrap();
        assert_eq!(
            (draft.state, draft.review.as_str(), draft.url.as_str()),
            (PrState::Draft, "changes-requested", "u")
        );
        assert_eq!(p(r#"{"state":"WEIRD"}"#).unwrap().state, PrState::Unknown);
        assert_eq!(p("not json"), None);
    }
}
