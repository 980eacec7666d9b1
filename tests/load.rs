//! Load: 32 concurrent processes mixing `task start`, `task list`, `task release` (with and
//! without `--remove`) and `task phase` over 8 keys for a bounded time. Afterwards the
//! registry agrees with git, and no update was lost: the creations and removals each key
//! reported serialise, and every phase a process reported as recorded is in the history.
//!
//! `OKSTRA_LOAD_SECONDS` (default 4) sets how long the processes run; `OKSTRA_LOAD_SEED`
//! changes the mix.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Env;

const WORKERS: usize = 32;
const KEYS: u64 = 8;
/// Phases without a gate, so any process may record them at any time.
const PHASES: &[&str] = &["requirements-discovery", "error-analysis", "implementation-planning", "final-verification"];

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Debug, Default)]
struct Log {
    /// per key: how many starts reported `created`
    created: BTreeMap<String, u64>,
    /// per key: how many releases reported `removed_worktree`
    removed: BTreeMap<String, u64>,
    /// per key: phases refused after their own start, which may have created the worktree
    maybe_created: BTreeMap<String, u64>,
    /// per key: phases processes reported as recorded
    phases: BTreeMap<String, Vec<String>>,
    ops: BTreeMap<&'static str, u64>,
    refused: BTreeMap<String, u64>,
    failures: Vec<String>,
}

fn key_of(id: &str) -> String {
    format!("busy/default/{}", id.to_lowercase())
}

