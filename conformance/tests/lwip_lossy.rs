//! The suite on the lwIP backend: lwIP against smoltcp on a lossy in-memory link.

portnet_conformance::conformance_tests!(portnet_conformance::lwip::LossyHarness);
