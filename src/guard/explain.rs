//! The trace `git okstra hook agent-guard --explain` prints: the simple commands after
//! unwrapping, each git invocation's resolved subcommand and options, the refs a push would
//! update, and the rule that decided — as text for a person or JSON (`--json`).

use serde::Serialize;

use super::expand::Arg;
use super::git_grammar::Parsed;
use crate::policy::Violation;

/// JSON shape version of `--explain --json`.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Default, Serialize)]
pub struct Trace {
    pub commands: Vec<Step>,
    /// Rules the user's `okstra.guardAllow` lifted on the way.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_by_user: Vec<String>,
    /// The tasks whose contract judged something, with their phase and run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskStep>,
}

/// A task the contract consulted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskStep {
    pub key: String,
    /// `none` before the first run.
    pub phase: String,
    pub run: Option<u32>,
}

/// One command the script would run, after wrappers are looked through.
#[derive(Debug, Serialize)]
pub struct Step {
    /// How deep inside shells, wrappers and aliases it sits (0: the command line itself).
    pub depth: usize,
    pub words: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git: Option<GitStep>,
}

#[derive(Debug, Serialize)]
pub struct GitStep {
    pub subcommand: String,
    /// Options as git reads them: `--force-with-lease` for `--force-w`, `--no-verify` for `-n`.
    pub options: Vec<String>,
    pub operands: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub updates: Vec<RefUpdate>,
}

/// One remote ref a push would change.
#[derive(Debug, Clone, Serialize)]
pub struct RefUpdate {
    pub src: String,
    pub dst: String,
    pub force: bool,
    pub delete: bool,
}

impl Trace {
    pub fn command(&mut self, depth: usize, argv: &[Arg]) {
        self.commands.push(Step { depth, words: argv.iter().map(|a| a.text.clone()).collect(), git: None });
    }

    pub fn git(&mut self, sub: &str, p: &Parsed) {
        let options = p
            .opts
            .iter()
            .map(|o| {
                let name = if o.set { o.base.to_string() } else { format!("no-{}", o.base) };
                let dash = if name.len() == 1 { "-" } else { "--" };
                match &o.value {
                    Some(v) => format!("{dash}{name}={}", v.text),
                    None => format!("{dash}{name}"),
                }
            })
            .collect();
        let step = GitStep {
            subcommand: sub.to_string(),
            options,
            operands: p.operands.iter().map(|a| a.text.clone()).collect(),
            updates: Vec::new(),
        };
        match self.commands.last_mut() {
            Some(last) if last.git.is_none() => last.git = Some(step),
            _ => self.commands.push(Step { depth: 0, words: Vec::new(), git: Some(step) }),
        }
    }

    pub fn updates(&mut self, updates: impl Iterator<Item = RefUpdate>) {
        if let Some(g) = self.commands.iter_mut().rev().find_map(|s| s.git.as_mut()) {
            g.updates.extend(updates);
        }
    }

    pub fn task(&mut self, task: &crate::phase::current::TaskContext) {
        let step = TaskStep {
            key: task.key.to_string(),
            phase: task.phase().map_or("none", crate::phase::Phase::name).to_string(),
            run: task.run.as_ref().map(|r| r.number),
        };
        if !self.tasks.contains(&step) {
            self.tasks.push(step);
        }
    }

    pub fn allowed_by_user(&mut self, id: &str) {
        self.allowed_by_user.push(id.to_string());
    }

    /// The trace for a person.
    pub fn text(&self, command: &str, verdict: Option<&Violation>) -> String {
        let mut out = format!("command: {}\n", command.trim_end());
        for s in &self.commands {
            let indent = "  ".repeat(s.depth + 1);
            if !s.words.is_empty() {
                out.push_str(&format!("{indent}runs: {}\n", super::shell::join(&s.words)));
            }
            if let Some(g) = &s.git {
                out.push_str(&format!("{indent}  git {}", g.subcommand));
                if !g.options.is_empty() {
                    out.push_str(&format!("  options: {}", g.options.join(" ")));
                }
                if !g.operands.is_empty() {
                    out.push_str(&format!("  operands: {}", super::shell::join(&g.operands)));
                }
                out.push('\n');
                for u in &g.updates {
                    let how = if u.delete {
                        "deletes"
                    } else if u.force {
                        "force-updates"
                    } else {
                        "updates"
                    };
                    out.push_str(&format!(
                        "{indent}  {how} {} (from {})\n",
                        u.dst,
                        if u.src.is_empty() { "nothing" } else { &u.src }
                    ));
                }
            }
        }
        for t in &self.tasks {
            let run = t.run.map(|n| format!(" (run {n:03})")).unwrap_or_default();
            out.push_str(&format!("task: {}, phase {}{run}\n", t.key, t.phase));
        }
        for id in &self.allowed_by_user {
            out.push_str(&format!("allowed by okstra.guardAllow: {id}\n"));
        }
        match verdict {
            Some(v) => {
                out.push_str(&format!("verdict: blocked by {} — {} ({}); {}\n", v.id, v.message, v.subject, v.fix))
            }
            None => out.push_str("verdict: allowed\n"),
        }
        out
    }

    /// The trace as one JSON document.
    pub fn json(&self, command: &str, verdict: Option<&Violation>) -> serde_json::Value {
        let verdict = match verdict {
            Some(v) => {
                serde_json::json!({"decision": "block", "rule": v.rule, "id": v.id, "message": v.message, "subject": v.subject, "fix": v.fix, "phase": v.phase})
            }
            None => serde_json::json!({"decision": "allow"}),
        };
        serde_json::json!({"schema": SCHEMA, "command": command, "commands": self.commands, "allowed_by_user": self.allowed_by_user, "tasks": self.tasks, "verdict": verdict})
    }
}
