//! The agent guard end to end through the binary: a table of commands (blocked and allowed),
//! each host's hook JSON, the audit log, and merging the guard into each host's settings.

mod common;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use common::{Env, Run, BIN};

/// (command, the rule that blocks it, or None when it is allowed)
const TABLE: &[(&str, Option<&str>)] = &[
    // --no-verify and the -n that means it
    ("git commit --no-verify -m x", Some("no-verify")),
    ("git commit -n -m x", Some("no-verify")),
    ("git commit -nm x", Some("no-verify")),
    ("git commit -anm x", Some("no-verify")),
    ("git commit -m x -n", Some("no-verify")),
    ("git commit --amend --no-edit -n", Some("no-verify")),
    ("git commit --no-verif -m x", Some("no-verify")),
    ("git merge --no-verify feat-y", Some("no-verify")),
    ("git push --no-verify origin feat-x", Some("no-verify")),
    ("git cherry-pick --no-verify abc123", Some("no-verify")),
    ("git rebase --no-verify main", Some("no-verify")),
    ("git am --no-verify fix.patch", Some("no-verify")),
    ("git am -n fix.patch", Some("no-verify")),
    ("git pull --no-verify", Some("no-verify")),
    // -n where it means something else, and look-alikes
    ("git push -n origin main", None),
    ("git push --dry-run --force origin main", None),
    ("git merge -n feat-y", None),
    ("git cherry-pick -n abc123", None),
    ("git revert -n abc123", None),
    ("git rebase -n main", None),
    ("git commit -m -n", None),
    ("git commit -mn", None),
    ("git commit -am 'fix the -n flag'", None),
    ("git commit -n --verify -m x", None),
    // hooks switched off another way
    ("git -c core.hooksPath=/dev/null commit -m x", Some("hook-bypass")),
    ("git -c core.hookspath=/tmp/none push origin feat-x", Some("hook-bypass")),
    ("git --config-env=core.hooksPath=EMPTY commit -m x", Some("hook-bypass")),
    ("HUSKY=0 git commit -m x", Some("hook-bypass")),
    ("LEFTHOOK=0 git push origin feat-x", Some("hook-bypass")),
    ("SKIP=flake8 git commit -m x", Some("hook-bypass")),
    ("PRE_COMMIT_ALLOW_NO_CONFIG=1 git commit -m x", Some("hook-bypass")),
    ("export HUSKY=0", Some("hook-bypass")),
    ("env HUSKY=0 git commit -m x", Some("hook-bypass")),
    ("git config core.hooksPath /dev/null", Some("hook-bypass")),
    ("git config --unset core.hooksPath", Some("hook-bypass")),
    ("GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0=/x git commit -m x", Some("hook-bypass")),
    ("git config --get core.hooksPath", None),
    ("git config core.hooksPath", None),
    ("git -c user.name=x commit -m y", None),
    ("HUSKY=1 git commit -m x", None),
    ("echo HUSKY=0", None),
    // force pushes
    ("git push -f", Some("non-fast-forward")),
    ("git push --force origin feat-x", Some("non-fast-forward")),
    ("git push --force-with-lease origin feat-x", Some("non-fast-forward")),
    ("git push --force-with-lease=feat-x:abc origin feat-x", Some("non-fast-forward")),
    ("git push --force-if-includes origin feat-x", Some("non-fast-forward")),
    ("git push origin +feat-x", Some("non-fast-forward")),
    ("git push origin '+refs/heads/feat-x:refs/heads/feat-x'", Some("non-fast-forward")),
    ("git push --mirror origin", Some("non-fast-forward")),
    ("git push -uf origin feat-x", Some("non-fast-forward")),
    // protected branches
    ("git push origin --delete main", Some("protected-delete")),
    ("git push origin :dev", Some("protected-delete")),
    ("git push origin main", Some("protected-update")),
    ("git push origin HEAD:main", Some("protected-update")),
    ("git push origin feat-x:refs/heads/staging", Some("protected-update")),
    ("git push --all origin", Some("protected-update")),
    ("git push origin feat-x", None),
    ("git push -u origin HEAD", None),
    ("git push", None),
    ("git push origin", None),
    ("git push origin --delete old-feature", None),
    ("git push origin main:feat-x", None),
    ("git push origin tag v1.0", None),
    // publishing, releasing, deploying
    ("gh pr merge 12 --squash", Some("publish")),
    ("gh release create v1.0", Some("publish")),
    ("gh api -X PUT repos/o/r/pulls/1/merge", Some("publish")),
    ("npm publish", Some("publish")),
    ("pnpm publish --access public", Some("publish")),
    ("yarn publish", Some("publish")),
    ("cargo publish", Some("publish")),
    ("twine upload dist/*", Some("publish")),
    ("python3 -m twine upload dist/*", Some("publish")),
    ("docker push registry.example/app:1", Some("publish")),
    ("terraform apply -auto-approve", Some("publish")),
    ("kubectl apply -f deploy.yaml", Some("publish")),
    ("kubectl delete pod web-1", Some("publish")),
    ("gh pr create --base main --head feat-x", None),
    ("gh pr list --head feat-x", None),
    ("gh release list", None),
    ("npm publish --dry-run", None),
    ("npm --registry https://registry.example.invalid publish", Some("publish")),
    ("pnpm -C packages/web publish", Some("publish")),
    ("pnpm --filter web publish --access public", Some("publish")),
    ("yarn --cwd web npm publish", Some("publish")),
    ("npm --registry https://registry.example.invalid install", None),
    ("npm --loglevel=silent publish", Some("publish")),
    ("npm install -- publish", None),
    ("pnpm -w publish", Some("publish")),
    ("cargo publish --dry-run", None),
    ("kubectl apply --dry-run=client -f deploy.yaml", None),
    ("kubectl get pods", None),
    ("terraform plan", None),
    ("npm install", None),
    ("docker build -t app .", None),
    // the override
    ("OKSTRA_ALLOW=publish npm publish", Some("override")),
    ("export OKSTRA_ALLOW=no-verify", Some("override")),
    ("env OKSTRA_ALLOW=non-fast-forward git push -f", Some("override")),
    ("echo 'never set OKSTRA_ALLOW=x'", None),
    // malformed shell
    ("git commit -m 'unclosed", Some("malformed")),
    ("echo \"unclosed", Some("malformed")),
    ("echo $(git status", Some("malformed")),
    ("echo `date", Some("malformed")),
    // quoting: the words inside an argument are data
    ("git commit -m \"do not use --no-verify\"", None),
    ("echo \"git push --force\"", None),
    ("echo 'gh pr merge 1'", None),
    ("grep -r 'git push -f' docs/", None),
    ("ls -la # git push -f", None),
    ("echo \"a && git push -f\"", None),
    ("cat <<'EOF' > notes.md\ngit push --force is forbidden\nEOF", None),
    ("git commit -F msg.txt", None),
    // chaining, nesting and prefixes
    ("git status && git push --force", Some("non-fast-forward")),
    ("cargo test; git commit -n -m wip", Some("no-verify")),
    ("false || git push -f", Some("non-fast-forward")),
    ("git log | head -1; git push -f", Some("non-fast-forward")),
    ("git status\ngit push -f", Some("non-fast-forward")),
    ("(cd sub && git push -f)", Some("non-fast-forward")),
    ("git st &\ngit push --mirror", Some("non-fast-forward")),
    ("sh -c 'git push --force'", Some("non-fast-forward")),
    ("bash -lc \"git commit --no-verify -m x\"", Some("no-verify")),
    ("sh -c \"sh -c 'git push -f'\"", Some("non-fast-forward")),
    ("bash <<'EOF'\ngit push -f\nEOF", Some("non-fast-forward")),
    ("echo $(git push -f)", Some("non-fast-forward")),
    ("echo `git push --force`", Some("non-fast-forward")),
    ("x=\"$(gh pr merge 3)\"", Some("publish")),
    ("env GIT_TRACE=1 git push -f", Some("non-fast-forward")),
    ("FOO=1 BAR='a b' git push --force", Some("non-fast-forward")),
    ("cd sub && git push origin main", Some("protected-update")),
    ("git -C sub push -f", Some("non-fast-forward")),
    ("sudo -u ci git push -f", Some("non-fast-forward")),
    ("timeout 60 git push --force", Some("non-fast-forward")),
    ("/usr/bin/git push -f", Some("non-fast-forward")),
    ("eval \"git push --force\"", Some("non-fast-forward")),
    ("find . -name x -exec git push -f \\;", Some("non-fast-forward")),
    ("g\\\nit push -f", Some("non-fast-forward")),
    ("'git' 'push' '--force'", Some("non-fast-forward")),
    ("{ git push -f; }", Some("non-fast-forward")),
    ("echo 'git push --force' | sh", Some("non-fast-forward")),
    ("printf 'cd x\\ngit commit -n -m y\\n' | bash -s", Some("no-verify")),
    ("bash --rcfile ~/.rc -c 'git push -f'", Some("non-fast-forward")),
    ("echo 'git push --force' | grep push", None),
    ("if true; then git push -f; fi", Some("non-fast-forward")),
    ("for b in a c; do git push origin \"$b\" --force; done", Some("non-fast-forward")),
    ("! git commit --no-verify -m x", Some("no-verify")),
    ("git status && git log --oneline | grep force", None),
    ("FOO=1 git status", None),
    ("sh -c 'git status'", None),
    ("git commit -m \"$(cat msg.txt)\"", None),
    ("git fetch --force origin", None),
    ("git commit -m \"$(cat <<'EOF'\nfix(guard): don't use --no-verify (ever)\nEOF\n)\"", None),
    ("git commit -n -m \"$(cat <<'EOF'\nwip\nEOF\n)\"", Some("no-verify")),
    ("git rebase -x 'git push -f' main", Some("non-fast-forward")),
    ("git rebase --exec='cargo test' main", None),
    ("git submodule foreach --recursive 'git push --force'", Some("non-fast-forward")),
    ("git bisect run cargo test", None),
    ("git reset --hard HEAD~1", None),
    ("git worktree add ../x -b feat-z", None),
    // git aliases (set up in the repository's config by `setup`), expanded as git expands them
    ("git pf origin feat-x", Some("non-fast-forward")),
    ("git cin -m x", Some("no-verify")),
    ("git shipit", Some("non-fast-forward")),
    ("git toprod", Some("protected-update")),
    ("git -C sub pf origin feat-x", Some("non-fast-forward")),
    ("git -c alias.zz='commit --no-verify' zz -m x", Some("no-verify")),
    ("git -c Alias.Zz='commit -n' zz -m x", Some("no-verify")),
    ("git -c alias.pf=status pf", None),
    ("git ci -m x", None),
    ("git stt", None),
    ("git status", None),
    ("git nosuchalias --force", None),
    ("git loopa", Some("malformed")),
];

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

