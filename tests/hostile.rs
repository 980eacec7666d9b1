//! Hostile input: each case gets a clear one-line error (and hint), the documented exit
//! code, and leaves the disk exactly as it was: every file, folder, symlink, branch and the
//! registry bytes under the test's temp folder are compared before and after.
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{Env, Run};

#[derive(Debug, PartialEq)]
enum Entry {
    Dir,
    File(Vec<u8>),
    Link(PathBuf),
}

/// Everything under `root`: folders, file bytes, symlink targets.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let ft = e.file_type().unwrap();
            let entry = if ft.is_symlink() {
                Entry::Link(std::fs::read_link(&p).unwrap())
            } else if ft.is_dir() {
                stack.push(p.clone());
                Entry::Dir
            } else {
                Entry::File(std::fs::read(&p).unwrap())
            };
            out.insert(p.strip_prefix(root).unwrap().to_path_buf(), entry);
        }
    }
    out
}

/// A repository with one registered task, so the registry, its lock and the task folders
/// already exist: a refusal must not change any of them.
struct World {
    env: Env,
    repo: PathBuf,
    task_wt: PathBuf,
}

fn world() -> World {
    let env = Env::new();
    let repo = env.repo("proj");
    std::fs::create_dir_all(repo.join(".project-docs")).unwrap();
    let v = env.okstra(&repo, &["task", "start", "DEV-1", "--json"]).ok().json();
    let task_wt = PathBuf::from(v["path"].as_str().unwrap());
    World { env, repo, task_wt }
}

