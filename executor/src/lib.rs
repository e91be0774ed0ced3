#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod executor;
mod park;
mod task;
mod timer;

pub use executor::{Executor, Runner, SpawnError, Spawner};
#[cfg(feature = "std")]
pub use park::ThreadPark;
#[cfg(all(feature = "cortex-m", target_arch = "arm"))]
pub use park::WfiPark;
pub use park::{Park, SpinPark};
pub use task::{TASK_ALIGN, TaskFn, TaskPool, task_size};
#[cfg(feature = "std")]
pub use timer::StdAlarm;
pub use timer::{Alarm, Sleep, Timer};
