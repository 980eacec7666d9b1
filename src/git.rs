//! The git boundary. Facts are read in-process with gix ([`Repo`], and the board's change
//! counts, [`change_counts`]); every mutation, and the reads gix does not model (a status
//! listing paths), runs the real `git` through [`run`], the one place that spawns git.
//! Nothing else in the crate starts a git process.

mod status;

use std::cell::OnceCell;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::output;

/// An open repository and where its parts are.
pub struct Repo {
    repo: gix::Repository,
    /// The main worktree's repository, opened on first use: only a linked worktree needs a
    /// second open, and the hot hook paths (`pre-push`, the stamps) never ask for it.
    main: OnceCell<Option<gix::Repository>>,
    /// Top of the main worktree (canonical), found on first use.
    main_worktree: OnceCell<PathBuf>,
    /// The shared git dir (canonical).
    pub common_dir: PathBuf,
    /// Top of the worktree the caller stands in, if any (canonical).
    pub current_worktree: Option<PathBuf>,
    /// Whether the caller stands in a linked (non-main) worktree.
    pub is_linked: bool,
}

/// The main worktree of the conventional layout, `<main worktree>/.git`; the common dir itself
/// otherwise (a bare repository, a separate git dir).
fn conventional_main_worktree(common_dir: &Path) -> PathBuf {
    match (common_dir.file_name(), common_dir.parent()) {
        (Some(n), Some(top)) if n == ".git" => top.to_path_buf(),
        _ => common_dir.to_path_buf(),
    }
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

impl Repo {
    /// Discover the repository around `dir`, honouring `GIT_DIR` and friends.
    /// `Ok(None)`: not inside a git repository.
    pub fn discover(dir: &Path) -> Result<Option<Repo>> {
        let repo = match gix::discover_with_environment_overrides(dir) {
            Ok(r) => r,
            Err(e) => {
                use gix::discover::upwards::Error as Up;
                let outside = std::env::var_os("GIT_DIR").is_none()
                    && matches!(
                        e.downcast_any_ref::<Up>(),
                        Some(Up::NoGitRepository { .. } | Up::NoGitRepositoryWithinCeiling { .. })
                    );
                if outside {
                    return Ok(None);
                }
                return Err(Error::failed(format!("cannot open the git repository at {}: {e}", dir.display())));
            }
        };
        Self::from_gix(repo)
    }

    /// Open a repository at an exact path (no environment overrides).
    pub fn open(dir: &Path) -> Result<Repo> {
        let repo = gix::open(dir)
            .map_err(|e| Error::failed(format!("cannot open the git repository at {}: {e}", dir.display())))?;
        Self::from_gix(repo).map(|r| r.expect("opened"))
    }

    fn from_gix(repo: gix::Repository) -> Result<Option<Repo>> {
        let is_linked = repo.kind() == gix::repository::Kind::LinkedWorkTree;
        let common_dir = canon(&repo.current_dir().join(repo.common_dir()));
        let current_worktree = repo.workdir().map(|w| canon(&repo.current_dir().join(w)));
        Ok(Some(Repo {
            repo,
            main: OnceCell::new(),
            main_worktree: OnceCell::new(),
            common_dir,
            current_worktree,
            is_linked,
        }))
    }

    /// The main worktree's repository: the one opened, unless that is a linked worktree.
    /// gix finds it through the linked worktree's git dir, which is gone once that worktree
    /// is removed; then the common dir as found at discovery opens it. `None` only if neither
    /// can be opened.
    fn opened_main(&self) -> Option<&gix::Repository> {
        if !self.is_linked {
            return Some(&self.repo);
        }
        self.main
            .get_or_init(|| {
                self.repo
                    .main_repo()
                    .or_else(|_| gix::open(&self.common_dir))
                    .map_err(|e| output::debug(format!("cannot open the main repository: {e}")))
                    .ok()
            })
            .as_ref()
    }

    /// [`Self::opened_main`], or this worktree's handle, which shares every ref and object.
    fn main(&self) -> &gix::Repository {
        self.opened_main().unwrap_or(&self.repo)
    }

    /// Top of the main worktree (canonical); the common dir for a bare repository.
    pub fn main_worktree(&self) -> &Path {
        self.main_worktree.get_or_init(|| match self.opened_main().map(|m| m.workdir()) {
            Some(Some(w)) => canon(&self.repo.current_dir().join(w)),
            Some(None) => self.common_dir.clone(),
            None => conventional_main_worktree(&self.common_dir),
        })
    }

    pub fn is_bare(&self) -> bool {
        self.main().is_bare()
    }

    /// Full SHA of the main worktree's `HEAD`; `None` when it is unborn.
    pub fn main_head(&self) -> Result<Option<String>> {
        let head = self.main().head().map_err(|e| Error::failed(format!("cannot read HEAD: {e}")))?;
        Ok(head.id().map(|id| id.to_string()))
    }

    /// The branch the main worktree has checked out (`main`), `None` when its HEAD is detached.
    pub fn main_head_branch(&self) -> Option<String> {
        let head = self.main().head_name().ok()??;
        Some(head.shorten().to_string())
    }

    /// Resolve a revision to the full SHA of the commit it names.
    pub fn resolve_commit(&self, spec: &str) -> Result<String> {
        let id = self.repo.rev_parse_single(format!("{spec}^{{commit}}").as_str()).map_err(|_| {
            Error::failed(format!("'{spec}' does not name a commit"))
                .hint("check the ref with `git rev-parse --verify <ref>`")
        })?;
        Ok(id.detach().to_string())
    }

    /// The SHA a local branch points at, if it exists.
    pub fn branch_oid(&self, branch: &str) -> Option<String> {
        // Branch refs are shared by all worktrees; ask the main repository, which outlives
        // the linked worktree the caller may stand in (and may be removing).
        let mut r = self.main().try_find_reference(format!("refs/heads/{branch}").as_str()).ok()??;
        r.peel_to_id().ok().map(|id| id.detach().to_string())
    }

    pub fn branch_exists(&self, branch: &str) -> bool {
        self.main().try_find_reference(format!("refs/heads/{branch}").as_str()).ok().flatten().is_some()
    }

    /// The refs `name` leads to when it is a symbolic ref, in order (at most 5 steps: git's own
    /// limit is deeper, but a loop must end); empty for a plain ref or none.
    pub fn symref_chain(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut current = name.to_string();
        while out.len() < 5 {
            let Ok(Some(r)) = self.repo.try_find_reference(current.as_str()) else { break };
            let gix::refs::TargetRef::Symbolic(target) = r.target() else { break };
            current = target.as_bstr().to_string();
            if out.contains(&current) {
                break;
            }
            out.push(current.clone());
        }
        out
    }

    /// Whether the object `oid` (full hex) is in this repository.
    pub fn has_object(&self, oid: &str) -> bool {
        gix::ObjectId::from_hex(oid.as_bytes()).is_ok_and(|id| self.repo.has_object(id))
    }

    /// Whether `ancestor` is reachable from `descendant`. `None`: an object is not present locally.
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Option<bool> {
        let a = gix::ObjectId::from_hex(ancestor.as_bytes()).ok()?;
        let d = gix::ObjectId::from_hex(descendant.as_bytes()).ok()?;
        if a == d {
            return Some(true);
        }
        // Most pushes move a branch a few commits ahead: finding the old tip among the new
        // one's first ancestors settles it without setting up a merge-base search.
        if self.reaches_within(d, a, 64) {
            return Some(true);
        }
        self.repo.find_object(a).ok()?;
        self.repo.find_object(d).ok()?;
        match self.repo.merge_base(a, d) {
            Ok(Some(base)) => Some(base.detach() == a),
            Ok(None) => Some(false),
            Err(_) => None,
        }
    }

    /// Whether `target` is among the first `budget` commits reached from `start` through
    /// parents, breadth first. `false` says only that it was not found within the budget.
    fn reaches_within(&self, start: gix::ObjectId, target: gix::ObjectId, budget: usize) -> bool {
        let mut queue = std::collections::VecDeque::from([start]);
        let mut seen = std::collections::HashSet::from([start]);
        while let Some(id) = queue.pop_front() {
            if seen.len() > budget {
                return false;
            }
            let Ok(commit) = self.repo.find_commit(id) else { return false };
            for parent in commit.parent_ids() {
                if parent == target {
                    return true;
                }
                if seen.insert(parent.detach()) {
                    queue.push_back(parent.detach());
                }
            }
        }
        false
    }

    /// Commits on `tip` that `base` lacks, and on `base` that `tip` lacks (`git rev-list
    /// --left-right --count base...tip`, in-process), both given as full SHAs. `None` when
    /// either is not a commit here.
    ///
    /// Both histories are painted newest first, each commit with the sides it is reached
    /// from, until only commits reached from both are left. gix's walk with hidden tips stops
    /// that painting as soon as every queued commit is reached from both, which miscounts
    /// where commits share a timestamp (a script's or an agent's commits made within one
    /// second, a rebase's picks): a commit already taken as one side's may still be reached
    /// from the other through a queued commit of the same second. So the painting here also
    /// goes on while a queued commit is as new as the oldest commit taken as one side's
    /// (commit times are assumed not to go back along parents, as git assumes too).
    pub fn ahead_behind(&self, tip: &str, base: &str) -> Option<(usize, usize)> {
        use std::collections::hash_map::Entry;
        use std::collections::{BinaryHeap, HashMap, HashSet};
        const TIP: u8 = 1;
        const BASE: u8 = 2;
        const BOTH: u8 = TIP | BASE;
        // Full SHAs, not revisions: a rev-parse would first look each up as a ref name.
        let tip = gix::ObjectId::from_hex(tip.as_bytes()).ok()?;
        let base = gix::ObjectId::from_hex(base.as_bytes()).ok()?;
        if tip == base {
            return Some((0, 0));
        }
        let repo = self.main();
        // Each commit's time and parents, read once.
        type Commits = HashMap<gix::ObjectId, (i64, Vec<gix::ObjectId>)>;
        let mut commits = Commits::new();
        let read = |commits: &mut Commits, id: gix::ObjectId| -> Option<i64> {
            if let Some((time, _)) = commits.get(&id) {
                return Some(*time);
            }
            let commit = repo.find_commit(id).ok()?;
            let time = commit.time().ok()?.seconds;
            commits.insert(id, (time, commit.parent_ids().map(|p| p.detach()).collect()));
            Some(time)
        };
        let mut sides: HashMap<gix::ObjectId, u8> = HashMap::from([(tip, TIP), (base, BASE)]);
        let mut queue = BinaryHeap::from([(read(&mut commits, tip)?, tip), (read(&mut commits, base)?, base)]);
        // Queued commits not yet reached from both sides.
        let mut open: HashSet<gix::ObjectId> = HashSet::from([tip, base]);
        let mut oldest_one_sided = i64::MAX;
        while let Some(&(time, _)) = queue.peek() {
            if open.is_empty() && time < oldest_one_sided {
                break;
            }
            let (time, id) = queue.pop().expect("peeked");
            open.remove(&id);
            let side = sides[&id];
            if side != BOTH {
                oldest_one_sided = oldest_one_sided.min(time);
            }
            let parents = commits[&id].1.clone();
            for parent in parents {
                if sides.get(&parent).is_some_and(|s| s & side == side) {
                    continue;
                }
                // A parent that is not here (past a shallow clone's boundary) is no commit
                // of either side, as for git.
                let Some(parent_time) = read(&mut commits, parent) else { continue };
                let now = match sides.entry(parent) {
                    Entry::Occupied(mut e) => {
                        *e.get_mut() |= side;
                        *e.get()
                    }
                    Entry::Vacant(e) => *e.insert(side),
                };
                queue.push((parent_time, parent));
                if now == BOTH {
                    open.remove(&parent);
                } else {
                    open.insert(parent);
                }
            }
        }
        let count = |want: u8| sides.values().filter(|s| **s == want).count();
        Some((count(TIP), count(BASE)))
    }

    pub fn config_string(&self, key: &str) -> Option<String> {
        self.repo.config_snapshot().string(key).map(|s| s.to_string())
    }

    pub fn config_strings(&self, key: &str) -> Option<Vec<String>> {
        self.repo.config_snapshot().strings(key).map(|v| v.into_iter().map(|s| s.to_string()).collect())
    }

    /// The remotes configured for this repository: name, URLs (`url`, `pushurl`) and fetch
    /// refspecs, as git would read them (every config file, `-c` included).
    pub fn remotes(&self) -> Vec<RemoteConfig> {
        let snapshot = self.repo.config_snapshot();
        let Some(sections) = snapshot.plumbing().sections_by_name("remote") else { return vec![] };
        let mut out: Vec<RemoteConfig> = Vec::new();
        for section in sections {
            let Some(name) = section.header().subsection_name() else { continue };
            let name = name.to_string();
            let strings = |key: &str| section.values(key).into_iter().map(|v| v.to_string()).collect::<Vec<_>>();
            let (mut urls, fetch) = (strings("url"), strings("fetch"));
            urls.extend(strings("pushurl"));
            match out.iter_mut().find(|r| r.name == name) {
                Some(r) => {
                    r.urls.extend(urls);
                    r.fetch.extend(fetch);
                }
                None => out.push(RemoteConfig { name, urls, fetch }),
            }
        }
        out
    }

    /// Where hooks live: `core.hooksPath` (made absolute against the main worktree), else `<common dir>/hooks`.
    pub fn hooks_dir(&self) -> PathBuf {
        match self.config_string("core.hooksPath") {
            Some(p) if !p.is_empty() => {
                let p = expand_tilde(&p);
                if p.is_absolute() {
                    p
                } else {
                    self.main_worktree().join(p)
                }
            }
            _ => self.common_dir.join("hooks"),
        }
    }

    /// The commits the `HEAD` reflog of the worktree this repository was opened in names,
    /// oldest first, each once. Empty without a reflog.
    pub fn head_reflog(&self) -> Vec<String> {
        let Ok(head) = self.repo.head() else { return Vec::new() };
        let mut platform = head.log_iter();
        let Ok(Some(lines)) = platform.all() else { return Vec::new() };
        let mut seen = std::collections::HashSet::new();
        lines
            .filter_map(|l| l.ok())
            .map(|l| l.new_oid().to_string())
            .filter(|oid| !oid.bytes().all(|b| b == b'0') && seen.insert(oid.clone()))
            .collect()
    }

    /// Whether git tracks `path` (relative to the top of the worktree this repository was
    /// opened in), or anything below it. An index that cannot be read counts as tracking it:
    /// callers use this to leave tracked content alone.
    pub fn tracks(&self, path: &str) -> bool {
        use gix::bstr::ByteSlice;
        let Ok(index) = self.repo.index_or_empty() else { return true };
        let below = format!("{}/", path.trim_end_matches('/'));
        index.entry_by_path(path.as_bytes().as_bstr()).is_some()
            || index.prefixed_entries(below.as_bytes().as_bstr()).is_some_and(|e| !e.is_empty())
    }

    /// The branch `HEAD` names in the worktree this handle was opened for (`None`: detached
    /// or unborn-less reads failed).
    pub fn head_branch(&self) -> Option<String> {
        let name = self.repo.head_name().ok()??;
        Some(name.shorten().to_string())
    }

    /// Whether a revision (branch, tag, commit, `HEAD~2`) resolves in this repository.
    pub fn resolves(&self, spec: &str) -> bool {
        self.repo.rev_parse_single(spec).is_ok()
    }

    /// Whether some remote has a branch of this name (`git checkout <name>` then creates it).
    pub fn remote_branch_named(&self, name: &str) -> bool {
        let Ok(platform) = self.repo.references() else { return false };
        let Ok(iter) = platform.prefixed("refs/remotes/") else { return false };
        let suffix = format!("/{name}");
        iter.flatten().any(|r| r.name().as_bstr().to_string().ends_with(&suffix))
    }

    /// This worktree's own git dir (`.git`, or `.git/worktrees/<id>` for a linked one).
    pub fn git_dir(&self) -> PathBuf {
        canon(self.repo.git_dir())
    }

    /// `alias.<name>` values (section without subsection), in config order, names as written.
    pub fn aliases(&self) -> Vec<(String, String)> {
        let config = self.repo.config_snapshot();
        let Some(sections) = config.plumbing().sections_by_name("alias") else { return Vec::new() };
        let mut out = Vec::new();
        for section in sections.filter(|s| s.header().subsection_name().is_none()) {
            for name in section.value_names() {
                if let Some(value) = section.value(&name) {
                    out.push((name.to_string(), value.to_string()));
                }
            }
        }
        out
    }

    /// The underlying gix handle, for reads this type does not wrap yet.
    pub fn gix(&self) -> &gix::Repository {
        &self.repo
    }
}

/// Values of `key` in the user's own config files (`~/.gitconfig`, `$XDG_CONFIG_HOME/git/config`),
/// read without includes: what no repository-level file, included file or `-c` can add to.
pub fn user_config_strings(key: &str) -> Vec<String> {
    let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from) else { return Vec::new() };
    let xdg = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()).map(PathBuf::from);
    let files = [xdg.unwrap_or_else(|| home.join(".config")).join("git/config"), home.join(".gitconfig")];
    let mut out = Vec::new();
    for f in files.into_iter().filter(|f| f.is_file()) {
        if let Ok(file) = gix::config::File::from_path_no_includes(f, gix::config::Source::User) {
            out.extend(file.strings(key).unwrap_or_default().into_iter().map(|v| v.to_string()));
        }
    }
    out
}

