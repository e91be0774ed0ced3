//! The whole suite on the async-std backend, one `#[test]` per case and mode.

portnet_conformance::conformance_tests!(portnet_conformance::hosted::AsyncStdHarness);
