//! The hooks toolkit against real git: a client repository with the okstra hooks installed,
//! a real bare remote, and the scenario matrix of the hooks issue.
mod common;
use std::path::{Path, PathBuf};

use common::{Env, BIN};

const Z: &str = "0000000000000000000000000000000000000000";

/// A repository with `origin` (main, staging, dev), the hooks installed, on branch `feat-x`
/// with one commit that is not on the remote.
fn setup() -> (Env, PathBuf, PathBuf) {
    let env = Env::new();
    let repo = env.repo("proj");
    let origin = env.origin(&repo, &["staging", "dev"]);
    env.okstra(&repo, &["hooks", "install"]).ok();
    env.git(&repo, &["switch", "-q", "-c", "feat-x"]);
    env.commit_file(&repo, "a.txt", "a\n", "feat: a");
    (env, repo, origin)
}

fn rev(env: &Env, dir: &Path, spec: &str) -> String {
    env.git(dir, &["rev-parse", spec])
}

fn try_rev(env: &Env, dir: &Path, spec: &str) -> Option<String> {
    let r = env.git_run(dir, &["rev-parse", "--verify", "-q", spec]);
    (r.code == 0).then(|| r.stdout.trim().to_string())
}

fn audit(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join(".git/okstra/audit.jsonl")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).expect("audit line is JSON")).collect()
}

/// The remote's branches, to show a refused push changed nothing.
fn remote_refs(env: &Env, origin: &Path) -> String {
    env.git(origin, &["for-each-ref", "--format=%(refname) %(objectname)"])
}

// --- pre-push: the scenario matrix -----------------------------------------------------

#[test]
fn new_branch_then_fast_forward_are_allowed() {
    let (env, repo, origin) = setup();
    env.git(&repo, &["push", "-q", "origin", "feat-x"]);
    assert_eq!(rev(&env, &origin, "feat-x"), rev(&env, &repo, "HEAD"));
    env.commit_file(&repo, "b.txt", "b\n", "feat: b");
    env.git(&repo, &["push", "-q", "origin", "feat-x"]);
    assert_eq!(rev(&env, &origin, "feat-x"), rev(&env, &repo, "HEAD"));
    assert!(audit(&repo).is_empty(), "nothing refused, nothing logged");
}

#[test]
fn rewriting_pushes_are_refused() {
    let (env, repo, origin) = setup();
    env.git(&repo, &["push", "-q", "-u", "origin", "feat-x"]);
    env.git(&repo, &["commit", "-q", "--amend", "-m", "feat: a, amended"]);
    let before = remote_refs(&env, &origin);
    for args in [
        vec!["push", "--force", "origin", "feat-x"],
        vec!["push", "origin", "+feat-x"],
        vec!["push", "--force-with-lease", "origin", "feat-x"],
        vec!["push", "--mirror", "origin"],
    ] {
        let r = env.git_run(&repo, &args).fails(1);
        assert!(r.stderr.contains("[okstra:non-fast-forward] refs/heads/feat-x"), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("hint: integrate the remote work"), "{}", r.stderr);
        assert_eq!(remote_refs(&env, &origin), before, "{args:?} changed the remote");
    }
    let log = audit(&repo);
    assert_eq!(log.len(), 4);
    assert!(log
        .iter()
        .all(|l| l["rule"] == "non-fast-forward" && l["decision"] == "refused" && l["source"] == "pre-push"));
}

#[test]
fn protected_branches_cannot_be_pushed_to_or_deleted() {
    let (env, repo, origin) = setup();
    let before = remote_refs(&env, &origin);
    let r = env.git_run(&repo, &["push", "origin", "HEAD:main"]).fails(1);
    assert!(r.stderr.contains("[okstra:protected-update] refs/heads/main"), "{}", r.stderr);
    assert!(r.stderr.contains("open a pull request"), "{}", r.stderr);
    let r = env.git_run(&repo, &["push", "origin", "HEAD:refs/heads/staging"]).fails(1);
    assert!(r.stderr.contains("refs/heads/staging"), "{}", r.stderr);
    let r = env.git_run(&repo, &["push", "origin", ":dev"]).fails(1);
    assert!(r.stderr.contains("[okstra:protected-delete] refs/heads/dev"), "{}", r.stderr);
    assert_eq!(remote_refs(&env, &origin), before);
    let rules: Vec<_> = audit(&repo).iter().map(|l| l["rule"].as_str().unwrap().to_string()).collect();
    assert_eq!(rules, ["protected-update", "protected-update", "protected-delete"]);
}

#[test]
fn protected_list_comes_from_config() {
    let (env, repo, origin) = setup();
    env.git(&repo, &["config", "--add", "okstra.protectedBranch", "release"]);
    env.git(&repo, &["push", "-q", "origin", "HEAD:dev"]); // no longer protected
    assert_eq!(rev(&env, &origin, "dev"), rev(&env, &repo, "HEAD"));
    env.git_run(&repo, &["push", "origin", "HEAD:release"]).fails(1);
}

#[test]
fn tags_and_unprotected_deletes_are_allowed() {
    let (env, repo, origin) = setup();
    env.git(&repo, &["tag", "v1"]);
    env.git(&repo, &["tag", "-a", "-m", "v2", "v2"]);
    env.git(&repo, &["push", "-q", "origin", "v1", "v2"]);
    assert_eq!(rev(&env, &origin, "v1"), rev(&env, &repo, "v1"));
    env.git(&repo, &["push", "-q", "origin", "feat-x"]);
    env.git(&repo, &["push", "-q", "origin", ":feat-x"]);
    assert_eq!(try_rev(&env, &origin, "refs/heads/feat-x"), None);
}

#[test]
fn one_bad_ref_refuses_the_whole_push() {
    let (env, repo, origin) = setup();
    let before = remote_refs(&env, &origin);
    let r =
        env.git_run(&repo, &["push", "origin", "feat-x", "HEAD:main", "refs/heads/feat-x:refs/heads/feat-y"]).fails(1);
    assert!(r.stderr.contains("refs/heads/main"), "{}", r.stderr);
    assert_eq!(remote_refs(&env, &origin), before);
}

#[test]
fn remote_tip_missing_locally_says_fetch_first() {
    let (env, repo, origin) = setup();
    env.git(&repo, &["push", "-q", "origin", "feat-x"]);
    // Someone else moves feat-x on the remote; we rewrite ours without fetching.
    let other = env.root().join("other");
    env.git(&env.root(), &["clone", "-q", origin.to_str().unwrap(), other.to_str().unwrap()]);
    env.git(&other, &["switch", "-q", "feat-x"]);
    env.commit_file(&other, "o.txt", "o\n", "other work");
    env.git(&other, &["push", "-q", "origin", "feat-x"]);
    let theirs = rev(&env, &origin, "feat-x");
    let r = env.git_run(&repo, &["push", "--force", "origin", "feat-x"]).fails(1);
    assert!(r.stderr.contains("is not in this repository"), "{}", r.stderr);
    assert!(r.stderr.contains("fetch first"), "{}", r.stderr);
    assert_eq!(rev(&env, &origin, "feat-x"), theirs);
}

/// feat-a one commit ahead of origin, and feat-b whose remote tip someone else moved (so it
/// is not in this repository).
fn fetch_first_setup() -> (Env, PathBuf, PathBuf) {
    let (env, repo, origin) = setup();
    env.git(&repo, &["push", "-q", "origin", "feat-x:feat-a", "feat-x:feat-b"]);
    let other = env.root().join("other");
    env.git(&env.root(), &["clone", "-q", origin.to_str().unwrap(), other.to_str().unwrap()]);
    env.git(&other, &["switch", "-q", "feat-b"]);
    env.commit_file(&other, "o.txt", "o\n", "theirs");
    env.git(&other, &["push", "-q", "origin", "feat-b"]);
    for b in ["feat-a", "feat-b"] {
        env.git(&repo, &["switch", "-q", "-c", b, "feat-x"]);
        env.commit_file(&repo, &format!("{b}.txt"), "mine\n", b);
    }
    (env, repo, origin)
}

