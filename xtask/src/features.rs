//! Step `features`: each crate's documented minimal feature sets build, and the feature
//! sets that make no sense fail early with the crate's own `compile_error!` message
//! rather than deep inside a dependency.

use std::process::Command;

use crate::matrix;
use crate::{command_line, in_ci, run};

pub(crate) fn check() -> Result<(), String> {
    let packages = matrix::packages()?;
    let gaps = matrix::gaps(&packages);
    if !gaps.is_empty() {
        return Err(gaps.join("\n"));
    }
    for (krate, m) in packages
        .into_iter()
        .filter_map(|p| Some((p.name, p.matrix?)))
    {
        for set in &m.minimal {
            run(
                "cargo",
                &check_args(&krate, &set.features, set.target.as_deref()),
                &[],
            )?;
        }
        for impossible in &m.impossible {
            let args = check_args(&krate, &impossible.features, impossible.target.as_deref());
            let line = command_line("cargo", &args, &[]);
            eprintln!("$ {line}   (must fail: {:?})", impossible.message);
            let mut command = Command::new("cargo");
            command.args(&args);
            if in_ci() {
                command.env("CARGO_TERM_COLOR", "never");
            }
            let out = command
                .output()
                .map_err(|e| format!("cannot run cargo: {e}"))?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            if out.status.success() {
                return Err(format!(
                    "`{line}` built, but its feature set makes no sense"
                ));
            }
            first_error_is(&stderr, &impossible.message)
                .map_err(|why| format!("`{line}`: {why}; its output:\n{stderr}"))?;
        }
    }
    Ok(())
}

fn check_args<'a>(krate: &'a str, features: &'a str, target: Option<&'a str>) -> Vec<&'a str> {
    let mut args = vec!["check", "-q", "-p", krate, "--no-default-features"];
    if !features.is_empty() {
        args.extend(["--features", features]);
    }
    if let Some(target) = target {
        args.extend(["--target", target]);
    }
    args
}

/// Whether the first error cargo printed carries `message`: the explanation must come
/// before the errors that follow from it, or nobody reads it.
fn first_error_is(stderr: &str, message: &str) -> Result<(), String> {
    let first = stderr
        .lines()
        .find(|line| line.starts_with("error"))
        .ok_or("no error at all")?;
    if first.contains(message) {
        Ok(())
    } else {
        Err(format!("the first error is not {message:?} but {first:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_explanation_must_come_first() {
        let good = "   Compiling x\nerror: x needs a socket kind: enable `tcp`\n\
                    error[E0432]: unresolved import\n";
        assert!(first_error_is(good, "needs a socket kind").is_ok());
        let deep = "error: If you enable the socket feature, you must…\n\
                    error: x needs a socket kind\n";
        assert!(first_error_is(deep, "needs a socket kind").is_err());
        assert!(first_error_is("warning: unused\n", "needs a socket kind").is_err());
    }

    #[test]
    fn builds_check_command_lines() {
        assert_eq!(
            check_args("a", "", Some("thumbv7m-none-eabi")),
            [
                "check",
                "-q",
                "-p",
                "a",
                "--no-default-features",
                "--target",
                "thumbv7m-none-eabi"
            ]
        );
        assert_eq!(
            check_args("a", "x,y", None),
            [
                "check",
                "-q",
                "-p",
                "a",
                "--no-default-features",
                "--features",
                "x,y"
            ]
        );
    }
}