impl World {
    /// Run `args` (with `vars`), expect exit `code` and an `error:` line containing
    /// `needle`, and nothing changed on disk.
    #[track_caller]
    fn refused(&self, args: &[&str], vars: &[(&str, &str)], code: i32, needle: &str) -> Run {
        let before = snapshot(&self.env.root());
        let r = self.env.okstra_env(&self.repo, args, vars).fails(code);
        let first = r.stderr.lines().next().unwrap_or("");
        assert!(first.starts_with("error: "), "no error line for {args:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: expected {needle:?} in:\n{}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert_eq!(r.stdout, "", "nothing on stdout for a refusal");
        let after = snapshot(&self.env.root());
        if before != after {
            let changed: Vec<_> = before
                .keys()
                .chain(after.keys())
                .filter(|k| before.get(*k) != after.get(*k))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            panic!("{args:?} changed the disk: {changed:#?}");
        }
        r
    }
}

#[test]
fn hostile_task_ids_are_refused_before_anything_is_written() {
    let w = world();
    let long = "A".repeat(10_000);
    let cases: &[(&str, &str)] = &[
        (&long, "10000 characters long"),
        ("-._:/", "no ASCII letter or digit"),
        ("@#%^~=+,", "no ASCII letter or digit"),
        ("DEV\u{7}1", "control or invisible"),
        ("DEV\t1", "control or invisible"),
        ("DEV\u{1b}[31m1", "control or invisible"),
        ("DEV\r\n1", "control or invisible"),
        ("DEV\u{7f}", "control or invisible"),
        ("DEV\u{202E}1-txt.exe", "control or invisible"),
        ("\u{200F}DEV-1", "control or invisible"),
        ("DEV\u{2066}1", "control or invisible"),
        ("DEV\u{200B}1", "control or invisible"),
        ("\u{FEFF}DEV-1", "control or invisible"),
        ("..", "looks like a path"),
        ("../DEV-1", "looks like a path"),
        ("DEV/../../1", "looks like a path"),
        ("/etc/passwd", "looks like a path"),
        ("\\\\server\\share", "looks like a path"),
        ("$(rm -rf ~)", "shell metacharacter"),
        ("`id`", "shell metacharacter"),
        ("DEV-1;reboot", "shell metacharacter"),
        ("DEV-1|tee", "shell metacharacter"),
        ("DEV-1&", "shell metacharacter"),
        ("DEV>1", "shell metacharacter"),
        ("DEV-*", "shell metacharacter"),
        ("DEV-{1,2}", "shell metacharacter"),
        ("DEV'1", "shell metacharacter"),
        ("DEV\"1", "shell metacharacter"),
        ("!DEV", "shell metacharacter"),
        ("${HOME}", "shell metacharacter"),
    ];
    for (id, needle) in cases {
        // `--` as git wants it before an operand that may start with '-'
        let r = w.refused(&["task", "start", "--", id], &[], 2, needle);
        assert!(r.stderr.lines().any(|l| l.starts_with("hint: ")), "no hint for {id:?}: {}", r.stderr);
        // a bidi or control character is never echoed raw to the terminal
        for c in ['\u{202E}', '\u{200F}', '\u{2066}', '\u{1b}', '\u{7}', '\r'] {
            assert!(!r.stderr.contains(c), "{id:?} echoed raw: {:?}", r.stderr);
        }
        assert!(r.stderr.len() < 11_000, "the error for {id:?} is {} bytes", r.stderr.len());
    }
    // the commands that name an existing task check a typed id the same way, so that an id
    // which sanitises to a registered task (`DEV\u{202E}1` → `dev-1`) never acts on it
    for id in [long.as_str(), "..", "/etc/passwd", "$(id)", "DEV\u{202E}1", "DEV\u{1b}[2J", "DEV\u{200B}-1"] {
        for cmd in [&["task", "release", "--remove", "--force", "--", id][..], &["task", "show", "--", id]] {
            let r = w.refused(cmd, &[], 2, "task id");
            for c in ['\u{202E}', '\u{1b}', '\u{200B}'] {
                assert!(!r.stderr.contains(c), "{cmd:?} echoed raw: {:?}", r.stderr);
            }
        }
    }
    for id in ["DEV-404", "proj/default/dev-404", "other/default/dev-1"] {
        w.refused(&["task", "release", id, "--remove", "--force"], &[], 1, "no task");
    }
    // and the registered task is untouched and healthy
    assert_eq!(w.env.git(&w.task_wt, &["rev-parse", "--abbrev-ref", "HEAD"]), "feat-dev-1");
}

#[test]
fn titles_with_control_characters_are_refused_and_never_printed_raw() {
    let w = world();
    let long = "t".repeat(600);
    for title in
        ["\u{1b}[2J\u{1b}]0;owned\u{7}", "a\tb", "line\nbreak", "cr\rhere", "bidi\u{202E}txt", "zero\u{200B}width"]
    {
        let r = w.refused(&["task", "start", "DEV-2", "--title", title], &[], 2, "title");
        assert!(r.stderr.contains("control or invisible formatting character"), "{}", r.stderr);
        assert!(r.stderr.lines().any(|l| l.starts_with("hint: ")), "{}", r.stderr);
        for c in ['\u{1b}', '\u{7}', '\t', '\r', '\u{202E}', '\u{200B}'] {
            assert!(!r.stderr.contains(c), "{title:?} echoed raw: {:?}", r.stderr);
        }
    }
    w.refused(&["task", "start", "DEV-2", "--title", &long], &[], 2, "title is 600 characters long");
    // any printable text is kept as typed
    let fine = "Fix Ünïcode login — ✓ 100% (see #12)";
    w.env.okstra(&w.repo, &["task", "start", "DEV-3", "--title", fine]).ok();
    assert_eq!(w.env.registry()["tasks"]["proj/default/dev-3"]["title"], fine);
    // a title someone wrote into the registry by hand is escaped on output
    let mut reg = w.env.registry();
    reg["tasks"]["proj/default/dev-3"]["title"] = "\u{1b}[2Jgone\u{202E}".into();
    std::fs::write(w.env.registry_path(), serde_json::to_string(&reg).unwrap()).unwrap();
    let show = w.env.okstra(&w.repo, &["task", "show", "DEV-3"]).ok();
    assert!(!show.stdout.contains('\u{1b}') && !show.stdout.contains('\u{202E}'), "{:?}", show.stdout);
    assert!(show.stdout.contains("\\u{1b}[2Jgone\\u{202e}"), "{:?}", show.stdout);
}

#[test]
fn hostile_sync_dir_names_are_refused() {
    let w = world();
    for (value, needle) in [
        ("../outside", "contains '..'"),
        ("ok:../../etc", "contains '..'"),
        ("a/../../b", "contains '..'"),
        ("/etc", "absolute path"),
        (".project-docs:/tmp", "absolute path"),
    ] {
        w.refused(&["task", "start", "DEV-2"], &[("OKSTRA_WORKTREE_SYNC_DIRS", value)], 2, needle);
    }
    // the same names from git config
    w.env.git(&w.repo, &["config", "--add", "okstra.syncDir", "../up"]);
    w.refused(&["task", "start", "DEV-2"], &[], 2, "contains '..'");
    w.env.git(&w.repo, &["config", "--unset-all", "okstra.syncDir"]);
}

#[test]
fn a_sync_source_that_is_a_symlink_out_of_the_repository_is_refused() {
    let w = world();
    let outside = w.env.root().join("secrets");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("key"), "secret").unwrap();
    std::os::unix::fs::symlink(&outside, w.repo.join(".scratch")).unwrap();
    let r = w.refused(&["task", "start", "DEV-2"], &[], 1, "outside the repository");
    assert!(r.stderr.contains(".scratch"), "{}", r.stderr);
    assert_eq!(w.env.git(&w.repo, &["branch", "--list", "feat-dev-2"]), "");
    // a symlink that stays inside the repository is linked as usual
    std::fs::remove_file(w.repo.join(".scratch")).unwrap();
    std::fs::create_dir_all(w.repo.join("docs/shared")).unwrap();
    std::os::unix::fs::symlink(w.repo.join("docs/shared"), w.repo.join(".scratch")).unwrap();
    let v = w.env.okstra(&w.repo, &["task", "start", "DEV-2", "--json"]).ok().json();
    assert!(Path::new(v["path"].as_str().unwrap()).join(".scratch").exists());
}

