//! Agent host settings: merges the agent guard into a checkout's `.claude/settings.json`
//! (Claude Code; `.claude/settings.local.json` in task worktrees), `.gemini/settings.json`
//! (Gemini CLI) and `.cursor/hooks.json` (Cursor), and into the user's `$CODEX_HOME/hooks.json`
//! (Codex CLI, default `~/.codex`: one file for every checkout, trusted once in Codex's
//! `/hooks`), and takes it out again; tells an entry an older version wrote (stale) and, for
//! Codex, whether the user has trusted it.
//!
//! A real JSON merge: other keys and other hooks are kept as they are (key order included);
//! a file that does not parse, or whose hook section has an unexpected shape, is an error and
//! is never written. Our entry is the one whose `command` runs `okstra hook agent-guard`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::{json, Map, Value};

/// The command the hosts run. `git-okstra` directly (not `git okstra`): the hook runs before
/// every shell command, and skipping git's own start halves its cost.
pub const GUARD_COMMAND: &str = "git-okstra hook agent-guard";
/// How our entry is recognised (also when written as `git okstra hook agent-guard`).
const MARK: &str = "okstra hook agent-guard";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Agent {
    Claude,
    Gemini,
    Cursor,
    Codex,
}

/// The folder Codex CLI reads its user settings from: `CODEX_HOME`, else `~/.codex`.
pub fn codex_home() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("CODEX_HOME").filter(|h| !h.is_empty()).map(PathBuf::from) {
        return h.is_absolute().then_some(h);
    }
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".codex"))
}

impl Agent {
    pub const ALL: [Agent; 4] = [Agent::Claude, Agent::Gemini, Agent::Cursor, Agent::Codex];

    pub fn name(self) -> &'static str {
        match self {
            Agent::Claude => "claude",
            Agent::Gemini => "gemini",
            Agent::Cursor => "cursor",
            Agent::Codex => "codex",
        }
    }

    /// The settings file, relative to the checkout's top; `None` for Codex, whose guard lives
    /// in the user's `$CODEX_HOME/hooks.json`: a project's `.codex/` is read only for a trusted
    /// project and each of its hooks must be trusted again per checkout, while the guard
    /// judges by the folder a call acts on wherever it is installed.
    pub fn settings_file(self) -> Option<&'static str> {
        match self {
            Agent::Claude => Some(".claude/settings.json"),
            Agent::Gemini => Some(".gemini/settings.json"),
            Agent::Cursor => Some(".cursor/hooks.json"),
            Agent::Codex => None,
        }
    }

    /// The settings file `task start` writes into a task worktree it creates: for Claude Code
    /// the local one it reads beside (and above) `settings.json` and keeps out of git, so a
    /// tracked `settings.json` is never changed and nothing shared has to hide it. `None`:
    /// nothing goes into the worktree (Codex).
    pub fn task_settings_file(self) -> Option<&'static str> {
        match self {
            Agent::Claude => Some(".claude/settings.local.json"),
            _ => self.settings_file(),
        }
    }

    /// Every file the guard may be in for a checkout at `root` (`hooks status`/`uninstall`
    /// look at all).
    fn settings_files(self, root: &Path) -> Vec<PathBuf> {
        match self {
            Agent::Claude => vec![root.join(".claude/settings.json"), root.join(".claude/settings.local.json")],
            Agent::Codex => codex_home().map(|h| h.join("hooks.json")).into_iter().collect(),
            _ => self.settings_file().map(|f| root.join(f)).into_iter().collect(),
        }
    }

    /// The hook events that run before a tool call, each with its tool matcher (a regex;
    /// Cursor's events are already one kind of tool each): shell commands, file edits and
    /// MCP tools, which the guard judges too.
    fn events(self) -> &'static [(&'static str, Option<&'static str>)] {
        match self {
            Agent::Claude => &[("PreToolUse", Some("Bash|Write|Edit|MultiEdit|NotebookEdit|mcp__.*"))],
            Agent::Gemini => &[("BeforeTool", Some("run_shell_command|write_file|replace|mcp__.*"))],
            Agent::Cursor => &[("beforeShellExecution", None), ("beforeMCPExecution", None)],
            // Codex names its shell tool `Bash` (the older `shell` too) and its file edits
            // `apply_patch`; the matcher is a regex over the tool name.
            Agent::Codex => &[("PreToolUse", Some("Bash|shell|apply_patch|mcp__.*"))],
        }
    }

    /// Whether this host groups hook entries under a matcher.
    fn grouped(self) -> bool {
        self != Agent::Cursor
    }

    fn entry(self) -> Value {
        match self {
            // Claude Code: timeout in seconds.
            Agent::Claude => json!({"type": "command", "command": GUARD_COMMAND, "timeout": 30}),
            // Gemini CLI: timeout in milliseconds; `name` shows in its hook listings.
            Agent::Gemini => json!({
                "name": "okstra-agent-guard",
                "type": "command",
                "command": GUARD_COMMAND,
                "timeout": 30000,
                "description": "git-okstra: refuse forbidden git/gh/publish commands"
            }),
            Agent::Cursor => json!({"command": GUARD_COMMAND}),
            // Codex CLI: timeout in seconds; `statusMessage` shows while it runs.
            Agent::Codex => json!({
                "type": "command",
                "command": GUARD_COMMAND,
                "timeout": 30,
                "statusMessage": "git-okstra agent guard"
            }),
        }
    }
}

