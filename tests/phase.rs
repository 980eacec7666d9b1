//! `git okstra task phase` / `git okstra phase`: gates, run folders, prompts, executors.

mod common;
use common::{Env, Run, PHASES};

use std::path::{Path, PathBuf};

/// A repository with task DEV-1 started; returns (env, repo, task worktree).
fn setup() -> (Env, PathBuf, PathBuf) {
    let env = Env::new();
    let repo = env.repo("proj");
    let out = env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json();
    let wt = PathBuf::from(out["path"].as_str().unwrap());
    (env, repo, wt)
}

fn runs_dir(repo: &Path) -> PathBuf {
    repo.join(".project-docs/okstra/tasks/dev-1/runs")
}

fn run_folders(repo: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(runs_dir(repo))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.retain(|n| !n.starts_with('.'));
    v.sort();
    v
}

fn phase_history(env: &Env) -> Vec<String> {
    let reg = env.registry();
    reg["tasks"]["proj/default/dev-1"]["phases"]
        .as_array()
        .map(|a| a.iter().map(|p| p["phase"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn phase(env: &Env, cwd: &Path, args: &[&str]) -> Run {
    let mut all = vec!["task", "phase", "DEV-1"];
    all.extend_from_slice(args);
    env.okstra(cwd, &all)
}

fn write(path: &Path, text: &str) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

/// A plan's `## Files` section naming `src/` and the tests.
const FILES: &str = "## Files\n\n- src/\n- tests/*.rs\n";

fn report(verdict_section: &str) -> String {
    format!("# Final verification\n\n## 1. Evidence\n\nall tests pass\n\n## 2. Final Verdict\n\n{verdict_section}\n\n## 3. Notes\n\nnone\n")
}

#[test]
fn phase_run_reuses_worktree_writes_run_folder_and_records() {
    let (env, repo, wt) = setup();
    let out = phase(&env, &repo, &["requirements-discovery", "--json"]).ok().json();
    assert_eq!(out["schema"], 1);
    assert_eq!(out["key"], "proj/default/dev-1");
    assert_eq!(out["worktree"]["status"], "reused");
    assert_eq!(out["worktree"]["path"], wt.to_str().unwrap());
    assert_eq!(out["worktree"]["branch"], "feat-dev-1");
    assert_eq!(out["run"], 1);
    assert_eq!(out["workers"], serde_json::json!(["requirements-analyst", "codebase-scout"]));
    let run_dir = PathBuf::from(out["run_dir"].as_str().unwrap());
    assert_eq!(run_dir, runs_dir(&repo).join("001-requirements-discovery"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["key"], "proj/default/dev-1");
    assert_eq!(manifest["phase"], "requirements-discovery");
    assert_eq!(manifest["worktree"]["status"], "reused");
    assert_eq!(manifest["worktree"]["path"], wt.to_str().unwrap());
    assert_eq!(manifest["worktree"]["branch"], "feat-dev-1");
    assert_eq!(manifest["worktree"]["base_ref"], env.git(&repo, &["rev-parse", "HEAD"]));
    assert_eq!(manifest["workers"], out["workers"]);
    assert_eq!(manifest["executor"], serde_json::Value::Null);
    assert!(manifest["times"]["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(phase_history(&env), ["requirements-discovery"]);
    assert_eq!(env.registry()["tasks"]["proj/default/dev-1"]["last_phase"], "requirements-discovery");

    // Plain output: the worktree path on stdout (as `task start`), the launch path on stderr.
    let plain = phase(&env, &repo, &["error-analysis"]).ok();
    assert_eq!(plain.stdout.trim(), wt.to_str().unwrap());
    let launch = runs_dir(&repo).join("002-error-analysis/launch.md");
    assert!(plain.stderr.contains(&format!("launch prompt: {}", launch.display())), "{}", plain.stderr);
    assert_eq!(phase_history(&env), ["requirements-discovery", "error-analysis"]);
    // The run folder is reachable from the task worktree through the .project-docs link.
    assert!(wt.join(".project-docs/okstra/tasks/dev-1/runs/002-error-analysis/launch.md").is_file());
}

#[test]
fn every_phase_renders_completely_with_the_right_team_section() {
    let (env, repo, _wt) = setup();
    write(&repo.join("plan.md"), &format!("# Plan\n\n{FILES}\nAPPROVED\n"));
    write(&repo.join("report.md"), &report("accepted"));
    for p in PHASES {
        let mut args = vec![p, "--json"];
        match p {
            "implementation" => args.extend(["--approved-plan", "plan.md"]),
            "release-handoff" => args.extend(["--verification-report", "report.md"]),
            _ => {}
        }
        let out = phase(&env, &repo, &args).ok().json();
        let text = std::fs::read_to_string(out["launch"].as_str().unwrap()).unwrap();
        assert!(!text.contains("{{"), "{p}: leftover placeholder:\n{text}");
        assert!(!text.contains("(pending)"), "{p}: a trial value leaked:\n{text}");
        assert!(text.contains("proj/default/dev-1"), "{p}: task key");
        assert!(text.contains(&format!("Project root (the main worktree): `{}`", repo.display())), "{p}");
        assert!(text.contains("- Status: `reused`") && text.contains("- Branch: `feat-dev-1`"), "{p}");
        assert!(text.contains("- Required workers:"), "{p}");
        assert!(text.contains("OKSTRA_ALLOW"), "{p}: the override ban");
        assert!(text.contains("`.project-docs`"), "{p}: sync dirs");
        if p == "implementation-planning" {
            assert!(text.contains("and a `## Files` section: every file the implementation may change"), "{p}");
        }
        if p == "implementation" {
            assert!(text.contains("- `src/`\n- `tests/*.rs`\n"), "{p}: the recorded files:\n{text}");
        }
        if p == "release-handoff" {
            assert!(text.contains("## Single-Lead Phase"), "{p}");
            assert!(!text.contains("Team Creation Gate"), "{p}");
            assert_eq!(out["workers"], serde_json::json!([]));
        } else {
            assert!(text.contains("## Team Creation Gate"), "{p}");
            assert!(!text.contains("Single-Lead Phase"), "{p}");
            assert!(out["workers"].as_array().unwrap().len() >= 2, "{p}");
        }
    }
    assert_eq!(phase_history(&env), PHASES);
    let fv = std::fs::read_to_string(runs_dir(&repo).join("005-final-verification/launch.md")).unwrap();
    assert!(fv.contains("005-final-verification/final-verification-report.md"), "report path told to the agent");
}

#[test]
fn implementation_gate_accepts_markers_and_refuses_without() {
    let (env, repo, _wt) = setup();
    let e = phase(&env, &repo, &["implementation"]).fails(1);
    assert!(e.stderr.contains("needs an approved plan"), "{}", e.stderr);
    for (name, text) in [
        ("a.md", "# Plan\nAPPROVED\n"),
        ("b.md", "# Plan\n- APPROVED: lead, 2024-01-01\n"),
        ("c.md", "# Plan\n* [x] Approved\n"),
    ] {
        write(&repo.join(name), &format!("{text}\n{FILES}"));
        phase(&env, &repo, &["implementation", "--approved-plan", name]).ok();
    }
    for (name, text) in [
        ("d.md", "# Plan\n- [ ] Approved\n"),
        ("e.md", "# Plan\nnot APPROVED yet\n"),
        ("f.md", "# Plan\nAPPROVEDish\n"),
    ] {
        let text = &format!("{text}\n{FILES}");
        write(&repo.join(name), text);
        let r = phase(&env, &repo, &["implementation", "--approved-plan", name]).fails(1);
        assert!(r.stderr.contains("carries no approval marker"), "{name}: {}", r.stderr);
        assert_eq!(std::fs::read_to_string(repo.join(name)).unwrap(), *text);
    }
    let missing = phase(&env, &repo, &["implementation", "--approved-plan", "nope.md"]).fails(1);
    assert!(missing.stderr.contains("nope.md"), "{}", missing.stderr);
    assert_eq!(run_folders(&repo).len(), 3, "refused runs make no run folder");
    assert_eq!(phase_history(&env).len(), 3, "refused runs record nothing");
}

#[test]
fn implementation_gate_needs_a_sound_files_section() {
    let (env, repo, _wt) = setup();
    let cases = [
        ("none.md", "# Plan\n\n1. do it\n\n- [ ] Approved\n", "no `## Files` section"),
        (
            "empty.md",
            "# Plan\n\n## Files\n\n## Steps\n- [ ] Approved\n",
            "the `## Files` section (line 3) lists no file",
        ),
        (
            "prose.md",
            "# Plan\n## Files\nThese ones:\n- src/a.rs\n- [ ] Approved\n",
            "line 3 of the `## Files` section is not a top-level list item: 'These ones:'",
        ),
        (
            "up.md",
            "# Plan\n## Files\n- src/a.rs\n- ../other/x.rs\n- [ ] Approved\n",
            "line 4 of the `## Files` section: '../other/x.rs' leaves the repository (a `..` component)",
        ),
        (
            "abs.md",
            "# Plan\n## Files\n- /etc/hosts\n- [ ] Approved\n",
            "line 3 of the `## Files` section: '/etc/hosts' is an absolute path",
        ),
    ];
    for (name, text, says) in cases {
        write(&repo.join(name), text);
        for extra in [&[][..], &["--approve"]] {
            let mut args = vec!["implementation", "--approved-plan", name];
            args.extend_from_slice(extra);
            let r = phase(&env, &repo, &args).fails(1);
            let path = repo.join(name);
            assert_eq!(r.stderr.lines().count(), 2, "{name}: one error line and one hint: {}", r.stderr);
            assert!(
                r.stderr.starts_with(&format!("error: plan {}: {says}\nhint: ", path.display())),
                "{name}: {}",
                r.stderr
            );
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "{name}: --approve wrote nothing");
        }
    }
    // The missing-section error shows an example.
    let r = phase(&env, &repo, &["implementation", "--approved-plan", "none.md"]).fails(1);
    assert!(r.stderr.contains("hint: list every file the implementation may change, one repository-relative path or glob per item: `## Files` followed by `- src/login.rs`"), "{}", r.stderr);
    assert!(run_folders(&repo).is_empty(), "refused plans make no run folder");
    assert!(phase_history(&env).is_empty());
}

#[test]
fn the_run_records_the_plan_path_hash_and_files_and_tells_the_agent() {
    let (env, repo, _wt) = setup();
    std::fs::create_dir_all(repo.join("notes")).unwrap();
    let plan = repo.join("notes/plan.md");
    write(
        &plan,
        "# Plan\n\n## Files\n\n- `src/login.rs` — the form\n- tests/login_*.rs\n- src/login.rs\n\n- [ ] Approved\n",
    );
    // Named through a path with `..`: the manifest records the canonical path.
    let out =
        phase(&env, &repo, &["implementation", "--approved-plan", "notes/../notes/plan.md", "--approve", "--json"])
            .ok()
            .json();
    let approved = std::fs::read(&plan).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out["manifest"].as_str().unwrap()).unwrap()).unwrap();
    let gate = &manifest["gate"];
    assert_eq!(gate["kind"], "approved-plan");
    assert_eq!(gate["file"], plan.to_str().unwrap());
    assert_eq!(gate["files"], serde_json::json!(["src/login.rs", "tests/login_*.rs"]));
    assert_eq!(gate["sha256"], sha256_of(&approved), "the hash of the text after --approve");
    assert_eq!(out["gate"], *gate, "--json shows what the manifest records");
    // The launch prompt lists the files and the hash.
    let launch = std::fs::read_to_string(out["launch"].as_str().unwrap()).unwrap();
    assert!(launch.contains("These are the files it lets you edit and commit"), "{launch}");
    assert!(launch.contains("- `src/login.rs`\n- `tests/login_*.rs`\n"), "{launch}");
    assert!(launch.contains(gate["sha256"].as_str().unwrap()));
    // The registry names the run, so the current run is found without scanning folders.
    let reg = env.registry();
    let last = reg["tasks"]["proj/default/dev-1"]["phases"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["phase"], "implementation");
    assert_eq!(last["run"], 1);
}

/// SHA-256 through the system's `sha256sum` (coreutils), independent of the code under test.
fn sha256_of(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

#[test]
fn approve_checks_the_box_and_is_idempotent() {
    let (env, repo, _wt) = setup();
    let plan = repo.join("plan.md");
    write(&plan, &format!("# Plan\n\n1. do it\n\n{FILES}\n- [ ] Approved\n"));
    let out = phase(&env, &repo, &["implementation", "--approved-plan", "plan.md", "--approve", "--json"]).ok().json();
    assert_eq!(out["gate"]["kind"], "approved-plan");
    assert_eq!(out["gate"]["approved_now"], true);
    let once = std::fs::read_to_string(&plan).unwrap();
    assert!(once.starts_with(&format!("# Plan\n\n1. do it\n\n{FILES}\n- [x] Approved\n")), "{once}");
    assert_eq!(once.matches("Approved on the command line by Test User <test@example.invalid>").count(), 1);
    phase(&env, &repo, &["implementation", "--approved-plan", "plan.md", "--approve"]).ok();
    let twice = std::fs::read_to_string(&plan).unwrap();
    assert!(twice.starts_with(&once), "a second approval only appends");
    assert_eq!(twice.matches("[x] Approved").count(), 1);
    assert_eq!(twice.matches("Approved on the command line").count(), 2);
}

#[test]
fn approve_errors_leave_the_plan_byte_identical() {
    let (env, repo, _wt) = setup();
    let plan = repo.join("plan.md");
    let text = "# Plan\r\n## Files\r\n- src/\r\n- [ ] Approved\r\nno newline at end";
    write(&plan, text);
    let before = std::fs::read(&plan).unwrap();
    let other = phase(&env, &repo, &["final-verification", "--approved-plan", "plan.md", "--approve"]).fails(2);
    assert!(other.stderr.contains("--approve"), "{}", other.stderr);
    let no_plan = phase(&env, &repo, &["implementation", "--approve"]).fails(2);
    assert!(no_plan.stderr.contains("--approved-plan"), "{}", no_plan.stderr);
    assert_eq!(std::fs::read(&plan).unwrap(), before);

    let boxless = repo.join("boxless.md");
    let boxless_text = format!("# Plan\nnothing to check\n{FILES}");
    write(&boxless, &boxless_text);
    let r = phase(&env, &repo, &["implementation", "--approved-plan", "boxless.md", "--approve"]).fails(1);
    assert!(r.stderr.contains("no `[ ] Approved` box"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&boxless).unwrap(), boxless_text);

    // A symlinked plan is refused, and neither the link nor its target changes.
    std::os::unix::fs::symlink(&plan, repo.join("link.md")).unwrap();
    let r = phase(&env, &repo, &["implementation", "--approved-plan", "link.md", "--approve"]).fails(1);
    assert!(r.stderr.contains("symlink"), "{}", r.stderr);
    assert_eq!(std::fs::read(&plan).unwrap(), before);
    assert!(std::fs::symlink_metadata(repo.join("link.md")).unwrap().file_type().is_symlink());

    // Non-UTF-8 text is refused untouched.
    let bin = repo.join("bin.md");
    std::fs::write(&bin, b"- [ ] Approved\n\xff\xfe\n").unwrap();
    phase(&env, &repo, &["implementation", "--approved-plan", "bin.md", "--approve"]).fails(1);
    assert_eq!(std::fs::read(&bin).unwrap(), b"- [ ] Approved\n\xff\xfe\n");

    // No temp files left beside the plans, no run folders, no history.
    let stray: Vec<_> = std::fs::read_dir(&repo)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("okstra-tmp"))
        .collect();
    assert!(stray.is_empty());
    assert!(run_folders(&repo).is_empty());
    assert!(phase_history(&env).is_empty());
}

#[test]
fn release_handoff_gate_needs_exactly_accepted() {
    let (env, repo, _wt) = setup();
    for (name, section, found) in [
        ("cond.md", "conditional-accept", "conditional-accept"),
        ("blocked.md", "**blocked**", "blocked"),
        ("prose.md", "looks good to me", "looks good to me"),
        ("empty.md", "", "is empty"),
    ] {
        write(&repo.join(name), &report(section));
        let r = phase(&env, &repo, &["release-handoff", "--verification-report", name]).fails(1);
        assert!(r.stderr.contains(found), "{name}: {}", r.stderr);
    }
    write(&repo.join("nosection.md"), "# Report\n\naccepted\n");
    let r = phase(&env, &repo, &["release-handoff", "--verification-report", "nosection.md"]).fails(1);
    assert!(r.stderr.contains("no `## 2. Final Verdict` section"), "{}", r.stderr);
    assert!(run_folders(&repo).is_empty());

    write(&repo.join("ok.md"), &report("accepted"));
    let out = phase(&env, &repo, &["release-handoff", "--verification-report", "ok.md", "--json"]).ok().json();
    assert_eq!(out["gate"]["kind"], "final-verdict");
    assert_eq!(out["gate"]["verdict"], "accepted");
    assert_eq!(out["gate"]["file"], repo.join("ok.md").to_str().unwrap());
    let r = phase(&env, &repo, &["implementation-planning", "--verification-report", "ok.md"]).fails(2);
    assert!(r.stderr.contains("belongs to the release-handoff phase"), "{}", r.stderr);
}

#[test]
fn release_handoff_defaults_to_the_newest_final_verification_report() {
    let (env, repo, _wt) = setup();
    let r = phase(&env, &repo, &["release-handoff"]).fails(1);
    assert!(r.stderr.contains("no final-verification run"), "{}", r.stderr);
    let first = phase(&env, &repo, &["final-verification", "--json"]).ok().json();
    let second = phase(&env, &repo, &["final-verification", "--json"]).ok().json();
    let name = "final-verification-report.md";
    write(&Path::new(first["run_dir"].as_str().unwrap()).join(name), &report("accepted"));
    write(&Path::new(second["run_dir"].as_str().unwrap()).join(name), &report("blocked"));
    let r = phase(&env, &repo, &["release-handoff"]).fails(1);
    assert!(r.stderr.contains("`blocked`"), "the newest report decides: {}", r.stderr);
    write(&Path::new(second["run_dir"].as_str().unwrap()).join(name), &report("accepted"));
    let out = phase(&env, &repo, &["release-handoff", "--json"]).ok().json();
    assert!(out["gate"]["file"].as_str().unwrap().ends_with(&format!("002-final-verification/{name}")));
}

#[test]
fn repository_override_replaces_a_prompt_file() {
    let (env, repo, _wt) = setup();
    write(
        &repo.join(".okstra/prompts/profiles/requirements-discovery.md"),
        "### Our discovery\n\nAsk {{TASK_KEY}} questions.\n\n- Required workers: none\n\n{{INCLUDE:_house-rules.md}}\n",
    );
    write(&repo.join(".okstra/prompts/profiles/_house-rules.md"), "House rule: tea first.\n");
    let out = phase(&env, &repo, &["requirements-discovery", "--json"]).ok().json();
    let text = std::fs::read_to_string(out["launch"].as_str().unwrap()).unwrap();
    assert!(text.contains("### Our discovery\n\nAsk proj/default/dev-1 questions."), "{text}");
    assert!(text.contains("House rule: tea first."));
    assert!(
        text.contains("## Single-Lead Phase") && !text.contains("Team Creation Gate"),
        "roster follows the override"
    );
    assert_eq!(out["workers"], serde_json::json!([]));
    // Other phases keep the built-in profile.
    let other = phase(&env, &repo, &["error-analysis", "--json"]).ok().json();
    let text = std::fs::read_to_string(other["launch"].as_str().unwrap()).unwrap();
    assert!(text.contains("### Phase: error-analysis") && text.contains("## Team Creation Gate"));

    write(&repo.join(".okstra/prompts/launch.template.md"), "Custom launch for {{TASK_KEY}}\n{{TEAM_CREATION_GATE}}\n");
    let out = phase(&env, &repo, &["implementation-planning", "--json"]).ok().json();
    let text = std::fs::read_to_string(out["launch"].as_str().unwrap()).unwrap();
    assert!(text.starts_with("Custom launch for proj/default/dev-1\n## Team Creation Gate"), "{text}");
}

#[test]
fn broken_templates_are_errors_and_write_nothing() {
    let (env, repo, _wt) = setup();
    let profiles = repo.join(".okstra/prompts/profiles");
    write(&profiles.join("error-analysis.md"), "- Required workers: none\n{{INCLUDE:_a.md}}\n");
    write(&profiles.join("_a.md"), "A {{INCLUDE:_b.md}}\n");
    write(&profiles.join("_b.md"), "B {{INCLUDE:_a.md}}\n");
    let r = phase(&env, &repo, &["error-analysis"]).fails(1);
    assert!(r.stderr.contains("include cycle"), "{}", r.stderr);
    assert!(r.stderr.contains(".okstra/prompts/profiles/_b.md"), "names the file: {}", r.stderr);
    assert!(r.stderr.contains("profiles/_a.md -> profiles/_b.md -> profiles/_a.md"), "{}", r.stderr);

    write(&profiles.join("error-analysis.md"), "- Required workers: none\nHello {{NO_SUCH_VALUE}}\n");
    let r = phase(&env, &repo, &["error-analysis"]).fails(1);
    assert!(
        r.stderr.contains(".okstra/prompts/profiles/error-analysis.md: placeholder {{NO_SUCH_VALUE}} has no value"),
        "{}",
        r.stderr
    );

    write(&profiles.join("error-analysis.md"), "- Required workers: none\n{{INCLUDE:../../secret.md}}\n");
    let r = phase(&env, &repo, &["error-analysis"]).fails(1);
    assert!(r.stderr.contains("must name a file inside profiles/"), "{}", r.stderr);

    // Nesting deeper than the limit.
    write(&profiles.join("error-analysis.md"), "- Required workers: none\n{{INCLUDE:_n1.md}}\n");
    for i in 1..8 {
        write(&profiles.join(format!("_n{i}.md")), &format!("{{{{INCLUDE:_n{}.md}}}}", i + 1));
    }
    write(&profiles.join("_n8.md"), "bottom");
    let r = phase(&env, &repo, &["error-analysis"]).fails(1);
    assert!(r.stderr.contains("nests includes deeper than"), "{}", r.stderr);

    write(&profiles.join("error-analysis.md"), "No roster here.\n");
    let r = phase(&env, &repo, &["error-analysis"]).fails(1);
    assert!(r.stderr.contains("has no `- Required workers:` list"), "{}", r.stderr);

    // A broken template also stops --approve from touching the plan.
    write(&profiles.join("implementation.md"), "{{BROKEN\n");
    write(&repo.join("plan.md"), "- [ ] Approved\n");
    let r = phase(&env, &repo, &["implementation", "--approved-plan", "plan.md", "--approve"]).fails(1);
    assert!(r.stderr.contains("never closed"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(repo.join("plan.md")).unwrap(), "- [ ] Approved\n");

    assert!(run_folders(&repo).is_empty());
    assert!(phase_history(&env).is_empty());
}

#[test]
fn concurrent_phase_runs_get_distinct_run_folders() {
    let (env, repo, wt) = setup();
    let n = 6;
    let children: Vec<_> = (0..n)
        .map(|i| {
            let p = PHASES[i % 3];
            env.command(common::BIN, &repo)
                .args(["task", "phase", "DEV-1", p, "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut launches: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            v["launch"].as_str().unwrap().to_string()
        })
        .collect();
    launches.sort();
    launches.dedup();
    assert_eq!(launches.len(), n, "every run has its own launch.md");
    let folders = run_folders(&repo);
    assert_eq!(folders.len(), n);
    let numbers: Vec<&str> = folders.iter().map(|f| &f[..3]).collect();
    assert_eq!(numbers, ["001", "002", "003", "004", "005", "006"]);
    assert_eq!(phase_history(&env).len(), n, "every run recorded under the registry lock");
    // All runs found `.project-docs` unlinked (it did not exist at task start): one link, one exclude line.
    assert!(std::fs::symlink_metadata(wt.join(".project-docs")).unwrap().file_type().is_symlink());
    let exclude = std::fs::read_to_string(repo.join(".git/info/exclude")).unwrap();
    assert_eq!(exclude.lines().filter(|l| *l == "/.project-docs").count(), 1, "{exclude}");
}

/// A folder with a recording stand-in for `name` and a `git` link, for PATH.
fn stand_in(env: &Env, name: &str) -> (PathBuf, PathBuf) {
    let bin = env.root().join(format!("bin-{name}"));
    std::fs::create_dir_all(&bin).unwrap();
    let record = env.root().join(format!("record-{name}"));
    let script = format!(
        "#!/bin/sh\npwd -P > '{r}.cwd'\nprintf '%s\\0' \"$@\" > '{r}.args'\n\
         printf '%s|%s|%s\\n' \"${{OKSTRA_ALLOW-unset}}\" \"$OKSTRA_TASK_KEY\" \"$OKSTRA_PHASE\" > '{r}.env'\n\
         echo agent-output\nexit \"${{AGENT_EXIT:-0}}\"\n",
        r = record.display()
    );
    let path = bin.join(name);
    common::write_exec(&path, script);
    (bin, record)
}

fn path_with(dir: &Path) -> String {
    common::path_with(dir)
}

fn recorded_args(record: &Path) -> Vec<String> {
    let raw = std::fs::read(format!("{}.args", record.display())).unwrap();
    raw.split(|b| *b == 0).filter(|s| !s.is_empty()).map(|s| String::from_utf8(s.to_vec()).unwrap()).collect()
}

#[test]
fn exec_starts_the_agent_in_the_worktree_with_the_prompt() {
    let (env, repo, wt) = setup();
    let (bin, record) = stand_in(&env, "claude");
    let path = path_with(&bin);
    let r = env
        .okstra_env(
            &repo,
            &["task", "phase", "DEV-1", "error-analysis", "--exec", "claude"],
            &[("PATH", &path), ("OKSTRA_ALLOW", "force-push")],
        )
        .ok();
    assert_eq!(r.stdout, "agent-output\n", "the agent owns stdout");
    let cwd = std::fs::read_to_string(format!("{}.cwd", record.display())).unwrap();
    assert_eq!(cwd.trim(), wt.to_str().unwrap());
    let launch = runs_dir(&repo).join("001-error-analysis/launch.md");
    let text = std::fs::read_to_string(&launch).unwrap();
    // No terminal here: the headless form, with the whole prompt as one argument.
    assert_eq!(recorded_args(&record), ["-p".to_string(), text]);
    let envs = std::fs::read_to_string(format!("{}.env", record.display())).unwrap();
    assert_eq!(envs.trim(), "unset|proj/default/dev-1|error-analysis", "OKSTRA_ALLOW never reaches the agent");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(launch.with_file_name("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["executor"]["name"], "claude");
    assert_eq!(manifest["executor"]["exit_code"], 0);
    assert_eq!(manifest["executor"]["program"], bin.join("claude").to_str().unwrap());
    assert!(manifest["times"]["exec_finished_at"].is_string());

    // OKSTRA_DEFAULT_EXECUTOR, from inside the task worktree with `git okstra phase`; a failing agent.
    let r = env.okstra_env(
        &wt,
        &["phase", "implementation-planning"],
        &[("PATH", &path), ("OKSTRA_DEFAULT_EXECUTOR", "claude"), ("AGENT_EXIT", "3")],
    );
    let r = r.fails(1);
    assert!(r.stderr.contains("claude exited with status 3"), "{}", r.stderr);
    let cwd = std::fs::read_to_string(format!("{}.cwd", record.display())).unwrap();
    assert_eq!(cwd.trim(), wt.to_str().unwrap());
    assert_eq!(phase_history(&env), ["error-analysis", "implementation-planning"]);

    // --json with an executor is a usage error; so is it with the env default.
    env.okstra_env(
        &repo,
        &["task", "phase", "DEV-1", "error-analysis", "--exec", "claude", "--json"],
        &[("PATH", &path)],
    )
    .fails(2);
    env.okstra_env(
        &repo,
        &["task", "phase", "DEV-1", "error-analysis", "--json"],
        &[("PATH", &path), ("OKSTRA_DEFAULT_EXECUTOR", "claude")],
    )
    .fails(2);
}

#[test]
fn exec_with_a_configured_executor() {
    let (env, repo, wt) = setup();
    let (bin, record) = stand_in(&env, "my-agent");
    env.git(&repo, &["config", "okstra.executor.mine", "my-agent --prompt-file {{PROMPT_FILE}} --mode 'two words'"]);
    env.okstra_env(
        &repo,
        &["task", "phase", "DEV-1", "final-verification", "--exec", "mine"],
        &[("PATH", &path_with(&bin))],
    )
    .ok();
    let launch = runs_dir(&repo).join("001-final-verification/launch.md");
    assert_eq!(recorded_args(&record), ["--prompt-file", launch.to_str().unwrap(), "--mode", "two words"]);
    let cwd = std::fs::read_to_string(format!("{}.cwd", record.display())).unwrap();
    assert_eq!(cwd.trim(), wt.to_str().unwrap());

    env.git(&repo, &["config", "okstra.executor.silent", "my-agent --go"]);
    let r = phase(&env, &repo, &["final-verification", "--exec", "silent"]).fails(1);
    assert!(r.stderr.contains("passes no prompt"), "{}", r.stderr);
    let r = phase(&env, &repo, &["final-verification", "--exec", "nobody"]).fails(1);
    assert!(r.stderr.contains("unknown executor 'nobody'"), "{}", r.stderr);
    let r = phase(&env, &repo, &["final-verification", "--exec", "bad_name"]).fails(2);
    assert!(r.stderr.contains("not an executor name"), "{}", r.stderr);
    assert_eq!(run_folders(&repo), ["001-final-verification"]);
}

#[test]
fn a_missing_agent_cli_is_an_error_naming_it() {
    let (env, repo, _wt) = setup();
    // PATH with git only.
    let only_git = env.root().join("bin-git-only");
    std::fs::create_dir_all(&only_git).unwrap();
    let git = std::process::Command::new("sh").args(["-c", "command -v git"]).output().unwrap();
    let git = String::from_utf8(git.stdout).unwrap();
    std::os::unix::fs::symlink(git.trim(), only_git.join("git")).unwrap();
    let path = only_git.to_string_lossy().into_owned();
    for agent in ["claude", "codex", "gemini"] {
        let r = env
            .okstra_env(
                &repo,
                &["task", "phase", "DEV-1", "requirements-discovery", "--exec", agent],
                &[("PATH", &path)],
            )
            .fails(1);
        assert!(r.stderr.contains(&format!("agent CLI '{agent}'")), "{}", r.stderr);
        assert!(r.stderr.contains("not found on PATH"), "{}", r.stderr);
    }
    assert!(run_folders(&repo).is_empty(), "nothing is written when the agent is missing");
    assert!(phase_history(&env).is_empty());
}

#[test]
fn phase_inside_a_worktree_and_unregistered_tasks() {
    let (env, repo, wt) = setup();
    let sub = wt.join("deep/er");
    std::fs::create_dir_all(&sub).unwrap();
    let out = env.okstra(&sub, &["phase", "error-analysis", "--json"]).ok().json();
    assert_eq!(out["key"], "proj/default/dev-1");
    assert_eq!(out["worktree"]["status"], "reused");
    let r = env.okstra(&repo, &["phase", "error-analysis"]).fails(1);
    assert!(r.stderr.contains("not inside a task worktree"), "{}", r.stderr);
    let r = env.okstra(&repo, &["phase", "deploy"]).fails(2);
    assert_eq!(
        r.stderr,
        "error: unknown phase 'deploy'\nhint: phases: requirements-discovery, error-analysis, \
         implementation-planning, implementation, final-verification, release-handoff\n"
    );

    // An unregistered task id is started first (created), then the phase runs.
    let out = env.okstra(&repo, &["task", "phase", "DEV-2", "requirements-discovery", "--json"]).ok().json();
    assert_eq!(out["started_task"], true);
    assert_eq!(out["worktree"]["status"], "created");
    assert_eq!(out["worktree"]["branch"], "feat-dev-2");
    assert!(Path::new(out["worktree"]["path"].as_str().unwrap()).is_dir());
    let reg = env.registry();
    assert_eq!(reg["tasks"]["proj/default/dev-2"]["last_phase"], "requirements-discovery");
    // A bad id is refused before anything is made.
    let r = env.okstra(&repo, &["task", "phase", "$(rm)", "requirements-discovery"]).fails(2);
    assert!(!r.stderr.is_empty());
    // A released task is brought back by a phase run.
    env.okstra(&repo, &["task", "release", "DEV-1"]).ok();
    let out = phase(&env, &repo, &["error-analysis", "--json"]).ok().json();
    assert_eq!(out["worktree"]["status"], "reused");
    assert_eq!(env.registry()["tasks"]["proj/default/dev-1"]["status"], "active");
}

#[test]
fn a_typo_of_a_registered_id_is_refused_unless_new() {
    let env = Env::new();
    let repo = env.repo("proj");
    env.okstra(&repo, &["task", "start", "DEV-999"]).ok();
    let before = std::fs::read_to_string(env.registry_path()).unwrap();
    let r = env.okstra(&repo, &["task", "phase", "DEV-999x", "implementation-planning"]).fails(1);
    assert_eq!(
        r.stderr,
        "error: no task 'DEV-999x' in this repository; did you mean DEV-999?\n\
         hint: pass --new to start 'DEV-999x' as a new task\n"
    );
    assert_eq!(std::fs::read_to_string(env.registry_path()).unwrap(), before, "nothing registered");
    assert!(env.git_run(&repo, &["rev-parse", "--verify", "-q", "refs/heads/feat-dev-999x"]).code != 0);
    assert!(!env.okstra_home.join("worktrees/proj/default/dev-999x").exists(), "no worktree made");
    assert!(!repo.join(".project-docs/okstra/tasks/dev-999x").exists(), "no run folder made");

    // Another number is another ticket: started without a question.
    let out = env.okstra(&repo, &["task", "phase", "DEV-998", "requirements-discovery", "--json"]).ok().json();
    assert_eq!(out["started_task"], true);
    // --new says the near id is meant.
    let out =
        env.okstra(&repo, &["task", "phase", "DEV-999x", "implementation-planning", "--new", "--json"]).ok().json();
    assert_eq!(out["key"], "proj/default/dev-999x");
    assert_eq!(out["worktree"]["status"], "created");
    // show, release and handoff name the near id too (they never start a task).
    for args in [&["task", "show", "DEV-99x"][..], &["task", "release", "DEV-99x"], &["task", "handoff", "DEV-99x"]] {
        let r = env.okstra(&repo, args).fails(1);
        assert!(r.stderr.starts_with("error: no task 'DEV-99x' in this repository\n"), "{args:?}: {}", r.stderr);
    }
    let r = env.okstra(&repo, &["task", "show", "DEV-998x"]).fails(1);
    assert_eq!(
        r.stderr,
        "error: no task 'DEV-998x' in this repository; did you mean DEV-998?\n\
         hint: `git okstra task list` shows the registered tasks\n"
    );
    // --new for a task that is registered already is a usage error.
    let r = env.okstra(&repo, &["task", "phase", "DEV-999", "error-analysis", "--new"]).fails(2);
    assert!(r.stderr.starts_with("error: task proj/default/dev-999 is registered already"), "{}", r.stderr);
}

#[test]
fn a_repository_without_commits_gets_a_hint_the_phase_command_can_follow() {
    let env = Env::new();
    let repo = env.root().join("empty");
    std::fs::create_dir_all(&repo).unwrap();
    env.git(&repo, &["init", "-q", "-b", "main"]);
    let r = env.okstra(&repo, &["task", "phase", "DEV-1", "requirements-discovery"]).fails(1);
    assert_eq!(
        r.stderr,
        "error: the main worktree's HEAD has no commit yet: a task worktree starts from a commit\n\
         hint: make a first commit in the main worktree, then run the phase again\n"
    );
    assert!(!env.registry_path().exists() || env.registry()["tasks"].as_object().unwrap().is_empty());
    assert!(!repo.join(".project-docs").exists(), "no run folder");
    // `task start` takes --base, and says so.
    let r = env.okstra(&repo, &["task", "start", "DEV-1"]).fails(1);
    assert!(r.stderr.contains("hint: make a first commit, or pass --base <ref>"), "{}", r.stderr);
}

#[test]
fn task_show_states_the_current_contract_in_one_line() {
    let (env, repo, _wt) = setup();
    let show = |env: &Env| env.okstra(&repo, &["task", "show", "DEV-1", "--json"]).ok().json()["contract"].clone();
    let line = |env: &Env| {
        let out = env.okstra(&repo, &["task", "show", "DEV-1"]).ok().stdout;
        let lines: Vec<String> = out.lines().filter(|l| l.starts_with("contract ")).map(str::to_string).collect();
        assert_eq!(lines.len(), 1, "one contract line:\n{out}");
        lines[0].clone()
    };
    let c = show(&env);
    assert_eq!(c["phase"], serde_json::Value::Null);
    assert_eq!(c["summary"], "no run yet: only the rules of every phase");
    assert_eq!(line(&env), "contract    no run yet: only the rules of every phase");

    phase(&env, &repo, &["requirements-discovery"]).ok();
    let c = show(&env);
    assert_eq!((c["phase"].as_str(), c["run"].as_u64()), (Some("requirements-discovery"), Some(1)));
    assert_eq!(c["file_writes"], "notes only");
    assert_eq!(c["push_pr"], "no push or PR");
    assert_eq!(c["plan"], serde_json::Value::Null);
    assert_eq!(
        line(&env),
        "contract    requirements-discovery (run 001): writes notes only; no commits; read-only commands, \
         existing tests; no push or PR"
    );

    let plan = repo.join("plan.md");
    write(&plan, &format!("# Plan\n\n{FILES}\n- [ ] Approved\n"));
    phase(&env, &repo, &["implementation", "--approved-plan", "plan.md", "--approve"]).ok();
    let c = show(&env);
    assert_eq!(c["phase"], "implementation");
    assert_eq!(c["plan"]["files"], serde_json::json!(["src/", "tests/*.rs"]));
    assert_eq!(c["plan"]["file"], plan.to_str().unwrap());
    assert_eq!(c["plan"]["matches"], true);
    let l = line(&env);
    assert!(l.starts_with("contract    implementation (run 002): writes the approved plan's files and notes"), "{l}");
    assert!(l.ends_with("; plan files: src/, tests/*.rs"), "{l}");

    // The plan edited after its approval, then gone.
    let approved = std::fs::read_to_string(&plan).unwrap();
    write(&plan, &approved.replace("- src/\n", "- **\n"));
    assert_eq!(show(&env)["plan"]["matches"], false);
    assert!(line(&env).ends_with("; the plan changed since its approval: approve it again"));
    std::fs::remove_file(&plan).unwrap();
    assert_eq!(show(&env)["plan"]["matches"], serde_json::Value::Null);
    assert!(line(&env).ends_with("; the approved plan cannot be read"));

    // A manifest that no longer parses, then a run folder that is gone: the run cannot be
    // told, and `task show` says why (exit 0: it only reports).
    let run_dir = runs_dir(&repo).join("002-implementation");
    std::fs::write(run_dir.join("manifest.json"), "{").unwrap();
    let c = show(&env);
    assert_eq!(c["phase"], serde_json::Value::Null);
    assert!(
        c["error"]
            .as_str()
            .unwrap()
            .contains("002-implementation/manifest.json of its implementation run does not parse"),
        "{c}"
    );
    std::fs::remove_dir_all(&run_dir).unwrap();
    let c = show(&env);
    let gone = format!(
        "task proj/default/dev-1: the folder of its latest run (implementation) is gone from {}",
        runs_dir(&repo).display()
    );
    assert_eq!(c["error"], gone.as_str());
    assert_eq!(
        line(&env),
        format!("contract    unknown: {gone}; start a new run: `git okstra task phase dev-1 <PHASE>`")
    );
    // A new run settles it.
    phase(&env, &repo, &["final-verification"]).ok();
    assert_eq!(show(&env)["phase"], "final-verification");
}
