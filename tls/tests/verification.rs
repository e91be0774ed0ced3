//! Both wrappers verify by default: the chain up to a configured root and the
//! server name, with no switch that turns either off. Each refusal comes back
//! with its kind, against in-process rustls servers (no broker needed). And no
//! `Debug` of the wrappers shows what must stay secret (client keys, randomness,
//! the record buffers).
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use portnet::{Error as _, ErrorKind, TcpConnect as _, WriteExt as _};
use portnet_tls::rustls::{self, RootCertStore};
use portnet_tls::{Error, TlsKind};
use portnet_tokio::Tokio;
use support::Ca;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn bounded<T>(future: impl Future<Output = T>) -> T {
    runtime().block_on(async {
        tokio::time::timeout(Duration::from_secs(10), future)
            .await
            .expect("the handshake ends within 10 s")
    })
}

/// The rustls wrapper's handshake as `name` with `roots` against `config`.
fn rustls_handshake(
    roots: RootCertStore,
    name: &str,
    config: Arc<rustls::ServerConfig>,
) -> Result<(), Error<std::io::Error>> {
    let addr = support::one_handshake_server(config);
    let tls = portnet_tls::TlsConnect::new(Tokio::new(), name, roots).expect("a valid name");
    bounded(async { tls.connect(addr).await.map(drop) })
}

fn leak(bytes: &[u8]) -> &'static [u8] {
    Box::leak(bytes.to_vec().into_boxed_slice())
}

/// The embedded-tls wrapper's handshake as `name` with the CA `ca` against `config`.
fn embedded_handshake(
    ca: &Ca,
    name: &'static str,
    config: Arc<rustls::ServerConfig>,
) -> Result<(), Error<std::io::Error>> {
    let addr: SocketAddr = support::one_handshake_server(config);
    let read = Box::leak(vec![0u8; 2 * 16_640].into_boxed_slice());
    let write = Box::leak(vec![0u8; 2 * 4_096].into_boxed_slice());
    let tls = portnet_tls::embedded::TlsConnect::new(
        Tokio::new(),
        name,
        leak(&ca.der()),
        rand_core::OsRng,
        read,
        write,
    );
    bounded(async { tls.connect(addr).await.map(drop) })
}

#[track_caller]
fn refused(result: Result<(), Error<std::io::Error>>, tls_kind: TlsKind) {
    let e = result.expect_err("the handshake must fail");
    assert_eq!(e.tls_kind(), Some(tls_kind), "{e}");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
}

#[test]
fn rustls_accepts_only_what_it_can_verify() {
    let ca = Ca::new("trusted CA");
    // The control: the same set-up with nothing wrong connects.
    rustls_handshake(ca.roots(), "localhost", ca.server_config(&["localhost"]))
        .expect("a certificate for the name from a trusted CA");
    let stranger = Ca::new("another CA");
    refused(
        rustls_handshake(
            ca.roots(),
            "localhost",
            stranger.server_config(&["localhost"]),
        ),
        TlsKind::CertificateNotTrusted,
    );
    refused(
        rustls_handshake(
            ca.roots(),
            "localhost",
            support::self_signed_server_config(&["localhost"]),
        ),
        TlsKind::CertificateNotTrusted,
    );
    // No roots is no trust, not "anything goes".
    refused(
        rustls_handshake(
            RootCertStore::empty(),
            "localhost",
            ca.server_config(&["localhost"]),
        ),
        TlsKind::CertificateNotTrusted,
    );
    refused(
        rustls_handshake(
            ca.roots(),
            "localhost",
            ca.server_config(&["wrong.example"]),
        ),
        TlsKind::HostnameMismatch,
    );
    refused(
        rustls_handshake(ca.roots(), "127.0.0.1", ca.server_config(&["127.0.0.2"])),
        TlsKind::HostnameMismatch,
    );
    refused(
        rustls_handshake(
            ca.roots(),
            "localhost",
            ca.expired_server_config(&["localhost"]),
        ),
        TlsKind::CertificateInvalid,
    );
}

#[test]
fn embedded_tls_accepts_only_what_it_can_verify() {
    let ca = Ca::new("trusted CA");
    embedded_handshake(&ca, "localhost", ca.server_config(&["localhost"]))
        .expect("a certificate for the name from a trusted CA");
    let stranger = Ca::new("another CA");
    refused(
        embedded_handshake(&ca, "localhost", stranger.server_config(&["localhost"])),
        TlsKind::CertificateNotTrusted,
    );
    refused(
        embedded_handshake(
            &ca,
            "localhost",
            support::self_signed_server_config(&["localhost"]),
        ),
        TlsKind::CertificateNotTrusted,
    );
    refused(
        embedded_handshake(&ca, "localhost", ca.server_config(&["wrong.example"])),
        TlsKind::HostnameMismatch,
    );
    // A name that only extends the certificate's is still another name.
    refused(
        embedded_handshake(&ca, "localhost.example", ca.server_config(&["localhost"])),
        TlsKind::HostnameMismatch,
    );
}

