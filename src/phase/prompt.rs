//! The one template renderer, and the prompt files it reads (DESIGN §5).
//!
//! Templates hold `{{NAME}}` placeholders (upper-case letters, digits, `_`) and
//! `{{INCLUDE:file}}` (a file of the `profiles/` folder). Values are inserted literally and
//! never scanned again, so text from a ticket title cannot inject a placeholder. Anything
//! else between `{{` and `}}`, a `{{` that is never closed, an unknown name, an include
//! cycle or includes nested deeper than [`MAX_INCLUDE_DEPTH`] is an error naming the file
//! and the placeholder: a broken prompt is never written out.
//!
//! The files in `prompts/` are compiled in; `<main worktree>/.okstra/prompts/<same path>`
//! overrides any of them (and may add files for includes). This module reads files and
//! renders text; it knows nothing of tasks or phases.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// How deep `{{INCLUDE:…}}` may nest below the file being rendered.
pub const MAX_INCLUDE_DEPTH: usize = 4;

/// Where overrides live, relative to the main worktree.
pub const OVERRIDE_DIR: &str = ".okstra/prompts";

/// The compiled-in prompt files, by path relative to `prompts/`.
pub const BUILTIN: &[(&str, &str)] = &[
    ("launch.template.md", include_str!("../../prompts/launch.template.md")),
    ("profiles/_common-contract.md", include_str!("../../prompts/profiles/_common-contract.md")),
    ("profiles/_team-creation-gate.md", include_str!("../../prompts/profiles/_team-creation-gate.md")),
    ("profiles/_single-lead.md", include_str!("../../prompts/profiles/_single-lead.md")),
    ("profiles/requirements-discovery.md", include_str!("../../prompts/profiles/requirements-discovery.md")),
    ("profiles/error-analysis.md", include_str!("../../prompts/profiles/error-analysis.md")),
    ("profiles/implementation-planning.md", include_str!("../../prompts/profiles/implementation-planning.md")),
    ("profiles/implementation.md", include_str!("../../prompts/profiles/implementation.md")),
    ("profiles/final-verification.md", include_str!("../../prompts/profiles/final-verification.md")),
    ("profiles/release-handoff.md", include_str!("../../prompts/profiles/release-handoff.md")),
];

/// Placeholder values by name.
pub type Vars = BTreeMap<String, String>;

/// Why a template could not be rendered. `file` names the template as a user can find it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    #[error("prompt {file}: placeholder {{{{{name}}}}} has no value")]
    Unresolved { file: String, name: String },
    #[error("prompt {file}: `{{{{` at byte {at} is never closed with `}}}}`")]
    Unclosed { file: String, at: usize },
    #[error("prompt {file}: {{{{{text}}}}} is not a placeholder (use {{{{NAME}}}} or {{{{INCLUDE:file}}}})")]
    Malformed { file: String, text: String },
    #[error("prompt {file}: include cycle {chain}")]
    Cycle { file: String, chain: String },
    #[error("prompt {file}: {{{{INCLUDE:{include}}}}} nests includes deeper than {MAX_INCLUDE_DEPTH} levels")]
    TooDeep { file: String, include: String },
    #[error("prompt {file}: {{{{INCLUDE:{include}}}}} names no file in profiles/ (built in or overridden)")]
    MissingInclude { file: String, include: String },
    #[error("prompt {file}: {{{{INCLUDE:{include}}}}} must name a file inside profiles/ (no `..`, no absolute path)")]
    BadInclude { file: String, include: String },
    #[error("prompt override {file}: {message}")]
    Unreadable { file: String, message: String },
}

impl From<PromptError> for Error {
    fn from(e: PromptError) -> Self {
        Error::failed(e.to_string()).hint(format!(
            "fix the prompt file (a repository overrides the built-in ones in {OVERRIDE_DIR}/); nothing was written"
        ))
    }
}

/// One prompt file's text and the name errors use for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub label: String,
    pub text: String,
    /// Whether it came from the repository's override folder.
    pub overridden: bool,
}

/// The prompt files in force: a repository's overrides over the built-in set.
#[derive(Debug, Clone, Default)]
pub struct Prompts {
    /// The main worktree whose `.okstra/prompts` overrides the built-in files.
    main: Option<PathBuf>,
}

impl Prompts {
    /// Only the compiled-in files.
    pub fn builtin() -> Prompts {
        Prompts { main: None }
    }

    /// The files for the repository whose main worktree is `main`.
    pub fn for_repository(main: &Path) -> Prompts {
        Prompts { main: Some(main.to_path_buf()) }
    }

    /// The text of `rel` (e.g. `profiles/implementation.md`): the override if one exists,
    /// else the built-in file; `Ok(None)` when neither exists.
    pub fn source(&self, rel: &str) -> Result<Option<Source>, PromptError> {
        if let Some(main) = &self.main {
            let path = main.join(OVERRIDE_DIR).join(rel);
            let label = format!("{OVERRIDE_DIR}/{rel}");
            if std::fs::symlink_metadata(&path).is_ok() {
                // A symlinked folder on the way leads out of the repository as a symlinked
                // file would: the same refusal (the file itself is checked by `read_doc`).
                if let Some(link) = symlinked_folder(main, &format!("{OVERRIDE_DIR}/{rel}")) {
                    return Err(PromptError::Unreadable {
                        file: label,
                        message: format!("{link} is a symlink; refusing to follow it (use a real folder)"),
                    });
                }
                let text = crate::phase::gates::read_doc(&path, "prompt override")
                    .map_err(|e| PromptError::Unreadable { file: label.clone(), message: e.message })?;
                return Ok(Some(Source { label, text, overridden: true }));
            }
        }
        Ok(BUILTIN.iter().find(|(name, _)| *name == rel).map(|(name, text)| Source {
            label: format!("prompts/{name} (built in)"),
            text: (*text).to_string(),
            overridden: false,
        }))
    }

