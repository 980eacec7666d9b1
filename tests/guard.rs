//! The agent guard end to end through the binary: a table of commands (blocked and allowed),
//! each host's hook JSON, the audit log, and merging the guard into each host's settings.

mod common;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use common::{Env, Run, BIN};

/// A repository on branch `feat-x` with a `sub` folder (protected branches: the defaults).
fn setup(env: &Env) -> std::path::PathBuf {
    let repo = env.repo("proj");
    env.git(&repo, &["checkout", "-q", "-b", "feat-x"]);
    for (name, value) in [
        ("pf", "push --force"),
        ("cin", "commit -n"),
        ("ci", "commit"),
        ("stt", "status --short"),
        ("shipit", "!git push -f origin feat-x"),
        ("toprod", "push origin HEAD:prod"),
        // git ignores an alias that shadows a builtin: `git status` stays `git status`.
        ("status", "push --force"),
        // An alias loop (git refuses to run it) cannot be judged: blocked.
        ("loopa", "loopb"),
        ("loopb", "loopa"),
    ] {
        env.git(&repo, &["config", &format!("alias.{name}"), value]);
    }
    std::fs::create_dir_all(repo.join("sub")).unwrap();
    // For the GraphQL cases: a query file that merges, one that only reads.
    std::fs::write(
        repo.join("q.graphql"),
        "mutation { mergePullRequest(input: {pullRequestId: \"x\"}) { clientMutationId } }\n",
    )
    .unwrap();
    std::fs::write(repo.join("read.graphql"), "query { viewer { login } }\n").unwrap();
    // Script files, for the cases that run one.
    std::fs::create_dir_all(repo.join("scripts")).unwrap();
    common::write_exec(&repo.join("scripts/push.sh"), "#!/usr/bin/env bash\nset -e\ngit push --force origin feat-x\n");
    common::write_exec(&repo.join("scripts/ok.sh"), "#!/bin/sh\necho hi\ncargo test\n");
    // A script with its own run-time values (not the agent's to write out) that also surely pushes.
    common::write_exec(&repo.join("scripts/args.sh"), "#!/bin/sh\ncase \"$1\" in -*) echo \"$@\";; esac\ncp \"$1\" \"$2\"\nrm -f \"$TMP_FILE\"\ngit push origin HEAD:main\n");
    common::write_exec(&repo.join("scripts/vars.sh"), "#!/bin/sh\nset -eu\ndest=\"${1:-out}\"\nmkdir -p \"$dest\"\ncp -r src \"$dest/\"\nfor f in \"$dest\"/*; do echo \"$f\"; done\n");
    // A second repository beside it (another agent's checkout), on main.
    env.repo("other");
    repo
}

fn with_stdin(env: &Env, cwd: &Path, args: &[&str], stdin: &str) -> Run {
    let mut cmd = env.command(BIN, cwd);
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn git-okstra");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn audit_lines(repo: &Path) -> Vec<serde_json::Value> {
    let path = repo.join(".git/okstra/audit.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect()
}

/// One line of a case file: `<command> => <allow | rule id>`, `⏎` standing for a newline.
struct Case {
    at: String,
    command: String,
    expect: String,
}

/// Every case of `tests/guard-cases/*.cases` (comments start with `#`).
fn cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guard-cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    let mut out = Vec::new();
    for f in files.iter().filter(|f| f.extension().is_some_and(|x| x == "cases")) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        for (n, line) in std::fs::read_to_string(f).unwrap().lines().enumerate() {
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let (command, expect) = line.rsplit_once(" => ").unwrap_or_else(|| panic!("{name}:{}: no ` => `", n + 1));
            out.push(Case {
                at: format!("{name}:{}", n + 1),
                command: command.trim_end().replace('⏎', "\n"),
                expect: expect.split_whitespace().next().unwrap_or("").to_string(),
            });
        }
    }
    out
}

/// Every rule id in the rule tables (`id: "family:name"` in `src/guard/rules/*.rs`).
fn rule_ids() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/guard/rules");
    let re = regex::Regex::new(r#"id: "([a-z-]+:[a-z-]+)""#).unwrap();
    let mut ids = Vec::new();
    for f in std::fs::read_dir(dir).unwrap().flatten() {
        let text = std::fs::read_to_string(f.path()).unwrap();
        ids.extend(re.captures_iter(&text).map(|c| c[1].to_string()));
    }
    ids
}

