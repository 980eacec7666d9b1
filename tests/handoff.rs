//! `git okstra handoff`: real git, a real bare origin, a recording stand-in `gh` and a
//! recording `git` wrapper on a PATH that holds nothing else.

mod common;

use std::path::{Path, PathBuf};

use common::{write_exec, Env, Run};

const ACCEPTED: &str = "# Final verification — DEV-1\n\n## 1. Summary\nLogin page works end to end.\n\n## 2. Final Verdict\n\naccepted\n\n## 3. Test Evidence\n- cargo test: 12 passed\n";

struct Fx {
    env: Env,
    repo: PathBuf,
    origin: PathBuf,
    wt: PathBuf,
    bin: PathBuf,
}

fn real_git() -> PathBuf {
    let out = std::process::Command::new("sh").args(["-c", "command -v git"]).output().unwrap();
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A repository with origin (main, staging, dev), task DEV-1 started with one uncommitted
/// change, and a final-verification report with `verdict`.
fn fixture(verdict: &str) -> Fx {
    let env = Env::new();
    let repo = env.repo("proj");
    let origin = env.origin(&repo, &["staging", "dev"]);
    std::fs::create_dir_all(repo.join(".project-docs")).unwrap();
    let start = env.okstra(&repo, &["task", "start", "DEV-1", "--title", "Add login page", "--json"]).ok().json();
    let wt = PathBuf::from(start["path"].as_str().unwrap());
    std::fs::create_dir_all(wt.join("web")).unwrap();
    std::fs::write(wt.join("web/login.html"), "<form></form>\n").unwrap();
    let run = repo.join(".project-docs/okstra/tasks/dev-1/runs/001-final-verification");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(
        run.join("final-verification-report.md"),
        ACCEPTED.replace("\naccepted\n", &format!("\n{verdict}\n")),
    )
    .unwrap();
    let bin = env.root().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = env.root().join("git.log");
    write_exec(
        &bin.join("git"),
        format!("#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n", log.display(), real_git().display()),
    );
    let fx = Fx { env, repo, origin, wt, bin };
    fx.install_gh();
    fx
}

impl Fx {
    fn install_gh(&self) {
        let log = self.env.root().join("gh.log");
        let existing = self.env.root().join("gh-existing-pr");
        write_exec(
            &self.bin.join("gh"),
            format!(
                "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '{log}'; done\nprintf -- '---\\n' >> '{log}'\n\
                 case \"$1 $2\" in\n\
                 'pr list') if [ -f '{existing}' ]; then read url < '{existing}'; printf '%s\\n' \"$url\"; fi ;;\n\
                 'pr create') printf '%s\\n' 'https://github.com/acme/proj/pull/42' ;;\n\
                 'pr view') read -r json < '{view}'; printf '%s\\n' \"$json\" ;;\n\
                 esac\n",
                log = log.display(),
                existing = existing.display(),
                view = self.env.root().join("gh-view.json").display()
            ),
        );
    }

    fn handoff(&self, cwd: &Path, args: &[&str]) -> Run {
        let mut all = vec!["handoff"];
        all.extend_from_slice(args);
        self.env.okstra_env(cwd, &all, &[("PATH", self.bin.to_str().unwrap())])
    }

    /// Each gh call's argv.
    fn gh_calls(&self) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(self.env.root().join("gh.log")).unwrap_or_default();
        text.split("---\n").filter(|c| !c.is_empty()).map(|c| c.lines().map(str::to_string).collect()).collect()
    }

    /// Each git call the binary (or git itself) made, one line per call.
    fn git_calls(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.env.root().join("git.log")).unwrap_or_default();
        text.lines().map(str::to_string).collect()
    }

    fn origin_refs(&self) -> String {
        self.env.git(&self.origin, &["for-each-ref", "--format=%(refname) %(objectname)"])
    }

    fn head(&self) -> String {
        self.env.git(&self.wt, &["rev-parse", "HEAD"])
    }

    fn runs(&self) -> PathBuf {
        self.repo.join(".project-docs/okstra/tasks/dev-1/runs")
    }

    fn report(&self) -> String {
        std::fs::read_to_string(self.runs().join("002-release-handoff/release-handoff.md")).expect("report written")
    }

    fn phases(&self) -> Vec<String> {
        let reg = self.env.registry();
        let row = &reg["tasks"]["proj/default/dev-1"];
        row["phases"].as_array().unwrap().iter().map(|p| p["phase"].as_str().unwrap().to_string()).collect()
    }
}

const HEADINGS: [&str; 7] = [
    "## Source Verification Report",
    "## Feature Branch & Working-Tree State",
    "## User Selections",
    "## Executed Commands",
    "## Commit List",
    "## Pull Request Outcome",
    "## Routing Recommendation",
];

#[test]
fn blocked_verdict_asks_nothing_and_runs_nothing() {
    for verdict in ["conditional-accept", "blocked", "looks good"] {
        let fx = fixture(verdict);
        let refs = fx.origin_refs();
        let phases = fx.phases();
        let _ = std::fs::remove_file(fx.env.root().join("git.log"));
        let r = fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes", "--json"]).fails(1);
        let j = r.json();
        assert_eq!(j["status"], "blocked", "{verdict}");
        // The newest final-verification report was read: its path and verdict are reported.
        assert!(j["verification_report"].as_str().unwrap().ends_with("final-verification-report.md"), "{j:#}");
        assert_eq!(j["verdict_line"], verdict);
        assert_eq!(j["verdict"], if verdict == "looks good" { "" } else { verdict }, "{j:#}");
        assert!(r.stderr.contains("release handoff blocked"), "{}", r.stderr);
        assert!(fx.git_calls().is_empty(), "no git command before the gate: {:?}", fx.git_calls());
        assert!(fx.gh_calls().is_empty());
        assert_eq!(fx.origin_refs(), refs);
        assert!(!fx.runs().join("002-release-handoff").exists(), "nothing written");
        assert_eq!(fx.phases(), phases);
    }
}