/// One `[remote "<name>"]` of the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteConfig {
    pub name: String,
    /// `url` and `pushurl` values, as written.
    pub urls: Vec<String>,
    /// `fetch` refspecs, as written (`+refs/heads/*:refs/remotes/origin/*`).
    pub fetch: Vec<String>,
}

fn expand_tilde(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// What a finished git (or other tool) process left behind.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.code == 0
    }
    /// The first non-empty line of stderr (else stdout): a one-line summary.
    pub fn summary(&self) -> String {
        self.stderr.lines().chain(self.stdout.lines()).map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_string()
    }
}

/// Environment variables a parent git (e.g. a hook's) sets that would point a child git at
/// the wrong repository or index.
pub const GIT_LOCAL_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
];

/// Run `program args…` in `cwd`, capturing output; logs the command with `-v`.
/// Never fails because of the exit code: callers decide (see [`run`]).
pub fn exec<S: AsRef<std::ffi::OsStr>>(program: &str, args: &[S], cwd: &Path) -> Result<Output> {
    exec_env(program, args, cwd, program == "git")
}

/// [`exec`] keeping the whole environment: for a server hook whose git must see the objects
/// in receive's quarantine folder (`GIT_OBJECT_DIRECTORY`, `GIT_ALTERNATE_OBJECT_DIRECTORIES`).
pub fn exec_in_hook_env<S: AsRef<std::ffi::OsStr>>(program: &str, args: &[S], cwd: &Path) -> Result<Output> {
    exec_env(program, args, cwd, false)
}

