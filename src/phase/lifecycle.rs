//! Phase runs (DESIGN §5): resolve the task, reuse its worktree, enforce the phase's gate,
//! make the run folder, render the launch prompt, write `manifest.json` and `launch.md`,
//! record the phase in the registry, and optionally start the agent.
//!
//! [`run_phase`] is the one entry point; `git okstra handoff` records its phase through it
//! too. Nothing is written before every check that can fail without side effects (flags,
//! task, executor, templates, gate) has passed.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config;
use crate::error::{io_at, Error, Result};
use crate::git;
use crate::output;
use crate::phase::executor;
use crate::phase::gates::{self, Verdict};
use crate::phase::plan::{self, ApprovedPlan};
use crate::phase::prompt::{Prompts, Vars};
use crate::phase::runs;
use crate::phase::{session, status, Phase};
use crate::task::names::{self, Segment, TaskKey};
use crate::task::registry::{self, Registry, Row};
use crate::task::worktree::{self, Context, StartRequest, StartStatus};

/// JSON shape version of the command output and of `manifest.json`.
pub const SCHEMA: u32 = 1;
pub const MANIFEST: &str = "manifest.json";
pub const LAUNCH: &str = "launch.md";

/// Which task a phase run is for.
#[derive(Debug, Clone, Copy)]
pub enum TaskRef<'a> {
    /// A task key (`project/group/task`) or a task id; an unregistered id is started.
    Named(&'a str),
    /// The task whose worktree the caller stands in.
    Here,
}

/// The flags of a phase run.
#[derive(Debug, Clone, Default)]
pub struct PhaseOptions {
    /// `implementation`: the plan carrying the approval marker (relative to the caller's folder).
    pub approved_plan: Option<PathBuf>,
    /// `implementation`: approve the plan on the command line first.
    pub approve: bool,
    /// `release-handoff`: the final-verification report; default: the newest final-verification run's.
    pub verification_report: Option<PathBuf>,
    /// Executor name to start (`--exec`, else `OKSTRA_DEFAULT_EXECUTOR`), if any.
    pub executor: Option<String>,
    /// `--new`: the named task is meant to be new; start it even when a registered id is close.
    pub new_task: bool,
    /// Start the executor in its own tmux session and return at once (`--detach`).
    pub detach: bool,
}

/// The worktree part of an outcome.
#[derive(Debug, Clone, Serialize)]
pub struct WorktreeInfo {
    pub status: StartStatus,
    pub path: String,
    pub branch: String,
    pub base_ref: String,
}

/// The gate a run passed, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Gate {
    None,
    /// The plan's path, hash and `## Files`: what the contract holds the run to.
    ApprovedPlan(ApprovedPlan),
    FinalVerdict {
        file: String,
        verdict: String,
    },
}

/// The agent a run started.
#[derive(Debug, Clone, Serialize)]
pub struct ExecInfo {
    pub name: String,
    pub program: String,
    pub origin: executor::Origin,
    pub interactive: bool,
    pub exit_code: Option<i32>,
    /// The argv template after the program (placeholders unfilled: the prompt is in `launch`).
    pub argv: Vec<String>,
    /// Started in a tmux session (`--detach`) rather than in the caller's terminal.
    pub detached: bool,
    /// The tmux session, when detached.
    pub session: Option<String>,
    /// The okstra process that waits for a foreground agent (so the board can tell it runs).
    pub pid: Option<u32>,
}

/// What a phase run did.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseOutcome {
    pub key: String,
    pub task_id: String,
    pub phase: Phase,
    pub run: u32,
    pub run_dir: String,
    pub launch: String,
    pub manifest: String,
    pub worktree: WorktreeInfo,
    pub workers: Vec<String>,
    pub gate: Gate,
    pub executor: Option<ExecInfo>,
    /// The task was not registered and this run started it.
    pub started_task: bool,
}

