//! Test environment: a temp folder with its own `HOME` and `OKSTRA_HOME`, real git
//! repositories and bare remotes in it, and the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_git-okstra");

/// The lifecycle phases, in order.
pub const PHASES: [&str; 6] = [
    "requirements-discovery",
    "error-analysis",
    "implementation-planning",
    "implementation",
    "final-verification",
    "release-handoff",
];

/// Programs a test must never find on the machine's `PATH`: the installed okstra (a test
/// builds its own `PATH` to the binary under test) and the outside CLIs tests replace with
/// recording stand-ins.
const NEVER_FROM_MACHINE: &[&str] = &["git-okstra", "gh", "claude", "codex", "gemini", "cursor-agent"];

/// The machine's `PATH` with every program of [`NEVER_FROM_MACHINE`] taken out: a folder that
/// holds one is replaced by a folder of links to everything else in it (made once per test
/// process). So a test passes whatever the machine has installed (`cargo install --path .`
/// puts `git-okstra` in `~/.cargo/bin`, which is on the user's `PATH`).
pub fn clean_path() -> String {
    static CLEAN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CLEAN
        .get_or_init(|| {
            let inherited = std::env::var_os("PATH").unwrap_or_default();
            // Under cargo's own temp folder for tests; folders of earlier test processes go.
            let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clean-path");
            for old in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
                let gone = old.file_name().to_str().is_some_and(|pid| !Path::new("/proc").join(pid).exists());
                if gone {
                    let _ = std::fs::remove_dir_all(old.path());
                }
            }
            let shadow_root = parent.join(std::process::id().to_string());
            let mut out = Vec::new();
            for (i, dir) in std::env::split_paths(&inherited).enumerate() {
                if !NEVER_FROM_MACHINE.iter().any(|p| dir.join(p).exists()) {
                    out.push(dir);
                    continue;
                }
                let shadow = shadow_root.join(i.to_string());
                std::fs::create_dir_all(&shadow).unwrap();
                for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                    let name = entry.file_name();
                    if NEVER_FROM_MACHINE.iter().any(|p| name == std::ffi::OsStr::new(p)) {
                        continue;
                    }
                    let _ = std::os::unix::fs::symlink(entry.path(), shadow.join(&name));
                }
                out.push(shadow);
            }
            std::env::join_paths(out).unwrap().into_string().unwrap()
        })
        .clone()
}

/// `dir` before [`clean_path`].
pub fn path_with(dir: &Path) -> String {
    format!("{}:{}", dir.display(), clean_path())
}

/// Write an executable file. The bytes are written by a child process, never through a file
/// descriptor of this (multi-threaded) test process: a descriptor open for writing is
/// inherited by any child another test thread forks meanwhile, and executing the file then
/// fails with "Text file busy" (ETXTBSY) until that child has exec'd.
pub fn write_exec(path: &Path, content: impl AsRef<[u8]>) {
    write_exec_mode(path, content, 0o755)
}

