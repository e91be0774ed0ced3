//! The suite with its peer behind the remote-peer link (agent on a thread, over a
//! Unix socket pair): the check that the remote peer keeps every contract before
//! firmware relies on it.

portnet_conformance::conformance_tests!(portnet_conformance::remote::hosted::RemotePeerHarness);
