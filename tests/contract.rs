//! The task contract (DESIGN §8) through the real binary, real git and real tasks: the case
//! files under `tests/guard-cases/contract/` judged in each phase of a task the user walks
//! through (`git okstra task phase`), the `pre-commit` backstop on real commits, the handoff's
//! own commit and attempts to forge it, a plan changed after its approval, broken contexts, the
//! audit log, and the Codex host's install.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{write_exec, Env, Run, BIN, PHASES};

const PLAN: &str = "# Plan\n\n## Files\n- src/\n- tests/t.rs\n\n- [ ] Approved\n";
const REPORT: &str = "# Final verification\n\n## 1. Summary\nok\n\n## 2. Final Verdict\n\naccepted\n";

/// A repository `proj` (two commits; `src/`, `tests/`, `docs/`, a `.gitignore` for `target/`)
/// with okstra's hooks, an origin, and three tasks: DEV-1 (the one the cases walk through the
/// phases), DEV-2 (another agent's, in requirements-discovery) and DEV-3 (no run yet).
struct Fx {
    env: Env,
    main: PathBuf,
    wt: PathBuf,
    other: PathBuf,
    wt3: PathBuf,
    /// The current run folder of DEV-1, and the planning run's plan (once there is one).
    run: PathBuf,
    plan: Option<PathBuf>,
}

fn fixture() -> Fx {
    let env = Env::new();
    let main = env.repo("proj");
    for (f, text) in [
        ("src/a.rs", "fn a() {}\n"),
        ("src/b.rs", "fn b() {}\n"),
        ("tests/t.rs", "#[test]\nfn t() {}\n"),
        ("docs/guide.md", "# Guide\n"),
        ("Cargo.toml", "[package]\nname = \"proj\"\n"),
        (".gitignore", "target/\n"),
    ] {
        std::fs::create_dir_all(main.join(f).parent().unwrap()).unwrap();
        std::fs::write(main.join(f), text).unwrap();
    }
    env.git(&main, &["add", "-A"]);
    env.git(&main, &["commit", "-q", "-m", "sources"]);
    env.origin(&main, &[]);
    for d in [".project-docs/okstra/tasks", ".scratch"] {
        std::fs::create_dir_all(main.join(d)).unwrap();
    }
    env.okstra(&main, &["hooks", "install"]).ok();
    let start = |id: &str| PathBuf::from(env.okstra(&main, &["task", "start", id]).ok().stdout.trim());
    let (wt, other, wt3) = (start("DEV-1"), start("DEV-2"), start("DEV-3"));
    env.okstra(&main, &["task", "phase", "DEV-2", "requirements-discovery"]).ok();
    let fixtures = env.root().join("fixtures");
    std::fs::create_dir_all(&fixtures).unwrap();
    let diff = |file: &str, old: &str, new: &str| {
        format!("diff --git a/{file} b/{file}\n--- a/{file}\n+++ b/{file}\n@@ -1 +1 @@\n-{old}\n+{new}\n")
    };
    std::fs::write(fixtures.join("src.diff"), diff("src/a.rs", "fn a() {}", "fn a() { 1; }")).unwrap();
    std::fs::write(fixtures.join("readme.diff"), diff("README.md", "# proj", "# project")).unwrap();
    std::os::unix::fs::symlink(&other, env.root().join("link-to-other")).unwrap();
    Fx { run: wt.clone(), env, main, wt, other, wt3, plan: None }
}

impl Fx {
    fn notes(&self, task: &str) -> PathBuf {
        self.main.join(".project-docs/okstra/tasks").join(task)
    }

    /// The user starts the next phase of DEV-1, with the gate's documents in place.
    fn enter(&mut self, phase: &str) {
        let mut args = vec!["task", "phase", "DEV-1", phase, "--json"];
        let plan = self.plan.clone().unwrap_or_default();
        let plan_s = plan.to_string_lossy().into_owned();
        if phase == "implementation" {
            args.extend(["--approved-plan", &plan_s, "--approve"]);
        }
        let out = self.env.okstra(&self.main, &args).ok().json();
        self.run = PathBuf::from(out["run_dir"].as_str().unwrap());
        match phase {
            "implementation-planning" => {
                // What the planning agent leaves: the plan, its box unchecked.
                std::fs::write(self.run.join("plan.md"), PLAN).unwrap();
                std::fs::write(self.run.join("notes.md"), "Plan notes\n").unwrap();
                self.plan = Some(self.run.join("plan.md"));
            }
            "final-verification" => std::fs::write(self.run.join("final-verification-report.md"), REPORT).unwrap(),
            _ => {}
        }
    }

    fn placeholders(&self) -> Vec<(&'static str, String)> {
        let s = |p: &Path| p.to_string_lossy().into_owned();
        vec![
            ("{wt}", s(&self.wt)),
            ("{wt3}", s(&self.wt3)),
            ("{other}", s(&self.other)),
            ("{main}", s(&self.main)),
            ("{notes}", s(&self.notes("dev-1"))),
            ("{othernotes}", s(&self.notes("dev-2"))),
            ("{run}", s(&self.run)),
            ("{plan}", self.plan.as_deref().map(s).unwrap_or_else(|| "/nonexistent-plan".into())),
            ("{fixtures}", s(&self.env.root().join("fixtures"))),
            ("{link}", s(&self.env.root().join("link-to-other"))),
            ("{bin}", BIN.to_string()),
            ("{elsewhere}", s(&elsewhere())),
        ]
    }