#[test]
fn missing_report_is_blocked() {
    let fx = fixture("accepted");
    std::fs::remove_dir_all(fx.runs()).unwrap();
    let r = fx.handoff(&fx.wt, &["--action", "commit", "--yes"]).fails(1);
    assert!(r.stderr.contains("no final-verification run of task dev-1 has"), "{}", r.stderr);
    let r = fx.handoff(&fx.wt, &["--action", "commit", "--yes", "--verification-report", "nope.md"]).fails(1);
    assert!(r.stderr.contains("blocked") && r.stderr.contains("nope.md"), "{}", r.stderr);
    assert!(fx.git_calls().iter().all(|c| !c.starts_with("commit")));
}

#[test]
fn explicit_report_is_used() {
    let fx = fixture("blocked");
    let mine = fx.env.root().join("mine.md");
    std::fs::write(&mine, ACCEPTED).unwrap();
    fx.handoff(&fx.wt, &["--action", "skip", "--verification-report", mine.to_str().unwrap()]).ok();
    assert!(fx.report().contains(&format!("`{}`", mine.display())));
}

#[test]
fn base_missing_on_origin() {
    let fx = fixture("accepted");
    let head = fx.head();
    let r = fx.handoff(&fx.wt, &["--action", "pr", "--base", "preprod", "--yes"]).fails(1);
    assert!(r.stderr.contains("branch 'preprod' does not exist on origin"), "{}", r.stderr);
    assert_eq!(fx.head(), head, "nothing committed");
    assert!(fx.gh_calls().is_empty());
    assert!(fx.git_calls().iter().any(|c| c == "ls-remote --heads origin refs/heads/preprod"));
}

#[test]
fn base_equal_to_feature_branch_is_a_usage_error() {
    let fx = fixture("accepted");
    let r = fx.handoff(&fx.wt, &["--action", "pr", "--base", "feat-dev-1", "--yes"]).fails(2);
    assert!(r.stderr.contains("is the feature branch itself"), "{}", r.stderr);
    let r = fx.handoff(&fx.wt, &["--action", "pr", "--base", "-x", "--yes"]);
    assert_ne!(r.code, 0);
    assert!(fx.gh_calls().is_empty());
}

#[test]
fn no_terminal_and_a_missing_choice_names_the_flag() {
    let fx = fixture("accepted");
    let head = fx.head();
    let r = fx.handoff(&fx.wt, &["--action", "pr", "--yes"]).fails(2);
    assert!(r.stderr.contains("no terminal to ask on, and --base was not given"), "{}", r.stderr);
    let r = fx.handoff(&fx.wt, &["--base", "staging", "--yes"]).fails(2);
    assert!(r.stderr.contains("--action was not given"), "{}", r.stderr);
    let r = fx.handoff(&fx.wt, &["--action", "commit"]).fails(2);
    assert!(r.stderr.contains("--yes or --message-file was not given"), "{}", r.stderr);
    assert_eq!(fx.head(), head);
}

