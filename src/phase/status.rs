//! What a task's phase runs are doing now, for the board (`task list`/`show`): the latest
//! run's state, the task's agent (running, exited with its status, gone) and whether the task
//! waits for its user. Read from the run folders (each `manifest.json`, the deliverables the
//! profiles name) and, for a detached agent, from the tmux server; never writes.
//!
//! Reading is two steps so a board of many tasks asks tmux once: [`read`] gathers what the
//! files say, [`RunFacts::resolve`] adds the live sessions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::git;
use crate::phase::gates::{self, Verdict};
use crate::phase::session::Live;
use crate::phase::{lifecycle, runs, Phase};
use crate::task::names::Segment;

/// The state of a phase run, as the board shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// Its agent is working.
    Running,
    /// The prompt was rendered and okstra started no agent: whoever runs the agent knows more.
    Prompted,
    /// Its agent exited with status 0 (or the handoff finished).
    Done,
    /// Its agent exited with another status (or the handoff failed).
    Failed,
    /// Its agent disappeared without an exit status (session or process killed).
    Interrupted,
    /// The implementation plan (`plan.md`) is written and its box is not checked.
    AwaitingApproval,
    /// The plan carries its approval marker.
    Approved,
    /// The final-verification report's verdict.
    Accepted,
    ConditionalAccept,
    Blocked,
    /// A report is there but its verdict cannot be read.
    NoVerdict,
    /// Handoff outcomes beside done/failed/blocked.
    Skipped,
    Cancelled,
}

impl RunState {
    pub fn name(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Prompted => "prompted",
            RunState::Done => "done",
            RunState::Failed => "failed",
            RunState::Interrupted => "interrupted",
            RunState::AwaitingApproval => "awaiting-approval",
            RunState::Approved => "approved",
            RunState::Accepted => "accepted",
            RunState::ConditionalAccept => "conditional-accept",
            RunState::Blocked => "blocked",
            RunState::NoVerdict => "no-verdict",
            RunState::Skipped => "skipped",
            RunState::Cancelled => "cancelled",
        }
    }
}

/// What became of an agent okstra started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "exit_code", rename_all = "kebab-case")]
pub enum AgentState {
    Running,
    Exited(i32),
    /// No exit status was recorded and nothing runs any more.
    Gone,
}

/// The task's newest agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agent {
    pub name: String,
    #[serde(flatten)]
    pub state: AgentState,
    /// The run that started it.
    pub run: u32,
    pub detached: bool,
    /// Its tmux session, when detached.
    pub session: Option<String>,
    /// Seconds since its session last printed anything (detached and running only).
    pub idle_seconds: Option<i64>,
}

/// Why a task waits for its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Waiting {
    /// The plan is written; only the user approves it.
    PlanAwaitsApproval,
    /// The agent exited; its work is there to review.
    AgentExited,
    /// The agent is gone without an exit status.
    AgentGone,
    /// The phase run ended (its deliverable is there) and the next phase has not started.
    PhaseEnded,
}

impl Waiting {
    pub fn text(self) -> &'static str {
        match self {
            Waiting::PlanAwaitsApproval => "plan awaits approval",
            Waiting::AgentExited => "agent exited",
            Waiting::AgentGone => "agent gone",
            Waiting::PhaseEnded => "phase ended",
        }
    }
}

/// The latest run of a task, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct RunStatus {
    pub number: u32,
    pub phase: Phase,
    pub state: RunState,
    pub dir: String,
    /// When the run began (RFC 3339).
    pub started_at: String,
    /// The newest moment the run folders know of: the run's start or its agent's exit.
    #[serde(skip)]
    pub activity_at: String,
    #[serde(skip)]
    pub agent: Option<Agent>,
}

impl RunStatus {
    /// Whether the task waits for its user, and why.
    pub fn waiting(&self) -> Option<Waiting> {
        let own_agent = self.agent.as_ref().filter(|a| a.run == self.number);
        match self.state {
            RunState::Running | RunState::Prompted => None,
            // A finished handoff leaves the pull request to its reviewers.
            RunState::Done if self.phase == Phase::ReleaseHandoff => None,
            RunState::AwaitingApproval => Some(Waiting::PlanAwaitsApproval),
            RunState::Interrupted => Some(Waiting::AgentGone),
            _ if own_agent.is_some_and(|a| matches!(a.state, AgentState::Exited(_))) => Some(Waiting::AgentExited),
            _ => Some(Waiting::PhaseEnded),
        }
    }
}

/// An agent as its manifest recorded it, before the live sessions are consulted.
#[derive(Debug, Clone)]
struct AgentFacts {
    name: String,
    run: u32,
    detached: bool,
    session: Option<String>,
    exit_code: Option<i32>,
    pid: Option<u32>,
    finished_at: Option<String>,
}

