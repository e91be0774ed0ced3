//! The guide's chapters as doc comments: `cargo test -p portnet-guide --doc`
//! compiles and runs every Rust snippet of the guide (`docs/guide/src`), so the
//! guide cannot fall behind the code. The book itself is built with
//! `mdbook build docs/guide`.
#![no_std]

pub mod sntp;

/// Chapter "Introduction".
#[doc = include_str!("src/introduction.md")]
pub mod introduction {}

/// Chapter "Concepts".
#[doc = include_str!("src/concepts.md")]
pub mod concepts {}

/// Chapter "Write a library against portnet".
#[doc = include_str!("src/library.md")]
pub mod library {}