#[test]
fn commit_only_commits_and_pushes_nothing() {
    let fx = fixture("accepted");
    let refs = fx.origin_refs();
    let before = fx.head();
    let r = fx.handoff(&fx.wt, &["--action", "commit", "--yes"]).ok();
    let report_path = r.stdout.trim();
    assert!(report_path.ends_with("runs/002-release-handoff/release-handoff.md"), "{report_path}");
    let msg = fx.env.git(&fx.wt, &["log", "-1", "--format=%B"]);
    assert!(msg.starts_with("feat(web): add login page\n"), "{msg}");
    assert!(msg.contains("- web/login.html"));
    assert!(msg.trim_end().ends_with("Refs: DEV-1"), "{msg}");
    assert_eq!(fx.env.git(&fx.wt, &["rev-parse", "HEAD~1"]), before);
    assert_eq!(fx.env.git(&fx.wt, &["status", "--porcelain"]), "", "everything committed");
    let files = fx.env.git(&fx.wt, &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(files, "web/login.html", "the sync-dir link is never committed");
    assert_eq!(fx.origin_refs(), refs, "nothing pushed");
    assert!(fx.gh_calls().is_empty(), "gh not called");
    assert!(!fx.git_calls().iter().any(|c| c.starts_with("push")));
    assert!(fx.git_calls().iter().any(|c| c == "--literal-pathspecs add -- web/login.html"), "{:?}", fx.git_calls());
    let report = fx.report();
    for h in HEADINGS {
        assert!(report.contains(h), "missing {h}:\n{report}");
    }
    let sha = fx.head();
    assert!(report.contains(&sha) && report.contains(&sha[..7]), "{report}");
    assert!(report.contains("- Verdict line: `accepted`"));
    assert!(report.contains("- action: `commit` (from --action)"));
    assert!(report.contains("- message: `use` (from --yes)"));
    assert!(report.contains("| `git commit -m 'feat(web): add login page …'` | 0 |"), "{report}");
    assert!(report.contains("- Outcome: `not-requested`"));
    assert!(report.contains("- Next: `done`"));
    assert_eq!(fx.phases().last().unwrap(), "release-handoff");
    // The record names the handoff's run folder, so `task show` finds the current run.
    let reg = fx.env.registry();
    assert_eq!(reg["tasks"]["proj/default/dev-1"]["phases"].as_array().unwrap().last().unwrap()["run"], 2);
    let shown = fx.env.okstra(&fx.repo, &["task", "show", "DEV-1", "--json"]).ok().json();
    assert_eq!(shown["contract"]["phase"], "release-handoff");
    assert_eq!(shown["contract"]["run"], 2);
}

#[test]
fn message_file_is_used_verbatim() {
    let fx = fixture("accepted");
    let f = fx.env.root().join("msg.txt");
    std::fs::write(&f, "fix(web): my own words\n\nRefs: DEV-1\n").unwrap();
    fx.handoff(&fx.wt, &["--action", "commit", "--message-file", f.to_str().unwrap()]).ok();
    assert_eq!(fx.env.git(&fx.wt, &["log", "-1", "--format=%s"]), "fix(web): my own words");
    let r = fx.handoff(&fx.wt, &["--action", "commit", "--message-file", "m", "--yes"]).fails(2);
    assert!(r.stderr.contains("cannot be used with"), "{}", r.stderr);
}

/// `--message-file` must be a small regular text file; anything else is refused before any
/// git command runs (nothing staged), and never hangs or reads without end.
#[test]
fn a_message_file_that_is_not_a_small_text_file_is_refused_before_any_git_command() {
    let fx = fixture("accepted");
    let dir = fx.env.root().join("msgs");
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.join(name), bytes).unwrap();
        dir.join(name).to_string_lossy().into_owned()
    };
    let cases: Vec<(String, &str)> = vec![
        ("/dev/zero".into(), "is not a regular file"),
        (fifo.to_string_lossy().into_owned(), "is not a regular file"),
        (dir.to_string_lossy().into_owned(), "is not a regular file"),
        (dir.join("missing").to_string_lossy().into_owned(), "cannot be read"),
        (write("big", &vec![b'a'; 2 << 20]), "is larger than 1024 KiB"),
        (write("nul", b"feat: x\0y\n"), "contains a NUL byte"),
        (write("latin1", b"feat: caf\xe9\n"), "is not UTF-8 text"),
        (write("blank", b" \n\t\n"), "is empty"),
    ];
    let calls = fx.git_calls().len();
    for (file, why) in &cases {
        let mut cmd = fx.env.command(common::BIN, &fx.wt);
        cmd.args(["handoff", "--action", "commit", "--message-file", file]).env("PATH", &fx.bin);
        let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("--message-file {file}: still running after 20 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(err.starts_with(&format!("error: message file {file} {why}")), "{file}: {err}");
        assert!(err.contains("hint:"), "{err}");
        assert_eq!(fx.git_calls().len(), calls, "{file}: a git command ran: {:?}", &fx.git_calls()[calls..]);
    }
    assert_eq!(fx.env.git(&fx.wt, &["status", "--porcelain"]), "?? web/", "nothing staged");
    assert!(!fx.runs().join("002-release-handoff").exists(), "no run folder");
    // a symlink to a regular file is a regular file
    let real = write("real.txt", b"fix(web): through a link\n");
    std::os::unix::fs::symlink(&real, dir.join("link.txt")).unwrap();
    fx.handoff(&fx.wt, &["--action", "commit", "--message-file", dir.join("link.txt").to_str().unwrap()]).ok();
    assert_eq!(fx.env.git(&fx.wt, &["log", "-1", "--format=%s"]), "fix(web): through a link");
}

