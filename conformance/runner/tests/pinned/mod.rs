//! The scaffolding of the pinned-outcome tests of the foreign rows
//! (`std_embedded_nal.rs`, `edge_nal_std.rs`, `embassy_net.rs`,
//! `edge_nal_embassy.rs`).
//!
//! A foreign stack does not keep every contract, so instead of
//! `conformance_tests!` (one test per case, which would fail for its known
//! findings) each of those files pins the **exact** outcome of every case in
//! both modes: one table of the cases that do not pass, compared here with a
//! full `run_backend`. A change in either direction — a regression, or a fix
//! upstream or in an adapter — fails the test; the table, the runner's table
//! and `docs/conformance.md` are then updated together.

use portnet_conformance::report::run_backend;
use portnet_conformance::{Capability, Harness, Outcome, cases};

/// What a case that does not pass ends as, in both modes alike.
#[derive(Debug)]
pub(crate) enum Expected {
    /// A failure whose reason contains the text.
    Fail(&'static str),
    /// A skip naming the capability.
    Skip(Capability),
    /// A pass, or a failure whose reason contains the text: the outcome depends
    /// on the machine, not on the stack.
    #[allow(
        dead_code,
        reason = "each test file compiles this module; not all pin such a case"
    )]
    HostDependent(&'static str),
    /// A pass in the plain mode, a failure whose reason contains the text in
    /// the adversarial one (`+chaos`).
    #[allow(
        dead_code,
        reason = "each test file compiles this module; not all pin such a case"
    )]
    FailsUnderChaos(&'static str),
}

/// Runs every case of `H` plainly and adversarially (as the runner does, as
/// row `name`), and checks that each case in `not_passing` ends as written
/// there and every other case passes; `passing` is the count of passing cases
/// `docs/conformance.md` states for the row.
pub(crate) fn check<H: Harness + Default>(
    name: &str,
    not_passing: &[(&str, Expected)],
    passing: usize,
) {
    let ids: Vec<_> = cases::all::<H>().into_iter().map(|c| c.id).collect();
    for (id, _) in not_passing {
        assert!(ids.contains(id), "unknown case {id}");
    }
    for (i, (id, _)) in not_passing.iter().enumerate() {
        assert!(
            !not_passing[..i].iter().any(|(other, _)| other == id),
            "case {id} pinned twice"
        );
    }
    let rows = run_backend::<H>(name, "");
    assert_eq!(rows.len(), 2 * cases::COUNT, "one row per case and mode");
    let mut unexpected = Vec::new();
    for row in &rows {
        let expected = not_passing.iter().find(|(id, _)| *id == row.case);
        let as_pinned = match (expected, &row.outcome) {
            (Some((_, Expected::Fail(reason))), Outcome::Fail(detail)) => {
                format!("{detail}").contains(reason)
            }
            (Some((_, Expected::Skip(capability))), Outcome::Skip(c)) => c == capability,
            (Some((_, Expected::HostDependent(_))), Outcome::Pass) => true,
            (Some((_, Expected::HostDependent(reason))), Outcome::Fail(detail)) => {
                format!("{detail}").contains(reason)
            }
            (Some((_, Expected::FailsUnderChaos(_))), Outcome::Pass) => {
                !row.backend.ends_with("+chaos")
            }
            (Some((_, Expected::FailsUnderChaos(reason))), Outcome::Fail(detail)) => {
                row.backend.ends_with("+chaos") && format!("{detail}").contains(reason)
            }
            (None, Outcome::Pass) => true,
            _ => false,
        };
        if !as_pinned {
            let pinned = expected.map_or("a pass".to_owned(), |(_, e)| format!("{e:?}"));
            unexpected.push(format!(
                "{} on {}: {} (pinned: {pinned})",
                row.case,
                row.backend,
                row.detail()
            ));
        }
    }
    assert!(
        unexpected.is_empty(),
        "cases that no longer end as pinned: {unexpected:#?}"
    );
    assert_eq!(
        ids.len() - not_passing.len(),
        passing,
        "the passing count in docs/conformance.md"
    );
}