/// Run `phase` for `task` (see the module docs for the order of steps).
pub fn run_phase(ctx: &Context, task: TaskRef<'_>, phase: Phase, opts: &PhaseOptions) -> Result<PhaseOutcome> {
    check_options(phase, opts)?;
    let cwd = crate::error::current_dir()?;
    let main = ctx.repo.main_worktree().to_path_buf();
    let reg = ctx.store.load_to_write()?;
    let (key, req, registered) = locate(ctx, &reg, task, opts.new_task)?;
    // A phase run starts an unregistered task from the main worktree's HEAD; `task phase`
    // takes no --base, so its hint differs from `task start`'s.
    if !registered && ctx.repo.main_head()?.is_none() {
        return Err(Error::failed("the main worktree's HEAD has no commit yet: a task worktree starts from a commit")
            .hint("make a first commit in the main worktree, then run the phase again"));
    }
    let exec = match &opts.executor {
        Some(name) => {
            // A detached agent gets a terminal of its own: the tmux pane.
            let interactive = opts.detach || (std::io::stdin().is_terminal() && std::io::stdout().is_terminal());
            Some(executor::resolve(&ctx.repo, name, interactive)?)
        }
        None => None,
    };
    let tmux = if opts.detach { Some(session::tmux()?) } else { None };
    if exec.is_some() {
        refuse_second_agent(&main, &key)?;
    }
    let prompts = Prompts::for_repository(&main);
    // Template errors must surface before the gate may write the plan or a run folder exists.
    render_launch(&prompts, &pending_vars(&key, phase, &main), phase)?;
    let gate = enforce_gate(ctx, &key.task, phase, opts, &cwd)?;

    let started = worktree::start(&main, &req)?;
    if !matches!(started.status, StartStatus::Created | StartStatus::Reused) || started.key != key.to_string() {
        return Err(Error::failed(format!(
            "could not provision the worktree of task {key} (status {})",
            started.status.name()
        ))
        .hint("run `git okstra task start` for it from the main worktree"));
    }
    if !registered {
        output::info(format!("task {key} was not registered; started it ({})", started.status.name()));
    }
    let wt = PathBuf::from(&started.path);
    let run_dir = runs::create(&main, &key.task, phase)?;
    let result = (|| -> Result<PhaseOutcome> {
        let run = runs::number(&run_dir).unwrap_or(0);
        let linked = link_sync_dirs(ctx, &wt)?;
        let mut vars = pending_vars(&key, phase, &main);
        let title = reg.get(&key).map(|r| r.title.clone()).unwrap_or_default();
        vars.insert("TASK_ID".into(), req.task_id.clone());
        vars.insert("TASK_TITLE".into(), if title.is_empty() { "(none)".into() } else { title });
        vars.insert("RUN_NUMBER".into(), format!("{run:03}"));
        vars.insert("RUN_DIR".into(), run_dir.to_string_lossy().into_owned());
        vars.insert("WORKTREE_STATUS".into(), started.status.name().into());
        vars.insert("WORKTREE_PATH".into(), started.path.clone());
        vars.insert("WORKTREE_BRANCH".into(), started.branch.clone());
        vars.insert("WORKTREE_BASE_REF".into(), started.base_ref.clone());
        vars.insert("SYNC_DIRS".into(), sync_dirs_text(&main, &linked));
        vars.insert("GATE_DOCUMENTS".into(), gate_text(&gate));
        let (text, workers) = render_launch(&prompts, &vars, phase)?;
        let launch = run_dir.join(LAUNCH);
        write_new(&launch, &text)?;
        let outcome = PhaseOutcome {
            key: key.to_string(),
            task_id: req.task_id.clone(),
            phase,
            run,
            run_dir: run_dir.to_string_lossy().into_owned(),
            launch: launch.to_string_lossy().into_owned(),
            manifest: run_dir.join(MANIFEST).to_string_lossy().into_owned(),
            worktree: WorktreeInfo {
                status: started.status,
                path: started.path.clone(),
                branch: started.branch.clone(),
                base_ref: started.base_ref.clone(),
            },
            workers,
            gate: gate.clone(),
            executor: exec.as_ref().map(|e| exec_info(e, opts.detach, &key)),
            started_task: !registered,
        };
        Ok(outcome)
    })();
    let mut outcome = match result {
        Ok(o) => o,
        Err(e) => {
            // The folder is ours and holds nothing of value yet.
            let _ = std::fs::remove_dir_all(&run_dir);
            return Err(e);
        }
    };
    let created_at = registry::now();
    write_manifest(&outcome, &main, &created_at, None)?;
    record(ctx, &key, phase, outcome.run)?;

    match (&exec, tmux) {
        (Some(exe), None) => run_attached(exe, &mut outcome, &main, &created_at, &wt)?,
        (Some(_), Some(tmux)) => start_detached(&tmux, &outcome, &wt)?,
        (None, _) => {}
    }
    Ok(outcome)
}

