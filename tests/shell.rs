//! Completion scripts (through git's own bash completion) and the `okstra` shell function.
mod common;
use std::path::{Path, PathBuf};

use common::{Env, BIN};

/// git's bash completion script. Debian/Ubuntu ship it with the git package; other systems
/// keep it under git's share folder.
fn git_completion_script(env: &Env) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = [
        "/usr/share/bash-completion/completions/git",
        "/usr/local/share/bash-completion/completions/git",
        "/etc/bash_completion.d/git",
        "/usr/share/git-core/contrib/completion/git-completion.bash",
        "/usr/share/doc/git/contrib/completion/git-completion.bash",
        "/opt/homebrew/etc/bash_completion.d/git-completion.bash",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    // Relative to git's own installation (source builds, Homebrew, Nix).
    let exec_path = env.git(&env.root(), &["--exec-path"]);
    for up in ["../..", "../../..", ".."] {
        let base = Path::new(&exec_path).join(up);
        candidates.push(base.join("share/git-core/contrib/completion/git-completion.bash"));
        candidates.push(base.join("share/bash-completion/completions/git"));
        candidates.push(base.join("etc/bash_completion.d/git-completion.bash"));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// PATH with the binary first, so `git okstra` runs the one under test.
fn path_with_bin() -> String {
    let dir = Path::new(BIN).parent().unwrap();
    common::path_with(dir)
}

/// Run a bash script in `cwd` with the test environment; returns stdout.
fn bash(env: &Env, cwd: &Path, script: &str) -> common::Run {
    let out = env
        .command("bash", cwd)
        .args(["--norc", "--noprofile", "-c", script])
        .env("PATH", path_with_bin())
        .output()
        .expect("run bash");
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Complete `line` (ending where the cursor is) through git's bash completion.
fn complete_via_git(env: &Env, cwd: &Path, line: &str) -> Vec<String> {
    let Some(git_script) = git_completion_script(env) else {
        panic!(
            "git's bash completion script was not found; install git's contrib completion (Debian: the git package)"
        );
    };
    let script_file = env.root().join("okstra-completion.bash");
    let script = env.okstra(cwd, &["completions", "bash"]).ok().stdout;
    std::fs::write(&script_file, script).unwrap();
    let words = line.split(' ').map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" ");
    let run = bash(
        env,
        cwd,
        &format!(
            r#"source '{}'
source '{}'
COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}
COMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
__git_wrap__git_main
printf '%s\n' "${{COMPREPLY[@]}}""#,
            git_script.display(),
            script_file.display()
        ),
    );
    assert_eq!(run.code, 0, "bash failed:\n{}{}", run.stdout, run.stderr);
    run.stdout.lines().map(|l| l.trim_end().to_string()).filter(|l| !l.is_empty()).collect()
}

#[test]
fn git_okstra_ta_completes_to_task_through_gits_completion() {
    let env = Env::new();
    let repo = env.repo("proj");
    assert_eq!(complete_via_git(&env, &repo, "git okstra ta"), ["task"]);
    let top = complete_via_git(&env, &repo, "git okstra ");
    for c in ["task", "doctor", "completions", "shell-init"] {
        assert!(top.contains(&c.to_string()), "{c} missing from {top:?}");
    }
    assert!(!top.iter().any(|c| c.starts_with("__")), "hidden helpers offered: {top:?}");
    assert_eq!(complete_via_git(&env, &repo, "git okstra task st"), ["start"]);
    assert_eq!(complete_via_git(&env, &repo, "git okstra doctor --re"), ["--repair"]);
    assert_eq!(complete_via_git(&env, &repo, "git okstra completions f"), ["fish"]);
}

#[test]
fn task_ids_complete_from_the_registry() {
    let env = Env::new();
    let repo = env.repo("proj");
    env.okstra(&repo, &["task", "start", "DEV-1"]).ok();
    env.okstra(&repo, &["task", "start", "DEV-22"]).ok();
    env.okstra(&repo, &["task", "start", "OPS-3"]).ok();
    let other = env.repo("other");
    env.okstra(&other, &["task", "start", "DEV-99"]).ok();
    assert_eq!(complete_via_git(&env, &repo, "git okstra task show DEV"), ["DEV-1", "DEV-22"]);
    assert_eq!(complete_via_git(&env, &repo, "git okstra task release --remove O"), ["OPS-3"]);
    assert_eq!(
        env.okstra(&repo, &["__complete", "tasks"]).ok().stdout.lines().collect::<Vec<_>>(),
        ["DEV-1", "DEV-22", "OPS-3"]
    );
    let phases = env.okstra(&repo, &["__complete", "phases"]).ok().stdout;
    assert!(phases.starts_with("requirements-discovery\nerror-analysis\n"), "{phases}");
    // A corrupt registry gives no candidates and no noise.
    std::fs::write(env.registry_path(), "{").unwrap();
    let r = env.okstra(&repo, &["__complete", "tasks"]).ok();
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
}

#[test]
fn zsh_and_fish_scripts_complete_tasks_dynamically() {
    let env = Env::new();
    let zsh = env.okstra(&env.root(), &["completions", "zsh"]).ok().stdout;
    assert!(zsh.starts_with("#compdef git-okstra"), "{}", &zsh[..80]);
    assert!(zsh.contains("_git_okstra_tasks() {"));
    assert!(zsh.contains(":task -- A task key (`project/group/task`) or a task id:_git_okstra_tasks'"));
    let helper = zsh.find("_git_okstra_tasks() {").unwrap();
    let compdef = zsh.rfind("if [ \"$funcstack[1]\" = \"_git-okstra\" ]").unwrap();
    assert!(helper < compdef, "helpers must be defined before the completion runs");
    let fish = env.okstra(&env.root(), &["completions", "fish"]).ok().stdout;
    assert!(fish.contains(
        "complete -c git-okstra -f -n '__fish_seen_subcommand_from task; and __fish_seen_subcommand_from show' -a '(git okstra __complete tasks 2>/dev/null)'"
    ));
    let bad = env.okstra(&env.root(), &["completions", "tcsh"]).fails(2);
    assert!(bad.stderr.starts_with("error: invalid value 'tcsh'"), "{}", bad.stderr);
}

#[test]
fn shell_init_cds_into_the_task_worktree() {
    let env = Env::new();
    let repo = env.repo("proj");
    let script = |sh: &str| {
        format!(
            r#"eval "$(git okstra shell-init bash)"
{sh}
echo "rc=$?"
pwd"#
        )
    };
    let r = bash(&env, &repo, &script("okstra task start DEV-1 >/dev/null"));
    let wt = env.okstra_home.join("worktrees/proj/default/dev-1");
    assert_eq!(r.stdout, format!("rc=0\n{}\n", wt.display()), "{}", r.stderr);
    // Reuse from a subfolder of the main worktree also lands in the worktree, and prints the path.
    std::fs::create_dir_all(repo.join("sub")).unwrap();
    let r = bash(&env, &repo.join("sub"), &script("okstra -q task start DEV-1"));
    assert_eq!(r.stdout, format!("{0}\nrc=0\n{0}\n", wt.display()), "{}", r.stderr);
    // Other commands and failures stay where they are and keep their exit code.
    let r = bash(&env, &repo, &script("okstra task list >/dev/null"));
    assert_eq!(r.stdout, format!("rc=0\n{}\n", repo.display()));
    let r = bash(&env, &repo, &script("okstra task start 'a;b' 2>/dev/null"));
    assert_eq!(r.stdout, format!("rc=2\n{}\n", repo.display()));
    let r = bash(&env, &repo, &script("okstra task start DEV-2 --json >/dev/null"));
    assert_eq!(r.stdout, format!("rc=0\n{}\n", repo.display()), "JSON output is not a folder");
}

#[test]
fn shell_init_prints_a_function_for_each_shell() {
    let env = Env::new();
    for sh in ["bash", "zsh"] {
        let out = env.okstra(&env.root(), &["shell-init", sh]).ok().stdout;
        assert!(out.contains("okstra() {"), "{sh}: {out}");
        assert!(out.contains("command git okstra \"$@\""));
    }
    let fish = env.okstra(&env.root(), &["shell-init", "fish"]).ok().stdout;
    assert!(fish.contains("function okstra"));
    let check = bash(&env, &env.root(), "bash -n <(git okstra shell-init bash) && echo ok");
    assert_eq!(check.stdout, "ok\n", "{}", check.stderr);
}

#[test]
fn install_extras_puts_pages_and_completions_in_the_user_folders() {
    let env = Env::new();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bin/okstra-install-extras");
    let run = |path: &str| {
        let out = env
            .command("dash", &env.root())
            .arg(&script)
            .env("PATH", path)
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .output()
            .expect("run sh");
        common::Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    let r = run("/usr/bin:/bin").fails(1);
    assert!(r.stderr.starts_with("error: git-okstra is not on PATH\nhint: "), "{}", r.stderr);
    assert!(!env.home.join(".local").exists());

    run(&path_with_bin()).ok();
    let h = &env.home;
    let page = std::fs::read_to_string(h.join(".local/share/man/man1/git-okstra.1")).unwrap();
    assert!(page.contains(".TH \"GIT-OKSTRA\""));
    assert!(h.join(".local/share/man/man1/git-okstra-task.1").is_file());
    let bash_script = std::fs::read_to_string(h.join(".local/share/bash-completion/completions/git-okstra")).unwrap();
    assert!(bash_script.contains("_git_okstra ()"));
    assert!(std::fs::read_to_string(h.join(".zfunc/_git-okstra")).unwrap().starts_with("#compdef git-okstra"));
    assert!(h.join(".config/fish/completions/git-okstra.fish").is_file());
    // Idempotent.
    run(&path_with_bin()).ok();
}

#[test]
fn option_values_complete_too() {
    let env = Env::new();
    let repo = env.repo("proj");
    assert_eq!(complete_via_git(&env, &repo, "git okstra task start DEV-1 --category bu"), ["bugfix", "build"]);
    assert_eq!(complete_via_git(&env, &repo, "git okstra -q task li"), ["list"]);
    assert_eq!(complete_via_git(&env, &repo, "git okstra phase final"), ["final-verification"]);
    assert_eq!(complete_via_git(&env, &repo, "git okstra phase --exec co"), ["codex"]);
    assert_eq!(complete_via_git(&env, &repo, "git okstra hooks install --agent c"), ["claude", "cursor", "codex"]);
    assert_eq!(
        complete_via_git(&env, &repo, "git okstra hooks status --agent "),
        ["claude", "gemini", "cursor", "codex"]
    );
}

/// Colour only on a terminal and never with NO_COLOR: run under `script`, which gives the
/// command a pseudo-terminal.
#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let env = Env::new();
    let script = ["/usr/bin/script", "/bin/script"].into_iter().find(|p| Path::new(p).is_file());
    let script = script.expect("`script` (util-linux) is needed to give the command a terminal");
    let run = |no_color: Option<&str>| {
        let mut cmd = env.command(script, &env.root());
        cmd.args(["-qec", &format!("{BIN} task show X"), "/dev/null"]);
        match no_color {
            Some(v) => cmd.env("NO_COLOR", v),
            None => cmd.env_remove("NO_COLOR"),
        };
        String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
    };
    let tty = run(None);
    assert!(tty.contains("\x1b[31merror:\x1b[0m not a git repository"), "{tty:?}");
    assert!(!run(Some("1")).contains('\x1b'));
    assert!(run(Some("")).contains('\x1b'), "an empty NO_COLOR does not count");
    let piped = env.okstra_env(&env.root(), &["task", "show", "X"], &[("NO_COLOR", "")]).fails(1);
    assert!(piped.stderr.starts_with("error: not a git repository"), "{:?}", piped.stderr);
    assert!(piped.stderr.contains("\nhint: "), "{:?}", piped.stderr);
}
