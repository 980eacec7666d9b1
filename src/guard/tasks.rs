//! Which task an operation acts for (DESIGN §8 "where"), for the contract rules: the registry
//! read once per request, the task whose worktree holds the host's folder (the agent's own),
//! and, when the host's folder is in no task, the task whose worktree holds the folder or file
//! acted on. Also the one outside question the contract asks: whether git ignores a path.
//!
//! Nothing here decides; a lookup that cannot be made (a registry that does not parse, a run
//! folder or manifest that is gone) is a refusal (`phase:context`), never "no task".

use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::contract::{Block, ContractRule};
use crate::phase::current::{self, TaskContext};
use crate::task::registry::{Registry, Store};

/// The tasks one request has looked up.
#[derive(Default)]
pub struct Tasks {
    registry: Option<Result<Rc<Registry>, Block>>,
    /// Contexts found, by worktree (`None`: the path is in no task's worktree).
    found: Vec<(PathBuf, Option<Rc<TaskContext>>)>,
    origin: Option<Result<Option<Rc<TaskContext>>, Block>>,
    /// `git check-ignore` answers, by worktree and path.
    ignored: Vec<(PathBuf, String, bool)>,
}

/// A lookup that failed: the contract cannot be told, so the operation is refused.
fn broken(e: crate::error::Error) -> Block {
    let instead = e.hint.clone().unwrap_or_else(|| "stop and ask the user to repair the task".into());
    Block::new(None, ContractRule::Context, format!("the task contract cannot be told: {}", e.message), instead)
}

impl Tasks {
    /// The registry under `OKSTRA_HOME`. Without a home folder there is no registry: no task.
    pub fn registry(&mut self) -> Result<Rc<Registry>, Block> {
        if self.registry.is_none() {
            let loaded = match crate::config::okstra_home() {
                Ok(home) => Store::at_home(&home).load().map(Rc::new).map_err(broken),
                Err(_) => Ok(Rc::new(Registry::default())),
            };
            self.registry = Some(loaded);
        }
        self.registry.clone().expect("set above")
    }

    /// The task whose worktree holds `path` (resolved), looked up once per worktree.
    pub fn at(&mut self, path: &Path) -> Result<Option<Rc<TaskContext>>, Block> {
        // A task's worktree holds what lies under it; a path in no task says nothing of others.
        let known = |(wt, t): &&(PathBuf, Option<Rc<TaskContext>>)| match t {
            Some(_) => path.starts_with(wt),
            None => path == wt,
        };
        if let Some((_, t)) = self.found.iter().find(known) {
            return Ok(t.clone());
        }
        let reg = self.registry()?;
        let found = current::context_in(&reg, path).map_err(broken)?.map(Rc::new);
        let key = found.as_ref().map_or_else(|| path.to_path_buf(), |t| t.worktree.clone());
        self.found.push((key, found.clone()));
        Ok(found)
    }

    /// The agent's own task: the one whose worktree holds the host's folder.
    pub fn origin(&mut self, origin: &Path) -> Result<Option<Rc<TaskContext>>, Block> {
        if self.origin.is_none() {
            let resolved = current::resolve(origin, Path::new("/"));
            self.origin = Some(self.at(&resolved));
        }
        self.origin.clone().expect("set above")
    }

    /// Whether git ignores the worktree-relative path `rel` (build output is never source).
    /// Asked only when the answer decides; a git that cannot answer says "not ignored".
    pub fn ignored(&mut self, worktree: &Path, rel: &str) -> bool {
        if let Some((_, _, yes)) = self.ignored.iter().find(|(w, r, _)| w == worktree && r == rel) {
            return *yes;
        }
        // A tracked file is never ignored: the index answers that without a process.
        let tracked = crate::git::Repo::discover(worktree).ok().flatten().is_some_and(|r| r.tracks(rel));
        let yes = !tracked
            && crate::git::exec("git", &["check-ignore", "-q", "--", rel], worktree).is_ok_and(|o| o.code == 0);
        self.ignored.push((worktree.to_path_buf(), rel.to_string(), yes));
        yes
    }
}

impl super::Context {
    /// The task an operation on `path` (resolved) is judged for: the agent's own task when the
    /// host's folder is in one, else the task whose worktree holds `path`.
    pub fn task_for(&mut self, path: &Path) -> Result<Option<Rc<TaskContext>>, Block> {
        let origin = self.origin.clone();
        match self.tasks.origin(&origin)? {
            Some(t) => Ok(Some(t)),
            None => self.tasks.at(path),
        }
    }

    /// The agent's own task (the host's folder), if any.
    pub fn own_task(&mut self) -> Result<Option<Rc<TaskContext>>, Block> {
        let origin = self.origin.clone();
        self.tasks.origin(&origin)
    }
}