/// Rewrite one field of the row of DEV-1 in the registry file.
fn edit_row(w: &World, field: &str, value: &str) {
    let path = w.env.registry_path();
    let mut reg = w.env.registry();
    reg["tasks"]["proj/default/dev-1"][field] = serde_json::json!(value);
    std::fs::write(&path, serde_json::to_string_pretty(&reg).unwrap()).unwrap();
}

#[test]
fn a_row_pointing_outside_okstra_home_is_never_removed() {
    let w = world();
    // a real worktree of the same repository, outside OKSTRA_HOME, with work in it
    let victim = w.env.root().join("victim");
    w.env.git(&w.repo, &["worktree", "add", "-q", "-b", "victim", victim.to_str().unwrap()]);
    std::fs::write(victim.join("precious.txt"), "do not lose").unwrap();
    let outside_dir = w.env.root().join("plain-folder");
    std::fs::create_dir_all(&outside_dir).unwrap();
    std::fs::write(outside_dir.join("data"), "keep").unwrap();
    let lexical_escape = w.env.okstra_home.join("worktrees/proj/default/../../../../victim");
    let missing_escape = w.env.okstra_home.join("worktrees/proj/default/../../../../nowhere");
    let link = w.env.okstra_home.join("worktrees/proj/default/sneaky");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    for target in [&victim, &outside_dir, &lexical_escape, &missing_escape, &link, &w.repo, &w.env.home] {
        edit_row(&w, "worktree_path", target.to_str().unwrap());
        for args in
            [&["task", "release", "DEV-1", "--remove"][..], &["task", "release", "DEV-1", "--remove", "--force"]]
        {
            let r = w.refused(args, &[], 1, "refusing to remove it");
            assert!(r.stderr.contains("outside"), "{}", r.stderr);
        }
    }
    assert_eq!(std::fs::read_to_string(victim.join("precious.txt")).unwrap(), "do not lose");
    assert_eq!(w.env.git(&w.repo, &["branch", "--list", "victim", "--format=%(refname:short)"]), "victim");
}

