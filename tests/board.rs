//! `task list` as a status board, `--waiting`, `--watch`, and detached agents in real tmux
//! (each test's own server, under its temp folder; `Env` ends it when the test ends).
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Env, Rng, Run};

fn path_of(v: &serde_json::Value) -> PathBuf {
    PathBuf::from(v["path"].as_str().unwrap())
}

fn start(env: &Env, repo: &Path, args: &[&str]) -> PathBuf {
    let mut all = vec!["task", "start"];
    all.extend_from_slice(args);
    all.push("--json");
    path_of(&env.okstra(repo, &all).ok().json())
}

/// The board's JSON entries by task id.
fn board(env: &Env, repo: &Path, extra: &[&str], vars: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let mut args = vec!["task", "list", "--json"];
    args.extend_from_slice(extra);
    env.okstra_env(repo, &args, vars).ok().json()["tasks"].as_array().unwrap().clone()
}

fn by_id<'a>(tasks: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    tasks.iter().find(|t| t["task_id"] == id).unwrap_or_else(|| panic!("no {id} in {tasks:?}"))
}

fn runs(repo: &Path, task: &str) -> PathBuf {
    repo.join(".project-docs/okstra/tasks").join(task).join("runs")
}

/// Poll `f` every 20 ms until it holds; fail after 20 s.
#[track_caller]
fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(20), "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn fields_against_real_repositories() {
    let env = Env::new();
    let repo = env.repo("proj");
    let w1 = start(&env, &repo, &["DEV-1", "--title", "Fix the cart totals"]);
    let w2 = start(&env, &repo, &["DEV-2"]);
    start(&env, &repo, &["DEV-3"]);
    // Commits on both sides: DEV-1 is 2 ahead of main and 1 behind.
    env.commit_file(&w1, "a.txt", "a", "a");
    env.commit_file(&w1, "b.txt", "b", "b");
    env.commit_file(&repo, "main.txt", "m", "on main");
    // DEV-2: one tracked change, one rename, two untracked files.
    env.commit_file(&w2, "old.txt", "o", "old");
    std::fs::write(w2.join("README.md"), "changed\n").unwrap();
    env.git(&w2, &["mv", "old.txt", "new.txt"]);
    std::fs::write(w2.join("u1"), "").unwrap();
    std::fs::write(w2.join("u2"), "").unwrap();

    let fast = board(&env, &repo, &[], &[]);
    let (t1, t2, t3) = (by_id(&fast, "dev-1"), by_id(&fast, "dev-2"), by_id(&fast, "dev-3"));
    assert_eq!((&t1["ahead"], &t1["behind"], &t1["compared_with"]), (&2.into(), &1.into(), &"main".into()));
    assert_eq!((&t2["ahead"], &t2["behind"]), (&1.into(), &1.into()));
    assert_eq!((&t3["ahead"], &t3["behind"]), (&0.into(), &1.into()));
    assert_eq!(t2["changed_files"], serde_json::Value::Null, "changes are counted only with --dirty");
    for t in [t1, t2, t3] {
        for field in ["run", "agent", "pr", "waiting_reason"] {
            assert!(t[field].is_null(), "{field}: {t}");
        }
        assert_eq!(t["waiting"], false);
        assert_eq!(t["notices"], serde_json::json!([]));
        assert!(t["age_seconds"].as_i64().unwrap() >= 0 && t["activity_at"].is_string());
    }
    let full = board(&env, &repo, &["--dirty"], &[]);
    assert_eq!(by_id(&full, "dev-2")["changed_files"], 4, "README.md, the rename (once), u1, u2");
    assert_eq!(by_id(&full, "dev-2")["health"], "dirty");
    assert_eq!(by_id(&full, "dev-1")["changed_files"], 0);

    // Counting changes never writes a worktree's index (an agent's `git add` there would find
    // index.lock taken): a file whose stat data changed would make plain `git status` save it.
    let index = PathBuf::from(env.git(&w1, &["rev-parse", "--path-format=absolute", "--git-path", "index"]));
    let before = std::fs::read(&index).unwrap();
    let a = std::fs::File::options().write(true).open(w1.join("a.txt")).unwrap();
    a.set_modified(std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000)).unwrap();
    drop(a);
    env.okstra(&repo, &["task", "list", "--dirty"]).ok();
    assert_eq!(std::fs::read(&index).unwrap(), before, "the index is untouched");
    env.git(&w1, &["status", "--porcelain"]);
    assert_ne!(std::fs::read(&index).unwrap(), before, "while plain git status rewrites it");
    let table = env.okstra(&repo, &["task", "list", "--dirty"]).ok().stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["TASK", "TITLE", "PHASE", "STATE", "AGENT", "BASE", "FILES", "PR", "AGE", "NOTES"]
    );
    let dev1: Vec<&str> = lines[1].split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(&dev1[..8], ["DEV-1", "Fix the cart totals", "-", "-", "-", "+2 -1", "0", "-"], "{table}");
    assert!(!table.contains('\x1b') && !table.contains('↑'), "not a terminal: plain text\n{table}");

    // A missing worktree is a notice; the board still lists the task.
    std::fs::remove_dir_all(start(&env, &repo, &["DEV-4"])).unwrap();
    let t4 = board(&env, &repo, &[], &[]).into_iter().find(|t| t["task_id"] == "dev-4").unwrap();
    assert_eq!(t4["notices"], serde_json::json!(["missing-worktree"]));
    assert!(env.okstra(&repo, &["task", "list"]).ok().stdout.contains("missing-worktree"));
}

