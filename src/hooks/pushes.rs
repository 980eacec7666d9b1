//! Pushes that skipped `pre-push`, noticed afterwards at no cost to git (DESIGN §7).
//!
//! `pre-push` appends every ref update it let through to `<common dir>/okstra/pushes.jsonl`
//! ([`record`]). git writes `update by push` into the reflog of each remote-tracking ref a push
//! moves, whether `pre-push` ran or not: an entry with no matching record is a push that
//! skipped it. [`check`] reads those reflogs from where it stopped last, under a lock, keeps
//! what it found in `<common dir>/okstra/push-notices.json` and tells each finding once, with an
//! audit line. Only reflogs, records and config are read: no git process, no remote.

use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{io_at, Error, Result};
use crate::git::{RemoteConfig, Repo};
use crate::output;
use crate::policy::{self, AuditRecord, Decision, Protected, Rule, Violation};

const RECORDS: &str = "pushes.jsonl";
/// The records before the last rotation, still read.
const OLD_RECORDS: &str = "pushes.old.jsonl";
const ROTATE_AT: u64 = 1 << 20;
const STATE: &str = "push-notices.json";
const LOCK: &str = "push-notices.lock";
/// git's reflog message for a remote-tracking ref a push moved (fetches write `fetch: …`,
/// pulls `pull: …`).
const BY_PUSH: &str = "update by push";

/// One ref update `pre-push` let through.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    at: String,
    remote: String,
    url: String,
    #[serde(rename = "ref")]
    remote_ref: String,
    new: String,
}

/// Append what `pre-push` let through (`(remote ref, new oid)` pairs; deletes left out: git
/// deletes the tracking ref's reflog with it). One `write` with `O_APPEND`, so concurrent
/// pushes never interleave their lines.
pub fn record(common_dir: &Path, remote: &str, url: &str, updates: &[(&str, &str)]) -> std::io::Result<()> {
    if updates.is_empty() {
        return Ok(());
    }
    let at = crate::task::registry::now();
    let mut text = String::new();
    for (remote_ref, new) in updates {
        let r = Record {
            at: at.clone(),
            remote: remote.into(),
            url: url.into(),
            remote_ref: (*remote_ref).into(),
            new: (*new).into(),
        };
        text.push_str(&serde_json::to_string(&r).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    let dir = common_dir.join("okstra");
    let open = || std::fs::OpenOptions::new().create(true).append(true).open(dir.join(RECORDS));
    let mut f = match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&dir)?;
            open()?
        }
        f => f?,
    };
    f.write_all(text.as_bytes())
}

/// A push that skipped `pre-push`, as found in a remote-tracking reflog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bypass {
    /// `refs/remotes/origin/dev`.
    pub tracking_ref: String,
    pub remote: String,
    /// The branch on the remote (`refs/heads/dev`).
    pub remote_ref: String,
    /// The tracking ref's value before (all zeros when it was created).
    pub old: String,
    pub new: String,
    /// When git wrote the entry (RFC 3339, UTC) and the same in seconds.
    pub at: String,
    pub time: i64,
    /// The rule the update itself broke, if it broke one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broke: Option<Rule>,
    pub message: String,
    /// Whether the notice was shown and the audit line written.
    pub reported: bool,
    /// When a person acknowledged it (`handoff --accept-bypassed-push`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<String>,
}

impl Bypass {
    /// `origin/dev`.
    pub fn short_ref(&self) -> &str {
        self.tracking_ref.strip_prefix("refs/remotes/").unwrap_or(&self.tracking_ref)
    }
}

/// The latest reflog entry of a remote-tracking ref, and the bypass it was, if it was one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Latest {
    new: String,
    time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bypass: Option<usize>,
}

/// What the scans found so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    version: u32,
    /// Bytes of each remote-tracking reflog already judged.
    read: BTreeMap<String, u64>,
    latest: BTreeMap<String, Latest>,
    bypasses: Vec<Bypass>,
}

/// The outcome of [`check`]: the bypassed pushes still open (the latest update of their
/// tracking ref, not acknowledged), oldest first.
#[derive(Debug, Clone, Default)]
pub struct Notices {
    pub open: Vec<Bypass>,
}

