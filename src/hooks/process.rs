//! What the processes around a hook are: the git process that ran it (the hook's parent),
//! its command line and start time, and its own parent. Linux reads `/proc`; other systems ask
//! `ps`.

/// The pid of the git process that ran this hook.
pub fn parent() -> u32 {
    std::os::unix::process::parent_id()
}

/// The process start time as the kernel reports it (clock ticks since boot), Linux only.
pub fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22; the command name (field 2) may contain spaces and ')', so count after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19).map(str::to_string)
}

/// The argument vector of a process.
pub fn argv(pid: u32) -> Option<Vec<String>> {
    if let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) {
        let text = String::from_utf8_lossy(&raw);
        return Some(text.split('\0').filter(|a| !a.is_empty()).map(str::to_string).collect());
    }
    let pid = pid.to_string();
    let out = crate::git::exec("ps", &["-o", "args=", "-p", pid.as_str()], std::path::Path::new(".")).ok()?;
    out.ok().then(|| out.stdout.split_whitespace().map(str::to_string).collect())
}

/// The git subcommand of the command line of a process known to be git (`commit` for
/// `git -C x -c a=b commit -n`), also for the dashed form (`git-commit`). git looks at its
/// `argv[0]` only for the dashed form, so any other `argv[0]` (`exec -a foo git commit -n`) is
/// skipped as git skips it, never taken as proof that the process is not a commit.
pub fn git_subcommand(argv: &[String]) -> Option<String> {
    subcommand_at(argv).map(|(_, sub)| sub)
}

/// [`git_subcommand`] and the index of the first argument after it.
pub fn subcommand_at(argv: &[String]) -> Option<(usize, String)> {
    let program = argv.first()?;
    let base = program.rsplit('/').next().unwrap_or(program);
    if let Some(sub) = base.strip_prefix("git-") {
        return Some((1, sub.to_string()));
    }
    let mut i = 1;
    while let Some(a) = argv.get(i) {
        match a.as_str() {
            "-C" | "-c" | "--git-dir" | "--work-tree" | "--namespace" | "--config-env" | "--super-prefix" => i += 1,
            s if s.starts_with('-') => {}
            s => return Some((i + 1, s.to_string())),
        }
        i += 1;
    }
    None
}

/// The parent of process `pid` (field 4 of `/proc/<pid>/stat`; `ps` elsewhere).
pub fn parent_of(pid: u32) -> Option<u32> {
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        let rest = &stat[stat.rfind(')')? + 1..];
        return rest.split_whitespace().nth(1)?.parse().ok();
    }
    let pid = pid.to_string();
    let out = crate::git::exec("ps", &["-o", "ppid=", "-p", pid.as_str()], std::path::Path::new(".")).ok()?;
    out.stdout.trim().parse().ok()
}

/// Whether two processes run the same program file (Linux: `/proc/<pid>/exe`); `None` where
/// the system does not say.
pub fn same_program(a: u32, b: u32) -> Option<bool> {
    use std::os::unix::fs::MetadataExt;
    let meta = |pid: u32| std::fs::metadata(format!("/proc/{pid}/exe")).ok();
    let (a, b) = (meta(a)?, meta(b)?);
    Some(a.dev() == b.dev() && a.ino() == b.ino())
}

/// The git commands that run the sequencer, which commits without `pre-commit` by design.
pub const SEQUENCERS: [&str; 3] = ["rebase", "cherry-pick", "revert"];

/// Whether the git process `pid` (a `git commit` or `git merge`) was started by the sequencer:
/// its parent is the same git program running rebase, cherry-pick or revert. Decided from the
/// processes alone, never from `GIT_REFLOG_ACTION`, which anyone can set.
pub fn started_by_sequencer(pid: u32) -> bool {
    let Some(grandparent) = parent_of(pid).filter(|g| *g > 1) else { return false };
    let Some(argv) = argv(grandparent) else { return false };
    // Without /proc/<pid>/exe the program is told by its name.
    let is_git = match same_program(grandparent, pid) {
        Some(same) => same,
        None => argv.first().is_some_and(|p| p.rsplit('/').next().is_some_and(|b| b == "git" || b.starts_with("git-"))),
    };
    is_git && git_subcommand(&argv).is_some_and(|c| SEQUENCERS.contains(&c.as_str()))
}

