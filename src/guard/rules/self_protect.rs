//! Rule family `override`/self-protect: an agent may not use the user's `OKSTRA_ALLOW`
//! override.

use super::super::violation;
use crate::policy::{Rule, Violation};

/// `OKSTRA_ALLOW=…` set for a command or exported.
pub(crate) fn assignment(assign: &str, subject: &str) -> Option<Violation> {
    let name = assign.split_once('=').map_or(assign, |(n, _)| n).trim_end_matches('+');
    (name == crate::config::ENV_ALLOW)
        .then(|| violation(Rule::Override, subject, "setting OKSTRA_ALLOW is the user's override, never an agent's"))
}

/// `export OKSTRA_ALLOW` (no value) exports a value set earlier: the same use.
pub(crate) fn export_name(name: &str, subject: &str) -> Option<Violation> {
    (name == crate::config::ENV_ALLOW)
        .then(|| violation(Rule::Override, subject, "exporting OKSTRA_ALLOW is the user's override, never an agent's"))
}
