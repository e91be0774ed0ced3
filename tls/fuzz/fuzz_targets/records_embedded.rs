//! Hostile records after an honest handshake, against the embedded-tls wrapper
//! (`portnet_tls::embedded::TlsConnect`, TLS 1.3, caller-provided buffers): see
//! `common.rs` for the script and the checks.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use portnet::TcpConnect as _;

use common::{Client, HOST, Session, Stack, handshake, pki, start};

fuzz_target!(|data: &[u8]| {
    let (mut script, wire, sealed) = start(data, Client::Embedded);
    // As the wrapper's documentation asks: twice the largest record either way.
    let mut read = vec![0u8; 2 * 16_640];
    let mut write = vec![0u8; 2 * 4_096];
    let tls = portnet_tls::embedded::TlsConnect::new(
        Stack(wire),
        HOST,
        &pki().ca_der,
        rand_core::OsRng,
        &mut read,
        &mut write,
    );
    let remote = "127.0.0.1:443".parse().expect("an address");
    let mut conn = handshake(&mut script, tls.connect(remote)).expect("an honest handshake");
    Session::new(script, sealed).run(&mut conn);
});