/// The case files, each judged through the binary with `--explain --json`: the verdict and
/// its rule id must be the expected ones, and the exit code must agree (0 allow, 2 block).
#[test]
fn case_files() {
    let env = Env::new();
    let repo = setup(&env);
    let cases = cases();
    assert!(cases.len() >= 300, "the case files hold {} cases", cases.len());
    let failures = std::sync::Mutex::new(Vec::new());
    let chunks: Vec<&[Case]> = cases.chunks(cases.len().div_ceil(4)).collect();
    std::thread::scope(|s| {
        for chunk in chunks {
            let (env, repo, failures) = (&env, &repo, &failures);
            s.spawn(move || {
                for c in chunk {
                    let r = env.okstra(repo, &["hook", "agent-guard", "--explain", "--json", &c.command]);
                    let v: serde_json::Value = match serde_json::from_str(&r.stdout) {
                        Ok(v) => v,
                        Err(_) => {
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{}: {:?}: exit {} {}", c.at, c.command, r.code, r.stderr));
                            continue;
                        }
                    };
                    let got = match v["verdict"]["decision"].as_str() {
                        Some("allow") => "allow".to_string(),
                        _ => v["verdict"]["id"].as_str().unwrap_or("?").to_string(),
                    };
                    let code_ok = r.code == if got == "allow" { 0 } else { 2 };
                    if got != c.expect || !code_ok {
                        let why = v["verdict"]["message"].as_str().unwrap_or("");
                        failures.lock().unwrap().push(format!(
                            "{}: {:?}: expected {}, got {got} (exit {}) {why}",
                            c.at, c.command, c.expect, r.code
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{} of {} cases wrong:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// Every rule of every table is exercised by at least one case, and every case names a rule
/// that exists.
#[test]
fn every_rule_has_a_case() {
    let ids = rule_ids();
    assert!(ids.len() > 40, "{ids:?}");
    let cases = cases();
    // The task contract's cases run in a task of their own (tests/contract.rs).
    let contract = contract_expectations();
    let used: std::collections::HashSet<&str> =
        cases.iter().map(|c| c.expect.as_str()).chain(contract.iter().map(String::as_str)).collect();
    let untested: Vec<&String> =
        ids.iter().filter(|id| !used.contains(id.as_str()) && !TESTED_ELSEWHERE.contains(&id.as_str())).collect();
    assert!(untested.is_empty(), "rules without a case: {untested:?}");
    let unknown: Vec<&Case> = cases.iter().filter(|c| c.expect != "allow" && !ids.contains(&c.expect)).collect();
    assert!(unknown.is_empty(), "cases naming no rule: {:?}", unknown.iter().map(|c| &c.at).collect::<Vec<_>>());
}

/// Rules a shell command cannot reach; their tests are below (hook JSON, MCP tool calls) or
/// in tests/contract.rs (a plan changed after its approval, a task whose run folder is gone).
const TESTED_ELSEWHERE: &[&str] = &[
    "malformed:hook-input",
    "malformed:too-long",
    "protected-update:mcp",
    "publish:mcp-merge",
    "phase:plan-changed",
    "phase:context",
];

/// The expected verdicts of `tests/guard-cases/contract/*.cases`.
fn contract_expectations() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guard-cases/contract");
    let mut out = Vec::new();
    for f in std::fs::read_dir(dir).unwrap().flatten() {
        for line in std::fs::read_to_string(f.path()).unwrap().lines() {
            if let Some((_, expect)) = line.rsplit_once(" => ") {
                out.push(expect.trim().to_string());
            }
        }
    }
    out
}

/// Blocks are one line on stderr naming the rule id, with nothing on stdout, and audited.
#[test]
fn blocks_are_one_audited_line() {
    let env = Env::new();
    let repo = setup(&env);
    let blocked = [
        ("git push --force-w origin feat-x", "non-fast-forward:force"),
        ("git reset --hard", "discard:reset-hard"),
        ("git config okstra.protectedBranch nothing", "self-protect:config"),
    ];
    for (cmd, id) in blocked {
        let r = env.okstra(&repo, &["hook", "agent-guard", cmd]).fails(2);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(r.stderr.starts_with(&format!("blocked by okstra [{id}]: ")), "{}", r.stderr);
    }
    let r = env.okstra(&repo, &["hook", "agent-guard", "git status"]).ok();
    assert!(r.stdout.is_empty() && r.stderr.is_empty());
    let log = audit_lines(&repo);
    assert_eq!(log.len(), blocked.len(), "every block is audited, nothing else");
    assert_eq!(log[1]["rule"], "discard");
    assert_eq!(log[1]["id"], "discard:reset-hard");
    // --explain judges without auditing.
    env.okstra(&repo, &["hook", "agent-guard", "--explain", "git push -f"]).fails(2);
    assert_eq!(audit_lines(&repo).len(), blocked.len());
}

#[test]
fn a_block_through_an_alias_names_the_alias() {
    let env = Env::new();
    let repo = setup(&env);
    let r = env.okstra(&repo, &["hook", "agent-guard", "git toprod"]).fails(2);
    assert!(r.stderr.contains("git toprod, alias `toprod` = `push origin HEAD:prod`"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
}

#[test]
fn several_words_are_one_command() {
    let env = Env::new();
    let repo = setup(&env);
    env.okstra(&repo, &["hook", "agent-guard", "git", "commit", "-m", "no --no-verify here"]).ok();
    let r = env.okstra(&repo, &["hook", "agent-guard", "git", "push", "--force"]).fails(2);
    assert!(r.stderr.contains("[non-fast-forward:"), "{}", r.stderr);
}

#[test]
fn claude_code_json() {
    let env = Env::new();
    let repo = setup(&env);
    let json = |cmd: &str, tool: &str| {
        serde_json::json!({
            "session_id": "s1", "transcript_path": "/tmp/t.jsonl", "cwd": repo, "hook_event_name": "PreToolUse",
            "tool_name": tool, "tool_input": {"command": cmd, "description": "d"}
        })
        .to_string()
    };
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], &json("git push --force origin feat-x", "Bash")).fails(2);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.starts_with("blocked by okstra [non-fast-forward:force]"), "{}", r.stderr);
    assert!(r.stderr.contains("git pull --rebase"), "says what to do instead: {}", r.stderr);
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], &json("git status", "Bash")).ok();
    assert!(r.stdout.is_empty() && r.stderr.is_empty(), "{}{}", r.stdout, r.stderr);
    // Another tool (the matcher was wider than Bash): nothing to check.
    let other =
        serde_json::json!({"hook_event_name": "PreToolUse", "tool_name": "Read", "tool_input": {"file_path": "x"}});
    with_stdin(&env, &repo, &["hook", "agent-guard"], &other.to_string()).ok();
    let log = audit_lines(&repo);
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["agent"], "claude");
    assert_eq!(log[0]["source"], "agent-guard");
    assert_eq!(log[0]["rule"], "non-fast-forward");
    assert_eq!(log[0]["command"], "git push --force origin feat-x");
}

#[test]
fn gemini_cli_json() {
    let env = Env::new();
    let repo = setup(&env);
    let json = |cmd: &str| {
        serde_json::json!({
            "session_id": "s", "transcript_path": "t", "cwd": repo, "hook_event_name": "BeforeTool",
            "timestamp": "2026-01-01T00:00:00Z", "tool_name": "run_shell_command",
            "tool_input": {"command": cmd, "description": "x"}
        })
        .to_string()
    };
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], &json("gh pr merge 7")).fails(2);
    assert!(r.stderr.contains("[publish:") && r.stdout.is_empty(), "{}{}", r.stdout, r.stderr);
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], &json("gh pr create --base main")).ok();
    assert!(r.stdout.is_empty() && r.stderr.is_empty());
    assert_eq!(audit_lines(&repo)[0]["agent"], "gemini");
}

#[test]
fn cursor_json() {
    let env = Env::new();
    let repo = setup(&env);
    let json = |cmd: &str| {
        serde_json::json!({
            "hook_event_name": "beforeShellExecution", "conversation_id": "c", "generation_id": "g",
            "workspace_roots": [repo], "command": cmd, "cwd": repo
        })
        .to_string()
    };
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], &json("git commit -n -m wip")).fails(2);
    assert!(r.stderr.contains("[no-verify:"), "{}", r.stderr);
    let answer: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("Cursor gets a JSON answer");
    assert_eq!(answer["permission"], "deny");
    assert_eq!(answer["agent_message"].as_str(), Some(r.stderr.trim()));
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], &json("git commit -m wip")).ok();
    assert!(r.stdout.is_empty() && r.stderr.is_empty());
    assert_eq!(audit_lines(&repo)[0]["agent"], "cursor");
}