fn exec_env<S: AsRef<std::ffi::OsStr>>(program: &str, args: &[S], cwd: &Path, clear_git_env: bool) -> Result<Output> {
    exec_input(program, args, cwd, clear_git_env, None)
}

fn exec_input<S: AsRef<std::ffi::OsStr>>(
    program: &str,
    args: &[S],
    cwd: &Path,
    clear_git_env: bool,
    input: Option<&[u8]>,
) -> Result<Output> {
    let argv: Vec<OsString> = args.iter().map(|a| a.as_ref().to_os_string()).collect();
    output::debug(format!(
        "+ (cd {} && {program} {})",
        cwd.display(),
        argv.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
    ));
    let expr = duct::cmd(program, &argv).dir(cwd);
    let expr = match input {
        Some(bytes) => expr.stdin_bytes(bytes.to_vec()),
        None => expr.stdin_null(),
    };
    let mut expr = expr.stdout_capture().stderr_capture().unchecked();
    if clear_git_env {
        for var in GIT_LOCAL_ENV {
            expr = expr.env_remove(var);
        }
    }
    let out = expr.run().map_err(|e| Error::failed(format!("cannot run {program}: {e}")))?;
    Ok(Output {
        code: out.status.code().unwrap_or(128),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Run git in `cwd`; a non-zero exit becomes an error carrying git's own message.
pub fn run<S: AsRef<std::ffi::OsStr>>(cwd: &Path, args: &[S]) -> Result<Output> {
    checked(args, exec("git", args, cwd)?)
}

/// [`run`] with `input` on git's stdin: for `--stdin` lists too long for a command line.
pub fn run_input<S: AsRef<std::ffi::OsStr>>(cwd: &Path, args: &[S], input: &[u8]) -> Result<Output> {
    checked(args, exec_input("git", args, cwd, true, Some(input))?)
}

fn checked<S: AsRef<std::ffi::OsStr>>(args: &[S], out: Output) -> Result<Output> {
    if !out.ok() {
        let what = args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
        return Err(Error::failed(format!("git {what} failed: {}", out.summary())));
    }
    Ok(out)
}

/// One worktree as `git worktree list --porcelain -z` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListedWorktree {
    pub path: PathBuf,
    /// The branch checked out (`refs/heads/` taken off); `None` when detached or bare.
    pub branch: Option<String>,
    /// git marks it prunable: its folder is gone.
    pub prunable: bool,
}

/// `git worktree list --porcelain -z` of the repository at `repo`, main worktree first.
pub fn worktree_list(repo: &Path) -> Result<Vec<ListedWorktree>> {
    let out = run(repo, &["worktree", "list", "--porcelain", "-z"])?;
    let mut list: Vec<ListedWorktree> = Vec::new();
    for field in out.stdout.split('\0') {
        if let Some(p) = field.strip_prefix("worktree ") {
            list.push(ListedWorktree { path: PathBuf::from(p), ..Default::default() });
        } else if let Some(wt) = list.last_mut() {
            if let Some(b) = field.strip_prefix("branch refs/heads/") {
                wt.branch = Some(b.to_string());
            } else if field == "prunable" || field.starts_with("prunable ") {
                wt.prunable = true;
            }
        }
    }
    Ok(list)
}

/// The arguments of the `git status` that [`worktree_status`] and the board's change counts run.
/// `--no-optional-locks`: a read never takes `index.lock` to save its refreshed index, which
/// would make an agent's own `git add` in that worktree fail meanwhile (and costs a write).
pub const STATUS_ARGS: &[&str] = &["--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=normal"];

/// How many paths a `git status --porcelain=v1 -z` output lists (a rename or copy entry is
/// followed by its source path, which is not counted again).
pub fn count_status_entries(stdout: &str) -> usize {
    let mut fields = stdout.split('\0').filter(|f| !f.is_empty());
    let mut n = 0;
    while let Some(entry) = fields.next() {
        n += 1;
        if matches!(entry.as_bytes().first(), Some(b'R' | b'C')) {
            fields.next();
        }
    }
    n
}

/// `git status --porcelain` of a worktree: `Some(true)` if it has changes or untracked files.
pub fn is_dirty(worktree: &Path) -> Result<bool> {
    Ok(!worktree_status(worktree, false)?.changed.is_empty())
}

/// What a worktree holds beyond its commits, from `git status --porcelain=v1 -z`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorktreeStatus {
    /// Changed, staged or untracked paths (an untracked folder is one path, `dir/`).
    pub changed: Vec<String>,
    /// Ignored paths (with `ignored`): what matches an ignore rule, an ignored folder as one
    /// path (`build/`), whatever it holds, nested repositories included.
    pub ignored: Vec<String>,
}

pub fn worktree_status(worktree: &Path, ignored: bool) -> Result<WorktreeStatus> {
    let mut args = STATUS_ARGS.to_vec();
    if ignored {
        args.push("--ignored=matching");
    }
    let out = run(worktree, &args)?;
    let mut status = WorktreeStatus::default();
    let mut entries = out.stdout.split('\0').filter(|e| !e.is_empty());
    while let Some(e) = entries.next() {
        let (Some(xy), Some(path)) = (e.get(..2), e.get(3..)) else { continue };
        let path = path.to_string();
        if xy == "!!" {
            status.ignored.push(path);
            continue;
        }
        // a rename or copy is followed by its source path
        if xy.starts_with(['R', 'C']) {
            entries.next();
        }
        status.changed.push(path);
    }
    Ok(status)
}

/// One process for [`exec_parallel`]: program, arguments, folder.
#[derive(Debug, Clone)]
pub struct Job {
    pub program: String,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
}

/// Run independent processes at once (at most `max` at a time), as [`exec`] runs each one;
/// the outputs come back in the order of `jobs`. For reads that cost a process per worktree
/// or per pull request (`git status`, `gh pr view`), where waiting on each in turn is most of
/// the time.
pub fn exec_parallel(jobs: &[Job], max: usize) -> Vec<Result<Output>> {
    parallel_map(jobs, max, |job| exec(&job.program, &job.args, &job.cwd))
}

/// `f` of each item, on up to `max` threads at once, in the order of `items`.
fn parallel_map<T: Sync, R: Send>(items: &[T], max: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..max.clamp(1, items.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let out = f(item);
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(out);
            });
        }
    });
    // Every index below `items.len()` was taken by one thread, which stored its result (a
    // thread that panicked has already ended the scope with that panic).
    results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().map(|r| r.expect("every item ran")).collect()
}