/// What a run's deliverable says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deliverable {
    None,
    Plan { approved: bool },
    Report(Option<Verdict>),
    Handoff(RunState),
}

/// What the run folders say about a task's latest run and newest agent.
#[derive(Debug, Clone)]
pub struct RunFacts {
    number: u32,
    phase: Phase,
    dir: PathBuf,
    started_at: String,
    deliverable: Deliverable,
    agent: Option<AgentFacts>,
}

/// The facts of the task's latest run, `None` when it has had none.
pub fn read(main: &Path, task: &Segment) -> Option<RunFacts> {
    let all = runs::list(main, task);
    let (number, phase, dir) = all.iter().rev().find_map(|(n, p, d)| p.map(|p| (*n, p, d.clone())))?;
    let manifest = read_manifest(&dir);
    let started_at = manifest
        .as_ref()
        .and_then(|m| m["times"]["created_at"].as_str().map(str::to_string))
        .or_else(|| modified(&dir))
        .unwrap_or_default();
    // The newest run that started an agent: a later run without one does not end it.
    let agent = all.iter().rev().filter(|r| r.1.is_some()).find_map(|(n, _, d)| {
        let m = if *d == dir { manifest.clone() } else { read_manifest(d) };
        agent_facts(*n, &m?)
    });
    Some(RunFacts { number, phase, deliverable: deliverable(phase, &dir), dir, started_at, agent })
}

/// The task's agent, if one okstra started is running now (asks tmux only when needed).
pub fn running_agent(main: &Path, task: &Segment) -> Option<Agent> {
    let facts = read(main, task)?;
    let sessions = if facts.needs_sessions() { crate::phase::session::live() } else { HashMap::new() };
    facts.resolve(&sessions, 0).agent.filter(|a| a.state == AgentState::Running)
}

fn read_manifest(dir: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join(lifecycle::MANIFEST)).ok()?;
    serde_json::from_str(&text).ok()
}

fn modified(dir: &Path) -> Option<String> {
    let t = std::fs::metadata(dir).ok()?.modified().ok()?;
    let t = time::OffsetDateTime::from(t);
    t.format(&time::format_description::well_known::Rfc3339).ok()
}

fn agent_facts(run: u32, m: &serde_json::Value) -> Option<AgentFacts> {
    let e = m.get("executor").filter(|e| e.is_object())?;
    Some(AgentFacts {
        name: e["name"].as_str().unwrap_or("agent").to_string(),
        run,
        detached: e["detached"].as_bool().unwrap_or(false),
        session: e["session"].as_str().map(str::to_string),
        exit_code: e["exit_code"].as_i64().and_then(|c| i32::try_from(c).ok()),
        pid: e["pid"].as_u64().and_then(|p| u32::try_from(p).ok()),
        finished_at: m["times"]["exec_finished_at"].as_str().map(str::to_string),
    })
}

fn deliverable(phase: Phase, dir: &Path) -> Deliverable {
    match phase {
        Phase::ImplementationPlanning => match gates::read_doc(&dir.join(runs::PLAN_FILE), "plan") {
            Ok(text) => Deliverable::Plan { approved: gates::has_approval(&text) },
            Err(_) => Deliverable::None,
        },
        Phase::FinalVerification => match gates::read_doc(&dir.join(runs::FINAL_VERIFICATION_REPORT), "report") {
            Ok(text) => Deliverable::Report(gates::final_verdict(&text).ok()),
            Err(_) => Deliverable::None,
        },
        Phase::ReleaseHandoff => handoff_state(dir).map_or(Deliverable::None, Deliverable::Handoff),
        _ => Deliverable::None,
    }
}

