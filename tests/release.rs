//! `task release --remove`: what it refuses to lose (ignored files, commits only the worktree's
//! own refs or reflog reach), what it never touches (tracked content named like a sync dir),
//! and what it checks before changing anything (a locked worktree). Real repositories, the
//! real git and the real binary.
mod common;
use std::path::{Path, PathBuf};

use common::Env;

fn start(env: &Env, repo: &Path, id: &str) -> PathBuf {
    let v = env.okstra(repo, &["task", "start", id, "--json"]).ok().json();
    PathBuf::from(v["path"].as_str().unwrap())
}

fn status_of(env: &Env, key: &str) -> String {
    env.registry()["tasks"][key]["status"].as_str().unwrap().to_string()
}

fn branch_exists(env: &Env, repo: &Path, branch: &str) -> bool {
    env.git_run(repo, &["rev-parse", "--verify", "-q", &format!("refs/heads/{branch}")]).code == 0
}

/// A repository that ignores `.env`, `build/` and `*.log`, with a sync dir to link.
fn ignoring_repo(env: &Env) -> PathBuf {
    let repo = env.repo("proj");
    env.commit_file(&repo, ".gitignore", ".env\nbuild/\n*.log\n", "ignore rules");
    std::fs::create_dir_all(repo.join(".project-docs")).unwrap();
    repo
}

