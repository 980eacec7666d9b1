//! Rule family `publish`: publishing, releasing, merging pull requests and deploying — never
//! an agent's job. `gh pr merge`, `gh release`, `gh api` calls and GraphQL mutations that
//! merge, release or move refs, the MCP tools that merge, package publishes (`npm pub`,
//! `pnpm -r publish`, `yarn workspace x publish`, `cargo publish`, `twine upload`, …), image
//! pushes, infrastructure and cluster changes. Options before the subcommand are read with
//! the values they take (`kubectl -n prod delete`); help and dry runs never act.

use serde_json::Value;

use super::super::expand::Arg;
use super::super::git_command::run_time;
use super::super::Context;
use super::{block, RuleDef};
use crate::policy::{Rule, Violation};

const ASK: &str = "publishing, releasing, merging and deploying are the user's decisions; stop and ask the user";

pub const RULES: &[RuleDef] = &[
    RuleDef { id: "publish:gh-pr-merge", rule: Rule::Publish, what: "`gh pr merge`", instead: ASK },
    RuleDef { id: "publish:gh-release", rule: Rule::Publish, what: "`gh release …` but `list`/`view`/`download`", instead: ASK },
    RuleDef { id: "publish:gh-api", rule: Rule::Publish, what: "`gh api` calls that merge, release or move refs (`-X PUT …/pulls/1/merge`, `…/releases`, `…/git/refs`)", instead: ASK },
    RuleDef { id: "publish:gh-graphql", rule: Rule::Publish, what: "`gh api graphql` running `mergePullRequest`, `enablePullRequestAutoMerge`, `mergeBranch`, `createRelease`, `updateRef`, …", instead: ASK },
    RuleDef { id: "publish:mcp-merge", rule: Rule::Publish, what: "MCP tool calls that merge (`mcp__github__merge_pull_request`)", instead: ASK },
    RuleDef { id: "publish:package", rule: Rule::Publish, what: "`npm`/`pnpm`/`yarn`/`bun publish` (also `npm pub`, `pnpm -r`/`recursive publish`, `yarn workspace(s) … publish`), `cargo publish`/`yank`, `twine upload`, `python -m twine upload`, `gem push`, `poetry`/`uv`/`hatch`/`flit publish`", instead: ASK },
    RuleDef { id: "publish:image", rule: Rule::Publish, what: "`docker`/`podman push`, `image push`, `manifest push`, `buildx build --push`", instead: ASK },
    RuleDef { id: "publish:infrastructure", rule: Rule::Publish, what: "`terraform`/`tofu apply`/`destroy`", instead: ASK },
    RuleDef { id: "publish:cluster", rule: Rule::Publish, what: "`kubectl apply`/`delete`/`create`/`patch`/`scale`/`rollout restart`/…, `helm install`/`upgrade`/`uninstall`/`rollback`", instead: ASK },
];

/// A command-line tool whose subcommands publish.
struct Tool {
    names: &'static [&'static str],
    /// Options before the subcommand that take the next word as their value.
    value_opts: &'static [&'static str],
    /// Subcommand word sequences that publish.
    publishes: &'static [&'static [&'static str]],
    id: &'static str,
    /// Flags that make it a dry run.
    dry: &'static [&'static str],
}

const KUBE_OPTS: &[&str] = &[
    "-n",
    "--namespace",
    "--context",
    "--cluster",
    "--user",
    "-s",
    "--server",
    "--kubeconfig",
    "--token",
    "--as",
    "--as-group",
    "--as-uid",
    "--certificate-authority",
    "--client-certificate",
    "--client-key",
    "--request-timeout",
    "-v",
    "--cache-dir",
    "--tls-server-name",
    "--kube-context",
    "--registry-config",
    "--repository-config",
];

