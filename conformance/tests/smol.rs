//! The whole suite on the smol backend, one `#[test]` per case and mode.

portnet_conformance::conformance_tests!(portnet_conformance::hosted::SmolHarness);
