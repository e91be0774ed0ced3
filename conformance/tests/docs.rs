//! docs/conformance.md lists every case with its rule, so the documentation cannot
//! fall behind the suite.

use portnet_conformance::cases;
mod tokio_harness;
use tokio_harness::TokioHarness;

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

/// The trait crate's sources, whose "must" rules cite the cases that check them.
const TRAIT_SOURCES: [(&str, &str); 11] = [
    ("buf.rs", include_str!("../../traits/src/buf.rs")),
    ("dns.rs", include_str!("../../traits/src/dns.rs")),
    ("error.rs", include_str!("../../traits/src/error.rs")),
    ("future.rs", include_str!("../../traits/src/future.rs")),
    ("io.rs", include_str!("../../traits/src/io.rs")),
    ("lib.rs", include_str!("../../traits/src/lib.rs")),
    ("options.rs", include_str!("../../traits/src/options.rs")),
    ("send.rs", include_str!("../../traits/src/send.rs")),
    ("tcp.rs", include_str!("../../traits/src/tcp.rs")),
    ("time.rs", include_str!("../../traits/src/time.rs")),
    ("udp.rs", include_str!("../../traits/src/udp.rs")),
];

/// "must"s about the caller's code, not the stack's: not rules a case could check.
const CALLER_MUSTS: [&str; 2] = ["must be `Send`", "must also run"];

/// A rule of the trait docs: a bullet, or a paragraph, of a `///` comment that
/// says "must" (outside the `# Cancel safety` sections, which state guarantees of
/// the helpers, not duties of a stack, and apart from [`CALLER_MUSTS`]). Returns
/// (file, first line, text).
fn must_rules() -> Vec<(&'static str, usize, String)> {
    let mut rules = Vec::new();
    for (file, source) in TRAIT_SOURCES {
        let mut unit: Option<(usize, String)> = None;
        let mut section = String::new();
        let mut flush = |unit: &mut Option<(usize, String)>, section: &str| {
            if let Some((line, text)) = unit.take()
                && section != "# Cancel safety"
                && !CALLER_MUSTS.iter().any(|phrase| text.contains(phrase))
                && text
                    .split(|c: char| !c.is_ascii_alphabetic())
                    .any(|word| word == "must")
            {
                rules.push((file, line, text));
            }
        };
        for (i, line) in source.lines().enumerate() {
            let Some(doc) = line.trim_start().strip_prefix("///") else {
                flush(&mut unit, &section);
                section.clear();
                continue;
            };
            let doc = doc.strip_prefix(' ').unwrap_or(doc);
            if doc.trim().is_empty() || doc.starts_with("```") {
                flush(&mut unit, &section);
            } else if doc.starts_with('#') {
                flush(&mut unit, &section);
                section = doc.trim().to_string();
            } else if let Some(bullet) = doc.strip_prefix("- ") {
                flush(&mut unit, &section);
                unit = Some((i + 1, bullet.to_string()));
            } else if let Some((_, text)) = unit.as_mut() {
                text.push(' ');
                text.push_str(doc.trim());
            } else {
                unit = Some((i + 1, doc.to_string()));
            }
        }
        flush(&mut unit, &section);
    }
    rules
}

/// The case ids a rule cites: its text ends with `(case `id`)`, `(cases `a`,
/// `b`)` or `(no case …)`; `None` when it ends with neither.
fn citation(text: &str) -> Option<Vec<&str>> {
    let text = text.trim_end();
    let open = text.rfind('(')?;
    let cite = text[open..].strip_suffix(')').or_else(|| {
        text[open..]
            .strip_suffix(").")
            .or_else(|| text[open..].strip_suffix(");"))
    })?;
    if cite.starts_with("(no case") {
        return Some(Vec::new());
    }
    let ids = cite
        .strip_prefix("(cases ")
        .or_else(|| cite.strip_prefix("(case "))?;
    // What follows a `;` says what no case checks.
    let ids = ids.split(';').next().unwrap_or(ids);
    Some(
        ids.split(',')
            .map(|id| id.trim().trim_matches('`'))
            .collect(),
    )
}

#[test]
fn every_must_of_the_traits_cites_a_case_or_says_none_can() {
    let ids: Vec<&str> = cases::all::<TokioHarness>().iter().map(|c| c.id).collect();
    let rules = must_rules();
    assert!(rules.len() >= 30, "found only {} rules", rules.len());
    // The citation parser reads a cited id.
    assert_eq!(
        citation("a stack must do it (case `clock.sleep`)."),
        Some(vec!["clock.sleep"])
    );
    let mut problems = Vec::new();
    for (file, line, text) in &rules {
        match citation(text) {
            None => problems.push(format!(
                "traits/src/{file}:{line}: a \"must\" without `(case `id`)` or `(no case …)` at its end: {text}"
            )),
            Some(cited) => {
                for id in cited {
                    if !ids.contains(&id) {
                        problems.push(format!(
                            "traits/src/{file}:{line}: cites `{id}`, which is not a case"
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_parts_of_the_suite_hold_every_case_once_in_its_place() {
    let all = cases::all::<TokioHarness>();
    let parts = [
        cases::part::<TokioHarness, 0, 3>(),
        cases::part::<TokioHarness, 1, 3>(),
        cases::part::<TokioHarness, 2, 3>(),
    ];
    for (i, case) in all.iter().enumerate() {
        let holders: Vec<usize> = (0..3)
            .filter(|&p| parts[p][i].is_some_and(|c| c.id == case.id))
            .collect();
        assert_eq!(
            holders,
            vec![i % 3],
            "{} is held by parts {holders:?}",
            case.id
        );
    }
    assert!(
        cases::part::<TokioHarness, 3, 3>()
            .iter()
            .all(Option::is_none),
        "a part past the last holds nothing"
    );
    assert!(
        cases::part::<TokioHarness, 0, 0>()
            .iter()
            .all(Option::is_none),
        "no parts hold nothing"
    );
}