impl fmt::Display for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Agent {
    type Err = AgentsError;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        Agent::ALL.into_iter().find(|a| a.name() == s).ok_or(AgentsError::Unknown(s))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentsError {
    #[error("unknown agent '{0}'; the agent guard supports claude, gemini, cursor and codex")]
    Unknown(String),
    #[error("{path} does not parse as JSON ({err}); it was left untouched")]
    Parse { path: PathBuf, err: String },
    #[error("{path}: {what}; it was left untouched")]
    Shape { path: PathBuf, what: String },
    #[error("cannot {what} {path}: {err}")]
    Io { what: &'static str, path: PathBuf, err: std::io::Error },
}

impl From<AgentsError> for crate::error::Error {
    fn from(e: AgentsError) -> Self {
        let hint = match &e {
            AgentsError::Unknown(_) => {
                Some("use --agent claude, --agent gemini, --agent cursor or --agent codex".to_string())
            }
            AgentsError::Parse { path, .. } | AgentsError::Shape { path, .. } => {
                Some(format!("fix {} by hand (or move it away), then run the command again", path.display()))
            }
            AgentsError::Io { .. } => None,
        };
        let err = match &e {
            AgentsError::Unknown(_) => crate::error::Error::usage(e.to_string()),
            _ => crate::error::Error::failed(e.to_string()),
        };
        match hint {
            Some(h) => err.hint(h),
            None => err,
        }
    }
}

type Result<T> = std::result::Result<T, AgentsError>;

/// What an install or uninstall did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Installed,
    /// Our entry was there with an older matcher or missing from one event; now complete.
    Updated,
    AlreadyInstalled,
    Removed,
    NotInstalled,
}

impl Change {
    pub fn name(self) -> &'static str {
        match self {
            Change::Installed => "installed",
            Change::Updated => "updated",
            Change::AlreadyInstalled => "already-installed",
            Change::Removed => "removed",
            Change::NotInstalled => "not-installed",
        }
    }
}

/// Agents named by values like `claude`, `claude,gemini` or `cursor gemini` (duplicates dropped).
pub fn parse_list<S: AsRef<str>>(values: &[S]) -> Result<Vec<Agent>> {
    let mut out = Vec::new();
    for v in values {
        for name in v.as_ref().split([',', ' ']).filter(|n| !n.trim().is_empty()) {
            let a: Agent = name.parse()?;
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    Ok(out)
}

/// The agents `okstra.agentGuard` names in this repository (none when unset).
pub fn configured(repo: &crate::git::Repo) -> Result<Vec<Agent>> {
    parse_list(&repo.config_strings(crate::config::KEY_AGENT_GUARD).unwrap_or_default())
}

/// Read a settings file: `None` when it does not exist.
fn load(path: &Path) -> Result<Option<Map<String, Value>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(AgentsError::Io { what: "read", path: path.into(), err }),
    };
    if text.trim().is_empty() {
        return Ok(Some(Map::new()));
    }
    let v: Value =
        serde_json::from_str(&text).map_err(|e| AgentsError::Parse { path: path.into(), err: e.to_string() })?;
    match v {
        Value::Object(m) => Ok(Some(m)),
        _ => Err(AgentsError::Shape { path: path.into(), what: "the top level is not a JSON object".into() }),
    }
}