    fn fill(&self, text: &str) -> String {
        self.placeholders().iter().fold(text.to_string(), |t, (k, v)| t.replace(k, v))
    }

    /// Judge one case through the binary with `--explain --json`: `allow`, or the rule id.
    fn judge(&self, cwd: &Path, input: &str) -> (String, String) {
        let r = if input.starts_with('{') {
            let mut v: serde_json::Value = serde_json::from_str(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            let obj = v.as_object_mut().unwrap();
            obj.entry("cwd").or_insert_with(|| cwd.to_string_lossy().into_owned().into());
            obj.entry("hook_event_name").or_insert_with(|| "PreToolUse".into());
            with_stdin(&self.env, cwd, &["hook", "agent-guard", "--explain", "--json"], &v.to_string())
        } else {
            self.env.okstra(cwd, &["hook", "agent-guard", "--explain", "--json", input])
        };
        let v: serde_json::Value = match serde_json::from_str(&r.stdout) {
            Ok(v) => v,
            Err(_) => return (format!("exit {} {}", r.code, r.stderr), String::new()),
        };
        let got = match v["verdict"]["decision"].as_str() {
            Some("allow") => "allow".to_string(),
            _ => v["verdict"]["id"].as_str().unwrap_or("?").to_string(),
        };
        let want_code = if got == "allow" { 0 } else { 2 };
        let got = if r.code == want_code { got } else { format!("{got} (exit {})", r.code) };
        (got, v["verdict"]["message"].as_str().unwrap_or("").to_string())
    }
}

/// A folder outside every worktree and every temporary folder (the test's own folders are
/// all temporary, and so may be the checkout and cargo's target folder: a clone under `/tmp`).
/// Nothing is written there: the guard judges the command without running it.
fn elsewhere() -> PathBuf {
    let dir = PathBuf::from("/okstra-contract-elsewhere");
    assert!(!dir.exists(), "{} must not exist", dir.display());
    dir
}

fn with_stdin(env: &Env, cwd: &Path, args: &[&str], stdin: &str) -> Run {
    let mut cmd = env.command(BIN, cwd);
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn git-okstra");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    Run::from(child.wait_with_output().unwrap())
}

/// One case: where it was written, the phases it runs in, the host's folder, input, expectation.
struct Case {
    at: String,
    phases: Vec<String>,
    cwd: String,
    input: String,
    expect: String,
}

/// Every case of `tests/guard-cases/contract/*.cases`.
fn cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guard-cases/contract");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    let mut out = Vec::new();
    for f in files.iter().filter(|f| f.extension().is_some_and(|x| x == "cases")) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let (mut phases, mut cwd) = (Vec::<String>::new(), "{wt}".to_string());
        for (n, line) in std::fs::read_to_string(f).unwrap().lines().enumerate() {
            let at = format!("{name}:{}", n + 1);
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if let Some(list) = t.strip_prefix("@phase ") {
                phases = match list.trim() {
                    "all" => PHASES.iter().map(|p| p.to_string()).collect(),
                    other => other.split_whitespace().map(str::to_string).collect(),
                };
                for p in &phases {
                    assert!(p == "none" || PHASES.contains(&p.as_str()), "{at}: unknown phase {p}");
                }
                cwd = if phases == ["none"] { "{wt3}".into() } else { "{wt}".into() };
                continue;
            }
            if let Some(c) = t.strip_prefix("@cwd ") {
                cwd = c.trim().to_string();
                continue;
            }
            let (input, expect) = line.rsplit_once(" => ").unwrap_or_else(|| panic!("{at}: no ` => `"));
            assert!(!phases.is_empty(), "{at}: a case before any @phase");
            out.push(Case {
                at,
                phases: phases.clone(),
                cwd: cwd.clone(),
                input: input.trim_end().replace('⏎', "\n"),
                expect: expect.trim().to_string(),
            });
        }
    }
    out
}

/// Judge the cases of `phase` (four at a time) and collect what differs.
fn run_phase(fx: &Fx, phase: &str, all: &[Case], failures: &mut Vec<String>) -> usize {
    let mine: Vec<&Case> = all.iter().filter(|c| c.phases.iter().any(|p| p == phase)).collect();
    let found = std::sync::Mutex::new(Vec::new());
    let chunks: Vec<&[&Case]> = mine.chunks(mine.len().div_ceil(4).max(1)).collect();
    std::thread::scope(|s| {
        for chunk in chunks {
            let found = &found;
            s.spawn(move || {
                for c in chunk {
                    let cwd = PathBuf::from(fx.fill(&c.cwd));
                    let (got, why) = fx.judge(&cwd, &fx.fill(&c.input));
                    if got != c.expect {
                        let msg = format!("{} [{phase}]: {:?}: expected {}, got {got} {why}", c.at, c.input, c.expect);
                        found.lock().unwrap().push(msg);
                    }
                }
            });
        }
    });
    failures.extend(found.into_inner().unwrap());
    mine.len()
}