impl Notices {
    /// The open bypass that was the last push of local branch `branch`, on any remote.
    pub fn for_branch(&self, repo: &Repo, branch: &str) -> Option<&Bypass> {
        let tracking = tracking_refs(&repo.remotes(), &format!("refs/heads/{branch}"));
        self.open.iter().rev().find(|b| tracking.contains(&b.tracking_ref))
    }
}

/// Scan for pushes that skipped `pre-push` since the last scan, tell each new one once (a
/// warning and an audit line), and return those still open. Nothing is scanned, and nothing
/// found, in a repository whose hooks okstra did not install (no record of them), nor where
/// the refs are not files (`reftable`).
pub fn check(repo: &Repo) -> Result<Notices> {
    let dir = repo.common_dir.join("okstra");
    if !super::install::is_recorded(repo) || repo.common_dir.join("reftable").exists() {
        return Ok(Notices::default());
    }
    let _lock = lock(&dir)?;
    let (state, changed) = match load(&dir)? {
        Some(mut state) => {
            let before = serde_json::to_string(&state).unwrap_or_default();
            Scanner::new(repo, &dir).run(&mut state)?;
            report(repo, &mut state);
            let changed = serde_json::to_string(&state).unwrap_or_default() != before;
            (state, changed)
        }
        None => (baseline(&repo.common_dir), true),
    };
    // Nothing is written when nothing changed (the usual `task list`).
    if changed {
        save(&dir, &state)?;
    }
    Ok(Notices { open: open(&state) })
}

/// [`check`] for the commands that only report: a state that cannot be read is a warning,
/// never a reason for `task list` or `doctor` to fail (the handoff, which gates on it, calls
/// [`check`] and stops).
pub fn check_or_warn(repo: &Repo) -> Notices {
    check(repo).unwrap_or_else(|e| {
        output::warn(format!("bypassed pushes not checked: {}", e.message));
        Notices::default()
    })
}

/// Start noticing from now: every reflog entry already there counts as judged. Called by
/// `hooks install`; a scan without a state file does the same.
pub fn start(repo: &Repo) -> Result<()> {
    let dir = repo.common_dir.join("okstra");
    let _lock = lock(&dir)?;
    if load(&dir)?.is_none() {
        save(&dir, &baseline(&repo.common_dir))?;
    }
    Ok(())
}

/// Forget the state and the records (`hooks uninstall`): pushes made without the hooks are no
/// one's bypass, and a later install starts afresh.
pub fn forget(common_dir: &Path) -> Result<()> {
    let dir = common_dir.join("okstra");
    for name in [STATE, RECORDS, OLD_RECORDS] {
        let p = dir.join(name);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_at("cannot remove", &p, e)),
            _ => {}
        }
    }
    Ok(())
}

/// Mark the open bypasses that were the last push of `branch` as acknowledged by a person,
/// with an audit line each; returns them.
pub fn acknowledge(repo: &Repo, branch: &str, source: &str) -> Result<Vec<Bypass>> {
    let dir = repo.common_dir.join("okstra");
    let _lock = lock(&dir)?;
    let Some(mut state) = load(&dir)? else { return Ok(vec![]) };
    let tracking = tracking_refs(&repo.remotes(), &format!("refs/heads/{branch}"));
    let open: Vec<usize> =
        open_indexes(&state).into_iter().filter(|i| tracking.contains(&state.bypasses[*i].tracking_ref)).collect();
    let now = crate::task::registry::now();
    for i in &open {
        let b = &mut state.bypasses[*i];
        b.acknowledged = Some(now.clone());
        let v = violation(b);
        audit(&repo.common_dir, &AuditRecord::new(source, Decision::Acknowledged, &v));
    }
    save(&dir, &state)?;
    Ok(open.iter().map(|i| state.bypasses[*i].clone()).collect())
}

fn open_indexes(state: &State) -> Vec<usize> {
    let mut idx: Vec<usize> = state
        .latest
        .values()
        .filter_map(|l| l.bypass)
        .filter(|i| state.bypasses.get(*i).is_some_and(|b| b.acknowledged.is_none()))
        .collect();
    idx.sort_unstable();
    idx
}