/// [`write_exec`] with the file mode given.
pub fn write_exec_mode(path: &Path, content: impl AsRef<[u8]>, mode: u32) {
    use std::io::Write;
    let mut child = Command::new("sh")
        .args(["-c", r#"cat >"$1.tmp" && chmod "$2" "$1.tmp" && mv -f "$1.tmp" "$1""#, "sh"])
        .arg(path)
        .arg(format!("{mode:o}"))
        .stdin(Stdio::piped())
        .spawn()
        .expect("start sh");
    child.stdin.take().unwrap().write_all(content.as_ref()).unwrap();
    assert!(child.wait().unwrap().success(), "cannot write {}", path.display());
}

/// Copy an executable (the binary under test, say) the way [`write_exec`] writes one.
pub fn copy_exec(from: &Path, to: &Path) {
    let ok = Command::new("cp").arg(from).arg(to).status().expect("start cp").success();
    assert!(ok, "cannot copy {} to {}", from.display(), to.display());
}

pub struct Env {
    pub tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub okstra_home: PathBuf,
}

impl Drop for Env {
    /// Ends the tmux server a test may have started (in the test's own folder): a detached
    /// agent's session must not outlive its test.
    fn drop(&mut self) {
        if self.root().join("tmux").read_dir().is_ok_and(|mut d| d.next().is_some()) {
            let _ = self.command("tmux", &self.root()).arg("kill-server").stderr(Stdio::null()).status();
        }
    }
}

/// The result of running a command, with text fields for asserting.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
    #[track_caller]
    pub fn fails(self, code: i32) -> Run {
        assert_eq!(self.code, code, "expected exit {code}\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

impl Env {
    pub fn new() -> Env {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let home = root.join("home");
        let okstra_home = root.join("okstra-home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(root.join("tmux")).unwrap();
        std::fs::write(
            home.join(".gitconfig"),
            "[user]\n\tname = Test User\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n",
        )
        .unwrap();
        Env { tmp, home, okstra_home }
    }

    pub fn root(&self) -> PathBuf {
        self.home.parent().unwrap().to_path_buf()
    }

    fn apply(&self, cmd: &mut Command) {
        cmd.env("HOME", &self.home)
            .env("OKSTRA_HOME", &self.okstra_home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("NO_COLOR", "1")
            .env("PATH", clean_path())
            .env_remove("OKSTRA_WORKTREE_SYNC_DIRS")
            .env_remove("OKSTRA_ALLOW")
            .env_remove("OKSTRA_DEFAULT_EXECUTOR")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            // Any tmux a test starts talks to a server of its own, never to the user's.
            .env_remove("TMUX")
            .env("TMUX_TMPDIR", self.root().join("tmux"))
            .stdin(Stdio::null());
    }

    /// A command with this environment, run in `cwd`.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>, cwd: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(cwd);
        self.apply(&mut cmd);
        cmd
    }

    /// Run `git args` in `cwd`; panics on failure.
    #[track_caller]
    pub fn git(&self, cwd: &Path, args: &[&str]) -> String {
        let r = self.git_run(cwd, args);
        assert_eq!(r.code, 0, "git {args:?} failed in {}:\n{}{}", cwd.display(), r.stdout, r.stderr);
        r.stdout.trim_end().to_string()
    }

    pub fn git_run(&self, cwd: &Path, args: &[&str]) -> Run {
        Run::from(self.command("git", cwd).args(args).output().expect("run git"))
    }

    /// Run the binary as `git-okstra args` in `cwd`.
    pub fn okstra(&self, cwd: &Path, args: &[&str]) -> Run {
        Run::from(self.command(BIN, cwd).args(args).output().expect("run git-okstra"))
    }

    /// Run the binary with extra environment variables.
    pub fn okstra_env(&self, cwd: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(BIN, cwd);
        cmd.args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        Run::from(cmd.output().expect("run git-okstra"))
    }

    /// A new repository `name` with one commit on `main`.
    pub fn repo(&self, name: &str) -> PathBuf {
        let dir = self.root().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        self.git(&dir, &["init", "-q", "-b", "main"]);
        std::fs::write(dir.join("README.md"), format!("# {name}\n")).unwrap();
        self.git(&dir, &["add", "README.md"]);
        self.git(&dir, &["commit", "-q", "-m", "initial commit"]);
        dir
    }

    /// A bare `origin` for `repo` with `main` pushed, plus the given extra branches.
    pub fn origin(&self, repo: &Path, branches: &[&str]) -> PathBuf {
        let bare = self.root().join(format!("{}-origin.git", repo.file_name().unwrap().to_string_lossy()));
        self.git(&self.root(), &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
        self.git(repo, &["remote", "add", "origin", bare.to_str().unwrap()]);
        let mut args = vec!["push".to_string(), "-q".into(), "origin".into(), "main".into()];
        args.extend(branches.iter().map(|b| format!("main:{b}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.git(repo, &args);
        self.git(repo, &["fetch", "-q", "origin"]);
        bare
    }

    /// Run `tmux args` against this environment's own server.
    pub fn tmux(&self, args: &[&str]) -> Run {
        Run::from(self.command("tmux", &self.root()).args(args).output().expect("run tmux"))
    }

    pub fn registry_path(&self) -> PathBuf {
        self.okstra_home.join("worktrees").join("registry.json")
    }

    pub fn registry(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.registry_path()).expect("registry exists");
        serde_json::from_str(&text).expect("registry parses")
    }

    /// Commit a file change in `dir`.
    pub fn commit_file(&self, dir: &Path, file: &str, content: &str, msg: &str) {
        std::fs::write(dir.join(file), content).unwrap();
        self.git(dir, &["add", "--", file]);
        self.git(dir, &["commit", "-q", "-m", msg]);
    }
}

/// A small seeded generator (xorshift), so that a failing state can be rebuilt from its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

impl Env {
    /// `commits` commits on top of `repo`'s HEAD, made with `git commit-tree` (same tree) within
    /// one second: a history with merges where commit times settle nothing. Each commit goes
    /// on one of the last `spread` commits, or in `wide` cases of ten on any earlier one, and
    /// one in five is a merge with another of the same choice (the fewer `spread` and `wide`,
    /// the longer its lines). Oldest first, HEAD's commit first of all; no ref points at them.
    pub fn one_second_history(
        &self,
        repo: &Path,
        commits: usize,
        spread: usize,
        wide: usize,
        rng: &mut Rng,
    ) -> Vec<String> {
        let tree = self.git(repo, &["rev-parse", "HEAD^{tree}"]);
        let mut made = vec![self.git(repo, &["rev-parse", "HEAD"])];
        for i in 0..commits {
            let pool = if rng.below(10) < 10 - wide { &made[made.len().saturating_sub(spread)..] } else { &made[..] };
            let mut parents = vec![pool[rng.below(pool.len())].clone()];
            if rng.below(5) == 0 {
                let other = pool[rng.below(pool.len())].clone();
                if !parents.contains(&other) {
                    parents.push(other);
                }
            }
            let message = format!("c{i}");
            let mut args = vec!["commit-tree", &tree, "-m", &message];
            for p in &parents {
                args.extend(["-p", p]);
            }
            let out = self
                .command("git", repo)
                .args(&args)
                .env("GIT_COMMITTER_DATE", "1700000000 +0000")
                .env("GIT_AUTHOR_DATE", "1700000000 +0000")
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            made.push(String::from_utf8(out.stdout).unwrap().trim().to_string());
        }
        made
    }
}
