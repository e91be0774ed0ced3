//! Test certificates made with rcgen, a mosquitto configuration with TLS
//! listeners, and the MQTT round trip both backends run.
#![allow(dead_code, unreachable_pub, clippy::std_instead_of_core)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use core::pin::pin;

use portnet::future::join;
use portnet::{Clock, TcpConnect};
use portnet_mqtt::codec::{QoS, ReasonCode, Subscription, Version};
use portnet_mqtt::{ConnectOptions, PublishOptions, Session, Storage};
use portnet_tls::rustls::RootCertStore;
use portnet_tls::rustls::pki_types::CertificateDer;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A certificate authority made for this run.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("CA key");
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A root store holding this CA only.
    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.der()).expect("a valid CA certificate");
        roots
    }

    /// A server certificate for `names` (DNS names or IP addresses), signed by
    /// this CA: (certificate PEM, key PEM).
    pub fn server(&self, names: &[&str]) -> (String, String) {
        let (cert, key) = self.server_pair(names);
        (cert.pem(), key.serialize_pem())
    }

    /// The same as a rustls server configuration.
    pub fn server_config(
        &self,
        names: &[&str],
    ) -> std::sync::Arc<portnet_tls::rustls::ServerConfig> {
        let (cert, key) = self.server_pair(names);
        server_config_for(cert.der().clone(), &key)
    }

    /// A server configuration whose certificate for `names`, signed by this CA,
    /// expired in 2000.
    pub fn expired_server_config(
        &self,
        names: &[&str],
    ) -> std::sync::Arc<portnet_tls::rustls::ServerConfig> {
        let mut params = server_params(names);
        params.not_before = rcgen::date_time_ymd(1999, 1, 1);
        params.not_after = rcgen::date_time_ymd(2000, 1, 1);
        let key = KeyPair::generate().expect("server key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("server certificate");
        server_config_for(cert.der().clone(), &key)
    }

    pub fn server_pair(&self, names: &[&str]) -> (rcgen::Certificate, KeyPair) {
        let key = KeyPair::generate().expect("server key");
        let cert = server_params(names)
            .signed_by(&key, &self.issuer)
            .expect("server certificate");
        (cert, key)
    }
}

fn server_params(names: &[&str]) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    CertificateParams::new(names).expect("server params")
}

/// A server configuration presenting a self-signed certificate for `names`: no CA
/// vouches for it.
pub fn self_signed_server_config(
    names: &[&str],
) -> std::sync::Arc<portnet_tls::rustls::ServerConfig> {
    let key = KeyPair::generate().expect("server key");
    let cert = server_params(names).self_signed(&key).expect("self-signed");
    server_config_for(cert.der().clone(), &key)
}

/// A rustls server configuration presenting `cert` (with its `key`).
pub fn server_config_for(
    cert: CertificateDer<'static>,
    key: &KeyPair,
) -> std::sync::Arc<portnet_tls::rustls::ServerConfig> {
    use portnet_tls::rustls;
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .expect("a valid certificate and key");
    std::sync::Arc::new(config)
}

/// A rustls server (a std thread) that takes one connection and runs its
/// handshake to the end, whatever the end: for tests of the client's verdict.
pub fn one_handshake_server(
    config: std::sync::Arc<portnet_tls::rustls::ServerConfig>,
) -> core::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        let Ok((mut socket, _)) = listener.accept() else {
            return;
        };
        let _ = socket.set_read_timeout(Some(Duration::from_secs(10)));
        let mut session = portnet_tls::rustls::ServerConnection::new(config).expect("a session");
        while session.is_handshaking() {
            if session.complete_io(&mut socket).is_err() {
                return;
            }
        }
    });
    addr
}

/// The certificate files of a test broker, in a directory mosquitto (which drops
/// to its own user when started as root) can read.
pub struct Pki {
    pub ca: Ca,
    pub dir: PathBuf,
}

impl Pki {
    /// A CA, a server certificate for `localhost` and 127.0.0.1 (`server.*`), and
    /// one of the same CA for `wrong.example` only (`wrong.*`).
    pub fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("portnet-tls-{label}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let ca = Ca::new("portnet test CA");
        write(&dir.join("ca.pem"), &ca.pem());
        let (cert, key) = ca.server(&["localhost", "127.0.0.1", "10.9.2.1"]);
        write(&dir.join("server.pem"), &cert);
        write(&dir.join("server.key"), &key);
        let (cert, key) = ca.server(&["wrong.example"]);
        write(&dir.join("wrong.pem"), &cert);
        write(&dir.join("wrong.key"), &key);
        Self { ca, dir }
    }

