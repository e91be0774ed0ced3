//! The suite on the smoltcp backend against the Linux kernel over a TAP
//! device, in a network namespace the harness creates. Where this machine may
//! not create one, the test says so and passes without running a case. Every
//! case must pass, but for the three that need a DNS server, answering
//! (`dns-name`), silent (`dns-silent`) or played by the peer (`dns-server`).

#[cfg(target_os = "linux")]
#[test]
fn the_suite_passes_against_the_linux_kernel_over_tap() {
    use portnet_conformance_runner::tap::TapHarness;
    if let Err(reason) = TapHarness::available() {
        eprintln!("SKIPPED: smoltcp over TAP needs a network namespace: {reason}");
        return;
    }
    let rows = portnet_conformance::report::run_backend::<TapHarness>("smoltcp-tap", "");
    let failures: Vec<String> = rows
        .iter()
        // The stack in the namespace has no DNS server configured: the three
        // DNS capabilities are the ones this harness lacks.
        .filter(|row| {
            !matches!(
                row.outcome,
                portnet_conformance::Outcome::Pass
                    | portnet_conformance::Outcome::Skip(
                        portnet_conformance::Capability::DnsName
                            | portnet_conformance::Capability::DnsSilent
                            | portnet_conformance::Capability::DnsServer
                    )
            )
        })
        .map(|row| format!("{} on {}: {}", row.case, row.backend, row.detail()))
        .collect();
    assert_eq!(rows.len(), 2 * portnet_conformance::cases::COUNT);
    assert!(
        failures.is_empty(),
        "failed or skipped:\n{}",
        failures.join("\n")
    );
}
