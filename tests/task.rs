//! `task start|list|show|release` against real git repositories.
mod common;
use std::path::{Path, PathBuf};

use common::Env;

fn path_of(v: &serde_json::Value) -> PathBuf {
    PathBuf::from(v["path"].as_str().unwrap())
}

#[test]
fn start_creates_then_reuses_with_clean_status_and_sync_links() {
    let env = Env::new();
    let repo = env.repo("proj");
    std::fs::create_dir_all(repo.join(".project-docs/notes")).unwrap();
    std::fs::create_dir_all(repo.join(".scratch")).unwrap();
    let first = env.okstra(&repo, &["task", "start", "DEV-1", "--title", "First task", "--json"]).ok().json();
    assert_eq!(first["status"], "created");
    assert_eq!(first["key"], "proj/default/dev-1");
    assert_eq!(first["branch"], "feat-dev-1");
    assert_eq!(first["base_ref"], env.git(&repo, &["rev-parse", "HEAD"]));
    assert_eq!(first["repo"], repo.to_str().unwrap());
    assert_eq!(first["schema"], 1);
    let wt = path_of(&first);
    assert_eq!(wt, env.okstra_home.join("worktrees/proj/default/dev-1"));
    assert_eq!(env.git(&wt, &["rev-parse", "--abbrev-ref", "HEAD"]), "feat-dev-1");
    // sync dirs are absolute symlinks into the main worktree, excluded from git
    let link = std::fs::read_link(wt.join(".project-docs")).unwrap();
    assert_eq!(link, repo.join(".project-docs"));
    assert!(std::fs::read_link(wt.join(".scratch")).is_ok());
    assert!(std::fs::symlink_metadata(wt.join("graphify-out")).is_err(), "absent source is skipped");
    assert_eq!(env.git(&wt, &["status", "--porcelain"]), "");
    let exclude = std::fs::read_to_string(repo.join(".git/info/exclude")).unwrap();
    assert_eq!(exclude.matches("/.project-docs\n").count(), 1);

    // stdout is the path alone without --json
    let again = env.okstra(&repo, &["task", "start", "DEV-1"]).ok();
    assert_eq!(again.stdout.trim(), wt.to_str().unwrap());
    assert!(again.stderr.contains("reused"), "{}", again.stderr);
    // from a subfolder and from inside the task worktree it is the same task
    std::fs::create_dir_all(repo.join("sub/dir")).unwrap();
    let from_sub = env.okstra(&repo.join("sub/dir"), &["task", "start", "DEV-1", "--json"]).ok().json();
    assert_eq!(from_sub["status"], "reused");
    let from_wt = env.okstra(&wt, &["task", "start", "DEV-1", "--json"]).ok().json();
    assert_eq!(from_wt["status"], "reused");
    assert_eq!(from_wt["path"], first["path"]);
    // excludes are not duplicated by later starts
    env.okstra(&repo, &["task", "start", "DEV-2"]).ok();
    let exclude = std::fs::read_to_string(repo.join(".git/info/exclude")).unwrap();
    assert_eq!(exclude.matches("/.project-docs\n").count(), 1);

    let reg = env.registry();
    assert_eq!(reg["version"], 1);
    let row = &reg["tasks"]["proj/default/dev-1"];
    assert_eq!(row["task_id_raw"], "DEV-1");
    assert_eq!(row["task_id"], "dev-1");
    assert_eq!(row["title"], "First task");
    assert_eq!(row["status"], "active");
    assert_eq!(reg["branches"][format!("{}:feat-dev-1", repo.display())], "proj/default/dev-1");
}

#[test]
fn settings_come_from_flags_then_git_config() {
    let env = Env::new();
    let repo = env.repo("proj");
    env.git(&repo, &["config", "okstra.project", "Big Project"]);
    env.git(&repo, &["config", "okstra.group", "Team A"]);
    env.git(&repo, &["config", "okstra.category", "bugfix"]);
    let v = env.okstra(&repo, &["task", "start", "DEV-7311", "--json"]).ok().json();
    assert_eq!(v["key"], "big-project/team-a/dev-7311");
    assert_eq!(v["branch"], "fix-dev-7311");
    let v = env
        .okstra(
            &repo,
            &["task", "start", "DEV-9", "--group", "g2", "--project", "p2", "--category", "hotfix", "--json"],
        )
        .ok()
        .json();
    assert_eq!(v["key"], "p2/g2/dev-9");
    assert_eq!(v["branch"], "hotfix-dev-9");
}

