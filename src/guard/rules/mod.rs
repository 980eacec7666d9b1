//! The rule families, one file each, each a table of [`RuleDef`]s and the small functions
//! that apply them: [`push`], [`hooks`] (commit and hook bypasses), [`discard`] (local work),
//! [`publish`], [`self_protect`] (the guard's own config, hooks, host settings and override),
//! [`unreadable`] (what cannot be judged with certainty is refused), and [`contract`] (the
//! task contract: `phase`, `other-task`, `user-only`).
//!
//! A rule's id (`discard:reset-hard`) is stable: the block message, the audit log, the case
//! files under `tests/guard-cases/` and `--explain` all name it. The part before `:` is the
//! policy rule (what `OKSTRA_ALLOW` and `okstra.guardAllow` name).

pub mod contract;
pub mod discard;
pub mod hooks;
pub mod publish;
pub mod push;
pub mod self_protect;
pub mod unreadable;

use crate::policy::{Rule, Violation};

/// One rule: its id, the policy rule it belongs to, what it refuses (for the docs and
/// `--explain`) and what to do instead (the end of every block message).
#[derive(Debug)]
pub struct RuleDef {
    pub id: &'static str,
    pub rule: Rule,
    pub what: &'static str,
    pub instead: &'static str,
}

/// The policy rules a user may lift for agents in their own config (`okstra.guardAllow`).
pub const USER_ALLOWABLE: &[&str] = &["discard"];

/// Every rule of every family.
pub fn all() -> impl Iterator<Item = &'static RuleDef> {
    [push::RULES, hooks::RULES, discard::RULES, publish::RULES, self_protect::RULES, unreadable::RULES, contract::RULES]
        .into_iter()
        .flatten()
}

/// The rule with this id (every id used in code is in a table: a test checks it).
pub fn def(id: &str) -> &'static RuleDef {
    all().find(|d| d.id == id).unwrap_or_else(|| panic!("rule id {id:?} is in no rule table"))
}

/// A refusal by the rule `id`.
pub fn block(id: &str, subject: &str, message: impl Into<String>) -> Violation {
    let d = def(id);
    Violation {
        rule: d.rule,
        id: d.id,
        subject: subject.to_string(),
        message: message.into(),
        fix: d.instead.to_string(),
        phase: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_named_after_their_rule() {
        let mut seen = std::collections::HashSet::new();
        for d in all() {
            assert!(seen.insert(d.id), "{} twice", d.id);
            let (family, name) = d.id.split_once(':').unwrap_or_else(|| panic!("{} has no `rule:` prefix", d.id));
            assert_eq!(family, d.rule.name(), "{}", d.id);
            assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{}", d.id);
            assert!(!d.instead.ends_with('.') && !d.what.is_empty(), "{}", d.id);
        }
    }

    /// Every id the code passes to [`block`] is in a table.
    #[test]
    fn every_id_in_the_code_is_in_a_table() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/guard");
        let mut files = vec![];
        for entry in walkdir(&dir) {
            files.push(std::fs::read_to_string(entry).unwrap());
        }
        let re = regex::Regex::new(r#"block\(\s*"([a-z-]+:[a-z-]+)""#).unwrap();
        let mut n = 0;
        for text in &files {
            for c in re.captures_iter(text) {
                n += 1;
                assert!(all().any(|d| d.id == &c[1]), "{} is used but in no table", &c[1]);
            }
        }
        assert!(n > 30, "found only {n} uses");
    }

    fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = vec![];
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walkdir(&p));
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
        out
    }
}
