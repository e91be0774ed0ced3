//! portnet's lwIP backend vs its smoltcp backend, side by side in one run: the
//! same bulk transfer on the same in-memory link of `portnet-links` (through the
//! conformance suite's harnesses, as `stacks` does: the stack under test at
//! 10.0.0.1 sends to a smoltcp peer at 10.0.0.2, the same peer for both), in
//! instructions (callgrind, exact) and in wall time; RAM per TCP socket; and the
//! code size of the same TCP-client firmware on each (`bench/size`).
//!
//! "ours" is lwIP, "peer" is smoltcp, the backend users would pick instead; a
//! ratio > 1 means lwIP is better.

use std::io;

use portnet_conformance_runner::lwip::MemoryHarness as LwipHarness;
use portnet_conformance_runner::smoltcp::MemoryHarness as SmoltcpHarness;

use crate::stacks::bulk;
use crate::{Row, median, mqtt, size};

/// Bytes of each callgrind run (a run of none is the baseline).
const CPU_BYTES: usize = 4 << 20;

/// Child mode (`--callgrind-child lwip-bulk|smoltcp-bulk - N`): one bulk
/// transfer of `n` bytes, under callgrind.
pub(crate) fn workload(workload: &str, n: usize) -> io::Result<()> {
    match workload {
        "lwip-bulk" => bulk(&LwipHarness::default(), n).map(drop),
        "smoltcp-bulk" => bulk(&SmoltcpHarness::default(), n).map(drop),
        other => Err(mqtt::err(format!("unknown workload {other}"))),
    }
}

/// Instructions per MiB of `workload`: a run of `CPU_BYTES` minus a run of none.
fn per_mib(workload: &str) -> io::Result<f64> {
    let full = mqtt::count(workload, "-", CPU_BYTES)?;
    let base = mqtt::count(workload, "-", 0)?;
    Ok(full.saturating_sub(base) as f64 / (CPU_BYTES as f64 / f64::from(1 << 20)))
}

pub(crate) fn run(bytes: usize, repeats: usize) -> io::Result<Vec<Row>> {
    let (ours, peer) = crate::abba(
        repeats,
        || Ok(bulk(&LwipHarness::default(), bytes)?.as_secs_f64()),
        || Ok(bulk(&SmoltcpHarness::default(), bytes)?.as_secs_f64()),
    )?;
    let mib = bytes as f64 / f64::from(1 << 20);
    let (o, p) = (mib / median(ours), mib / median(peer));
    let (i_o, i_p) = (per_mib("lwip-bulk")?, per_mib("smoltcp-bulk")?);
    let (ram_o, ram_p) = (
        portnet_lwip::tcp_socket_ram() as f64,
        crate::stacks::portnet_socket_ram() as f64,
    );
    let [tcp_lwip, tcp_smoltcp] = size::built(&["tcp_lwip", "tcp_portnet"])?[..] else {
        return Err(io::Error::other("missing skeleton"));
    };
    let row = |name, ours: f64, peer: f64, unit, ratio| Row {
        name,
        ours,
        peer,
        unit,
        ratio,
    };
    Ok(vec![
        row(
            "tcp bulk, in-memory link (wall): portnet-lwip vs portnet-smoltcp",
            o,
            p,
            "MiB/s",
            o / p,
        ),
        row(
            "tcp bulk, in-memory link instructions (callgrind): lwip vs smoltcp",
            i_o,
            i_p,
            "instr/MiB",
            i_p / i_o,
        ),
        row(
            "RAM per TCP socket without buffers (x86_64): portnet-lwip vs portnet-smoltcp",
            ram_o,
            ram_p,
            "bytes",
            ram_p / ram_o,
        ),
        row(
            "size: TCP-client firmware .text+.rodata: portnet-lwip vs portnet-smoltcp",
            tcp_lwip.code as f64,
            tcp_smoltcp.code as f64,
            "bytes",
            tcp_smoltcp.code as f64 / tcp_lwip.code as f64,
        ),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn lwip_socket_ram_counts_the_pcb_and_the_handle() {
        let ram = portnet_lwip::tcp_socket_ram();
        println!("portnet-lwip: {ram} bytes per TCP socket");
        // lwIP's tcp_pcb alone is well over 100 bytes on a 64-bit host.
        assert!(ram > 100 + size_of::<usize>(), "{ram}");
    }

    #[test]
    fn both_workloads_move_their_bytes() {
        super::workload("lwip-bulk", 64 << 10).unwrap();
        super::workload("smoltcp-bulk", 64 << 10).unwrap();
        assert!(super::workload("nothing", 1).is_err());
    }
}
