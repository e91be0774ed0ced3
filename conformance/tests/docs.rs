//! docs/conformance.md lists every case with its rule, so the documentation cannot
//! fall behind the suite.

use portnet_conformance::cases;
use portnet_conformance::hosted::TokioHarness;

#[test]
fn every_case_is_documented_with_its_rule() {
    let docs = include_str!("../../docs/conformance.md");
    for case in cases::all::<TokioHarness>() {
        let row = format!("| `{}` | {} |", case.id, case.rule);
        assert!(
            docs.contains(&row),
            "docs/conformance.md lacks the row:\n{row}"
        );
    }
}

#[test]
fn case_ids_are_unique_and_dotted() {
    let all = cases::all::<TokioHarness>();
    assert!(all.len() >= 30, "the suite has {} cases", all.len());
    for (i, case) in all.iter().enumerate() {
        assert!(case.id.contains('.'), "{} is not a dotted id", case.id);
        assert!(
            case.id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_'),
            "{} has characters outside [a-z0-9._]",
            case.id
        );
        assert!(
            all[..i].iter().all(|other| other.id != case.id),
            "{} appears twice",
            case.id
        );
    }
}
