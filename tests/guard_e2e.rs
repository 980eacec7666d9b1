//! The agent guard end to end, one test per spelling class: each command the earlier guard
//! let through is run the way an agent host runs it — the guard first, the command (with
//! bash) only when allowed — in a repository with the okstra hooks installed and a real bare
//! remote, and the remote (or the work) is unchanged because the guard now blocks it. The
//! same command run without the guard in a twin repository shows that git accepts the
//! spelling and that the hooks alone do not stop it.
mod common;
use std::path::{Path, PathBuf};

use common::Env;

/// A repository `name` with a bare remote (main, dev), the hooks installed, on branch
/// `feat-x` one commit ahead of main.
fn side(env: &Env, name: &str) -> (PathBuf, PathBuf) {
    let repo = env.repo(name);
    let origin = env.origin(&repo, &["dev"]);
    env.okstra(&repo, &["hooks", "install"]).ok();
    env.git(&repo, &["switch", "-q", "-c", "feat-x"]);
    env.commit_file(&repo, "a.txt", "a\n", "feat: a");
    (repo, origin)
}

fn remote(env: &Env, origin: &Path) -> String {
    env.git(origin, &["for-each-ref", "--format=%(refname) %(objectname)"])
}

fn bash(env: &Env, dir: &Path, cmd: &str) -> common::Run {
    let out = env.command("bash", dir).args(["-c", cmd]).output().expect("run bash");
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Run `steps` as an agent host does: each through the guard, run only when allowed.
/// Returns the guard's exit codes.
fn as_agent(env: &Env, dir: &Path, steps: &[&str]) -> Vec<i32> {
    steps
        .iter()
        .map(|cmd| {
            let g = env.okstra(dir, &["hook", "agent-guard", cmd]);
            if g.code == 0 {
                bash(env, dir, cmd);
            }
            g.code
        })
        .collect()
}

/// The guard blocks the first step and the agent's remote is unchanged; without the guard,
/// the twin's remote changes.
fn blocked_but_real(steps: &[&str]) {
    let env = Env::new();
    let (repo, origin) = side(&env, "agent");
    let (twin, twin_origin) = side(&env, "twin");
    let before = remote(&env, &origin);
    let codes = as_agent(&env, &repo, steps);
    assert_eq!(codes[0], 2, "the guard blocks {:?}", steps[0]);
    assert_eq!(remote(&env, &origin), before, "the agent's remote is unchanged after {steps:?}");
    let twin_before = remote(&env, &twin_origin);
    let mut log = String::new();
    for cmd in steps {
        let r = bash(&env, &twin, cmd);
        log.push_str(&format!("$ {cmd}\n{}{}", r.stdout, r.stderr));
    }
    assert_ne!(
        remote(&env, &twin_origin),
        twin_before,
        "without the guard git takes the spelling and the hooks do not stop it:\n{log}"
    );
}

#[test]
fn option_grammar() {
    blocked_but_real(&["git push -n --no-dry-run --no-verify origin HEAD:main"]);
}

#[test]
fn other_names_for_git() {
    blocked_but_real(&["\"$(git --exec-path)/git-push\" --no-verify origin HEAD:main"]);
    blocked_but_real(&["git -c help.autocorrect=immediate psuh --no-verify origin HEAD:main"]);
}

#[test]
fn shell_expansion() {
    blocked_but_real(&["git push --no-{verify,verify} origin HEAD:{main,x}"]);
    blocked_but_real(&["touch -- --no-verify; git push --no-verif[y] origin HEAD:heads/main"]);
    blocked_but_real(&["R=HEAD:main; F=--no-verify; git push $F origin \"$R\""]);
}

#[test]
fn refspecs_git_resolves_differently() {
    let env = Env::new();
    let (repo, origin) = side(&env, "agent");
    let before = remote(&env, &origin);
    assert_eq!(as_agent(&env, &repo, &["git push origin HEAD:heads/main"]), [2]);
    assert_eq!(remote(&env, &origin), before);
    // Without the guard only the pre-push hook stops it, and it names the ref git resolved.
    let r = bash(&env, &repo, "git push origin HEAD:heads/main");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("refs/heads/main"), "{}", r.stderr);
    // With the hook gone (self-protect keeps agents from doing that), it lands on main.
    blocked_but_real(&["printf 'exit 0\\n' > .git/hooks/pre-push", "git push origin HEAD:heads/main"]);
}

