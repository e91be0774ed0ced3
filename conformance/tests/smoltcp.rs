//! The suite on the smoltcp backend: two stacks on a clean in-memory link.

portnet_conformance::conformance_tests!(portnet_conformance::smoltcp::MemoryHarness);