/// Write atomically (temp file in the same folder, then rename), pretty-printed.
fn save(path: &Path, doc: &Map<String, Value>) -> Result<()> {
    let io = |what, err| AgentsError::Io { what, path: path.into(), err };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io("create the folder of", e))?;
    let mut text = serde_json::to_string_pretty(doc).map_err(|e| io("encode", std::io::Error::other(e)))?;
    text.push('\n');
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.okstra-tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        std::fs::write(&tmp, &text)?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io("write", e)
    })
}

fn is_ours(entry: &Value) -> bool {
    entry.get("command").and_then(Value::as_str).is_some_and(|c| c.contains(MARK))
}

/// `doc.hooks.<event>` as an array, created when missing; a wrong shape is an error.
fn event_list<'a>(doc: &'a mut Map<String, Value>, event: &str, path: &Path) -> Result<&'a mut Vec<Value>> {
    let shape = |what: String| AgentsError::Shape { path: path.into(), what };
    let hooks = doc.entry("hooks").or_insert_with(|| Value::Object(Map::new()));
    let hooks = hooks.as_object_mut().ok_or_else(|| shape("\"hooks\" is not a JSON object".into()))?;
    let list = hooks.entry(event).or_insert_with(|| Value::Array(Vec::new()));
    list.as_array_mut().ok_or_else(|| shape(format!("\"hooks.{event}\" is not a JSON array")))
}

/// Read-only view of `doc.hooks.<event>`, checking its shape.
fn event_list_ref<'a>(doc: &'a Map<String, Value>, event: &str, path: &Path) -> Result<Option<&'a Vec<Value>>> {
    let shape = |what: String| AgentsError::Shape { path: path.into(), what };
    let Some(hooks) = doc.get("hooks") else { return Ok(None) };
    let hooks = hooks.as_object().ok_or_else(|| shape("\"hooks\" is not a JSON object".into()))?;
    match hooks.get(event) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(_) => Err(shape(format!("\"hooks.{event}\" is not a JSON array"))),
    }
}

/// Whether an element of the event list carries our entry (grouped for Claude and Gemini).
fn holds_ours(agent: Agent, item: &Value) -> bool {
    if agent.grouped() {
        item.get("hooks").and_then(Value::as_array).is_some_and(|hs| hs.iter().any(is_ours))
    } else {
        is_ours(item)
    }
}

/// Our entry in one event: absent, present with this matcher, or present with another.
#[derive(PartialEq)]
enum Presence {
    Absent,
    Current,
    Stale,
}

fn presence(
    doc: &Map<String, Value>,
    agent: Agent,
    event: &str,
    matcher: Option<&str>,
    path: &Path,
) -> Result<Presence> {
    let Some(list) = event_list_ref(doc, event, path)? else { return Ok(Presence::Absent) };
    let Some(item) = list.iter().find(|i| holds_ours(agent, i)) else { return Ok(Presence::Absent) };
    let same = matcher.map_or(true, |m| item.get("matcher").and_then(Value::as_str) == Some(m));
    Ok(if same { Presence::Current } else { Presence::Stale })
}

/// Our entry in every event of the agent, and whether each has this version's matcher.
fn found(doc: &Map<String, Value>, agent: Agent, path: &Path) -> Result<Option<bool>> {
    let mut current = true;
    for (event, matcher) in agent.events() {
        match presence(doc, agent, event, *matcher, path)? {
            Presence::Absent => return Ok(None),
            Presence::Stale => current = false,
            Presence::Current => {}
        }
    }
    Ok(Some(current))
}

/// Where `hooks install --agent` puts the guard for a checkout at `root`.
pub fn settings_path(root: &Path, agent: Agent) -> PathBuf {
    match agent.settings_file() {
        Some(f) => root.join(f),
        None => agent.settings_files(root).into_iter().next().unwrap_or_else(|| root.join(".codex/hooks.json")),
    }
}

/// Where `task start` puts the guard for a task worktree it creates, and whether that file
/// is in the worktree.
pub fn task_settings_path(worktree: &Path, agent: Agent) -> (PathBuf, bool) {
    match agent.task_settings_file() {
        Some(f) => (worktree.join(f), true),
        None => (settings_path(worktree, agent), false),
    }
}