/// What the manifest and the outcome say of the agent before it starts.
fn exec_info(e: &executor::Executor, detach: bool, key: &TaskKey) -> ExecInfo {
    ExecInfo {
        name: e.name.clone(),
        program: e.program.to_string_lossy().into_owned(),
        origin: e.origin,
        interactive: e.interactive,
        exit_code: None,
        argv: e.template.clone(),
        detached: detach,
        session: detach.then(|| session::name(key)),
        pid: (!detach).then(std::process::id),
    }
}

/// The environment an agent gets: which task, phase and run it works for.
fn agent_env(key: &str, phase: Phase, run_dir: &str) -> [(&'static str, String); 3] {
    [
        (config::ENV_TASK_KEY, key.to_string()),
        (config::ENV_PHASE, phase.to_string()),
        (config::ENV_RUN_DIR, run_dir.to_string()),
    ]
}

/// Run the agent in this terminal and record its exit code.
fn run_attached(
    exe: &executor::Executor,
    outcome: &mut PhaseOutcome,
    main: &Path,
    created_at: &str,
    wt: &Path,
) -> Result<()> {
    let text =
        std::fs::read_to_string(&outcome.launch).map_err(|e| io_at("cannot read", Path::new(&outcome.launch), e))?;
    let argv = exe.argv(Path::new(&outcome.launch), &text)?;
    output::info(format!("starting {} in {} (prompt {})", exe.name, outcome.worktree.path, outcome.launch));
    let exec_started = registry::now();
    let env = agent_env(&outcome.key, outcome.phase, &outcome.run_dir);
    // The agent must never inherit the human override of the safety hooks.
    let code = git::exec_attached(&exe.program, &argv, wt, &env, &[config::ENV_ALLOW])?;
    if let Some(info) = outcome.executor.as_mut() {
        info.exit_code = Some(code);
    }
    write_manifest(outcome, main, created_at, Some((&exec_started, &registry::now())))
}

/// Start `git-okstra __agent <run dir>` in the task's tmux session; it runs the agent there
/// and records its exit code in the manifest. A finished agent's session (kept to show its
/// last screen) is closed first.
fn start_detached(tmux: &Path, outcome: &PhaseOutcome, wt: &Path) -> Result<()> {
    let name = outcome.executor.as_ref().and_then(|e| e.session.clone()).unwrap_or_default();
    if session::live().contains_key(&name) {
        session::kill(tmux, &name)?;
        output::info(format!("closed the finished agent's session {name}"));
    }
    let me = std::env::current_exe().map_err(|e| Error::failed(format!("cannot find this program's path: {e}")))?;
    let mut env = vec![("PATH", std::env::var("PATH").unwrap_or_default())];
    if let Ok(home) = config::okstra_home() {
        env.push((config::ENV_HOME, home.to_string_lossy().into_owned()));
    }
    let spec = session::Spec {
        session: &name,
        cwd: wt,
        env,
        program: &me,
        args: vec!["__agent".into(), outcome.run_dir.clone().into()],
    };
    session::start(tmux, &spec)?;
    let agent = outcome.executor.as_ref().map(|e| e.name.as_str()).unwrap_or("agent");
    output::info(format!(
        "started {agent} in tmux session {name}; `git okstra task attach {}` attaches",
        outcome.task_id
    ));
    Ok(())
}

/// Refuse to start an agent for a task whose agent still runs (detached or in another
/// terminal): two agents would share one worktree.
fn refuse_second_agent(main: &Path, key: &TaskKey) -> Result<()> {
    match status::running_agent(main, &key.task) {
        Some(agent) => Err(agent_runs(key, &agent, "start another once it has exited")),
        None => Ok(()),
    }
}

/// The refusal for acting on a task whose agent runs; `then` says what to do after.
pub fn agent_runs(key: &TaskKey, agent: &status::Agent, then: &str) -> Error {
    let (where_, hint) = match &agent.session {
        Some(s) if agent.detached => {
            (format!("in tmux session {s}"), format!("`git okstra task attach {key}` to work with it; {then}"))
        }
        _ => ("in another terminal".to_string(), format!("let it finish (or stop it) first; {then}")),
    };
    Error::failed(format!("task {key} already has an agent running ({}, run {:03}) {where_}", agent.name, agent.run))
        .hint(hint)
}

/// `git-okstra __agent <run dir>`, inside a detached agent's tmux session: run the agent the
/// manifest names with the run's prompt, record its exit code, then keep the session (and so
/// the agent's last screen) until Enter is pressed. Returns the agent's exit code.
pub fn run_in_session(run_dir: &Path) -> Result<i32> {
    let manifest = run_dir.join(MANIFEST);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).map_err(|e| io_at("cannot read", &manifest, e))?)
            .map_err(|e| Error::failed(format!("manifest {} does not parse: {e}", manifest.display())))?;
    let e = &m["executor"];
    let exe = executor::Executor {
        name: e["name"].as_str().unwrap_or("agent").to_string(),
        program: PathBuf::from(e["program"].as_str().unwrap_or_default()),
        template: e["argv"]
            .as_array()
            .map(|a| a.iter().filter_map(|w| w.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
        origin: executor::Origin::BuiltIn,
        interactive: true,
    };
    let launch = PathBuf::from(m["launch"].as_str().unwrap_or_default());
    let text = std::fs::read_to_string(&launch).map_err(|e| io_at("cannot read", &launch, e))?;
    let argv = exe.argv(&launch, &text)?;
    let phase: Phase = m["phase"].as_str().unwrap_or_default().parse()?;
    let env = agent_env(m["key"].as_str().unwrap_or_default(), phase, &run_dir.to_string_lossy());
    let wt = PathBuf::from(m["worktree"]["path"].as_str().unwrap_or("."));
    update_manifest(&manifest, |m| m["times"]["exec_started_at"] = json!(registry::now()))?;
    let code = git::exec_attached(&exe.program, &argv, &wt, &env, &[config::ENV_ALLOW])?;
    update_manifest(&manifest, |m| {
        m["executor"]["exit_code"] = json!(code);
        m["times"]["exec_finished_at"] = json!(registry::now());
    })?;
    println!("\nokstra: {} exited with status {code}; recorded in {}", exe.name, manifest.display());
    println!("okstra: press Enter to close this session");
    let _ = std::io::stdin().read_line(&mut String::new());
    Ok(code)
}

fn update_manifest(path: &Path, f: impl FnOnce(&mut serde_json::Value)) -> Result<()> {
    let text = std::fs::read_to_string(path).map_err(|e| io_at("cannot read", path, e))?;
    let mut v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::failed(format!("manifest {} does not parse: {e}", path.display())))?;
    f(&mut v);
    let mut text = serde_json::to_string_pretty(&v).map_err(|e| Error::failed(e.to_string()))?;
    text.push('\n');
    write_atomic(path, &text)
}