#[test]
fn base_flag_and_bad_base() {
    let env = Env::new();
    let repo = env.repo("proj");
    let first = env.git(&repo, &["rev-parse", "HEAD"]);
    env.commit_file(&repo, "a.txt", "a", "second");
    let v = env.okstra(&repo, &["task", "start", "DEV-1", "--base", "HEAD~1", "--json"]).ok().json();
    assert_eq!(v["base_ref"], first);
    assert_eq!(env.git(&path_of(&v), &["rev-parse", "HEAD"]), first);
    let r = env.okstra(&repo, &["task", "start", "DEV-2", "--base", "no-such-ref"]).fails(1);
    assert!(r.stderr.contains("'no-such-ref' does not name a commit"), "{}", r.stderr);
    assert!(!env.okstra_home.join("worktrees/proj/default/dev-2").exists());
}

#[test]
fn usage_errors_exit_2_and_write_nothing() {
    let env = Env::new();
    let repo = env.repo("proj");
    for bad in ["a$b", "---", "/abs", "x/../y", "a\u{202e}b", "a;rm -rf", &"x".repeat(129)] {
        let r = env.okstra(&repo, &["task", "start", "--", bad]).fails(2);
        assert!(r.stderr.starts_with("error: task id"), "{bad:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().filter(|l| l.starts_with("error:")).count(), 1);
    }
    let r = env.okstra(&repo, &["task", "start", "DEV-1", "--category", "feature-ish"]).fails(2);
    assert_eq!(
        r.stderr,
        "error: unknown category 'feature-ish'\n\
         hint: categories: feature, bugfix, hotfix, refactor, chore, docs, test, perf, ci, build\n"
    );
    env.okstra(&repo, &["task", "start"]).fails(2);
    assert!(!env.okstra_home.exists() || !env.registry_path().exists());
    assert_eq!(env.git(&repo, &["branch", "--list"]), "* main");
}

#[test]
fn not_git_and_foreign_worktree_are_skipped() {
    let env = Env::new();
    let plain = env.root().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let r = env.okstra(&plain, &["task", "start", "DEV-1", "--json"]).ok();
    let v = r.json();
    assert_eq!(v["status"], "skipped-not-git");
    assert_eq!(v["path"], plain.to_str().unwrap());
    let warning = format!(
        "warning: not a git repository (or any parent folder): {}; the task runs here, without a worktree (skipped-not-git)\n",
        plain.display()
    );
    assert_eq!(r.stderr, warning, "one line, with --json too");
    let r = env.okstra(&plain, &["task", "start", "DEV-1"]).ok();
    assert_eq!((r.stderr.as_str(), r.stdout.trim()), (warning.as_str(), plain.to_str().unwrap()));

    let repo = env.repo("proj");
    let other = env.root().join("hand-made");
    env.git(&repo, &["worktree", "add", "-q", "-b", "mine", other.to_str().unwrap()]);
    let r = env.okstra(&other, &["task", "start", "DEV-1", "--json"]).ok();
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.ends_with("the task runs here and the registry is untouched (skipped-in-worktree)\n"));
    let v = r.json();
    assert_eq!(v["status"], "skipped-in-worktree");
    assert_eq!(v["path"], other.to_str().unwrap());
    assert!(!env.registry_path().exists(), "registry untouched");
}

#[test]
fn path_collision_is_an_error_and_leaves_nothing() {
    let env = Env::new();
    let repo = env.repo("proj");
    let path = env.okstra_home.join("worktrees/proj/default/dev-1");
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("keep.txt"), "mine").unwrap();
    let r = env.okstra(&repo, &["task", "start", "DEV-1"]).fails(1);
    assert!(r.stderr.contains("exists but is not a registered task worktree"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(path.join("keep.txt")).unwrap(), "mine");
    assert_eq!(env.git(&repo, &["branch", "--list", "feat-dev-1"]), "");
}

#[test]
fn branch_collisions_are_errors() {
    let env = Env::new();
    let repo = env.repo("proj");
    // a branch nobody registered
    env.git(&repo, &["branch", "feat-dev-1"]);
    let r = env.okstra(&repo, &["task", "start", "DEV-1"]).fails(1);
    assert!(r.stderr.contains("branch 'feat-dev-1' already exists in this repository and belongs to no task"));
    assert!(!env.okstra_home.join("worktrees/proj/default/dev-1").exists());
    // a branch that belongs to another row (same task id, other group)
    env.okstra(&repo, &["task", "start", "DEV-2", "--group", "a"]).ok();
    let r = env.okstra(&repo, &["task", "start", "DEV-2", "--group", "b"]).fails(1);
    assert!(r.stderr.contains("branch 'feat-dev-2' already belongs to task proj/a/dev-2"), "{}", r.stderr);
    assert!(!env.okstra_home.join("worktrees/proj/b/dev-2").exists());
    assert!(env.registry()["tasks"].get("proj/b/dev-2").is_none());
}

