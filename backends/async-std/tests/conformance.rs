//! The conformance suite on this backend, run the way the guide tells a stack
//! author to: the suite's loopback harness (the backend against itself on the
//! host's kernel) and one macro line.

use core::future::Future;

use portnet_conformance::BlockOn;
use portnet_conformance::host::LoopbackHarness;

/// async-std's own `block_on`.
#[derive(Debug, Default)]
struct AsyncStdTask;

impl BlockOn for AsyncStdTask {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        async_std::task::block_on(future)
    }
}

portnet_conformance::conformance_tests!(LoopbackHarness<portnet_async_std::AsyncStd, AsyncStdTask>);