/// Append run `run` of `phase` to the task's history in the registry (under the registry
/// lock): the latest record is the task's current run.
pub fn record(ctx: &Context, key: &TaskKey, phase: Phase, run: u32) -> Result<()> {
    ctx.store.transaction(|reg| reg.record_phase(key, phase, run))
}

/// The release-handoff gate: the report (given, else the newest final-verification run's
/// [`runs::FINAL_VERIFICATION_REPORT`]) must state the verdict `accepted`. Returns its path.
pub fn check_verification(main: &Path, task: &Segment, report: Option<&Path>) -> Result<PathBuf> {
    let path = match report {
        Some(p) => p.to_path_buf(),
        None => runs::newest_with(main, task, Phase::FinalVerification, runs::FINAL_VERIFICATION_REPORT)
            .ok_or_else(|| {
                Error::failed(format!(
                    "release-handoff needs an accepted final-verification report, and no final-verification run of task {task} has {}",
                    runs::FINAL_VERIFICATION_REPORT
                ))
                .hint("pass --verification-report <file>, or run the final-verification phase first")
            })?,
    };
    let text = gates::read_doc(&path, "verification report")?;
    match gates::final_verdict(&text) {
        Ok(Verdict::Accepted) => Ok(path),
        Ok(v) => Err(Error::failed(format!(
            "verification report {} has the verdict `{}`; release-handoff needs `accepted`",
            path.display(),
            v.name()
        ))
        .hint("settle the conditions or blockers, then run final-verification again")),
        Err(e) => Err(Error::failed(format!(
            "verification report {}: {e}; release-handoff needs the verdict `accepted`",
            path.display()
        ))
        .hint(
            "its `## 2. Final Verdict` section must start with exactly one of accepted, conditional-accept, blocked",
        )),
    }
}