#[test]
fn plain_stdin_and_bad_input_block() {
    let env = Env::new();
    let repo = setup(&env);
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], "git push -f\n").fails(2);
    assert!(r.stderr.contains("[non-fast-forward:"));
    with_stdin(&env, &repo, &["hook", "agent-guard"], "git status\n").ok();
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], "{ git push -f; }").fails(2);
    assert!(r.stderr.contains("[non-fast-forward:"), "a shell group is not JSON: {}", r.stderr);
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], "{\"tool_input\": ").fails(2);
    assert!(r.stderr.contains("[malformed:") && r.stderr.contains("not valid JSON"), "{}", r.stderr);
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], r#"{"tool_name":"Bash","tool_input":{}}"#).fails(2);
    assert!(r.stderr.contains("[malformed:"), "{}", r.stderr);
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], r#"{"hook_event_name":"Stop"}"#).fails(2);
    assert!(r.stderr.contains("[malformed:"), "{}", r.stderr);
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], "  \n").fails(2);
    assert!(r.stderr.contains("no command to check"), "{}", r.stderr);
}

#[test]
fn protected_branches_come_from_the_repository_at_the_hosts_cwd() {
    let env = Env::new();
    let repo = setup(&env);
    env.git(&repo, &["config", "--add", "okstra.protectedBranch", "trunk"]);
    let outside = env.root().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    let json = |cmd: &str| {
        serde_json::json!({"hook_event_name": "PreToolUse", "tool_name": "Bash", "cwd": repo, "tool_input": {"command": cmd}})
            .to_string()
    };
    let r = with_stdin(&env, &outside, &["hook", "agent-guard"], &json("git push origin trunk")).fails(2);
    assert!(r.stderr.contains("[protected-update:") && r.stderr.contains("'trunk'"), "{}", r.stderr);
    with_stdin(&env, &outside, &["hook", "agent-guard"], &json("git push origin main")).ok();
    // Outside any repository: the defaults apply, and a block is not audited (and does not fail).
    let r = env.okstra(&outside, &["hook", "agent-guard", "git push origin main"]).fails(2);
    assert!(r.stderr.contains("[protected-update:"), "{}", r.stderr);
    assert!(!outside.join(".git").exists());
}

#[test]
fn pushing_the_current_branch_when_it_is_protected() {
    let env = Env::new();
    let repo = env.repo("proj");
    for cmd in ["git push", "git push origin", "git push -u origin HEAD", "git push origin @"] {
        let r = env.okstra(&repo, &["hook", "agent-guard", cmd]).fails(2);
        assert!(r.stderr.contains("[protected-update:") && r.stderr.contains("'main'"), "{cmd}: {}", r.stderr);
    }
    env.okstra(&repo, &["hook", "agent-guard", "git push --tags"]).ok();
    env.git(&repo, &["checkout", "-q", "--detach"]);
    env.okstra(&repo, &["hook", "agent-guard", "git push"]).ok();
}