/// How many paths git's own `git status --porcelain=v1 --untracked-files=normal` lists in
/// `dir` (a rename or copy once), read without refreshing the index.
fn git_count(env: &Env, dir: &Path) -> u64 {
    let out = env.git(dir, &["--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=normal"]);
    let mut fields = out.split('\0').filter(|f| !f.is_empty());
    let mut n = 0;
    while let Some(entry) = fields.next() {
        n += 1;
        if entry.starts_with(['R', 'C']) {
            fields.next();
        }
    }
    n
}

/// The worktrees whose changes a `-v` board counted by running `git status`.
fn counted_by_git(stderr: &str, worktrees: &[(&str, PathBuf, u64, bool)]) -> Vec<String> {
    let status_lines: Vec<&str> = stderr.lines().filter(|l| l.contains(" status --porcelain")).collect();
    worktrees
        .iter()
        .filter(|(_, w, ..)| status_lines.iter().any(|l| l.contains(&format!("(cd {} && ", w.display()))))
        .map(|(id, ..)| id.to_string())
        .collect()
}

/// Set `path`'s modification time, leaving its content alone.
fn set_mtime(path: &Path, t: std::time::SystemTime) {
    std::fs::File::options().write(true).open(path).unwrap().set_modified(t).unwrap();
}

