//! `hooks install|uninstall|status`: writing the shims into the hooks folder git really uses,
//! moving a foreign hook aside to chain it (and back), and the record of what install changed
//! (`<common dir>/okstra/hooks.json`) so uninstall can undo exactly that.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::shim::{self, ChainStyle, CHAINED_SUFFIX};
use super::{write_atomic, HookName};
use crate::error::{io_at, Error, Result};
use crate::git::{self, Repo};

/// The oldest git whose `reference-transaction` hook behaves as okstra needs.
pub const MIN_GIT: (u32, u32) = (2, 29);

/// What `hooks install` is asked for. Other features add their flags here.
#[derive(Debug, Clone, Default)]
pub struct InstallRequest {
    /// Install `pre-receive` into a bare repository instead of the client hooks.
    pub server: bool,
}

/// What happened to one hook file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Created,
    Updated,
    Unchanged,
    /// A foreign hook was moved aside and is called first.
    Chained,
    /// Uninstall: the shim was removed.
    Removed,
    /// Uninstall: the foreign hook was put back.
    Restored,
    /// Uninstall: the file there is not okstra's, left alone.
    Foreign,
    /// Uninstall: nothing there.
    Absent,
}

#[derive(Debug, Clone, Serialize)]
pub struct HookReport {
    pub name: &'static str,
    pub path: PathBuf,
    pub action: Action,
    /// The foreign hook called first, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chained: Option<PathBuf>,
}

/// The state `hooks status` reports for one hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Installed,
    /// Installed, and a foreign hook is called first.
    Chained,
    /// okstra's shim, but not what install writes now (another binary, an older format).
    Stale,
    /// No okstra shim there (possibly a foreign hook that replaced it).
    Missing,
}

#[derive(Debug, Clone, Serialize)]
pub struct HookStatus {
    #[serde(skip)]
    pub hook: HookName,
    pub name: &'static str,
    pub path: PathBuf,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chained: Option<PathBuf>,
    /// A file that is not okstra's occupies the hook's place.
    pub foreign: bool,
    /// A hook okstra no longer installs (its old shim is still there: `stale`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retired: bool,
}

/// What install changed outside the hook files, so uninstall can put it back.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Record {
    pub version: u32,
    pub hooks_dir: PathBuf,
    pub server: bool,
    /// Set when install made a relative `core.hooksPath` absolute: the local value before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks_path_before: Option<String>,
    /// Server: the local `receive.denyNonFastForwards` before install (`""` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_non_fast_forwards_before: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub hooks_dir: PathBuf,
    pub server: bool,
    pub hooks: Vec<HookReport>,
    /// Install: the relative `core.hooksPath` that was made absolute; uninstall: the value restored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks_path_changed: Option<String>,
}

fn record_path(repo: &Repo) -> PathBuf {
    repo.common_dir.join("okstra").join("hooks.json")
}

fn read_record(repo: &Repo) -> Result<Option<Record>> {
    let p = record_path(repo);
    match std::fs::read_to_string(&p) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::failed(format!("cannot read {}: {e}", p.display()))
                .hint("move the file aside; `git okstra hooks install` writes a new one")
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_at("cannot read", &p, e)),
    }
}

fn write_record(repo: &Repo, record: &Record) -> Result<()> {
    let p = record_path(repo);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_at("cannot create", parent, e))?;
    }
    let text = serde_json::to_string_pretty(record).map_err(|e| Error::failed(e.to_string()))?;
    write_atomic(&p, text.as_bytes(), 0o644)
}

/// The file at `path`, if anything is there (a dangling symlink reads as empty, foreign bytes).
fn read_hook(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_at("cannot read", path, e)),
        Ok(_) => Ok(Some(std::fs::read(path).unwrap_or_default())),
    }
}

fn chained_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{name}{CHAINED_SUFFIX}"))
}

