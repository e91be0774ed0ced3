//! The guide's chapters as doc comments: `cargo test -p portnet-guide --doc`
//! compiles and runs every Rust snippet of the guide (`docs/guide/src`), so the
//! guide cannot fall behind the code. The book itself is built with
//! `mdbook build docs/guide`.
#![no_std]

/// Chapter "Introduction".
#[doc = include_str!("src/introduction.md")]
pub mod introduction {}

/// Chapter "Concepts".
#[doc = include_str!("src/concepts.md")]
pub mod concepts {}

/// Chapter "Write a library against portnet".
#[doc = include_str!("src/library.md")]
pub mod library {}

/// Chapter "Write a server library".
#[doc = include_str!("src/server.md")]
pub mod server {}

/// Chapter "Choose and plug in a backend".
#[doc = include_str!("src/backends.md")]
pub mod backends {}

/// Chapter "Bring your own stack".
#[doc = include_str!("src/your-stack.md")]
pub mod your_stack {}

/// Chapter "From the hardware up".
#[doc = include_str!("src/hardware-up.md")]
pub mod hardware_up {}

/// Chapter "The application: a sensor node".
#[doc = include_str!("src/iot-sensor.md")]
pub mod iot_sensor {}

/// Chapter "Porting to a development kit".
#[doc = include_str!("src/porting.md")]
pub mod porting {}

/// Chapter "Kit: Raspberry Pi Pico W".
#[doc = include_str!("src/kit-pico-w.md")]
pub mod kit_pico_w {}

/// Chapter "Kit: WIZnet W5500-EVB-Pico".
#[doc = include_str!("src/kit-w5500-evb-pico.md")]
pub mod kit_w5500_evb_pico {}

/// Chapter "Kit: ST NUCLEO-F429ZI".
#[doc = include_str!("src/kit-nucleo-f429zi.md")]
pub mod kit_nucleo_f429zi {}

/// Chapter "Design rationale".
#[doc = include_str!("src/rationale.md")]
pub mod rationale {}