/// The roles of a rendered profile's `- Required workers:` list; `None` when it has no list.
/// `- Required workers: none` (or an empty list) is a single-lead phase.
pub fn roster(profile: &str) -> Option<Vec<String>> {
    fn role(item: &str) -> String {
        let end = item.find(|c: char| c == ':' || c.is_whitespace()).unwrap_or(item.len());
        item[..end].trim_matches('`').to_string()
    }
    let mut lines = profile.lines();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        let Some(rest) = t.strip_prefix("- Required workers:") else { continue };
        let rest = rest.trim();
        if !rest.is_empty() {
            if rest.eq_ignore_ascii_case("none") {
                return Some(Vec::new());
            }
            return Some(rest.split(',').map(|w| role(w.trim())).filter(|w| !w.is_empty()).collect());
        }
        let indent = line.len() - t.len();
        let mut out = Vec::new();
        for l in lines {
            let t = l.trim_start();
            if t.is_empty() || l.len() - t.len() <= indent {
                break;
            }
            if let Some(item) = t.strip_prefix("- ") {
                out.push(role(item.trim()));
            }
        }
        return Some(out);
    }
    None
}

fn check_options(phase: Phase, opts: &PhaseOptions) -> Result<()> {
    if opts.approve && phase != Phase::Implementation {
        return Err(Error::usage(format!(
            "--approve approves an implementation plan; it cannot be used with the {phase} phase"
        )));
    }
    if opts.approve && opts.approved_plan.is_none() {
        return Err(Error::usage("--approve needs the plan to approve: --approved-plan <file>"));
    }
    if opts.approved_plan.is_some() && phase != Phase::Implementation {
        return Err(Error::usage(format!("--approved-plan belongs to the implementation phase, not {phase}")));
    }
    if opts.verification_report.is_some() && phase != Phase::ReleaseHandoff {
        return Err(Error::usage(format!("--verification-report belongs to the release-handoff phase, not {phase}")));
    }
    if opts.detach && opts.executor.is_none() {
        return Err(Error::usage("--detach starts the agent in a tmux session; name the agent with --exec AGENT"));
    }
    Ok(())
}

/// The task's key, the start request that reuses (or creates) its worktree, and whether it
/// is registered already. An unregistered id close to a registered one is refused unless
/// `new_task`: a typo must not start a second task.
fn locate(ctx: &Context, reg: &Registry, task: TaskRef<'_>, new_task: bool) -> Result<(TaskKey, StartRequest, bool)> {
    let repo_id = ctx.repo_id();
    let row: Option<Row> = match task {
        TaskRef::Here => Some(ctx.task_here(reg).filter(|(_, r)| r.repo == repo_id).ok_or_else(not_in_task)?.1),
        TaskRef::Named(spec) => {
            let by_key = TaskKey::parse(spec).and_then(|k| reg.get(&k).cloned());
            let wanted = names::sanitize(spec);
            if by_key.is_some() {
                by_key
            } else if reg.tasks.values().any(|r| r.repo == repo_id && r.task_id == wanted) {
                Some(ctx.resolve_task(reg, spec)?.1)
            } else {
                None
            }
        }
    };
    if let Some(row) = row {
        if new_task {
            return Err(Error::usage(format!(
                "task {} is registered already; --new starts a task that is not",
                row.key()
            ))
            .hint("drop --new to run the phase of the registered task"));
        }
        if row.repo != repo_id {
            return Err(Error::failed(format!("task {} belongs to the repository {}", row.key(), row.repo))
                .hint("run the phase from that repository"));
        }
        let raw = if row.task_id_raw.is_empty() { row.task_id.clone() } else { row.task_id_raw.clone() };
        let req = StartRequest {
            task_id: raw,
            project: Some(row.project_id.clone()),
            group: Some(row.task_group.clone()),
            category: Some(row.category.clone()).filter(|c| c.parse::<names::Category>().is_ok()),
            ..StartRequest::default()
        };
        return Ok((TaskKey::new(&row.project_id, &row.task_group, &row.task_id), req, true));
    }
    let TaskRef::Named(spec) = task else { unreachable!("Here always yields a row or an error") };
    names::validate_task_id(spec)?;
    if !new_task {
        refuse_near_miss(reg, &repo_id, spec)?;
    }
    let req = match TaskKey::parse(spec) {
        Some(k) => StartRequest {
            task_id: k.task.to_string(),
            project: Some(k.project.to_string()),
            group: Some(k.group.to_string()),
            ..StartRequest::default()
        },
        None => StartRequest { task_id: spec.to_string(), ..StartRequest::default() },
    };
    let key = TaskKey::new(&ctx.project(req.project.as_deref()), &ctx.group(req.group.as_deref()), &req.task_id);
    Ok((key, req, false))
}