#[test]
fn the_guard_ignores_the_override_in_its_own_environment() {
    let env = Env::new();
    let repo = setup(&env);
    let r = env.okstra_env(&repo, &["hook", "agent-guard", "git push -f"], &[("OKSTRA_ALLOW", "non-fast-forward")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

// ---- settings merge ----

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Install into an existing file, check the merge, install again (no change), uninstall
/// (back to the original), for one host.
fn merge_round_trip(agent: &str, file: &str, original: &str, check: impl Fn(&serde_json::Value)) {
    let env = Env::new();
    let repo = setup(&env);
    let path = repo.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, original).unwrap();
    let r = env.okstra(&repo, &["hooks", "install", "--agent", agent]).ok();
    assert_eq!(r.stdout.trim(), path.to_str().unwrap());
    let merged = read_json(&path);
    check(&merged);
    let first = std::fs::read_to_string(&path).unwrap();
    env.okstra(&repo, &["hooks", "install", "--agent", agent]).ok();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), first, "install is idempotent");
    let st = env.okstra(&repo, &["hooks", "status", "--agent", agent, "--json"]).ok().json();
    assert_eq!(st["schema"], 1);
    assert_eq!(st["agents"][0]["state"], "installed");
    env.okstra(&repo, &["hooks", "uninstall", "--agent", agent]).ok();
    assert_eq!(read_json(&path), serde_json::from_str::<serde_json::Value>(original).unwrap(), "uninstall is clean");
    let st = env.okstra(&repo, &["hooks", "status", "--agent", agent, "--json"]).ok().json();
    assert_eq!(st["agents"][0]["state"], "not-installed");
    let r = env.okstra(&repo, &["hooks", "uninstall", "--agent", agent, "--json"]).ok().json();
    assert_eq!(r["agents"][0]["result"], "not-installed");
}

#[test]
fn claude_settings_merge() {
    let original = r#"{
  "permissions": {"allow": ["Bash(cargo test:*)"]},
  "hooks": {
    "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./mine.sh"}]}],
    "PostToolUse": [{"matcher": "Edit", "hooks": [{"type": "command", "command": "cargo fmt"}]}]
  },
  "model": "opus"
}"#;
    merge_round_trip("claude", ".claude/settings.json", original, |v| {
        assert_eq!(v["permissions"]["allow"][0], "Bash(cargo test:*)");
        assert_eq!(v["model"], "opus");
        assert_eq!(v["hooks"]["PostToolUse"][0]["hooks"][0]["command"], "cargo fmt");
        let pre = v["hooks"]["PreToolUse"].as_array().unwrap();
        assert_eq!(pre.len(), 2);
        assert_eq!(pre[0]["hooks"][0]["command"], "./mine.sh");
        assert_eq!(pre[1]["matcher"], "Bash|Write|Edit|MultiEdit|NotebookEdit|mcp__.*");
        assert_eq!(pre[1]["hooks"][0]["type"], "command");
        assert_eq!(pre[1]["hooks"][0]["command"], "git-okstra hook agent-guard");
    });
}

#[test]
fn gemini_settings_merge() {
    let original = r#"{"theme": "GitHub", "hooks": {"BeforeTool": [{"matcher": "write_file", "hooks": [{"type": "command", "command": "lint"}]}]}}"#;
    merge_round_trip("gemini", ".gemini/settings.json", original, |v| {
        assert_eq!(v["theme"], "GitHub");
        let before = v["hooks"]["BeforeTool"].as_array().unwrap();
        assert_eq!(before[0]["matcher"], "write_file");
        assert_eq!(before[1]["matcher"], "run_shell_command|write_file|replace|mcp__.*");
        assert_eq!(before[1]["hooks"][0]["command"], "git-okstra hook agent-guard");
        assert_eq!(before[1]["hooks"][0]["type"], "command");
    });
}

#[test]
fn cursor_hooks_merge() {
    let original = r#"{"version": 1, "hooks": {"afterFileEdit": [{"command": "./fmt.sh"}], "beforeShellExecution": [{"command": "./audit.sh"}]}}"#;
    merge_round_trip("cursor", ".cursor/hooks.json", original, |v| {
        assert_eq!(v["version"], 1);
        assert_eq!(v["hooks"]["afterFileEdit"][0]["command"], "./fmt.sh");
        let before = v["hooks"]["beforeShellExecution"].as_array().unwrap();
        assert_eq!(before.len(), 2);
        assert_eq!(before[0]["command"], "./audit.sh");
        assert_eq!(before[1]["command"], "git-okstra hook agent-guard");
    });
}