#[test]
fn config_and_environment_that_change_the_policy() {
    blocked_but_real(&["git config okstra.protectedBranch nothing", "git push origin HEAD:main"]);
    let hooks_off = "printf '[core]\\n\\thooksPath = /dev/null\\n' > ~/inc.cfg";
    blocked_but_real(&[&format!("{hooks_off}; git -c include.path=\"$HOME/inc.cfg\" push origin HEAD:heads/main")]);
    blocked_but_real(&[
        &format!("{hooks_off}; git config include.path \"$HOME/inc.cfg\""),
        "git push origin HEAD:heads/main",
    ]);
}

#[test]
fn wrappers_and_constructs() {
    blocked_but_real(&["setsid git push --no-verify origin HEAD:main"]);
    blocked_but_real(&["coproc git push --no-verify origin HEAD:main; wait"]);
    blocked_but_real(&["perl -e 'system(\"git\", \"push\", \"--no-verify\", \"origin\", \"HEAD:main\")'"]);
    // bash expands an alias only on a later line, with expand_aliases on.
    blocked_but_real(&["shopt -s expand_aliases\nalias gp='git push --no-verify'\ngp origin HEAD:main"]);
}

#[test]
fn commands_git_runs() {
    blocked_but_real(&["GIT_EDITOR='git push --no-verify origin HEAD:main; true' git commit --allow-empty"]);
    blocked_but_real(&["git -c core.fsmonitor='git push --no-verify origin HEAD:main; false' status"]);
}

#[test]
fn oversized_input_runs_whole() {
    let env = Env::new();
    let (repo, origin) = side(&env, "agent");
    let (twin, twin_origin) = side(&env, "twin");
    let script = format!(": {}\ngit push --no-verify origin HEAD:main\n", "x".repeat(4 * 1024 * 1024));
    let file = env.root().join("long.sh");
    std::fs::write(&file, &script).unwrap();
    let before = remote(&env, &origin);
    let mut cmd = env.command(common::BIN, &repo);
    cmd.args(["hook", "agent-guard"]).stdin(std::fs::File::open(&file).unwrap());
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(remote(&env, &origin), before);
    // The host would have run all of it.
    let twin_before = remote(&env, &twin_origin);
    bash(&env, &twin, &format!("bash {}", file.display()));
    assert_ne!(remote(&env, &twin_origin), twin_before);
}

#[test]
fn discarding_local_work() {
    let env = Env::new();
    let (repo, _) = side(&env, "agent");
    let (twin, _) = side(&env, "twin");
    for dir in [&repo, &twin] {
        std::fs::write(dir.join("a.txt"), "uncommitted work\n").unwrap();
    }
    assert_eq!(as_agent(&env, &repo, &["git checkout -- ."]), [2]);
    assert_eq!(std::fs::read_to_string(repo.join("a.txt")).unwrap(), "uncommitted work\n");
    bash(&env, &twin, "git checkout -- .");
    assert_eq!(std::fs::read_to_string(twin.join("a.txt")).unwrap(), "a\n", "git discards it");
    // Another agent's checkout beside this one.
    let other = env.repo("other");
    assert_eq!(as_agent(&env, &repo, &["rm -rf ../other"]), [2]);
    assert!(other.join("README.md").exists());
    assert_eq!(as_agent(&env, &repo, &["git reset --hard"]), [2]);
    assert_eq!(std::fs::read_to_string(repo.join("a.txt")).unwrap(), "uncommitted work\n");
    // The safe forms pass.
    assert_eq!(as_agent(&env, &repo, &["git stash", "git stash pop"]), [0, 0]);
    assert_eq!(std::fs::read_to_string(repo.join("a.txt")).unwrap(), "uncommitted work\n");
}
