//! Unmodified third-party libraries through the bridges, over real loopback sockets:
//! a rustls TLS session (tokio-rustls) and an HTTP/1.1 exchange (hyper) over portnet
//! connections, futures-lite I/O over a smol connection, and portnet code over the
//! TLS stream bridged back.

use core::net::{Ipv4Addr, SocketAddr};
use std::io;
extern crate alloc;
use alloc::sync::Arc;

use portnet::{ErrorKind, ReadExt, TcpConnect, TcpListen, TcpListener, TcpStream, WriteExt};
use portnet_bridge::{Compat, FromTokio};
use tokio_rustls::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName,
};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};

const LOCAL: SocketAddr = SocketAddr::new(core::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// A self-signed certificate for `localhost`, made for this test run.
fn tls_configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_der = CertificateDer::from(cert.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert_der).unwrap();
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

/// portnet code, generic over any portnet stream: sends a request, half-closes, and
/// reads the answer to the end.
async fn ask<S: portnet::Read + portnet::Write + Unpin>(stream: &mut S, request: &[u8]) -> Vec<u8>
where
    S::Error: core::fmt::Debug,
{
    stream.write_all(request).await.unwrap();
    stream.flush().await.unwrap();
    stream.close().await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1000];
    loop {
        match stream.read(&mut buf).await.unwrap() {
            0 => return answer,
            n => answer.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn tls_over_portnet_connections_and_portnet_code_over_tls() {
    let (server_config, client_config) = tls_configs();
    let stack = portnet_tokio::Tokio::new();
    let listener = stack.listen(LOCAL).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let request: Vec<u8> = (0..100_000u32).map(|i| (i % 241) as u8).collect();

    let server = async {
        let (conn, _) = listener.accept().await.unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(server_config);
        // tokio-rustls over a portnet connection, then back to portnet for the echo.
        let tls = acceptor.accept(Compat::new(conn)).await.unwrap();
        let mut tls = FromTokio::new(tls);
        let mut buf = [0u8; 4096];
        loop {
            let n = tls.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            tls.write_all(&buf[..n]).await.unwrap();
        }
        tls.close().await.unwrap();
    };
    let client = async {
        let conn = stack.connect(addr).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(client_config);
        let name = ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, Compat::new(conn)).await.unwrap();
        let mut tls = FromTokio::new(tls);
        ask(&mut tls, &request).await
    };
    let ((), answer) = tokio::join!(server, client);
    assert_eq!(answer, request, "the echo through TLS differs");
}

#[tokio::test]
async fn tls_rejects_a_wrong_host_name_with_a_clear_error() {
    let (server_config, client_config) = tls_configs();
    let stack = portnet_tokio::Tokio::new();
    let listener = stack.listen(LOCAL).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = async {
        let (conn, _) = listener.accept().await.unwrap();
        tokio_rustls::TlsAcceptor::from(server_config)
            .accept(Compat::new(conn))
            .await
            .err()
    };
    let client = async {
        let conn = stack.connect(addr).await.unwrap();
        let name = ServerName::try_from("not-localhost.example").unwrap();
        tokio_rustls::TlsConnector::from(client_config)
            .connect(name, Compat::new(conn))
            .await
            .err()
    };
    let (_, client_error) = tokio::join!(server, client);
    let error = client_error.expect("a certificate for another name must be refused");
    assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
}

#[tokio::test]
async fn http1_with_hyper_over_portnet_connections() {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    use hyper_util::rt::TokioIo;

    let stack = portnet_tokio::Tokio::new();
    let listener = stack.listen(LOCAL).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = async {
        let (conn, _) = listener.accept().await.unwrap();
        let service = hyper::service::service_fn(
            |request: hyper::Request<hyper::body::Incoming>| async move {
                let path = request.uri().path().to_owned();
                let body = request.into_body().collect().await?.to_bytes();
                let reply = format!("{path} got {} bytes", body.len());
                Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::from(reply))))
            },
        );
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(Compat::new(conn)), service)
            .await
            .unwrap();
    };
    let client = async {
        let conn = stack.connect(addr).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(Compat::new(conn)))
                .await
                .unwrap();
        let driver = tokio::spawn(connection);
        let request = hyper::Request::post("/upload")
            .header("host", "localhost")
            .body(Full::new(Bytes::from(vec![b'x'; 12_345])))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        drop(sender);
        driver.await.unwrap().unwrap();
        body
    };
    let ((), body) = tokio::join!(server, client);
    assert_eq!(&body[..], b"/upload got 12345 bytes");
}

#[test]
fn futures_lite_io_over_a_smol_connection() {
    use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
    async_io::block_on(async {
        let stack = portnet_smol::Smol::new();
        let listener = stack.listen(LOCAL).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = async {
            let (conn, _) = listener.accept().await.unwrap();
            let mut io = Compat::new(conn);
            let mut text = String::new();
            io.read_to_string(&mut text).await.unwrap();
            io.write_all(text.to_uppercase().as_bytes()).await.unwrap();
            io.close().await.unwrap();
        };
        let client = async {
            let mut io = Compat::new(stack.connect(addr).await.unwrap());
            io.write_all(b"shout this").await.unwrap();
            io.close().await.unwrap();
            let mut answer = String::new();
            io.read_to_string(&mut answer).await.unwrap();
            answer
        };
        let ((), answer) = futures_lite::future::zip(server, client).await;
        assert_eq!(answer, "SHOUT THIS");
    });
}

#[tokio::test]
async fn errors_keep_their_portnet_kind_across_the_bridge() {
    let stack = portnet_tokio::Tokio::new();
    let listener = stack.listen(LOCAL).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (accepted, connected) = tokio::join!(listener.accept(), stack.connect(addr));
    let (server_side, _) = accepted.unwrap();
    connected.unwrap().abort();
    let mut bridged = FromTokio::new(Compat::new(server_side));
    let mut buf = [0u8; 8];
    let error = bridged.read(&mut buf).await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(portnet::Error::kind(&error), ErrorKind::ConnectionReset);
}