fn open(state: &State) -> Vec<Bypass> {
    open_indexes(state).into_iter().map(|i| state.bypasses[i].clone()).collect()
}

/// Every remote-tracking reflog as it is now counts as read.
fn baseline(common_dir: &Path) -> State {
    let read = tracking_logs(common_dir).into_iter().map(|(name, _, len)| (name, len)).collect();
    State { version: 1, read, ..State::default() }
}

fn lock(dir: &Path) -> Result<fslock::LockFile> {
    std::fs::create_dir_all(dir).map_err(|e| io_at("cannot create", dir, e))?;
    let path = dir.join(LOCK);
    let mut lock = fslock::LockFile::open(&path).map_err(|e| io_at("cannot open lock", &path, e))?;
    lock.lock().map_err(|e| io_at("cannot lock", &path, e))?;
    Ok(lock)
}

fn load(dir: &Path) -> Result<Option<State>> {
    let p = dir.join(STATE);
    match std::fs::read_to_string(&p) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::failed(format!("cannot read {}: {e}", p.display()))
                .hint("move the file aside; the next scan starts noticing pushes afresh")
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_at("cannot read", &p, e)),
    }
}

fn save(dir: &Path, state: &State) -> Result<()> {
    let text = serde_json::to_string_pretty(state).map_err(|e| Error::failed(e.to_string()))?;
    super::write_atomic(&dir.join(STATE), text.as_bytes(), 0o644)
}

/// The reflog files of remote-tracking refs: (ref name, path, length).
fn tracking_logs(common_dir: &Path) -> Vec<(String, PathBuf, u64)> {
    fn walk(dir: &Path, name: &str, out: &mut Vec<(String, PathBuf, u64)>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let (path, file) = (e.path(), e.file_name().to_string_lossy().into_owned());
            let full = format!("{name}/{file}");
            match e.metadata() {
                Ok(m) if m.is_dir() => walk(&path, &full, out),
                Ok(m) if m.is_file() => out.push((full, path, m.len())),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(&common_dir.join("logs/refs/remotes"), "refs/remotes", &mut out);
    out.sort();
    out
}

/// One reflog line: `<old> <new> <name> <<email>> <time> <tz>\t<message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    old: String,
    new: String,
    time: i64,
    message: String,
}

fn parse_entry(line: &str) -> Option<Entry> {
    let (head, message) = line.split_once('\t').unwrap_or((line, ""));
    let mut words = head.splitn(3, ' ');
    let (old, new, ident) = (words.next()?, words.next()?, words.next()?);
    let time = ident.rsplit(' ').nth(1)?.parse().ok()?;
    Some(Entry { old: old.into(), new: new.into(), time, message: message.into() })
}

/// Reads the reflogs past what was judged and judges each new entry. The records are read
/// only when a push entry needs them (most scans find nothing new).
struct Scanner<'a> {
    repo: &'a Repo,
    dir: PathBuf,
    remotes: Vec<RemoteConfig>,
    records: std::cell::OnceCell<Vec<Record>>,
    protected: Protected,
}