/// The shim install would write now for `hook` in `dir`, given what is chained there.
fn expected(hook: HookName, path: &Path, binary: &Path) -> Result<(String, Option<PathBuf>)> {
    let chained = chained_path(path);
    Ok(match read_hook(&chained)? {
        Some(content) => (shim::render(hook, binary, Some(ChainStyle::of(&content))), Some(chained)),
        None => (shim::render(hook, binary, None), None),
    })
}

/// The binary the shims should call: this one, by its absolute path.
pub fn current_binary() -> Result<PathBuf> {
    let exe =
        std::env::current_exe().map_err(|e| Error::failed(format!("cannot find this program's own path: {e}")))?;
    let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
    if exe.to_str().is_none() {
        return Err(Error::failed(format!("the path of git-okstra is not UTF-8: {}", exe.display()))
            .hint("install git-okstra under a plain path"));
    }
    Ok(exe)
}

fn check_git_version(cwd: &Path) -> Result<()> {
    let (major, minor) = git::version(cwd)?;
    if (major, minor) < MIN_GIT {
        return Err(Error::failed(format!(
            "git {major}.{minor} is too old for the okstra hooks: they need git {}.{} or newer",
            MIN_GIT.0, MIN_GIT.1
        ))
        .hint("git before 2.29 runs no reliable reference-transaction hook; upgrade git, then install again"));
    }
    Ok(())
}

fn check_mode(repo: &Repo, server: bool) -> Result<()> {
    match (repo.is_bare(), server) {
        (true, false) => Err(Error::failed("this is a bare repository: client hooks would never run here")
            .hint("to guard the pushes it receives, run `git okstra hooks install --server`")),
        (false, true) => Err(Error::failed("--server is for the bare repository that receives pushes")
            .hint("run it there: `git -C path/to/repo.git okstra hooks install --server`")),
        _ => Ok(()),
    }
}

/// Local config value of `key`, if set.
fn local_config(repo: &Repo, key: &str) -> Result<Option<String>> {
    let out = git::exec("git", &["config", "--local", "--get", key], &repo.common_dir)?;
    Ok(out.ok().then(|| out.stdout.trim_end_matches('\n').to_string()))
}

fn set_local_config(repo: &Repo, key: &str, value: Option<&str>) -> Result<()> {
    match value {
        Some(v) => git::run(&repo.common_dir, &["config", "--local", key, v]).map(drop),
        None => {
            let out = git::exec("git", &["config", "--local", "--unset", key], &repo.common_dir)?;
            // 5: the key was not set — nothing to undo.
            if out.ok() || out.code == 5 {
                Ok(())
            } else {
                Err(Error::failed(format!("git config --unset {key} failed: {}", out.summary())))
            }
        }
    }
}

/// Install the hooks. Restartable at every point: the record of what it changes is written
/// before anything changes, a foreign hook gets its second name before the shim takes its
/// place, and each file is replaced by a rename; a rerun of install or uninstall finishes or
/// undoes what a killed one started.
pub fn install(cwd: &Path, req: &InstallRequest) -> Result<Outcome> {
    check_git_version(cwd)?;
    let repo = require_repo(cwd)?;
    check_mode(&repo, req.server)?;
    let binary = current_binary()?;
    let mut record = read_record(&repo)?.unwrap_or_default();
    record.version = 1;
    record.server = req.server;
    // A relative core.hooksPath resolves against each worktree's top, so task worktrees
    // without that folder would run no hooks: pin it to the main worktree's folder.
    let relative =
        repo.config_string("core.hooksPath").filter(|p| !p.is_empty() && !p.starts_with('/') && !p.starts_with("~/"));
    if relative.is_some() && record.hooks_path_before.is_none() {
        record.hooks_path_before = Some(local_config(&repo, "core.hooksPath")?.unwrap_or_default());
    }
    if req.server && record.deny_non_fast_forwards_before.is_none() {
        record.deny_non_fast_forwards_before =
            Some(local_config(&repo, "receive.denyNonFastForwards")?.unwrap_or_default());
    }
    let dir = repo.hooks_dir();
    record.hooks_dir = dir.clone();
    write_record(&repo, &record)?;
    if relative.is_some() {
        set_local_config(&repo, "core.hooksPath", Some(&dir.to_string_lossy()))?;
    }
    if req.server {
        set_local_config(&repo, "receive.denyNonFastForwards", Some("true"))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| io_at("cannot create the hooks folder", &dir, e))?;
    super::shared::add(&repo, &dir)?;
    let mut hooks = HookName::set(req.server)
        .iter()
        .map(|hook| install_one(*hook, &dir.join(hook.name()), &binary))
        .collect::<Result<Vec<_>>>()?;
    if !req.server {
        for hook in HookName::RETIRED {
            let report = uninstall_one(hook, &dir.join(hook.name()))?;
            if matches!(report.action, Action::Removed | Action::Restored) {
                hooks.push(report);
            }
        }
        super::pushes::start(&repo)?;
    }
    Ok(Outcome { hooks_dir: dir, server: req.server, hooks, hooks_path_changed: relative })
}