    /// Render the prompt file `rel` with `vars`, following its includes.
    pub fn render(&self, rel: &str, vars: &Vars) -> Result<String, PromptError> {
        let src = self
            .source(rel)?
            .ok_or_else(|| PromptError::MissingInclude { file: format!("prompts/{rel}"), include: rel.to_string() })?;
        let mut stack = vec![rel.to_string()];
        render_inner(&src.text, &src.label, vars, Some(self), &mut stack)
    }
}

/// The first folder of `rel` (below `main`) that is a symlink, as `rel` names it.
fn symlinked_folder(main: &Path, rel: &str) -> Option<String> {
    let parts: Vec<&str> = rel.split('/').collect();
    (1..parts.len())
        .map(|n| parts[..n].join("/"))
        .find(|prefix| std::fs::symlink_metadata(main.join(prefix)).is_ok_and(|m| m.file_type().is_symlink()))
}

/// Render a piece of text that may not include files (e.g. an executor's argv word).
/// `label` names it in errors.
pub fn render_str(text: &str, label: &str, vars: &Vars) -> Result<String, PromptError> {
    render_inner(text, label, vars, None, &mut Vec::new())
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('A'..='Z')) && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn valid_include(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && name.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
}

fn render_inner(
    text: &str,
    label: &str,
    vars: &Vars,
    prompts: Option<&Prompts>,
    stack: &mut Vec<String>,
) -> Result<String, PromptError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut offset = 0;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or(PromptError::Unclosed { file: label.to_string(), at: offset + open })?;
        let inner = &after[..close];
        if let Some(include) = inner.strip_prefix("INCLUDE:") {
            let include = include.trim();
            let prompts =
                prompts.ok_or_else(|| PromptError::Malformed { file: label.to_string(), text: inner.to_string() })?;
            out.push_str(&include_file(include, label, vars, prompts, stack)?);
        } else if is_name(inner) {
            let value = vars
                .get(inner)
                .ok_or_else(|| PromptError::Unresolved { file: label.to_string(), name: inner.to_string() })?;
            out.push_str(value);
        } else {
            return Err(PromptError::Malformed { file: label.to_string(), text: inner.chars().take(60).collect() });
        }
        let consumed = open + 2 + close + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

fn include_file(
    include: &str,
    label: &str,
    vars: &Vars,
    prompts: &Prompts,
    stack: &mut Vec<String>,
) -> Result<String, PromptError> {
    if !valid_include(include) {
        return Err(PromptError::BadInclude { file: label.to_string(), include: include.to_string() });
    }
    let rel = format!("profiles/{include}");
    if stack.contains(&rel) {
        let mut chain: Vec<&str> = stack.iter().map(String::as_str).collect();
        chain.push(&rel);
        return Err(PromptError::Cycle { file: label.to_string(), chain: chain.join(" -> ") });
    }
    if stack.len() > MAX_INCLUDE_DEPTH {
        return Err(PromptError::TooDeep { file: label.to_string(), include: include.to_string() });
    }
    let src = prompts
        .source(&rel)?
        .ok_or_else(|| PromptError::MissingInclude { file: label.to_string(), include: include.to_string() })?;
    stack.push(rel);
    let text = render_inner(&src.text, &src.label, vars, Some(prompts), stack);
    stack.pop();
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn substitutes_literally() {
        let v = vars(&[("A", "x{{B}}y"), ("B", "no")]);
        assert_eq!(render_str("<{{A}}>", "t", &v).unwrap(), "<x{{B}}y>");
    }

    #[test]
    fn errors_name_file_and_placeholder() {
        let v = vars(&[]);
        let e = render_str("hi {{MISSING}}", "t.md", &v).unwrap_err();
        assert_eq!(e.to_string(), "prompt t.md: placeholder {{MISSING}} has no value");
        assert!(matches!(render_str("a {{ b", "t", &v), Err(PromptError::Unclosed { at: 2, .. })));
        assert!(matches!(render_str("{{lower}}", "t", &v), Err(PromptError::Malformed { .. })));
        assert!(matches!(render_str("{{INCLUDE:x.md}}", "t", &v), Err(PromptError::Malformed { .. })));
    }

    #[test]
    fn include_names_are_checked() {
        assert!(valid_include("_common-contract.md"));
        assert!(valid_include("team/x.md"));
        assert!(!valid_include("../secret"));
        assert!(!valid_include("/etc/passwd"));
        assert!(!valid_include("a//b"));
    }

    #[test]
    fn builtin_files_render_with_includes() {
        let p = Prompts::builtin();
        let src = p.source("profiles/implementation.md").unwrap().unwrap();
        assert!(src.text.contains("{{INCLUDE:_common-contract.md}}"));
        assert!(p.source("profiles/nope.md").unwrap().is_none());
    }
}