/// Whether the git process `pid` (the `git commit` a hook runs for) was started by the user's
/// `git okstra handoff`: its parent runs this very program (the same executable file as the
/// hook's, where the system says; else by name) with the `handoff` or `task handoff`
/// subcommand. A copy of the binary, a renamed program or an `argv[0]` that only claims the
/// name is not it; only the direct parent counts, so nothing an agent starts below the
/// handoff (it starts none) could borrow it.
pub fn started_by_handoff(pid: u32) -> bool {
    let Some(parent) = parent_of(pid).filter(|p| *p > 1) else { return false };
    let Some(argv) = argv(parent) else { return false };
    let is_okstra = match same_program(parent, std::process::id()) {
        Some(same) => same,
        None => argv.first().is_some_and(|p| p.rsplit('/').next() == Some("git-okstra")),
    };
    is_okstra
        && okstra_subcommand(&argv).is_some_and(|words| matches!(words.as_slice(), ["handoff"] | ["task", "handoff"]))
}

/// The subcommand words of a `git-okstra` command line (`task handoff` for
/// `git-okstra -q task handoff DEV-1 --yes`): the global flags before it skipped, the words up
/// to the first option or, after `task`, the one word that names the task command.
fn okstra_subcommand(argv: &[String]) -> Option<Vec<&str>> {
    let mut words = argv.iter().skip(1).map(String::as_str).skip_while(|w| w.starts_with('-'));
    let first = words.next()?;
    Some(match first {
        "task" => vec![first, words.next()?],
        _ => vec![first],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn subcommands() {
        assert_eq!(git_subcommand(&v(&["git", "commit", "-n"])).as_deref(), Some("commit"));
        assert_eq!(
            git_subcommand(&v(&["/usr/bin/git", "-C", "x", "-c", "a=b", "--no-pager", "merge"])).as_deref(),
            Some("merge")
        );
        assert_eq!(git_subcommand(&v(&["/usr/libexec/git-core/git-commit", "-m", "x"])).as_deref(), Some("commit"));
        assert_eq!(git_subcommand(&v(&["sh", "-c", "git commit"])), None);
        // A forged argv[0] does not hide the command git runs.
        assert_eq!(git_subcommand(&v(&["gitrebase", "commit", "-n"])).as_deref(), Some("commit"));
        assert_eq!(git_subcommand(&v(&["foo", "--no-pager", "ci"])).as_deref(), Some("ci"));
        assert_eq!(git_subcommand(&v(&["git", "--bare"])), None);
    }

    #[test]
    fn okstra_subcommands() {
        assert_eq!(okstra_subcommand(&v(&["git-okstra", "handoff", "--yes"])), Some(vec!["handoff"]));
        assert_eq!(
            okstra_subcommand(&v(&["/b/git-okstra", "-q", "task", "handoff", "DEV-1"])),
            Some(vec!["task", "handoff"])
        );
        assert_eq!(okstra_subcommand(&v(&["git-okstra", "task", "phase", "handoff"])), Some(vec!["task", "phase"]));
        assert_eq!(okstra_subcommand(&v(&["git-okstra"])), None);
        // This test process is not git-okstra running handoff.
        assert!(!started_by_handoff(std::process::id()));
    }

    #[test]
    fn parents_and_programs() {
        let me = std::process::id();
        assert_eq!(parent_of(me), Some(parent()));
        assert_eq!(same_program(me, me), Some(true));
        // This test binary's parent (cargo, a shell) is another program.
        assert_eq!(same_program(me, parent()), Some(false));
        assert!(!started_by_sequencer(me));
    }
}