/// "did you mean DEV-999?" for an unregistered id a keyboard slip away from a registered one.
fn refuse_near_miss(reg: &Registry, repo_id: &str, spec: &str) -> Result<()> {
    let near = worktree::near_misses(reg, repo_id, spec);
    if near.is_empty() {
        return Ok(());
    }
    Err(Error::failed(format!(
        "no task '{}' in this repository; did you mean {}?",
        spec.escape_debug(),
        near.join(" or ")
    ))
    .hint(format!("pass --new to start '{}' as a new task", spec.escape_debug())))
}

fn not_in_task() -> Error {
    Error::failed("this folder is not inside a task worktree")
        .hint("run `git okstra task phase <KEY|TASK-ID> <PHASE>`, or cd into the task's worktree")
}

fn enforce_gate(ctx: &Context, task: &Segment, phase: Phase, opts: &PhaseOptions, cwd: &Path) -> Result<Gate> {
    match phase {
        Phase::Implementation => {
            let plan = opts.approved_plan.as_ref().ok_or_else(|| {
                Error::failed("the implementation phase needs an approved plan")
                    .hint("pass --approved-plan <plan.md> (add --approve to approve it now)")
            })?;
            approved_plan(ctx, &cwd.join(plan), opts.approve).map(Gate::ApprovedPlan)
        }
        Phase::ReleaseHandoff => {
            let given = opts.verification_report.as_ref().map(|p| cwd.join(p));
            let path = check_verification(ctx.repo.main_worktree(), task, given.as_deref())?;
            Ok(Gate::FinalVerdict {
                file: path.to_string_lossy().into_owned(),
                verdict: Verdict::Accepted.name().into(),
            })
        }
        _ => Ok(Gate::None),
    }
}

/// The implementation gate: the plan's `## Files` section must be sound (checked before
/// `--approve` writes anything), then the plan must carry an approval marker. Returns what
/// the manifest records: the canonical path, the hash of the approved text and the files.
fn approved_plan(ctx: &Context, path: &Path, approve: bool) -> Result<ApprovedPlan> {
    let mut text = gates::read_doc(path, "plan")?;
    let files = plan::files_section(&text)
        .map_err(|e| Error::failed(format!("plan {}: {e}", path.display())).hint(e.hint()))?;
    if approve {
        text = gates::approve(&text, &registry::now(), &approver(ctx))?;
        write_atomic(path, &text)?;
        output::info(format!("approved {}", path.display()));
    }
    if !gates::has_approval(&text) {
        return Err(Error::failed(format!("plan {} carries no approval marker", path.display())).hint(
            "the plan needs a line `APPROVED`, `APPROVED: …` or a checked `[x] Approved` box; --approve checks the box",
        ));
    }
    let file = std::fs::canonicalize(path).map_err(|e| io_at("cannot resolve", path, e))?;
    Ok(ApprovedPlan {
        file: file.to_string_lossy().into_owned(),
        approved_now: approve,
        sha256: plan::sha256_hex(text.as_bytes()),
        files,
    })
}