#[test]
fn command_table() {
    assert!(TABLE.len() >= 80, "the table has {} commands", TABLE.len());
    let env = Env::new();
    let repo = setup(&env);
    let mut failures = Vec::new();
    for (cmd, expect) in TABLE {
        let r = env.okstra(&repo, &["hook", "agent-guard", cmd]);
        let got = match r.code {
            0 => None,
            2 => Some(r.stderr.trim().to_string()),
            c => {
                failures.push(format!("{cmd:?}: exit {c}: {}", r.stderr));
                continue;
            }
        };
        match (expect, &got) {
            (None, None) if r.stderr.is_empty() && r.stdout.is_empty() => {}
            (Some(rule), Some(msg))
                if msg.contains(&format!("[{rule}]")) && msg.lines().count() == 1 && r.stdout.is_empty() => {}
            _ => failures.push(format!("{cmd:?}: expected {expect:?}, got exit {} {:?}", r.code, r.stderr)),
        }
    }
    assert!(failures.is_empty(), "{} of {} wrong:\n{}", failures.len(), TABLE.len(), failures.join("\n"));
    let blocked = TABLE.iter().filter(|(_, e)| e.is_some()).count();
    assert_eq!(audit_lines(&repo).len(), blocked, "every block is audited");
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
    assert!(r.stderr.contains("[non-fast-forward]"), "{}", r.stderr);
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
    assert!(r.stderr.starts_with("blocked by okstra [non-fast-forward]"), "{}", r.stderr);
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
    assert!(r.stderr.contains("[publish]") && r.stdout.is_empty(), "{}{}", r.stdout, r.stderr);
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
    assert!(r.stderr.contains("[no-verify]"), "{}", r.stderr);
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
    assert!(r.stderr.contains("[non-fast-forward]"));
    with_stdin(&env, &repo, &["hook", "agent-guard"], "git status\n").ok();
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], "{ git push -f; }").fails(2);
    assert!(r.stderr.contains("[non-fast-forward]"), "a shell group is not JSON: {}", r.stderr);
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], "{\"tool_input\": ").fails(2);
    assert!(r.stderr.contains("[malformed]") && r.stderr.contains("not valid JSON"), "{}", r.stderr);
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], r#"{"tool_name":"Bash","tool_input":{}}"#).fails(2);
    assert!(r.stderr.contains("[malformed]"), "{}", r.stderr);
    let r = with_stdin(&env, &repo, &["hook", "agent-guard"], r#"{"hook_event_name":"Stop"}"#).fails(2);
    assert!(r.stderr.contains("[malformed]"), "{}", r.stderr);
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
    assert!(r.stderr.contains("[protected-update]") && r.stderr.contains("'trunk'"), "{}", r.stderr);
    with_stdin(&env, &outside, &["hook", "agent-guard"], &json("git push origin main")).ok();
    // Outside any repository: the defaults apply, and a block is not audited (and does not fail).
    let r = env.okstra(&outside, &["hook", "agent-guard", "git push origin main"]).fails(2);
    assert!(r.stderr.contains("[protected-update]"), "{}", r.stderr);
    assert!(!outside.join(".git").exists());
}