#[test]
fn ignored_files_are_refused_listed_and_removed_only_with_force() {
    let env = Env::new();
    let repo = ignoring_repo(&env);
    let wt = start(&env, &repo, "DEV-2");
    std::fs::write(wt.join(".env"), "S\n").unwrap();
    let r = env.okstra(&repo, &["task", "release", "DEV-2", "--remove"]).fails(1);
    assert!(r.stderr.contains("holds 1 ignored path(s) that removing it would delete: .env"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:") && r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(wt.join(".env")).unwrap(), "S\n");
    assert_eq!(status_of(&env, "proj/default/dev-2"), "active");
    assert!(branch_exists(&env, &repo, "feat-dev-2"));
    // a nested repository inside an ignored folder, and more paths than the message lists
    let nested = wt.join("build/cache/dep");
    std::fs::create_dir_all(&nested).unwrap();
    env.git(&nested, &["init", "-q"]);
    env.commit_file(&nested, "x", "x", "nested work");
    for i in 0..6 {
        std::fs::write(wt.join(format!("run{i}.log")), "log").unwrap();
    }
    let r = env.okstra(&repo, &["task", "release", "DEV-2", "--remove"]).fails(1);
    assert!(r.stderr.contains("holds 8 ignored path(s)"), "{}", r.stderr);
    assert!(r.stderr.contains("build/") && r.stderr.contains("and 3 more"), "{}", r.stderr);
    assert!(nested.join(".git").exists());
    // the sync link okstra made is its own: never counted
    assert!(std::fs::read_link(wt.join(".project-docs")).is_ok());
    assert!(!r.stderr.contains(".project-docs"), "{}", r.stderr);
    // ignored files are named last: once they are all that is left, --force loses nothing else
    env.commit_file(&wt, "w.txt", "w", "unpushed work");
    let r = env.okstra(&repo, &["task", "release", "DEV-2", "--remove"]).fails(1);
    assert!(r.stderr.contains("1 commit(s) that are on no remote branch"), "{}", r.stderr);
    env.origin(&repo, &[]);
    env.git(&wt, &["push", "-q", "origin", "feat-dev-2"]);
    let r = env.okstra(&repo, &["task", "release", "DEV-2", "--remove"]).fails(1);
    assert!(r.stderr.contains("holds 8 ignored path(s)"), "{}", r.stderr);
    let r = env.okstra(&repo, &["task", "release", "DEV-2", "--remove", "--force", "--json"]).ok().json();
    assert_eq!(r["removed_worktree"], true);
    assert!(!wt.exists());
    assert!(repo.join(".project-docs").is_dir(), "the link's target is untouched");
}

#[test]
fn what_okstra_wrote_itself_never_blocks_a_removal() {
    let env = Env::new();
    let repo = ignoring_repo(&env);
    env.git(&repo, &["config", "okstra.agentGuard", "claude"]);
    let wt = start(&env, &repo, "DEV-3");
    assert!(wt.join(".claude/settings.local.json").is_file());
    assert!(std::fs::read_link(wt.join(".project-docs")).is_ok());
    let r = env.okstra(&repo, &["task", "release", "DEV-3", "--remove", "--json"]).ok().json();
    assert_eq!(r["removed_worktree"], true);
    assert_eq!(r["deleted_branch"], true);
}

#[test]
fn commits_only_the_worktree_reaches_count_as_lost() {
    let env = Env::new();
    let repo = env.repo("proj");
    let wt = start(&env, &repo, "DEV-4");
    let needle = "only its own refs (refs/worktree/*, refs/bisect/*) or its HEAD reflog reach";

    // a reset leaves a commit in the worktree's HEAD reflog alone
    env.commit_file(&wt, "c.txt", "c", "work to be reset away");
    let lost = env.git(&wt, &["rev-parse", "HEAD"]);
    env.git(&wt, &["reset", "-q", "--hard", "HEAD~1"]);
    let r = env.okstra(&repo, &["task", "release", "DEV-4", "--remove"]).fails(1);
    assert!(r.stderr.contains(&format!("has 1 commit(s) that {needle}")), "{}", r.stderr);
    assert!(r.stderr.contains(&lost[..12]), "names the newest: {}", r.stderr);
    assert!(wt.exists() && branch_exists(&env, &repo, "feat-dev-4"));
    env.git(&wt, &["reflog", "expire", "--expire=now", "--all"]);

    // a ref under refs/worktree/
    env.git(&wt, &["update-ref", "refs/worktree/keep", &lost]);
    let r = env.okstra(&repo, &["task", "release", "DEV-4", "--remove"]).fails(1);
    assert!(r.stderr.contains(needle), "{}", r.stderr);
    env.git(&wt, &["update-ref", "-d", "refs/worktree/keep"]);

    // a bisect in progress
    env.git(&wt, &["update-ref", "refs/bisect/bad", &lost]);
    let r = env.okstra(&repo, &["task", "release", "DEV-4", "--remove"]).fails(1);
    assert!(r.stderr.contains(needle), "{}", r.stderr);
    env.git(&wt, &["update-ref", "-d", "refs/bisect/bad"]);

    // an amend that changes what a commit does leaves the old change in the reflog alone
    env.commit_file(&wt, "d.txt", "first", "work");
    env.origin(&repo, &[]);
    std::fs::write(wt.join("d.txt"), "second").unwrap();
    env.git(&wt, &["commit", "-q", "-a", "--amend", "--no-edit"]);
    env.git(&wt, &["push", "-q", "origin", "feat-dev-4"]);
    let r = env.okstra(&repo, &["task", "release", "DEV-4", "--remove"]).fails(1);
    assert!(r.stderr.contains(needle), "{}", r.stderr);
    assert_eq!(status_of(&env, "proj/default/dev-4"), "active");
    env.okstra(&repo, &["task", "release", "DEV-4", "--remove", "--force"]).ok();
    assert!(!wt.exists());
}

#[test]
fn a_rebased_and_pushed_branch_is_removed_without_force() {
    // The commits from before the rebase stay in the reflog, but their changes live on in the
    // pushed branch: nothing is lost, nothing may be refused.
    let env = Env::new();
    let repo = env.repo("proj");
    env.origin(&repo, &[]);
    let wt = start(&env, &repo, "DEV-5");
    env.commit_file(&wt, "a.txt", "a", "A");
    env.commit_file(&wt, "b.txt", "b", "B");
    env.commit_file(&repo, "m.txt", "m", "main moves on");
    env.git(&wt, &["rebase", "-q", "main"]);
    // an amend of the message alone keeps the change too
    env.git(&wt, &["commit", "-q", "--amend", "-m", "B, reworded"]);
    env.git(&wt, &["push", "-q", "origin", "feat-dev-5"]);
    let r = env.okstra(&repo, &["task", "release", "DEV-5", "--remove", "--json"]).ok().json();
    assert_eq!(r["removed_worktree"], true);
    assert_eq!(r["deleted_branch"], true);
}

#[test]
fn a_tracked_symlink_named_like_a_sync_dir_is_never_touched() {
    let env = Env::new();
    let repo = env.repo("proj");
    std::fs::create_dir_all(repo.join("tools")).unwrap();
    std::fs::write(repo.join("tools/run.sh"), "echo hi\n").unwrap();
    std::os::unix::fs::symlink("tools", repo.join(".scratch")).unwrap();
    env.git(&repo, &["add", "tools", ".scratch"]);
    env.git(&repo, &["commit", "-q", "-m", "tools, and .scratch pointing at them"]);
    let wt = start(&env, &repo, "DEV-6");
    assert_eq!(std::fs::read_link(wt.join(".scratch")).unwrap(), Path::new("tools"));
    let (code, v) = doctor(&env, &repo, true);
    assert!(!kinds(&v).contains(&"broken-sync-link".to_string()), "{v}");
    assert_eq!(code, 0, "{v}");
    assert_eq!(std::fs::read_link(wt.join(".scratch")).unwrap(), Path::new("tools"));
    assert_eq!(env.git(&wt, &["status", "--porcelain"]), "");
    let r = env.okstra(&repo, &["task", "release", "DEV-6", "--remove", "--json"]).ok().json();
    assert_eq!(r["removed_worktree"], true);
    assert!(!wt.exists());
    assert_eq!(std::fs::read_link(repo.join(".scratch")).unwrap(), Path::new("tools"));
}

fn doctor(env: &Env, cwd: &Path, repair: bool) -> (i32, serde_json::Value) {
    let mut args = vec!["doctor", "--json"];
    if repair {
        args.push("--repair");
    }
    let r = env.okstra(cwd, &args);
    (r.code, r.json())
}

fn kinds(v: &serde_json::Value) -> Vec<String> {
    v["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_locked_worktree_is_refused_before_anything_changes() {
    let env = Env::new();
    let repo = env.repo("proj");
    std::fs::create_dir_all(repo.join(".project-docs")).unwrap();
    let wt = start(&env, &repo, "DEV-7");
    env.git(&repo, &["worktree", "lock", "--reason", "on a USB disk", wt.to_str().unwrap()]);
    let before = std::fs::read(env.registry_path()).unwrap();
    for args in [&["task", "release", "DEV-7", "--remove", "--force"][..], &["task", "release", "DEV-7", "--remove"]] {
        let r = env.okstra(&repo, args).fails(1);
        assert!(r.stderr.contains("is locked (on a USB disk); nothing was changed"), "{}", r.stderr);
        assert!(r.stderr.contains("git worktree unlock"), "{}", r.stderr);
        assert_eq!(std::fs::read_link(wt.join(".project-docs")).unwrap(), repo.join(".project-docs"));
        assert!(branch_exists(&env, &repo, "feat-dev-7"));
        assert_eq!(std::fs::read(env.registry_path()).unwrap(), before, "registry unchanged");
    }
    env.git(&repo, &["worktree", "unlock", wt.to_str().unwrap()]);
    env.okstra(&repo, &["task", "release", "DEV-7", "--remove", "--force"]).ok();
    assert!(!wt.exists());
}