#[test]
fn thirty_two_processes_over_eight_keys_lose_nothing() {
    let seconds = env_num("OKSTRA_LOAD_SECONDS", 4);
    let seed = env_num("OKSTRA_LOAD_SEED", 0x10ad);
    let env = Arc::new(Env::new());
    let repo = env.repo("busy");
    std::fs::create_dir_all(repo.join(".project-docs")).unwrap();
    let has_phase = env.okstra(&repo, &["task", "phase", "--help"]).code == 0;
    let log = Arc::new(Mutex::new(Log::default()));
    let deadline = Instant::now() + Duration::from_secs(seconds);

    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (env, log, repo) = (env.clone(), log.clone(), repo.clone());
            std::thread::spawn(move || {
                let mut rng = Rng((seed ^ (w as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
                while Instant::now() < deadline {
                    let id = format!("LOAD-{}", rng.below(KEYS));
                    let pick = rng.below(if has_phase { 10 } else { 8 });
                    let (name, args): (&'static str, Vec<String>) = match pick {
                        0..=2 => ("start", vec!["task".into(), "start".into(), id.clone(), "--json".into()]),
                        3..=4 => ("list", vec!["task".into(), "list".into(), "--json".into()]),
                        5 => ("release", vec!["task".into(), "release".into(), id.clone(), "--json".into()]),
                        6..=7 => (
                            "remove",
                            vec!["task".into(), "release".into(), id.clone(), "--remove".into(), "--json".into()],
                        ),
                        _ => {
                            let phase = PHASES[rng.below(PHASES.len() as u64) as usize];
                            ("phase", vec!["task".into(), "phase".into(), id.clone(), phase.into(), "--json".into()])
                        }
                    };
                    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
                    let r = env.okstra(&repo, &argv);
                    let mut log = log.lock().unwrap();
                    *log.ops.entry(name).or_default() += 1;
                    match r.code {
                        0 => {
                            let v: serde_json::Value = match serde_json::from_str(&r.stdout) {
                                Ok(v) => v,
                                Err(e) => {
                                    log.failures.push(format!("{argv:?}: stdout is not JSON ({e}): {}", r.stdout));
                                    continue;
                                }
                            };
                            match name {
                                "start" if v["status"] == "created" => {
                                    *log.created.entry(key_of(&id)).or_default() += 1
                                }
                                "remove" if v["removed_worktree"] == true => {
                                    *log.removed.entry(key_of(&id)).or_default() += 1
                                }
                                "phase" => {
                                    // a phase of an unregistered task starts it
                                    if v["worktree"]["status"] == "created" {
                                        *log.created.entry(key_of(&id)).or_default() += 1;
                                    }
                                    log.phases.entry(key_of(&id)).or_default().push(argv[3].to_string())
                                }
                                _ => {}
                            }
                        }
                        1 if r.stderr.contains("error: ") => {
                            // refusals a racing process may meet: the task is not (yet) registered
                            let first = r.stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or("").to_string();
                            if first.contains("no task") {
                                *log.refused.entry("no such task yet".into()).or_default() += 1;
                            } else if name == "phase" && first.contains("is gone; no sync dir linked") {
                                // a release --remove ran between the phase's start and its links
                                *log.refused.entry("phase raced a removal".into()).or_default() += 1;
                                // its own start may have created the worktree before the removal
                                *log.maybe_created.entry(key_of(&id)).or_default() += 1;
                            } else {
                                log.failures.push(format!("{argv:?} refused: {}", r.stderr));
                            }
                        }
                        c => log.failures.push(format!("{argv:?} exited {c}: {}", r.stderr)),
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let log = Arc::try_unwrap(log).unwrap().into_inner().unwrap();
    eprintln!(
        "load: {WORKERS} processes, {seconds} s, ops {:?}; created {:?}; removed {:?}; refused {:?}; phases recorded {}",
        log.ops,
        log.created,
        log.removed,
        log.refused,
        log.phases.values().map(Vec::len).sum::<usize>()
    );
    assert!(log.failures.is_empty(), "{:#?}", log.failures);
    assert!(log.ops.values().sum::<u64>() >= 64, "too few operations ran to mean anything: {:?}", log.ops);

    // The registry agrees with git.
    let reg = env.registry();
    let tasks = reg["tasks"].as_object().unwrap();
    let repo_s = repo.to_str().unwrap();
    let branches: BTreeSet<String> = env
        .git(&repo, &["for-each-ref", "--format=%(refname:short)", "refs/heads/feat-*"])
        .lines()
        .map(str::to_string)
        .collect();
    let worktrees: BTreeSet<PathBuf> = env
        .git(&repo, &["worktree", "list", "--porcelain"])
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .map(PathBuf::from)
        .filter(|p| p != &repo)
        .collect();
    for (key, row) in tasks {
        let wt = PathBuf::from(row["worktree_path"].as_str().unwrap());
        let branch = row["branch"].as_str().unwrap();
        let slot = reg["branches"].get(format!("{repo_s}:{branch}"));
        if row["status"] == "active" {
            assert!(wt.is_dir() && worktrees.contains(&wt), "{key}: active without its worktree");
            assert!(branches.contains(branch), "{key}: active without its branch");
            assert_eq!(slot, Some(&serde_json::json!(key)), "{key}: active without its branch slot");
            assert_eq!(env.git(&wt, &["rev-parse", "--abbrev-ref", "HEAD"]), branch);
        } else {
            assert_eq!(slot, None, "{key}: released but still holds its slot");
        }
        // no update lost: creations and removals serialise, and end where the disk is
        let created = log.created.get(key).copied().unwrap_or(0);
        let removed = log.removed.get(key).copied().unwrap_or(0);
        let live = u64::from(wt.is_dir());
        let maybe = log.maybe_created.get(key).copied().unwrap_or(0);
        assert!(
            created <= removed + live && removed + live <= created + maybe,
            "{key}: {created} created (+{maybe} unknown), {removed} removed, worktree live: {live}"
        );
        if let Some(reported) = log.phases.get(key) {
            let history: Vec<&str> =
                row["phases"].as_array().unwrap().iter().map(|p| p["phase"].as_str().unwrap()).collect();
            for p in PHASES {
                let want = reported.iter().filter(|r| r == p).count();
                let have = history.iter().filter(|h| *h == p).count();
                assert!(have >= want, "{key}: {want} × {p} reported recorded, history has {have}");
            }
        }
    }
    for b in &branches {
        assert!(tasks.values().any(|r| r["branch"] == b.as_str()), "branch {b} has no row");
    }
    for w in &worktrees {
        assert!(
            tasks.values().any(|r| Path::new(r["worktree_path"].as_str().unwrap()) == w),
            "{} has no row",
            w.display()
        );
    }
    // keys never started have no row; keys created at least once have one
    for (key, n) in &log.created {
        assert!(*n == 0 || tasks.contains_key(key), "{key} was created but has no row");
    }
}
