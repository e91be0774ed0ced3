//! A build with one protocol version (issue 20 §3): the other is refused with
//! clear errors by the codec and by `Driver::run`, and the client starts with
//! the version it has. Compiled only without both features; run it as
//! `cargo test -p portnet-mqtt --no-default-features --features v5 --test one_version`
//! (or `--features v3`).

#![cfg(not(all(feature = "v3", feature = "v5")))]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

use portnet_mqtt::codec::{DecodeErrorKind, EncodeError, Packet, Version, decode};
use portnet_mqtt::{ConnectOptions, Error, ErrorKind, Session, Storage};
use portnet_tokio::Tokio;

/// The version this build has.
const BUILT: Version = if cfg!(feature = "v5") {
    Version::V5
} else {
    Version::V3_1_1
};
/// The version it leaves out.
const MISSING: Version = if cfg!(feature = "v5") {
    Version::V3_1_1
} else {
    Version::V5
};

#[test]
fn the_codec_refuses_the_missing_version() {
    assert!(BUILT.is_built() && !MISSING.is_built());
    assert_eq!(Version::PREFERRED, BUILT);
    // PINGRESP, valid in both versions.
    assert!(matches!(
        decode(b"\xd0\x00", BUILT),
        Ok(Some((Packet::PingResp, 2)))
    ));
    let e = decode(b"\xd0\x00", MISSING).unwrap_err();
    assert_eq!(e.kind(), DecodeErrorKind::UnsupportedProtocolVersion);
    let mut buf = [0u8; 8];
    assert_eq!(Packet::PingReq.encode(BUILT, &mut buf), Ok(2));
    assert!(matches!(
        Packet::PingReq.encode(MISSING, &mut buf),
        Err(EncodeError::Invalid(_))
    ));
}

#[tokio::test]
async fn run_refuses_the_missing_version_before_it_connects() {
    // Nothing listens there: had `run` tried to connect, it would fail with a
    // network error instead.
    let addr = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let stack = Tokio::new();
    let mut storage = Storage::<256, 256>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, _rx) = session.split(&stack, stack);
    assert_eq!(ConnectOptions::new(addr, "x").version, BUILT);
    let opts = ConnectOptions::new(addr, "one-version").version(MISSING);
    let e = driver.run(&opts).await.unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert_eq!(client.connected().await.map(|_| ()), Err(e));
}
