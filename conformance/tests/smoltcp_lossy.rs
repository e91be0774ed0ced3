//! The suite on the smoltcp backend: two stacks on a lossy in-memory link.

portnet_conformance::conformance_tests!(portnet_conformance::smoltcp::LossyHarness);
