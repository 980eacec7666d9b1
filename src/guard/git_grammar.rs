//! git's option grammar: short clusters (`-am msg`), `--long[=value]`, `--`, and the
//! `--no-verify`/`--verify` pair.

/// One parsed option or operand of a git subcommand.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Arg<'a> {
    Short(char),
    Long(&'a str, Option<&'a str>),
    Operand(&'a str),
}

/// Parse git-style options: short clusters (`-am msg`), `--long[=value]`, `--`.
/// `short_value`: short options whose value is the rest of the cluster or the next word;
/// `short_attached`: short options whose optional value can only be attached;
/// `long_value`: long options that take the next word when no `=` is given.
pub(crate) fn git_args<'a>(
    args: &'a [String],
    short_value: &str,
    short_attached: &str,
    long_value: &[&str],
) -> Vec<Arg<'a>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;
        if a == "--" {
            out.extend(args[i..].iter().map(|s| Arg::Operand(s.as_str())));
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => out.push(Arg::Long(n, Some(v))),
                None if long_value.contains(&long) => {
                    out.push(Arg::Long(long, args.get(i).map(String::as_str)));
                    i += 1;
                }
                None => out.push(Arg::Long(long, None)),
            }
        } else if a.len() > 1 && a.starts_with('-') {
            for (k, c) in a[1..].char_indices() {
                out.push(Arg::Short(c));
                if short_attached.contains(c) {
                    break;
                }
                if short_value.contains(c) {
                    if k + c.len_utf8() == a.len() - 1 {
                        i += 1; // value is the next word
                    }
                    break;
                }
            }
        } else {
            out.push(Arg::Operand(a));
        }
    }
    out
}

/// `--no-verify`, as git also accepts it abbreviated (`--no-verif`, `--no-veri`).
pub(crate) fn is_no_verify(name: &str) -> bool {
    name.len() >= "no-veri".len() && "no-verify".starts_with(name)
}

pub(crate) fn is_verify(name: &str) -> bool {
    name.len() >= "veri".len() && "verify".starts_with(name)
}

/// Whether the options ask to skip hooks; the last of `--no-verify`/`--verify` wins.
pub(crate) fn skips_hooks(parsed: &[Arg], short_n_is_no_verify: bool) -> bool {
    let mut skip = false;
    for a in parsed {
        match a {
            Arg::Short('n') if short_n_is_no_verify => skip = true,
            Arg::Long(n, _) if is_no_verify(n) => skip = true,
            Arg::Long(n, _) if is_verify(n) => skip = false,
            _ => {}
        }
    }
    skip
}
