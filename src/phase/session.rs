//! tmux sessions of detached agents (`task phase … --exec AGENT --detach`, `task attach`):
//! their names, starting one, what the server has, attaching.
//!
//! One session per task, named after the task key. tmux is found on `PATH` and talks to the
//! server its own environment names (`TMUX_TMPDIR`, `TMUX`), so okstra never picks a socket.
//! Processes start only through [`crate::git`].

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::git;
use crate::task::names::TaskKey;

/// Prefix of every session okstra starts, so `tmux ls` shows which are ours.
pub const PREFIX: &str = "okstra/";

/// The session name of a task: `okstra/<project>/<group>/<task>` (segments are sanitised, so
/// it never holds the `.` and `:` tmux reads as window and pane separators).
pub fn name(key: &TaskKey) -> String {
    format!("{PREFIX}{key}")
}

/// tmux on `PATH`, or the error `--detach` and `attach` give without it.
pub fn tmux() -> Result<PathBuf> {
    which::which("tmux").map_err(|_| {
        Error::failed("tmux was not found on PATH; detached agents run in tmux sessions")
            .hint("install tmux (`apt install tmux`, `brew install tmux`), or drop --detach to run the agent in this terminal")
    })
}

/// `-t` target matching exactly this session (a bare name would also match a prefix).
fn target(session: &str) -> String {
    format!("={session}")
}

fn run(tmux: &Path, args: &[OsString]) -> Result<git::Output> {
    git::exec(&tmux.to_string_lossy(), args, Path::new("/"))
}

/// A live session as the tmux server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    /// Seconds since the epoch of the session's last output (tmux `window_activity`).
    pub activity: i64,
}

/// The okstra sessions the tmux server has now, by name. No tmux, or no server running:
/// none (a session cannot live without its server).
pub fn live() -> HashMap<String, Live> {
    let Ok(tmux) = tmux() else { return HashMap::new() };
    let args: Vec<OsString> = ["list-sessions", "-F", "#{session_name}\t#{window_activity}"].map(OsString::from).into();
    let Ok(out) = run(&tmux, &args) else { return HashMap::new() };
    if !out.ok() {
        return HashMap::new();
    }
    out.stdout
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(n, _)| n.starts_with(PREFIX))
        .map(|(n, a)| (n.to_string(), Live { activity: a.trim().parse().unwrap_or(0) }))
        .collect()
}

/// What a detached session runs: `program args…` in `cwd`, with `env` set in the session.
pub struct Spec<'a> {
    pub session: &'a str,
    pub cwd: &'a Path,
    pub env: Vec<(&'static str, String)>,
    pub program: &'a Path,
    pub args: Vec<OsString>,
}

/// Start a detached session. tmux refuses a name that exists (so two starts racing for one
/// task cannot both succeed); its message is passed on.
pub fn start(tmux: &Path, spec: &Spec<'_>) -> Result<()> {
    let mut args: Vec<OsString> = vec!["new-session".into(), "-d".into(), "-s".into(), spec.session.into()];
    args.extend(["-c".into(), spec.cwd.as_os_str().to_os_string()]);
    // The server may be older than this shell: hand the session what the agent needs.
    for (k, v) in &spec.env {
        args.extend(["-e".into(), format!("{k}={v}").into()]);
    }
    args.push("--".into());
    args.push(spec.program.as_os_str().to_os_string());
    args.extend(spec.args.iter().cloned());
    let out = run(tmux, &args)?;
    if !out.ok() {
        return Err(Error::failed(format!("tmux could not start session '{}': {}", spec.session, out.summary())));
    }
    Ok(())
}

/// End a session (one whose agent has finished and only shows its last screen).
pub fn kill(tmux: &Path, session: &str) -> Result<()> {
    let args: Vec<OsString> = vec!["kill-session".into(), "-t".into(), target(session).into()];
    let out = run(tmux, &args)?;
    if !out.ok() {
        return Err(Error::failed(format!("tmux could not end session '{session}': {}", out.summary())));
    }
    Ok(())
}

/// Put the user in front of a session: switch this client when already inside tmux, else
/// attach this terminal. Returns tmux's exit code.
pub fn attach(tmux: &Path, session: &str) -> Result<i32> {
    let inside = std::env::var_os("TMUX").is_some_and(|v| !v.is_empty());
    let verb = if inside { "switch-client" } else { "attach-session" };
    let args = [verb, "-t", &target(session)];
    git::exec_attached(tmux, &args, Path::new("/"), &[], &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_task_key() {
        let key = TaskKey::new("shop", "default", "DEV-9436");
        assert_eq!(name(&key), "okstra/shop/default/dev-9436");
        assert_eq!(target("okstra/a/b/c"), "=okstra/a/b/c");
    }
}