fn approver(ctx: &Context) -> String {
    let name = ctx.repo.config_string("user.name").filter(|s| !s.is_empty());
    let email = ctx.repo.config_string("user.email").filter(|s| !s.is_empty());
    match (name, email) {
        (Some(n), Some(e)) => format!("{n} <{e}>"),
        (Some(n), None) => n,
        (None, Some(e)) => format!("<{e}>"),
        (None, None) => std::env::var("USER").unwrap_or_else(|_| "an unknown user".into()),
    }
}

/// Placeholder values known before the run folder exists; the rest say `(pending)` so a
/// trial render can check the templates.
fn pending_vars(key: &TaskKey, phase: Phase, main: &Path) -> Vars {
    let pending = "(pending)".to_string();
    let mut v = Vars::new();
    v.insert("TASK_KEY".into(), key.to_string());
    v.insert("PHASE".into(), phase.to_string());
    v.insert("PROJECT_ROOT".into(), main.to_string_lossy().into_owned());
    v.insert("TASK_NOTES_DIR".into(), runs::task_docs(main, &key.task).to_string_lossy().into_owned());
    v.insert("FINAL_VERIFICATION_REPORT".into(), runs::FINAL_VERIFICATION_REPORT.into());
    v.insert("PHASES".into(), Phase::ALL.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "));
    for name in [
        "TASK_ID",
        "TASK_TITLE",
        "RUN_NUMBER",
        "RUN_DIR",
        "WORKTREE_STATUS",
        "WORKTREE_PATH",
        "WORKTREE_BRANCH",
        "WORKTREE_BASE_REF",
        "SYNC_DIRS",
        "GATE_DOCUMENTS",
    ] {
        v.insert(name.into(), pending.clone());
    }
    v
}

/// Render the launch prompt: the phase profile first (its roster decides the team gate),
/// then the gate section, then `launch.template.md`. Returns the text and the roster.
fn render_launch(prompts: &Prompts, vars: &Vars, phase: Phase) -> Result<(String, Vec<String>)> {
    let profile_file = format!("profiles/{phase}.md");
    let profile = prompts.render(&profile_file, vars)?;
    let workers = roster(&profile).ok_or_else(|| {
        Error::failed(format!("prompt profile {profile_file} has no `- Required workers:` list"))
            .hint("add `- Required workers: none`, or a list of roles under it")
    })?;
    let mut vars = vars.clone();
    let list = workers.iter().map(|w| format!("- `{w}`")).collect::<Vec<_>>().join("\n");
    vars.insert("WORKERS".into(), if list.is_empty() { "(none)".into() } else { list });
    let gate_file = if workers.is_empty() { "profiles/_single-lead.md" } else { "profiles/_team-creation-gate.md" };
    let gate = prompts.render(gate_file, &vars)?;
    vars.insert("TEAM_CREATION_GATE".into(), gate.trim_end().to_string());
    vars.insert("PHASE_PROFILE".into(), profile.trim_end().to_string());
    let mut text = prompts.render("launch.template.md", &vars)?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok((text, workers))
}

/// Link any sync dir missing from the worktree (the run folder may have just created
/// `.project-docs` in the main worktree). Returns the names linked in the worktree now.
fn link_sync_dirs(ctx: &Context, wt: &Path) -> Result<Vec<String>> {
    let names = ctx.sync_dirs()?;
    {
        // Concurrent runs of one task would race on the same missing link and on
        // `info/exclude`: link under the registry lock.
        let _lock = ctx.store.lock()?;
        worktree::link_sync_dirs(&ctx.repo, wt, &names)?;
    }
    Ok(names
        .into_iter()
        .filter(|n| std::fs::symlink_metadata(wt.join(n)).is_ok_and(|m| m.file_type().is_symlink()))
        .collect())
}

fn sync_dirs_text(main: &Path, linked: &[String]) -> String {
    if linked.is_empty() {
        return "- (none linked into this worktree; use the absolute paths above)".into();
    }
    linked.iter().map(|n| format!("- `{n}` → `{}`", main.join(n).display())).collect::<Vec<_>>().join("\n")
}

fn gate_text(gate: &Gate) -> String {
    match gate {
        Gate::None => "## Entry gate\n\nThis phase has no entry gate.".into(),
        Gate::ApprovedPlan(plan) => {
            let files: Vec<String> = plan.files.entries().iter().map(|f| format!("- `{f}`")).collect();
            format!(
                "## Approved plan\n\nThe plan approved for this run is `{}`. Read it first and build exactly what it says.\n\n\
                 These are the files it lets you edit and commit (paths in the task worktree; a folder covers \
                 everything under it, `*` stays inside one folder, `**` crosses folders):\n\n{}\n\n\
                 The plan file is read-only, and okstra checks it against the SHA-256 `{}` recorded at \
                 approval: if it changes, every edit and commit stops until the user approves it again.",
                plan.file,
                files.join("\n"),
                plan.sha256
            )
        }
        Gate::FinalVerdict { file, verdict } => format!(
            "## Verification report\n\nThe final-verification report `{file}` gives the verdict `{verdict}`. Ground the handoff texts in it."
        ),
    }
}

fn write_manifest(o: &PhaseOutcome, main: &Path, created_at: &str, exec_times: Option<(&str, &str)>) -> Result<()> {
    let manifest = json!({
        "schema": SCHEMA,
        "key": o.key,
        "task_id": o.task_id,
        "phase": o.phase,
        "run": o.run,
        "run_dir": o.run_dir,
        "launch": o.launch,
        "project_root": main.to_string_lossy(),
        "worktree": o.worktree,
        "workers": o.workers,
        "gate": o.gate,
        "executor": o.executor,
        "times": {
            "created_at": created_at,
            "exec_started_at": exec_times.map(|t| t.0),
            "exec_finished_at": exec_times.map(|t| t.1),
        },
    });
    let mut text = serde_json::to_string_pretty(&manifest).map_err(|e| Error::failed(e.to_string()))?;
    text.push('\n');
    write_atomic(Path::new(&o.manifest), &text)
}

/// Create `path` with `text`; it must not exist yet.
fn write_new(path: &Path, text: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| io_at("cannot create", path, e))?;
    f.write_all(text.as_bytes()).map_err(|e| io_at("cannot write", path, e))
}

