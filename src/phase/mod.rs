//! The lifecycle phases, in order (DESIGN §5). Kebab-case names everywhere: CLI, registry, files.
//!
//! Also the phase machinery: runs and their folders ([`runs`]), the gates' document checks
//! ([`gates`]), the prompt renderer ([`prompt`]), the agent executors ([`executor`]), the
//! phase run itself ([`lifecycle`]), detached agents' tmux sessions ([`session`]) and what
//! the runs are doing now ([`status`]).

pub mod current;
pub mod executor;
pub mod gates;
pub mod lifecycle;
pub mod plan;
pub mod prompt;
pub mod runs;
pub mod session;
pub mod status;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    RequirementsDiscovery,
    ErrorAnalysis,
    ImplementationPlanning,
    Implementation,
    FinalVerification,
    ReleaseHandoff,
}

impl Phase {
    pub const ALL: [Phase; 6] = [
        Phase::RequirementsDiscovery,
        Phase::ErrorAnalysis,
        Phase::ImplementationPlanning,
        Phase::Implementation,
        Phase::FinalVerification,
        Phase::ReleaseHandoff,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::RequirementsDiscovery => "requirements-discovery",
            Phase::ErrorAnalysis => "error-analysis",
            Phase::ImplementationPlanning => "implementation-planning",
            Phase::Implementation => "implementation",
            Phase::FinalVerification => "final-verification",
            Phase::ReleaseHandoff => "release-handoff",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown phase '{}'", .0.escape_debug())]
pub struct UnknownPhase(pub String);

impl FromStr for Phase {
    type Err = UnknownPhase;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| UnknownPhase(s.to_string()))
    }
}

impl From<UnknownPhase> for crate::error::Error {
    fn from(e: UnknownPhase) -> Self {
        let names: Vec<&str> = Phase::ALL.iter().map(|p| p.name()).collect();
        crate::error::Error::usage(e.to_string()).hint(format!("phases: {}", names.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Phase::ALL {
            assert_eq!(p.name().parse::<Phase>(), Ok(p));
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{}\"", p.name()));
        }
        assert!("implement".parse::<Phase>().is_err());
    }
}