#[test]
fn failure_after_worktree_add_rolls_back() {
    let env = Env::new();
    let repo = env.repo("proj");
    // The base commit has a file `notes`; the main worktree now has a folder `notes/shared`.
    // Linking the sync dir `notes/shared` into a worktree of the base must fail after
    // `git worktree add` (its parent is a file there).
    env.commit_file(&repo, "notes", "a file", "notes as a file");
    let base = env.git(&repo, &["rev-parse", "HEAD"]);
    env.git(&repo, &["rm", "-q", "notes"]);
    env.git(&repo, &["commit", "-q", "-m", "drop notes"]);
    std::fs::create_dir_all(repo.join("notes/shared")).unwrap();
    let r = env
        .okstra_env(
            &repo,
            &["task", "start", "DEV-1", "--base", &base],
            &[("OKSTRA_WORKTREE_SYNC_DIRS", "notes/shared")],
        )
        .fails(1);
    assert!(r.stderr.contains("rolling back"), "{}", r.stderr);
    assert!(!env.okstra_home.join("worktrees/proj/default/dev-1").exists());
    assert_eq!(env.git(&repo, &["branch", "--list", "feat-dev-1"]), "");
    assert_eq!(env.git(&repo, &["worktree", "list", "--porcelain"]).matches("worktree ").count(), 1);
    assert!(!env.registry_path().exists() || env.registry()["tasks"].as_object().unwrap().is_empty());
}

#[test]
fn release_restart_and_remove() {
    let env = Env::new();
    let repo = env.repo("proj");
    let v = env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json();
    let wt = path_of(&v);
    // release keeps the worktree; a restart reactivates it
    let r = env.okstra(&repo, &["task", "release", "DEV-1", "--json"]).ok().json();
    assert_eq!(r["removed_worktree"], false);
    assert_eq!(env.registry()["tasks"]["proj/default/dev-1"]["status"], "released");
    assert!(env.registry()["branches"].as_object().unwrap().is_empty());
    let again = env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json();
    assert_eq!(again["status"], "reused");
    assert_eq!(env.registry()["tasks"]["proj/default/dev-1"]["status"], "active");

    // --remove refuses a dirty worktree
    std::fs::write(wt.join("new.txt"), "wip").unwrap();
    let r = env.okstra(&repo, &["task", "release", "proj/default/dev-1", "--remove"]).fails(1);
    assert!(r.stderr.contains("uncommitted changes"), "{}", r.stderr);
    assert!(wt.join("new.txt").exists());
    // --remove refuses commits that exist nowhere else
    env.git(&wt, &["add", "new.txt"]);
    env.git(&wt, &["commit", "-q", "-m", "work"]);
    let r = env.okstra(&repo, &["task", "release", "DEV-1", "--remove"]).fails(1);
    assert!(r.stderr.contains("1 commit(s) that are on no remote branch"), "{}", r.stderr);
    assert!(wt.exists());
    assert_eq!(env.registry()["tasks"]["proj/default/dev-1"]["status"], "active");
    // pushed commits are safe to remove
    env.origin(&repo, &[]);
    env.git(&wt, &["push", "-q", "origin", "feat-dev-1"]);
    let r = env.okstra(&repo, &["task", "release", "DEV-1", "--remove", "--json"]).ok().json();
    assert_eq!(r["removed_worktree"], true);
    assert_eq!(r["deleted_branch"], true);
    assert!(!wt.exists());
    assert!(repo.join(".git").exists() && repo.join("README.md").exists(), "main worktree untouched");
    assert_eq!(env.git(&repo, &["branch", "--list", "feat-dev-1"]), "");
    // restart after removal: a fresh worktree and branch
    let fresh = env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json();
    assert_eq!(fresh["status"], "created");
}