#[test]
fn a_row_naming_a_protected_or_checked_out_branch_never_deletes_it() {
    let w = world();
    let main_tip = w.env.git(&w.repo, &["rev-parse", "main"]);
    // a tampered row: its folder gone (inside OKSTRA_HOME), its branch the base branch
    w.env.okstra(&w.repo, &["task", "release", "DEV-1", "--remove"]).ok();
    w.env.okstra(&w.repo, &["task", "start", "DEV-1"]).ok();
    edit_row(&w, "branch", "main");
    w.refused(&["task", "release", "DEV-1", "--remove", "--force"], &[], 1, "'main'");
    assert_eq!(w.env.git(&w.repo, &["rev-parse", "main"]), main_tip);
    // a branch another worktree has checked out
    w.env.git(&w.repo, &["branch", "side"]);
    let other = w.env.root().join("other");
    w.env.git(&w.repo, &["worktree", "add", "-q", other.to_str().unwrap(), "side"]);
    edit_row(&w, "branch", "side");
    w.refused(&["task", "release", "DEV-1", "--remove", "--force"], &[], 1, "'side'");
    assert_eq!(w.env.git(&other, &["rev-parse", "--abbrev-ref", "HEAD"]), "side");
}

#[test]
fn a_corrupt_or_hostile_registry_is_never_overwritten() {
    let w = world();
    let path = w.env.registry_path();
    for bytes in [
        &b"{\"tasks\": {"[..],
        b"",
        b"\xff\xfe not utf-8",
        b"[]",
        b"{\"version\": 99, \"tasks\": {}}",
        b"{\"tasks\": {\"x\": 5}}",
        b"{\"tasks\": {}, \"branches\": []}",
    ] {
        std::fs::write(&path, bytes).unwrap();
        for args in [
            &["task", "start", "DEV-3"][..],
            &["task", "list"],
            &["task", "release", "DEV-1", "--remove"],
            &["task", "show", "DEV-1"],
        ] {
            let r = w.refused(args, &[], 1, "registry");
            assert!(r.stderr.contains(path.to_str().unwrap()), "names the file: {}", r.stderr);
        }
    }
}

/// A process that links sync dirs after another one removed the worktree must not recreate
/// the folder (a folder of bare links blocked the task's next start and release).
#[test]
fn sync_links_are_never_made_into_a_removed_worktree() {
    let w = world();
    w.env.okstra(&w.repo, &["task", "release", "DEV-1", "--remove"]).ok();
    let repo = git_okstra::git::Repo::discover(&w.repo).unwrap().unwrap();
    let err = git_okstra::task::worktree::link_sync_dirs(&repo, &w.task_wt, &[".project-docs".into()]).unwrap_err();
    assert!(err.message.contains("is gone"), "{}", err.message);
    assert!(!w.task_wt.exists());
    w.env.okstra(&w.repo, &["task", "start", "DEV-1"]).ok();
}

/// A final-verification report in the shape the gate reads.
fn report(verdict: &str, padding: usize) -> String {
    let filler = "evidence line: the test suite passed on every platform we support\n".repeat(padding / 66 + 1);
    format!(
        "# Final verification\n\n## 1. Evidence\n\n{filler}\n## 2. Final Verdict\n\n{verdict}\n\n## 3. Notes\n\nnone\n"
    )
}

#[test]
fn prompt_templates_with_include_cycles_are_refused_and_nothing_is_written() {
    let w = world();
    let dir = w.repo.join(".okstra/prompts/profiles");
    std::fs::create_dir_all(&dir).unwrap();
    // the phase profile includes a file that includes the profile again
    std::fs::write(dir.join("requirements-discovery.md"), "# Requirements\n{{INCLUDE:loop.md}}\n").unwrap();
    std::fs::write(dir.join("loop.md"), "again: {{INCLUDE:requirements-discovery.md}}\n").unwrap();
    let r = w.refused(&["task", "phase", "DEV-1", "requirements-discovery"], &[], 1, "include cycle");
    assert!(r.stderr.contains("loop.md"), "{}", r.stderr);
    // a file that includes itself
    std::fs::write(dir.join("error-analysis.md"), "{{INCLUDE:error-analysis.md}}\n").unwrap();
    w.refused(&["task", "phase", "DEV-1", "error-analysis"], &[], 1, "include cycle");
    // an include that leaves the profiles folder
    std::fs::write(dir.join("implementation-planning.md"), "{{INCLUDE:../../../../etc/passwd}}\n").unwrap();
    w.refused(&["task", "phase", "DEV-1", "implementation-planning"], &[], 1, "inside profiles/");
}

