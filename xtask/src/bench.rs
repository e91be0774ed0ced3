//! `cargo xtask bench`: each benchmark against its peer in the same run.

use crate::{qemu, run};

pub(crate) fn bench(quick: bool, json: Option<&str>) -> Result<(), String> {
    let mut args = vec!["run", "--release", "-p", "portnet-bench", "--"];
    if quick {
        args.push("--quick");
    }
    if let Some(file) = json {
        args.extend(["--json", file]);
    }
    run("cargo", &args, &[])?;
    bench_bare_metal(if quick { 2 } else { 6 }, json)
}

/// Bare metal: the 1 MiB echo in QEMU (mps2-an385, LAN9118), portnet's smoltcp
/// backend (`examples/echo.rs`) vs embassy-net (`examples/echo_embassy.rs`) on
/// the same board and driver, taking turns; prints the row and appends it to
/// the JSON file of `portnet-bench`.
fn bench_bare_metal(repeats: usize, json: Option<&str>) -> Result<(), String> {
    let ours_elf = qemu::build("echo")?;
    let peer_elf = qemu::build("echo_embassy")?;
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    for r in 0..repeats {
        if r % 2 == 0 {
            ours.push(qemu::echo_rate(&ours_elf)?);
            peer.push(qemu::echo_rate(&peer_elf)?);
        } else {
            peer.push(qemu::echo_rate(&peer_elf)?);
            ours.push(qemu::echo_rate(&ours_elf)?);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (o, p) = (median(ours), median(peer));
    let name = "bare metal: 1 MiB echo in QEMU mps2-an385: portnet-smoltcp vs embassy-net";
    println!(
        "{name:66} {o:>12.2} {p:>12.2} {:>14} {:>7.3}",
        "MiB/s",
        o / p
    );
    if let Some(file) = json {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
        let body = text
            .trim_end()
            .strip_suffix(']')
            .ok_or_else(|| format!("{file}: not a JSON array"))?
            .trim_end();
        let row = format!(
            "{{\"name\":\"{name}\",\"ours\":{o:.3},\"peer\":{p:.3},\"unit\":\"MiB/s\",\"ratio\":{:.4}}}",
            o / p
        );
        let sep = if body.ends_with('[') { "\n  " } else { ",\n  " };
        std::fs::write(file, format!("{body}{sep}{row}\n]\n"))
            .map_err(|e| format!("{file}: {e}"))?;
    }
    Ok(())
}