/// The changed and untracked paths in each worktree, as many as `git status --porcelain=v1
/// --untracked-files=normal` lists (a rename once), in the order of `worktrees`. Counted
/// in-process where the worktree's state allows (see [`status`]), else by running
/// `git status` ([`STATUS_ARGS`]); neither takes `index.lock`. One thread per core: the
/// work is `lstat` calls and CPU, so more threads only contend (measured: 4 or 8 threads
/// on 2 cores were no faster than 2).
pub fn change_counts(worktrees: &[PathBuf]) -> Vec<Result<usize>> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    parallel_map(worktrees, cores, |wt| match status::count_changes(wt) {
        Some(n) => Ok(n),
        None => checked(STATUS_ARGS, exec("git", STATUS_ARGS, wt)?).map(|o| count_status_entries(&o.stdout)),
    })
}

/// How many processes [`exec_parallel`] runs at once: process starts and waits on the disk
/// dominate, so a few more than the cores.
pub fn parallelism() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).saturating_mul(4).min(16)
}

/// Whether a process with this pid exists (it may belong to another user: `EPERM`).
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Installed git version as (major, minor).
pub fn version(cwd: &Path) -> Result<(u32, u32)> {
    let out = run(cwd, &["--version"])?;
    let nums: Vec<u32> =
        out.stdout.split_whitespace().nth(2).unwrap_or("").split('.').take(2).filter_map(|n| n.parse().ok()).collect();
    match nums.as_slice() {
        [maj, min] => Ok((*maj, *min)),
        _ => Err(Error::failed(format!("cannot read the git version from '{}'", out.stdout.trim().escape_debug()))),
    }
}

