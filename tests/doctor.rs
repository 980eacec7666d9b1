//! `git okstra doctor`: each kind of breakage, before and after `--repair`.
mod common;
use std::path::{Path, PathBuf};

use common::{write_exec, Env};

fn start(env: &Env, repo: &Path, id: &str) -> PathBuf {
    let out = env.okstra(repo, &["task", "start", id, "--json"]).ok().json();
    PathBuf::from(out["path"].as_str().unwrap())
}

fn doctor(env: &Env, cwd: &Path, repair: bool) -> (i32, serde_json::Value) {
    let mut args = vec!["doctor", "--json"];
    if repair {
        args.push("--repair");
    }
    let r = env.okstra(cwd, &args);
    assert!(r.code == 0 || r.code == 1, "doctor exit {}:\n{}{}", r.code, r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["schema"], 1);
    (r.code, v)
}

fn kinds(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> =
        v["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap().to_string()).collect();
    k.sort();
    k
}

#[test]
fn healthy_setup_exits_zero_and_says_so() {
    let env = Env::new();
    let repo = env.repo("proj");
    start(&env, &repo, "DEV-1");
    let r = env.okstra(&repo, &["doctor"]).ok();
    assert!(r.stderr.contains("no problems found"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    // Works outside any repository too: the registry is machine-wide.
    env.okstra(&env.root(), &["doctor"]).ok();
}

#[test]
fn row_whose_worktree_and_branch_are_gone_is_dropped() {
    let env = Env::new();
    let repo = env.repo("proj");
    let wt = start(&env, &repo, "DEV-1");
    std::fs::remove_dir_all(&wt).unwrap();
    env.git(&repo, &["worktree", "prune"]);
    env.git(&repo, &["branch", "-D", "feat-dev-1"]);

    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(code, 1);
    assert_eq!(kinds(&v), ["gone"]);
    assert_eq!(v["findings"][0]["subject"], "proj/default/dev-1");
    assert!(v["findings"][0]["fix"].as_str().unwrap().contains("--repair"));
    let human = env.okstra(&repo, &["doctor"]).fails(1);
    assert!(human.stderr.contains("gone: proj/default/dev-1"), "{}", human.stderr);
    assert!(human.stderr.contains("  fix: "), "{}", human.stderr);

    let (code, v) = doctor(&env, &repo, true);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["findings"][0]["repaired"], true);
    assert!(env.registry()["tasks"].get("proj/default/dev-1").is_none());
    assert_eq!(doctor(&env, &repo, false).0, 0);
}

#[test]
fn missing_worktree_is_pruned_but_the_row_and_branch_stay() {
    let env = Env::new();
    let repo = env.repo("proj");
    let wt = start(&env, &repo, "DEV-1");
    env.commit_file(&wt, "work.txt", "work\n", "work");
    std::fs::remove_dir_all(&wt).unwrap();

    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(code, 1);
    assert_eq!(kinds(&v), ["missing-worktree", "stale-git-worktree"]);

    let (code, v) = doctor(&env, &repo, true);
    assert_eq!(code, 1, "the missing worktree needs the user: {v:#}");
    assert!(!env.git(&repo, &["worktree", "list", "--porcelain"]).contains("prunable"));
    assert!(env.registry()["tasks"].get("proj/default/dev-1").is_some());
    env.git(&repo, &["rev-parse", "--verify", "feat-dev-1"]);
    // The fix it names works: start recreates the worktree on the kept branch.
    let fix = v["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "missing-worktree").unwrap()["fix"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(fix.contains("git okstra task start DEV-1"), "{fix}");
    start(&env, &repo, "DEV-1");
    assert!(wt.join("work.txt").exists());
    assert_eq!(doctor(&env, &repo, false).0, 0);
}

#[test]
fn missing_branch_is_reported_and_the_dirty_worktree_is_left_alone() {
    let env = Env::new();
    let repo = env.repo("proj");
    let wt = start(&env, &repo, "DEV-1");
    env.git(&wt, &["switch", "-q", "--detach"]);
    env.git(&repo, &["branch", "-D", "feat-dev-1"]);
    std::fs::write(wt.join("unsaved.txt"), "precious\n").unwrap();

    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(code, 1);
    assert_eq!(kinds(&v), ["missing-branch"]);
    assert!(v["findings"][0]["fix"].as_str().unwrap().contains("switch -c feat-dev-1"));

    let (code, v) = doctor(&env, &repo, true);
    assert_eq!(code, 1);
    assert_eq!(v["findings"][0]["repaired"], false);
    assert_eq!(v["findings"][0]["action"], "needs a decision only you can make");
    assert_eq!(std::fs::read_to_string(wt.join("unsaved.txt")).unwrap(), "precious\n");
    // The human report says `left:` once, then why.
    let r = env.okstra(&repo, &["doctor", "--repair"]).fails(1);
    assert!(r.stderr.contains("\n  left: needs a decision only you can make\n"), "{}", r.stderr);
    assert!(!r.stderr.contains("left: left"), "{}", r.stderr);
}

#[test]
fn unknown_folders_are_adopted_removed_or_left() {
    let env = Env::new();
    let repo = env.repo("proj");
    start(&env, &repo, "DEV-1");
    let root = env.okstra_home.join("worktrees/proj/default");
    let stray = root.join("stray");
    env.git(&repo, &["worktree", "add", "-q", "-b", "fix-stray", stray.to_str().unwrap()]);
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::create_dir_all(root.join("notes")).unwrap();
    std::fs::write(root.join("notes/keep.txt"), "mine\n").unwrap();

    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(code, 1);
    assert_eq!(kinds(&v), ["unknown-worktree", "unknown-worktree", "unknown-worktree"]);

    let (code, v) = doctor(&env, &repo, true);
    assert_eq!(code, 1, "the non-worktree folder with content stays: {v:#}");
    let row = &env.registry()["tasks"]["proj/default/stray"];
    assert_eq!(row["branch"], "fix-stray");
    assert_eq!(row["category"], "bugfix");
    assert_eq!(row["base_ref"], "");
    assert_eq!(row["repo"], repo.to_str().unwrap());
    assert_eq!(env.registry()["branches"][format!("{}:fix-stray", repo.display())], "proj/default/stray");
    assert!(!root.join("empty").exists());
    assert_eq!(std::fs::read_to_string(root.join("notes/keep.txt")).unwrap(), "mine\n");
    let left = v["findings"].as_array().unwrap().iter().find(|f| f["repaired"] == false).unwrap();
    assert!(left["subject"].as_str().unwrap().ends_with("notes"));
    assert!(left["fix"].as_str().unwrap().contains("by hand"));
    // Adopted with its task marker: a second run finds only the folder left for you.
    let git_dir = PathBuf::from(env.git(&stray, &["rev-parse", "--absolute-git-dir"]));
    assert!(git_dir.join("okstra/task").is_file());
    assert_eq!(kinds(&doctor(&env, &repo, false).1), ["unknown-worktree"]);
    // The adopted task works like any other.
    let again = env.okstra(&repo, &["task", "start", "stray", "--json"]).ok().json();
    assert_eq!(again["status"], "reused");
}

#[test]
fn broken_and_missing_sync_links_are_relinked() {
    let env = Env::new();
    let repo = env.repo("proj");
    std::fs::create_dir_all(repo.join(".project-docs")).unwrap();
    std::fs::create_dir_all(repo.join(".scratch")).unwrap();
    let wt = start(&env, &repo, "DEV-1");
    let docs = wt.join(".project-docs");
    assert_eq!(std::fs::read_link(&docs).unwrap(), repo.join(".project-docs"));
    std::fs::remove_file(&docs).unwrap();
    std::os::unix::fs::symlink(env.root().join("nowhere"), &docs).unwrap();
    std::fs::remove_file(wt.join(".scratch")).unwrap();

    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(code, 1);
    assert_eq!(kinds(&v), ["broken-sync-link", "missing-sync-link"]);

    let (code, v) = doctor(&env, &repo, true);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(std::fs::read_link(&docs).unwrap(), repo.join(".project-docs"));
    assert_eq!(std::fs::read_link(wt.join(".scratch")).unwrap(), repo.join(".scratch"));
}

#[test]
fn a_real_folder_where_a_link_belongs_is_not_touched() {
    let env = Env::new();
    let repo = env.repo("proj");
    std::fs::create_dir_all(repo.join(".scratch")).unwrap();
    let wt = start(&env, &repo, "DEV-1");
    std::fs::remove_file(wt.join(".scratch")).unwrap();
    std::fs::create_dir_all(wt.join(".scratch")).unwrap();
    std::fs::write(wt.join(".scratch/own.txt"), "x").unwrap();
    assert_eq!(doctor(&env, &repo, true).0, 0);
    assert!(wt.join(".scratch/own.txt").is_file());
}

#[test]
fn corrupt_registry_is_copied_aside_and_rebuilt_from_disk() {
    let env = Env::new();
    let repo = env.repo("proj");
    let wt1 = start(&env, &repo, "DEV-1");
    env.okstra(&repo, &["task", "start", "DEV-2", "--category", "bugfix"]).ok();
    std::fs::write(wt1.join("dirty.txt"), "uncommitted\n").unwrap();
    let garbage = "{\"version\": 1, \"tasks\": {\"torn";
    std::fs::write(env.registry_path(), garbage).unwrap();

    let list = env.okstra(&repo, &["task", "list"]).fails(1);
    assert!(list.stderr.contains("doctor --repair"), "{}", list.stderr);
    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(code, 1);
    assert_eq!(kinds(&v), ["corrupt-registry"]);
    assert_eq!(std::fs::read_to_string(env.registry_path()).unwrap(), garbage, "check alone changes nothing");

    let (code, v) = doctor(&env, &repo, true);
    assert_eq!(code, 0, "{v:#}");
    let action = v["findings"][0]["action"].as_str().unwrap();
    assert!(action.contains("base refs unknown"), "{action}");
    let dir = env.okstra_home.join("worktrees");
    let aside: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("registry.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(std::fs::read_to_string(aside[0].path()).unwrap(), garbage);
    let reg = env.registry();
    assert_eq!(reg["tasks"]["proj/default/dev-1"]["branch"], "feat-dev-1");
    assert_eq!(reg["tasks"]["proj/default/dev-2"]["branch"], "fix-dev-2");
    assert_eq!(reg["tasks"]["proj/default/dev-2"]["base_ref"], "");
    assert_eq!(std::fs::read_to_string(wt1.join("dirty.txt")).unwrap(), "uncommitted\n");
    let list = env.okstra(&repo, &["task", "list", "--json"]).ok().json();
    assert_eq!(list["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json()["status"], "reused");
}

#[test]
fn a_registry_with_a_key_named_twice_is_reported_never_merged() {
    let env = Env::new();
    let repo = env.repo("proj");
    start(&env, &repo, "DEV-1");
    start(&env, &repo, "DEV-2");
    // a hand edit that pasted a second row under the same key
    let text = std::fs::read_to_string(env.registry_path()).unwrap();
    let dup = text.replacen(
        "\"proj/default/dev-2\": {",
        "\"proj/default/dev-1\": {\"title\": \"pasted\"},\n    \"proj/default/dev-2\": {",
        1,
    );
    assert_ne!(dup, text);
    std::fs::write(env.registry_path(), &dup).unwrap();
    for args in [&["task", "list"][..], &["task", "start", "DEV-3"], &["task", "release", "DEV-1"]] {
        let r = env.okstra(&repo, args).fails(1);
        assert!(
            r.stderr.contains("is corrupt (the key \"proj/default/dev-1\" appears twice in one object"),
            "{}",
            r.stderr
        );
    }
    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(code, 1, "never 'no problems': {v:#}");
    assert_eq!(kinds(&v), ["corrupt-registry"]);
    assert!(v["findings"][0]["message"].as_str().unwrap().contains("appears twice"), "{v:#}");
    assert_eq!(std::fs::read_to_string(env.registry_path()).unwrap(), dup, "check alone changes nothing");
    let (code, _) = doctor(&env, &repo, true);
    assert_eq!(code, 0);
    let list = env.okstra(&repo, &["task", "list", "--json"]).ok().json();
    assert_eq!(list["tasks"].as_array().unwrap().len(), 2);
}

#[test]
fn a_symlinked_registry_is_reported_and_never_replaced() {
    let env = Env::new();
    let repo = env.repo("proj");
    start(&env, &repo, "DEV-1");
    let real = env.root().join("dotfiles/registry.json");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::fs::rename(env.registry_path(), &real).unwrap();
    std::os::unix::fs::symlink(&real, env.registry_path()).unwrap();
    let bytes = std::fs::read(&real).unwrap();
    let unchanged = |env: &Env| {
        let link = std::fs::symlink_metadata(env.registry_path()).unwrap();
        assert!(link.file_type().is_symlink(), "the link was replaced");
        assert_eq!(std::fs::read(&real).unwrap(), bytes, "the file it points to changed");
    };
    // reading follows it
    let list = env.okstra(&repo, &["task", "list", "--json"]).ok().json();
    assert_eq!(list["tasks"].as_array().unwrap().len(), 1);
    // every writer refuses before it changes anything
    for args in [
        &["task", "start", "DEV-2"][..],
        &["task", "release", "DEV-1", "--remove", "--force"],
        &["task", "phase", "DEV-1", "requirements-discovery"],
    ] {
        let r = env.okstra(&repo, args).fails(1);
        assert!(r.stderr.contains("is a symlink"), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("hint: "), "{}", r.stderr);
        unchanged(&env);
    }
    assert!(!env.okstra_home.join("worktrees/proj/default/dev-2").exists());
    assert!(env.okstra_home.join("worktrees/proj/default/dev-1/.git").exists());
    assert!(!repo.join(".project-docs/okstra").exists(), "no run folder");
    let (code, v) = doctor(&env, &repo, true);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(kinds(&v), ["registry-symlink"]);
    unchanged(&env);
    // corrupt behind the link: reported, never rebuilt over the link
    std::fs::write(&real, "{\"tasks\": ").unwrap();
    let bytes_now = std::fs::read(&real).unwrap();
    let (code, v) = doctor(&env, &repo, true);
    assert_eq!(code, 1);
    assert_eq!(kinds(&v), ["corrupt-registry", "registry-symlink"]);
    let corrupt = v["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "corrupt-registry").unwrap();
    assert_eq!(corrupt["repaired"], false, "{corrupt:#}");
    assert!(corrupt["action"].as_str().unwrap().contains("is a symlink"), "{corrupt:#}");
    assert!(std::fs::symlink_metadata(env.registry_path()).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read(&real).unwrap(), bytes_now);
}

#[test]
fn a_registry_from_a_newer_version_is_an_error_not_corruption() {
    let env = Env::new();
    let repo = env.repo("proj");
    std::fs::create_dir_all(env.okstra_home.join("worktrees")).unwrap();
    let text = r#"{"version": 9, "tasks": {}, "branches": {}}"#;
    std::fs::write(env.registry_path(), text).unwrap();
    let r = env.okstra(&repo, &["doctor", "--repair"]).fails(1);
    assert!(r.stderr.starts_with("error: registry"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: upgrade git-okstra"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(env.registry_path()).unwrap(), text);
}

#[test]
fn stale_branch_slot_is_freed() {
    let env = Env::new();
    let repo = env.repo("proj");
    start(&env, &repo, "DEV-1");
    let mut reg = env.registry();
    reg["branches"]["/elsewhere:feat-x"] = "proj/default/nope".into();
    std::fs::write(env.registry_path(), serde_json::to_string(&reg).unwrap()).unwrap();
    let (code, v) = doctor(&env, &repo, false);
    assert_eq!((code, kinds(&v)), (1, vec!["stale-branch-slot".to_string()]));
    assert_eq!(doctor(&env, &repo, true).0, 0);
    assert!(env.registry()["branches"].get("/elsewhere:feat-x").is_none());
}

/// `(kind, level, file name of the subject)` of each hook finding, sorted.
fn hook_findings(v: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"].as_str().unwrap().ends_with("-hook"))
        .map(|f| {
            let file = Path::new(f["subject"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned();
            (f["kind"].as_str().unwrap().to_string(), f["level"].as_str().unwrap().to_string(), file)
        })
        .collect();
    out.sort();
    out
}

fn triple(kind: &str, level: &str, file: &str) -> (String, String, String) {
    (kind.to_string(), level.to_string(), file.to_string())
}

#[test]
fn a_repository_that_never_installed_the_hooks_is_not_broken() {
    let env = Env::new();
    let repo = env.repo("proj");
    // A foreign hook alone (husky, pre-commit, a hand-written one) is the user's business.
    write_exec(&repo.join(".git/hooks/pre-push"), "#!/bin/sh\nexit 0\n");
    let (code, v) = doctor(&env, &repo, false);
    assert_eq!((code, kinds(&v)), (0, Vec::<String>::new()), "{v:#}");
    // Installed, then uninstalled: nothing to report either.
    env.okstra(&repo, &["hooks", "install"]).ok();
    assert_eq!(doctor(&env, &repo, false).0, 0);
    env.okstra(&repo, &["hooks", "uninstall"]).ok();
    let (code, v) = doctor(&env, &repo, false);
    assert_eq!((code, kinds(&v)), (0, Vec::<String>::new()), "{v:#}");
}

#[test]
fn stale_missing_and_foreign_hooks_before_and_after_repair() {
    let env = Env::new();
    let repo = env.repo("proj");
    let hooks = repo.join(".git/hooks");
    let foreign_push = "#!/bin/sh\necho 'lint before push' >&2\nexit 0\n";
    write_exec(&hooks.join("pre-push"), foreign_push);
    env.okstra(&repo, &["hooks", "install"]).ok();
    // Installed and chained: one note, no problem, exit 0.
    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(hook_findings(&v), [triple("chained-hook", "note", "pre-push")]);
    assert_eq!(v["remaining"], 0);
    let human = env.okstra(&repo, &["doctor"]).ok();
    assert!(human.stderr.contains("note: chained-hook: "), "{}", human.stderr);
    assert!(human.stderr.contains("no problems found (1 note(s))"), "{}", human.stderr);

    // Stale: okstra's shim, but not what this binary writes (here the chained pre-push).
    let shim = std::fs::read_to_string(hooks.join("pre-push")).unwrap();
    write_exec(&hooks.join("pre-push"), format!("{shim}# edited by hand\n"));
    // Missing: deleted.
    std::fs::remove_file(hooks.join("pre-commit")).unwrap();
    // Missing, with a foreign hook in its place (a tool re-installed its own).
    let foreign_msg = "#!/bin/sh\necho 'husky was here'\n";
    write_exec(&hooks.join("prepare-commit-msg"), foreign_msg);

    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(
        hook_findings(&v),
        [
            triple("missing-hook", "problem", "pre-commit"),
            triple("missing-hook", "problem", "prepare-commit-msg"),
            triple("stale-hook", "problem", "pre-push"),
        ]
    );
    assert_eq!(v["remaining"], 3);
    let foreign = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"].as_str().unwrap().ends_with("prepare-commit-msg"))
        .unwrap();
    assert_eq!(foreign["repairable"], false);
    assert!(foreign["fix"].as_str().unwrap().contains("git okstra hooks install"), "{foreign:#}");
    let status = env.okstra(&repo, &["hooks", "status", "--json"]).ok().json();
    assert_eq!(status["complete"], false);

    let (code, v) = doctor(&env, &repo, true);
    assert_eq!(code, 1, "the foreign hook remains: {v:#}");
    assert_eq!(v["remaining"], 1);
    for f in v["findings"].as_array().unwrap() {
        let file = f["subject"].as_str().unwrap();
        assert_eq!(f["repaired"], !file.ends_with("prepare-commit-msg"), "{f:#}");
    }
    // The foreign hook is untouched; the chained one is still chained.
    assert_eq!(std::fs::read_to_string(hooks.join("prepare-commit-msg")).unwrap(), foreign_msg);
    assert!(!hooks.join("prepare-commit-msg.okstra-chained").exists());
    assert_eq!(std::fs::read_to_string(hooks.join("pre-push.okstra-chained")).unwrap(), foreign_push);
    let status = env.okstra(&repo, &["hooks", "status", "--json"]).ok().json();
    let states: Vec<(String, String)> = status["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["name"].as_str().unwrap().to_string(), h["state"].as_str().unwrap().to_string()))
        .collect();
    let want: Vec<(String, String)> = [
        ("pre-commit", "installed"),
        ("pre-merge-commit", "installed"),
        ("prepare-commit-msg", "missing"),
        ("pre-push", "chained"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(states, want);
    let (_, v) = doctor(&env, &repo, false);
    assert_eq!(
        hook_findings(&v),
        [triple("chained-hook", "note", "pre-push"), triple("missing-hook", "problem", "prepare-commit-msg")]
    );

    // The user's call: install chains the foreign hook, and doctor is content.
    env.okstra(&repo, &["hooks", "install"]).ok();
    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(
        hook_findings(&v),
        [triple("chained-hook", "note", "pre-push"), triple("chained-hook", "note", "prepare-commit-msg")]
    );
}

#[test]
fn hooks_are_checked_from_a_task_worktree_too() {
    let env = Env::new();
    let repo = env.repo("proj");
    let wt = start(&env, &repo, "DEV-1");
    env.okstra(&repo, &["hooks", "install"]).ok();
    std::fs::remove_file(repo.join(".git/hooks/pre-merge-commit")).unwrap();
    let (code, v) = doctor(&env, &wt, false);
    assert_eq!((code, hook_findings(&v)), (1, vec![triple("missing-hook", "problem", "pre-merge-commit")]));
    assert_eq!(doctor(&env, &wt, true).0, 0);
    assert!(repo.join(".git/hooks/pre-merge-commit").is_file());
}

/// Set the mtime of `p` to `secs` seconds ago.
fn age_file(p: &Path, secs: u64) {
    let f = std::fs::File::options().write(true).open(p).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(secs)).unwrap();
}

fn finding<'a>(v: &'a serde_json::Value, subject: &Path) -> &'a serde_json::Value {
    let s = subject.to_str().unwrap();
    v["findings"].as_array().unwrap().iter().find(|f| f["subject"] == s).unwrap_or_else(|| panic!("{s}: {v:#}"))
}

#[test]
fn registry_temp_files_of_dead_processes_are_removed_and_live_ones_left() {
    let env = Env::new();
    let repo = env.repo("proj");
    start(&env, &repo, "DEV-1");
    let dir = env.okstra_home.join("worktrees");
    // far above any pid_max: never a live process
    let dead = dir.join("registry.json.tmp-999999999");
    let live = dir.join(format!("registry.json.tmp-{}", std::process::id()));
    let other = dir.join("registry.json.tmp-notapid");
    for f in [&dead, &live, &other] {
        std::fs::write(f, "{\"half\":").unwrap();
    }
    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(code, 1);
    assert_eq!(kinds(&v), ["stale-registry-temp"]);
    assert_eq!(finding(&v, &dead)["repairable"], true);
    assert!(dead.exists());

    let (code, v) = doctor(&env, &repo, true);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(finding(&v, &dead)["repaired"], true);
    assert!(!dead.exists());
    assert!(live.exists() && other.exists(), "a live process's file and a foreign name are not ours to remove");
    assert!(env.registry()["tasks"].get("proj/default/dev-1").is_some());
    assert_eq!(doctor(&env, &repo, false).0, 0);
}

#[test]
fn stale_git_locks_are_reported_by_age_and_only_old_lock_files_removed() {
    let env = Env::new();
    let repo = env.repo("proj");
    let wt = start(&env, &repo, "DEV-1");
    let common = repo.join(".git");
    let admin =
        PathBuf::from(std::fs::read_to_string(wt.join(".git")).unwrap().trim().strip_prefix("gitdir: ").unwrap());
    let old = [
        common.join("packed-refs.lock"),
        common.join("index.lock"),
        admin.join("index.lock"),
        admin.join("HEAD.lock"),
        common.join("refs/heads/feat-dev-1.lock"),
    ];
    for f in &old {
        std::fs::write(f, "").unwrap();
        age_file(f, 3600);
    }
    let recent = common.join("refs/heads/main.lock"); // not a task branch: never looked at
    std::fs::write(&recent, "").unwrap();
    age_file(&recent, 3600);
    // A worktree a killed `git worktree add` left locked `initializing`.
    let half = env.root().join("half");
    env.git(&repo, &["worktree", "add", "-q", "-b", "half", half.to_str().unwrap()]);
    let half_locked = common.join("worktrees/half/locked");
    std::fs::write(&half_locked, "initializing").unwrap();
    age_file(&half_locked, 60);

    // Still young: a running git may own them.
    for f in old.iter().chain([&half_locked]) {
        age_file(f, 2);
    }
    let (code, v) = doctor(&env, &repo, false);
    assert_eq!((code, kinds(&v)), (0, Vec::<String>::new()), "{v:#}");

    // A minute old: reported, but --repair leaves them (a slow git may be alive).
    for f in old.iter().chain([&half_locked]) {
        age_file(f, 60);
    }
    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(code, 1);
    assert_eq!(kinds(&v), vec!["stale-git-lock"; 6]);
    let f = finding(&v, &old[0]);
    assert_eq!(f["repairable"], false);
    assert!(f["fix"].as_str().unwrap().contains("no git process is running in"), "{f}");
    let f = finding(&v, &half_locked);
    assert!(f["message"].as_str().unwrap().contains("initializing"), "{f}");
    let (code, _) = doctor(&env, &repo, true);
    assert_eq!(code, 1);
    assert!(old.iter().all(|f| f.exists()));

    // An hour old: --repair removes the .lock files, never the worktree lock.
    for f in &old {
        age_file(f, 3600);
    }
    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(finding(&v, &old[4])["repairable"], true);
    assert_eq!(code, 1);
    let (code, v) = doctor(&env, &repo, true);
    assert_eq!(code, 1, "the initializing worktree is left: {v:#}");
    assert!(old.iter().all(|f| !f.exists()));
    assert!(recent.exists() && half_locked.exists() && half.join(".git").exists());
    let f = finding(&v, &half_locked);
    assert_eq!(f["repaired"], false);
    // git works again
    env.commit_file(&wt, "w.txt", "w\n", "work");
    // The fix it names, then nothing is left.
    std::fs::remove_file(&half_locked).unwrap();
    env.git(&repo, &["worktree", "remove", "--force", half.to_str().unwrap()]);
    std::fs::remove_file(&recent).unwrap();
    assert_eq!(doctor(&env, &repo, false).0, 0);
}

#[test]
fn broken_worktree_entries_are_pruned_only_when_their_folder_is_gone() {
    let env = Env::new();
    let repo = env.repo("proj");
    let wt = start(&env, &repo, "DEV-1");
    std::fs::write(wt.join("unsaved.txt"), "precious\n").unwrap();
    let admin =
        PathBuf::from(std::fs::read_to_string(wt.join(".git")).unwrap().trim().strip_prefix("gitdir: ").unwrap());
    std::fs::remove_file(admin.join("commondir")).unwrap();
    let gone = env.root().join("gone");
    env.git(&repo, &["worktree", "add", "-q", "-b", "gone", gone.to_str().unwrap()]);
    let gone_admin = repo.join(".git/worktrees/gone");
    std::fs::remove_file(gone_admin.join("commondir")).unwrap();
    std::fs::remove_dir_all(&gone).unwrap();

    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(code, 1);
    let admin = std::fs::canonicalize(&admin).unwrap();
    let gone_admin = std::fs::canonicalize(&gone_admin).unwrap();
    let kept = finding(&v, &admin);
    assert_eq!(
        (&kept["kind"], &kept["repairable"]),
        (&serde_json::json!("broken-worktree-entry"), &serde_json::json!(false))
    );
    assert!(kept["fix"].as_str().unwrap().contains("commondir"), "{kept}");
    assert_eq!(finding(&v, &gone_admin)["repairable"], true);

    let (code, v) = doctor(&env, &repo, true);
    assert_eq!(code, 1, "{v:#}");
    assert!(!gone_admin.exists());
    assert!(admin.exists());
    assert_eq!(std::fs::read_to_string(wt.join("unsaved.txt")).unwrap(), "precious\n");
    // The fix it names works.
    std::fs::write(admin.join("commondir"), "../..\n").unwrap();
    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(code, 0, "{v:#}");

    // No `gitdir`: pruned when no task worktree uses the entry (a killed add or remove), left
    // when one does.
    let wt2 = start(&env, &repo, "DEV-2");
    let admin2 =
        PathBuf::from(std::fs::read_to_string(wt2.join(".git")).unwrap().trim().strip_prefix("gitdir: ").unwrap());
    std::fs::remove_file(admin2.join("gitdir")).unwrap();
    let half = env.root().join("half");
    env.git(&repo, &["worktree", "add", "-q", "-b", "half", half.to_str().unwrap()]);
    let half_admin = std::fs::canonicalize(repo.join(".git/worktrees/half")).unwrap();
    std::fs::remove_dir_all(&half).unwrap();
    std::fs::remove_file(half_admin.join("gitdir")).unwrap();
    std::fs::remove_file(half_admin.join("commondir")).unwrap();
    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(code, 1);
    let admin2 = std::fs::canonicalize(&admin2).unwrap();
    assert_eq!(finding(&v, &admin2)["repairable"], false);
    assert_eq!(finding(&v, &half_admin)["repairable"], true);
    // `git worktree prune` would drop DEV-2's entry too: refused until that one is fixed.
    let (code, v) = doctor(&env, &repo, true);
    assert_eq!(code, 1);
    assert!(finding(&v, &half_admin)["action"].as_str().unwrap().contains("would also drop"), "{v:#}");
    assert!(half_admin.exists() && admin2.join("HEAD").exists());
    env.git(&wt2, &["status"]);
    env.git(&repo, &["worktree", "repair", wt2.to_str().unwrap()]);
    let (code, v) = doctor(&env, &repo, true);
    assert_eq!(code, 0, "{v:#}");
    assert!(!half_admin.exists());
    assert_eq!(doctor(&env, &repo, false).0, 0);
    env.okstra(&repo, &["task", "release", "DEV-1", "--remove", "--force"]).ok();
}

#[test]
fn several_orphan_worktree_entries_are_pruned_in_one_repair() {
    // Kills during `git worktree add`/`remove` can leave several entries without `gitdir`
    // (each with a HEAD): one must not hold the other back.
    let env = Env::new();
    let repo = env.repo("proj");
    let mut admins = Vec::new();
    for name in ["half-a", "half-b"] {
        let dir = env.root().join(name);
        env.git(&repo, &["worktree", "add", "-q", "-b", name, dir.to_str().unwrap()]);
        let admin = std::fs::canonicalize(repo.join(".git/worktrees").join(name)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_file(admin.join("gitdir")).unwrap();
        assert!(admin.join("HEAD").is_file());
        admins.push(admin);
    }
    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(code, 1);
    for a in &admins {
        assert_eq!(finding(&v, a)["repairable"], true, "{v:#}");
    }
    let (code, v) = doctor(&env, &repo, true);
    assert_eq!(code, 0, "{v:#}");
    assert!(admins.iter().all(|a| !a.exists()));
}

#[test]
fn an_abandoned_initializing_entry_without_gitdir_is_pruned() {
    // `git worktree add` killed right after it locked its new entry `initializing`.
    let env = Env::new();
    let repo = env.repo("proj");
    let dir = env.root().join("half");
    env.git(&repo, &["worktree", "add", "-q", "-b", "half", dir.to_str().unwrap()]);
    let admin = std::fs::canonicalize(repo.join(".git/worktrees/half")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_file(admin.join("gitdir")).unwrap();
    std::fs::remove_file(admin.join("commondir")).unwrap();
    let locked = admin.join("locked");
    std::fs::write(&locked, "initializing").unwrap();
    // a fresh lock may still belong to a running add: left alone
    let (code, _) = doctor(&env, &repo, true);
    assert_eq!(code, 1);
    assert!(locked.exists());
    age_file(&locked, 60);
    let (code, v) = doctor(&env, &repo, true);
    assert!(!admin.exists(), "{v:#}");
    let (code2, v2) = doctor(&env, &repo, false);
    assert_eq!((code, code2), (0, 0), "{v:#} {v2:#}");
    // killed before the lock's reason was written: an empty lock file, same outcome
    env.git(&repo, &["worktree", "add", "-q", "-b", "half2", dir.to_str().unwrap()]);
    let admin = std::fs::canonicalize(repo.join(".git/worktrees/half")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_file(admin.join("gitdir")).unwrap();
    std::fs::write(admin.join("locked"), "").unwrap();
    age_file(&admin.join("locked"), 60);
    assert_eq!(doctor(&env, &repo, true).0, 0);
    assert!(!admin.exists());
}

/// Move a repository folder (as `mv` does) and return its new place.
fn move_repo(env: &Env, repo: &Path, to: &str) -> PathBuf {
    let new = env.root().join(to);
    std::fs::create_dir_all(new.parent().unwrap()).unwrap();
    std::fs::rename(repo, &new).unwrap();
    new
}

#[test]
fn a_moved_main_repository_is_recognised_and_repaired() {
    let env = Env::new();
    let repo = env.repo("shop");
    std::fs::create_dir_all(repo.join(".project-docs")).unwrap();
    let wt = start(&env, &repo, "DEV-1");
    env.commit_file(&wt, "w.txt", "work", "task work");
    let tip = env.git(&wt, &["rev-parse", "HEAD"]);
    let new = move_repo(&env, &repo, "elsewhere/shop");

    // from outside the new place: reported, not repairable, never `missing-branch`
    let (code, v) = doctor(&env, &env.root(), true);
    assert_eq!(code, 1);
    assert_eq!(kinds(&v), ["moved-repository"], "{v:#}");
    assert_eq!(v["findings"][0]["repairable"], false);
    assert!(v["findings"][0]["fix"].as_str().unwrap().contains("okstra doctor --repair"), "{v:#}");
    // in the new place: `task start` names the move, never "belongs to no task"
    let r = env.okstra(&new, &["task", "start", "DEV-1"]).fails(1);
    assert!(r.stderr.contains("was the repository moved here?"), "{}", r.stderr);
    assert!(r.stderr.contains("doctor --repair"), "{}", r.stderr);
    let (code, v) = doctor(&env, &new, false);
    assert_eq!(code, 1);
    assert_eq!(kinds(&v), ["moved-repository"], "{v:#}");
    let (code, v) = doctor(&env, &new, true);
    assert_eq!(code, 0, "one repair is enough: {v:#}");
    assert_eq!(v["findings"][0]["repaired"], true, "{v:#}");

    let again = env.okstra(&new, &["task", "start", "DEV-1", "--json"]).ok().json();
    assert_eq!(again["status"], "reused");
    assert_eq!(again["repo"], new.to_str().unwrap());
    assert_eq!(env.git(&wt, &["rev-parse", "HEAD"]), tip, "the worktree works again");
    assert_eq!(std::fs::read_link(wt.join(".project-docs")).unwrap(), new.join(".project-docs"));
    let list = env.okstra(&new, &["task", "list", "--json"]).ok().json();
    assert_eq!(list["tasks"][0]["health"], "ok");
    let (code, _) = doctor(&env, &new, false);
    assert_eq!(code, 0);
    env.okstra(&new, &["task", "release", "DEV-1", "--remove", "--force"]).ok();
    assert!(!wt.exists());
}

#[test]
fn a_renamed_main_repository_keeps_its_task_keys() {
    let env = Env::new();
    let repo = env.repo("shop");
    let wt = start(&env, &repo, "DEV-1");
    let new = move_repo(&env, &repo, "shop-renamed");
    let r = env.okstra(&new, &["task", "start", "DEV-1"]).fails(1);
    assert!(!r.stderr.contains("belongs to no task"), "{}", r.stderr);
    assert!(r.stderr.contains("was the repository moved here?"), "{}", r.stderr);
    let (code, v) = doctor(&env, &new, true);
    assert_eq!(code, 0, "{v:#}");
    assert!(v["findings"][0]["action"].as_str().unwrap().contains("okstra.project = shop"), "{v:#}");
    assert_eq!(env.git(&new, &["config", "okstra.project"]), "shop");
    let again = env.okstra(&new, &["task", "start", "DEV-1", "--json"]).ok().json();
    assert_eq!(again["status"], "reused");
    assert_eq!(again["key"], "shop/default/dev-1");
    assert_eq!(PathBuf::from(again["path"].as_str().unwrap()), wt);
}

#[test]
fn a_worktree_moved_with_git_worktree_move_is_recognised_and_repaired() {
    let env = Env::new();
    let repo = env.repo("proj");
    let wt = start(&env, &repo, "DEV-2");
    env.commit_file(&wt, "w.txt", "work", "task work");
    let to = env.root().join("moved/dev-2");
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    env.git(&repo, &["worktree", "move", wt.to_str().unwrap(), to.to_str().unwrap()]);
    let (code, v) = doctor(&env, &repo, false);
    assert_eq!(code, 1);
    assert_eq!(kinds(&v), ["moved-worktree"], "never missing-worktree with a fix that fails: {v:#}");
    let r = env.okstra(&repo, &["task", "start", "DEV-2"]).fails(1);
    assert!(r.stderr.contains(&format!("checked out in {}", to.display())), "{}", r.stderr);
    assert!(r.stderr.contains("doctor --repair"), "{}", r.stderr);
    let (code, v) = doctor(&env, &repo, true);
    assert_eq!(code, 0, "{v:#}");
    let again = env.okstra(&repo, &["task", "start", "DEV-2", "--json"]).ok().json();
    assert_eq!(again["status"], "reused");
    assert_eq!(PathBuf::from(again["path"].as_str().unwrap()), to);
    assert_eq!(env.registry()["tasks"]["proj/default/dev-2"]["worktree_path"], to.to_str().unwrap());
    // outside $OKSTRA_HOME now: never removed by okstra, released as usual
    let r = env.okstra(&repo, &["task", "release", "DEV-2", "--remove", "--force"]).fails(1);
    assert!(r.stderr.contains("outside"), "{}", r.stderr);
    env.okstra(&repo, &["task", "release", "DEV-2"]).ok();
    assert!(to.join("w.txt").exists());
}

#[test]
fn a_missing_or_tampered_task_marker_is_reported_and_rewritten() {
    let env = Env::new();
    let repo = env.repo("proj");
    let wt = start(&env, &repo, "DEV-1");
    let git_dir = PathBuf::from(env.git(&wt, &["rev-parse", "--absolute-git-dir"]));
    let marker = git_dir.join("okstra/task");
    let written = std::fs::read_to_string(&marker).expect("task start writes the marker");
    assert_eq!(doctor(&env, &repo, false).0, 0);

    for (tamper, says) in [
        (None, "is missing"),
        (Some("whatever\n".to_string()), "does not read as one"),
        (Some("okstra-task 1\n/elsewhere/.okstra\n".to_string()), "names another okstra home (/elsewhere/.okstra)"),
    ] {
        match &tamper {
            None => std::fs::remove_file(&marker).unwrap(),
            Some(text) => std::fs::write(&marker, text).unwrap(),
        }
        let (code, v) = doctor(&env, &repo, false);
        assert_eq!((code, kinds(&v)), (1, vec!["task-marker".to_string()]), "{v}");
        let f = &v["findings"][0];
        assert_eq!(f["subject"], "proj/default/dev-1");
        assert!(f["message"].as_str().unwrap().contains(says), "{f}");
        assert_eq!(f["repairable"], true);

        let (code, v) = doctor(&env, &repo, true);
        assert_eq!(code, 0, "{v}");
        assert_eq!(v["findings"][0]["repaired"], true, "{v}");
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), written, "rewritten as task start writes it");
        assert_eq!(doctor(&env, &repo, false).0, 0);
    }
    // The next `task start` of the task writes it as well, and leaves a good one alone.
    for tamper in [None, Some("okstra-task 1\n/elsewhere/.okstra\n")] {
        match tamper {
            None => std::fs::remove_file(&marker).unwrap(),
            Some(text) => std::fs::write(&marker, text).unwrap(),
        }
        assert_eq!(env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json()["status"], "reused");
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), written);
    }
    let before = std::fs::metadata(&marker).unwrap().modified().unwrap();
    env.okstra(&repo, &["task", "start", "DEV-1"]).ok();
    assert_eq!(std::fs::metadata(&marker).unwrap().modified().unwrap(), before);
}