fn install_one(hook: HookName, path: &Path, binary: &Path) -> Result<HookReport> {
    let chained = chained_path(path);
    let mut action = match read_hook(path)? {
        None => Action::Created,
        Some(content) if shim::is_shim(&content) => Action::Updated,
        Some(foreign) => {
            match read_hook(&chained)? {
                // Already there under its second name (an install cut short, or a tool that
                // wrote the same bytes again): the shim takes the first one below.
                Some(earlier) if earlier == foreign => {}
                Some(_) => {
                    return Err(Error::failed(format!(
                        "{} is not okstra's and {} already holds another foreign hook",
                        path.display(),
                        chained.display()
                    ))
                    .hint("merge the two into one file or move one away, then install again"))
                }
                None => second_name(path, &chained)?,
            }
            Action::Chained
        }
    };
    let (text, chain) = expected(hook, path, binary)?;
    if action == Action::Updated && read_hook(path)?.as_deref() == Some(text.as_bytes()) {
        action = Action::Unchanged;
    } else {
        write_atomic(path, text.as_bytes(), 0o755)?;
    }
    Ok(HookReport { name: hook.name(), path: path.to_path_buf(), action, chained: chain })
}

/// Give the foreign hook at `path` the name `chained` too, keeping it where it is: a hard link
/// (the same file: bytes, mode, a symlink stays a symlink), else a copy renamed into place. So
/// at no moment is the hook git runs missing.
fn second_name(path: &Path, chained: &Path) -> Result<()> {
    if std::fs::hard_link(path, chained).is_ok() {
        return Ok(());
    }
    let meta = std::fs::symlink_metadata(path).map_err(|e| io_at("cannot read", path, e))?;
    let tmp = temp_of(chained);
    let _ = std::fs::remove_file(&tmp);
    let copied = if meta.file_type().is_symlink() {
        std::fs::read_link(path).and_then(|target| std::os::unix::fs::symlink(target, &tmp))
    } else {
        std::fs::copy(path, &tmp).map(drop)
    };
    copied.map_err(|e| io_at("cannot copy the hook aside to", &tmp, e))?;
    std::fs::rename(&tmp, chained).map_err(|e| io_at("cannot move the hook copy to", chained, e))
}

/// The temp file [`write_atomic`] and [`second_name`] use beside `path`.
fn temp_of(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.okstra-tmp"))
}

/// Re-write one okstra hook file as install writes it now: doctor's repair of a stale or missing
/// shim. A file that is not okstra's is refused, never touched: chaining it is `install`'s call.
pub fn refresh(cwd: &Path, hook: HookName) -> Result<HookReport> {
    let repo = require_repo(cwd)?;
    let dir = repo.hooks_dir();
    let path = dir.join(hook.name());
    if HookName::RETIRED.contains(&hook) {
        return uninstall_one(hook, &path);
    }
    if read_hook(&path)?.is_some_and(|content| !shim::is_shim(&content)) {
        return Err(Error::failed(format!("{} is not okstra's hook; left alone", path.display()))
            .hint("`git okstra hooks install` keeps it and calls it first (chains it)"));
    }
    std::fs::create_dir_all(&dir).map_err(|e| io_at("cannot create the hooks folder", &dir, e))?;
    install_one(hook, &path, &current_binary()?)
}