impl<'a> Scanner<'a> {
    fn new(repo: &'a Repo, dir: &Path) -> Scanner<'a> {
        let (remotes, protected) = (repo.remotes(), Protected::from_repo(repo));
        Scanner { repo, dir: dir.to_path_buf(), remotes, records: std::cell::OnceCell::new(), protected }
    }

    fn records(&self) -> &[Record] {
        self.records.get_or_init(|| {
            let mut records = read_records(&self.dir.join(OLD_RECORDS));
            records.extend(read_records(&self.dir.join(RECORDS)));
            records
        })
    }

    fn run(&self, state: &mut State) -> Result<()> {
        for (name, path, len) in tracking_logs(&self.repo.common_dir) {
            let from = state.read.get(&name).copied().unwrap_or(0);
            // Shorter than read: git rewrote it (reflog expire); read again, known ones are skipped.
            let from = if len < from { 0 } else { from };
            if len == from {
                continue;
            }
            let text = read_from(&path, from)?;
            // Only whole lines: a line being written is judged next time.
            let whole = text.rfind('\n').map(|i| i + 1).unwrap_or(0);
            for line in text[..whole].lines() {
                if let Some(e) = parse_entry(line) {
                    self.judge(state, &name, &e);
                }
            }
            state.read.insert(name, from + whole as u64);
        }
        rotate(&self.repo.common_dir.join("okstra"));
        Ok(())
    }

    /// Note the entry as the tracking ref's latest; an `update by push` with no record of
    /// `pre-push` is a bypass.
    fn judge(&self, state: &mut State, tracking: &str, e: &Entry) {
        let mut latest = Latest { new: e.new.clone(), time: e.time, bypass: None };
        if e.message == BY_PUSH && !policy::is_zero_oid(&e.new) {
            if let Some((remote, remote_ref)) = remote_of(&self.remotes, tracking) {
                if !self.checked(remote, &remote_ref, &e.new) {
                    let known = state.bypasses.iter().position(|b| {
                        b.tracking_ref == tracking && b.new == e.new && b.old == e.old && b.time == e.time
                    });
                    latest.bypass = Some(known.unwrap_or_else(|| {
                        state.bypasses.push(self.bypass(tracking, remote, remote_ref, e));
                        state.bypasses.len() - 1
                    }));
                }
            }
        }
        state.latest.insert(tracking.to_string(), latest);
    }

    /// Whether `pre-push` let `new` through to `remote_ref` of this remote: under its name, or
    /// under any name or URL that reaches the same repository (the URLs configured for it, and
    /// those its own pushes reported, which have `insteadOf` applied).
    fn checked(&self, remote: &RemoteConfig, remote_ref: &str, new: &str) -> bool {
        let records = self.records();
        let mut urls: Vec<&str> = remote.urls.iter().map(String::as_str).collect();
        urls.extend(records.iter().filter(|r| r.remote == remote.name).map(|r| r.url.as_str()));
        records.iter().any(|r| {
            r.remote_ref == remote_ref && r.new == new && (r.remote == remote.name || urls.contains(&r.url.as_str()))
        })
    }

    fn bypass(&self, tracking: &str, remote: &RemoteConfig, remote_ref: String, e: &Entry) -> Bypass {
        let verdict = policy::judge_ref_update(&self.protected, &remote_ref, &e.old, &e.new, || {
            super::entry::ancestry(self.repo, &e.old, &e.new)
        });
        let short = tracking.strip_prefix("refs/remotes/").unwrap_or(tracking);
        let at = rfc3339(e.time);
        let what = match &verdict {
            Some(v) => format!("and the update broke the rule {}: {}", v.rule, v.message),
            None if policy::is_zero_oid(&e.old) => "and okstra cannot tell what it replaced".into(),
            None => "though the update itself would have been allowed".into(),
        };
        let message = format!(
            "a push at {at} skipped okstra's pre-push check (`git push --no-verify`, or hooks switched off); {short} is now {}, {what}",
            short_oid(&e.new)
        );
        Bypass {
            tracking_ref: tracking.into(),
            remote: remote.name.clone(),
            remote_ref,
            old: e.old.clone(),
            new: e.new.clone(),
            at,
            time: e.time,
            broke: verdict.map(|v| v.rule),
            message,
            reported: false,
            acknowledged: None,
        }
    }
}

fn read_from(path: &Path, from: u64) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| io_at("cannot read", path, e))?;
    f.seek(std::io::SeekFrom::Start(from)).map_err(|e| io_at("cannot read", path, e))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(|e| io_at("cannot read", path, e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn read_records(path: &Path) -> Vec<Record> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Past 1 MiB the records move to `pushes.old.jsonl` (the previous old ones go): a record is
/// kept through at least one whole scan after it was written, and a push's reflog entry comes
/// after its record.
fn rotate(dir: &Path) {
    let current = dir.join(RECORDS);
    if std::fs::metadata(&current).is_ok_and(|m| m.len() > ROTATE_AT) {
        let _ = std::fs::rename(&current, dir.join(OLD_RECORDS));
    }
}

/// The remote and remote branch a remote-tracking ref follows, by the remotes' fetch refspecs
/// (as git maps them).
fn remote_of<'r>(remotes: &'r [RemoteConfig], tracking: &str) -> Option<(&'r RemoteConfig, String)> {
    remotes.iter().find_map(|r| r.fetch.iter().find_map(|spec| map_refspec(spec, tracking, true)).map(|src| (r, src)))
}

/// The remote-tracking refs the fetch refspecs of every remote map `remote_ref` to.
fn tracking_refs(remotes: &[RemoteConfig], remote_ref: &str) -> Vec<String> {
    remotes.iter().flat_map(|r| r.fetch.iter().filter_map(|spec| map_refspec(spec, remote_ref, false))).collect()
}

/// Map `name` through a fetch refspec `[+]src:dst` (at most one `*` a side): src → dst, or
/// dst → src with `reverse`. Negative refspecs (`^…`) map nothing.
fn map_refspec(spec: &str, name: &str, reverse: bool) -> Option<String> {
    let spec = spec.strip_prefix('+').unwrap_or(spec);
    if spec.starts_with('^') {
        return None;
    }
    let (src, dst) = spec.split_once(':')?;
    let (from, to) = if reverse { (dst, src) } else { (src, dst) };
    match (from.split_once('*'), to.split_once('*')) {
        (None, None) => (from == name).then(|| to.to_string()),
        (Some((pre, post)), Some((tpre, tpost))) => {
            let middle = name.strip_prefix(pre)?.strip_suffix(post)?;
            Some(format!("{tpre}{middle}{tpost}"))
        }
        _ => None,
    }
}

fn violation(b: &Bypass) -> Violation {
    Violation::new(
        Rule::NoVerify,
        b.short_ref(),
        b.message.clone(),
        "never skip the push checks; if the push was wrong, tell the team and repair it through a pull request",
    )
}

/// Warn about each bypass not reported yet, once, with an audit line.
fn report(repo: &Repo, state: &mut State) {
    for b in state.bypasses.iter_mut().filter(|b| !b.reported) {
        let v = violation(b);
        output::warn(format!("[okstra:{}] {}: {}", v.rule, v.subject, v.message));
        output::warn(v.fix.clone());
        audit(&repo.common_dir, &AuditRecord::new("push-notice", Decision::Warned, &v));
        b.reported = true;
    }
}

fn audit(common_dir: &Path, record: &AuditRecord) {
    if let Err(e) = policy::audit(common_dir, record) {
        output::warn(format!("cannot write the okstra audit log under {}: {e}", common_dir.display()));
    }
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| t.to_string())
}

