//! The runner's results: rows, the case × backend table, and the JSON report.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use std::println;

use crate::test_support::seed_for;
use crate::{Harness, Mode, Outcome, cases};

/// The outcome of one case on one backend in one mode.
#[derive(Debug, Clone)]
pub struct Row {
    /// The backend's name; adversarial runs add `+chaos`.
    pub backend: String,
    /// The case id.
    pub case: &'static str,
    /// What happened.
    pub outcome: Outcome,
    /// For adversarial runs, the seed.
    pub seed: Option<u64>,
}

impl Row {
    /// The failure reason or the missing capability; empty on a pass.
    pub fn detail(&self) -> String {
        match &self.outcome {
            Outcome::Pass => String::new(),
            Outcome::Fail(detail) => match self.seed {
                Some(seed) => format!("{detail} (seed {seed}; replay with PORTNET_SEED={seed})"),
                None => format!("{detail}"),
            },
            Outcome::Skip(capability) => format!("missing capability: {capability}"),
        }
    }
}

/// Runs every case whose id contains `filter` (all for `""`) on a fresh `H` per
/// case, plainly and adversarially: the rows of `backend`, named `backend` and
/// `backend+chaos`, ready for [`print_table`] and [`to_json`].
pub fn run_backend<H: Harness + Default>(backend: &str, filter: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for case in cases::all::<H>() {
        if !case.id.contains(filter) {
            continue;
        }
        for adversarial in [false, true] {
            let seed = adversarial.then(|| seed_for(case.id));
            let mode = seed.map_or(Mode::Plain, |seed| Mode::Adversarial { seed });
            // A panicking case (a bug in the stack, or a stalled simulation) is
            // that case's failure, not the end of the run.
            let outcome = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
                let harness = H::default();
                (case.run)(&harness, mode)
            }))
            .unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| String::from(*s))
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Outcome::Fail(crate::Detail::from_args(format_args!(
                    "panicked: {message}"
                )))
            });
            let suffix = if adversarial { "+chaos" } else { "" };
            rows.push(Row {
                backend: format!("{backend}{suffix}"),
                case: case.id,
                outcome,
                seed,
            });
        }
    }
    rows
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The JSON report: `{"results":[{"backend","case","outcome","detail"}, …]}`.
pub fn to_json(rows: &[Row]) -> String {
    let mut out = String::from("{\"results\":[");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("\n  {\"backend\":");
        json_string(&mut out, &row.backend);
        out.push_str(",\"case\":");
        json_string(&mut out, row.case);
        out.push_str(",\"outcome\":");
        json_string(&mut out, row.outcome.as_str());
        out.push_str(",\"detail\":");
        json_string(&mut out, &row.detail());
        out.push('}');
    }
    out.push_str("\n]}\n");
    out
}

/// Prints the case × backend table with totals, then every failure's detail.
pub fn print_table(rows: &[Row]) {
    let mut backends: Vec<&str> = Vec::new();
    let mut case_ids: Vec<&str> = Vec::new();
    for row in rows {
        if !backends.contains(&row.backend.as_str()) {
            backends.push(&row.backend);
        }
        if !case_ids.contains(&row.case) {
            case_ids.push(row.case);
        }
    }
    let case_width = case_ids.iter().map(|c| c.len()).max().unwrap_or(4).max(5);
    let widths: Vec<usize> = backends.iter().map(|b| b.len().max(4)).collect();
    let mut line = format!("{:case_width$}", "case");
    for (b, w) in backends.iter().zip(&widths) {
        line.push_str(&format!("  {b:>w$}"));
    }
    println!("{line}");
    println!("{}", "-".repeat(line.len()));
    for case in &case_ids {
        let mut line = format!("{case:case_width$}");
        for (b, w) in backends.iter().zip(&widths) {
            let cell = rows
                .iter()
                .find(|r| r.case == *case && r.backend == *b)
                .map_or("-", |r| match r.outcome {
                    Outcome::Pass => "pass",
                    Outcome::Fail(_) => "FAIL",
                    Outcome::Skip(_) => "skip",
                });
            line.push_str(&format!("  {cell:>w$}"));
        }
        println!("{line}");
    }
    println!("{}", "-".repeat(line.len()));
    for (kind, label) in [("pass", "passed"), ("fail", "failed"), ("skip", "skipped")] {
        let mut line = format!("{label:case_width$}");
        for (b, w) in backends.iter().zip(&widths) {
            let n = rows
                .iter()
                .filter(|r| r.backend == *b && r.outcome.as_str() == kind)
                .count();
            line.push_str(&format!("  {n:>w$}"));
        }
        println!("{line}");
    }
    let failures: Vec<&Row> = rows.iter().filter(|r| r.outcome.is_fail()).collect();
    if !failures.is_empty() {
        println!("\nfailures:");
        for row in failures {
            println!("  {} on {}: {}", row.case, row.backend, row.detail());
            if let Some(rule) = cases::rule(row.case) {
                println!("    rule: {rule}");
            }
        }
    }
    let skips: Vec<&Row> = rows
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Skip(_)))
        .collect();
    if !skips.is_empty() {
        println!("\nskips:");
        for row in skips {
            println!("  {} on {}: {}", row.case, row.backend, row.detail());
        }
    }
}