#[test]
fn remove_force_discards_and_restart_keeps_unremoved_branch() {
    let env = Env::new();
    let repo = env.repo("proj");
    let wt = path_of(&env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json());
    env.commit_file(&wt, "w.txt", "w", "local work");
    let tip = env.git(&wt, &["rev-parse", "HEAD"]);
    // the folder disappears (rm -rf), the row is released: a restart re-attaches the branch
    env.okstra(&repo, &["task", "release", "DEV-1"]).ok();
    std::fs::remove_dir_all(&wt).unwrap();
    let v = env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json();
    assert_eq!(v["status"], "created");
    assert!(v["note"].as_str().unwrap().contains("existing branch"), "{v}");
    assert_eq!(env.git(&wt, &["rev-parse", "HEAD"]), tip, "commits kept");
    std::fs::write(wt.join("dirty.txt"), "x").unwrap();
    env.okstra(&repo, &["task", "release", "DEV-1", "--remove", "--force"]).ok();
    assert!(!wt.exists());
    assert_eq!(env.git(&repo, &["branch", "--list", "feat-dev-1"]), "");
    let r = env.okstra(&repo, &["task", "release", "DEV-1", "--force"]).fails(2);
    assert!(r.stderr.contains("--remove"), "{}", r.stderr);
}

#[test]
fn remove_refuses_a_row_pointing_outside_okstra_home() {
    let env = Env::new();
    let repo = env.repo("proj");
    env.okstra(&repo, &["task", "start", "DEV-1"]).ok();
    let outside = env.root().join("precious");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("data"), "keep").unwrap();
    let mut reg = env.registry();
    reg["tasks"]["proj/default/dev-1"]["worktree_path"] = outside.to_str().unwrap().into();
    std::fs::write(env.registry_path(), serde_json::to_string(&reg).unwrap()).unwrap();
    let r = env.okstra(&repo, &["task", "release", "DEV-1", "--remove", "--force"]).fails(1);
    assert!(r.stderr.contains("outside"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(outside.join("data")).unwrap(), "keep");
}

#[test]
fn two_repositories_with_the_same_task_id() {
    let env = Env::new();
    let a = env.repo("alpha");
    let b = env.repo("beta");
    let va = env.okstra(&a, &["task", "start", "DEV-1", "--json"]).ok().json();
    let vb = env.okstra(&b, &["task", "start", "DEV-1", "--json"]).ok().json();
    assert_eq!(va["status"], "created");
    assert_eq!(vb["status"], "created");
    assert_eq!(va["branch"], vb["branch"], "branch names are unique per repository only");
    assert_ne!(va["path"], vb["path"]);
    // same project name in both: the second is a path collision in the registry's eyes? no: same key
    let la = env.okstra(&a, &["task", "list", "--json"]).ok().json();
    assert_eq!(la["tasks"].as_array().unwrap().len(), 1);
    let all = env.okstra(&a, &["task", "list", "--all", "--json"]).ok().json();
    assert_eq!(all["tasks"].as_array().unwrap().len(), 2);
    let r = env.okstra(&b, &["task", "show", "DEV-1", "--json"]).ok().json();
    assert_eq!(r["repo"], b.to_str().unwrap());
}