#[test]
fn fresh_install_creates_and_uninstall_removes_the_files() {
    let env = Env::new();
    let repo = setup(&env);
    env.okstra(&repo, &["hooks", "install", "--agent", "claude,gemini", "--agent", "cursor"]).ok();
    let cursor = read_json(&repo.join(".cursor/hooks.json"));
    assert_eq!(
        cursor,
        serde_json::json!({"version": 1, "hooks": {
            "beforeShellExecution": [{"command": "git-okstra hook agent-guard"}],
            "beforeMCPExecution": [{"command": "git-okstra hook agent-guard"}]
        }})
    );
    let claude = read_json(&repo.join(".claude/settings.json"));
    assert_eq!(claude["hooks"]["PreToolUse"][0]["matcher"], "Bash|Write|Edit|MultiEdit|NotebookEdit|mcp__.*");
    let st = env.okstra(&repo, &["hooks", "status"]).ok();
    assert_eq!(st.stdout.matches(" installed ").count(), 3, "{}", st.stdout);
    // From a subfolder: the same checkout.
    env.okstra(&repo.join("sub"), &["hooks", "uninstall", "--agent", "claude,gemini,cursor"]).ok();
    for f in [".claude/settings.json", ".gemini/settings.json", ".cursor/hooks.json"] {
        assert!(!repo.join(f).exists(), "{f} held only our entry and is gone");
    }
}

#[test]
fn corrupt_or_odd_settings_are_errors_and_left_untouched() {
    let env = Env::new();
    let repo = setup(&env);
    let path = repo.join(".claude/settings.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let corrupt = "{ \"hooks\": { \"PreToolUse\": [ ";
    std::fs::write(&path, corrupt).unwrap();
    for verb in ["install", "uninstall"] {
        let r = env.okstra(&repo, &["hooks", verb, "--agent", "claude"]).fails(1);
        assert!(r.stderr.contains("does not parse as JSON") && r.stderr.contains("settings.json"), "{}", r.stderr);
        assert!(r.stderr.contains("left untouched"), "{}", r.stderr);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), corrupt);
    }
    let r = env.okstra(&repo, &["hooks", "status", "--agent", "claude"]).fails(1);
    assert!(r.stdout.contains("error"), "{}", r.stdout);
    let odd = r#"{"hooks": []}"#;
    let gem = repo.join(".gemini/settings.json");
    std::fs::create_dir_all(gem.parent().unwrap()).unwrap();
    std::fs::write(&gem, odd).unwrap();
    let r = env.okstra(&repo, &["hooks", "install", "--agent", "gemini"]).fails(1);
    assert!(r.stderr.contains("\"hooks\" is not a JSON object"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&gem).unwrap(), odd);
    let r = env.okstra(&repo, &["hooks", "install", "--agent", "aider"]).fails(2);
    assert!(r.stderr.starts_with("error: invalid value 'aider' for '--agent <AGENT>'"), "{}", r.stderr);
    assert!(r.stderr.contains("[possible values: claude, gemini, cursor, codex]"), "{}", r.stderr);
    // a comma list is two agents, each checked (both files here are broken: exit 1)
    let r = env.okstra(&repo, &["hooks", "status", "--agent", "claude,gemini"]).fails(1);
    assert_eq!(r.stdout.lines().count(), 2, "{}", r.stdout);
    // `--agent` and `--server` are different targets
    let r = env.okstra(&repo, &["hooks", "install", "--agent", "claude", "--server"]).fails(2);
    assert!(r.stderr.contains("--server"), "{}", r.stderr);
}

