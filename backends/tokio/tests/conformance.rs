//! The conformance suite on this backend, run the way the guide tells a stack
//! author to: the suite's loopback harness (the backend against itself on the
//! host's kernel) and one macro line.

use core::future::Future;

use portnet_conformance::BlockOn;
use portnet_conformance::host::LoopbackHarness;

/// A fresh current-thread runtime per case.
#[derive(Debug, Default)]
struct CurrentThread;

impl BlockOn for CurrentThread {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(future)
    }
}

portnet_conformance::conformance_tests!(LoopbackHarness<portnet_tokio::Tokio, CurrentThread>);