#[test]
fn refs_git_rejects_itself_are_left_to_git() {
    let (env, repo, origin) = fetch_first_setup();
    let theirs = rev(&env, &origin, "feat-b");
    let r = env.git_run(&repo, &["push", "origin", "feat-a", "feat-b"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("feat-b -> feat-b (fetch first)"), "git rejects feat-b itself: {}", r.stderr);
    assert!(!r.stderr.contains("okstra"), "{}", r.stderr);
    assert_eq!(rev(&env, &origin, "feat-a"), rev(&env, &repo, "feat-a"), "feat-a was pushed");
    assert_eq!(rev(&env, &origin, "feat-b"), theirs);
    // The same for a protected branch git rejects: the rest of the push goes through.
    env.git(&repo, &["switch", "-q", "feat-a"]);
    env.commit_file(&repo, "a2.txt", "a\n", "a2");
    let r = env.git_run(&repo, &["push", "origin", "feat-a", "feat-b:refs/heads/feat-b"]);
    assert!(r.stderr.contains("(fetch first)"), "{}", r.stderr);
    assert_eq!(rev(&env, &origin, "feat-a"), rev(&env, &repo, "feat-a"));
    assert!(audit(&repo).is_empty(), "{:?}", audit(&repo));
    // No notice afterwards: feat-a's push was recorded, feat-b never moved.
    let r = env.okstra(&repo, &["hooks", "status"]).ok();
    assert!(notices(&r.stderr).is_empty(), "{}", r.stderr);
}

#[test]
fn forcing_over_a_remote_tip_missing_locally_is_refused_in_every_spelling() {
    let (env, repo, origin) = fetch_first_setup();
    let before = remote_refs(&env, &origin);
    let lease = format!("--force-with-lease=feat-b:{}", rev(&env, &origin, "feat-b"));
    let lease_short = lease.replace("--force-with-lease", "--force-w");
    env.git(&repo, &["config", "alias.fp", "push --force"]);
    let spellings: Vec<Vec<&str>> = vec![
        vec!["push", "--force", "origin", "feat-b"],
        vec!["push", "-f", "origin", "feat-b"],
        vec!["push", "-uf", "origin", "feat-b"],
        vec!["push", "origin", "+feat-b"],
        vec!["push", "origin", "feat-a", "+feat-b:feat-b"],
        vec!["push", &lease, "origin", "feat-b"],
        vec!["push", &lease_short, "origin", "feat-b"],
        vec!["fp", "origin", "feat-b"],
        vec!["-c", "remote.origin.push=+refs/heads/feat-b:refs/heads/feat-b", "push", "origin"],
    ];
    for args in &spellings {
        let r = env.git_run(&repo, args).fails(1);
        assert!(r.stderr.contains("[okstra:non-fast-forward] refs/heads/feat-b"), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("fetch first"), "{}", r.stderr);
        assert_eq!(remote_refs(&env, &origin), before, "{args:?} changed the remote");
    }
    // A forcing push refspec in the repository's config counts too.
    env.git(&repo, &["config", "remote.origin.push", "+refs/heads/feat-b:refs/heads/feat-b"]);
    env.git_run(&repo, &["push", "origin"]).fails(1);
    assert_eq!(remote_refs(&env, &origin), before);
    assert_eq!(audit(&repo).len(), spellings.len() + 1);
}

/// `n` commits on top of `base` made with plumbing (no hooks run); returns the last one.
fn chain(env: &Env, dir: &Path, base: &str, n: usize) -> String {
    let tree = rev(env, dir, &format!("{base}^{{tree}}"));
    let mut tip = rev(env, dir, base);
    for i in 0..n {
        tip = env.git(dir, &["commit-tree", &tree, "-p", &tip, "-m", &format!("step {i}")]);
    }
    tip
}

#[test]
fn ancestry_is_judged_beyond_the_quick_walk() {
    // pre-push first looks for the remote tip among the new tip's first 64 ancestors and asks
    // the full merge-base search only when that fails: both answers must hold either way.
    let (env, repo, origin) = setup();
    env.git(&repo, &["push", "-q", "origin", "feat-x"]);
    let far_ahead = chain(&env, &repo, "feat-x", 70);
    env.git(&repo, &["push", "-q", "origin", &format!("{far_ahead}:refs/heads/feat-x")]);
    assert_eq!(rev(&env, &origin, "feat-x"), far_ahead, "a 70-commit fast-forward is allowed");

    // As long, but off main: the remote's feat-x is not in it.
    let elsewhere = chain(&env, &repo, "main", 70);
    let r = env.git_run(&repo, &["push", "origin", &format!("{elsewhere}:refs/heads/feat-x")]).fails(1);
    assert!(r.stderr.contains("non-fast-forward"), "{}", r.stderr);
    assert_eq!(rev(&env, &origin, "feat-x"), far_ahead, "the remote is unchanged");

    // The remote tip reached only through a merge's second parent is a fast-forward too.
    let side = chain(&env, &repo, "main", 3);
    let tree = rev(&env, &repo, "HEAD^{tree}");
    let merge = env.git(&repo, &["commit-tree", &tree, "-p", &side, "-p", &far_ahead, "-m", "merge"]);
    env.git(&repo, &["push", "-q", "origin", &format!("{merge}:refs/heads/feat-x")]);
    assert_eq!(rev(&env, &origin, "feat-x"), merge);
}

// --- pre-push: git's stdin protocol, fed directly ----------------------------------------

fn run_hook(env: &Env, dir: &Path, args: &[&str], stdin: &str, vars: &[(&str, &str)]) -> common::Run {
    use std::io::Write;
    let mut cmd = env.command(BIN, dir);
    cmd.arg("hook").args(args).stdin(std::process::Stdio::piped());
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn pre_push_protocol_edges() {
    let (env, repo, _origin) = setup();
    let head = rev(&env, &repo, "HEAD");
    let main = rev(&env, &repo, "main");
    let push = ["pre-push", "origin", "url"];
    // Empty stdin: git already rejected the push itself; nothing to check.
    run_hook(&env, &repo, &push, "", &[]).ok();
    // Several refs in one push, all fine: a new branch, a fast-forward, a tag, a delete.
    let ok = format!(
        "refs/heads/feat-x {head} refs/heads/feat-x {Z}\nrefs/heads/feat-x {head} refs/heads/feat-y {main}\nrefs/tags/t {head} refs/tags/t {Z}\n(delete) {Z} refs/heads/old {main}\n"
    );
    run_hook(&env, &repo, &push, &ok, &[]).ok();
    // A delete line for a protected branch.
    let r = run_hook(&env, &repo, &push, &format!("(delete) {Z} refs/heads/prod {main}\n"), &[]).fails(1);
    assert!(r.stderr.contains("protected-delete"), "{}", r.stderr);
    // Input that does not follow the protocol is refused, never guessed at.
    let r = run_hook(&env, &repo, &push, "refs/heads/x garbage\n", &[]).fails(1);
    assert!(r.stderr.contains("[okstra:malformed] pre-push input line 1"), "{}", r.stderr);
    let r = run_hook(&env, &repo, &push, "\n", &[]).fails(1);
    assert!(r.stderr.contains("malformed"), "{}", r.stderr);
}

#[test]
fn override_allows_only_the_named_rule_and_is_logged() {
    let (env, repo, _origin) = setup();
    let head = rev(&env, &repo, "HEAD");
    let main = rev(&env, &repo, "main");
    let push = ["pre-push", "origin", "url"];
    let to_main = format!("refs/heads/feat-x {head} refs/heads/main {main}\n");
    let r = run_hook(&env, &repo, &push, &to_main, &[("OKSTRA_ALLOW", "non-fast-forward")]).fails(1);
    assert!(r.stderr.contains("protected-update"));
    let r = run_hook(&env, &repo, &push, &to_main, &[("OKSTRA_ALLOW", "protected-update")]).ok();
    assert!(r.stderr.contains("OKSTRA_ALLOW=protected-update lets this through"), "{}", r.stderr);
    let log = audit(&repo);
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["decision"], "refused");
    assert_eq!(log[1]["decision"], "allowed-by-override");
    assert_eq!(log[1]["rule"], "protected-update");
}

// --- --no-verify commits ---------------------------------------------------------------

#[test]
fn no_verify_commits_are_refused() {
    let (env, repo, _origin) = setup();
    let head = rev(&env, &repo, "HEAD");
    std::fs::write(repo.join("a.txt"), "changed\n").unwrap();
    env.git(&repo, &["add", "a.txt"]);
    for flag in ["--no-verify", "-n", "--no-verif"] {
        let r = env.git_run(&repo, &["commit", flag, "-m", "skip"]).fails(1);
        assert!(r.stderr.contains("[okstra:no-verify] git commit"), "{flag}: {}", r.stderr);
        assert_eq!(rev(&env, &repo, "HEAD"), head, "{flag} moved HEAD");
    }
    env.git_run(&repo, &["commit", "--amend", "-n", "-m", "skip"]).fails(1);
    env.git(&repo, &["config", "alias.ci", "commit --no-verify"]);
    env.git_run(&repo, &["ci", "-m", "skip"]).fails(1);
    assert_eq!(rev(&env, &repo, "HEAD"), head);
    assert_eq!(audit(&repo).len(), 5);
    assert!(audit(&repo).iter().all(|l| l["rule"] == "no-verify" && l["source"] == "prepare-commit-msg"));
    // Without okstra's pre-commit in place there is no stamp to expect: a warning, no refusal.
    use std::os::unix::fs::PermissionsExt;
    let pre_commit = repo.join(".git/hooks/pre-commit");
    std::fs::set_permissions(&pre_commit, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = env.git_run(&repo, &["commit", "-q", "-n", "-m", "unguarded"]).ok();
    assert!(r.stderr.contains("cannot tell whether this commit skipped its checks"), "{}", r.stderr);
    env.git(&repo, &["reset", "-q", "--soft", "HEAD~1"]);
    std::fs::set_permissions(&pre_commit, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The same commit with its checks goes through.
    env.git(&repo, &["commit", "-q", "-m", "with checks"]);
    assert_ne!(rev(&env, &repo, "HEAD"), head);
}

#[test]
fn merge_no_verify_is_refused_and_plain_merge_allowed() {
    let (env, repo, _origin) = setup();
    env.git(&repo, &["switch", "-q", "main"]);
    env.commit_file(&repo, "m.txt", "m\n", "on main");
    let head = rev(&env, &repo, "HEAD");
    let r = env.git_run(&repo, &["merge", "--no-verify", "--no-edit", "feat-x"]).fails(1);
    assert!(r.stderr.contains("[okstra:no-verify] git merge"), "{}", r.stderr);
    assert_eq!(rev(&env, &repo, "HEAD"), head);
    // As after any failing hook, the merge is left in progress: concluding it with -n is
    // refused too, with the checks it goes through.
    assert!(repo.join(".git/MERGE_HEAD").exists());
    env.git_run(&repo, &["commit", "-n", "--no-edit"]).fails(1);
    env.git(&repo, &["commit", "-q", "--no-edit"]);
    assert_eq!(rev(&env, &repo, "HEAD^1"), head);
    // A plain merge runs pre-merge-commit and passes.
    env.git(&repo, &["reset", "-q", "--hard", "HEAD^1"]);
    env.git(&repo, &["merge", "-q", "--no-edit", "feat-x"]);
    assert_eq!(rev(&env, &repo, "HEAD^2"), rev(&env, &repo, "feat-x"));
    assert_eq!(audit(&repo).len(), 2);
}

#[test]
fn everyday_history_work_passes() {
    let (env, repo, _origin) = setup();
    env.git(&repo, &["commit", "-q", "--amend", "-m", "feat: a (amended)"]);
    // A side branch to rebase, cherry-pick and revert with.
    env.git(&repo, &["switch", "-q", "-c", "side", "main"]);
    env.commit_file(&repo, "s.txt", "s\n", "side");
    let side = rev(&env, &repo, "HEAD");
    env.git(&repo, &["switch", "-q", "feat-x"]);
    env.git(&repo, &["cherry-pick", side.as_str()]);
    env.git(&repo, &["revert", "--no-edit", "HEAD"]);
    env.git(&repo, &["rebase", "-q", "side"]);
    env.git(
        &repo,
        &["-c", "sequence.editor=sed -i s/^pick/reword/", "-c", "core.editor=true", "rebase", "-q", "-i", "main"],
    );
    env.git(&repo, &["stash", "list"]);
    std::fs::write(repo.join("a.txt"), "dirty\n").unwrap();
    env.git(&repo, &["stash", "-q"]);
    env.git(&repo, &["stash", "pop", "-q"]);
    env.git(&repo, &["checkout", "-q", "-b", "other"]);
    env.git(&repo, &["branch", "-q", "-D", "side"]);
    env.git(&repo, &["reset", "-q", "--hard", "HEAD~1"]);
    env.git(&repo, &["fetch", "-q", "origin"]);
    env.git(&repo, &["worktree", "add", "-q", "-b", "wt-branch", env.root().join("wt").to_str().unwrap()]);
    assert!(audit(&repo).is_empty(), "{:?}", audit(&repo));
}

#[test]
fn hooks_work_in_linked_worktrees() {
    let env = Env::new();
    let repo = env.repo("proj");
    env.origin(&repo, &[]);
    let wt = env.root().join("wt");
    env.git(&repo, &["worktree", "add", "-q", "-b", "feat-w", wt.to_str().unwrap()]);
    // Installed from the linked worktree: the hooks land in the common dir.
    let r = env.okstra(&wt, &["hooks", "install"]).ok();
    assert_eq!(PathBuf::from(r.stdout.trim()), repo.join(".git/hooks"));
    std::fs::write(wt.join("w.txt"), "w\n").unwrap();
    env.git(&wt, &["add", "w.txt"]);
    env.git_run(&wt, &["commit", "-n", "-m", "skip"]).fails(1);
    env.git(&wt, &["commit", "-q", "-m", "checked"]);
    env.git_run(&wt, &["push", "origin", "HEAD:main"]).fails(1);
    env.git(&wt, &["push", "-q", "origin", "feat-w"]);
    assert_eq!(audit(&repo).len(), 2, "the audit log is in the common dir");
}

// --- push --no-verify: noticed afterwards -------------------------------------------------

/// The bypassed-push warnings in a command's stderr.
fn notices(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("warning: [okstra:no-verify]")).collect()
}

#[test]
fn pushes_that_skip_pre_push_are_noticed_later_once() {
    let (env, repo, origin) = setup();
    // Nothing runs during the pushes themselves: git starts no okstra process for them.
    let r = env.git_run(&repo, &["push", "--no-verify", "origin", "HEAD:dev"]).ok();
    assert!(!r.stderr.contains("okstra"), "{}", r.stderr);
    env.commit_file(&repo, "b.txt", "b\n", "b");
    env.git(&repo, &["-c", "core.hooksPath=/dev/null", "push", "-q", "origin", "feat-x"]);
    assert_eq!(rev(&env, &origin, "dev"), rev(&env, &repo, "HEAD~1"), "the client cannot stop them");
    assert!(audit(&repo).is_empty());
    // The first command that looks tells each once: rule, ref, time, what it broke.
    let r = env.okstra(&repo, &["hooks", "status"]).ok();
    let seen = notices(&r.stderr);
    assert_eq!(seen.len(), 2, "{}", r.stderr);
    assert!(
        seen[0].contains("origin/dev: a push at 20") && seen[0].contains("skipped okstra's pre-push check"),
        "{}",
        seen[0]
    );
    assert!(seen[0].contains("broke the rule protected-update"), "{}", seen[0]);
    assert!(
        seen[1].contains("origin/feat-x") && seen[1].contains("okstra cannot tell what it replaced"),
        "{}",
        seen[1]
    );
    let log = audit(&repo);
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|l| l["decision"] == "warned" && l["source"] == "push-notice" && l["rule"] == "no-verify"));
    assert_eq!(log[0]["subject"], "origin/dev");
    // Afterwards they are listed, never told again.
    let r = env.okstra(&repo, &["hooks", "status"]).ok();
    assert!(notices(&r.stderr).is_empty(), "{}", r.stderr);
    assert!(r.stdout.contains("bypassed push           origin/dev at 20"), "{}", r.stdout);
    let s = env.okstra(&repo, &["hooks", "status", "--json"]).ok().json();
    assert_eq!(s["bypassed_pushes"].as_array().unwrap().len(), 2);
    assert_eq!(s["bypassed_pushes"][0]["broke"], "protected-update");
    let d = env.okstra(&repo, &["doctor", "--json"]).json();
    let kinds: Vec<_> = d["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == "bypassed-push").collect();
    assert_eq!(kinds.len(), 2, "{d}");
    assert!(kinds.iter().all(|f| f["level"] == "note"));
    assert_eq!(audit(&repo).len(), 2, "one audit line per push");
    // Nothing new: nothing is written.
    let state = repo.join(".git/okstra/push-notices.json");
    let stamp = std::fs::metadata(&state).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    env.okstra(&repo, &["hooks", "status"]).ok();
    assert_eq!(std::fs::metadata(&state).unwrap().modified().unwrap(), stamp);
    // A checked push of the same branch ends its notice; the other stays.
    env.commit_file(&repo, "c.txt", "c\n", "c");
    env.git(&repo, &["push", "-q", "origin", "feat-x"]);
    let s = env.okstra(&repo, &["hooks", "status", "--json"]).ok().json();
    let open: Vec<_> = s["bypassed_pushes"].as_array().unwrap().iter().map(|b| b["tracking_ref"].clone()).collect();
    assert_eq!(open, ["refs/remotes/origin/dev"]);
}

#[test]
fn ordinary_pushes_fetches_and_pulls_raise_no_notice() {
    let (env, repo, origin) = setup();
    let url = origin.to_str().unwrap();
    env.git(&repo, &["push", "-q", "-u", "origin", "feat-x"]);
    env.commit_file(&repo, "b.txt", "b\n", "b");
    env.git(&repo, &["push", "-q"]); // a fast-forward to the upstream
    env.git(&repo, &["push", "-q", "origin", "feat-x"]); // sends nothing
                                                         // The same repository under a second name, then under its URL: origin/feat-x goes stale,
                                                         // and the next push to origin sends nothing while git refreshes it (git's t5528 and t5523
                                                         // push to one repository through several remotes).
    env.git(&repo, &["remote", "add", "mirror-name", url]);
    env.commit_file(&repo, "c.txt", "c\n", "c");
    env.git(&repo, &["push", "-q", "mirror-name", "feat-x"]);
    env.commit_file(&repo, "d.txt", "d\n", "d");
    env.git(&repo, &["push", "-q", url, "feat-x"]);
    let before = env.git(&repo, &["rev-parse", "origin/feat-x"]);
    let r = env.git_run(&repo, &["push", "origin", "feat-x"]).ok();
    assert!(r.stderr.contains("Everything up-to-date"), "{}", r.stderr);
    assert_ne!(env.git(&repo, &["rev-parse", "origin/feat-x"]), before, "git refreshed the stale tracking ref");
    // Tags, a delete, another branch at the same commit, a dry run.
    env.git(&repo, &["tag", "v1"]);
    env.git(&repo, &["push", "-q", "origin", "v1", "feat-x:feat-copy"]);
    env.git(&repo, &["push", "-q", "origin", ":feat-copy"]);
    env.git(&repo, &["push", "-q", "--dry-run", "origin", "feat-x:feat-dry"]);
    // Someone else pushes; we fetch and pull (merge and rebase).
    let other = env.root().join("other");
    env.git(&env.root(), &["clone", "-q", url, other.to_str().unwrap()]);
    env.git(&other, &["switch", "-q", "feat-x"]);
    env.commit_file(&other, "o.txt", "o\n", "other");
    env.git(&other, &["push", "-q", "origin", "feat-x"]);
    env.git(&repo, &["fetch", "-q", "origin"]);
    env.git(&repo, &["pull", "-q", "--no-rebase", "origin", "feat-x"]);
    env.git(&other, &["commit", "-q", "--allow-empty", "-m", "again"]);
    env.git(&other, &["push", "-q", "origin", "feat-x"]);
    env.git(&repo, &["pull", "-q", "--rebase", "origin", "feat-x"]);
    env.git(&repo, &["push", "-q", "origin", "feat-x"]);
    // A push from a linked worktree (its hooks get GIT_DIR; records go to the common dir).
    let wt = env.root().join("wt");
    env.git(&repo, &["worktree", "add", "-q", "-b", "feat-w", wt.to_str().unwrap()]);
    env.commit_file(&wt, "w.txt", "w\n", "w");
    env.git(&wt, &["push", "-q", "-u", "origin", "feat-w"]);
    env.commit_file(&wt, "w2.txt", "w\n", "w2");
    env.git(&wt, &["push", "-q"]);
    for dir in [&repo, &wt] {
        let r = env.okstra(dir, &["hooks", "status", "--json"]).ok();
        assert!(notices(&r.stderr).is_empty(), "{}", r.stderr);
        assert_eq!(r.json()["bypassed_pushes"], serde_json::json!([]));
    }
    assert!(audit(&repo).is_empty(), "{:?}", audit(&repo));
    // …while the same kind of push from the worktree without its hook is noticed.
    env.commit_file(&wt, "w3.txt", "w\n", "w3");
    env.git(&wt, &["push", "-q", "--no-verify"]);
    let r = env.okstra(&wt, &["hooks", "status"]).ok();
    assert_eq!(notices(&r.stderr).len(), 1, "{}", r.stderr);
    assert!(notices(&r.stderr)[0].contains("origin/feat-w"), "{}", r.stderr);
}

/// What install wrote for `reference-transaction` before it was dropped (format 2).
fn old_reference_transaction_shim() -> String {
    format!(
        "#!/bin/sh\n# git-okstra hook shim (format 2) for reference-transaction: `git okstra hooks uninstall` removes it.\n# The policy is in the binary; this file only finds it. Edit nothing here: reinstall instead.\n[ \"$1\" = committed ] || exit 0\ninstalled='{}'\nokstra=$installed\nexec \"$okstra\" hook reference-transaction \"$@\"\n",
        std::fs::canonicalize(BIN).unwrap().display()
    )
}

#[test]
fn the_older_hook_set_is_stale_until_install_drops_reference_transaction() {
    let (env, repo, _origin) = setup();
    let hooks = repo.join(".git/hooks");
    let rt = hooks.join("reference-transaction");
    common::write_exec(&rt, old_reference_transaction_shim());
    // The old shim still runs on every ref update, and does nothing now.
    env.commit_file(&repo, "o.txt", "o\n", "with the old set");
    let s = env.okstra(&repo, &["hooks", "status", "--json"]).ok().json();
    assert_eq!(s["complete"], false);
    let last = s["hooks"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["name"].as_str(), last["state"].as_str(), last["retired"].as_bool()),
        (Some("reference-transaction"), Some("stale"), Some(true))
    );
    let r = env.okstra(&repo, &["hooks", "status"]).ok();
    assert!(r.stdout.contains("reference-transaction  stale (no longer used"), "{}", r.stdout);
    let d = env.okstra(&repo, &["doctor", "--json"]).json();
    assert!(
        d["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "stale-hook" && f["subject"].as_str().unwrap().ends_with("reference-transaction")),
        "{d}"
    );
    // install removes okstra's shim, and only that.
    let r = env.okstra(&repo, &["hooks", "install", "--json"]).ok().json();
    let rt_report: Vec<_> =
        r["hooks"].as_array().unwrap().iter().filter(|h| h["name"] == "reference-transaction").collect();
    assert_eq!(rt_report.len(), 1);
    assert_eq!(rt_report[0]["action"], "removed");
    assert!(!rt.exists());
    let s = env.okstra(&repo, &["hooks", "status", "--json"]).ok().json();
    assert_eq!(s["complete"], true);
    assert_eq!(s["hooks"].as_array().unwrap().len(), 4);
    // A foreign reference-transaction the old set had chained is put back, byte for byte; a
    // foreign one of its own is never touched.
    let foreign = "#!/bin/sh\n# the user's own\nexit 0\n";
    common::write_exec(&hooks.join("reference-transaction.okstra-chained"), foreign);
    common::write_exec(&rt, old_reference_transaction_shim());
    let r = env.okstra(&repo, &["hooks", "install", "--json"]).ok().json();
    assert!(r["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["name"] == "reference-transaction" && h["action"] == "restored"));
    assert_eq!(std::fs::read_to_string(&rt).unwrap(), foreign);
    assert!(!hooks.join("reference-transaction.okstra-chained").exists());
    env.okstra(&repo, &["hooks", "install"]).ok();
    env.okstra(&repo, &["hooks", "uninstall"]).ok();
    assert_eq!(std::fs::read_to_string(&rt).unwrap(), foreign);
    let s = env.okstra(&repo, &["hooks", "status", "--json"]).ok().json();
    assert_eq!(s["hooks"].as_array().unwrap().len(), 4, "a foreign reference-transaction is not okstra's to report");
}

#[test]
fn a_notice_state_or_record_that_cannot_be_used_is_said_and_never_stops_git() {
    let (env, repo, _origin) = setup();
    // The record cannot be written (its name is taken by a folder): the push goes through with
    // a warning, and the push it could not record is reported later.
    let records = repo.join(".git/okstra/pushes.jsonl");
    std::fs::create_dir_all(&records).unwrap();
    let r = env.git_run(&repo, &["push", "origin", "feat-x"]).ok();
    assert!(r.stderr.contains("warning: cannot record this push under"), "{}", r.stderr);
    std::fs::remove_dir(&records).unwrap();
    let r = env.okstra(&repo, &["hooks", "status"]).ok();
    assert_eq!(notices(&r.stderr).len(), 1, "{}", r.stderr);
    // A state file that does not parse: the reporting commands warn and go on, untouched.
    let state = repo.join(".git/okstra/push-notices.json");
    std::fs::write(&state, "{not json").unwrap();
    for args in [&["hooks", "status"][..], &["doctor"], &["task", "list"]] {
        let r = env.okstra(&repo, args);
        assert!(r.stderr.contains("warning: bypassed pushes not checked: cannot read"), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("push-notices.json"), "{}", r.stderr);
    }
    assert_eq!(std::fs::read_to_string(&state).unwrap(), "{not json");
}

// --- the server hook -------------------------------------------------------------------

#[test]
fn server_hook_refuses_what_a_hookless_client_pushes() {
    let env = Env::new();
    let repo = env.repo("proj");
    let origin = env.origin(&repo, &["dev"]);
    let r = env.okstra(&origin, &["hooks", "install", "--server", "--json"]).ok().json();
    assert_eq!(r["schema"], 1);
    assert_eq!(r["hooks"][0]["name"], "pre-receive");
    assert_eq!(env.git(&origin, &["config", "receive.denyNonFastForwards"]), "true");
    // The client has no okstra hooks, disables all hooks and skips pre-push.
    let bypass = ["-c", "core.hooksPath=/dev/null", "push", "--no-verify"];
    env.git(&repo, &["switch", "-q", "-c", "feat-x"]);
    env.commit_file(&repo, "a.txt", "a\n", "a");
    env.git(&repo, &[&bypass[..], &["-q", "origin", "feat-x"]].concat()); // a new branch is fine
    env.git(&repo, &["commit", "-q", "--amend", "-m", "a2"]);
    let before = remote_refs(&env, &origin);
    let r = env.git_run(&repo, &[&bypass[..], &["--force", "origin", "feat-x"]].concat()).fails(1);
    assert!(r.stderr.contains("remote: error: [okstra:non-fast-forward] refs/heads/feat-x"), "{}", r.stderr);
    let r = env.git_run(&repo, &[&bypass[..], &["origin", "HEAD:main"]].concat()).fails(1);
    assert!(r.stderr.contains("protected-update"), "{}", r.stderr);
    env.git_run(&repo, &[&bypass[..], &["origin", ":dev"]].concat()).fails(1);
    assert_eq!(remote_refs(&env, &origin), before);
    let log = std::fs::read_to_string(origin.join("okstra/audit.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 3);
    assert!(log.lines().all(|l| l.contains("\"source\":\"pre-receive\"")));
    // A fast-forward still goes through.
    env.commit_file(&repo, "b.txt", "b\n", "b");
    env.git(&repo, &["fetch", "-q", "origin"]);
    env.git(&repo, &["rebase", "-q", "origin/feat-x"]);
    env.git(&repo, &[&bypass[..], &["-q", "origin", "feat-x"]].concat());
    // Uninstall restores the setting it changed.
    env.okstra(&origin, &["hooks", "uninstall"]).ok();
    assert!(!origin.join("hooks/pre-receive").exists());
    assert_eq!(env.git_run(&origin, &["config", "receive.denyNonFastForwards"]).code, 1);
}

#[test]
fn server_hook_judges_the_branch_a_symbolic_ref_points_to() {
    let env = Env::new();
    let repo = env.repo("proj");
    let origin = env.origin(&repo, &["feat-x"]);
    env.git(&origin, &["symbolic-ref", "refs/heads/trunk", "refs/heads/main"]);
    env.git(&origin, &["symbolic-ref", "refs/heads/alias", "refs/heads/trunk"]);
    env.git(&origin, &["symbolic-ref", "refs/heads/work", "refs/heads/feat-x"]);
    env.okstra(&origin, &["hooks", "install", "--server"]).ok();
    env.commit_file(&repo, "a.txt", "a\n", "a");
    let before = remote_refs(&env, &origin);
    // Pushes to an alias of main move main: refused as pushes to main, even two steps away.
    for target in ["HEAD:trunk", "HEAD:refs/heads/alias", ":trunk"] {
        let r = env.git_run(&repo, &["-c", "core.hooksPath=/dev/null", "push", "origin", target]).fails(1);
        let rule = if target.starts_with(':') { "protected-delete" } else { "protected-update" };
        assert!(r.stderr.contains(&format!("[okstra:{rule}] refs/heads/")), "{target}: {}", r.stderr);
        assert!(r.stderr.contains("(a symbolic ref to refs/heads/main)"), "{target}: {}", r.stderr);
        assert_eq!(remote_refs(&env, &origin), before, "{target}");
    }
    // An alias of an unprotected branch is that branch: a fast-forward goes through.
    env.git(&repo, &["-c", "core.hooksPath=/dev/null", "push", "-q", "origin", "HEAD:work"]);
    assert_eq!(rev(&env, &origin, "feat-x"), rev(&env, &repo, "HEAD"));
}

#[test]
fn server_and_client_modes_are_not_mixed_up() {
    let env = Env::new();
    let repo = env.repo("proj");
    let origin = env.origin(&repo, &[]);
    let r = env.okstra(&origin, &["hooks", "install"]).fails(1);
    assert!(r.stderr.contains("bare repository") && r.stderr.contains("--server"), "{}", r.stderr);
    let r = env.okstra(&repo, &["hooks", "install", "--server"]).fails(1);
    assert!(r.stderr.contains("bare repository that receives pushes"), "{}", r.stderr);
    let r = env.okstra(&env.root(), &["hooks", "install"]).fails(1);
    assert!(r.stderr.starts_with("error: not a git repository (or any parent folder): "), "{}", r.stderr);
    assert!(!repo.join(".git/hooks/pre-push").exists());
}

// --- install, uninstall, status --------------------------------------------------------

#[test]
fn install_is_idempotent_and_status_reports_states() {
    let env = Env::new();
    let repo = env.repo("proj");
    let s = env.okstra(&repo, &["hooks", "status", "--json"]).ok().json();
    assert_eq!(s["complete"], false);
    assert!(s["hooks"].as_array().unwrap().iter().all(|h| h["state"] == "missing"));
    let first = env.okstra(&repo, &["hooks", "install", "--json"]).ok().json();
    assert!(first["hooks"].as_array().unwrap().iter().all(|h| h["action"] == "created"));
    let hook = repo.join(".git/hooks/pre-push");
    let text = std::fs::read_to_string(&hook).unwrap();
    assert!(text.contains(&format!("installed='{}'", std::fs::canonicalize(BIN).unwrap().display())));
    let again = env.okstra(&repo, &["hooks", "install", "--json"]).ok().json();
    assert!(again["hooks"].as_array().unwrap().iter().all(|h| h["action"] == "unchanged"));
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), text);
    let s = env.okstra(&repo, &["hooks", "status", "--json"]).ok().json();
    assert_eq!(s["schema"], 1);
    assert_eq!(s["complete"], true);
    // Stale: a shim that calls another binary; missing: deleted; foreign: replaced.
    common::write_exec(&hook, text.replace("installed='", "installed='/elsewhere"));
    std::fs::remove_file(repo.join(".git/hooks/pre-commit")).unwrap();
    common::write_exec(&repo.join(".git/hooks/pre-merge-commit"), "#!/bin/sh\nexit 0\n");
    let s = env.okstra(&repo, &["hooks", "status", "--json"]).ok().json();
    let state = |name: &str| {
        s["hooks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .map(|h| (h["state"].clone(), h["foreign"].clone()))
            .unwrap()
    };
    assert_eq!(state("pre-push").0, "stale");
    assert_eq!(state("pre-commit").0, "missing");
    assert_eq!(state("pre-merge-commit"), ("missing".into(), true.into()));
    assert_eq!(state("prepare-commit-msg").0, "installed");
    let r = env.okstra(&repo, &["hooks", "status"]).ok();
    assert!(r.stdout.contains("pre-push               stale"), "{}", r.stdout);
    // Install repairs all three (chaining the foreign one).
    let fixed = env.okstra(&repo, &["hooks", "install", "--json"]).ok().json();
    let actions: Vec<_> =
        fixed["hooks"].as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap().to_string()).collect();
    assert_eq!(actions, ["created", "chained", "unchanged", "updated"]);
    let s = env.okstra(&repo, &["hooks", "status", "--json"]).ok().json();
    assert_eq!(s["complete"], true);
    // Uninstall leaves no okstra file behind.
    env.okstra(&repo, &["hooks", "uninstall"]).ok();
    let left: Vec<_> = std::fs::read_dir(repo.join(".git/hooks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".sample"))
        .collect();
    assert_eq!(left, ["pre-merge-commit"]);
    assert_eq!(std::fs::read_to_string(repo.join(".git/hooks/pre-merge-commit")).unwrap(), "#!/bin/sh\nexit 0\n");
}

#[test]
fn foreign_hooks_are_chained_and_restored_byte_for_byte() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let repo = env.repo("proj");
    let origin = env.origin(&repo, &[]);
    let hooks = repo.join(".git/hooks");
    let log = env.root().join("foreign.log");
    // A bash pre-push (executed) that records its input and refuses pushes of `blocked`,
    // and a husky-style sh pre-commit (sourced) that needs its own name in $0.
    let pre_push = format!(
        "#!/usr/bin/env bash\n# hand-written\nwhile read -r l lo r ro; do echo \"push $1 $r\" >> '{}'; [[ $r == */blocked ]] && exit 7; done\nexit 0\n",
        log.display()
    );
    let pre_commit = format!("#!/bin/sh\necho \"commit $(basename \"$0\")\" >> '{}'\n", log.display());
    common::write_exec_mode(&hooks.join("pre-push"), &pre_push, 0o750);
    common::write_exec(&hooks.join("pre-commit"), &pre_commit);

    let r = env.okstra(&repo, &["hooks", "install"]).ok();
    assert!(r.stderr.contains("pre-push: installed; the hook that was there runs first"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(hooks.join("pre-push.okstra-chained")).unwrap(), pre_push);
    let s = env.okstra(&repo, &["hooks", "status", "--json"]).ok().json();
    assert_eq!(s["hooks"][3]["state"], "chained");

    env.git(&repo, &["switch", "-q", "-c", "feat-x"]);
    env.commit_file(&repo, "a.txt", "a\n", "a");
    env.git(&repo, &["push", "-q", "origin", "feat-x"]);
    // The foreign hook's own refusal (exit 7) stops git, though okstra would allow it.
    let r = env.git_run(&repo, &["push", "origin", "feat-x:blocked"]);
    assert_ne!(r.code, 0);
    assert_eq!(env.git_run(&origin, &["rev-parse", "--verify", "-q", "blocked"]).code, 1);
    // okstra still runs after a foreign hook that passes, with git's input intact.
    env.git_run(&repo, &["push", "origin", "feat-x:main"]).fails(1);
    let seen = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        seen,
        "commit pre-commit\npush origin refs/heads/feat-x\npush origin refs/heads/blocked\npush origin refs/heads/main\n"
    );

    env.okstra(&repo, &["hooks", "uninstall"]).ok();
    assert_eq!(std::fs::read_to_string(hooks.join("pre-push")).unwrap(), pre_push);
    assert_eq!(std::fs::metadata(hooks.join("pre-push")).unwrap().permissions().mode() & 0o777, 0o750);
    assert_eq!(std::fs::read_to_string(hooks.join("pre-commit")).unwrap(), pre_commit);
    assert!(!hooks.join("pre-push.okstra-chained").exists());
    assert!(!hooks.join("reference-transaction").exists());
}

/// A foreign hook a kill must never leave inactive: its name, bytes, mode and, for a symlink,
/// its target.
struct Foreign {
    name: &'static str,
    bytes: Vec<u8>,
    mode: u32,
    link: Option<PathBuf>,
}

/// Three foreign hooks, each logging its name to `log`: a husky-style sh pre-commit (sourced
/// by the shim), a bash pre-push (executed, mode 750) and a pre-merge-commit that is a symlink.
fn plant_foreign_hooks(env: &Env, repo: &Path, log: &Path) -> Vec<Foreign> {
    let hooks = repo.join(".git/hooks");
    let pre_commit = format!("#!/bin/sh\necho \"$(basename \"$0\")\" >> '{}'\n", log.display());
    let pre_push = format!("#!/usr/bin/env bash\ncat >/dev/null\necho pre-push >> '{}'\n", log.display());
    let target = env.root().join("merge-hook.sh");
    common::write_exec(&hooks.join("pre-commit"), &pre_commit);
    common::write_exec_mode(&hooks.join("pre-push"), &pre_push, 0o750);
    common::write_exec(&target, format!("#!/bin/sh\necho pre-merge-commit >> '{}'\n", log.display()));
    std::os::unix::fs::symlink(&target, hooks.join("pre-merge-commit")).unwrap();
    let merge = std::fs::read(&target).unwrap();
    vec![
        Foreign { name: "pre-commit", bytes: pre_commit.into_bytes(), mode: 0o755, link: None },
        Foreign { name: "pre-push", bytes: pre_push.into_bytes(), mode: 0o750, link: None },
        Foreign { name: "pre-merge-commit", bytes: merge, mode: 0o755, link: Some(target) },
    ]
}

/// Whether `path` is exactly the foreign hook: bytes, mode, and symlink target.
fn is_foreign(path: &Path, f: &Foreign) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let link = std::fs::read_link(path).ok();
    let mode = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777).ok();
    std::fs::read(path).ok().as_deref() == Some(&f.bytes[..]) && mode == Some(f.mode) && link == f.link
}

/// Whether git runs the foreign hook: in its place, or set aside and called by okstra's shim.
fn foreign_active(hooks: &Path, f: &Foreign) -> bool {
    let path = hooks.join(f.name);
    let shim = std::fs::read_to_string(&path).is_ok_and(|t| t.contains("# git-okstra hook shim (format"));
    is_foreign(&path, f) || (shim && is_foreign(&hooks.join(format!("{}.okstra-chained", f.name)), f))
}

/// After an install that ran to the end: every foreign hook chained; after an uninstall: every
/// one back in place byte for byte, and nothing of okstra's left.
fn assert_finished(hooks: &Path, foreign: &[Foreign], installed: bool) {
    for f in foreign {
        let chained = hooks.join(format!("{}.okstra-chained", f.name));
        if installed {
            assert!(is_foreign(&chained, f) && foreign_active(hooks, f), "{} is chained", f.name);
        } else {
            assert!(is_foreign(&hooks.join(f.name), f), "{} is back byte for byte", f.name);
            assert!(std::fs::symlink_metadata(&chained).is_err(), "{} has no second name left", f.name);
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(hooks)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".okstra-tmp") || (!installed && n.contains("okstra")))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn install_and_uninstall_killed_at_any_moment_never_leave_a_foreign_hook_inactive() {
    let env = Env::new();
    let repo = env.repo("proj");
    let hooks = repo.join(".git/hooks");
    let log = env.root().join("foreign.log");
    let foreign = plant_foreign_hooks(&env, &repo, &log);
    // The kill window: 1.5 times one unkilled install.
    let t0 = std::time::Instant::now();
    env.okstra(&repo, &["hooks", "install"]).ok();
    let window_us = (t0.elapsed().as_micros() as u64 * 3 / 2).max(2_000);
    env.okstra(&repo, &["hooks", "uninstall"]).ok();
    assert_finished(&hooks, &foreign, false);
    let mut seed: u64 = 0x6b11_1ed5_eed5 | 1;
    let mut next = |n: u64| {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    };
    let (mut kills, mut mid_chain, mut half_done, mut runs) = (0, 0, 0, 0);
    // OKSTRA_HOOK_KILLS raises the number of kills for a deeper run.
    let want: u32 = std::env::var("OKSTRA_HOOK_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(25);
    while kills < want && runs < want * 16 {
        runs += 1;
        let verb = if next(3) == 0 { "uninstall" } else { "install" };
        let mut child =
            env.command(BIN, &repo).args(["hooks", verb]).stderr(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_micros(next(window_us)));
        if child.try_wait().unwrap().is_none() {
            let _ = std::process::Command::new("kill").args(["-9", &child.id().to_string()]).status();
            kills += 1;
        }
        let killed = !child.wait().unwrap().success();
        let mut shims = 0;
        for f in &foreign {
            assert!(foreign_active(&hooks, f), "after run {runs} ({verb}) {} is not active", f.name);
            let aside = std::fs::symlink_metadata(hooks.join(format!("{}.okstra-chained", f.name))).is_ok();
            mid_chain += (killed && aside && is_foreign(&hooks.join(f.name), f)) as u32;
            shims += (!is_foreign(&hooks.join(f.name), f)) as u32;
        }
        half_done += (killed && shims > 0 && shims < foreign.len() as u32) as u32;
        // git itself runs the user's pre-commit at every moment.
        let before = std::fs::read_to_string(&log).unwrap_or_default().lines().count();
        env.git(&repo, &["commit", "-q", "--allow-empty", "-m", &format!("run {runs}")]);
        assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), before + 1, "run {runs}");
        // Now and then a rerun to the end, which finishes or undoes what was cut short.
        if next(4) == 0 {
            let installed = next(2) == 0;
            env.okstra(&repo, &["hooks", if installed { "install" } else { "uninstall" }]).ok();
            assert_finished(&hooks, &foreign, installed);
        }
    }
    assert!(kills >= want, "only {kills} kills landed in {runs} runs");
    eprintln!(
        "hooks install/uninstall: {runs} runs, {kills} killed mid-run, {half_done} of them between the first and \
         the last foreign hook, {mid_chain} right after a hook got its second name"
    );
    env.okstra(&repo, &["hooks", "install"]).ok();
    assert_finished(&hooks, &foreign, true);
    env.okstra(&repo, &["hooks", "uninstall"]).ok();
    assert_finished(&hooks, &foreign, false);
}

#[test]
fn install_that_fails_half_way_leaves_every_foreign_hook_active() {
    let env = Env::new();
    let repo = env.repo("proj");
    let hooks = repo.join(".git/hooks");
    let log = env.root().join("foreign.log");
    let foreign = plant_foreign_hooks(&env, &repo, &log);
    // The shim of pre-push cannot be written (its temp name is taken by a folder): install
    // fails after pre-commit was chained and while pre-push is being chained.
    std::fs::create_dir(hooks.join(".pre-push.okstra-tmp")).unwrap();
    let r = env.okstra(&repo, &["hooks", "install"]).fails(1);
    assert!(r.stderr.starts_with("error: cannot write"), "{}", r.stderr);
    assert!(foreign.iter().all(|f| foreign_active(&hooks, f)));
    let d = env.okstra(&repo, &["doctor", "--json"]).json();
    let uncalled: Vec<_> =
        d["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == "uncalled-chained-hook").collect();
    assert_eq!(uncalled.len(), 1, "{d:#}");
    assert!(uncalled[0]["subject"].as_str().unwrap().ends_with("pre-push.okstra-chained"));
    std::fs::remove_dir(hooks.join(".pre-push.okstra-tmp")).unwrap();
    env.okstra(&repo, &["hooks", "uninstall"]).ok();
    assert_finished(&hooks, &foreign, false);
    // A foreign hook moved aside by an earlier version that was killed before it wrote the
    // shim (the hook's place empty): uninstall puts it back, install chains it, doctor names it.
    std::fs::rename(hooks.join("pre-push"), hooks.join("pre-push.okstra-chained")).unwrap();
    let d = env.okstra(&repo, &["doctor", "--json"]).json();
    assert!(d["findings"].as_array().unwrap().iter().any(|f| f["kind"] == "uncalled-chained-hook"), "{d:#}");
    let s = env.okstra(&repo, &["hooks", "status"]).ok();
    assert!(s.stdout.contains("pre-push.okstra-chained is set aside and nothing calls it"), "{}", s.stdout);
    env.okstra(&repo, &["hooks", "uninstall"]).ok();
    assert_finished(&hooks, &foreign, false);
    std::fs::rename(hooks.join("pre-push"), hooks.join("pre-push.okstra-chained")).unwrap();
    env.okstra(&repo, &["hooks", "install"]).ok();
    assert_finished(&hooks, &foreign, true);
    // The second name taken by something else: a clear error, and the hook left in place.
    env.okstra(&repo, &["hooks", "uninstall"]).ok();
    std::fs::create_dir(hooks.join("pre-commit.okstra-chained")).unwrap();
    let r = env.okstra(&repo, &["hooks", "install"]).fails(1);
    assert!(r.stderr.contains("already holds another foreign hook"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: merge the two into one file or move one away"), "{}", r.stderr);
    assert!(is_foreign(&hooks.join("pre-commit"), &foreign[0]));
    std::fs::remove_dir(hooks.join("pre-commit.okstra-chained")).unwrap();
    env.okstra(&repo, &["hooks", "uninstall"]).ok();
    assert_finished(&hooks, &foreign, false);
}

#[test]
fn core_hooks_path_is_honoured() {
    let env = Env::new();
    let repo = env.repo("proj");
    // Absolute: installed there.
    let abs = env.root().join("shared-hooks");
    env.git(&repo, &["config", "core.hooksPath", abs.to_str().unwrap()]);
    let r = env.okstra(&repo, &["hooks", "install"]).ok();
    assert_eq!(PathBuf::from(r.stdout.trim()), abs);
    assert!(abs.join("pre-push").exists());
    assert!(!repo.join(".git/hooks/pre-push").exists());
    env.okstra(&repo, &["hooks", "uninstall"]).ok();
    assert!(!abs.join("pre-push").exists());

    // Relative: pinned to the main worktree's folder so linked worktrees run the hooks too.
    env.git(&repo, &["config", "core.hooksPath", ".githooks"]);
    let wt = env.root().join("wt");
    env.git(&repo, &["worktree", "add", "-q", "-b", "feat-w", wt.to_str().unwrap()]);
    let r = env.okstra(&wt, &["hooks", "install"]).ok();
    assert!(r.stderr.contains("core.hooksPath was relative (.githooks)"), "{}", r.stderr);
    let dir = repo.join(".githooks");
    assert_eq!(PathBuf::from(r.stdout.trim()), dir);
    assert_eq!(env.git(&repo, &["config", "core.hooksPath"]), dir.to_str().unwrap());
    env.git_run(&wt, &["commit", "--allow-empty", "-n", "-m", "skip"]).fails(1);
    env.okstra(&repo, &["hooks", "uninstall"]).ok();
    assert_eq!(env.git(&repo, &["config", "core.hooksPath"]), ".githooks");
    env.git(&wt, &["commit", "-q", "--allow-empty", "-n", "-m", "no hooks any more"]);
}

#[test]
fn a_hooks_folder_shared_by_repositories_is_named_and_kept_for_the_others() {
    let env = Env::new();
    let shared = env.root().join("company-hooks");
    let (a, b) = (env.repo("a"), env.repo("b"));
    for repo in [&a, &b] {
        env.git(repo, &["config", "core.hooksPath", shared.to_str().unwrap()]);
        env.okstra(repo, &["hooks", "install"]).ok();
    }
    let b_git = std::fs::canonicalize(b.join(".git")).unwrap();
    let s = env.okstra(&a, &["hooks", "status"]).ok();
    assert!(s.stdout.contains(&format!("shared hooks folder, also used by: {}", b_git.display())), "{}", s.stdout);
    let j = env.okstra(&a, &["hooks", "status", "--json"]).ok().json();
    assert_eq!(j["shared_with"], serde_json::json!([b_git]));
    // Uninstall from a refuses while b uses the folder, and changes nothing.
    let files = || {
        let mut v: Vec<_> = std::fs::read_dir(&shared).unwrap().map(|e| e.unwrap().file_name()).collect();
        v.sort();
        v
    };
    let before = files();
    let r = env.okstra(&a, &["hooks", "uninstall"]).fails(1);
    assert!(
        r.stderr
            .contains(&format!("error: the hooks folder {} is shared: 1 other repository uses it", shared.display())),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("hint: `git okstra hooks uninstall --shared` removes the hooks for all of them"),
        "{}",
        r.stderr
    );
    assert_eq!(files(), before);
    env.git_run(&b, &["commit", "--allow-empty", "-n", "-m", "x"]).fails(1);
    // Once b stops using it, a uninstalls alone; b's record is dropped with it.
    env.git(&b, &["config", "--unset", "core.hooksPath"]);
    env.okstra(&a, &["hooks", "uninstall"]).ok();
    assert!(!shared.join("pre-commit").exists());
    assert!(!shared.join(".okstra-repositories").exists());
    // Both again; `--shared` removes them for both, and says nothing is left for b.
    env.git(&b, &["config", "core.hooksPath", shared.to_str().unwrap()]);
    env.okstra(&a, &["hooks", "install"]).ok();
    env.okstra(&b, &["hooks", "install"]).ok();
    env.okstra(&a, &["hooks", "uninstall", "--shared"]).ok();
    assert!(!shared.join("pre-commit").exists());
    assert!(!shared.join(".okstra-repositories").exists());
    let s = env.okstra(&b, &["hooks", "status", "--json"]).ok().json();
    assert_eq!(s["complete"], false);
    // A repository that is gone no longer holds the folder.
    env.okstra(&a, &["hooks", "install"]).ok();
    env.okstra(&b, &["hooks", "install"]).ok();
    std::fs::remove_dir_all(&b).unwrap();
    env.okstra(&a, &["hooks", "uninstall"]).ok();
    assert!(!shared.join("pre-push").exists());
    // The repository's own hooks folder keeps no such record.
    let c = env.repo("c");
    env.okstra(&c, &["hooks", "install"]).ok();
    assert!(!c.join(".git/hooks/.okstra-repositories").exists());
}

#[test]
fn install_refuses_old_git() {
    let env = Env::new();
    let repo = env.repo("proj");
    let bin = env.root().join("oldgit");
    std::fs::create_dir_all(&bin).unwrap();
    let real =
        String::from_utf8(std::process::Command::new("sh").args(["-c", "command -v git"]).output().unwrap().stdout)
            .unwrap();
    let fake = format!(
        "#!/bin/sh\n[ \"$1\" = --version ] && {{ echo 'git version 2.28.0'; exit 0; }}\nexec '{}' \"$@\"\n",
        real.trim()
    );
    common::write_exec(&bin.join("git"), fake);
    let path = common::path_with(&bin);
    let r = env.okstra_env(&repo, &["hooks", "install"], &[("PATH", &path)]).fails(1);
    assert!(r.stderr.contains("error: git 2.28 is too old for the okstra hooks"), "{}", r.stderr);
    assert!(!repo.join(".git/hooks/pre-push").exists());
}

#[test]
fn shim_falls_back_to_path_then_explains() {
    let env = Env::new();
    let repo = env.repo("proj");
    env.origin(&repo, &[]);
    // Install with a copy of the binary, then remove the copy.
    let copy_dir = env.root().join("gone");
    std::fs::create_dir_all(&copy_dir).unwrap();
    let copy = copy_dir.join("git-okstra");
    common::copy_exec(Path::new(BIN), &copy);
    let r = env.command(&copy, &repo).args(["hooks", "install"]).output().unwrap();
    assert!(r.status.success());
    std::fs::remove_dir_all(&copy_dir).unwrap();
    // git-okstra on PATH: used.
    let on_path = env.root().join("bin");
    std::fs::create_dir_all(&on_path).unwrap();
    std::os::unix::fs::symlink(BIN, on_path.join("git-okstra")).unwrap();
    let path = common::path_with(&on_path);
    let out = env
        .command("git", &repo)
        .env("PATH", &path)
        .args(["commit", "--allow-empty", "-n", "-m", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the PATH binary refused the -n commit");
    assert!(String::from_utf8_lossy(&out.stderr).contains("[okstra:no-verify]"));
    // Neither: a clear message, and the commit is stopped.
    let r = env.git_run(&repo, &["commit", "--allow-empty", "-m", "x"]).fails(1);
    assert!(r.stderr.contains("the okstra pre-commit hook cannot find git-okstra"), "{}", r.stderr);
    assert!(r.stderr.contains("is gone and git-okstra is not on PATH"), "{}", r.stderr);
    // A push too: refused at once, with the same message. (This is why every hook file is an
    // `sh` script: one whose `#!` line named the binary would save the shell's start on each
    // push, but when that binary is gone git 2.47 never returns from the push: it waits for
    // the remote's receive-pack, which waits for it.)
    let mut child = env
        .command("git", &repo)
        .args(["push", "origin", "HEAD:refs/heads/x"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("git push did not return within 60 s with the binary gone");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the okstra pre-push hook cannot find git-okstra"), "{stderr}");
    assert!(
        env.git_run(&repo, &["ls-remote", "--exit-code", "origin", "refs/heads/x"]).code != 0,
        "nothing was pushed"
    );
}

// --- the allowed commit starts no binary ------------------------------------------------

/// A repository with the hooks installed from a copy of the binary that was then replaced by
/// a wrapper recording each start (`hook <name> …`, one line each) before running the copy.
fn recorded_setup() -> (Env, PathBuf, PathBuf, PathBuf) {
    let env = Env::new();
    let repo = env.repo("proj");
    let dir = env.root().join("okstra-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let installed = dir.join("git-okstra");
    common::copy_exec(Path::new(BIN), &installed);
    let out = env.command(&installed, &repo).args(["hooks", "install"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let real = dir.join("real");
    std::fs::rename(&installed, &real).unwrap();
    let log = env.root().join("starts.log");
    let wrapper = format!("#!/bin/sh\necho \"$*\" >>'{}'\nexec '{}' \"$@\"\n", log.display(), real.display());
    common::write_exec(&installed, wrapper);
    (env, repo, installed, log)
}

/// The binary starts recorded since the last call (the log is emptied).
fn starts(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    std::fs::write(log, "").unwrap();
    text.lines().map(str::to_string).collect()
}

/// The commit stamps not consumed yet (the sh shim consumes one by appending `x`).
fn commit_stamps(repo: &Path) -> Vec<String> {
    let dir = repo.join(".git/okstra/stamps");
    let Ok(entries) = std::fs::read_dir(&dir) else { return vec![] };
    let mut names: Vec<_> = entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.retain(|n| n.starts_with("commit-") && !std::fs::read_to_string(dir.join(n)).unwrap().ends_with('x'));
    names
}

#[test]
fn allowed_commits_and_merges_start_no_binary() {
    let (env, repo, _installed, log) = recorded_setup();
    // The first commit creates the stamps folder through the binary; prepare-commit-msg
    // consumes the binary's stamp in sh.
    env.commit_file(&repo, "a.txt", "a\n", "first");
    assert_eq!(starts(&log), ["hook pre-commit"]);
    assert!(commit_stamps(&repo).is_empty());
    // From then on an allowed commit, amend or merge starts git-okstra not once.
    env.commit_file(&repo, "b.txt", "b\n", "second");
    env.git(&repo, &["commit", "-q", "--allow-empty", "-m", "empty"]);
    env.git(&repo, &["commit", "-q", "--amend", "--allow-empty", "-m", "amended"]);
    env.git(&repo, &["switch", "-q", "-c", "side", "HEAD~1"]);
    env.commit_file(&repo, "s.txt", "s\n", "side");
    env.git(&repo, &["switch", "-q", "main"]);
    env.git(&repo, &["merge", "-q", "--no-edit", "side"]);
    assert_eq!(rev(&env, &repo, "HEAD^2"), rev(&env, &repo, "side"));
    assert_eq!(starts(&log), Vec::<String>::new());
    assert!(commit_stamps(&repo).is_empty(), "every stamp was consumed");
    // A commit that stops after pre-commit (nothing to commit) leaves its stamp for a sweep.
    env.git_run(&repo, &["commit", "-q", "-m", "nothing"]).fails(1);
    assert_eq!(commit_stamps(&repo).len(), 1);
    assert_eq!(starts(&log), Vec::<String>::new());
    // What needs deciding still goes to the binary, and is refused as before.
    env.git_run(&repo, &["commit", "--allow-empty", "-n", "-m", "skip"]).fails(1);
    let seen = starts(&log);
    assert_eq!(seen.len(), 1);
    assert!(seen[0].starts_with("hook prepare-commit-msg "), "{seen:?}");
    assert_eq!(audit(&repo).len(), 1);
}

#[test]
fn shell_and_binary_read_each_others_commit_stamps() {
    let (env, repo, installed, log) = recorded_setup();
    env.commit_file(&repo, "a.txt", "a\n", "first");
    starts(&log);
    let hooks = repo.join(".git/hooks");
    let shim = |name: &str| std::fs::read_to_string(hooks.join(name)).unwrap();
    let (pre_commit, prepare) = (shim("pre-commit"), shim("prepare-commit-msg"));
    let direct = |name: &str| format!("#!/bin/sh\nexec '{}' hook {name} \"$@\"\n", installed.display());
    // Written in sh, read by the binary: the commit passes and the stamp is consumed; the
    // stamp held git's start time, nothing else.
    let seen = env.root().join("stamp-seen");
    common::write_exec(
        &hooks.join("prepare-commit-msg"),
        format!("#!/bin/sh\ncat .git/okstra/stamps/commit-$PPID >'{}'\n", seen.display())
            + &direct("prepare-commit-msg")[10..],
    );
    env.commit_file(&repo, "b.txt", "b\n", "sh stamp");
    let seen = std::fs::read_to_string(&seen).unwrap();
    assert!(!seen.is_empty() && seen.bytes().all(|b| b.is_ascii_digit()), "{seen:?}");
    let calls = starts(&log);
    assert_eq!(calls.len(), 1);
    assert!(calls[0].starts_with("hook prepare-commit-msg "), "{calls:?}");
    assert!(commit_stamps(&repo).is_empty());
    // …and the binary there still refuses a commit without the stamp.
    env.git_run(&repo, &["commit", "--allow-empty", "-n", "-m", "skip"]).fails(1);
    starts(&log);
    // Written by the binary, read in sh.
    common::write_exec(&hooks.join("prepare-commit-msg"), &prepare);
    common::write_exec(&hooks.join("pre-commit"), direct("pre-commit"));
    env.commit_file(&repo, "c.txt", "c\n", "binary stamp");
    assert_eq!(starts(&log), ["hook pre-commit"]);
    assert!(commit_stamps(&repo).is_empty());
    // A stamp whose content is not git's start time is not taken by sh: the binary decides.
    common::write_exec(
        &hooks.join("pre-commit"),
        pre_commit.replace("printf %s \"$okstra_start\"", "printf '%s\\n' \"$okstra_start\""),
    );
    let r = env.git_run(&repo, &["commit", "--allow-empty", "-m", "odd stamp"]).fails(1);
    assert!(r.stderr.contains("[okstra:no-verify] git commit"), "{}", r.stderr);
    assert!(starts(&log)[0].starts_with("hook prepare-commit-msg "));
    assert!(commit_stamps(&repo).is_empty(), "the binary removed the invalid stamp");
}

#[test]
fn stamps_of_exited_processes_are_swept() {
    let (env, repo, _installed, log) = recorded_setup();
    env.commit_file(&repo, "a.txt", "a\n", "first");
    starts(&log);
    // Pids above the kernel's limit belong to no process.
    let max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap().trim().parse().unwrap();
    let stamps = repo.join(".git/okstra/stamps");
    // With the first commit's consumed stamp, 16 commit stamps of exited processes.
    for i in 1..=15 {
        std::fs::write(stamps.join(format!("commit-{}", max + i)), "1").unwrap();
    }
    std::fs::write(stamps.join(format!("push-{}", max + 1)), "1").unwrap();
    // Up to 16 leftovers the shell goes on alone (and leaves its consumed stamp); past that
    // the binary sweeps once.
    env.git(&repo, &["commit", "-q", "--allow-empty", "-m", "16 left"]);
    assert_eq!(starts(&log), Vec::<String>::new());
    env.git(&repo, &["commit", "-q", "--allow-empty", "-m", "17 left"]);
    assert_eq!(starts(&log), ["hook pre-commit"]);
    let left: Vec<_> = std::fs::read_dir(&stamps).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(left.len(), 1, "all swept but this commit's own stamp: {left:?}");
    assert!(std::fs::read_to_string(&left[0]).unwrap().ends_with('x'), "consumed");
    // Commits go on in sh, and the folder never grows past 17.
    for i in 0..20 {
        env.git(&repo, &["commit", "-q", "--allow-empty", "-m", &format!("c{i}")]);
        assert!(std::fs::read_dir(&stamps).unwrap().count() <= 17);
    }
    assert_eq!(starts(&log), ["hook pre-commit"], "one sweep in 17 commits");
}

#[test]
fn shims_of_the_previous_format_are_stale() {
    let (env, repo, _origin) = setup();
    let hook = repo.join(".git/hooks/pre-commit");
    let binary = std::fs::canonicalize(BIN).unwrap();
    // What install wrote before the commit stamp moved into sh (format 1).
    let old = format!(
        "#!/bin/sh\n# git-okstra hook shim (format 1) for pre-commit: `git okstra hooks uninstall` removes it.\n# The policy is in the binary; this file only finds it. Edit nothing here: reinstall instead.\ninstalled='{}'\nokstra=$installed\n[ -x \"$okstra\" ] || okstra=$(command -v git-okstra) || {{\n\texit 1\n}}\nexec \"$okstra\" hook pre-commit \"$@\"\n",
        binary.display()
    );
    common::write_exec(&hook, old);
    let s = env.okstra(&repo, &["hooks", "status", "--json"]).ok().json();
    assert_eq!(s["hooks"][0]["state"], "stale");
    assert_eq!(s["complete"], false);
    // It still works: the binary writes the stamp, the new prepare-commit-msg reads it.
    env.commit_file(&repo, "z.txt", "z\n", "old pre-commit");
    let r = env.okstra(&repo, &["hooks", "install", "--json"]).ok().json();
    assert_eq!(r["hooks"][0]["action"], "updated");
    assert!(std::fs::read_to_string(&hook).unwrap().contains("(format 5)"));
}

// --- the sequencer's commits: judged from the processes, not GIT_REFLOG_ACTION ------------

/// Run git with extra environment variables.
fn git_env(env: &Env, dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> common::Run {
    let mut cmd = env.command("git", dir);
    cmd.args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A tool's own `GIT_REFLOG_ACTION`, as git's t3406 sets it: never proof of anything.
const CUSTOM: (&str, &str) = ("GIT_REFLOG_ACTION", "my-tool");

/// `prepare-commit-msg` calls of the binary among the recorded starts.
fn judged(log: &Path) -> usize {
    starts(log).iter().filter(|s| s.starts_with("hook prepare-commit-msg")).count()
}

#[test]
fn sequencer_commits_pass_in_the_shim_under_any_reflog_action() {
    let (env, repo, _installed, log) = recorded_setup();
    // The push that makes origin is not what this test is about.
    env.git(&repo, &["config", "okstra.protectedBranch", "none"]);
    let origin = env.origin(&repo, &[]);
    env.git(&repo, &["switch", "-q", "-c", "feat", "main"]);
    env.commit_file(&repo, "a.txt", "a\n", "a");
    env.commit_file(&repo, "b.txt", "b\n", "b");
    // Upstream moves on.
    let other = env.root().join("other");
    env.git(&env.root(), &["clone", "-q", origin.to_str().unwrap(), other.to_str().unwrap()]);
    env.commit_file(&other, "u.txt", "u\n", "upstream");
    env.git(&other, &["push", "-q", "origin", "main"]);
    starts(&log);
    // pull --rebase=interactive with a squash: the rebase (a child of pull) starts
    // `git commit -n --amend --no-gpg-sign -F …SQUASH_MSG -e`.
    let squash = [("GIT_SEQUENCE_EDITOR", "sed -i 2s/^pick/squash/"), ("GIT_EDITOR", "true"), CUSTOM];
    git_env(&env, &repo, &["pull", "-q", "--rebase=interactive", "origin", "main"], &squash).ok();
    assert_eq!(env.git(&repo, &["rev-list", "--count", "origin/main..HEAD"]), "1", "squashed");
    // cherry-pick -e: `git commit -n --no-gpg-sign -e` with the cherry-pick as its parent.
    env.git(&repo, &["switch", "-q", "-c", "side", "origin/main"]);
    git_env(&env, &repo, &["cherry-pick", "-e", "feat"], &[("GIT_EDITOR", "true"), CUSTOM]).ok();
    // Plain cherry-pick, revert and rebase commit in their own process.
    env.git(&repo, &["switch", "-q", "-c", "pick", "main"]);
    git_env(&env, &repo, &["cherry-pick", "feat"], &[CUSTOM]).ok();
    git_env(&env, &repo, &["revert", "--no-edit", "HEAD"], &[CUSTOM]).ok();
    git_env(&env, &repo, &["rebase", "-q", "origin/main"], &[CUSTOM]).ok();
    // A rebase stopped by a conflict, resolved and continued under the tool's own reflog
    // action (git's t3406 test 17): the resolution is committed by a child `git commit -n`.
    env.git(&repo, &["switch", "-q", "-c", "k1", "main"]);
    env.commit_file(&repo, "k.txt", "one\n", "k1");
    env.git(&repo, &["switch", "-q", "-c", "k2", "main"]);
    env.commit_file(&repo, "k.txt", "two\n", "k2");
    git_env(&env, &repo, &["rebase", "-q", "k1"], &[CUSTOM]).fails(1);
    std::fs::write(repo.join("k.txt"), "resolved\n").unwrap();
    env.git(&repo, &["add", "k.txt"]);
    git_env(&env, &repo, &["rebase", "--continue"], &[("GIT_EDITOR", "true"), CUSTOM]).ok();
    assert_eq!(std::fs::read_to_string(repo.join("k.txt")).unwrap(), "resolved\n");
    // A squash in a linked worktree (hooks get GIT_DIR there).
    let wt = env.root().join("wt");
    env.git(&repo, &["worktree", "add", "-q", "-b", "wt-feat", wt.to_str().unwrap(), "feat"]);
    env.commit_file(&wt, "w.txt", "w\n", "w");
    git_env(&env, &wt, &["rebase", "-q", "-i", "HEAD~2"], &squash).ok();
    // git am commits without prepare-commit-msg at all.
    let patch = env.git(&repo, &["format-patch", "-1", "--stdout", "feat"]);
    env.git(&repo, &["switch", "-q", "-c", "am", "main"]);
    let mut am = env.command("git", &repo);
    am.args(["am", "-q"]).stdin(std::process::Stdio::piped());
    let mut child = am.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(patch.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    // Not one of these started the binary to decide.
    assert_eq!(judged(&log), 0);
    assert!(audit(&repo).is_empty(), "{:?}", audit(&repo));
    // revert --edit leaves no sequencer state the shim could check: the binary decides, and
    // lets it through from the processes.
    git_env(&env, &repo, &["revert", "--edit", "HEAD"], &[("GIT_EDITOR", "true"), CUSTOM]).ok();
    assert_eq!(judged(&log), 1);
    assert!(audit(&repo).is_empty(), "{:?}", audit(&repo));
}

#[test]
fn commits_dressed_up_as_the_sequencer_are_refused() {
    let (env, repo, _installed, log) = recorded_setup();
    env.commit_file(&repo, "a.txt", "a\n", "first");
    starts(&log);
    let head = rev(&env, &repo, "HEAD");
    let n = ["commit", "-q", "--allow-empty", "-n", "--no-gpg-sign", "-m", "skip"];
    // The environment variable alone, as the sequencer would set it.
    for action in ["rebase", "rebase -i (pick)", "cherry-pick", "revert"] {
        let r = git_env(&env, &repo, &n, &[("GIT_REFLOG_ACTION", action)]).fails(1);
        assert!(r.stderr.contains("[okstra:no-verify] git commit"), "{action}: {}", r.stderr);
    }
    // A forged argv[0]: git runs the command after its options whatever argv[0] says.
    let r = env.command("bash", &repo).args(["-c", "exec -a gitrebase git commit -q --allow-empty -n -m x"]).output();
    assert_eq!(r.unwrap().status.code(), Some(1));
    // An alias named like a sequencer, run from a shell: its parent is not a sequencer.
    env.git(&repo, &["config", "alias.rebasex", "commit -q --allow-empty -n --no-gpg-sign -m x"]);
    env.git_run(&repo, &["rebasex"]).fails(1);
    // `git commit -n` run from a rebase's exec line has a shell, not the rebase, as parent.
    env.commit_file(&repo, "b.txt", "b\n", "second");
    let r = env.git_run(&repo, &["rebase", "-q", "-x", "git commit -q --amend -n --no-edit", "HEAD~1"]);
    assert_ne!(r.code, 0, "{}", r.stderr);
    env.git(&repo, &["rebase", "--abort"]);
    assert_eq!(rev(&env, &repo, "HEAD~1"), head, "nothing was committed");
    assert_eq!(audit(&repo).len(), 7);
    assert_eq!(judged(&log), 7, "each was judged by the binary");
}

/// `pre-push`'s fast-forward check against `git merge-base --is-ancestor` on a history with
/// merges made within one second, where commit times settle nothing: each update of a feature
/// branch from one commit of it to another is allowed exactly when git calls it a fast-forward,
/// far ones too (past the search along the first parents).
#[test]
fn fast_forwards_are_judged_as_git_judges_them_on_a_history_of_one_second() {
    let env = Env::new();
    let repo = env.repo("proj");
    let mut rng = common::Rng(0x9E37_79B9_7F4A_7C15);
    let commits = env.one_second_history(&repo, 200, 2, 0, &mut rng);
    let (mut forced, mut far) = (0, 0);
    for case in 0..60 {
        // Every other case an ancestor of the new tip (at any depth), otherwise any commit.
        let new = &commits[commits.len() - 1 - rng.below(commits.len() / 2)];
        let ancestors: Vec<String> = env.git(&repo, &["rev-list", new]).lines().map(str::to_string).collect();
        let depth = rng.below(ancestors.len());
        let old = if case % 2 == 0 { &ancestors[depth] } else { &commits[rng.below(commits.len())] };
        let fast_forward = env.git_run(&repo, &["merge-base", "--is-ancestor", old, new]).code == 0;
        let mut child = env
            .command(common::BIN, &repo)
            .args(["hook", "pre-push", "origin", "/srv/git/proj.git"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let line = format!("refs/heads/feat-q {new} refs/heads/feat-q {old}\n");
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), line.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.success(), fast_forward, "{old} -> {new}: {stderr}");
        if !fast_forward {
            assert!(stderr.contains("[okstra:non-fast-forward"), "{stderr}");
            forced += 1;
        } else if case % 2 == 0 && depth > 64 {
            far += 1;
        }
    }
    assert!(forced >= 5 && far >= 5, "the sample holds both kinds: {forced} forced, {far} far fast-forwards");
}