#[test]
fn task_start_installs_the_configured_agents() {
    let env = Env::new();
    let repo = env.repo("proj");
    env.git(&repo, &["config", "okstra.agentGuard", "claude, cursor"]);
    // The main worktree's own, untracked Claude settings must stay visible there.
    std::fs::create_dir_all(repo.join(".claude")).unwrap();
    std::fs::write(repo.join(".claude/settings.json"), "{}\n").unwrap();
    let out = env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json();
    let wt = std::path::PathBuf::from(out["path"].as_str().unwrap());
    // Claude Code reads .claude/settings.local.json, the file it keeps out of git itself.
    let claude = read_json(&wt.join(".claude/settings.local.json"));
    assert_eq!(claude["hooks"]["PreToolUse"][0]["hooks"][0]["command"], "git-okstra hook agent-guard");
    assert!(!wt.join(".claude/settings.json").exists());
    assert!(wt.join(".cursor/hooks.json").exists());
    assert!(!wt.join(".gemini/settings.json").exists());
    assert_eq!(env.git(&wt, &["status", "--porcelain"]), "", "the new settings files are ignored, not untracked");
    // ...by a .gitignore beside each, in the task worktree only; nothing shared hides them.
    assert_eq!(std::fs::read_to_string(wt.join(".claude/.gitignore")).unwrap(), "/settings.local.json\n/.gitignore\n");
    assert_eq!(std::fs::read_to_string(wt.join(".cursor/.gitignore")).unwrap(), "/hooks.json\n/.gitignore\n");
    let exclude = std::fs::read_to_string(repo.join(".git/info/exclude")).unwrap_or_default();
    assert!(!exclude.contains(".claude") && !exclude.contains(".cursor"), "{exclude}");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "?? .claude/", "main's own file is not hidden");
    assert!(!repo.join(".claude/settings.local.json").exists(), "the main worktree is not touched");
    // status and uninstall find the guard in the local file
    let st = env.okstra(&wt, &["hooks", "status", "--agent", "claude"]).ok().stdout;
    assert!(st.contains("installed") && st.contains(".claude/settings.local.json"), "{st}");
    let again = env.okstra(&wt, &["hooks", "install", "--agent", "claude"]).ok();
    assert!(again.stderr.contains("already installed"), "never a second copy: {}", again.stderr);
    assert!(!wt.join(".claude/settings.json").exists());
    env.okstra(&wt, &["hooks", "uninstall", "--agent", "claude"]).ok();
    assert!(!wt.join(".claude/settings.local.json").exists(), "emptied, so removed");
    std::fs::remove_dir_all(repo.join(".claude")).unwrap();

    // A repository that ignores the file already gets no .gitignore; one that tracks a
    // .gitignore there gets a warning (never an edit of it).
    env.git(&repo, &["config", "okstra.agentGuard", "claude cursor"]);
    std::fs::write(repo.join(".gitignore"), ".claude/settings.local.json\n").unwrap();
    std::fs::create_dir_all(repo.join(".cursor")).unwrap();
    std::fs::write(repo.join(".cursor/.gitignore"), "*.log\n").unwrap();
    env.git(&repo, &["add", ".gitignore", ".cursor/.gitignore"]);
    env.git(&repo, &["commit", "-q", "-m", "ignores"]);
    let r = env.okstra(&repo, &["task", "start", "DEV-4", "--json"]).ok();
    let wt4 = std::path::PathBuf::from(r.json()["path"].as_str().unwrap());
    assert!(!wt4.join(".claude/.gitignore").exists());
    assert!(
        r.stderr.contains(".cursor/hooks.json shows as untracked in ")
            && r.stderr.contains("git-okstra never edits it"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read_to_string(wt4.join(".cursor/.gitignore")).unwrap(), "*.log\n");
    assert_eq!(env.git(&wt4, &["status", "--porcelain"]), "?? .cursor/hooks.json");
    // A tracked settings file is merged into, and shows as a change.
    env.git(&repo, &["config", "okstra.agentGuard", "gemini"]);
    std::fs::create_dir_all(repo.join(".gemini")).unwrap();
    std::fs::write(repo.join(".gemini/settings.json"), "{\"theme\": \"x\"}\n").unwrap();
    env.git(&repo, &["add", "-f", ".gemini/settings.json"]);
    env.git(&repo, &["commit", "-q", "-m", "gemini settings"]);
    let out = env.okstra(&repo, &["task", "start", "DEV-3", "--json"]).ok().json();
    let wt3 = std::path::PathBuf::from(out["path"].as_str().unwrap());
    let gemini = read_json(&wt3.join(".gemini/settings.json"));
    assert_eq!(gemini["theme"], "x");
    assert_eq!(gemini["hooks"]["BeforeTool"][0]["matcher"], "run_shell_command|write_file|replace|mcp__.*");
    assert_eq!(env.git(&wt3, &["status", "--porcelain"]), " M .gemini/settings.json");

    env.git(&repo, &["config", "okstra.agentGuard", "claude,aider"]);
    let r = env.okstra(&repo, &["task", "start", "DEV-2"]).fails(2);
    assert!(r.stderr.contains("unknown agent 'aider'"), "{}", r.stderr);
    assert!(
        env.git_run(&repo, &["rev-parse", "--verify", "-q", "refs/heads/feat-dev-2"]).code != 0,
        "nothing was created"
    );
}

