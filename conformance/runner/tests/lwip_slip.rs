//! The suite on the lwIP backend over a serial line (the `lwip-slip` row):
//! lwIP on a SLIP link, a smoltcp stack on the other end, the links joined by
//! a loopback TCP connection. Every case must pass, but for those the port
//! lacks a capability for: IPv6 (`LWIP_IPV6 0`) and DNS (no resolver).

use portnet_conformance::Outcome;
use portnet_conformance_runner::lwip_slip::LwipSlipHarness;

#[test]
fn the_suite_passes_on_lwip_over_slip() {
    let rows = portnet_conformance::report::run_backend::<LwipSlipHarness>("lwip-slip", "");
    let failures = portnet_conformance_runner::lwip::unexpected(&rows);
    assert_eq!(rows.len(), 2 * portnet_conformance::cases::COUNT);
    assert!(
        failures.is_empty(),
        "failed or skipped:\n{}",
        failures.join("\n")
    );
    // Every case that has what it needs ran, in both modes.
    let passed = rows.iter().filter(|r| r.outcome == Outcome::Pass).count();
    assert!(passed >= 2 * 60, "only {passed} passed");
}

/// The generic echo server of `examples/echo` on lwIP serves the generic
/// client on the smoltcp end: 200 000 bytes rich in SLIP's `END` (0xC0) and
/// `ESC` (0xDB) come back intact, and both links decoded every frame.
#[test]
fn the_generic_echo_server_on_lwip_serves_a_client_over_slip() {
    use core::net::{SocketAddr, SocketAddrV4};
    use core::pin::pin;
    use portnet::TcpListen;
    use portnet::future::join;
    use portnet_conformance::Harness;
    use portnet_lwip::sim::A_V4;

    let harness = LwipSlipHarness::new().expect("the lwIP SLIP harness");
    let (server_stack, client_stack) = (harness.stack(), harness.peer());
    let data: Vec<u8> = (0..200_000u32)
        .map(|i| [0xC0, 0xDB, (i % 251) as u8][(i % 3) as usize])
        .collect();
    let (served, exchanged) = harness.run(async {
        let server: SocketAddr = SocketAddrV4::new(A_V4, 7).into();
        let listener = server_stack.listen(server).await.expect("listen");
        let mut buf = [0u8; 1024];
        let serve = pin!(portnet_echo::serve(&listener, 1, &mut buf));
        let client = pin!(portnet_echo::exchange(client_stack, server, &data));
        join(serve, client).await
    });
    exchanged.expect("the echo came back intact");
    assert_eq!(served.expect("the server served"), 200_000);
    let (a, b) = harness.link_stats().expect("no case running");
    assert!(a.rx_frames > 0 && a.tx_frames > 0, "lwIP's link: {a:?}");
    assert_eq!((a.rx_bad_escape, a.rx_overlong, a.tx_dropped), (0, 0, 0));
    assert_eq!((b.rx_bad_escape, b.rx_overlong, b.tx_dropped), (0, 0, 0));
    assert_eq!(harness.stack().diagnostics().0, 0, "callback conflicts");
}