/// A client key, as the bytes a `Debug` could leak it in.
struct Key {
    der: Vec<u8>,
    pem: String,
}

impl Key {
    /// Every form of the key a careless `Debug` would print: the PEM body, the
    /// DER as a decimal list (`[48, 129, …]`) and as hex.
    fn assert_absent(&self, debug: &str) {
        let body: String = self
            .pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert!(!debug.contains(&body[..32]), "PEM in {debug}");
        let decimal = format!("{:?}", &self.der[..12]);
        assert!(
            !debug.contains(&decimal[1..decimal.len() - 1]),
            "DER in {debug}"
        );
        let hex: String = self.der[..12].iter().map(|b| format!("{b:02x}")).collect();
        assert!(
            !debug.to_ascii_lowercase().contains(&hex),
            "hex DER in {debug}"
        );
    }
}

#[test]
fn rustls_debug_shows_no_client_key() {
    let ca = Ca::new("trusted CA");
    let key_pair = rcgen::KeyPair::generate().expect("a client key");
    let key = Key {
        der: key_pair.serialize_der(),
        pem: key_pair.serialize_pem(),
    };
    let cert = rcgen::CertificateParams::new(vec!["client".to_owned()])
        .expect("client params")
        .self_signed(&key_pair)
        .expect("client certificate");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(ca.roots())
    .with_client_auth_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.der.clone().into()),
    )
    .expect("a client certificate and key");
    let tls = portnet_tls::TlsConnect::with_config(
        Tokio::new(),
        rustls::pki_types::ServerName::try_from("localhost")
            .expect("a name")
            .to_owned(),
        Arc::new(config),
    );
    // The detector itself catches each form of a leak.
    for leak in [
        format!("{:?}", key.der),
        key.pem.clone(),
        key.der.iter().map(|b| format!("{b:02X}")).collect(),
    ] {
        let caught = std::panic::catch_unwind(|| key.assert_absent(&leak));
        assert!(caught.is_err(), "a leak not caught: {leak}");
    }
    let debug = format!("{tls:?} {tls:#?}");
    key.assert_absent(&debug);
    assert!(
        debug.contains("localhost"),
        "the server name helps: {debug}"
    );

    // A live connection (its session holds the traffic secrets) and its halves.
    let addr = support::one_handshake_server(ca.server_config(&["localhost"]));
    bounded(async {
        let mut conn = tls.connect(addr).await.expect("TLS");
        let debug = format!("{conn:?} {conn:#?}");
        key.assert_absent(&debug);
        assert!(!debug.contains("secret"), "{debug}");
        {
            let (read, write) = portnet::TcpStream::split(&mut conn);
            key.assert_absent(&format!("{read:?} {write:?}"));
        }
        let _ = conn.close().await;
    });
}

/// A random-number generator whose `Debug` prints its (pretend) state.
struct TellingRng(rand_core::OsRng);

impl core::fmt::Debug for TellingRng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RNG-STATE-0123456789")
    }
}

impl rand_core::RngCore for TellingRng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.try_fill_bytes(dest)
    }
}

impl rand_core::CryptoRng for TellingRng {}

#[test]
fn embedded_tls_debug_shows_no_randomness_or_buffers() {
    let ca = Ca::new("trusted CA");
    // Buffers holding a pattern, standing in for the plaintext and key material
    // they hold during a session.
    let read = Box::leak(vec![0xA5u8; 2 * 16_640].into_boxed_slice());
    let write = Box::leak(vec![0xA5u8; 2 * 4_096].into_boxed_slice());
    let tls = portnet_tls::embedded::TlsConnect::new(
        Tokio::new(),
        "localhost",
        leak(&ca.der()),
        TellingRng(rand_core::OsRng),
        read,
        write,
    );
    let check = |debug: &str| {
        assert!(!debug.contains("RNG-STATE"), "{debug}");
        assert!(!debug.contains("165, 165"), "{debug}");
        assert!(!debug.to_ascii_lowercase().contains("a5a5"), "{debug}");
    };
    for leak in ["RNG-STATE-0123456789", "[165, 165, 165]", "A5A5A5"] {
        assert!(std::panic::catch_unwind(|| check(leak)).is_err(), "{leak}");
    }
    check(&format!("{tls:?} {tls:#?}"));
    let addr = support::one_handshake_server(ca.server_config(&["localhost"]));
    bounded(async {
        let mut conn = tls.connect(addr).await.expect("TLS");
        check(&format!("{conn:?} {conn:#?}"));
        let (read, write) = portnet::TcpStream::split(&mut conn);
        check(&format!("{read:?} {write:?}"));
    });
}
