//! Rule family `malformed`: input the guard cannot judge with certainty is refused, never let
//! through — a command bash would refuse, hook input that does not parse, and values that are
//! only known at run time where they decide the verdict.

use super::RuleDef;
use crate::policy::Rule;

const WRITE_IT_OUT: &str =
    "write the name or value out literally (no variable, substitution or pattern in that place), or ask the user";

pub const RULES: &[RuleDef] = &[
    RuleDef {
        id: "malformed:syntax",
        rule: Rule::Malformed,
        what: "an unclosed quote or substitution, or syntax bash refuses",
        instead: "rewrite the command so every quote and substitution is closed",
    },
    RuleDef {
        id: "malformed:too-deep",
        rule: Rule::Malformed,
        what: "shells, substitutions or aliases nested too deeply to read",
        instead: "run the inner command directly",
    },
    RuleDef {
        id: "malformed:hook-input",
        rule: Rule::Malformed,
        what: "hook input that is not one of the hosts' JSON shapes",
        instead: "check the agent host's hook settings (`git okstra hooks status`)",
    },
    RuleDef {
        id: "malformed:empty",
        rule: Rule::Malformed,
        what: "no command at all (an empty argument or empty stdin)",
        instead: "pass the command as an argument, or the host's hook JSON on stdin",
    },
    RuleDef {
        id: "malformed:too-long",
        rule: Rule::Malformed,
        what: "input over 4 MiB (only part of it could be judged)",
        instead: "run a shorter command; put long data in a file",
    },
    RuleDef {
        id: "malformed:run-time-value",
        rule: Rule::Malformed,
        what: "a value only known at run time where it decides the verdict (`git push origin \"$REF\"`, `$CMD`, `--no-verif[y]`)",
        instead: WRITE_IT_OUT,
    },
    RuleDef {
        id: "malformed:alias-loop",
        rule: Rule::Malformed,
        what: "a git alias that expands into itself (git refuses it too)",
        instead: "fix the alias, or run the git command it stands for",
    },
];
