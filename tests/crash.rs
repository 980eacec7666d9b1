//! Crash safety: `task start` and `task release --remove` killed with SIGKILL at random
//! moments while other processes keep using the registry. Afterwards the registry must
//! parse (atomic writes: never torn), every inconsistency must be one the product reports
//! (`task list` health, `task start` collision errors, `doctor` once it exists), and the
//! repository must return to a fully consistent state.
//!
//! Deterministic: the kill schedule comes from a fixed seed. `OKSTRA_CRASH_ITERATIONS`
//! raises the number of kills (default 200); `OKSTRA_CRASH_SEED` changes the schedule.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Env, BIN};

/// xorshift64*: a tiny deterministic generator (no dependency, same schedule everywhere).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

const KEYS: usize = 6;

/// The feat-* branches of `repo`.
fn task_branches(env: &Env, repo: &Path) -> BTreeSet<String> {
    env.git(repo, &["for-each-ref", "--format=%(refname:short)", "refs/heads/feat-*"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Worktree paths git knows, other than the main one.
fn git_worktrees(env: &Env, repo: &Path) -> BTreeSet<PathBuf> {
    env.git(repo, &["worktree", "list", "--porcelain"])
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .map(PathBuf::from)
        .filter(|p| p != repo)
        .collect()
}

/// Rows of the registry as (key → row), parsed strictly: a torn file fails here.
fn rows(env: &Env) -> BTreeMap<String, serde_json::Value> {
    let path = env.registry_path();
    let Ok(text) = std::fs::read_to_string(&path) else { return BTreeMap::new() };
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("registry is torn ({e}):\n{text}"));
    assert_eq!(v["version"], 1, "{text}");
    v["tasks"].as_object().cloned().unwrap_or_default().into_iter().collect()
}

/// Kill a process (and, when `group`, every git child it started) with SIGKILL.
fn kill9(pid: u32, group: bool) {
    let target = if group { format!("-{pid}") } else { pid.to_string() };
    let _ = Command::new("kill").args(["-9", "--", &target]).stderr(Stdio::null()).status();
}

/// Remove the `*.lock` files a killed git left in `dir` (what git's own message tells a user
/// to do once no git process runs); returns their names.
fn remove_stale_git_locks(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            found.extend(remove_stale_git_locks(&p));
        } else if p.extension().is_some_and(|x| x == "lock") {
            std::fs::remove_file(&p).unwrap();
            found.push(p.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    found
}

#[derive(Default, Debug)]
struct Tally {
    killed: u64,
    finished_ok: u64,
    finished_refused: u64,
    group_kills: u64,
}

#[test]
fn sigkill_at_random_moments_loses_nothing_and_is_repairable() {
    let iterations = env_num("OKSTRA_CRASH_ITERATIONS", 200);
    let mut rng = Rng(env_num("OKSTRA_CRASH_SEED", 0x5eed_0c4a_11ed) | 1);
    let env = Env::new();
    let repo = env.repo("crashy");
    // a handful of files, and a sync dir so the link + info/exclude step is inside the window
    for i in 0..20 {
        std::fs::write(repo.join(format!("f{i}.txt")), format!("{i}\n")).unwrap();
    }
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "-m", "files"]);
    std::fs::create_dir_all(repo.join(".project-docs")).unwrap();

    // calibrate the kill window on one unkilled start + release
    let t0 = Instant::now();
    env.okstra(&repo, &["task", "start", "CRASH-0"]).ok();
    let start_ms = t0.elapsed().as_millis() as u64;
    env.okstra(&repo, &["task", "release", "CRASH-0", "--remove"]).ok();
    let window_ms = (start_ms * 3 / 2).max(10);

    // other processes use the registry the whole time and must never fail
    let stop = Arc::new(AtomicBool::new(false));
    let bg_failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let bg_ops = Arc::new(Mutex::new(0u64));
    let bg = {
        let (stop, failures, ops) = (stop.clone(), bg_failures.clone(), bg_ops.clone());
        let (home, okstra_home, repo) = (env.home.clone(), env.okstra_home.clone(), repo.clone());
        std::thread::spawn(move || {
            let run = |args: &[&str]| {
                let out = Command::new(BIN)
                    .args(args)
                    .current_dir(&repo)
                    .env("HOME", &home)
                    .env("OKSTRA_HOME", &okstra_home)
                    .env("GIT_CONFIG_NOSYSTEM", "1")
                    .env_remove("OKSTRA_WORKTREE_SYNC_DIRS")
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                *ops.lock().unwrap() += 1;
                if !out.status.success() {
                    failures.lock().unwrap().push(format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr)));
                }
                out
            };
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("BG-{}", n % 2);
                let list = run(&["task", "list", "--all", "--json"]);
                if serde_json::from_slice::<serde_json::Value>(&list.stdout).is_err() {
                    failures.lock().unwrap().push("task list --json printed no JSON".into());
                }
                run(&["task", "start", &id]);
                run(&["task", "release", &id, "--remove"]);
                n += 1;
            }
        })
    };

    let mut tally = Tally::default();
    let mut unexpected = Vec::new();
    for i in 0..iterations {
        let key = format!("CRASH-{}", rng.below(KEYS as u64));
        let args: Vec<&str> = match rng.below(10) {
            0..=5 => vec!["task", "start", &key],
            6..=7 => vec!["task", "release", &key, "--remove"],
            8 => vec!["task", "release", &key, "--remove", "--force"],
            _ => vec!["task", "release", &key],
        };
        let group = rng.below(2) == 0;
        let delay = rng.below(window_ms + 1);
        let mut cmd = env.command(BIN, &repo);
        cmd.args(&args).stdout(Stdio::null()).stderr(Stdio::piped());
        if group {
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        }
        let mut child = cmd.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let finished = child.try_wait().unwrap();
        if finished.is_none() {
            kill9(child.id(), group);
        }
        let out = child.wait_with_output().unwrap();
        match (finished, out.status.code()) {
            (None, _) | (_, None) => {
                tally.killed += 1;
                tally.group_kills += group as u64;
            }
            (Some(_), Some(0)) => tally.finished_ok += 1,
            (Some(_), Some(1)) => {
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains("error: "), "exit 1 without an error line: {err}");
                tally.finished_refused += 1;
            }
            (Some(_), Some(c)) => {
                unexpected.push(format!("iteration {i}: {args:?} exited {c}: {}", String::from_utf8_lossy(&out.stderr)))
            }
        }
        // the atomic-write guarantee: after every kill the registry is one whole version
        rows(&env);
    }
    stop.store(true, Ordering::Relaxed);
    bg.join().unwrap();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
    // A git killed while holding one of its own lock files (`packed-refs.lock`, `index.lock`)
    // leaves it behind, and git refuses later updates until it is removed: git's behaviour,
    // reported as such. Any other failure beside the crashes is a bug.
    let (stale_lock_failures, bg_failures): (Vec<String>, Vec<String>) =
        bg_failures.lock().unwrap().iter().cloned().partition(|f| {
            f.contains(".lock': File exists") || (f.contains("failed to read") && f.contains(".git/worktrees/"))
        });
    assert!(bg_failures.is_empty(), "processes beside the crashes failed: {bg_failures:#?}");
    let stale_locks = remove_stale_git_locks(&repo.join(".git"));
    let bg_ops = *bg_ops.lock().unwrap();

    // What the kills left behind.
    let reg = rows(&env);
    let branches = task_branches(&env, &repo);
    let worktrees = git_worktrees(&env, &repo);
    let row_branches: BTreeSet<String> =
        reg.values().filter_map(|r| r["branch"].as_str()).map(str::to_string).collect();
    let active_missing: Vec<String> = reg
        .iter()
        .filter(|(_, r)| r["status"] == "active" && !Path::new(r["worktree_path"].as_str().unwrap()).is_dir())
        .map(|(k, _)| k.clone())
        .collect();
    let orphan_branches: Vec<String> = branches.difference(&row_branches).cloned().collect();
    let row_paths: BTreeSet<PathBuf> =
        reg.values().filter_map(|r| r["worktree_path"].as_str()).map(PathBuf::from).collect();
    // worktrees git lists, and task folders on disk (a kill can leave one git no longer lists)
    let folders: BTreeSet<PathBuf> = std::fs::read_dir(env.okstra_home.join("worktrees/crashy/default"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    let orphan_worktrees: Vec<PathBuf> =
        worktrees.union(&folders).filter(|p| !row_paths.contains(*p)).cloned().collect();
    let tmp_files = std::fs::read_dir(env.okstra_home.join("worktrees"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("registry.json.tmp-"))
        .count();
    eprintln!(
        "crash: {iterations} runs (kill window {window_ms} ms): {tally:?}; {bg_ops} background commands, none failed; \
         left behind: {} active rows without a worktree {active_missing:?}, {} branches without a row {orphan_branches:?}, \
         {} worktrees or task folders without a row {orphan_worktrees:?}, {tmp_files} registry temp files, \
         {stale_locks:?} stale git lock files; {} background commands failed on git state a killed git left",
        active_missing.len(),
        orphan_branches.len(),
        orphan_worktrees.len(),
        stale_lock_failures.len()
    );

    // `task start` saves its row before git creates anything: no kill leaves a branch or a
    // worktree that no row knows.
    assert!(orphan_branches.is_empty(), "branches without a row: {orphan_branches:?}");
    assert!(orphan_worktrees.is_empty(), "worktrees without a row: {orphan_worktrees:?}");

    // Every leftover is visible to the user: in `task list` and in `doctor`.
    let list = env.okstra(&repo, &["task", "list", "--json"]).ok().json();
    for key in &active_missing {
        let row = list["tasks"].as_array().unwrap().iter().find(|r| &r["key"] == key).unwrap();
        assert_eq!(row["health"], "missing-worktree", "{key}");
    }
    let doc = env.okstra(&repo, &["doctor", "--json"]);
    let report = doc.json();
    let reported: BTreeSet<&str> =
        report["findings"].as_array().unwrap().iter().map(|f| f["subject"].as_str().unwrap()).collect();
    for key in &active_missing {
        assert!(reported.contains(key.as_str()), "doctor does not report {key}: {report:#}");
    }
    // a `git worktree remove` killed half-way leaves a folder without `.git`: okstra never
    // deletes it (it could hold work); doctor names it and the user removes it
    let half_removed: Vec<(&String, PathBuf)> = reg
        .iter()
        .map(|(k, r)| (k, PathBuf::from(r["worktree_path"].as_str().unwrap())))
        .filter(|(_, p)| p.is_dir() && std::fs::symlink_metadata(p.join(".git")).is_err())
        .collect();
    for (key, path) in &half_removed {
        let finding = report["findings"].as_array().unwrap().iter().find(|f| f["subject"] == key.as_str());
        assert_eq!(finding.map(|f| &f["kind"]), Some(&serde_json::json!("not-a-worktree")), "{key}: {report:#}");
        std::fs::remove_dir_all(path).unwrap();
    }
    let repair = env.okstra(&repo, &["doctor", "--repair"]);
    assert!(repair.code == 0 || repair.code == 1, "{}", repair.stderr);
    eprintln!(
        "crash: doctor found {} problem(s) before repair, {} of them half-removed worktrees",
        report["findings"].as_array().unwrap().len(),
        half_removed.len()
    );

    // Consistent again: every key starts, is healthy, and is removed without a trace.
    let ids: Vec<String> = (0..KEYS).map(|k| format!("CRASH-{k}")).chain(["BG-0".into(), "BG-1".into()]).collect();
    for id in &ids {
        let v = env.okstra(&repo, &["task", "start", id, "--json"]).ok().json();
        assert!(v["status"] == "created" || v["status"] == "reused", "{v}");
        let wt = PathBuf::from(v["path"].as_str().unwrap());
        assert_eq!(env.git(&wt, &["rev-parse", "--abbrev-ref", "HEAD"]), format!("feat-{}", id.to_lowercase()));
    }
    let list = env.okstra(&repo, &["task", "list", "--json"]).ok().json();
    for row in list["tasks"].as_array().unwrap() {
        if row["status"] == "active" {
            assert!(row["health"] == "ok", "{row}");
        }
    }
    let mut doc = env.okstra(&repo, &["doctor", "--json"]);
    if doc.code != 0 {
        // A worktree entry whose `gitdir` a kill left empty can only be pruned once no other
        // broken entry that a worktree may still use is in the way; restarting the tasks
        // reconnects those, so a second repair finishes the job (README, Reliability).
        eprintln!("crash: a second doctor --repair after the restarts: {}", doc.stdout);
        // an `initializing` lock of a killed add is lifted once it is 5 s old
        std::thread::sleep(std::time::Duration::from_secs(5));
        let again = env.okstra(&repo, &["doctor", "--repair"]);
        doc = env.okstra(&repo, &["doctor", "--json"]);
        assert_eq!(doc.code, 0, "doctor still finds problems: {}\nsecond repair said:\n{}", doc.stdout, again.stderr);
    }
    assert_eq!(doc.code, 0, "doctor still finds problems: {}", doc.stdout);
    for id in &ids {
        env.okstra(&repo, &["task", "release", id, "--remove", "--force"]).ok();
    }
    assert_eq!(task_branches(&env, &repo), BTreeSet::new());
    assert_eq!(git_worktrees(&env, &repo), BTreeSet::new());
}

/// The admin folder git keeps for the worktree at `wt`.
fn admin_of(wt: &Path) -> PathBuf {
    let dotgit = std::fs::read_to_string(wt.join(".git")).unwrap();
    PathBuf::from(dotgit.trim().strip_prefix("gitdir: ").unwrap())
}

/// Deterministic versions of what the kills above leave: a registered worktree whose
/// `git worktree add` was cut short (git's `initializing` lock, a half checkout, a torn
/// `.git` file, or no folder at all) is never reused as it is; `task start` remakes it on
/// the task's branch and `release --remove` removes it.
#[test]
fn a_worktree_left_half_made_by_a_killed_start_is_remade_not_reused() {
    let env = Env::new();
    let repo = env.repo("half");
    env.commit_file(&repo, "a.txt", "a\n", "a");
    let wt =
        PathBuf::from(env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json()["path"].as_str().unwrap());
    env.commit_file(&wt, "work.txt", "work\n", "task work");
    let tip = env.git(&wt, &["rev-parse", "HEAD"]);

    // 1. half checkout under git's lock
    std::fs::write(admin_of(&wt).join("locked"), "initializing\n").unwrap();
    std::fs::remove_file(wt.join("a.txt")).unwrap();
    let r = env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok();
    assert_eq!(r.json()["status"], "created", "{}", r.stderr);
    assert!(r.stderr.contains("half-made worktree"), "{}", r.stderr);
    assert_eq!(env.git(&wt, &["status", "--porcelain"]), "");
    assert_eq!(env.git(&wt, &["rev-parse", "HEAD"]), tip, "the task's commit is kept");

    // 2. the `.git` file torn (empty): found through the admin folder's gitdir file
    let admin = admin_of(&wt);
    std::fs::write(admin.join("locked"), "initializing").unwrap();
    std::fs::write(admin.join("commondir"), "").unwrap();
    std::fs::write(wt.join(".git"), "").unwrap();
    let r = env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok();
    assert_eq!(r.json()["status"], "created", "{}", r.stderr);
    assert_eq!(env.git(&wt, &["rev-parse", "HEAD"]), tip);

    // 3. git's entry still locked but the folder gone ("missing but locked")
    std::fs::write(admin_of(&wt).join("locked"), "initializing").unwrap();
    std::fs::remove_dir_all(&wt).unwrap();
    let r = env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok();
    assert_eq!(r.json()["status"], "created", "{}", r.stderr);

    // 4. release --remove of a half-made worktree: no dirty-check on git's partial checkout,
    // but the task's own commit still guards the branch
    std::fs::write(admin_of(&wt).join("locked"), "initializing").unwrap();
    std::fs::remove_file(wt.join("a.txt")).unwrap();
    let r = env.okstra(&repo, &["task", "release", "DEV-1", "--remove"]).fails(1);
    assert!(r.stderr.contains("1 commit(s) that are on no remote branch"), "{}", r.stderr);
    env.okstra(&repo, &["task", "release", "DEV-1", "--remove", "--force"]).ok();
    assert!(!wt.exists());
    assert_eq!(env.git(&repo, &["worktree", "list", "--porcelain"]).matches("worktree ").count(), 1);

    // 5. an empty task folder (killed before git wrote anything) is taken over; a foreign one is refused
    std::fs::create_dir_all(&wt).unwrap();
    env.okstra(&repo, &["task", "start", "DEV-1"]).ok();
    env.okstra(&repo, &["task", "release", "DEV-1", "--remove", "--force"]).ok();
    std::fs::create_dir_all(&wt).unwrap();
    std::fs::write(wt.join("notes.txt"), "mine").unwrap();
    let r = env.okstra(&repo, &["task", "start", "DEV-1"]).fails(1);
    assert!(r.stderr.contains("is not a git worktree"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(wt.join("notes.txt")).unwrap(), "mine");
}

/// What a `git worktree remove` killed half-way leaves: the task's folder without `.git`.
/// Nothing deletes it (it could hold work); `doctor` names it, `task start` refuses with the
/// way forward, and once the user removed it the task starts again on its branch.
#[test]
fn a_half_removed_worktree_is_reported_never_deleted() {
    let env = Env::new();
    let repo = env.repo("half");
    let wt =
        PathBuf::from(env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json()["path"].as_str().unwrap());
    env.commit_file(&wt, "work.txt", "work\n", "task work");
    std::fs::remove_file(wt.join(".git")).unwrap();
    let doc = env.okstra(&repo, &["doctor", "--json"]).fails(1).json();
    let f = doc["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "not-a-worktree").expect("reported");
    assert_eq!(f["subject"], "half/default/dev-1");
    // the same for a released task (a `release --remove` of it cut short)
    env.okstra(&repo, &["task", "release", "DEV-1"]).ok();
    let doc = env.okstra(&repo, &["doctor", "--json"]).fails(1).json();
    assert!(doc["findings"].as_array().unwrap().iter().any(|f| f["kind"] == "not-a-worktree"), "{doc:#}");
    env.okstra(&repo, &["doctor", "--repair"]).fails(1);
    assert!(wt.join("work.txt").is_file(), "doctor --repair deleted content");
    let r = env.okstra(&repo, &["task", "start", "DEV-1"]).fails(1);
    assert!(r.stderr.contains("is not a git worktree"), "{}", r.stderr);
    std::fs::remove_dir_all(&wt).unwrap();
    let v = env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json();
    assert_eq!(v["status"], "created");
    assert_eq!(std::fs::read_to_string(wt.join("work.txt")).unwrap(), "work\n", "the branch kept the commit");
}

/// A failed start whose rollback cannot delete the new branch (here a reference-transaction
/// hook refuses the deletion, as a stale `.lock` left by a killed git does) keeps its row, so
/// the branch never ends up belonging to no task; the next start picks it up.
#[test]
fn a_failed_start_that_cannot_roll_back_its_branch_keeps_the_row() {
    let env = Env::new();
    let repo = env.repo("roll");
    std::fs::create_dir_all(repo.join(".project-docs")).unwrap();
    let exclude = repo.join(".git/info/exclude");
    let _ = std::fs::remove_file(&exclude);
    std::fs::create_dir_all(&exclude).unwrap(); // linking the sync dir then fails
    let hook = repo.join(".git/hooks/reference-transaction");
    common::write_exec(
        &hook,
        "#!/bin/sh\n[ \"$1\" = prepared ] || exit 0\nwhile read old new ref; do\n  case \"$new $ref\" in 0000000000000000000000000000000000000000\\ refs/heads/feat-dev-2) exit 1;; esac\ndone\n",
    );

    let r = env.okstra(&repo, &["task", "start", "DEV-2"]).fails(1);
    assert!(r.stderr.contains("kept the row of roll/default/dev-2"), "{}", r.stderr);
    assert_eq!(env.git(&repo, &["branch", "--list", "feat-dev-2", "--format=%(refname:short)"]), "feat-dev-2");
    let row = &env.registry()["tasks"]["roll/default/dev-2"];
    assert_eq!(row["branch"], "feat-dev-2", "the branch has a row");

    // when nothing is left over, the registry is as it was before the failed start
    let r = env.okstra(&repo, &["task", "start", "DEV-3"]).fails(1);
    assert!(!r.stderr.contains("kept the row"), "{}", r.stderr);
    assert!(env.registry()["tasks"].get("roll/default/dev-3").is_none());

    std::fs::remove_file(&hook).unwrap();
    std::fs::remove_dir(&exclude).unwrap();
    let v = env.okstra(&repo, &["task", "start", "DEV-2", "--json"]).ok().json();
    assert_eq!(v["status"], "created");
    assert_eq!(v["branch"], "feat-dev-2");
}

/// The `registry.json.corrupt-*` copies doctor keeps.
fn corrupt_copies(env: &Env) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(env.okstra_home.join("worktrees"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("registry.json.corrupt-"))
        .collect();
    v.sort();
    v
}

/// `doctor --repair` killed with SIGKILL at random moments while it rebuilds a corrupt
/// registry: `registry.json` exists at every instant (a thread checks it all along), is after
/// every kill either the corrupt original or a whole rebuilt registry, and the original's
/// bytes are always kept (in `registry.json` or a `registry.json.corrupt-*` copy). A final
/// unkilled repair rebuilds every row. `OKSTRA_CRASH_DOCTOR_KILLS` raises the kills (default 24).
#[test]
fn doctor_repair_killed_while_rebuilding_never_leaves_no_registry() {
    let kills = env_num("OKSTRA_CRASH_DOCTOR_KILLS", 24);
    let mut rng = Rng(env_num("OKSTRA_CRASH_SEED", 0x5eed_0c4a_11ed) | 1);
    let env = Env::new();
    let repo = env.repo("rebuilt");
    for i in 0..4 {
        env.okstra(&repo, &["task", "start", &format!("RB-{i}")]).ok();
    }
    let file = env.registry_path();
    let corrupt = b"{\"version\": 1, \"tasks\": {\"rebuilt/default/rb-0\": ".to_vec();
    std::fs::write(&file, &corrupt).unwrap();

    // calibrate on one unkilled repair, then make the registry corrupt again
    let t0 = Instant::now();
    env.okstra(&repo, &["doctor", "--repair"]);
    let window_ms = (t0.elapsed().as_millis() as u64 * 3 / 2).max(10);
    assert_eq!(rows(&env).len(), 4, "an unkilled repair rebuilds every row");

    let stop = Arc::new(AtomicBool::new(false));
    let absent = Arc::new(Mutex::new(0u64));
    let watcher = {
        let (stop, absent, file) = (stop.clone(), absent.clone(), file.clone());
        std::thread::spawn(move || {
            let mut looks = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if std::fs::symlink_metadata(&file).is_err() {
                    *absent.lock().unwrap() += 1;
                }
                looks += 1;
            }
            looks
        })
    };
    let (mut killed, mut finished, mut left_corrupt, mut left_rebuilt) = (0u64, 0u64, 0u64, 0u64);
    let mut attempts = 0u64;
    while killed < kills {
        attempts += 1;
        assert!(attempts < kills * 20, "the kill window ({window_ms} ms) never catches a repair");
        std::fs::write(&file, &corrupt).unwrap();
        let mut child = env
            .command(BIN, &repo)
            .args(["doctor", "--repair"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.below(window_ms + 1)));
        if child.try_wait().unwrap().is_none() {
            kill9(child.id(), false);
            killed += 1;
        } else {
            finished += 1;
        }
        child.wait().unwrap();
        let now = std::fs::read(&file).expect("registry.json exists after every kill");
        if now == corrupt {
            left_corrupt += 1;
        } else {
            rows(&env);
            left_rebuilt += 1;
            let kept = corrupt_copies(&env);
            assert!(!kept.is_empty(), "the corrupt original was not kept");
        }
        for copy in corrupt_copies(&env) {
            assert_eq!(std::fs::read(&copy).unwrap(), corrupt, "{} is not the original", copy.display());
        }
    }
    stop.store(true, Ordering::Relaxed);
    let looks = watcher.join().unwrap();
    let absent = *absent.lock().unwrap();
    assert_eq!(absent, 0, "registry.json was missing {absent} of {looks} times it was looked at");

    // whatever the kills left, one repair finishes the job and every task is there again
    if std::fs::read(&file).unwrap() != corrupt {
        std::fs::write(&file, &corrupt).unwrap();
    }
    env.okstra(&repo, &["doctor", "--repair"]);
    assert_eq!(rows(&env).len(), 4);
    assert_eq!(corrupt_copies(&env).len(), 1, "one copy of one original: {:?}", corrupt_copies(&env));
    env.okstra(&repo, &["doctor", "--repair"]);
    let list = env.okstra(&repo, &["task", "list", "--json"]).ok().json();
    assert_eq!(list["tasks"].as_array().unwrap().len(), 4);
    eprintln!(
        "crash: doctor --repair {killed} killed, {finished} finished (window {window_ms} ms): \
         {left_corrupt} left the corrupt original, {left_rebuilt} a rebuilt registry; \
         registry.json looked at {looks} times, missing 0"
    );
}
