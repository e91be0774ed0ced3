//! The conformance suite on this backend, run the way the guide tells a stack
//! author to: the suite's loopback harness (the backend against itself on the
//! host's kernel) and one macro line.

use core::future::Future;

use portnet_conformance::BlockOn;
use portnet_conformance::host::LoopbackHarness;

/// async-io's `block_on`, which drives the reactor smol's sockets use.
#[derive(Debug, Default)]
struct AsyncIo;

impl BlockOn for AsyncIo {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        async_io::block_on(future)
    }
}

portnet_conformance::conformance_tests!(LoopbackHarness<portnet_smol::Smol, AsyncIo>);