#[test]
fn pushing_the_current_branch_when_it_is_protected() {
    let env = Env::new();
    let repo = env.repo("proj");
    for cmd in ["git push", "git push origin", "git push -u origin HEAD", "git push origin @"] {
        let r = env.okstra(&repo, &["hook", "agent-guard", cmd]).fails(2);
        assert!(r.stderr.contains("[protected-update]") && r.stderr.contains("'main'"), "{cmd}: {}", r.stderr);
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
        assert_eq!(pre[1]["matcher"], "Bash");
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
        assert_eq!(before[1]["matcher"], "run_shell_command");
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
        serde_json::json!({"version": 1, "hooks": {"beforeShellExecution": [{"command": "git-okstra hook agent-guard"}]}})
    );
    let claude = read_json(&repo.join(".claude/settings.json"));
    assert_eq!(claude["hooks"]["PreToolUse"][0]["matcher"], "Bash");
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
    let r = env.okstra(&repo, &["hooks", "install", "--agent", "codex"]).fails(2);
    assert!(r.stderr.starts_with("error: invalid value 'codex' for '--agent <AGENT>'"), "{}", r.stderr);
    assert!(r.stderr.contains("[possible values: claude, gemini, cursor]"), "{}", r.stderr);
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
    assert_eq!(gemini["hooks"]["BeforeTool"][0]["matcher"], "run_shell_command");
    assert_eq!(env.git(&wt3, &["status", "--porcelain"]), " M .gemini/settings.json");

    env.git(&repo, &["config", "okstra.agentGuard", "claude,codex"]);
    let r = env.okstra(&repo, &["task", "start", "DEV-2"]).fails(2);
    assert!(r.stderr.contains("unknown agent 'codex'"), "{}", r.stderr);
    assert!(
        env.git_run(&repo, &["rev-parse", "--verify", "-q", "refs/heads/feat-dev-2"]).code != 0,
        "nothing was created"
    );
}
