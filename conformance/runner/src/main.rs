//! The conformance runner: the suite against every hosted backend, as a table and
//! a JSON report. Exit status 1 when any case fails on one of portnet's own
//! backends (a foreign stack's failures are reported, not gating).
//!
//! ```text
//! cargo run --release -p portnet-conformance-runner [-- [--backend NAME] [--case TEXT] [--json FILE] [--list]]
//! ```

use std::process::ExitCode;

use portnet_conformance::report::{print_table, to_json};
use portnet_conformance_runner::hosted::TokioHarness;
use portnet_conformance_runner::rows::ROWS;

struct Args {
    backend: Option<String>,
    case: String,
    json: Option<String>,
    list: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        backend: None,
        case: String::new(),
        json: None,
        list: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--backend" => args.backend = Some(value("--backend")?),
            "--case" => args.case = value("--case")?,
            "--json" => args.json = Some(value("--json")?),
            "--list" => args.list = true,
            "-h" | "--help" => {
                return Err(String::from(
                    "usage: portnet-conformance [--backend NAME] [--case TEXT] [--json FILE] [--list]",
                ));
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    if args.list {
        for case in portnet_conformance::cases::all::<TokioHarness>() {
            println!("{:40} {}", case.id, case.rule);
        }
        return ExitCode::SUCCESS;
    }
    let named: Vec<_> = ROWS
        .iter()
        .filter(|b| args.backend.as_deref().is_none_or(|name| b.name == name))
        .collect();
    if named.is_empty() {
        let names: Vec<_> = ROWS.iter().map(|b| b.name).collect();
        eprintln!(
            "no backend named {:?}; known: {}",
            args.backend.unwrap_or_default(),
            names.join(", ")
        );
        return ExitCode::from(2);
    }
    let selected = named.into_iter().filter(|b| match (b.available)() {
        Ok(()) => true,
        Err(reason) => {
            eprintln!("{}: skipped, this machine cannot run it: {reason}", b.name);
            false
        }
    });
    let mut rows = Vec::new();
    let mut gating_failure = false;
    for backend in selected {
        eprintln!("running the suite on {} …", backend.name);
        for row in (backend.run)(backend.name, &args.case) {
            gating_failure |= !backend.foreign && row.outcome.is_fail();
            rows.push(row);
        }
    }
    print_table(&rows);
    if let Some(path) = &args.json {
        if let Err(e) = std::fs::write(path, to_json(&rows)) {
            eprintln!("cannot write {path}: {e}");
            return ExitCode::from(2);
        }
        eprintln!("wrote {path}");
    }
    if gating_failure {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