const TOOLS: &[Tool] = &[
    Tool {
        names: &["cargo"],
        value_opts: &[
            "-Z",
            "-C",
            "--config",
            "--color",
            "--manifest-path",
            "--target-dir",
            "-j",
            "--jobs",
            "--registry",
            "--index",
            "--token",
            "-p",
            "--package",
        ],
        publishes: &[&["publish"], &["yank"], &["owner"]],
        id: "publish:package",
        dry: &["--dry-run", "-n"],
    },
    Tool {
        names: &["twine"],
        value_opts: &["-r", "--repository", "-u", "--username", "-p", "--password"],
        publishes: &[&["upload"], &["register"]],
        id: "publish:package",
        dry: &[],
    },
    Tool {
        names: &["gem"],
        value_opts: &["--host", "-k", "--key"],
        publishes: &[&["push"], &["yank"], &["owner"]],
        id: "publish:package",
        dry: &[],
    },
    Tool {
        names: &["poetry", "uv", "hatch", "flit", "pdm"],
        value_opts: &["-C", "--directory", "--project", "-r", "--repository"],
        publishes: &[&["publish"]],
        id: "publish:package",
        dry: &["--dry-run"],
    },
    Tool {
        names: &["docker", "podman", "nerdctl"],
        value_opts: &[
            "--context",
            "-c",
            "--host",
            "-H",
            "--config",
            "--log-level",
            "-l",
            "--tlscacert",
            "--tlscert",
            "--tlskey",
            "--connection",
            "--url",
        ],
        publishes: &[&["push"], &["image", "push"], &["manifest", "push"]],
        id: "publish:image",
        dry: &[],
    },
    Tool {
        names: &["terraform", "tofu", "terragrunt"],
        value_opts: &[],
        publishes: &[&["apply"], &["destroy"]],
        id: "publish:infrastructure",
        dry: &[],
    },
    Tool {
        names: &["kubectl", "oc"],
        value_opts: KUBE_OPTS,
        publishes: &[
            &["apply"],
            &["delete"],
            &["create"],
            &["replace"],
            &["patch"],
            &["scale"],
            &["drain"],
            &["rollout", "restart"],
            &["rollout", "undo"],
            &["set"],
            &["edit"],
            &["label"],
            &["annotate"],
            &["expose"],
            &["run"],
            &["taint"],
            &["cordon"],
        ],
        id: "publish:cluster",
        dry: &["--dry-run", "--dry-run=client", "--dry-run=server"],
    },
    Tool {
        names: &["helm"],
        value_opts: KUBE_OPTS,
        publishes: &[&["install"], &["upgrade"], &["uninstall"], &["delete"], &["rollback"], &["push"]],
        id: "publish:cluster",
        dry: &["--dry-run"],
    },
];

/// Words that ask a tool for help: it prints and does nothing else.
fn asks_help(args: &[Arg]) -> bool {
    args.iter().take_while(|a| a.text != "--").any(|a| a.exact && matches!(a.text.as_str(), "-h" | "--help" | "-help"))
}

/// The words that are not options, read two ways: every option a flag, and the known options
/// taking the next word (so a known value never hides a subcommand, nor an unknown one).
fn readings<'a>(args: &'a [Arg], value_opts: &[&str]) -> [Vec<&'a Arg>; 2] {
    let flags: Vec<&Arg> = args.iter().take_while(|a| a.text != "--").filter(|a| !a.text.starts_with('-')).collect();
    let mut valued = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a.text == "--" {
            break;
        }
        if a.text.starts_with('-') {
            if !a.text.contains('=') && value_opts.contains(&a.text.as_str()) {
                it.next();
            }
        } else {
            valued.push(a);
        }
    }
    [flags, valued]
}

fn starts(pos: &[&Arg], words: &[&str]) -> bool {
    pos.len() >= words.len() && pos.iter().zip(words).all(|(a, w)| a.known() == Some(*w))
}

/// `dry` flags, `--dry-run=true`; `--dry-run=false` is not a dry run.
fn dry_run(args: &[Arg], dry: &[&str]) -> bool {
    args.iter().take_while(|a| a.text != "--").any(|a| {
        dry.contains(&a.text.as_str())
            || a.text.strip_prefix("--dry-run=").is_some_and(|v| !matches!(v, "false" | "0" | "no" | "none"))
    })
}

/// A publishing program by its name (after wrappers).
pub fn check(prog: &str, args: &[Arg], subject: &str, ctx: &mut Context) -> Option<Violation> {
    if !matches!(prog, "gh" | "npm" | "pnpm" | "yarn" | "bun" | "python" | "python3" | "pypy3")
        && !prog.starts_with("python")
        && !TOOLS.iter().any(|t| t.names.contains(&prog))
    {
        return None;
    }
    if asks_help(args) {
        return None;
    }
    match prog {
        "gh" => gh(args, subject, ctx),
        "npm" | "pnpm" | "yarn" | "bun" => package_manager(prog, args, subject),
        p if p.starts_with("python") || p == "pypy3" => python_module(args, subject),
        _ => tool(prog, args, subject),
    }
}

