//! The task contract (DESIGN §8) through the real binary, real git and real tasks: the case
//! files under `tests/guard-cases/contract/` judged in each phase of a task the user walks
//! through (`git okstra task phase`), the `pre-commit` backstop on real commits, the handoff's
//! own commit and attempts to forge it, a plan changed after its approval, broken contexts, the
//! audit log, and the Codex host's install.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{write_exec, Env, Run, BIN};

const PHASES: [&str; 6] = [
    "requirements-discovery",
    "error-analysis",
    "implementation-planning",
    "implementation",
    "final-verification",
    "release-handoff",
];

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
/// all temporary): cargo's folder for test files.
fn elsewhere() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("okstra-contract-elsewhere");
    std::fs::create_dir_all(&dir).unwrap();
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