/// The status a handoff run wrote in its `handoff.json`.
fn handoff_state(dir: &Path) -> Option<RunState> {
    let text = std::fs::read_to_string(dir.join(runs::HANDOFF_RECORD)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(match v["status"].as_str()? {
        "done" => RunState::Done,
        "blocked" => RunState::Blocked,
        "skipped" => RunState::Skipped,
        "cancelled" => RunState::Cancelled,
        _ => RunState::Failed,
    })
}

impl RunFacts {
    /// Whether the agent's state depends on a tmux session (so the server must be asked).
    pub fn needs_sessions(&self) -> bool {
        self.agent.as_ref().is_some_and(|a| a.detached && a.exit_code.is_none())
    }

    /// The run's status, given the sessions the tmux server has (`now`: seconds since the epoch).
    pub fn resolve(self, sessions: &HashMap<String, Live>, now: i64) -> RunStatus {
        let agent = self.agent.as_ref().map(|a| resolve_agent(a, sessions, now));
        let own = agent.as_ref().filter(|a| a.run == self.number).map(|a| a.state);
        let state = match (own, self.deliverable) {
            (Some(AgentState::Running), _) => RunState::Running,
            (_, Deliverable::Plan { approved: false }) => RunState::AwaitingApproval,
            (_, Deliverable::Plan { approved: true }) => RunState::Approved,
            (_, Deliverable::Report(Some(Verdict::Accepted))) => RunState::Accepted,
            (_, Deliverable::Report(Some(Verdict::ConditionalAccept))) => RunState::ConditionalAccept,
            (_, Deliverable::Report(Some(Verdict::Blocked))) => RunState::Blocked,
            (_, Deliverable::Report(None)) => RunState::NoVerdict,
            (_, Deliverable::Handoff(s)) => s,
            (Some(AgentState::Exited(0)), Deliverable::None) => RunState::Done,
            (Some(AgentState::Exited(_)), Deliverable::None) => RunState::Failed,
            (Some(AgentState::Gone), Deliverable::None) => RunState::Interrupted,
            (None, Deliverable::None) => RunState::Prompted,
        };
        let finished = self.agent.as_ref().and_then(|a| a.finished_at.clone()).unwrap_or_default();
        let activity_at = std::cmp::max(self.started_at.clone(), finished);
        RunStatus {
            number: self.number,
            phase: self.phase,
            state,
            dir: self.dir.to_string_lossy().into_owned(),
            started_at: self.started_at,
            activity_at,
            agent,
        }
    }
}

fn resolve_agent(a: &AgentFacts, sessions: &HashMap<String, Live>, now: i64) -> Agent {
    let live = a.session.as_ref().and_then(|s| sessions.get(s));
    let state = match (a.exit_code, a.detached) {
        (Some(code), _) => AgentState::Exited(code),
        (None, true) if live.is_some() => AgentState::Running,
        // A foreground agent runs as long as the okstra process that waits for it.
        (None, false) if a.pid.is_some_and(git::process_alive) => AgentState::Running,
        (None, _) => AgentState::Gone,
    };
    let idle_seconds = live.filter(|_| state == AgentState::Running).map(|l| (now - l.activity).max(0));
    Agent { name: a.name.clone(), state, run: a.run, detached: a.detached, session: a.session.clone(), idle_seconds }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(deliverable: Deliverable, agent: Option<(Option<i32>, bool)>) -> RunFacts {
        RunFacts {
            number: 2,
            phase: Phase::ImplementationPlanning,
            dir: PathBuf::from("/r/002-implementation-planning"),
            started_at: "2026-01-01T00:00:00Z".into(),
            deliverable,
            agent: agent.map(|(exit_code, detached)| AgentFacts {
                name: "claude".into(),
                run: 2,
                detached,
                session: Some("okstra/p/g/t".into()),
                exit_code,
                pid: None,
                finished_at: exit_code.map(|_| "2026-01-01T01:00:00Z".into()),
            }),
        }
    }

    #[test]
    fn states_and_waiting() {
        let none = HashMap::new();
        let live: HashMap<String, Live> = [("okstra/p/g/t".to_string(), Live { activity: 90 })].into();
        let s = facts(Deliverable::None, Some((None, true))).resolve(&live, 100);
        assert_eq!((s.state, s.waiting()), (RunState::Running, None));
        assert_eq!(s.agent.as_ref().unwrap().idle_seconds, Some(10));
        // The agent still writes the plan: running wins over the deliverable.
        let s = facts(Deliverable::Plan { approved: false }, Some((None, true))).resolve(&live, 100);
        assert_eq!(s.state, RunState::Running);
        let s = facts(Deliverable::None, Some((None, true))).resolve(&none, 100);
        assert_eq!((s.state, s.waiting()), (RunState::Interrupted, Some(Waiting::AgentGone)));
        let s = facts(Deliverable::None, Some((Some(3), true))).resolve(&live, 100);
        assert_eq!((s.state, s.waiting()), (RunState::Failed, Some(Waiting::AgentExited)));
        assert_eq!(s.activity_at, "2026-01-01T01:00:00Z");
        let s = facts(Deliverable::Plan { approved: false }, Some((Some(0), true))).resolve(&none, 100);
        assert_eq!((s.state, s.waiting()), (RunState::AwaitingApproval, Some(Waiting::PlanAwaitsApproval)));
        let s = facts(Deliverable::None, None).resolve(&none, 100);
        assert_eq!((s.state, s.waiting()), (RunState::Prompted, None));
        let s = facts(Deliverable::Report(Some(Verdict::Accepted)), None).resolve(&none, 100);
        assert_eq!((s.state, s.waiting()), (RunState::Accepted, Some(Waiting::PhaseEnded)));
        let mut f = facts(Deliverable::Handoff(RunState::Done), None);
        f.phase = Phase::ReleaseHandoff;
        assert_eq!(f.resolve(&none, 100).waiting(), None);
    }
}
