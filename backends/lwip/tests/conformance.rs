//! The conformance suite on this backend: lwIP on one port of the in-memory
//! link, portnet's smoltcp backend on the other as its peer, on a clean link and
//! on a lossy one (the rows `lwip-memory` and `lwip-lossy` of the runner's table).

mod memory {
    portnet_conformance::conformance_tests!(portnet_conformance_runner::lwip::MemoryHarness);
}

mod lossy {
    portnet_conformance::conformance_tests!(portnet_conformance_runner::lwip::LossyHarness);
}
