//! git's hook input formats, parsed exactly. A line that does not fit is an error the caller
//! turns into a refusal: the policy never guesses about input it cannot read.

/// One `pre-push` stdin line: `<local ref> SP <local oid> SP <remote ref> SP <remote oid>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushLine {
    /// `(delete)` for a delete.
    pub local_ref: String,
    pub local_oid: String,
    pub remote_ref: String,
    /// All zeros for a new remote ref.
    pub remote_oid: String,
}

/// One `pre-receive` or `reference-transaction` stdin line: `<old oid> SP <new oid> SP <ref>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    pub old: String,
    pub new: String,
    pub name: String,
}

/// A line that does not follow the protocol (1-based line number and its text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub line: usize,
    pub text: String,
}

fn is_oid(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn is_ref(s: &str) -> bool {
    !s.is_empty() && !s.bytes().any(|b| b.is_ascii_control())
}

/// Lines of `input`, skipping none: git never sends blank lines, so a blank line is
/// malformed; only an empty input (nothing to do) and the final newline are normal.
fn lines(input: &str) -> impl Iterator<Item = (usize, &str)> {
    let body = input.strip_suffix('\n').unwrap_or(input);
    body.split('\n').enumerate().filter(move |_| !input.is_empty()).map(|(i, l)| (i + 1, l))
}

pub fn parse_pre_push(input: &str) -> Result<Vec<PushLine>, Malformed> {
    lines(input)
        .map(|(n, line)| {
            let f: Vec<&str> = line.split(' ').collect();
            let ok = f.len() == 4
                && (is_ref(f[0]))
                && is_oid(f[1])
                && is_ref(f[2])
                && is_oid(f[3])
                && f[1].len() == f[3].len();
            if !ok {
                return Err(Malformed { line: n, text: line.to_string() });
            }
            Ok(PushLine {
                local_ref: f[0].into(),
                local_oid: f[1].into(),
                remote_ref: f[2].into(),
                remote_oid: f[3].into(),
            })
        })
        .collect()
}

/// `pre-receive` and `reference-transaction` share this format.
pub fn parse_ref_updates(input: &str) -> Result<Vec<RefUpdate>, Malformed> {
    lines(input)
        .map(|(n, line)| {
            let f: Vec<&str> = line.splitn(3, ' ').collect();
            if f.len() != 3 || !is_oid(f[0]) || !is_oid(f[1]) || f[0].len() != f[1].len() || !is_ref(f[2]) {
                return Err(Malformed { line: n, text: line.to_string() });
            }
            Ok(RefUpdate { old: f[0].into(), new: f[1].into(), name: f[2].into() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const Z: &str = "0000000000000000000000000000000000000000";

    #[test]
    fn pre_push_lines() {
        assert_eq!(parse_pre_push(""), Ok(vec![]));
        let input = format!("refs/heads/x {A} refs/heads/x {Z}\n(delete) {Z} refs/heads/dev {A}\n");
        let lines = parse_pre_push(&input).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].local_ref, "(delete)");
        assert_eq!(lines[1].remote_ref, "refs/heads/dev");
        for bad in [
            format!("refs/heads/x {A} refs/heads/x\n"),
            format!("refs/heads/x {A} refs/heads/x {Z} extra\n"),
            format!("refs/heads/x {A}  refs/heads/x {Z}\n"),
            format!("refs/heads/x {} refs/heads/x {Z}\n", &A[..39]),
            format!("refs/heads/x ABCDEF{} refs/heads/x {Z}\n", &A[6..]),
            format!("refs/heads/x {A} refs/heads/x {Z}\n\n"),
            "\n".to_string(),
        ] {
            assert!(parse_pre_push(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ref_update_lines() {
        let u = parse_ref_updates(&format!("{Z} {A} refs/heads/main\n")).unwrap();
        assert_eq!(u, vec![RefUpdate { old: Z.into(), new: A.into(), name: "refs/heads/main".into() }]);
        assert!(parse_ref_updates(&format!("{Z} {A}\n")).is_err());
        assert!(parse_ref_updates(&format!("{Z} {A} \n")).is_err());
    }
}