#[test]
fn a_symlinked_prompt_override_folder_is_refused_like_a_symlinked_file() {
    let w = world();
    let outside = w.env.root().join("outside-prompts");
    std::fs::create_dir_all(outside.join("profiles")).unwrap();
    std::fs::write(outside.join("profiles/requirements-discovery.md"), "stolen: {{TASK_ID}}\n").unwrap();
    std::fs::write(outside.join("launch.template.md"), "stolen launch\n").unwrap();
    let okstra = w.repo.join(".okstra");
    std::fs::create_dir_all(&okstra).unwrap();
    // the file itself a symlink (refused before), then each folder on the way
    std::fs::create_dir_all(okstra.join("prompts/profiles")).unwrap();
    let file = okstra.join("prompts/profiles/requirements-discovery.md");
    std::os::unix::fs::symlink(outside.join("profiles/requirements-discovery.md"), &file).unwrap();
    w.refused(&["task", "phase", "DEV-1", "requirements-discovery"], &[], 1, "is a symlink");
    std::fs::remove_file(&file).unwrap();
    std::fs::remove_dir(okstra.join("prompts/profiles")).unwrap();
    std::os::unix::fs::symlink(outside.join("profiles"), okstra.join("prompts/profiles")).unwrap();
    w.refused(&["task", "phase", "DEV-1", "requirements-discovery"], &[], 1, ".okstra/prompts/profiles is a symlink");
    std::fs::remove_file(okstra.join("prompts/profiles")).unwrap();
    std::fs::remove_dir(okstra.join("prompts")).unwrap();
    std::os::unix::fs::symlink(&outside, okstra.join("prompts")).unwrap();
    w.refused(&["task", "phase", "DEV-1", "requirements-discovery"], &[], 1, ".okstra/prompts is a symlink");
    std::fs::remove_file(okstra.join("prompts")).unwrap();
    std::fs::remove_dir(&okstra).unwrap();
    let holder = w.env.root().join("holder");
    std::fs::create_dir_all(&holder).unwrap();
    std::os::unix::fs::symlink(&outside, holder.join("prompts")).unwrap();
    std::os::unix::fs::symlink(&holder, &okstra).unwrap();
    w.refused(&["task", "phase", "DEV-1", "requirements-discovery"], &[], 1, ".okstra is a symlink");
    // a symlinked `.okstra` that overrides nothing is no override: the built-in prompts run
    std::fs::remove_file(holder.join("prompts")).unwrap();
    let r = w.env.okstra(&w.repo, &["task", "phase", "DEV-1", "requirements-discovery"]).ok();
    let path = r.stderr.lines().find_map(|l| l.strip_prefix("launch prompt: ")).expect("names the prompt");
    let launch = std::fs::read_to_string(path.trim()).unwrap();
    assert!(launch.contains("requirements-discovery") && !launch.contains("stolen"), "{launch}");
}

#[test]
fn an_approved_plan_that_is_a_symlink_or_not_utf8_is_refused() {
    let w = world();
    let real = w.repo.join("plan.md");
    std::fs::write(&real, "# Plan\n\n- [ ] Approved\n").unwrap();
    let link = w.repo.join("plan-link.md");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    for args in [
        &["task", "phase", "DEV-1", "implementation", "--approved-plan", "plan-link.md"][..],
        &["task", "phase", "DEV-1", "implementation", "--approved-plan", "plan-link.md", "--approve"],
    ] {
        w.refused(args, &[], 1, "is a symlink");
    }
    assert_eq!(
        std::fs::read_to_string(&real).unwrap(),
        "# Plan\n\n- [ ] Approved\n",
        "--approve wrote through the link"
    );
    std::fs::write(w.repo.join("latin1.md"), b"# Plan\n\nAPPROVED\n\nna\xefve\n").unwrap();
    for args in [
        &["task", "phase", "DEV-1", "implementation", "--approved-plan", "latin1.md"][..],
        &["task", "phase", "DEV-1", "implementation", "--approved-plan", "latin1.md", "--approve"],
    ] {
        w.refused(args, &[], 1, "not UTF-8");
    }
    std::fs::create_dir_all(w.repo.join("plan-dir")).unwrap();
    w.refused(
        &["task", "phase", "DEV-1", "implementation", "--approved-plan", "plan-dir"],
        &[],
        1,
        "not a regular file",
    );
    w.refused(&["task", "phase", "DEV-1", "implementation", "--approved-plan", "missing.md"], &[], 1, "missing.md");
}