#[test]
fn an_older_install_is_brought_up_to_date() {
    let env = Env::new();
    let repo = setup(&env);
    let path = repo.join(".claude/settings.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let old = r#"{"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "git-okstra hook agent-guard"}]}]}}"#;
    std::fs::write(&path, old).unwrap();
    let r = env.okstra(&repo, &["hooks", "install", "--agent", "claude", "--json"]).ok().json();
    assert_eq!(r["agents"][0]["result"], "updated");
    let v = read_json(&path);
    assert_eq!(v["hooks"]["PreToolUse"].as_array().unwrap().len(), 1, "the entry is updated, not doubled");
    assert_eq!(v["hooks"]["PreToolUse"][0]["matcher"], "Bash|Write|Edit|MultiEdit|NotebookEdit|mcp__.*");
    let r = env.okstra(&repo, &["hooks", "install", "--agent", "claude", "--json"]).ok().json();
    assert_eq!(r["agents"][0]["result"], "already-installed");
    // Cursor: an install that predates the MCP event gets it added.
    let cursor = repo.join(".cursor/hooks.json");
    std::fs::create_dir_all(cursor.parent().unwrap()).unwrap();
    std::fs::write(
        &cursor,
        r#"{"version": 1, "hooks": {"beforeShellExecution": [{"command": "git-okstra hook agent-guard"}]}}"#,
    )
    .unwrap();
    let r = env.okstra(&repo, &["hooks", "install", "--agent", "cursor", "--json"]).ok().json();
    assert_eq!(r["agents"][0]["result"], "updated");
    assert_eq!(read_json(&cursor)["hooks"]["beforeMCPExecution"][0]["command"], "git-okstra hook agent-guard");
}

fn claude_tool(repo: &Path, tool: &str, input: serde_json::Value) -> String {
    serde_json::json!({"hook_event_name": "PreToolUse", "tool_name": tool, "tool_input": input, "cwd": repo})
        .to_string()
}

#[test]
fn mcp_tool_calls_are_judged() {
    let env = Env::new();
    let repo = setup(&env);
    let guard = |json: String| with_stdin(&env, &repo, &["hook", "agent-guard"], &json);
    let r = guard(claude_tool(
        &repo,
        "mcp__github__merge_pull_request",
        serde_json::json!({"owner": "o", "repo": "r", "pullNumber": 3}),
    ))
    .fails(2);
    assert!(r.stderr.starts_with("blocked by okstra [publish:mcp-merge]"), "{}", r.stderr);
    for (tool, branch) in [
        ("mcp__github__push_files", "main"),
        ("mcp__github__create_or_update_file", "refs/heads/dev"),
        ("mcp__gh__delete_file", "prod"),
    ] {
        let r = guard(claude_tool(
            &repo,
            tool,
            serde_json::json!({"owner": "o", "repo": "r", "branch": branch, "path": "x"}),
        ))
        .fails(2);
        assert!(r.stderr.starts_with("blocked by okstra [protected-update:mcp]"), "{tool}: {}", r.stderr);
    }
    let r = guard(claude_tool(
        &repo,
        "mcp__github__push_files",
        serde_json::json!({"owner": "o", "repo": "r", "files": []}),
    ))
    .fails(2);
    assert!(r.stderr.contains("default branch"), "no branch: the default one: {}", r.stderr);
    guard(claude_tool(&repo, "mcp__github__push_files", serde_json::json!({"branch": "feat-x", "files": []}))).ok();
    guard(claude_tool(
        &repo,
        "mcp__github__create_pull_request",
        serde_json::json!({"base": "main", "head": "feat-x"}),
    ))
    .ok();
    guard(claude_tool(&repo, "mcp__github__get_pull_request", serde_json::json!({"pullNumber": 3}))).ok();
    // Cursor sends the MCP input as a JSON string; its answer is JSON on stdout.
    let cursor = serde_json::json!({"hook_event_name": "beforeMCPExecution", "tool_name": "merge_pull_request",
        "tool_input": "{\"owner\":\"o\",\"repo\":\"r\",\"pullNumber\":3}", "cwd": repo})
    .to_string();
    let r = guard(cursor).fails(2);
    assert_eq!(serde_json::from_str::<serde_json::Value>(r.stdout.trim()).unwrap()["permission"], "deny");
    let bad = serde_json::json!({"hook_event_name": "beforeMCPExecution", "tool_name": "merge_pull_request", "tool_input": "{not json"}).to_string();
    let r = guard(bad).fails(2);
    assert!(r.stderr.contains("[malformed:hook-input]"), "{}", r.stderr);
    // Gemini CLI names MCP tools the same way.
    let gemini = serde_json::json!({"hook_event_name": "BeforeTool", "tool_name": "mcp__github__merge_pull_request", "tool_input": {}, "cwd": repo}).to_string();
    guard(gemini).fails(2);
    let log = audit_lines(&repo);
    assert!(log.iter().any(|l| l["id"] == "protected-update:mcp" && l["agent"] == "claude"), "{log:?}");
}

#[test]
fn file_tools_may_not_write_the_guards_own_files() {
    let env = Env::new();
    let repo = setup(&env);
    let guard = |json: String| with_stdin(&env, &repo, &["hook", "agent-guard"], &json);
    let settings = repo.join(".claude/settings.json");
    let r = guard(claude_tool(&repo, "Write", serde_json::json!({"file_path": settings, "content": "{}"}))).fails(2);
    assert!(r.stderr.starts_with("blocked by okstra [self-protect:host-settings]"), "{}", r.stderr);
    let hook = repo.join(".git/hooks/pre-push");
    let r =
        guard(claude_tool(&repo, "Edit", serde_json::json!({"file_path": hook, "old_string": "a", "new_string": "b"})))
            .fails(2);
    assert!(r.stderr.contains("[self-protect:hook-file]"), "{}", r.stderr);
    let gemini = serde_json::json!({"hook_event_name": "BeforeTool", "tool_name": "write_file", "cwd": repo,
        "tool_input": {"file_path": ".git/config", "content": ""}})
    .to_string();
    guard(gemini).fails(2);
    guard(claude_tool(&repo, "Write", serde_json::json!({"file_path": repo.join("src/lib.rs"), "content": "x"}))).ok();
    guard(claude_tool(&repo, "Read", serde_json::json!({"file_path": settings}))).ok();
}

#[test]
fn empty_input_is_malformed_both_ways() {
    let env = Env::new();
    let repo = setup(&env);
    let by_arg = env.okstra(&repo, &["hook", "agent-guard", ""]).fails(2);
    let by_stdin = with_stdin(&env, &repo, &["hook", "agent-guard"], "").fails(2);
    let blank = with_stdin(&env, &repo, &["hook", "agent-guard"], " \n\t\n").fails(2);
    for r in [&by_arg, &by_stdin, &blank] {
        assert!(r.stderr.starts_with("blocked by okstra [malformed:empty]"), "{}", r.stderr);
    }
    let json =
        serde_json::json!({"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": "  "}})
            .to_string();
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], &json).fails(2);
    assert!(r.stderr.starts_with("blocked by okstra [malformed:empty]"), "{}", r.stderr);
}