#[test]
fn list_and_show_report_health() {
    let env = Env::new();
    let repo = env.repo("proj");
    let w1 = path_of(&env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json());
    let w2 = path_of(&env.okstra(&repo, &["task", "start", "DEV-2", "--json"]).ok().json());
    env.okstra(&repo, &["task", "start", "DEV-3"]).ok();
    std::fs::write(w1.join("x"), "dirty").unwrap();
    std::fs::remove_dir_all(&w2).unwrap();
    env.git(&repo, &["worktree", "prune"]);
    env.git(&repo, &["branch", "-D", "feat-dev-2"]);
    let w3 = env.okstra_home.join("worktrees/proj/default/dev-3");
    env.git(&w3, &["checkout", "-q", "--detach"]);
    env.git(&repo, &["branch", "-D", "feat-dev-3"]);
    let health = |v: &serde_json::Value| -> Vec<(String, String)> {
        v["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["task_id"].as_str().unwrap().to_string(), t["health"].as_str().unwrap().to_string()))
            .collect()
    };
    let fast = env.okstra(&repo, &["task", "list", "--json"]).ok().json();
    assert_eq!(
        health(&fast),
        vec![
            ("dev-1".into(), "ok".into()),
            ("dev-2".into(), "missing-worktree".into()),
            ("dev-3".into(), "missing-branch".into())
        ]
    );
    let full = env.okstra(&repo, &["task", "list", "--dirty", "--json"]).ok().json();
    assert_eq!(health(&full)[0], ("dev-1".into(), "dirty".into()));
    let table = env.okstra(&repo, &["task", "list"]).ok().stdout;
    assert!(table.lines().next().unwrap().starts_with("TASK"));
    let dev2 = table.lines().find(|l| l.starts_with("DEV-2")).unwrap();
    assert!(dev2.ends_with("missing-worktree"), "{table}");
    let show = env.okstra(&repo, &["task", "show", "DEV-1", "--json"]).ok().json();
    assert_eq!(show["health"], "dirty");
    assert_eq!(show["schema"], 1);
    let r = env.okstra(&repo, &["task", "show", "NOPE-1"]).fails(1);
    assert!(r.stderr.contains("no task 'NOPE-1'") && r.stderr.contains("hint:"), "{}", r.stderr);
}

#[test]
fn ambiguous_task_id_asks_for_the_key() {
    let env = Env::new();
    let repo = env.repo("proj");
    env.okstra(&repo, &["task", "start", "DEV-1", "--group", "a"]).ok();
    env.okstra(&repo, &["task", "start", "DEV-1", "--group", "b", "--category", "chore"]).ok();
    let r = env.okstra(&repo, &["task", "show", "DEV-1"]).fails(1);
    assert!(r.stderr.contains("proj/a/dev-1, proj/b/dev-1"), "{}", r.stderr);
    env.okstra(&repo, &["task", "show", "proj/b/dev-1"]).ok();
}

fn write_registry(env: &Env, text: &str) {
    std::fs::create_dir_all(env.registry_path().parent().unwrap()).unwrap();
    std::fs::write(env.registry_path(), text).unwrap();
}

#[test]
fn corrupt_registry_is_never_overwritten() {
    let env = Env::new();
    let repo = env.repo("proj");
    let garbage = "{\"version\": 1, \"tasks\": {\"x\": ";
    write_registry(&env, garbage);
    for args in [&["task", "start", "DEV-1"][..], &["task", "list"], &["task", "release", "DEV-1"]] {
        let r = env.okstra(&repo, args).fails(1);
        assert!(r.stderr.contains("is corrupt"), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("registry.json"), "names the file: {}", r.stderr);
        assert!(r.stderr.contains("doctor --repair"));
    }
    assert_eq!(std::fs::read_to_string(env.registry_path()).unwrap(), garbage);
    assert!(!env.okstra_home.join("worktrees/proj").exists());
    assert_eq!(env.git(&repo, &["branch", "--list"]), "* main");
}

#[test]
fn versionless_python_registry_is_read_and_upgraded() {
    let env = Env::new();
    let repo = env.repo("proj");
    let old_wt = env.okstra_home.join("worktrees/legacy/default/old-1");
    std::fs::create_dir_all(&old_wt).unwrap();
    let text = serde_json::json!({
        "tasks": {"legacy/default/old-1": {
            "project_id": "legacy", "task_group": "default", "task_id": "old-1", "task_id_raw": "OLD-1",
            "title": "from python", "repo": "/elsewhere/legacy", "worktree_path": old_wt.to_str().unwrap(),
            "branch": "feat-old-1", "base_ref": "", "category": "feature", "created_at": "2025-01-01T00:00:00Z",
            "last_phase": null, "phases": [], "status": "active", "python_only": true}},
        "branches": {"/elsewhere/legacy:feat-old-1": "legacy/default/old-1"}
    });
    write_registry(&env, &text.to_string());
    let all = env.okstra(&repo, &["task", "list", "--all", "--json"]).ok().json();
    assert_eq!(all["tasks"][0]["title"], "from python");
    env.okstra(&repo, &["task", "start", "DEV-1"]).ok();
    let reg = env.registry();
    assert_eq!(reg["version"], 1, "upgraded on its next write");
    assert_eq!(reg["tasks"]["legacy/default/old-1"]["python_only"], true, "unknown fields kept");
    assert!(reg["tasks"]["proj/default/dev-1"].is_object());
}

#[test]
fn json_outside_a_repository_and_missing_home_var() {
    let env = Env::new();
    let plain = env.root().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let r = env.okstra(&plain, &["task", "list"]).fails(1);
    assert!(r.stderr.starts_with("error: not a git repository"), "{}", r.stderr);
}

#[test]
fn outside_a_repository_every_command_says_the_same() {
    let env = Env::new();
    let plain = env.root().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let want = format!(
        "error: not a git repository (or any parent folder): {}\n\
         hint: run this inside a git repository, or use `git -C <repo> okstra …`\n",
        plain.display()
    );
    let commands: [&[&str]; 11] = [
        &["task", "list"],
        &["task", "show", "DEV-1"],
        &["task", "release", "DEV-1"],
        &["task", "phase", "DEV-1", "requirements-discovery"],
        &["task", "handoff", "DEV-1"],
        &["phase", "requirements-discovery"],
        &["handoff"],
        &["hooks", "install"],
        &["hooks", "uninstall"],
        &["hooks", "status"],
        &["task", "list", "--json"],
    ];
    for args in commands {
        let r = env.okstra(&plain, args).fails(1);
        assert_eq!(r.stderr, want, "{args:?}");
        assert_eq!(r.stdout, "", "{args:?}");
    }
    assert!(!env.okstra_home.join("worktrees").exists(), "nothing written");
}

#[test]
fn a_relative_okstra_home_is_refused_everywhere() {
    let env = Env::new();
    let repo = env.repo("proj");
    std::fs::create_dir_all(repo.join("sub")).unwrap();
    for (home, tilde) in [("okstra-here", false), ("~/.okstra", true), ("./x/../y", false)] {
        for (cwd, args) in [
            (&repo, &["task", "start", "DEV-1"][..]),
            (&repo.join("sub"), &["task", "list"]),
            (&repo, &["doctor"]),
            (&repo, &["task", "phase", "DEV-1", "requirements-discovery"]),
        ] {
            let r = env.okstra_env(cwd, args, &[("OKSTRA_HOME", home)]).fails(1);
            assert!(r.stderr.starts_with("error: OKSTRA_HOME is the relative path"), "{args:?}: {}", r.stderr);
            assert!(r.stderr.contains("hint: export OKSTRA_HOME="), "{}", r.stderr);
            assert_eq!(r.stderr.contains("not expanded"), tilde, "{}", r.stderr);
        }
    }
    // nothing was made, anywhere
    assert_eq!(env.git(&repo, &["status", "--porcelain", "--ignored"]), "", "nothing written in the repository");
    assert!(!repo.join("okstra-here").exists() && !repo.join("~").exists());
    assert_eq!(env.git(&repo, &["branch", "--list"]), "* main");
}

fn spawn_start(env: &Env, cwd: &Path, id: &str) -> std::process::Child {
    env.command(common::BIN, cwd)
        .args(["task", "start", id, "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn sixteen_keys_started_at_once_all_succeed() {
    let env = Env::new();
    let repo = env.repo("proj");
    let children: Vec<_> = (0..16).map(|i| spawn_start(&env, &repo, &format!("PAR-{i}"))).collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["status"], "created");
    }
    let reg = env.registry();
    assert_eq!(reg["tasks"].as_object().unwrap().len(), 16);
    assert_eq!(reg["branches"].as_object().unwrap().len(), 16);
    assert_eq!(env.git(&repo, &["worktree", "list", "--porcelain"]).matches("worktree ").count(), 17);
}

#[test]
fn eight_processes_one_key_give_exactly_one_created() {
    let env = Env::new();
    let repo = env.repo("proj");
    let children: Vec<_> = (0..8).map(|_| spawn_start(&env, &repo, "SAME-1")).collect();
    let mut statuses = Vec::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        statuses.push(v["status"].as_str().unwrap().to_string());
    }
    statuses.sort();
    assert_eq!(statuses.iter().filter(|s| *s == "created").count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| *s == "reused").count(), 7, "{statuses:?}");
}