/// Merge the guard into the agent's settings under `root` (idempotent: a guard already in
/// any of the agent's files counts, so it never runs twice). An entry an older
/// version wrote (a narrower matcher, an event missing) is brought up to date.
pub fn install(root: &Path, agent: Agent) -> Result<Change> {
    // The file that holds the guard already (a task worktree's settings.local.json, say) is
    // the one brought up to date; the guard never goes into a second file.
    let path = installed_in(root, agent)?.unwrap_or_else(|| settings_path(root, agent));
    install_file(&path, agent)
}

/// Merge the guard into the settings file at `path` (idempotent).
pub fn install_file(path: &Path, agent: Agent) -> Result<Change> {
    let path = path.to_path_buf();
    let mut doc = load(&path)?.unwrap_or_default();
    if agent == Agent::Cursor && !doc.contains_key("version") {
        doc.insert("version".into(), json!(1));
    }
    let mut fresh = true;
    let mut changed = false;
    for (event, matcher) in agent.events() {
        match presence(&doc, agent, event, *matcher, &path)? {
            Presence::Current => fresh = false,
            Presence::Stale => {
                fresh = false;
                changed = true;
                let list = event_list(&mut doc, event, &path)?;
                if let Some(item) = list.iter_mut().find(|i| holds_ours(agent, i)) {
                    item["matcher"] = json!(matcher);
                }
            }
            Presence::Absent => {
                changed = true;
                let item = match matcher {
                    Some(m) => json!({"matcher": m, "hooks": [agent.entry()]}),
                    None => agent.entry(),
                };
                event_list(&mut doc, event, &path)?.push(item);
            }
        }
    }
    if !changed {
        return Ok(Change::AlreadyInstalled);
    }
    save(&path, &doc)?;
    Ok(if fresh { Change::Installed } else { Change::Updated })
}

/// Take our entry out of every settings file of the agent under `root`; everything else
/// stays. A file left holding nothing (or, for Cursor, only `version`) is removed.
pub fn uninstall(root: &Path, agent: Agent) -> Result<Change> {
    let mut change = Change::NotInstalled;
    for file in agent.settings_files(root) {
        if uninstall_file(&file, agent)? == Change::Removed {
            change = Change::Removed;
        }
    }
    Ok(change)
}

fn uninstall_file(path: &Path, agent: Agent) -> Result<Change> {
    let path = path.to_path_buf();
    let Some(mut doc) = load(&path)? else { return Ok(Change::NotInstalled) };
    let mut any = false;
    for (event, _) in agent.events() {
        any |= presence(&doc, agent, event, None, &path)? != Presence::Absent;
    }
    if !any {
        return Ok(Change::NotInstalled);
    }
    for (event, _) in agent.events() {
        if event_list_ref(&doc, event, &path)?.is_none() {
            continue;
        }
        let list = event_list(&mut doc, event, &path)?;
        if agent.grouped() {
            list.retain_mut(|group| {
                let Some(hs) = group.get_mut("hooks").and_then(Value::as_array_mut) else { return true };
                let before = hs.len();
                hs.retain(|h| !is_ours(h));
                !(hs.is_empty() && before > 0)
            });
        } else {
            list.retain(|h| !is_ours(h));
        }
        let event_empty = list.is_empty();
        if let Some(hooks) = doc.get_mut("hooks").and_then(Value::as_object_mut) {
            if event_empty {
                hooks.remove(*event);
            }
        }
    }
    if let Some(hooks) = doc.get("hooks").and_then(Value::as_object) {
        if hooks.is_empty() {
            doc.remove("hooks");
        }
    }
    let empty = doc.is_empty() || (agent == Agent::Cursor && doc.len() == 1 && doc.contains_key("version"));
    if empty {
        std::fs::remove_file(&path).map_err(|err| AgentsError::Io { what: "remove", path: path.clone(), err })?;
    } else {
        save(&path, &doc)?;
    }
    Ok(Change::Removed)
}

/// Whether the guard is in the agent's settings under `root`.
pub fn is_installed(root: &Path, agent: Agent) -> Result<bool> {
    Ok(installed_in(root, agent)?.is_some())
}

/// The settings file under `root` that holds the guard, if one does.
pub fn installed_in(root: &Path, agent: Agent) -> Result<Option<PathBuf>> {
    Ok(state(root, agent)?.map(|(path, _)| path))
}

/// The settings file that holds the guard for `root`, and whether its entry is this
/// version's (`false`: stale, written by an older version with a narrower matcher).
pub fn state(root: &Path, agent: Agent) -> Result<Option<(PathBuf, bool)>> {
    for path in agent.settings_files(root) {
        if let Some(doc) = load(&path)? {
            if let Some(current) = found(&doc, agent, &path)? {
                return Ok(Some((path, current)));
            }
        }
    }
    Ok(None)
}

