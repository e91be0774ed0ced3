//! The conformance suite on this backend: two stacks on the in-memory link in
//! virtual time, on a clean link and on a lossy one (the rows `smoltcp-memory`
//! and `smoltcp-lossy` of the runner's table).

mod memory {
    portnet_conformance::conformance_tests!(portnet_conformance_runner::smoltcp::MemoryHarness);
}

mod lossy {
    portnet_conformance::conformance_tests!(portnet_conformance_runner::smoltcp::LossyHarness);
}
