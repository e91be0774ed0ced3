//! The suite with its peer behind the remote-peer link (agent on a thread, over a
//! Unix socket pair): the check that the remote peer keeps every contract before
//! firmware relies on it.

use portnet_conformance_runner::remote_hosted::{RemotePeerHarness, remote_peer_harness};

portnet_conformance::conformance_tests!(RemotePeerHarness, remote_peer_harness);