/// Replace `path` with `text` atomically (temp file beside it, fsync, rename), keeping the
/// permissions of an existing file. On error the old file is untouched.
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.okstra-tmp-{}", std::process::id()));
    let perms = std::fs::metadata(path).ok().map(|m| m.permissions());
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(text.as_bytes())?;
        if let Some(p) = perms {
            f.set_permissions(p)?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_at("cannot write", path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rosters() {
        let p = "x\n- Required workers:\n  - `a`: does\n    more\n  - b — other\n\nnext\n- c\n";
        assert_eq!(roster(p), Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(roster("- Required workers: none\n"), Some(vec![]));
        assert_eq!(roster("- Required workers: x, `y`\n"), Some(vec!["x".to_string(), "y".to_string()]));
        assert_eq!(roster("no list"), None);
    }

    #[test]
    fn builtin_profiles_have_rosters() {
        let p = Prompts::builtin();
        for phase in Phase::ALL {
            let v = pending_vars(&TaskKey::new("p", "g", "t"), phase, Path::new("/r"));
            let (text, workers) = render_launch(&p, &v, phase).unwrap();
            assert!(!text.contains("{{"), "{phase}");
            assert_eq!(workers.is_empty(), phase == Phase::ReleaseHandoff, "{phase}: {workers:?}");
        }
    }

    #[test]
    fn option_errors_are_usage_errors() {
        let o = |approve, plan: Option<&str>, report: Option<&str>| PhaseOptions {
            approve,
            approved_plan: plan.map(PathBuf::from),
            verification_report: report.map(PathBuf::from),
            ..PhaseOptions::default()
        };
        assert_eq!(check_options(Phase::FinalVerification, &o(true, Some("p"), None)).unwrap_err().code, 2);
        assert_eq!(check_options(Phase::Implementation, &o(true, None, None)).unwrap_err().code, 2);
        assert_eq!(check_options(Phase::ErrorAnalysis, &o(false, Some("p"), None)).unwrap_err().code, 2);
        assert_eq!(check_options(Phase::Implementation, &o(false, None, Some("r"))).unwrap_err().code, 2);
        assert!(check_options(Phase::Implementation, &o(true, Some("p"), None)).is_ok());
        let detach = PhaseOptions { detach: true, ..o(false, None, None) };
        assert_eq!(check_options(Phase::ErrorAnalysis, &detach).unwrap_err().code, 2);
    }
}