/// Run `program args…` in `cwd` attached to the caller's terminal (stdin, stdout and stderr
/// inherited): for programs the user works with directly, such as an agent CLI. `env` is
/// added to the environment; `remove` and git's repository variables are taken out of it.
/// Returns the exit code (128 + signal number when the program was killed).
pub fn exec_attached<S: AsRef<std::ffi::OsStr>>(
    program: &Path,
    args: &[S],
    cwd: &Path,
    env: &[(&str, String)],
    remove: &[&str],
) -> Result<i32> {
    use std::os::unix::process::ExitStatusExt;
    let argv: Vec<OsString> = args.iter().map(|a| a.as_ref().to_os_string()).collect();
    output::debug(format!("+ (cd {} && {} …{} argument(s))", cwd.display(), program.display(), argv.len()));
    let mut expr = duct::cmd(program, &argv).dir(cwd).unchecked();
    for var in GIT_LOCAL_ENV.iter().chain(remove) {
        expr = expr.env_remove(var);
    }
    for (k, v) in env {
        expr = expr.env(k, v);
    }
    let out = expr.run().map_err(|e| Error::failed(format!("cannot run {}: {e}", program.display())))?;
    Ok(out.status.code().unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_entries_count_renames_once() {
        assert_eq!(count_status_entries(""), 0);
        assert_eq!(count_status_entries(" M a\0?? b c\0"), 2);
        assert_eq!(count_status_entries("R  new\0old\0 M x\0"), 2);
    }

    #[test]
    fn parallel_jobs_keep_their_order() {
        let jobs: Vec<Job> = (0..7)
            .map(|i| Job { program: "sh".into(), args: vec!["-c".into(), format!("echo {i}").into()], cwd: ".".into() })
            .collect();
        let outs: Vec<String> = exec_parallel(&jobs, 3).into_iter().map(|o| o.unwrap().stdout).collect();
        assert_eq!(outs, (0..7).map(|i| format!("{i}\n")).collect::<Vec<_>>());
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(0));
    }

    #[test]
    fn main_worktree_of_the_conventional_layout() {
        assert_eq!(conventional_main_worktree(Path::new("/src/proj/.git")), Path::new("/src/proj"));
        assert_eq!(conventional_main_worktree(Path::new("/srv/proj.git")), Path::new("/srv/proj.git"));
        assert_eq!(conventional_main_worktree(Path::new("/.git")), Path::new("/"));
    }
}