/// The case files, phase by phase, in one task the user walks through all six phases.
#[test]
fn case_files_in_every_phase() {
    let mut fx = fixture();
    let all = cases();
    assert!(all.len() >= 200, "the contract case files hold {} cases", all.len());
    let mut failures = Vec::new();
    let mut judged = run_phase(&fx, "none", &all, &mut failures);
    for phase in PHASES {
        fx.enter(phase);
        judged += run_phase(&fx, phase, &all, &mut failures);
    }
    assert!(judged > 600, "only {judged} judgements");
    assert!(failures.is_empty(), "{} of {judged} judgements wrong:\n{}", failures.len(), failures.join("\n"));
    // Judging wrote nothing: the worktrees are as they were.
    assert_eq!(fx.env.git(&fx.wt, &["status", "--porcelain"]), "");
    assert_eq!(fx.env.git(&fx.other, &["status", "--porcelain"]), "");
}

/// A fixture whose task DEV-1 has walked the phases up to `phase`.
fn fixture_at(phase: &str) -> Fx {
    let mut fx = fixture();
    for p in PHASES {
        fx.enter(p);
        if p == phase {
            break;
        }
    }
    fx
}

fn audit(fx: &Fx) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(fx.main.join(".git/okstra/audit.jsonl")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).expect("an audit line is JSON")).collect()
}

/// A block is one line in DESIGN's words, names the phase and the rule, and is audited;
/// every host (Codex too) gets a non-empty reason with exit 2.
#[test]
fn blocks_name_the_phase_and_the_rule_and_are_audited() {
    let fx = fixture_at("requirements-discovery");
    let r = fx.env.okstra(&fx.wt, &["hook", "agent-guard", "echo x > src/a.rs"]).fails(2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with(
            "blocked by okstra [phase:requirements-discovery] phase:write: editing src/a.rs: this phase writes notes only — "
        ),
        "{}",
        r.stderr
    );
    let codex = serde_json::json!({
        "session_id": "s", "turn_id": "t1", "cwd": fx.wt, "hook_event_name": "PreToolUse", "model": "m",
        "permission_mode": "default", "tool_name": "apply_patch", "tool_use_id": "u", "transcript_path": null,
        "tool_input": {"command": "*** Begin Patch\n*** Update File: src/a.rs\n@@\n-fn a() {}\n+fn a() { 1; }\n*** End Patch\n"}
    });
    let r = with_stdin(&fx.env, &fx.wt, &["hook", "agent-guard"], &codex.to_string()).fails(2);
    assert!(
        r.stderr.trim().starts_with("blocked by okstra [phase:requirements-discovery] phase:write"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "Codex reads the reason from stderr: {}", r.stdout);
    fx.env.okstra(&fx.wt, &["hook", "agent-guard", "git okstra task phase DEV-1 implementation"]).fails(2);
    let log = audit(&fx);
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(
        (log[0]["id"].as_str(), log[0]["phase"].as_str()),
        (Some("phase:write"), Some("requirements-discovery"))
    );
    assert_eq!(log[1]["agent"], "codex");
    assert_eq!(log[2]["rule"], "user-only");
}

/// `git add` + `git commit` as anyone would, with the hooks installed.
fn commit(fx: &Fx, file: &str, vars: &[(&str, &str)]) -> Run {
    let path = fx.wt.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, format!("{old}// more\n")).unwrap();
    fx.env.git(&fx.wt, &["add", "--", file]);
    let mut cmd = fx.env.command("git", &fx.wt);
    cmd.args(["commit", "-q", "-m", &format!("change {file}")]);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    Run::from(cmd.output().unwrap())
}

