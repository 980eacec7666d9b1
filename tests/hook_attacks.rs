//! The pushes an agent might try to get a commit onto a protected branch, against real git
//! and a real bare remote. With the client hooks alone, every attack the client can see is
//! refused; the ones that skip client hooks entirely (`core.hooksPath`, `--no-verify`), and a
//! push to a name that is a symbolic ref to `main` on the remote (the client sees only the
//! name), are shown to get through, which is exactly why the server hook exists: with `hooks
//! install --server` on the remote, every attack is refused and the remote is unchanged.
mod common;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Env;

struct Setup {
    env: Env,
    repo: PathBuf,
    origin: PathBuf,
}

fn setup(server: bool) -> Setup {
    let env = Env::new();
    let repo = env.repo("proj");
    let origin = env.origin(&repo, &["dev"]);
    env.okstra(&repo, &["hooks", "install"]).ok();
    if server {
        env.okstra(&origin, &["hooks", "install", "--server"]).ok();
    }
    // An alias of main on the remote (the client cannot see that it is one).
    env.git(&origin, &["symbolic-ref", "refs/heads/trunk", "refs/heads/main"]);
    let url = origin.to_str().unwrap();
    env.git(&repo, &["remote", "add", "other", url]);
    env.git(&repo, &["switch", "-q", "-c", "feat-x"]);
    env.commit_file(&repo, "a.txt", "a\n", "feat: a");
    Setup { env, repo, origin }
}

/// How an attack is run: git arguments, optionally from another folder and with `GIT_DIR`.
struct Attack {
    name: &'static str,
    args: Vec<String>,
    git_dir: bool,
    /// Out of the client hooks' reach (they are skipped, or cannot see what the remote does
    /// with the name): only the server hook can stop it.
    out_of_client_reach: bool,
}

fn attacks(s: &Setup) -> Vec<Attack> {
    let url = s.origin.to_str().unwrap().to_string();
    let a = |name, args: &[&str], git_dir, out| Attack {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        git_dir,
        out_of_client_reach: out,
    };
    let file_url = format!("file://{url}");
    vec![
        a("refspec HEAD:main", &["push", "origin", "HEAD:main"], false, false),
        a("full ref name", &["push", "origin", "HEAD:refs/heads/main"], false, false),
        a("second remote name", &["push", "other", "HEAD:main"], false, false),
        a("remote given as a path", &["push", &url, "HEAD:main"], false, false),
        a("remote given as a file:// URL", &["push", &file_url, "HEAD:main"], false, false),
        a("git alias", &["-c", "alias.ship=push origin HEAD:main", "ship"], false, false),
        a("shell alias", &["-c", "alias.ship=!git push origin HEAD:main", "ship"], false, false),
        a("GIT_DIR from outside the repository", &["push", "origin", "HEAD:main"], true, false),
        a("forced +refspec", &["push", "origin", "+HEAD:main"], false, false),
        a("--force", &["push", "--force", "origin", "HEAD:main"], false, false),
        a("delete the protected branch", &["push", "origin", ":dev"], false, false),
        // git does not show pre-push the remote branches a mirror push deletes (here: dev)
        a("--mirror", &["push", "--mirror", "origin"], false, false),
        a("--mirror abbreviated", &["push", "--mirr", "origin"], false, false),
        a("remote.<name>.mirror", &["-c", "remote.origin.mirror=true", "push", "origin"], false, false),
        a("core.hooksPath=/dev/null", &["-c", "core.hooksPath=/dev/null", "push", "origin", "HEAD:main"], false, true),
        a("push --no-verify", &["push", "--no-verify", "origin", "HEAD:main"], false, true),
        a("a symbolic ref to main on the remote", &["push", "origin", "HEAD:trunk"], false, true),
    ]
}

fn remote_refs(env: &Env, origin: &Path) -> String {
    env.git(origin, &["for-each-ref", "--format=%(refname) %(objectname)"])
}

fn run(s: &Setup, attack: &Attack) -> (i32, String) {
    let mut cmd: Command = if attack.git_dir {
        let mut c = s.env.command("git", &s.env.root());
        c.env("GIT_DIR", s.repo.join(".git")).env("GIT_WORK_TREE", &s.repo);
        c
    } else {
        s.env.command("git", &s.repo)
    };
    let out = cmd.args(&attack.args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Put the remote's refs back as they were (on the server side, no push involved).
fn restore(env: &Env, origin: &Path, refs: &str) {
    for line in refs.lines() {
        let (name, oid) = line.split_once(' ').unwrap();
        env.git(origin, &["update-ref", name, oid]);
    }
}

#[test]
fn client_hooks_refuse_every_attack_they_can_see() {
    let s = setup(false);
    let before = remote_refs(&s.env, &s.origin);
    let mut through = Vec::new();
    for attack in attacks(&s) {
        let (code, stderr) = run(&s, &attack);
        let after = remote_refs(&s.env, &s.origin);
        if attack.out_of_client_reach {
            // documented limit: no client hook runs, so the push lands
            assert_eq!(code, 0, "{}: {stderr}", attack.name);
            assert_ne!(after, before, "{}", attack.name);
            through.push(attack.name);
            restore(&s.env, &s.origin, &before);
        } else {
            assert_ne!(code, 0, "{} was allowed", attack.name);
            assert!(stderr.contains("okstra"), "{}: the refusal names okstra: {stderr}", attack.name);
            assert_eq!(after, before, "{} changed the remote", attack.name);
        }
    }
    assert_eq!(through, ["core.hooksPath=/dev/null", "push --no-verify", "a symbolic ref to main on the remote"]);
    // a remote configured as a mirror in the repository's own config
    s.env.git(&s.repo, &["config", "remote.origin.mirror", "true"]);
    let r = s.env.git_run(&s.repo, &["push", "origin"]);
    assert_ne!(r.code, 0, "a configured mirror push was allowed");
    assert!(r.stderr.contains("[okstra:non-fast-forward] push to remote 'origin'"), "{}", r.stderr);
    assert_eq!(remote_refs(&s.env, &s.origin), before);
}

#[test]
fn the_server_hook_refuses_every_attack() {
    let s = setup(true);
    let before = remote_refs(&s.env, &s.origin);
    for attack in attacks(&s) {
        let (code, stderr) = run(&s, &attack);
        assert_ne!(code, 0, "{} was allowed", attack.name);
        assert_eq!(remote_refs(&s.env, &s.origin), before, "{} changed the remote: {stderr}", attack.name);
        if attack.out_of_client_reach {
            assert!(
                stderr.contains("remote: error: [okstra:"),
                "{}: refused by the server hook: {stderr}",
                attack.name
            );
        }
    }
    // and an ordinary feature-branch push still works through both hooks
    s.env.git(&s.repo, &["push", "-q", "origin", "feat-x"]);
}