#[test]
fn oversized_input_is_malformed() {
    let env = Env::new();
    let repo = setup(&env);
    // The first 4 MiB are harmless; the tail pushes. Judging only the head would let it through.
    let mut text = format!("echo {}", "x".repeat(4 * 1024 * 1024));
    text.push_str("\ngit push --force origin main\n");
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], &text).fails(2);
    assert!(r.stderr.starts_with("blocked by okstra [malformed:too-long]"), "{}", r.stderr);
    // Input that fits is judged on all of it.
    let fits = format!("echo {}\ngit status\n", "x".repeat(4 * 1024 * 1024 - 32));
    with_stdin(&env, &repo, &["hook", "agent-guard"], &fits).ok();
}

#[test]
fn explain_shows_how_the_command_was_read() {
    let env = Env::new();
    let repo = setup(&env);
    let r = env
        .okstra(
            &repo,
            &[
                "hook",
                "agent-guard",
                "--explain",
                "--json",
                "sudo -u ci git push -n --no-dry-run --force-w origin HEAD:heads/main",
            ],
        )
        .fails(2);
    let v = r.json();
    assert_eq!(v["schema"], 1);
    assert_eq!(v["verdict"]["decision"], "block");
    assert_eq!(v["verdict"]["id"], "non-fast-forward:force");
    let steps = v["commands"].as_array().unwrap();
    assert_eq!(steps[0]["words"][0], "sudo");
    let git = steps.iter().find(|s| s["git"].is_object()).expect("a git step");
    assert_eq!(git["words"][0], "git", "the command after unwrapping: {git}");
    assert_eq!(git["git"]["subcommand"], "push");
    let opts: Vec<&str> = git["git"]["options"].as_array().unwrap().iter().map(|o| o.as_str().unwrap()).collect();
    assert_eq!(opts, ["--dry-run", "--no-dry-run", "--force-with-lease"], "options as git reads them");
    assert_eq!(git["git"]["operands"], serde_json::json!(["origin", "HEAD:heads/main"]));
    // The refs a push would update, and the rule that decided.
    let r = env
        .okstra(&repo, &["hook", "agent-guard", "--explain", "--json", "git push origin HEAD:heads/main"])
        .fails(2)
        .json();
    let git = r["commands"].as_array().unwrap().iter().find(|s| s["git"].is_object()).unwrap();
    assert_eq!(git["git"]["updates"][0]["dst"], "refs/heads/main or refs/heads/heads/main");
    assert_eq!(r["verdict"]["id"], "protected-update:refspec");
    let r = env
        .okstra(&repo, &["hook", "agent-guard", "--explain", "git push -u origin \"$(git branch --show-current)\""])
        .ok();
    assert!(r.stdout.contains("runs: git push -u origin feat-x"), "the idiom is expanded:\n{}", r.stdout);
    assert!(r.stdout.contains("updates refs/heads/feat-x (from feat-x)"), "{}", r.stdout);
    assert!(r.stdout.trim_end().ends_with("verdict: allowed"), "{}", r.stdout);
    let r = env
        .okstra(&repo, &["hook", "agent-guard", "--explain", "git -c alias.zz='commit --no-verify' zz -m x"])
        .fails(2);
    assert!(r.stdout.contains("git commit  options: --no-verify --message=x"), "{}", r.stdout);
    assert!(r.stdout.contains("verdict: blocked by no-verify:commit"), "{}", r.stdout);
    // --json needs --explain.
    env.okstra(&repo, &["hook", "agent-guard", "--json", "git status"]).fails(2);
}

#[test]
fn guard_allow_discard_is_read_from_the_users_own_config_only() {
    let env = Env::new();
    let repo = setup(&env);
    let cmd = "git reset --hard";
    env.okstra(&repo, &["hook", "agent-guard", cmd]).fails(2);
    // Repository level (which an agent could reach were it not for self-protect): ignored.
    env.git(&repo, &["config", "okstra.guardAllow", "discard"]);
    env.okstra(&repo, &["hook", "agent-guard", cmd]).fails(2);
    // An included file is not the user's own config either.
    let included = env.root().join("included.cfg");
    std::fs::write(&included, "[okstra]\n\tguardAllow = discard\n").unwrap();
    env.git(&repo, &["config", "--global", "include.path", included.to_str().unwrap()]);
    env.okstra(&repo, &["hook", "agent-guard", cmd]).fails(2);
    // The user's ~/.gitconfig: allowed, and --explain says why.
    env.git(&repo, &["config", "--global", "okstra.guardAllow", "discard"]);
    env.okstra(&repo, &["hook", "agent-guard", cmd]).ok();
    env.okstra(&repo, &["hook", "agent-guard", "rm -rf ../other"]).ok();
    let r = env.okstra(&repo, &["hook", "agent-guard", "--explain", cmd]).ok();
    assert!(r.stdout.contains("allowed by okstra.guardAllow: discard:reset-hard"), "{}", r.stdout);
    // It lifts discard only; and the agent still cannot write it.
    env.okstra(&repo, &["hook", "agent-guard", "git push --force"]).fails(2);
    let r = env.okstra(&repo, &["hook", "agent-guard", "git config --global --unset okstra.guardAllow"]).fails(2);
    assert!(r.stderr.contains("[self-protect:config]"), "{}", r.stderr);
    // One rule's id is enough too.
    env.git(&repo, &["config", "--global", "--replace-all", "okstra.guardAllow", "discard:stash-drop"]);
    env.okstra(&repo, &["hook", "agent-guard", "git stash drop"]).ok();
    env.okstra(&repo, &["hook", "agent-guard", cmd]).fails(2);
}