/// Whether `hooks install` ran in this repository (and `uninstall` has not run since).
pub fn is_recorded(repo: &Repo) -> bool {
    record_path(repo).is_file()
}

/// Remove the hooks. In a hooks folder other repositories use too (an absolute
/// `core.hooksPath`), only with `shared`: their hooks go with it.
pub fn uninstall(cwd: &Path, server: bool, shared: bool) -> Result<Outcome> {
    let repo = require_repo(cwd)?;
    let server = server || repo.is_bare();
    let record = read_record(&repo)?;
    let dir = record.as_ref().map(|r| r.hooks_dir.clone()).unwrap_or_else(|| repo.hooks_dir());
    let others = super::shared::others(&repo, &dir);
    if !others.is_empty() && !shared {
        let names: Vec<String> = others.iter().take(3).map(|p| p.display().to_string()).collect();
        let more = if others.len() > 3 { format!(" and {} more", others.len() - 3) } else { String::new() };
        return Err(Error::failed(format!(
            "the hooks folder {} is shared: {} other repositor{} use{} it ({}{more}); nothing was removed",
            dir.display(),
            others.len(),
            if others.len() == 1 { "y" } else { "ies" },
            if others.len() == 1 { "s" } else { "" },
            names.join(", ")
        ))
        .hint("`git okstra hooks uninstall --shared` removes the hooks for all of them; to stop only this repository using them, `git config --unset core.hooksPath` here"));
    }
    let retired: &[HookName] = if server { &[] } else { &HookName::RETIRED };
    let hooks = HookName::set(server)
        .iter()
        .chain(retired)
        .map(|hook| uninstall_one(*hook, &dir.join(hook.name())))
        .collect::<Result<Vec<_>>>()?;
    let hooks: Vec<HookReport> = hooks
        .into_iter()
        .filter(|h| !(retired.iter().any(|r| r.name() == h.name) && h.action == Action::Absent))
        .collect();
    let mut hooks_path_changed = None;
    if let Some(record) = &record {
        if let Some(before) = &record.hooks_path_before {
            // Only undo our own change: a value someone set since is theirs.
            if local_config(&repo, "core.hooksPath")?.as_deref().map(Path::new) == Some(record.hooks_dir.as_path()) {
                set_local_config(&repo, "core.hooksPath", Some(before.as_str()).filter(|b| !b.is_empty()))?;
                hooks_path_changed = Some(before.clone());
            }
        }
        if server {
            if let Some(before) = &record.deny_non_fast_forwards_before {
                set_local_config(
                    &repo,
                    "receive.denyNonFastForwards",
                    Some(before.as_str()).filter(|b| !b.is_empty()),
                )?;
            }
        }
        if !server {
            super::pushes::forget(&repo.common_dir)?;
        }
        super::shared::remove(&repo, &dir, shared)?;
        let p = record_path(&repo);
        std::fs::remove_file(&p).map_err(|e| io_at("cannot remove", &p, e))?;
    }
    Ok(Outcome { hooks_dir: dir, server, hooks, hooks_path_changed })
}