    /// mosquitto configuration lines: a TLS listener on `address:port` with the
    /// certificate `name` (`server` or `wrong`).
    pub fn listener(&self, address: &str, port: u16, name: &str) -> String {
        let d = self.dir.display();
        format!(
            "listener {port} {address}\ncafile {d}/ca.pem\ncertfile {d}/{name}.pem\n\
             keyfile {d}/{name}.key\n"
        )
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write a certificate file");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
}

/// Waits until every address accepts TCP connections: mosquitto opens its
/// listeners one after the other, so its first one accepting says nothing of the
/// others. Bounded: 10 s.
pub fn wait_listening(addrs: &[core::net::SocketAddr]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for addr in addrs {
        while std::net::TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "{addr} did not accept connections within 10 s"
            );
            // Bounded poll between connection attempts while the broker starts.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A rustls TLS 1.3 server (std threads) that reads 5 bytes, answers "one",
/// updates its traffic keys (a KeyUpdate message), answers "two", sends
/// close_notify and waits for the client to close.
pub fn key_updating_server(ca: &Ca) -> core::net::SocketAddr {
    use std::io::{Read as _, Write as _};
    let config = ca.server_config(&["localhost"]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        let Ok((socket, _)) = listener.accept() else {
            return;
        };
        let _ = socket.set_read_timeout(Some(Duration::from_secs(10)));
        let session = portnet_tls::rustls::ServerConnection::new(config).expect("a session");
        let mut tls = portnet_tls::rustls::StreamOwned::new(session, socket);
        let mut hello = [0u8; 5];
        if tls.read_exact(&mut hello).is_err() {
            return;
        }
        let _ = tls.write_all(b"one");
        let _ = tls.conn.refresh_traffic_keys();
        let _ = tls.write_all(b"two");
        tls.conn.send_close_notify();
        let _ = tls.flush();
        // Until the client closes (bounded by the read timeout).
        while matches!(tls.sock.read(&mut hello), Ok(n) if n > 0) {}
    });
    addr
}

type Store = Storage<4096, 4096, 8, 16, 4>;

/// The portnet MQTT client over `stack` to `broker`: connects, subscribes,
/// publishes at QoS 1 and receives its own message; bounded by `clock`.
pub async fn mqtt_round_trip<S: TcpConnect, C: Clock + Copy>(
    stack: S,
    clock: C,
    broker: core::net::SocketAddr,
    id: &str,
    payload: &[u8],
) -> Result<(), String> {
    let mut storage = Store::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, mut rx) = session.split(stack, clock);
    let opts = ConnectOptions::new(broker, id).version(Version::V5);
    let topic = format!("tls/{id}");
    let app = pin!(async {
        client
            .connected()
            .await
            .map_err(|e| format!("connect: {e:?}"))?;
        client
            .subscribe(&[Subscription::new(&topic, QoS::AtLeastOnce)], &[])
            .await
            .map_err(|e| format!("subscribe: {e:?}"))?;
        let reason = client
            .publish(&topic, payload, PublishOptions::qos(QoS::AtLeastOnce))
            .await
            .map_err(|e| format!("publish: {e:?}"))?;
        if !reason.is_success() {
            return Err(format!("PUBACK with {reason:?}"));
        }
        let message = rx.recv().await;
        if (message.topic(), message.payload(), message.qos())
            != (topic.as_str(), payload, QoS::AtLeastOnce)
        {
            return Err(format!(
                "received {:?} {} bytes at {:?}",
                message.topic(),
                message.payload().len(),
                message.qos()
            ));
        }
        client.disconnect(ReasonCode::SUCCESS).await;
        Ok(())
    });
    let run = pin!(driver.run(&opts));
    let bounded = portnet::time::timeout(&clock, Duration::from_secs(30), join(run, app)).await;
    let (run, app) = bounded.map_err(|_| "no result within 30 s".to_owned())?;
    app?;
    run.map_err(|e| format!("driver: {e:?}"))
}
