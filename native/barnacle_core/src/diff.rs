//! The membership diff: given what discovery found, what is connected and
//! what this cluster process connected itself, decide what to connect and
//! what to disconnect.
//!
//! The rules users rely on:
//! - discovered names are validated and written canonically; invalid ones
//!   are reported, never acted on;
//! - the node itself is never connected to or disconnected from;
//! - only nodes this cluster process owns (connected itself) are ever
//!   disconnected, only with `prune`, and only when a successful discovery
//!   no longer lists them (the caller never calls this on a failed one);
//! - at most `max_nodes` distinct names are wanted; the rest are counted.

use crate::name::{canonical, NameError};
use std::collections::HashSet;

/// Invalid names reported back, at most; the rest are only counted.
pub const MAX_REPORTED_INVALID: usize = 32;

/// What a pass knows before it acts. Names are any string type (`String`
/// in tests, borrowed `Cow<str>` straight from the NIF's binaries).
#[derive(Debug, Clone, Default)]
pub struct DiffInput<S> {
    /// Names the strategy discovered, as given (possibly invalid).
    pub discovered: Vec<S>,
    /// Names currently connected.
    pub connected: Vec<S>,
    /// Names this cluster process connected itself.
    pub owned: Vec<S>,
    /// This node's own name.
    pub self_name: S,
    /// Whether owned nodes that are no longer discovered are disconnected.
    pub prune: bool,
    /// Most distinct wanted names.
    pub max_nodes: usize,
}

/// What a pass should do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffOutput {
    /// Valid, distinct, canonical discovered names other than the node itself.
    pub wanted: Vec<String>,
    /// Wanted names not connected yet.
    pub connect: Vec<String>,
    /// Owned, connected names no longer wanted (empty unless `prune`).
    pub disconnect: Vec<String>,
    /// Up to [`MAX_REPORTED_INVALID`] rejected names with the reason.
    pub invalid: Vec<(String, NameError)>,
    /// How many names were rejected in all.
    pub invalid_count: usize,
    /// How many valid names were dropped because of `max_nodes`.
    pub over_limit: usize,
}

/// Computes the diff. Output lists keep the order of the inputs.
pub fn diff<S: AsRef<str>>(input: &DiffInput<S>) -> DiffOutput {
    let mut out = DiffOutput::default();
    let raw_self = input.self_name.as_ref();
    let self_name = canonical(raw_self).unwrap_or_else(|_| raw_self.to_owned());
    let mut seen: HashSet<String> = HashSet::with_capacity(input.discovered.len().min(input.max_nodes));
    for raw in &input.discovered {
        let raw = raw.as_ref();
        match canonical(raw) {
            Ok(name) => {
                if name == self_name || seen.contains(&name) {
                    continue;
                }
                if out.wanted.len() == input.max_nodes {
                    out.over_limit += 1;
                    continue;
                }
                seen.insert(name.clone());
                out.wanted.push(name);
            }
            Err(e) => {
                out.invalid_count += 1;
                if out.invalid.len() < MAX_REPORTED_INVALID {
                    // Keep reports short whatever the input held.
                    let shown: String = raw.chars().take(64).collect();
                    out.invalid.push((shown, e));
                }
            }
        }
    }
    let connected: HashSet<&str> = input.connected.iter().map(AsRef::as_ref).collect();
    out.connect = out
        .wanted
        .iter()
        .filter(|n| !connected.contains(n.as_str()))
        .cloned()
        .collect();
    if input.prune {
        let mut done = HashSet::new();
        out.disconnect = input
            .owned
            .iter()
            .map(AsRef::as_ref)
            .filter(|n: &&str| {
                connected.contains(n) && !seen.contains(*n) && *n != self_name && done.insert(*n)
            })
            .map(str::to_owned)
            .collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn input(disc: &[&str], conn: &[&str], owned: &[&str], prune: bool) -> DiffInput<String> {
        DiffInput {
            discovered: s(disc),
            connected: s(conn),
            owned: s(owned),
            self_name: "me@h".into(),
            prune,
            max_nodes: 100,
        }
    }

    #[test]
    fn connects_missing_and_skips_self() {
        let out = diff(&input(&["a@h", "me@h", "b@h", "a@h"], &["b@h"], &[], false));
        assert_eq!(out.wanted, s(&["a@h", "b@h"]));
        assert_eq!(out.connect, s(&["a@h"]));
        assert!(out.disconnect.is_empty());
    }

    #[test]
    fn prunes_only_owned_and_only_with_prune() {
        let conn = ["a@h", "user@h", "gone@h"];
        let owned = ["a@h", "gone@h", "notconnected@h"];
        let out = diff(&input(&["a@h"], &conn, &owned, true));
        assert_eq!(out.disconnect, s(&["gone@h"]));
        let out = diff(&input(&["a@h"], &conn, &owned, false));
        assert!(out.disconnect.is_empty());
    }

    #[test]
    fn never_disconnects_self_even_if_owned() {
        let out = diff(&input(&[], &["me@h"], &["me@h"], true));
        assert!(out.disconnect.is_empty());
    }

    #[test]
    fn empty_discovery_with_prune_drops_owned() {
        // A successful discovery that lists nothing prunes what we own; a
        // failed one never reaches this function.
        let out = diff(&input(&[], &["a@h", "b@h"], &["a@h"], true));
        assert_eq!(out.disconnect, s(&["a@h"]));
    }

    #[test]
    fn canonicalises_and_reports_invalid() {
        let out = diff(&input(&["x@FD00::1", "bad", "x@fd00::1", "y@h!"], &[], &[], false));
        assert_eq!(out.wanted, s(&["x@fd00::1"]));
        assert_eq!(
            out.invalid,
            vec![("bad".into(), NameError::NoAt), ("y@h!".into(), NameError::BadHost)]
        );
        assert_eq!(out.invalid_count, 2);
    }

    #[test]
    fn bounds_wanted_and_reports() {
        let disc: Vec<String> = (0..50).map(|i| format!("n{i}@h")).collect();
        let bad: Vec<String> = (0..100).map(|i| format!("bad{i}")).collect();
        let mut all = disc.clone();
        all.extend(bad);
        let out = diff(&DiffInput {
            discovered: all,
            max_nodes: 10,
            self_name: "me@h".into(),
            ..Default::default()
        });
        assert_eq!(out.wanted.len(), 10);
        assert_eq!(out.over_limit, 40);
        assert_eq!(out.invalid.len(), MAX_REPORTED_INVALID);
        assert_eq!(out.invalid_count, 100);
    }

    #[test]
    fn large_inputs_are_linear() {
        let disc: Vec<String> = (0..100_000).map(|i| format!("n{i}@h")).collect();
        let conn: Vec<String> = (0..100_000).step_by(2).map(|i| format!("n{i}@h")).collect();
        let out = diff(&DiffInput {
            discovered: disc,
            connected: conn,
            self_name: "me@h".into(),
            max_nodes: 200_000,
            ..Default::default()
        });
        assert_eq!(out.connect.len(), 50_000);
    }
}