fn tool(prog: &str, args: &[Arg], subject: &str) -> Option<Violation> {
    let t = TOOLS.iter().find(|t| t.names.contains(&prog))?;
    let args: Vec<Arg> = args.iter().filter(|a| !(prog == "cargo" && a.text.starts_with('+'))).cloned().collect();
    for pos in readings(&args, t.value_opts) {
        if let Some(first) = pos.first().filter(|a| !a.exact) {
            return Some(run_time(subject, first, &format!("names the `{prog}` subcommand")));
        }
        let buildx_push = prog != "kubectl"
            && (starts(&pos, &["buildx", "build"]) || starts(&pos, &["buildx", "bake"]) || starts(&pos, &["build"]))
            && t.id == "publish:image"
            && args.iter().any(|a| a.text == "--push");
        let hit = t
            .publishes
            .iter()
            .find(|w| starts(&pos, w))
            .map(|w| w.join(" "))
            .or(buildx_push.then(|| "build --push".to_string()));
        if let Some(words) = hit {
            if dry_run(&args, t.dry) {
                return None;
            }
            return Some(block(
                t.id,
                subject,
                format!("`{prog} {words}` publishes or changes something outside this machine"),
            ));
        }
    }
    None
}

/// `python -m twine upload`, `python3 -mtwine upload`.
fn python_module(args: &[Arg], subject: &str) -> Option<Violation> {
    let mut i = 0;
    while let Some(a) = args.get(i) {
        let t = a.text.as_str();
        let module = if t == "-m" {
            args.get(i + 1).map(|m| (m.text.as_str(), i + 2))
        } else {
            t.strip_prefix("-m").filter(|m| !m.is_empty()).map(|m| (m, i + 1))
        };
        if let Some((m, rest)) = module {
            return (m == "twine" && args.get(rest).and_then(Arg::known) == Some("upload"))
                .then(|| block("publish:package", subject, "`twine upload` publishes a package"));
        }
        if !t.starts_with('-') || t == "-c" {
            return None; // a script or inline code: not a module run
        }
        i += if matches!(t, "-W" | "-X" | "-Q") { 2 } else { 1 };
    }
    None
}

/// Options of npm, pnpm, yarn and bun that take the next word.
const PM_VALUES: &[&str] = &[
    "--registry",
    "--prefix",
    "-C",
    "--dir",
    "--cwd",
    "--userconfig",
    "--globalconfig",
    "--cache",
    "--loglevel",
    "--workspace",
    "-w",
    "--filter",
    "-F",
    "--tag",
    "--otp",
    "--access",
    "--scope",
    "--auth-type",
    "--reporter",
    "--cafile",
    "--proxy",
    "--https-proxy",
    "--node-options",
    "--script-shell",
    "--config",
    "--use-yarnrc",
    "--include",
    "--exclude",
    "--from",
    "-j",
    "--jobs",
    "--since",
];

fn package_manager(prog: &str, args: &[Arg], subject: &str) -> Option<Violation> {
    for pos in readings(args, PM_VALUES) {
        if let Some(first) = pos.first().filter(|a| !a.exact) {
            return Some(run_time(subject, first, &format!("names the `{prog}` command")));
        }
        let words: Vec<&str> = pos.iter().map(|a| a.text.as_str()).collect();
        if publishes(prog, &words) {
            if dry_run(args, &["--dry-run"]) {
                return None;
            }
            return Some(block("publish:package", subject, format!("`{prog} publish` publishes a package")));
        }
    }
    None
}

/// Whether these command words publish: through workspaces, recursion and abbreviations.
fn publishes(prog: &str, mut words: &[&str]) -> bool {
    loop {
        match (prog, words) {
            ("yarn", ["workspace", _, rest @ ..]) | ("yarn", ["workspaces", "run", rest @ ..]) => words = rest,
            ("yarn", ["workspaces", "foreach", rest @ ..]) => return rest.contains(&"publish"),
            ("yarn", ["npm", "publish", ..]) => return true,
            ("pnpm", ["recursive" | "multi" | "m", rest @ ..]) => words = rest,
            ("npm", [first, ..]) => return first.len() >= 2 && "publish".starts_with(first),
            ("bun", ["pm", "publish", ..]) => return true,
            (_, ["publish", ..]) => return true,
            _ => return false,
        }
    }
}

/// gh's options that take the next word.
const GH_VALUES: &[&str] = &[
    "-R",
    "--repo",
    "-X",
    "--method",
    "-f",
    "-F",
    "--field",
    "--raw-field",
    "-H",
    "--header",
    "--input",
    "-q",
    "--jq",
    "-t",
    "--template",
    "--hostname",
    "--cache",
    "-p",
    "--preview",
];