#[test]
fn runs_as_a_git_subcommand_with_dash_c_and_git_dir() {
    let env = Env::new();
    let repo = env.repo("proj");
    let bin_dir = Path::new(common::BIN).parent().unwrap();
    let path = common::path_with(bin_dir);
    let elsewhere = env.root();
    let out = env
        .command("git", &elsewhere)
        .env("PATH", &path)
        .args(["-C", repo.to_str().unwrap(), "okstra", "task", "start", "DEV-1", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "created");
    assert_eq!(v["repo"], repo.to_str().unwrap());
    // GIT_DIR from outside the repository points at it too
    let out = env
        .command(common::BIN, &elsewhere)
        .env("GIT_DIR", repo.join(".git"))
        .args(["task", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tasks"][0]["key"], "proj/default/dev-1");
}

#[test]
fn release_remove_from_inside_the_task_worktree() {
    let env = Env::new();
    let repo = env.repo("proj");
    let wt = path_of(&env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json());
    let r = env.okstra(&wt, &["task", "release", "DEV-1", "--remove", "--json"]).ok().json();
    assert_eq!(r["removed_worktree"], true);
    assert_eq!(r["deleted_branch"], true);
    assert!(!wt.exists());
    assert_eq!(env.git(&repo, &["branch", "--list", "feat-dev-1"]), "");
    // The human form says where to go; the next command in the vanished folder says what happened.
    let wt = path_of(&env.okstra(&repo, &["task", "start", "DEV-2", "--json"]).ok().json());
    let sub = wt.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let r = env.okstra(&sub, &["task", "release", "DEV-2", "--remove"]).ok();
    assert!(
        r.stderr.contains(&format!("your shell's current folder was in the removed worktree: `cd {}`", repo.display())),
        "{}",
        r.stderr
    );
    let gone = env.root().join("gone");
    std::fs::create_dir_all(&gone).unwrap();
    let mut cmd = env.command("sh", &gone);
    cmd.args(["-c", r#"rmdir "$PWD" && exec "$0" task list"#, common::BIN]).env("PWD", &gone);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with(&format!("error: the current folder ({}) no longer exists; was it a task worktree released with --remove?\nhint: `cd` to", gone.display())), "{err}");
}

#[test]
fn two_clones_with_the_same_folder_name_never_share_a_worktree() {
    let env = Env::new();
    let a = env.repo("shop");
    let other = env.root().join("elsewhere");
    std::fs::create_dir_all(&other).unwrap();
    env.git(&other, &["clone", "-q", a.to_str().unwrap(), "shop"]);
    let b = other.join("shop");
    let va = env.okstra(&a, &["task", "start", "DEV-1", "--json"]).ok().json();
    let before = std::fs::read(env.registry_path()).unwrap();
    let r = env.okstra(&b, &["task", "start", "DEV-1"]).fails(1);
    assert!(r.stderr.contains(&format!("belongs to the repository {}", a.display())), "{}", r.stderr);
    assert!(r.stderr.contains("okstra.project"), "{}", r.stderr);
    assert_eq!(std::fs::read(env.registry_path()).unwrap(), before, "registry unchanged");
    // with its own project name the second clone gets its own task
    env.git(&b, &["config", "okstra.project", "shop-b"]);
    let vb = env.okstra(&b, &["task", "start", "DEV-1", "--json"]).ok().json();
    assert_eq!(vb["status"], "created");
    assert_ne!(vb["path"], va["path"]);
    assert_eq!(vb["repo"], b.to_str().unwrap());
}

#[test]
fn a_task_key_of_another_repository_is_refused() {
    let env = Env::new();
    let a = env.repo("alpha");
    let b = env.repo("beta");
    env.okstra(&a, &["task", "start", "DEV-1"]).ok();
    // beta has a branch of the same name that must never be touched
    env.git(&b, &["branch", "feat-dev-1"]);
    for args in [
        &["task", "release", "alpha/default/dev-1", "--remove", "--force"][..],
        &["task", "show", "alpha/default/dev-1"],
    ] {
        let r = env.okstra(&b, args).fails(1);
        assert!(r.stderr.contains(&format!("belongs to the repository {}", a.display())), "{}", r.stderr);
    }
    assert_eq!(env.git(&b, &["branch", "--list", "feat-dev-1"]), "  feat-dev-1");
    assert!(env.okstra_home.join("worktrees/alpha/default/dev-1").exists());
    assert_eq!(env.registry()["tasks"]["alpha/default/dev-1"]["status"], "active");
}

#[test]
fn a_repository_opened_in_a_linked_worktree_still_finds_main_after_the_worktree_is_removed() {
    // The main repository is opened on first use; by then the linked worktree (and its git dir,
    // through which gix finds the main one) may be gone, as in `task release --remove` run
    // from inside the task's worktree.
    let env = Env::new();
    let repo = env.repo("proj");
    let wt = env.root().join("linked");
    env.git(&repo, &["worktree", "add", "-q", "-b", "side", wt.to_str().unwrap()]);
    let opened = git_okstra::git::Repo::discover(&wt).unwrap().expect("a repository");
    assert!(opened.is_linked);
    env.git(&repo, &["worktree", "remove", "--force", wt.to_str().unwrap()]);
    assert!(!wt.exists());
    let main = std::fs::canonicalize(&repo).unwrap();
    assert_eq!(opened.main_worktree(), main.as_path());
    assert!(opened.branch_exists("side"), "refs are read from the main repository");
    assert!(opened.branch_oid("main").is_some());
    assert!(!opened.is_bare());
}

#[test]
fn a_second_start_keeps_what_was_recorded_and_warns_about_flags() {
    let env = Env::new();
    let repo = env.repo("proj");
    let first = env.okstra(&repo, &["task", "start", "DEV-1", "--title", "Cart totals", "--category", "bugfix"]).ok();
    assert!(first.stderr.starts_with("created: "), "{}", first.stderr);
    let again = env
        .okstra(&repo, &["task", "start", "DEV-1", "--title", "Other", "--category", "feature", "--base", "HEAD"])
        .ok();
    assert!(again.stderr.contains("reused: "), "{}", again.stderr);
    assert!(
        again.stderr.contains(
            "warning: task proj/default/dev-1 exists; it keeps what was recorded and ignores \
             --category feature (recorded: 'bugfix', branch 'fix-dev-1'), --title 'Other' (recorded: 'Cart totals')"
        ),
        "{}",
        again.stderr
    );
    assert!(!again.stderr.contains("--base"), "--base HEAD is the recorded base: {}", again.stderr);
    let row = &env.registry()["tasks"]["proj/default/dev-1"];
    assert_eq!((row["title"].as_str(), row["category"].as_str()), (Some("Cart totals"), Some("bugfix")));
    assert_eq!(row["branch"], "fix-dev-1");
    let quiet = env.okstra(&repo, &["task", "start", "DEV-1"]).ok();
    assert!(!quiet.stderr.contains("warning"), "no flag, no warning: {}", quiet.stderr);

    // After `release --remove` a restart keeps the recorded category (not the default)...
    env.okstra(&repo, &["task", "release", "DEV-1", "--remove"]).ok();
    let v = env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json();
    assert_eq!((v["status"].as_str(), v["branch"].as_str()), (Some("created"), Some("fix-dev-1")));
    assert_eq!(env.registry()["tasks"]["proj/default/dev-1"]["title"], "Cart totals");
    // ...and a flag chooses anew when nothing of the task is left.
    env.okstra(&repo, &["task", "release", "DEV-1", "--remove"]).ok();
    let v = env.okstra(&repo, &["task", "start", "DEV-1", "--category", "chore", "--json"]).ok().json();
    assert_eq!(v["branch"], "chore-dev-1");
    assert_eq!(env.registry()["tasks"]["proj/default/dev-1"]["category"], "chore");
}

#[test]
fn a_cleanly_removed_task_reads_removed_not_missing() {
    let env = Env::new();
    let repo = env.repo("proj");
    env.okstra(&repo, &["task", "start", "DEV-1"]).ok();
    let kept = path_of(&env.okstra(&repo, &["task", "start", "DEV-2", "--json"]).ok().json());
    let gone = path_of(&env.okstra(&repo, &["task", "start", "DEV-3", "--json"]).ok().json());
    env.okstra(&repo, &["task", "release", "DEV-1", "--remove"]).ok();
    // released, its folder deleted by hand, its branch kept: still worth a look
    env.okstra(&repo, &["task", "release", "DEV-2"]).ok();
    env.git(&repo, &["worktree", "remove", kept.to_str().unwrap()]);
    // active, folder gone: a fault
    env.git(&repo, &["worktree", "remove", gone.to_str().unwrap()]);
    let list = env.okstra(&repo, &["task", "list", "--json"]).ok().json();
    let health =
        |key: &str| list["tasks"].as_array().unwrap().iter().find(|t| t["key"] == key).unwrap()["health"].clone();
    assert_eq!(health("proj/default/dev-1"), "removed");
    assert_eq!(health("proj/default/dev-2"), "missing-worktree");
    assert_eq!(health("proj/default/dev-3"), "missing-worktree");
    let show = env.okstra(&repo, &["task", "show", "DEV-1", "--json"]).ok().json();
    assert_eq!(show["health"], "removed");
    let table = env.okstra(&repo, &["task", "list"]).ok().stdout;
    // the board's notes: the health, then that the row is released
    let line = table.lines().find(|l| l.starts_with("DEV-1 ")).unwrap();
    assert!(line.ends_with("removed, released"), "{table}");
    let line = table.lines().find(|l| l.starts_with("DEV-2 ")).unwrap();
    assert!(line.ends_with("missing-worktree, released"), "{table}");
}
