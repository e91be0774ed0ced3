//! Hostile records after an honest handshake, against the rustls wrapper
//! (`portnet_tls::TlsConnect`): see `common.rs` for the script and the checks.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use portnet::TcpConnect as _;
use rustls::RootCertStore;

use common::{Client, HOST, Session, Stack, handshake, pki, start};

fuzz_target!(|data: &[u8]| {
    let (mut script, wire, sealed) = start(data, Client::Rustls);
    let mut roots = RootCertStore::empty();
    roots.add(pki().ca_der.clone()).expect("the CA");
    let tls = portnet_tls::TlsConnect::new(Stack(wire), HOST, roots).expect("a server name");
    let remote = "127.0.0.1:443".parse().expect("an address");
    let mut conn = handshake(&mut script, tls.connect(remote)).expect("an honest handshake");
    Session::new(script, sealed).run(&mut conn);
});