#[test]
fn verification_reports_of_several_megabytes() {
    let w = world();
    // 6 MB, verdict at the very end: read and judged quickly
    let big = w.repo.join("big-report.md");
    std::fs::write(&big, report("accepted", 6 * 1024 * 1024)).unwrap();
    let t = std::time::Instant::now();
    let v = w
        .env
        .okstra(
            &w.repo,
            &["task", "phase", "DEV-1", "release-handoff", "--verification-report", "big-report.md", "--json"],
        )
        .ok()
        .json();
    assert_eq!(v["phase"], "release-handoff");
    assert!(t.elapsed().as_secs() < 10, "a 6 MB report took {:?}", t.elapsed());
    // 6 MB that end in prose or `blocked`: refused, nothing written
    for verdict in ["blocked", "looks good to me", "conditional-accept"] {
        std::fs::write(&big, report(verdict, 6 * 1024 * 1024)).unwrap();
        w.refused(&["task", "phase", "DEV-1", "release-handoff", "--verification-report", "big-report.md"], &[], 1, "");
    }
    // larger than the 64 MiB cap (a sparse file: nothing is read)
    let huge = w.repo.join("huge.md");
    std::fs::File::create(&huge).unwrap().set_len(65 * 1024 * 1024).unwrap();
    w.refused(&["task", "phase", "DEV-1", "release-handoff", "--verification-report", "huge.md"], &[], 1, "64 MiB");
}

#[test]
fn malformed_pre_push_input_is_refused_never_allowed() {
    let w = world();
    let a = w.env.git(&w.repo, &["rev-parse", "HEAD"]);
    let z = "0".repeat(40);
    let good = format!("refs/heads/feat-dev-1 {a} refs/heads/feat-dev-1 {z}\n");
    let cases: Vec<Vec<u8>> = vec![
        format!("refs/heads/x {a} refs/heads/x\n").into_bytes(),
        format!("refs/heads/x {a} refs/heads/x {z} extra\n").into_bytes(),
        format!("refs/heads/x {a}  refs/heads/x {z}\n").into_bytes(),
        format!("refs/heads/x {} refs/heads/x {z}\n", &a[..39]).into_bytes(),
        format!("refs/heads/x {} refs/heads/x {z}\n", a.to_uppercase()).into_bytes(),
        format!("refs/heads/x {a} refs/heads/x {z}\r\n").into_bytes(),
        format!("{good}\n{good}").into_bytes(),
        format!("refs/heads/x\t{a}\trefs/heads/main\t{z}\n").into_bytes(),
        format!("refs/heads/x {a} refs/heads/main {}\n", "0".repeat(64)).into_bytes(),
        b"garbage\n".to_vec(),
        b"\n".to_vec(),
        [good.as_bytes(), b"\xff\xfe\n"].concat(),
    ];
    let refs_before = w.env.git(&w.repo, &["for-each-ref"]);
    let reg_before = std::fs::read(w.env.registry_path()).unwrap();
    for input in cases {
        let mut cmd = w.env.command(common::BIN, &w.repo);
        cmd.args(["hook", "pre-push", "origin", "https://example.invalid/repo.git"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "allowed {:?}", String::from_utf8_lossy(&input));
        assert!(stderr.contains("error") || stderr.contains("rejected"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // the well-formed line alone is allowed (a new feature branch)
    let mut cmd = w.env.command(common::BIN, &w.repo);
    cmd.args(["hook", "pre-push", "origin", "x"]).stdin(std::process::Stdio::piped());
    let mut child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), good.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(w.env.git(&w.repo, &["for-each-ref"]), refs_before);
    assert_eq!(std::fs::read(w.env.registry_path()).unwrap(), reg_before);
}