/// The `pre-commit` backstop applies the commit column to everyone in the task worktree.
#[test]
fn pre_commit_refuses_what_the_phase_does_not_allow() {
    let mut fx = fixture();
    for phase in PHASES {
        fx.enter(phase);
        let head = fx.env.git(&fx.wt, &["rev-parse", "HEAD"]);
        let r = commit(&fx, "src/a.rs", &[]);
        if phase == "implementation" {
            assert_eq!(r.code, 0, "{phase}: {}", r.stderr);
            continue;
        }
        assert_eq!(r.code, 1, "{phase}: {}{}", r.stdout, r.stderr);
        let want = format!("error: blocked by okstra [phase:{phase}] phase:commit: committing");
        assert!(r.stderr.starts_with(&want), "{phase}: {}", r.stderr);
        assert_eq!(fx.env.git(&fx.wt, &["rev-parse", "HEAD"]), head, "{phase}: nothing was committed");
        fx.env.git(&fx.wt, &["reset", "-q", "--hard"]);
    }
    // The person's logged override.
    let r = commit(&fx, "src/b.rs", &[("OKSTRA_ALLOW", "phase")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("OKSTRA_ALLOW=phase lets this through (logged)"), "{}", r.stderr);
    let log = audit(&fx);
    let last = log.last().unwrap();
    assert_eq!((last["decision"].as_str(), last["id"].as_str()), (Some("allowed-by-override"), Some("phase:commit")));
    assert_eq!(last["phase"], "release-handoff");
    assert_eq!(log.iter().filter(|l| l["source"] == "pre-commit" && l["decision"] == "refused").count(), 5);
}

#[test]
fn pre_commit_in_implementation_keeps_to_the_plan() {
    let fx = fixture_at("implementation");
    assert_eq!(commit(&fx, "src/a.rs", &[]).code, 0);
    assert_eq!(commit(&fx, "tests/t.rs", &[]).code, 0);
    // Staged paths outside the plan are refused, each of them named.
    for f in ["README.md", "docs/guide.md"] {
        std::fs::write(fx.wt.join(f), "changed\n").unwrap();
    }
    fx.env.git(&fx.wt, &["add", "README.md", "docs/guide.md", "src/b.rs"]);
    let r = fx.env.git_run(&fx.wt, &["commit", "-q", "-am", "too much"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("phase:plan-scope: README.md, docs/guide.md: outside the approved plan's ## Files"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("implementation-notes.md"), "says where to record it instead: {}", r.stderr);
    // `commit -a` and a pathspec commit are judged on what git would commit.
    fx.env.git(&fx.wt, &["reset", "-q"]);
    std::fs::write(fx.wt.join("src/b.rs"), "fn b() { 2; }\n").unwrap();
    let r = fx.env.git_run(&fx.wt, &["commit", "-q", "-m", "only the plan's", "--", "src/b.rs"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = fx.env.git_run(&fx.wt, &["commit", "-q", "-a", "-m", "all"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    fx.env.git(&fx.wt, &["checkout", "-q", "--", "README.md", "docs/guide.md"]);
    // Amending and rebasing the task's own commits pass.
    fx.env.git(&fx.wt, &["commit", "-q", "--amend", "-m", "reworded"]);
    let base = fx.env.git(&fx.wt, &["rev-parse", "HEAD~3"]);
    let r = fx.env.git_run(&fx.wt, &["-c", "sequence.editor=true", "rebase", "-q", "-i", &base]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A merge brings in what the other side changed: not this task's edit.
    fx.env.commit_file(&fx.main, "docs/guide.md", "# Guide, on main\n", "docs on main");
    let r = fx.env.git_run(&fx.wt, &["merge", "-q", "--no-edit", "main"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(fx.env.git(&fx.wt, &["log", "-1", "--format=%p"]).split(' ').count(), 2, "a merge commit");
}

/// Once the plan no longer matches its approval, edits and commits stop until the user
/// approves it again; a plan that is gone stops them too (one line, failing closed).
#[test]
fn a_plan_changed_after_approval_stops_edits_and_commits() {
    let mut fx = fixture_at("implementation");
    let plan = fx.plan.clone().unwrap();
    std::fs::write(&plan, PLAN.replace("- src/", "- src/\n- docs/")).unwrap();
    let guard = |fx: &Fx, cmd: &str| fx.env.okstra(&fx.wt, &["hook", "agent-guard", cmd]);
    let r = guard(&fx, "echo x >> src/a.rs").fails(2);
    assert!(
        r.stderr.starts_with("blocked by okstra [phase:implementation] phase:plan-changed: the approved plan "),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("changed after its approval — ask the user to approve the plan again"), "{}", r.stderr);
    let tool = serde_json::json!({"tool_name": "Write", "cwd": fx.wt, "tool_input": {"file_path": fx.wt.join("src/a.rs"), "content": "x"}});
    let r = with_stdin(&fx.env, &fx.wt, &["hook", "agent-guard"], &tool.to_string()).fails(2);
    assert!(r.stderr.contains("phase:plan-changed"), "{}", r.stderr);
    guard(&fx, "git commit -am x").fails(2);
    let r = commit(&fx, "src/a.rs", &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("phase:plan-changed"), "{}", r.stderr);
    // Notes stay writable: the agent can say why it stopped.
    guard(&fx, &format!("echo stopped >> {}/notes.md", fx.notes("dev-1").display())).ok();
    // The user approves the changed plan: a new implementation run, and work goes on.
    fx.enter("implementation");
    guard(&fx, "echo x >> docs/guide.md").ok();
    assert_eq!(commit(&fx, "docs/guide.md", &[]).code, 0);
    // The plan is gone.
    std::fs::remove_file(&plan).unwrap();
    let r = guard(&fx, "echo x >> src/a.rs").fails(2);
    assert!(r.stderr.contains("phase:plan-changed: cannot read approved plan"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1);
    let r = commit(&fx, "src/a.rs", &[]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.lines().filter(|l| l.starts_with("error: ")).count(), 1, "{}", r.stderr);
}

/// A context that cannot be told (run folder gone, manifest unreadable, registry corrupt,
/// marker unreadable) refuses with one line naming what is wrong; it never guesses a phase.
#[test]
fn a_broken_context_fails_closed() {
    let fx = fixture_at("implementation");
    let guard = |cmd: &str| fx.env.okstra(&fx.wt, &["hook", "agent-guard", cmd]);
    let manifest = fx.run.join("manifest.json");
    let saved = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, "{ not json").unwrap();
    let r = guard("echo x >> src/a.rs").fails(2);
    assert!(
        r.stderr.starts_with("blocked by okstra [phase:none] phase:context: the task contract cannot be told: "),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("does not parse"), "{}", r.stderr);
    let r = commit(&fx, "src/a.rs", &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("phase:context"), "{}", r.stderr);
    std::fs::write(&manifest, saved).unwrap();
    // The run folder is gone.
    let aside = fx.env.root().join("run-aside");
    std::fs::rename(&fx.run, &aside).unwrap();
    let r = guard("git commit -am x").fails(2);
    assert!(r.stderr.contains("the folder of its latest run (implementation) is gone"), "{}", r.stderr);
    assert_eq!(commit(&fx, "src/a.rs", &[]).code, 1);
    std::fs::rename(&aside, &fx.run).unwrap();
    // The registry does not parse: nothing is treated as "no task".
    let reg = fx.env.registry_path();
    let text = std::fs::read_to_string(&reg).unwrap();
    std::fs::write(&reg, "{ torn").unwrap();
    let r = guard("echo x >> src/a.rs").fails(2);
    assert!(r.stderr.contains("phase:context") && r.stderr.contains("registry"), "{}", r.stderr);
    assert_eq!(commit(&fx, "src/a.rs", &[]).code, 1);
    // Reads and commands that act on no file stay allowed meanwhile.
    guard("git status").ok();
    guard("cargo test").ok();
    std::fs::write(&reg, text).unwrap();
    // A marker that does not read refuses the commit.
    let marker = fx.main.join(".git/worktrees/dev-1/okstra/task");
    std::fs::write(&marker, "garbage\n").unwrap();
    let r = commit(&fx, "src/a.rs", &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("okstra's task marker"), "{}", r.stderr);
    // Gone by means the guard cannot see, the task worktree is still judged: it lies under
    // the okstra home's worktrees/ folder, which the shim checks too.
    std::fs::remove_file(&marker).unwrap();
    fx.env.okstra(&fx.main, &["task", "phase", "DEV-1", "final-verification"]).ok();
    let r = commit(&fx, "src/a.rs", &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // `task start` writes the marker again.
    fx.env.okstra(&fx.main, &["task", "start", "DEV-1"]).ok();
    assert!(marker.is_file());
}

/// The user's `git okstra handoff` commits in release-handoff; nothing else passes for it:
/// a plain commit, an environment variable, a copy of the binary, or a program that only
/// calls itself `git-okstra handoff`.
#[test]
fn only_the_handoff_commits_in_release_handoff() {
    let fx = fixture_at("release-handoff");
    std::fs::write(fx.wt.join("src/a.rs"), "fn a() { 4; }\n").unwrap();
    let head = || fx.env.git(&fx.wt, &["rev-parse", "HEAD"]);
    let before = head();
    // A plain commit, and one that sets anything a caller can set.
    fx.env.git(&fx.wt, &["add", "-A"]);
    assert_eq!(fx.env.git_run(&fx.wt, &["commit", "-q", "-m", "x"]).code, 1);
    let mut forged = fx.env.command("git", &fx.wt);
    forged.args(["commit", "-q", "-m", "x"]).env("OKSTRA_HANDOFF", "1").env("GIT_REFLOG_ACTION", "handoff");
    assert_eq!(Run::from(forged.output().unwrap()).code, 1);
    // A stand-in named git-okstra whose argv says `handoff`, committing.
    let fake = fx.env.root().join("fake");
    std::fs::create_dir_all(&fake).unwrap();
    write_exec(&fake.join("git-okstra"), "#!/bin/sh\nexec git commit -q -m forged\n");
    let r = fx.env.command(fake.join("git-okstra"), &fx.wt).arg("handoff").output().unwrap();
    assert_eq!(Run::from(r).code, 1);
    let r = fx.env.command("sh", &fx.wt).args(["-c", "exec -a git-okstra git commit -q -m forged", "handoff"]).output();
    assert_ne!(Run::from(r.unwrap()).code, 0);
    // A copy of the real binary running the real handoff is another program.
    let copy = fake.join("copy/git-okstra");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    common::copy_exec(Path::new(BIN), &copy);
    let r = Run::from(fx.env.command(&copy, &fx.wt).args(["handoff", "--action", "commit", "--yes"]).output().unwrap());
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("phase:commit"), "{}", r.stderr);
    assert_eq!(head(), before, "no forged commit");
    // The user's handoff.
    let r = fx.env.okstra(&fx.wt, &["handoff", "--action", "commit", "--yes"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_ne!(head(), before, "the handoff committed");
    assert_eq!(fx.env.git(&fx.wt, &["status", "--porcelain"]), "");
}

/// An ordinary commit outside task worktrees starts no binary; in a task worktree the
/// binary judges it. The hooks are installed from a copy of the binary that is then replaced
/// by a recorder which runs the real one.
#[test]
fn only_a_task_worktree_commit_starts_the_binary() {
    let fx = fixture_at("implementation");
    let rec = fx.env.root().join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    let copy = rec.join("git-okstra");
    common::copy_exec(Path::new(BIN), &copy);
    let r = Run::from(fx.env.command(&copy, &fx.main).args(["hooks", "install"]).output().unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let log = fx.env.root().join("binary.log");
    write_exec(&copy, format!("#!/bin/sh\necho \"$*\" >> '{}'\nexec '{BIN}' \"$@\"\n", log.display()));
    // The first commit of a repository makes the stamps folder (the binary's job, issue 13).
    fx.env.commit_file(&fx.main, "docs/guide.md", "main\n", "on main");
    let _ = std::fs::remove_file(&log);
    fx.env.commit_file(&fx.main, "docs/guide.md", "main again\n", "on main again");
    fx.env.commit_file(&fx.wt3, "src/b.rs", "a task without a run: judged, allowed\n", "x");
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(calls.lines().filter(|l| l.starts_with("hook pre-commit")).count(), 1, "only DEV-3's: {calls}");
    let _ = std::fs::remove_file(&log);
    fx.env.commit_file(&fx.main, "docs/guide.md", "main once more\n", "on main once more");
    assert_eq!(std::fs::read_to_string(&log).unwrap_or_default(), "", "ordinary commits start no binary");
    assert_eq!(commit(&fx, "src/a.rs", &[]).code, 0);
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(calls.lines().any(|l| l == "hook pre-commit"), "{calls}");
    assert_eq!(commit(&fx, "README.md", &[]).code, 1, "and judges it");
}

/// Codex: the guard goes into the user's `$CODEX_HOME/hooks.json` (one file, trusted once,
/// for every checkout); `hooks status` reports it untrusted until Codex records the trust,
/// and an older entry as stale; `task start` installs it when `okstra.agentGuard` names codex.
#[test]
fn codex_is_installed_once_for_the_user_and_its_trust_is_reported() {
    let env = Env::new();
    let repo = env.repo("proj");
    let hooks_json = env.home.join(".codex/hooks.json");
    env.git(&repo, &["config", "okstra.agentGuard", "codex"]);
    let start = env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json();
    let wt = PathBuf::from(start["path"].as_str().unwrap());
    assert!(!wt.join(".codex").exists(), "nothing goes into the worktree");
    assert_eq!(env.git(&wt, &["status", "--porcelain"]), "");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&hooks_json).unwrap()).unwrap();
    let group = &doc["hooks"]["PreToolUse"][0];
    assert_eq!(group["matcher"], "Bash|shell|apply_patch|mcp__.*");
    assert_eq!(group["hooks"][0]["command"], "git-okstra hook agent-guard");
    assert_eq!(group["hooks"][0]["type"], "command");
    let status = |cwd: &Path| env.okstra(cwd, &["hooks", "status", "--agent", "codex", "--json"]).ok().json();
    let s = status(&wt);
    assert_eq!(s["agents"][0]["state"], "untrusted");
    assert!(s["agents"][0]["error"].as_str().unwrap().contains("/hooks"), "{s}");
    // Codex records the trust of the hook at group 0, handler 0 of that file.
    let key = format!("{}:pre_tool_use:0:0", hooks_json.display());
    std::fs::write(
        env.home.join(".codex/config.toml"),
        format!("[hooks.state.\"{key}\"]\ntrusted_hash = \"sha256:abc\"\n"),
    )
    .unwrap();
    assert_eq!(status(&repo)["agents"][0]["state"], "installed");
    // An entry an older version wrote (a narrower matcher) is stale, and install updates it.
    let old = std::fs::read_to_string(&hooks_json).unwrap().replace("Bash|shell|apply_patch|mcp__.*", "Bash");
    std::fs::write(&hooks_json, old).unwrap();
    assert_eq!(status(&repo)["agents"][0]["state"], "stale");
    let r = env.okstra(&repo, &["hooks", "install", "--agent", "codex", "--json"]).ok().json();
    assert_eq!(r["agents"][0]["result"], "updated");
    assert_eq!(status(&repo)["agents"][0]["state"], "installed");
    // CODEX_HOME moves it; uninstall takes it out.
    let other = env.root().join("codex-home");
    let r =
        env.okstra_env(&repo, &["hooks", "install", "--agent", "codex"], &[("CODEX_HOME", other.to_str().unwrap())]);
    assert_eq!(r.ok().stdout.trim(), other.join("hooks.json").to_string_lossy());
    env.okstra(&repo, &["hooks", "uninstall", "--agent", "codex"]).ok();
    assert!(!hooks_json.exists());
    // An agent cannot take it out or rewrite its trust.
    for cmd in [format!("rm {}", hooks_json.display()), "echo x > ~/.codex/config.toml".to_string()] {
        let r = env.okstra(&repo, &["hook", "agent-guard", &cmd]).fails(2);
        assert!(r.stderr.contains("self-protect:host-settings"), "{cmd}: {}", r.stderr);
    }
}

/// `hooks status` reports a Claude Code entry an older version wrote (without the file tools)
/// as stale.
#[test]
fn an_older_claude_install_is_reported_stale() {
    let env = Env::new();
    let repo = env.repo("proj");
    let path = repo.join(".claude/settings.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let old = r#"{"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "git-okstra hook agent-guard"}]}]}}"#;
    std::fs::write(&path, old).unwrap();
    let s = env.okstra(&repo, &["hooks", "status", "--agent", "claude", "--json"]).ok().json();
    assert_eq!(s["agents"][0]["state"], "stale");
    assert!(s["agents"][0]["error"].as_str().unwrap().contains("hooks install --agent claude"), "{s}");
    let text = env.okstra(&repo, &["hooks", "status", "--agent", "claude"]).ok().stdout;
    assert!(text.starts_with("claude  stale"), "{text}");
}

/// A stand-in agent host: for each tool call of a folder (`N.json` the hook input it sends,
/// `N.sh` what the tool then does, `N.cwd` where), it asks the guard as the hosts do —
/// `git-okstra hook agent-guard` found on PATH, the JSON on stdin — and does the action only
/// when allowed; `N.bypass` marks a call made without asking (a tool the host sends no hook
/// for), which only the git hooks can stop. It records `N ran <exit>` or `N blocked <exit>`.
const STAND_IN: &str = r#"#!/bin/sh
dir=$1
for j in "$dir"/*.json; do
	n=${j%.json}
	n=${n##*/}
	if [ -e "$dir/$n.bypass" ] || git-okstra hook agent-guard <"$j" 2>"$dir/$n.err"; then
		(cd "$(cat "$dir/$n.cwd")" && sh "$dir/$n.sh") >"$dir/$n.out" 2>&1
		echo "$n ran $?" >>"$dir/log"
	else
		echo "$n blocked $?" >>"$dir/log"
	fi
done
"#;

/// One tool call of the stand-in and what must happen to it.
struct Call {
    json: serde_json::Value,
    action: String,
    bypass: bool,
    /// `ran 0`, `ran 1` (git's hook refused it), or `blocked 2`.
    expect: &'static str,
}

fn bash(fx: &Fx, cmd: &str, expect: &'static str) -> Call {
    let cmd = fx.fill(cmd);
    let json = serde_json::json!({"hook_event_name": "PreToolUse", "tool_name": "Bash", "cwd": fx.wt, "tool_input": {"command": cmd}});
    Call { json, action: cmd, bypass: false, expect }
}

fn write_tool(fx: &Fx, file: &str, content: &str, expect: &'static str) -> Call {
    let file = fx.fill(file);
    let path = if file.starts_with('/') { PathBuf::from(&file) } else { fx.wt.join(&file) };
    let json = serde_json::json!({"hook_event_name": "PreToolUse", "tool_name": "Write", "cwd": fx.wt,
        "tool_input": {"file_path": path, "content": content}});
    let quoted = content.replace('\'', "'\\''");
    let action =
        format!("mkdir -p '{}' && printf '%s' '{quoted}' > '{}'", path.parent().unwrap().display(), path.display());
    Call { json, action, bypass: false, expect }
}

/// Let the stand-in make the calls; what it recorded, checked against what each call expects.
fn agent(fx: &Fx, phase: &str, calls: Vec<Call>, failures: &mut Vec<String>) {
    let dir = fx.env.root().join("agent").join(phase);
    std::fs::create_dir_all(&dir).unwrap();
    for (i, c) in calls.iter().enumerate() {
        let n = format!("{i:03}");
        std::fs::write(dir.join(format!("{n}.json")), c.json.to_string()).unwrap();
        std::fs::write(dir.join(format!("{n}.sh")), &c.action).unwrap();
        std::fs::write(dir.join(format!("{n}.cwd")), fx.wt.to_string_lossy().as_bytes()).unwrap();
        if c.bypass {
            std::fs::write(dir.join(format!("{n}.bypass")), "").unwrap();
        }
    }
    let bin = fx.env.root().join("agent-bin");
    if !bin.exists() {
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(BIN, bin.join("git-okstra")).unwrap();
        write_exec(&bin.join("stand-in-agent"), STAND_IN);
    }
    let mut cmd = fx.env.command(bin.join("stand-in-agent"), &fx.wt);
    cmd.arg(&dir).env("PATH", common::path_with(&bin));
    assert!(cmd.status().unwrap().success());
    let log = std::fs::read_to_string(dir.join("log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), calls.len(), "{phase}: the stand-in made every call:\n{log}");
    for (c, line) in calls.iter().zip(&lines) {
        let got = line.split_once(' ').map(|x| x.1).unwrap_or("");
        if got != c.expect {
            let n = line.split(' ').next().unwrap_or("");
            let err = std::fs::read_to_string(dir.join(format!("{n}.err"))).unwrap_or_default();
            let out = std::fs::read_to_string(dir.join(format!("{n}.out"))).unwrap_or_default();
            failures.push(format!("{phase}: `{}`: expected {}, got {got} {err}{out}", c.action, c.expect));
        }
    }
}

/// One task through all six phases with a stand-in agent that does its phase's work and
/// tries each forbidden action: every forbidden action is stopped (by the guard, or by the
/// git hooks when the guard is not asked), every allowed one goes through, and the user's own
/// steps (approval, handoff) do what they should.
#[test]
fn a_task_walks_all_six_phases_with_a_stand_in_agent() {
    let mut fx = fixture();
    let mut failures = Vec::new();
    let notes = "{notes}/agent-notes.md";
    let forbidden_everywhere = |fx: &Fx| {
        vec![
            bash(fx, "git push -u origin feat-dev-1", "blocked 2"),
            bash(fx, "git okstra task phase DEV-1 release-handoff", "blocked 2"),
            bash(fx, "echo x > {other}/src/a.rs", "blocked 2"),
            bash(fx, "echo x >> {main}/README.md", "blocked 2"),
            write_tool(fx, "{other}/src/b.rs", "mine now\n", "blocked 2"),
            bash(fx, "git branch -d feat-dev-2", "blocked 2"),
            bash(fx, "OKSTRA_ALLOW=phase git commit -am x", "blocked 2"),
        ]
    };
    fx.enter("requirements-discovery");
    let mut calls = vec![
        bash(&fx, "git status --short && git log --oneline -2 && cat src/a.rs", "ran 0"),
        write_tool(&fx, notes, "# Requirements\nthe login loops\n", "ran 0"),
        write_tool(&fx, "src/a.rs", "fn a() { fixed(); }\n", "blocked 2"),
        bash(&fx, "echo x >> src/b.rs", "blocked 2"),
        bash(&fx, "git commit --allow-empty -m wip", "blocked 2"),
    ];
    calls.extend(forbidden_everywhere(&fx));
    // A commit the guard is never asked about: the pre-commit hook refuses it.
    calls.push(Call { bypass: true, ..bash(&fx, "git commit -q --allow-empty -m unguarded", "ran 1") });
    agent(&fx, "requirements-discovery", calls, &mut failures);

    fx.enter("error-analysis");
    let calls = vec![
        bash(&fx, "printf 'grep -c fn src/a.rs\\n' > .scratch/repro.sh", "ran 0"),
        bash(&fx, "sh .scratch/repro.sh", "ran 0"),
        bash(&fx, "echo 'loop in a()' >> {notes}/agent-notes.md", "ran 0"),
        bash(&fx, "sed -i 's/fn/pub fn/' src/a.rs", "blocked 2"),
        bash(&fx, "git stash pop", "blocked 2"),
    ];
    agent(&fx, "error-analysis", calls, &mut failures);

    fx.enter("implementation-planning");
    let plan = fx.run.join("plan.md").to_string_lossy().into_owned();
    let calls = vec![
        write_tool(&fx, &plan, PLAN, "ran 0"),
        bash(&fx, &format!("echo APPROVED >> {plan}"), "blocked 2"),
        write_tool(&fx, &plan, &PLAN.replace("[ ]", "[x]"), "blocked 2"),
        bash(&fx, &format!("git okstra task phase DEV-1 implementation --approved-plan {plan} --approve"), "blocked 2"),
    ];
    agent(&fx, "implementation-planning", calls, &mut failures);
    assert!(std::fs::read_to_string(&plan).unwrap().contains("- [ ] Approved"), "the box is still the user's");

    fx.enter("implementation"); // the user approves the plan
    let mut calls = vec![
        write_tool(&fx, "src/a.rs", "fn a() { fixed(); }\n", "ran 0"),
        write_tool(&fx, "tests/t.rs", "#[test]\nfn t() { a(); }\n", "ran 0"),
        bash(&fx, "git add -A && git commit -q -m 'fix: the loop'", "ran 0"),
        bash(&fx, "git commit -q --amend -m 'fix: the login loop'", "ran 0"),
        write_tool(&fx, "README.md", "# proj, fixed\n", "blocked 2"),
        write_tool(&fx, &plan, "# Plan\n\n## Files\n- src/\n- README.md\n", "blocked 2"),
        bash(&fx, "git -C {other} commit --allow-empty -m x", "blocked 2"),
    ];
    calls.extend(forbidden_everywhere(&fx));
    // An edit the guard never saw, outside the plan: the commit of it is refused.
    calls.push(Call { bypass: true, ..bash(&fx, "echo x >> docs/guide.md && git commit -q -am docs", "ran 1") });
    calls.push(Call { bypass: true, ..bash(&fx, "git checkout -q -- docs/guide.md", "ran 0") });
    agent(&fx, "implementation", calls, &mut failures);
    assert_eq!(fx.env.git(&fx.wt, &["log", "-1", "--format=%s"]), "fix: the login loop");

    fx.enter("final-verification");
    let report = fx.run.join("final-verification-report.md").to_string_lossy().into_owned();
    let calls = vec![
        bash(&fx, "git diff HEAD~1 --stat && grep -q fixed src/a.rs", "ran 0"),
        write_tool(&fx, &report, REPORT, "ran 0"),
        write_tool(&fx, "src/a.rs", "fn a() {}\n", "blocked 2"),
        bash(&fx, "git commit --allow-empty -m verified", "blocked 2"),
    ];
    agent(&fx, "final-verification", calls, &mut failures);

    fx.enter("release-handoff");
    let mut calls = vec![
        write_tool(&fx, &format!("{}/pr-body.md", fx.run.display()), "## Summary\nfixes the loop\n", "ran 0"),
        bash(&fx, "git okstra handoff --action commit --yes", "blocked 2"),
        bash(&fx, "gh pr create --fill", "blocked 2"),
        bash(&fx, "git commit --allow-empty -m release", "blocked 2"),
    ];
    calls.extend(forbidden_everywhere(&fx));
    agent(&fx, "release-handoff", calls, &mut failures);
    assert!(failures.is_empty(), "{} calls went wrong:\n{}", failures.len(), failures.join("\n"));

    // Nothing forbidden happened: the other task, the main worktree and the remote are as they were.
    assert_eq!(fx.env.git(&fx.other, &["status", "--porcelain"]), "");
    assert_eq!(fx.env.git(&fx.main, &["status", "--porcelain"]), "");
    let origin = fx.env.root().join("proj-origin.git");
    assert!(fx.env.git_run(&origin, &["rev-parse", "--verify", "-q", "refs/heads/feat-dev-1"]).code != 0);
    // The user's handoff commits what is left (the agent's notes are in the main worktree's
    // notes, not the task branch).
    std::fs::write(fx.wt.join("src/b.rs"), "fn b() { ready(); }\n").unwrap();
    let r = fx.env.okstra(&fx.wt, &["handoff", "--action", "commit", "--yes"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(fx.env.git(&fx.wt, &["status", "--porcelain"]), "");
}