/// Whether the user has trusted the guard's Codex hook: Codex runs a hook of the user's
/// `hooks.json` only after its hash is trusted in `/hooks`, recorded in
/// `$CODEX_HOME/config.toml` as `[hooks.state."<hooks.json>:pre_tool_use:<group>:<handler>"]`
/// with a `trusted_hash`. Codex alone can tell whether the hash still matches.
pub fn codex_trusted(hooks_json: &Path) -> Result<bool> {
    let Some(doc) = load(hooks_json)? else { return Ok(false) };
    let Some(list) = event_list_ref(&doc, "PreToolUse", hooks_json)? else { return Ok(false) };
    let Some((group, handler)) = list.iter().enumerate().find_map(|(g, item)| {
        let hs = item.get("hooks").and_then(Value::as_array)?;
        hs.iter().position(is_ours).map(|h| (g, h))
    }) else {
        return Ok(false);
    };
    let key = format!("{}:pre_tool_use:{group}:{handler}", hooks_json.display());
    let config = hooks_json.with_file_name("config.toml");
    let text = match std::fs::read_to_string(&config) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(AgentsError::Io { what: "read", path: config, err }),
    };
    Ok(trusted_in(&text, &key))
}

/// Whether `config.toml` text records a `trusted_hash` for the hook `key`: as a table
/// (`[hooks.state."<key>"]` then `trusted_hash = …`), an inline table under `[hooks.state]`,
/// or a dotted key on one line.
fn trusted_in(text: &str, key: &str) -> bool {
    let quoted = format!("\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""));
    let mut table = "";
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            table = line;
            continue;
        }
        let found = if table.starts_with("[hooks.state.") && table.contains(&quoted) {
            line.starts_with("trusted_hash")
        } else if table == "[hooks.state]" {
            line.starts_with(&quoted) && line.contains("trusted_hash")
        } else {
            line.starts_with("hooks.state.") && line.contains(&quoted) && line.contains(".trusted_hash")
        };
        if found {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse() {
        assert_eq!(parse_list(&["claude, gemini", "claude cursor"]).unwrap(), Agent::ALL[..3].to_vec());
        assert_eq!(parse_list(&["codex"]).unwrap(), [Agent::Codex]);
        assert!(matches!(parse_list(&["aider"]), Err(AgentsError::Unknown(_))));
    }

    #[test]
    fn codex_trust_is_read_from_its_config() {
        let key = "/h/.codex/hooks.json:pre_tool_use:0:0";
        assert!(trusted_in(
            "[hooks.state.\"/h/.codex/hooks.json:pre_tool_use:0:0\"]\ntrusted_hash = \"sha256:x\"\n",
            key
        ));
        assert!(!trusted_in(
            "[hooks.state.\"/h/.codex/hooks.json:pre_tool_use:0:0\"]\nenabled = true\n[x]\ntrusted_hash = \"y\"\n",
            key
        ));
        assert!(!trusted_in("[hooks.state.\"/h/.codex/hooks.json:pre_tool_use:1:0\"]\ntrusted_hash = \"y\"\n", key));
        assert!(trusted_in("hooks.state.\"/h/.codex/hooks.json:pre_tool_use:0:0\".trusted_hash = \"y\"\n", key));
        assert!(trusted_in(
            "[hooks.state]\n\"/h/.codex/hooks.json:pre_tool_use:0:0\" = { trusted_hash = \"y\" }\n",
            key
        ));
    }

    #[test]
    fn merge_keeps_order_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = settings_path(dir.path(), Agent::Claude);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let original = r#"{"zeta": 1, "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "mine"}]}]}, "alpha": 2}"#;
        std::fs::write(&path, original).unwrap();
        assert_eq!(install(dir.path(), Agent::Claude).unwrap(), Change::Installed);
        assert_eq!(install(dir.path(), Agent::Claude).unwrap(), Change::AlreadyInstalled);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.find("zeta").unwrap() < text.find("alpha").unwrap(), "key order kept:\n{text}");
        assert_eq!(uninstall(dir.path(), Agent::Claude).unwrap(), Change::Removed);
        let after: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(after, serde_json::from_str::<Value>(original).unwrap());
    }
}