fn short_oid(oid: &str) -> &str {
    &oid[..oid.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refspecs_map_both_ways() {
        let spec = "+refs/heads/*:refs/remotes/origin/*";
        assert_eq!(map_refspec(spec, "refs/remotes/origin/feat/x", true).as_deref(), Some("refs/heads/feat/x"));
        assert_eq!(map_refspec(spec, "refs/heads/main", false).as_deref(), Some("refs/remotes/origin/main"));
        assert_eq!(map_refspec(spec, "refs/remotes/other/main", true), None);
        let exact = "refs/heads/main:refs/remotes/up/trunk";
        assert_eq!(map_refspec(exact, "refs/remotes/up/trunk", true).as_deref(), Some("refs/heads/main"));
        assert_eq!(map_refspec("^refs/heads/x", "refs/heads/x", false), None);
        assert_eq!(
            map_refspec("refs/heads/*:refs/remotes/o/*-mirror", "refs/remotes/o/a-mirror", true).as_deref(),
            Some("refs/heads/a")
        );
    }

    #[test]
    fn reflog_lines() {
        let line = "0000000000000000000000000000000000000000 f5caa019cb8a9be79484b32f239b593a3aaca69a A U Thor <a@b.c> 1796118223 +0000\tupdate by push";
        let e = parse_entry(line).unwrap();
        assert_eq!(e.time, 1796118223);
        assert_eq!(e.message, BY_PUSH);
        assert_eq!(e.new, "f5caa019cb8a9be79484b32f239b593a3aaca69a");
        assert!(parse_entry("garbage").is_none());
    }
}