#[test]
fn change_counts_match_git_status_in_every_state() {
    let env = Env::new();
    let repo = env.repo("proj");
    std::fs::create_dir_all(repo.join("lib")).unwrap();
    for (f, body) in [("lib/a.txt", "a\n"), ("lib/b.txt", "b\n"), (".gitignore", "*.log\nbuild/\n")] {
        std::fs::write(repo.join(f), body).unwrap();
    }
    std::fs::write(repo.join(".gitattributes"), "crlf.txt text eol=crlf\n").unwrap();
    std::fs::write(repo.join("crlf.txt"), "one\ntwo\n").unwrap();
    env.git(&repo, &["add", "."]);
    env.git(&repo, &["commit", "-q", "-m", "files"]);
    // Only the racy case below depends on it: with ctime trusted a rewrite is seen anyway.
    env.git(&repo, &["config", "core.trustctime", "false"]);
    let index_of =
        |dir: &Path| PathBuf::from(env.git(dir, &["rev-parse", "--path-format=absolute", "--git-path", "index"]));
    // A checkout this small is written within the clock tick of its index, so every entry
    // would be racy and read anyway; an index dated a minute later makes the stat data count.
    let w = |id: &str| {
        let dir = start(&env, &repo, &[id]);
        set_mtime(&index_of(&dir), std::time::SystemTime::now() + Duration::from_secs(60));
        dir
    };
    let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);

    let clean = w("CLEAN");
    let edits = w("EDITS"); // ` M`, `A `, `MM`
    std::fs::write(edits.join("lib/a.txt"), "a2\n").unwrap();
    std::fs::write(edits.join("new.txt"), "n\n").unwrap();
    std::fs::write(edits.join("lib/b.txt"), "b2\n").unwrap();
    env.git(&edits, &["add", "new.txt", "lib/b.txt"]);
    std::fs::write(edits.join("lib/b.txt"), "b3\n").unwrap();
    // Staged only (an addition and a modification), the index dated after its files.
    let staged = w("STAGED");
    std::fs::write(staged.join("lib/a.txt"), "a2\n").unwrap();
    std::fs::write(staged.join("new.txt"), "n\n").unwrap();
    env.git(&staged, &["add", "new.txt", "lib/a.txt"]);
    set_mtime(&index_of(&staged), std::time::SystemTime::now() + Duration::from_secs(60));
    let deletes = w("DELETES"); // ` D`, and `D ` beside `??` for a file kept on disk
    std::fs::remove_file(deletes.join("lib/a.txt")).unwrap();
    env.git(&deletes, &["rm", "-q", "--cached", "lib/b.txt"]);
    let untracked = w("UNTRACKED"); // `u.txt`, `deep/` once, `lib/new.txt`; nothing ignored or empty
    for f in ["u.txt", "deep/er/x.txt", "lib/new.txt", "build/out.o", "x.log", "only-ignored/y.log"] {
        let p = untracked.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "u\n").unwrap();
    }
    std::fs::create_dir_all(untracked.join("empty")).unwrap();
    // Untracked entries git does not list (ignored, an empty folder, a `.git` folder): the
    // listing of folders sees them, so the walk decides; and one new file in a tracked folder.
    let ignored = w("IGNORED");
    for f in ["x.log", "build/out.o", "lib/y.log", "lib/.git/HEAD"] {
        let p = ignored.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "i\n").unwrap();
    }
    std::fs::create_dir_all(ignored.join("lib/empty")).unwrap();
    let one_new = w("ONE-NEW");
    std::fs::write(one_new.join("lib/new.txt"), "n\n").unwrap();
    // A tracked file become a folder of new files, a tracked folder become a symlink to
    // another, and nothing new but an empty folder: the stat pass hands the first two to the
    // full status, and the folder listing sends the third to the walk (git lists nothing).
    let file_to_dir = w("FILE-TO-DIR");
    std::fs::remove_file(file_to_dir.join("lib/a.txt")).unwrap();
    std::fs::create_dir_all(file_to_dir.join("lib/a.txt")).unwrap();
    std::fs::write(file_to_dir.join("lib/a.txt/x.txt"), "x\n").unwrap();
    let dir_to_link = w("DIR-TO-LINK");
    std::fs::rename(dir_to_link.join("lib"), dir_to_link.join("lib2")).unwrap();
    std::os::unix::fs::symlink("lib2", dir_to_link.join("lib")).unwrap();
    let empty_new = w("EMPTY-NEW");
    std::fs::create_dir_all(empty_new.join("lib/later")).unwrap();
    // Every tracked file of a folder deleted and new ones in it: git lists each new file
    // (gix would collapse the folder into one path), so git counts it.
    let emptied = w("EMPTIED");
    for f in ["lib/a.txt", "lib/b.txt"] {
        std::fs::remove_file(emptied.join(f)).unwrap();
    }
    std::fs::write(emptied.join("lib/c.txt"), "c\n").unwrap();
    std::fs::write(emptied.join("lib/d.txt"), "d\n").unwrap();
    // An executable bit (a chmod touches only the ctime, not trusted here), a file become a
    // symlink: each alone, so that the stat data decides.
    let exec = w("EXEC");
    std::fs::set_permissions(exec.join("lib/a.txt"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // A file grown and a file shrunk: another size than the recorded one is a change git
    // lists without reading the file.
    let grown = w("GROWN");
    std::fs::write(grown.join("lib/a.txt"), "a, and more\n").unwrap();
    std::fs::write(grown.join("lib/b.txt"), "\n").unwrap();
    let symlink = w("SYMLINK");
    std::fs::remove_file(symlink.join("lib/b.txt")).unwrap();
    std::os::unix::fs::symlink("a.txt", symlink.join("lib/b.txt")).unwrap();
    // New timestamps on unchanged files (one stored with CRLF, compared after conversion).
    let touched = w("TOUCHED");
    set_mtime(&touched.join("lib/a.txt"), old);
    set_mtime(&touched.join("crlf.txt"), old);
    // A same-size rewrite whose stat data matches the index entry: only the racy-entry rule
    // (written no earlier than the index) makes either reader look at the content.
    let racy = w("RACY");
    let b = racy.join("lib/b.txt");
    let recorded = std::fs::metadata(&b).unwrap().modified().unwrap();
    std::fs::write(&b, "B\n").unwrap();
    set_mtime(&b, recorded);
    set_mtime(&index_of(&racy), recorded);
    let renamed = w("RENAMED");
    env.git(&renamed, &["mv", "lib/a.txt", "lib/c.txt"]);
    let conflict = w("CONFLICT");
    env.commit_file(&conflict, "README.md", "ours\n", "ours");
    env.commit_file(&repo, "README.md", "theirs\n", "theirs");
    assert_ne!(env.git_run(&conflict, &["merge", "-q", "main"]).code, 0, "the merge stops on the conflict");
    let ita = w("ITA");
    std::fs::write(ita.join("later.txt"), "l\n").unwrap();
    env.git(&ita, &["add", "-N", "later.txt"]);
    let gitlink = w("GITLINK");
    let head = env.git(&repo, &["rev-parse", "HEAD"]);
    env.git(&gitlink, &["update-index", "--add", "--cacheinfo", &format!("160000,{head},sub")]);

    // (id, worktree, what git lists, whether git's rules decide it)
    let cases = [
        ("clean", clean, 0, false),
        ("edits", edits, 3, false),
        ("staged", staged, 2, false),
        ("deletes", deletes, 3, true),
        ("untracked", untracked, 3, false),
        ("ignored", ignored, 0, false),
        ("one-new", one_new, 1, false),
        ("file-to-dir", file_to_dir, 1, false),
        ("dir-to-link", dir_to_link, 4, false),
        ("empty-new", empty_new, 0, false),
        ("emptied", emptied, 4, true),
        ("exec", exec, 1, false),
        ("symlink", symlink, 1, false),
        ("grown", grown, 2, false),
        ("touched", touched, 0, false),
        ("racy", racy, 1, false),
        ("renamed", renamed, 1, true),
        ("conflict", conflict, 1, true),
        ("ita", ita, 1, true),
        ("gitlink", gitlink, 1, true),
    ];
    let run = env.okstra(&repo, &["-v", "task", "list", "--dirty", "--json"]).ok();
    let tasks = run.json()["tasks"].as_array().unwrap().clone();
    for (id, dir, expected, _) in &cases {
        assert_eq!(git_count(&env, dir), *expected, "{id}: git's own count");
        assert_eq!(by_id(&tasks, id)["changed_files"], *expected, "{id}");
    }
    let by_git: Vec<&str> = cases.iter().filter(|c| c.3).map(|c| c.0).collect();
    assert_eq!(counted_by_git(&run.stderr, &cases), by_git, "plain states are counted without starting git");
    // The cases whose worktree the debug output names with `what`.
    let logged = |what: &str| -> Vec<&str> {
        let said = |w: &PathBuf| run.stderr.contains(&format!("{}: {what}", w.display()));
        cases.iter().filter(|(_, w, ..)| said(w)).map(|c| c.0).collect()
    };
    let settled = logged("tracked files settled from stat data");
    // (A `git mv` keeps the file as it was: the staged side then hands it to git.)
    assert_eq!(
        settled,
        ["clean", "staged", "untracked", "ignored", "one-new", "empty-new", "exec", "symlink", "grown", "renamed"],
        "where stat data alone settles every tracked file"
    );
    let unwalked = logged("every folder entry is tracked");
    assert_eq!(
        unwalked,
        ["clean", "staged", "exec", "symlink", "grown", "renamed"],
        "no walk where nothing is untracked"
    );

    // A filter driver (Git LFS's kind) runs a program to compare files: git counts them all.
    env.git(&repo, &["config", "filter.lfs.clean", "cat"]);
    let run = env.okstra(&repo, &["-v", "task", "list", "--dirty", "--json"]).ok();
    let tasks = run.json()["tasks"].as_array().unwrap().clone();
    for (id, _, expected, _) in &cases {
        assert_eq!(by_id(&tasks, id)["changed_files"], *expected, "{id}, counted by git");
    }
    assert_eq!(counted_by_git(&run.stderr, &cases).len(), cases.len());
}

#[test]
fn what_needs_you_and_the_waiting_exit_code() {
    let env = Env::new();
    let repo = env.repo("proj");
    std::fs::create_dir_all(repo.join(".project-docs")).unwrap();
    start(&env, &repo, &["DEV-1"]);
    start(&env, &repo, &["DEV-2"]);
    let waiting = |env: &Env| env.okstra(&repo, &["task", "list", "--waiting"]);

    // Nothing waits: exit 1 and nothing printed, like grep.
    let r = waiting(&env).fails(1);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
    // A prompt rendered with no agent started by okstra: whoever runs the agent knows.
    env.okstra(&repo, &["task", "phase", "DEV-1", "implementation-planning"]).ok();
    let t = by_id(&board(&env, &repo, &[], &[]), "dev-1").clone();
    assert_eq!(
        (&t["run"]["state"], &t["run"]["number"], &t["waiting"]),
        (&"prompted".into(), &1.into(), &false.into())
    );
    waiting(&env).fails(1);

    // The plan is written: it waits for the user's approval.
    let plan = runs(&repo, "dev-1").join("001-implementation-planning/plan.md");
    std::fs::write(&plan, "# Plan\n\n- [ ] Approved\n").unwrap();
    let r = waiting(&env).ok();
    assert_eq!(r.stdout.lines().count(), 2, "{}", r.stdout);
    assert!(r.stdout.contains("DEV-1") && r.stdout.contains("waiting: plan awaits approval"), "{}", r.stdout);
    assert!(!r.stdout.contains("DEV-2"));
    let j = env.okstra(&repo, &["task", "list", "--waiting", "--json"]).ok().json();
    assert_eq!(j["tasks"][0]["run"]["state"], "awaiting-approval");
    assert_eq!(j["tasks"][0]["waiting_reason"], "plan-awaits-approval");
    assert_eq!(j["tasks"].as_array().unwrap().len(), 1);

    // Approved but implementation not started: the phase ended, still the user's move.
    std::fs::write(&plan, "# Plan\n\n## Files\n\n- src/\n\n- [x] Approved\n").unwrap();
    let t = by_id(&board(&env, &repo, &[], &[]), "dev-1").clone();
    assert_eq!((&t["run"]["state"], &t["waiting_reason"]), (&"approved".into(), &"phase-ended".into()));
    // The next phase started: nothing waits.
    env.okstra(&repo, &["task", "phase", "DEV-1", "implementation", "--approved-plan", plan.to_str().unwrap()]).ok();
    waiting(&env).fails(1);

    // A verdict is in: waiting; a finished agent run: waiting with its exit status.
    let fv = runs(&repo, "dev-2").join("001-final-verification");
    env.okstra(&repo, &["task", "phase", "DEV-2", "final-verification"]).ok();
    std::fs::write(fv.join("final-verification-report.md"), "## 2. Final Verdict\n\nblocked\n").unwrap();
    let t = by_id(&board(&env, &repo, &[], &[]), "dev-2").clone();
    assert_eq!((&t["run"]["state"], &t["waiting"]), (&"blocked".into(), &true.into()));
    let bin = env.root().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    common::write_exec(&bin.join("claude"), "#!/bin/sh\nexit 4\n");
    let path = common::path_with(&bin);
    env.okstra_env(&repo, &["task", "phase", "DEV-1", "error-analysis", "--exec", "claude"], &[("PATH", &path)])
        .fails(1);
    let t = by_id(&board(&env, &repo, &[], &[]), "dev-1").clone();
    assert_eq!(
        t["agent"],
        serde_json::json!({"name": "claude", "state": "exited", "exit_code": 4, "run": 3, "detached": false, "session": null, "idle_seconds": null})
    );
    assert_eq!((&t["run"]["state"], &t["waiting_reason"]), (&"failed".into(), &"agent-exited".into()));
    assert_eq!(waiting(&env).ok().stdout.lines().count(), 3);

    // Released tasks wait for nobody.
    env.okstra(&repo, &["task", "release", "DEV-1"]).ok();
    env.okstra(&repo, &["task", "release", "DEV-2"]).ok();
    waiting(&env).fails(1);
    let t = by_id(&board(&env, &repo, &[], &[]), "dev-1").clone();
    assert_eq!(t["notices"], serde_json::json!(["released"]));
}

#[test]
fn usage_and_missing_tool_errors() {
    let env = Env::new();
    let repo = env.repo("proj");
    start(&env, &repo, &["DEV-1"]);
    for args in [
        &["task", "list", "--watch", "--json"][..],
        &["task", "list", "--watch", "0"],
        &["task", "list", "--watch", "soon"],
        &["task", "list", "--watch", "--waiting"],
        &["task", "phase", "DEV-1", "error-analysis", "--detach"],
    ] {
        let r = env.okstra(&repo, args).fails(2);
        assert!(r.stderr.starts_with("error: "), "{args:?}: {}", r.stderr);
    }
    // --pr needs gh; the clean PATH has none.
    let r = env.okstra(&repo, &["task", "list", "--pr"]).fails(1);
    assert!(r.stderr.contains("gh was not found on PATH") && r.stderr.contains("hint:"), "{}", r.stderr);
    // Attach: a task without a session, and an unknown task.
    let r = env.okstra(&repo, &["task", "attach", "DEV-1"]).fails(1);
    assert!(r.stderr.contains("has no agent session (no tmux session okstra/proj/default/dev-1)"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: start one: `git okstra task phase proj/default/dev-1"), "{}", r.stderr);
    let r = env.okstra(&repo, &["task", "attach", "NOPE-1"]).fails(1);
    assert!(r.stderr.contains("no task 'NOPE-1'"), "{}", r.stderr);
}

/// A PATH with a stand-in agent `claude` first. The agent records its argv, folder and
/// environment in its run folder, prints a line, then waits for `exit-code` there and exits
/// with it. Without tmux: only the agent, git and what the agent runs, nothing else.
fn agent_path(env: &Env, with_tmux: bool) -> String {
    let bin = env.root().join(if with_tmux { "bin" } else { "bin-no-tmux" });
    std::fs::create_dir_all(&bin).unwrap();
    common::write_exec(
        &bin.join("claude"),
        "#!/bin/sh\nd=\"$OKSTRA_RUN_DIR\"\nprintf '%s\\0' \"$@\" > \"$d/agent-args\"\npwd -P > \"$d/agent-cwd\"\n\
         printf '%s|%s\\n' \"$OKSTRA_TASK_KEY\" \"${OKSTRA_ALLOW-unset}\" > \"$d/agent-env\"\n\
         echo \"agent for $OKSTRA_TASK_KEY working\"\n\
         while [ ! -e \"$d/exit-code\" ]; do sleep 0.02; done\nexit \"$(cat \"$d/exit-code\")\"\n",
    );
    if with_tmux {
        return common::path_with(&bin);
    }
    for tool in ["git", "sh", "cat", "sleep"] {
        let found = std::process::Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap();
        std::os::unix::fs::symlink(String::from_utf8(found.stdout).unwrap().trim(), bin.join(tool)).unwrap();
    }
    bin.to_string_lossy().into_owned()
}

/// Let a stand-in agent exit with `code` (renamed into place: the agent must never read a
/// half-written file).
fn release(run_dir: &Path, code: i32) {
    std::fs::write(run_dir.join("exit-code.tmp"), code.to_string()).unwrap();
    std::fs::rename(run_dir.join("exit-code.tmp"), run_dir.join("exit-code")).unwrap();
}

fn detach(env: &Env, repo: &Path, task: &str, phase: &str, path: &str) -> Run {
    env.okstra_env(
        repo,
        &["task", "phase", task, phase, "--exec", "claude", "--detach"],
        &[("PATH", path), ("OKSTRA_ALLOW", "non-fast-forward")],
    )
}

#[test]
fn detached_agents_for_three_tasks_at_once() {
    let env = Env::new();
    let repo = env.repo("proj");
    std::fs::create_dir_all(repo.join(".project-docs")).unwrap();
    let path = agent_path(&env, true);
    let ids = ["DEV-1", "DEV-2", "DEV-3"];
    // Three detached starts at once (unregistered ids: each phase run starts its task).
    let children: Vec<_> = ids
        .iter()
        .map(|id| {
            env.command(common::BIN, &repo)
                .args(["task", "phase", id, "requirements-discovery", "--exec", "claude", "--detach"])
                .env("PATH", &path)
                .env("OKSTRA_ALLOW", "non-fast-forward")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (id, c) in ids.iter().zip(children) {
        let c = c.wait_with_output().unwrap();
        assert!(c.status.success(), "{id}: {}", String::from_utf8_lossy(&c.stderr));
        let stderr = String::from_utf8_lossy(&c.stderr);
        assert!(stderr.contains(&format!("tmux session okstra/proj/default/{}", id.to_lowercase())), "{stderr}");
    }
    let sessions = env.tmux(&["list-sessions", "-F", "#{session_name}"]).ok().stdout;
    assert_eq!(
        sessions.lines().collect::<Vec<_>>(),
        ["okstra/proj/default/dev-1", "okstra/proj/default/dev-2", "okstra/proj/default/dev-3"]
    );

    // While they run.
    for id in ["dev-1", "dev-2", "dev-3"] {
        wait_until("each agent has started", || runs(&repo, id).join("001-requirements-discovery/agent-env").exists());
    }
    let tasks = board(&env, &repo, &[], &[("PATH", &path)]);
    for id in ["dev-1", "dev-2", "dev-3"] {
        let t = by_id(&tasks, id);
        let session = format!("okstra/proj/default/{id}");
        assert_eq!(
            (&t["agent"]["state"], &t["agent"]["session"], &t["agent"]["detached"]),
            (&"running".into(), &session.as_str().into(), &true.into())
        );
        assert_eq!((&t["run"]["state"], &t["waiting"]), (&"running".into(), &false.into()));
        let dir = runs(&repo, id).join("001-requirements-discovery");
        let wt = env.okstra_home.join("worktrees/proj/default").join(id);
        assert_eq!(std::fs::read_to_string(dir.join("agent-cwd")).unwrap().trim(), wt.to_str().unwrap());
        // The interactive form (the pane is a terminal): `claude <prompt>`, the prompt one argument.
        let launch = std::fs::read_to_string(dir.join("launch.md")).unwrap();
        assert_eq!(std::fs::read(dir.join("agent-args")).unwrap(), format!("{launch}\0").into_bytes());
        assert_eq!(
            std::fs::read_to_string(dir.join("agent-env")).unwrap(),
            format!("proj/default/{id}|unset\n"),
            "OKSTRA_ALLOW never reaches the agent"
        );
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(
            (&m["executor"]["session"], &m["executor"]["detached"], &m["executor"]["exit_code"]),
            (&session.as_str().into(), &true.into(), &serde_json::Value::Null)
        );
        assert!(m["times"]["exec_started_at"].is_string());
    }
    let table = env.okstra_env(&repo, &["task", "list"], &[("PATH", &path)]).ok().stdout;
    assert_eq!(table.matches("claude running").count(), 3, "{table}");
    env.okstra_env(&repo, &["task", "list", "--waiting"], &[("PATH", &path)]).fails(1);

    // A second agent for a running task is refused with the session's name; nothing is written.
    for extra in [&["--detach"][..], &[]] {
        let mut args = vec!["task", "phase", "DEV-2", "error-analysis", "--exec", "claude"];
        args.extend_from_slice(extra);
        let r = env.okstra_env(&repo, &args, &[("PATH", &path)]).fails(1);
        assert!(
            r.stderr
                .contains("already has an agent running (claude, run 001) in tmux session okstra/proj/default/dev-2"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("hint: `git okstra task attach proj/default/dev-2`"), "{}", r.stderr);
    }
    assert_eq!(
        std::fs::read_dir(runs(&repo, "dev-2")).unwrap().filter(|e| e.as_ref().unwrap().path().is_dir()).count(),
        1
    );
    // Nor is its worktree removed under it, even with --force.
    let r = env.okstra_env(&repo, &["task", "release", "DEV-3", "--remove", "--force"], &[("PATH", &path)]).fails(1);
    assert!(r.stderr.contains("task proj/default/dev-3 already has an agent running"), "{}", r.stderr);
    assert!(r.stderr.contains("remove the worktree once it has exited"), "{}", r.stderr);
    assert!(env.okstra_home.join("worktrees/proj/default/dev-3").is_dir());
    assert_eq!(env.registry()["tasks"]["proj/default/dev-3"]["status"], "active");

    // They exit with their own codes.
    for (id, code) in [("dev-1", 0), ("dev-2", 3), ("dev-3", 7)] {
        release(&runs(&repo, id).join("001-requirements-discovery"), code);
    }
    wait_until("every agent's exit is recorded", || {
        board(&env, &repo, &[], &[("PATH", &path)]).iter().all(|t| t["agent"]["state"] == "exited")
    });
    let tasks = board(&env, &repo, &[], &[("PATH", &path)]);
    for (id, code, state) in [("dev-1", 0, "done"), ("dev-2", 3, "failed"), ("dev-3", 7, "failed")] {
        let t = by_id(&tasks, id);
        assert_eq!(
            (&t["agent"]["exit_code"], &t["run"]["state"], &t["waiting_reason"]),
            (&code.into(), &state.into(), &"agent-exited".into()),
            "{t}"
        );
        let m: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(runs(&repo, id).join("001-requirements-discovery/manifest.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(m["executor"]["exit_code"], code);
        assert!(m["times"]["exec_finished_at"].is_string());
    }
    let r = env.okstra_env(&repo, &["task", "list", "--waiting"], &[("PATH", &path)]).ok();
    assert_eq!(r.stdout.lines().filter(|l| l.contains("waiting: agent exited")).count(), 3, "{}", r.stdout);
    assert!(r.stdout.contains("claude exited 3") && r.stdout.contains("claude exited 7"), "{}", r.stdout);
    let show = env.okstra_env(&repo, &["task", "show", "DEV-3"], &[("PATH", &path)]).ok().stdout;
    assert!(show.contains("agent       claude exited 7 (run 001, tmux session okstra/proj/default/dev-3)"), "{show}");

    // The finished session (kept to show the agent's last screen) gives way to a new agent;
    // a session killed under its agent leaves it `gone`.
    detach(&env, &repo, "DEV-2", "error-analysis", &path).ok();
    wait_until("the new agent runs", || runs(&repo, "dev-2").join("002-error-analysis/agent-env").exists());
    assert_eq!(by_id(&board(&env, &repo, &[], &[("PATH", &path)]), "dev-2")["agent"]["state"], "running");
    env.tmux(&["kill-session", "-t", "=okstra/proj/default/dev-2"]).ok();
    let t = by_id(&board(&env, &repo, &[], &[("PATH", &path)]), "dev-2").clone();
    assert_eq!(
        (&t["agent"]["state"], &t["run"]["state"], &t["waiting_reason"]),
        (&"gone".into(), &"interrupted".into(), &"agent-gone".into())
    );
    // A recorded exit is read from the manifest: no tmux needed.
    let t = by_id(&board(&env, &repo, &[], &[]), "dev-1").clone();
    assert_eq!(t["agent"]["state"], "exited", "a recorded exit needs no tmux");
}

#[test]
fn detach_without_tmux_is_a_clear_error_and_writes_nothing() {
    let env = Env::new();
    let repo = env.repo("proj");
    std::fs::create_dir_all(repo.join(".project-docs")).unwrap();
    start(&env, &repo, &["DEV-1"]);
    let path = agent_path(&env, false);
    let r = detach(&env, &repo, "DEV-1", "error-analysis", &path).fails(1);
    assert!(r.stderr.starts_with("error: tmux was not found on PATH"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: install tmux"), "{}", r.stderr);
    assert!(!runs(&repo, "dev-1").exists(), "no run folder");
    assert_eq!(env.registry()["tasks"]["proj/default/dev-1"]["phases"], serde_json::json!([]));
}

/// How rexpect shows `s`: it reads the terminal byte by byte, one char per byte.
fn raw(s: &str) -> String {
    s.bytes().map(char::from).collect()
}

fn pty(env: &Env, cwd: &Path, args: &[&str], vars: &[(&str, &str)]) -> rexpect::session::PtySession {
    use std::process::Stdio;
    let mut cmd = env.command(common::BIN, cwd);
    cmd.args(args).stdin(Stdio::inherit()).stdout(Stdio::inherit()).stderr(Stdio::inherit());
    cmd.env("TERM", "xterm").env_remove("NO_COLOR");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    rexpect::session::spawn_command(cmd, Some(20_000)).expect("spawn on a pty")
}

#[test]
fn attach_puts_this_terminal_in_the_agents_session() {
    let env = Env::new();
    let repo = env.repo("proj");
    std::fs::create_dir_all(repo.join(".project-docs")).unwrap();
    let path = agent_path(&env, true);
    detach(&env, &repo, "DEV-1", "requirements-discovery", &path).ok();
    let run = runs(&repo, "dev-1").join("001-requirements-discovery");
    wait_until("the agent runs", || run.join("agent-env").exists());
    // Without a terminal attach refuses (it would only fail inside tmux).
    let r = env.okstra_env(&repo, &["task", "attach", "DEV-1"], &[("PATH", &path)]).fails(1);
    assert!(r.stderr.contains("needs a terminal"), "{}", r.stderr);

    let mut p = pty(&env, &repo, &["task", "attach", "DEV-1"], &[("PATH", &path)]);
    p.exp_string("agent for proj/default/dev-1 working").unwrap();
    let clients = env.tmux(&["list-clients", "-F", "#{client_session}"]).ok().stdout;
    assert_eq!(clients.trim(), "okstra/proj/default/dev-1");
    // The agent exits while we watch; its last screen stays until Enter.
    release(&run, 0);
    p.exp_string("press Enter to close this session").unwrap();
    p.send("\r").unwrap();
    p.flush().unwrap();
    p.exp_eof().unwrap();
    wait_until("the session closed", || env.tmux(&["has-session", "-t", "=okstra/proj/default/dev-1"]).code != 0);
    let t = by_id(&board(&env, &repo, &[], &[("PATH", &path)]), "dev-1").clone();
    assert_eq!((&t["agent"]["state"], &t["agent"]["exit_code"]), (&"exited".into(), &0.into()));
}

#[test]
fn attach_inside_tmux_switches_the_client() {
    let env = Env::new();
    let repo = env.repo("proj");
    std::fs::create_dir_all(repo.join(".project-docs")).unwrap();
    let path = agent_path(&env, true);
    detach(&env, &repo, "DEV-1", "requirements-discovery", &path).ok();
    // A client attached to another session of the same server, as a user inside tmux is.
    let mut cmd = env.command("tmux", &repo);
    cmd.args(["new-session", "-s", "outer", "sh"]).env("PATH", &path).env("TERM", "xterm");
    cmd.stdin(std::process::Stdio::inherit())
        .stdout(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::inherit());
    let mut p = rexpect::session::spawn_command(cmd, Some(20_000)).unwrap();
    wait_until("the outer client is attached", || {
        env.tmux(&["list-clients", "-F", "#{client_session}"]).stdout.trim() == "outer"
    });
    // `task attach` run in the outer session's shell: tmux sets TMUX there.
    let line = format!("{} task attach DEV-1\r", common::BIN);
    env.tmux(&["send-keys", "-t", "=outer:", "-l", &line]).ok();
    wait_until("the client switched", || {
        env.tmux(&["list-clients", "-F", "#{client_session}"]).stdout.trim() == "okstra/proj/default/dev-1"
    });
    p.send_control('c').ok();
}

#[test]
fn watch_redraws_in_place() {
    let env = Env::new();
    let repo = env.repo("proj");
    start(&env, &repo, &["DEV-1", "--title", "A title far too long to fit in forty columns"]);
    let mut p = pty(&env, &repo, &["task", "list", "--watch", "0.2"], &[("COLUMNS", "100")]);
    // First frame: the screen cleared once, then drawn from the top; symbols, colour, cut title.
    p.exp_string("\x1b[H\x1b[2J\x1b[HEvery 0.2s: git okstra task list").unwrap();
    p.exp_string("DEV-1").unwrap();
    p.exp_string("A title far").unwrap();
    p.exp_string(&raw("…")).unwrap();
    p.exp_string(&raw("↑0 ↓0")).unwrap();
    // A task started meanwhile shows in a later frame, redrawn from the top.
    start(&env, &repo, &["DEV-2"]);
    p.exp_string("\x1b[HEvery 0.2s").unwrap();
    p.exp_regex("DEV-2").unwrap();
    p.send_control('c').unwrap();
    p.exp_eof().unwrap();
}

/// Worktrees put into random states (files deleted, turned into folders, unstaged, modified,
/// made executable; folders turned into symlinks; new, ignored and empty paths) are counted
/// by the board as `git status` counts them. `OKSTRA_BOARD_STATES` (default 24) worktrees from
/// seed `OKSTRA_BOARD_SEED` (default 7); a mismatch names the seed, the worktree and its steps.
#[test]
fn random_worktree_states_count_as_git_counts() {
    let num = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (states, seed) = (num("OKSTRA_BOARD_STATES", 24), num("OKSTRA_BOARD_SEED", 7));
    let env = Env::new();
    let repo = env.repo("proj");
    let tracked = ["a.txt", "lib/a.txt", "lib/b.txt", "lib/sub/c.txt", "doc/d.md", "doc/e/f.md", "x.log", ".gitignore"];
    for f in tracked {
        let p = repo.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, format!("{f}\n")).unwrap();
    }
    std::fs::write(repo.join(".gitignore"), "*.log\nbuild/\n").unwrap();
    env.git(&repo, &["add", "-f", "."]);
    env.git(&repo, &["commit", "-q", "-m", "files"]);
    let folders = ["", "lib", "lib/sub", "doc", "doc/e", "new", "new/deep", "build"];
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut made = Vec::new();
    for i in 0..states {
        let id = format!("fz-{i}");
        let dir = start(&env, &repo, &[&id]);
        let mut steps = Vec::new();
        for _ in 0..=rng.below(4) {
            let f = tracked[rng.below(tracked.len())];
            let p = dir.join(f);
            let step = match rng.below(10) {
                0 if p.is_file() => std::fs::remove_file(&p).map(|_| format!("delete {f}")),
                1 if p.is_file() => std::fs::remove_file(&p)
                    .and_then(|_| std::fs::create_dir_all(&p))
                    .and_then(|_| std::fs::write(p.join("in.txt"), "x\n"))
                    .map(|_| format!("make {f} a folder holding in.txt")),
                2 => {
                    let folder = folders[rng.below(folders.len())];
                    let file = Path::new(folder).join(format!("u{}.txt", rng.below(3)));
                    std::fs::create_dir_all(dir.join(folder))
                        .and_then(|_| std::fs::write(dir.join(&file), "u\n"))
                        .map(|_| format!("add {}", file.display()))
                }
                3 => {
                    let folder = Path::new(folders[rng.below(folders.len())]).join("empty");
                    std::fs::create_dir_all(dir.join(&folder))
                        .map(|_| format!("add the empty folder {}", folder.display()))
                }
                4 => {
                    env.git_run(&dir, &["rm", "-q", "--cached", "--ignore-unmatch", f]);
                    Ok(format!("unstage {f}"))
                }
                5 if p.is_file() => std::fs::OpenOptions::new()
                    .append(true)
                    .open(&p)
                    .and_then(|mut h| std::io::Write::write_all(&mut h, b"more\n"))
                    .map(|_| format!("append to {f}")),
                6 => {
                    env.git_run(&dir, &["add", "-A"]);
                    Ok("stage everything".to_string())
                }
                7 => {
                    let name = ["lib", "doc", "lib/sub"][rng.below(3)];
                    let d = dir.join(name);
                    if d.is_dir() && !d.is_symlink() {
                        let moved = d.with_file_name(format!("{}-moved", d.file_name().unwrap().to_string_lossy()));
                        std::fs::rename(&d, &moved)
                            .and_then(|_| std::os::unix::fs::symlink(moved.file_name().unwrap(), &d))
                            .map(|_| format!("move {name} to {name}-moved and link {name} to it"))
                    } else {
                        Ok(format!("leave {name} (not a folder)"))
                    }
                }
                8 if p.is_file() => std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                    .map(|_| format!("chmod +x {f}")),
                _ => std::fs::write(dir.join("z.log"), "z\n").map(|_| "add the ignored z.log".to_string()),
            };
            steps.push(step.unwrap());
        }
        made.push((id, dir, steps));
    }
    let tasks =
        env.okstra(&repo, &["task", "list", "--dirty", "--json"]).ok().json()["tasks"].as_array().unwrap().clone();
    for (id, dir, steps) in &made {
        let expected = git_count(&env, dir);
        assert_eq!(by_id(&tasks, id)["changed_files"], expected, "seed {seed}, {id}: {steps:?}");
    }
}

/// The board's BASE column against `git rev-list --left-right --count` on a random history
/// with merges whose commits all share one timestamp (a script's or an agent's commits within
/// one second): each task branch at a random commit of it, the main worktree at another.
#[test]
fn ahead_and_behind_count_as_git_counts_on_a_history_of_one_second() {
    let env = Env::new();
    let repo = env.repo("proj");
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let commits = env.one_second_history(&repo, 60, 6, 1, &mut rng);
    let main = commits[commits.len() - 1 - rng.below(20)].clone();
    env.git(&repo, &["reset", "-q", "--hard", &main]);
    let mut branches = Vec::new();
    for i in 0..16 {
        let id = format!("dag-{i}");
        let dir = start(&env, &repo, &[&id]);
        env.git(&dir, &["reset", "-q", "--hard", &commits[rng.below(commits.len())]]);
        branches.push((id, env.git(&dir, &["branch", "--show-current"])));
    }
    let tasks = board(&env, &repo, &[], &[]);
    for (id, branch) in &branches {
        let counts = env.git(&repo, &["rev-list", "--left-right", "--count", &format!("main...{branch}")]);
        let (behind, ahead) = counts.split_once('\t').unwrap();
        let t = by_id(&tasks, id);
        assert_eq!((t["ahead"].to_string(), t["behind"].to_string()), (ahead.to_string(), behind.to_string()), "{id}");
    }
}

/// In a shallow clone the walk reaches commits whose parents are not there: they count as
/// git counts them (the boundary has no parents), and the board still shows BASE.
#[test]
fn ahead_and_behind_in_a_shallow_clone() {
    let env = Env::new();
    let upstream = env.repo("upstream");
    for i in 0..3 {
        env.git(&upstream, &["commit", "-q", "--allow-empty", "-m", &format!("c{i}")]);
    }
    let url = format!("file://{}", upstream.display());
    let repo = env.root().join("proj");
    env.git(&env.root(), &["clone", "-q", "--depth", "1", &url, repo.to_str().unwrap()]);
    let dir = start(&env, &repo, &["SHALLOW-1"]);
    env.git(&dir, &["commit", "-q", "--allow-empty", "-m", "mine"]);
    env.git(&repo, &["commit", "-q", "--allow-empty", "-m", "on main"]);
    let t = by_id(&board(&env, &repo, &[], &[]), "shallow-1").clone();
    assert_eq!(env.git(&repo, &["rev-list", "--left-right", "--count", "main...feat-shallow-1"]), "1\t1");
    assert_eq!((&t["ahead"], &t["behind"]), (&1.into(), &1.into()), "{t}");
}
