//! The tokio backend against itself over loopback: the stack the suite's own
//! tests wrap (flawed stacks) or list cases for.

use core::future::Future;

use portnet_conformance::BlockOn;
use portnet_conformance::host::LoopbackHarness;

/// A fresh current-thread runtime per case.
#[derive(Debug, Default)]
pub(crate) struct CurrentThread;

impl BlockOn for CurrentThread {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(future)
    }
}

pub(crate) type TokioHarness = LoopbackHarness<portnet_tokio::Tokio, CurrentThread>;
