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

/// The git subcommand of a git command line (`commit` for `git -C x -c a=b commit -n`),
/// also for the dashed form (`git-commit`).
pub fn git_subcommand(argv: &[String]) -> Option<String> {
    let program = argv.first()?;
    let base = program.rsplit('/').next().unwrap_or(program);
    if let Some(sub) = base.strip_prefix("git-") {
        return Some(sub.to_string());
    }
    if base != "git" {
        return None;
    }
    let mut args = argv[1..].iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "-C" | "-c" | "--git-dir" | "--work-tree" | "--namespace" | "--config-env" | "--super-prefix" => {
                args.next();
            }
            s if s.starts_with('-') => {}
            s => return Some(s.to_string()),
        }
    }
    None
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
        assert_eq!(git_subcommand(&v(&["git", "--bare"])), None);
    }
}