fn uninstall_one(hook: HookName, path: &Path) -> Result<HookReport> {
    let chained = chained_path(path);
    for tmp in [temp_of(path), temp_of(&chained)] {
        let _ = std::fs::remove_file(tmp);
    }
    let report = |action, chained| HookReport { name: hook.name(), path: path.to_path_buf(), action, chained };
    let restore = || std::fs::rename(&chained, path).map_err(|e| io_at("cannot restore", &chained, e));
    match (read_hook(path)?, read_hook(&chained)?) {
        // An install cut short between moving a hook aside and writing the shim (by earlier
        // versions, which renamed it): put it back.
        (None, Some(_)) => restore().map(|()| report(Action::Restored, Some(chained))),
        (None, None) => Ok(report(Action::Absent, None)),
        (Some(content), aside) if !shim::is_shim(&content) => {
            // Still in place, with the second name an install cut short gave it: drop that.
            if aside.is_some_and(|a| a == content) {
                std::fs::remove_file(&chained).map_err(|e| io_at("cannot remove", &chained, e))?;
            }
            Ok(report(Action::Foreign, None))
        }
        (Some(_), Some(_)) => restore().map(|()| report(Action::Restored, Some(chained))),
        (Some(_), None) => {
            std::fs::remove_file(path).map_err(|e| io_at("cannot remove", path, e))?;
            Ok(report(Action::Removed, None))
        }
    }
}

pub fn status(cwd: &Path, server: bool) -> Result<(PathBuf, bool, Vec<HookStatus>)> {
    let repo = require_repo(cwd)?;
    let server = server || repo.is_bare();
    let dir = repo.hooks_dir();
    let binary = current_binary()?;
    let mut hooks = HookName::set(server)
        .iter()
        .map(|hook| status_one(*hook, &dir.join(hook.name()), &binary))
        .collect::<Result<Vec<_>>>()?;
    if !server {
        for hook in HookName::RETIRED {
            let path = dir.join(hook.name());
            // okstra's own old shim, or a hook it set aside for it; a foreign hook of that name
            // alone is the user's.
            let chained = Some(chained_path(&path)).filter(|c| std::fs::symlink_metadata(c).is_ok());
            let content = read_hook(&path)?;
            let state = match &content {
                Some(c) if shim::is_shim(c) => State::Stale,
                _ if chained.is_some() => State::Missing,
                _ => continue,
            };
            let foreign = state == State::Missing && content.is_some();
            hooks.push(HookStatus { hook, name: hook.name(), path, state, chained, foreign, retired: true });
        }
    }
    Ok((dir, server, hooks))
}

/// The state of one hook, against what `binary` would install.
pub fn status_one(hook: HookName, path: &Path, binary: &Path) -> Result<HookStatus> {
    let (text, chained) = expected(hook, path, binary)?;
    let (state, foreign) = match read_hook(path)? {
        None => (State::Missing, false),
        Some(content) if !shim::is_shim(&content) => (State::Missing, true),
        Some(content) if content != text.as_bytes() => (State::Stale, false),
        Some(_) if chained.is_some() => (State::Chained, false),
        Some(_) => (State::Installed, false),
    };
    Ok(HookStatus { hook, name: hook.name(), path: path.to_path_buf(), state, chained, foreign, retired: false })
}

fn require_repo(cwd: &Path) -> Result<Repo> {
    Repo::discover(cwd)?.ok_or_else(|| crate::error::not_a_repository(cwd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_writes_okstra_shims_and_refuses_a_foreign_hook() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(tmp.path()).unwrap();
        git::run(&dir, &["init", "-q"]).unwrap();
        let hooks = dir.join(".git/hooks");
        std::fs::create_dir_all(&hooks).unwrap();
        let path = hooks.join("pre-commit");
        std::fs::write(&path, "#!/bin/sh\necho foreign\n").unwrap();

        let err = refresh(&dir, HookName::PreCommit).unwrap_err();
        assert!(err.message.contains("is not okstra's hook; left alone"), "{}", err.message);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "#!/bin/sh\necho foreign\n");

        std::fs::remove_file(&path).unwrap();
        assert_eq!(refresh(&dir, HookName::PreCommit).unwrap().action, Action::Created);
        assert!(shim::is_shim(&std::fs::read(&path).unwrap()));
        assert_eq!(refresh(&dir, HookName::PreCommit).unwrap().action, Action::Unchanged);
    }
}