fn expected_create(fx: &Fx) -> Vec<String> {
    let body = fx.runs().join("002-release-handoff/pr-body.md");
    [
        "pr",
        "create",
        "--base",
        "staging",
        "--head",
        "feat-dev-1",
        "--title",
        "feat(web): add login page",
        "--body-file",
        body.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

const EXPECTED_LIST: [&str; 10] =
    ["pr", "list", "--head", "feat-dev-1", "--state", "open", "--json", "url", "--jq", ".[].url"];

#[test]
fn pr_pushes_the_feature_branch_and_creates_the_pr() {
    let fx = fixture("accepted");
    let staging = fx.env.git(&fx.origin, &["rev-parse", "refs/heads/staging"]);
    let r = fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes", "--json"]).ok();
    let j = r.json();
    assert_eq!(j["schema"], 1);
    assert_eq!(j["status"], "done");
    assert_eq!(j["pr"]["outcome"], "created");
    assert_eq!(j["pr"]["url"], "https://github.com/acme/proj/pull/42");
    assert_eq!(fx.env.git(&fx.origin, &["rev-parse", "refs/heads/feat-dev-1"]), fx.head());
    assert_eq!(fx.env.git(&fx.origin, &["rev-parse", "refs/heads/staging"]), staging, "base untouched");
    assert_eq!(fx.gh_calls(), vec![EXPECTED_LIST.map(String::from).to_vec(), expected_create(&fx)]);
    let pushes: Vec<_> = fx.git_calls().into_iter().filter(|c| c.starts_with("push")).collect();
    assert_eq!(pushes, vec!["push -u origin feat-dev-1"]);
    let body = std::fs::read_to_string(fx.runs().join("002-release-handoff/pr-body.md")).unwrap();
    for h in ["## Summary", "## Changes", "## Test plan", "## Linked issues"] {
        assert!(body.contains(h), "{body}");
    }
    assert!(body.contains("Committed by this handoff:\n- `web/login.html`\n"), "{body}");
    assert!(body.contains("cargo test: 12 passed"), "{body}");
    assert!(body.contains("Refs: DEV-1"));
    let report = fx.report();
    assert!(report.contains("- Outcome: `created`") && report.contains("pull/42"), "{report}");
    assert!(report.contains("- PR base: `staging` (from --base)"));
    assert!(report.contains("| `git push -u origin feat-dev-1` | 0 |"), "{report}");
}

/// The handoff records its pull request; the board shows it and `--pr` asks gh for its state.
#[test]
fn the_board_shows_and_refreshes_the_recorded_pr() {
    let fx = fixture("accepted");
    fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes"]).ok();
    let run = fx.runs().join("002-release-handoff");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("handoff.json")).unwrap()).unwrap();
    assert_eq!((&record["status"], &record["pr"]["outcome"]), (&"done".into(), &"created".into()));
    let row = &fx.env.registry()["tasks"]["proj/default/dev-1"];
    assert_eq!(
        (&row["pr"]["url"], &row["pr"]["state"]),
        (&"https://github.com/acme/proj/pull/42".into(), &"open".into())
    );
    let path = fx.bin.to_str().unwrap();
    let list = |extra: &[&str]| {
        let mut args = vec!["task", "list", "--json"];
        args.extend_from_slice(extra);
        fx.env.okstra_env(&fx.repo, &args, &[("PATH", path)]).ok().json()["tasks"][0].clone()
    };
    let t = list(&[]);
    assert_eq!((&t["pr"]["state"], &t["run"]["state"], &t["waiting"]), (&"open".into(), &"done".into(), &false.into()));
    let calls_before = fx.gh_calls().len();

    std::fs::write(
        fx.env.root().join("gh-view.json"),
        r#"{"url":"https://github.com/acme/proj/pull/42","state":"MERGED","isDraft":false,"reviewDecision":"APPROVED"}"#,
    )
    .unwrap();
    let t = list(&["--pr"]);
    assert_eq!((&t["pr"]["state"], &t["pr"]["review"]), (&"merged".into(), &"approved".into()));
    let calls = fx.gh_calls();
    assert_eq!(calls.len(), calls_before + 1);
    assert_eq!(
        calls[calls_before],
        ["pr", "view", "https://github.com/acme/proj/pull/42", "--json", "url,state,isDraft,reviewDecision"]
    );
    // Kept: a plain listing (no gh call) shows the refreshed state.
    assert_eq!(fx.env.registry()["tasks"]["proj/default/dev-1"]["pr"]["state"], "merged");
    let table = fx.env.okstra_env(&fx.repo, &["task", "list"], &[("PATH", path)]).ok().stdout;
    assert!(table.contains("#42 merged"), "{table}");
    assert_eq!(fx.gh_calls().len(), calls_before + 1);

    // --watch draws often but asks gh at most once a minute: three boards, one call. Off a
    // terminal each board follows the last.
    use std::io::BufRead;
    let mut child = fx
        .env
        .command(common::BIN, &fx.repo)
        .args(["task", "list", "--pr", "--watch", "0.1"])
        .env("PATH", path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut frames = 0;
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        assert!(!line.contains('\x1b'), "no escape codes off a terminal: {line:?}");
        frames += usize::from(line.starts_with("Every 0.1s: git okstra task list --pr"));
        if frames == 3 {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(fx.gh_calls().len(), calls_before + 2, "one more gh pr view for three boards");

    // gh failing for a pull request: a warning and a notice; the recorded state stays.
    std::fs::write(fx.env.root().join("gh-view.json"), "garbage").unwrap();
    let r = fx.env.okstra_env(&fx.repo, &["task", "list", "--pr", "--json"], &[("PATH", path)]).ok();
    assert!(r.stderr.contains("warning: gh pr view https://github.com/acme/proj/pull/42 failed"), "{}", r.stderr);
    let t = &r.json()["tasks"][0];
    assert_eq!((&t["pr"]["state"], &t["notices"][0]), (&"merged".into(), &"pr check failed: unreadable answer".into()));
}

#[test]
fn existing_pr_is_reused() {
    let fx = fixture("accepted");
    std::fs::write(fx.env.root().join("gh-existing-pr"), "https://github.com/acme/proj/pull/7\n").unwrap();
    let j = fx.handoff(&fx.wt, &["--action", "pr", "--base", "dev", "--yes", "--json"]).ok().json();
    assert_eq!(j["pr"]["outcome"], "reused");
    assert_eq!(j["pr"]["url"], "https://github.com/acme/proj/pull/7");
    assert_eq!(fx.gh_calls(), vec![EXPECTED_LIST.map(String::from).to_vec()], "no second PR");
    assert!(fx.report().contains("- Outcome: `reused`"));
}

/// The real okstra hooks, installed over a project's own pre-push hook (which they chain).
/// The okstra policy itself never sees a handoff push it would refuse: the runner refuses
/// protected targets first, git refuses non-fast-forwards before pre-push runs, and a push
/// refmap that would force or redirect is refused up front (next test). What can reject the
/// push at the hook is the chained project hook, run by okstra's pre-push shim.
#[test]
fn push_rejected_by_the_okstra_pre_push_hook_stops_without_retry() {
    let fx = fixture("accepted");
    let hooks = fx.repo.join(".git/hooks");
    let log = fx.env.root().join("pre-push.log");
    write_exec(
        &hooks.join("pre-push"),
        format!(
            "#!/bin/sh\ncat >> '{}'\necho 'pre-push: 2 integration tests failed; not pushing' >&2\nexit 1\n",
            log.display()
        ),
    );
    // The chaining shim copies git's input with these; a real PATH has them.
    for tool in ["mktemp", "cat", "rm"] {
        let out = std::process::Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap();
        let found = String::from_utf8(out.stdout).unwrap();
        std::os::unix::fs::symlink(found.trim(), fx.bin.join(tool)).unwrap();
    }
    let install = fx.env.okstra(&fx.repo, &["hooks", "install", "--json"]).ok().json();
    let pre_push = install["hooks"].as_array().unwrap().iter().find(|h| h["name"] == "pre-push").unwrap();
    assert_eq!(pre_push["action"], "chained");
    let refs = fx.origin_refs();

    let r = fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes"]).fails(1);
    assert!(r.stderr.contains("pre-push: 2 integration tests failed"), "the hook's message is shown: {}", r.stderr);
    assert!(r.stderr.contains("nothing was retried or forced"), "{}", r.stderr);
    assert_eq!(fx.origin_refs(), refs);
    let pushes: Vec<_> = fx.git_calls().into_iter().filter(|c| c.starts_with("push")).collect();
    assert_eq!(pushes, vec!["push -u origin feat-dev-1"], "exactly one push, never forced");
    assert!(fx.gh_calls().is_empty(), "nothing asked of gh after a failed push");
    // The chained hook got git's pre-push lines through okstra's shim: the feature branch only.
    let head = fx.head();
    let lines = std::fs::read_to_string(&log).unwrap();
    assert_eq!(lines, format!("refs/heads/feat-dev-1 {head} refs/heads/feat-dev-1 {}\n", "0".repeat(40)));
    let report = fx.report();
    assert!(report.contains("Status: `failed`"), "{report}");
    assert!(report.contains("| `git push -u origin feat-dev-1` | 1 |"), "{report}");
    assert!(report.contains("- Next: `release-handoff`"));
    // The commit went through the real commit hooks (pre-commit stamp, prepare-commit-msg check).
    assert_eq!(fx.env.git(&fx.wt, &["log", "-1", "--format=%s"]), "feat(web): add login page", "the commit is kept");
    assert!(!fx.repo.join(".git/okstra/audit.jsonl").exists(), "the okstra policy refused nothing");

    // Once the project's hook passes, the same handoff goes through the okstra policy and pushes.
    write_exec(&hooks.join("pre-push.okstra-chained"), "#!/bin/sh\ncat >/dev/null\nexit 0\n");
    let j = fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes", "--json"]).ok().json();
    assert_eq!(j["pr"]["outcome"], "created", "{j:#}");
    assert!(fx.origin_refs().contains(&format!("refs/heads/feat-dev-1 {head}")));
}

/// `remote.origin.push` applies to `git push -u origin <branch>` too: a `+` would force it, a
/// mapping would send it onto another branch. Both are refused before anything runs.
#[test]
fn push_refmap_that_forces_or_redirects_is_refused_before_anything_runs() {
    let fx = fixture("accepted");
    let head = fx.head();
    let refs = fx.origin_refs();
    for (spec, effect) in [
        ("+refs/heads/*:refs/heads/*", "a forced push"),
        ("refs/heads/feat-dev-1:refs/heads/main", "an update of another ref"),
    ] {
        fx.env.git(&fx.repo, &["config", "remote.origin.push", spec]);
        let r = fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes"]).fails(1);
        assert!(
            r.stderr.starts_with(&format!(
                "error: remote.origin.push = {spec} would turn `git push -u origin feat-dev-1` into {effect}"
            )),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("hint: the handoff pushes only the feature branch to itself"), "{}", r.stderr);
        assert_eq!(fx.head(), head, "nothing committed");
        assert_eq!(fx.origin_refs(), refs, "nothing pushed");
        assert!(!fx.git_calls().iter().any(|c| c.starts_with("push") || c.starts_with("commit")));
        assert!(fx.gh_calls().is_empty());
        assert!(!fx.runs().join("002-release-handoff").exists(), "no run folder");
    }
    // `commit` pushes nothing, so the refmap does not matter there.
    fx.handoff(&fx.wt, &["--action", "commit", "--yes"]).ok();
    // An identity mapping is what a plain push does anyway.
    fx.env.git(&fx.repo, &["config", "remote.origin.push", "refs/heads/*:refs/heads/*"]);
    let j = fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes", "--json"]).ok().json();
    assert_eq!(j["pr"]["outcome"], "created", "{j:#}");
    assert!(fx.origin_refs().contains(&format!("refs/heads/feat-dev-1 {}", fx.head())));
    assert!(fx.origin_refs().contains(&refs.lines().find(|l| l.starts_with("refs/heads/main ")).unwrap().to_string()));
}

#[test]
fn non_fast_forward_push_stops_without_retry() {
    let fx = fixture("accepted");
    let other = fx.env.root().join("other");
    fx.env.git(&fx.env.root(), &["clone", "-q", fx.origin.to_str().unwrap(), other.to_str().unwrap()]);
    fx.env.git(&other, &["switch", "-q", "-c", "feat-dev-1"]);
    fx.env.commit_file(&other, "theirs.txt", "x\n", "someone else's work");
    fx.env.git(&other, &["push", "-q", "origin", "feat-dev-1"]);
    let refs = fx.origin_refs();
    let r = fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes"]).fails(1);
    assert!(r.stderr.contains("rejected"), "{}", r.stderr);
    assert_eq!(fx.origin_refs(), refs, "their branch is untouched");
    let pushes: Vec<_> = fx.git_calls().into_iter().filter(|c| c.starts_with("push")).collect();
    assert_eq!(pushes, vec!["push -u origin feat-dev-1"]);
    assert!(fx.gh_calls().is_empty());
}

#[test]
fn skip_changes_nothing_but_the_report() {
    let fx = fixture("accepted");
    let head = fx.head();
    let refs = fx.origin_refs();
    fx.handoff(&fx.wt, &["--action", "skip"]).ok();
    assert_eq!(fx.head(), head);
    assert_eq!(fx.origin_refs(), refs);
    assert!(fx.gh_calls().is_empty());
    assert!(!fx.git_calls().iter().any(|c| c.starts_with("add") || c.contains(" add ") || c.starts_with("commit")));
    let report = fx.report();
    assert!(report.contains("Status: `skipped`"));
    assert!(report.contains("- Next: `done`"));
    assert!(report.contains("re-entry makes sense"), "{report}");
    assert_eq!(fx.phases().last().unwrap(), "release-handoff");
}

#[test]
fn empty_diff_skips_the_commit_and_refuses_an_empty_pr_before_any_push() {
    let fx = fixture("accepted");
    std::fs::remove_dir_all(fx.wt.join("web")).unwrap();
    let head = fx.head();
    let r = fx.handoff(&fx.wt, &["--action", "commit", "--yes"]).ok();
    assert!(r.stderr.contains("no changes; commit skipped"), "{}", r.stderr);
    assert_eq!(fx.head(), head);
    assert!(fx.report().contains("no changes; commit skipped"));
    // Nothing beyond the base and nothing to commit: no push, no gh, no report, exit 1.
    let refs = fx.origin_refs();
    let phases = fx.phases();
    for dry in [true, false] {
        let _ = std::fs::remove_file(fx.env.root().join("git.log"));
        let mut args = vec!["--action", "pr", "--base", "staging", "--yes"];
        if dry {
            args.push("--dry-run");
        }
        let r = fx.handoff(&fx.wt, &args).fails(1);
        assert_eq!(
            r.stderr,
            "error: branch 'feat-dev-1' has no commits beyond 'staging' and nothing to commit: there is nothing to open a pull request for\n\
             hint: commit the task's work on its branch first, or hand off with --action commit or --action skip\n"
        );
        assert!(r.stdout.is_empty(), "{}", r.stdout);
        assert!(!fx.git_calls().iter().any(|c| c.starts_with("push")), "{:?}", fx.git_calls());
    }
    assert!(fx.gh_calls().is_empty(), "{:?}", fx.gh_calls());
    assert_eq!(fx.origin_refs(), refs);
    assert_eq!(fx.phases(), phases, "nothing recorded");
    assert!(!fx.runs().join("003-release-handoff").exists(), "no report for a refused handoff");
    // One commit on the branch is enough for a PR, with nothing left to commit.
    fx.env.commit_file(&fx.wt, "notes.txt", "x\n", "notes");
    let j = fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes", "--json"]).ok().json();
    assert_eq!(j["pr"]["outcome"], "created");
    assert_eq!(fx.env.git(&fx.origin, &["rev-parse", "refs/heads/feat-dev-1"]), fx.head());
}

#[test]
fn the_dry_run_shows_exactly_the_pr_body_the_real_run_sends() {
    let fx = fixture("accepted");
    // one commit already on the branch and one change the handoff commits
    fx.env.commit_file(&fx.wt, "web/style.css", "a {}\n", "style");
    let dry = fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes", "--dry-run", "--json"]).ok();
    let dry_body = dry.json()["pr_body"].as_str().unwrap().to_string();
    let human = fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes", "--dry-run"]).ok().stdout;
    let shown = human.split("# Pull request body (draft)\n\n").nth(1).unwrap();
    let shown = shown.split("\n\n# Commands that would run").next().unwrap();
    assert_eq!(shown, dry_body.trim_end(), "the human dry run prints the same body");
    let real = fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes", "--json"]).ok().json();
    let sent = std::fs::read_to_string(fx.runs().join("002-release-handoff/pr-body.md")).unwrap();
    assert_eq!(sent, dry_body, "the body gh got is the one the dry run showed");
    assert_eq!(real["pr_body"].as_str().unwrap(), dry_body);
    assert!(sent.contains("web/style.css | 1 +"), "the branch's diff stat: {sent}");
    assert!(sent.contains("Committed by this handoff:\n- `web/login.html`\n"), "{sent}");
    assert_eq!(fx.gh_calls()[1], expected_create(&fx), "and it was handed to gh pr create");
}

#[test]
fn dry_run_runs_nothing_that_changes_anything() {
    let fx = fixture("accepted");
    let head = fx.head();
    let refs = fx.origin_refs();
    let phases = fx.phases();
    let r = fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes", "--dry-run"]).ok();
    assert!(r.stdout.contains("feat(web): add login page"), "{}", r.stdout);
    assert!(r.stdout.contains("## Test plan"));
    assert!(r.stdout.contains("git --literal-pathspecs add -- web/login.html"));
    assert!(r.stdout.contains("git push -u origin feat-dev-1"));
    assert!(r.stdout.contains("gh pr create --base staging --head feat-dev-1"), "{}", r.stdout);
    for c in fx.git_calls() {
        let sub = c.trim_start_matches("--literal-pathspecs ").split(' ').next().unwrap().to_string();
        assert!(
            ["status", "diff", "log", "rev-parse", "rev-list", "symbolic-ref", "ls-remote", "check-ref-format"]
                .contains(&sub.as_str()),
            "only read-only git in a dry run: {c}"
        );
    }
    assert!(fx.gh_calls().is_empty());
    assert_eq!(fx.head(), head);
    assert_eq!(fx.origin_refs(), refs);
    assert!(!fx.runs().join("002-release-handoff").exists());
    assert_eq!(fx.phases(), phases);
    assert_eq!(fx.env.git(&fx.wt, &["diff", "--cached", "--name-only"]), "", "nothing staged");
}

#[test]
fn gh_missing_still_commits_and_says_how_to_finish() {
    let fx = fixture("accepted");
    std::fs::remove_file(fx.bin.join("gh")).unwrap();
    let j = fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes", "--json"]).ok().json();
    assert_eq!(j["status"], "done");
    assert_eq!(j["pr"]["outcome"], "skipped");
    let reason = j["pr"]["reason"].as_str().unwrap();
    assert!(reason.contains("gh is not on PATH") && reason.contains("gh pr create --base staging --head feat-dev-1"));
    assert_eq!(fx.env.git(&fx.wt, &["log", "-1", "--format=%s"]), "feat(web): add login page");
    assert!(fx.report().contains("- Outcome: `skipped`"));
}

#[test]
fn task_handoff_names_the_task_from_anywhere() {
    let fx = fixture("accepted");
    let r = fx.env.okstra_env(
        &fx.repo,
        &["task", "handoff", "DEV-1", "--action", "commit", "--yes"],
        &[("PATH", fx.bin.to_str().unwrap())],
    );
    r.ok();
    assert_eq!(fx.env.git(&fx.wt, &["log", "-1", "--format=%s"]), "feat(web): add login page");
    fx.handoff(&fx.repo, &["--task", "DEV-1", "--action", "skip"]).ok();
    let r = fx.handoff(&fx.repo, &["--action", "skip"]).fails(1);
    assert!(r.stderr.contains("is not a registered task worktree"), "{}", r.stderr);
    let r = fx.handoff(&fx.repo, &["--task", "NOPE-9", "--action", "skip"]).fails(1);
    assert!(r.stderr.contains("no task 'NOPE-9'"), "{}", r.stderr);
}

#[test]
fn worktree_off_the_task_branch_is_refused() {
    let fx = fixture("accepted");
    fx.env.git(&fx.wt, &["switch", "-q", "--detach"]);
    let r = fx.handoff(&fx.wt, &["--action", "commit", "--yes"]).fails(1);
    assert!(r.stderr.contains("detached HEAD"), "{}", r.stderr);
}

// ---- The menus on a terminal, driven through a pseudo-terminal. ----

const DOWN: &str = "\x1b[B";
const UP: &str = "\x1b[A";
const ENTER: &str = "\r";

fn pty(fx: &Fx, extra_env: &[(&str, &str)]) -> rexpect::session::PtySession {
    use std::process::Stdio;
    let mut cmd = fx.env.command(common::BIN, &fx.wt);
    cmd.arg("handoff").stdin(Stdio::inherit()).stdout(Stdio::inherit()).stderr(Stdio::inherit());
    let path = common::path_with(&fx.bin);
    cmd.env("PATH", path).env("TERM", "xterm").env_remove("NO_COLOR");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    rexpect::session::spawn_command(cmd, Some(20_000)).expect("spawn on a pty")
}

fn keys(p: &mut rexpect::session::PtySession, k: &[&str]) {
    for s in k {
        p.send(s).unwrap();
        p.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(60));
    }
}

#[test]
fn menus_pick_the_defaults_pr_staging_use() {
    let fx = fixture("accepted");
    let mut p = pty(&fx, &[]);
    p.exp_string("what should happen?").unwrap();
    keys(&mut p, &[ENTER]);
    p.exp_string("Pull request base").unwrap();
    keys(&mut p, &[ENTER]);
    p.exp_string("Commit message").unwrap();
    keys(&mut p, &[ENTER]);
    p.exp_string("created the pull request https://github.com/acme/proj/pull/42").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(fx.env.git(&fx.origin, &["rev-parse", "refs/heads/feat-dev-1"]), fx.head());
    assert_eq!(fx.gh_calls(), vec![EXPECTED_LIST.map(String::from).to_vec(), expected_create(&fx)]);
    let report = fx.report();
    assert!(report.contains("- action: `pr` (from menu)"), "{report}");
    assert!(report.contains("- PR base: `staging` (from menu)"));
    assert!(report.contains("- message: `use` (from menu)"));
}

#[test]
fn menus_ask_again_then_take_a_typed_base_and_cancel() {
    let fx = fixture("accepted");
    let head = fx.head();
    let refs = fx.origin_refs();
    let mut p = pty(&fx, &[]);
    p.exp_string("what should happen?").unwrap();
    keys(&mut p, &[ENTER]);
    p.exp_string("Pull request base").unwrap();
    keys(&mut p, &[DOWN, ENTER]); // preprod: not on origin
    p.exp_string("branch 'preprod' does not exist on origin; choose another").unwrap();
    p.exp_string("Pull request base").unwrap();
    keys(&mut p, &[DOWN, DOWN, DOWN, DOWN, DOWN, ENTER]); // other (type a branch name)
    p.exp_string("Base branch on origin").unwrap();
    keys(&mut p, &["feat-dev-1", ENTER]);
    p.exp_string("is the feature branch itself").unwrap();
    keys(&mut p, &["\x7f"; 10]);
    keys(&mut p, &["nope", ENTER]);
    p.exp_string("does not exist on origin").unwrap();
    keys(&mut p, &["\x7f"; 4]);
    keys(&mut p, &["dev", ENTER]);
    p.exp_string("Commit message").unwrap();
    keys(&mut p, &[DOWN, DOWN, ENTER]); // cancel
    p.exp_eof().unwrap();
    assert_eq!(fx.head(), head, "nothing committed");
    assert_eq!(fx.origin_refs(), refs, "nothing pushed");
    assert!(fx.gh_calls().is_empty());
    let report = fx.report();
    assert!(report.contains("Status: `cancelled`"), "{report}");
    assert!(report.contains("- PR base: `dev` (from typed in)"), "{report}");
    assert!(report.contains("- message: `cancel` (from menu)"));
    assert!(report.contains("re-entry makes sense"));
    assert_eq!(fx.phases().last().unwrap(), "release-handoff");
}

#[test]
fn menu_edit_opens_the_git_editor() {
    let fx = fixture("accepted");
    let editor = fx.env.root().join("editor.sh");
    write_exec(&editor, "#!/bin/sh\ngrep -q '^Refs: DEV-1' \"$1\" || exit 3\nprintf 'fix(web): edited by hand\\n\\n# dropped\\nRefs: DEV-1\\n' > \"$1\"\n");
    let mut p = pty(&fx, &[("GIT_EDITOR", editor.to_str().unwrap())]);
    p.exp_string("what should happen?").unwrap();
    keys(&mut p, &[UP, ENTER]); // commit
    p.exp_string("Commit message").unwrap();
    keys(&mut p, &[DOWN, ENTER]); // edit
    p.exp_eof().unwrap();
    assert_eq!(fx.env.git(&fx.wt, &["log", "-1", "--format=%B"]), "fix(web): edited by hand\n\nRefs: DEV-1");
    assert!(fx.gh_calls().is_empty());
    assert!(fx.report().contains("- message: `edit` (from menu)"));
}

/// The task branch pushed once with `--no-verify` (the okstra hooks installed), so its last
/// push skipped okstra's pre-push hook.
fn bypassed_fixture() -> Fx {
    let fx = fixture("accepted");
    fx.env.okstra(&fx.repo, &["hooks", "install"]).ok();
    fx.env.commit_file(&fx.wt, "web/early.html", "early\n", "feat: early draft");
    fx.env.git(&fx.wt, &["push", "-q", "--no-verify", "-u", "origin", "feat-dev-1"]);
    fx
}

#[test]
fn a_branch_whose_last_push_bypassed_the_hooks_is_shipped_only_when_confirmed() {
    let fx = bypassed_fixture();
    let (head, refs) = (fx.head(), fx.origin_refs());
    // task list marks it (and tells the notice, once); task show says when and where.
    let r = fx.env.okstra(&fx.repo, &["task", "list"]).ok();
    assert!(r.stdout.contains("! last push (origin/feat-dev-1) skipped the pre-push hook"), "{}", r.stdout);
    assert!(r.stderr.contains("warning: [okstra:no-verify] origin/feat-dev-1: a push at"), "{}", r.stderr);
    let r = fx.env.okstra(&fx.repo, &["task", "show", "DEV-1"]).ok();
    assert!(r.stdout.contains("last push   origin/feat-dev-1 at 20"), "{}", r.stdout);
    assert!(!r.stderr.contains("warning: [okstra:no-verify]"), "told once: {}", r.stderr);
    let j = fx.env.okstra(&fx.repo, &["task", "list", "--json"]).ok().json();
    assert_eq!(j["tasks"][0]["last_push_bypassed_hooks"]["tracking_ref"], "refs/remotes/origin/feat-dev-1");
    // Without a terminal and without the flag: refused before anything is asked or run.
    let r = fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes"]).fails(1);
    assert!(r.stderr.contains("error: the last push of feat-dev-1 (origin/feat-dev-1 at 20"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: check what that push sent (`git log origin/feat-dev-1`), then hand off again with --accept-bypassed-push"), "{}", r.stderr);
    assert_eq!((fx.head(), fx.origin_refs()), (head.clone(), refs));
    assert!(fx.gh_calls().is_empty());
    // A dry run needs the same answer, and acknowledges nothing.
    fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes", "--dry-run"]).fails(1);
    fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes", "--dry-run", "--accept-bypassed-push"]).ok();
    assert!(fx.env.okstra(&fx.repo, &["task", "list"]).ok().stdout.contains("! last push (origin/feat-dev-1)"));
    // Confirmed with the flag: shipped, logged, and the notice ends.
    let j = fx
        .handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes", "--accept-bypassed-push", "--json"])
        .ok()
        .json();
    assert_eq!(j["status"], "done", "{j:#}");
    assert!(fx.report().contains("- bypassed push: `accept` (from --accept-bypassed-push)"), "{}", fx.report());
    let audit = std::fs::read_to_string(fx.repo.join(".git/okstra/audit.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let decisions: Vec<_> =
        lines.iter().map(|l| (l["source"].as_str().unwrap(), l["decision"].as_str().unwrap())).collect();
    assert_eq!(decisions, [("push-notice", "warned"), ("handoff", "acknowledged")]);
    let r = fx.env.okstra(&fx.repo, &["task", "list"]).ok();
    assert!(!r.stdout.contains('!'), "{}", r.stdout);
}

#[test]
fn menu_asks_before_shipping_a_branch_whose_last_push_bypassed_the_hooks() {
    let fx = bypassed_fixture();
    let (head, refs) = (fx.head(), fx.origin_refs());
    let mut p = pty(&fx, &[]);
    p.exp_string("what should happen?").unwrap();
    keys(&mut p, &[ENTER]);
    p.exp_string("skipped okstra's pre-push hook. Ship it anyway?").unwrap();
    keys(&mut p, &[ENTER]); // the default: no
    p.exp_eof().unwrap();
    assert_eq!((fx.head(), fx.origin_refs()), (head, refs), "nothing committed or pushed");
    assert!(fx.report().contains("- bypassed push: `decline` (from menu)"), "{}", fx.report());
    let mut p = pty(&fx, &[]);
    p.exp_string("what should happen?").unwrap();
    keys(&mut p, &[ENTER]);
    p.exp_string("Ship it anyway?").unwrap();
    keys(&mut p, &[DOWN, ENTER]);
    p.exp_string("Pull request base").unwrap();
    keys(&mut p, &[ENTER]);
    p.exp_string("Commit message").unwrap();
    keys(&mut p, &[ENTER]);
    p.exp_string("created the pull request").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(fx.env.git(&fx.origin, &["rev-parse", "refs/heads/feat-dev-1"]), fx.head());
}

#[test]
fn a_notice_state_that_cannot_be_read_stops_a_pr_handoff() {
    let fx = bypassed_fixture();
    let state = fx.repo.join(".git/okstra/push-notices.json");
    std::fs::write(&state, "{not json").unwrap();
    let (head, refs) = (fx.head(), fx.origin_refs());
    let r = fx.handoff(&fx.wt, &["--action", "pr", "--base", "staging", "--yes", "--accept-bypassed-push"]).fails(1);
    assert!(r.stderr.contains("error: cannot read") && r.stderr.contains("push-notices.json"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: move the file aside"), "{}", r.stderr);
    assert_eq!((fx.head(), fx.origin_refs()), (head, refs));
}