fn gh(args: &[Arg], subject: &str, ctx: &mut Context) -> Option<Violation> {
    let [_, pos] = readings(args, GH_VALUES);
    let words: Vec<&str> = pos.iter().map(|a| a.text.as_str()).collect();
    match words.as_slice() {
        ["pr", "merge", ..] => Some(block("publish:gh-pr-merge", subject, "`gh pr merge` merges a pull request")),
        ["release", read, ..] if matches!(*read, "list" | "view" | "download") => None,
        ["release", ..] => Some(block("publish:gh-release", subject, "`gh release` publishes or changes a release")),
        ["api", "graphql", ..] => graphql(args, subject, ctx),
        ["api", endpoint, ..] => rest_api(args, endpoint, subject),
        _ => None,
    }
}

/// `gh api <endpoint>` over REST: a write to merges, releases or refs.
fn rest_api(args: &[Arg], endpoint: &str, subject: &str) -> Option<Violation> {
    let mut method = None::<String>;
    let mut has_fields = false;
    for (j, a) in args.iter().enumerate() {
        match a.text.as_str() {
            "-X" | "--method" => method = args.get(j + 1).map(|m| m.text.clone()),
            "-f" | "-F" | "--field" | "--raw-field" | "--input" => has_fields = true,
            s if s.starts_with("--method=") => method = Some(s["--method=".len()..].to_string()),
            s if s.starts_with("-X") && s.len() > 2 => method = Some(s[2..].to_string()),
            _ => {}
        }
    }
    let method = method.unwrap_or_else(|| if has_fields { "POST".into() } else { "GET".into() });
    let path = endpoint.trim_start_matches('/');
    let writes = path.ends_with("/merge")
        || path.ends_with("/merges")
        || path.contains("/releases")
        || path.contains("/git/refs");
    (!method.eq_ignore_ascii_case("GET") && writes).then(|| {
        block("publish:gh-api", subject, format!("`gh api -X {method} {path}` merges, releases or moves a ref"))
    })
}

/// GraphQL mutations that merge, release or move refs.
const MUTATIONS: &[&str] = &[
    "mergePullRequest",
    "enablePullRequestAutoMerge",
    "enqueuePullRequest",
    "mergeBranch",
    "createRelease",
    "updateRelease",
    "deleteRelease",
    "updateRef",
    "updateRefs",
    "deleteRef",
    "createCommitOnBranch",
];

/// `gh api graphql -f query=…` (or `-F query=@file`, `--input file`): the query's mutations.
fn graphql(args: &[Arg], subject: &str, ctx: &mut Context) -> Option<Violation> {
    let mut texts = Vec::new();
    for (j, a) in args.iter().enumerate() {
        let value = match a.text.as_str() {
            "-f" | "-F" | "--field" | "--raw-field" => args.get(j + 1),
            "--input" => {
                let file = args.get(j + 1)?;
                texts.push(read_file(file, subject, ctx)?);
                continue;
            }
            _ => continue,
        };
        let Some(v) = value else { continue };
        let Some((_, body)) = v.text.split_once('=') else { continue };
        match body.strip_prefix('@') {
            Some(file) if a.text != "--raw-field" && a.text != "-f" => {
                texts.push(read_file(&Arg { text: file.to_string(), ..v.clone() }, subject, ctx)?)
            }
            _ if !v.exact => return Some(run_time(subject, v, "is the GraphQL query")),
            _ => texts.push(Ok(body.to_string())),
        }
    }
    for t in texts {
        let text = match t {
            Ok(t) => t,
            Err(v) => return Some(v),
        };
        if let Some(m) = MUTATIONS.iter().find(|m| text.contains(*m)) {
            return Some(block("publish:gh-graphql", subject, format!("this GraphQL call runs `{m}`")));
        }
    }
    None
}

/// The text of a file a command reads its input from; unreadable (or stdin) is a refusal.
fn read_file(file: &Arg, subject: &str, ctx: &Context) -> Option<Result<String, Violation>> {
    let path = file.known().filter(|p| *p != "-").and_then(|p| ctx.resolve(p));
    let text = path.and_then(|p| std::fs::read_to_string(p).ok());
    Some(
        text.ok_or_else(|| {
            run_time(subject, file, "is where the GraphQL query is read from, and it cannot be read now")
        }),
    )
}

/// MCP tools that merge (`mcp__github__merge_pull_request`, …).
pub fn mcp(tool: &str, _input: &Value, subject: &str) -> Option<Violation> {
    let name = tool.rsplit("__").next().unwrap_or(tool);
    matches!(name, "merge_pull_request" | "enable_auto_merge" | "enable_pull_request_auto_merge")
        .then(|| block("publish:mcp-merge", subject, format!("the MCP tool `{tool}` merges a pull request")))
}
