//! 5.0 enhanced authentication against a scripted fake broker: the AUTH exchange at
//! CONNECT, re-authentication, and each way it can fail. (mosquitto supports AUTH
//! only through a plugin, so these tests play the broker.)

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

use std::time::Duration;

use portnet_mqtt::codec::{
    Auth, ConnAck, Disconnect, Packet, Properties, Property, ReasonCode, Version, decode,
};
use portnet_mqtt::{Authenticator, ConnectOptions, Error, Session, Storage};
use portnet_tokio::Tokio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const METHOD: &str = "PORTNET-TEST";

/// A toy challenge/response method: the answer to a challenge is the challenge
/// reversed; the broker proves itself with `server-proof`.
#[derive(Default)]
struct Reverser {
    data: Vec<u8>,
    challenges: usize,
    finished: usize,
}

impl Authenticator for Reverser {
    fn method(&self) -> &str {
        METHOD
    }
    fn start(&mut self, reauth: bool) -> Result<(), &'static str> {
        self.data = if reauth {
            b"again".to_vec()
        } else {
            b"client-first".to_vec()
        };
        Ok(())
    }
    fn respond(&mut self, challenge: Option<&[u8]>) -> Result<(), &'static str> {
        let challenge = challenge.ok_or("challenge without data")?;
        self.data = challenge.iter().rev().copied().collect();
        self.challenges += 1;
        Ok(())
    }
    fn data(&self) -> Option<&[u8]> {
        Some(&self.data)
    }
    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), &'static str> {
        if data != Some(b"server-proof") {
            return Err("the broker's proof does not verify");
        }
        self.finished += 1;
        Ok(())
    }
}

fn encode(packet: Packet<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let n = packet.encode(Version::V5, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn auth_packet(reason: ReasonCode, data: &[u8]) -> Vec<u8> {
    let props = [
        Property::AuthenticationMethod(METHOD),
        Property::AuthenticationData(data),
    ];
    encode(Packet::Auth(Auth {
        reason,
        properties: Properties::new(&props),
    }))
}

fn connack(reason: ReasonCode, proof: &[u8]) -> Vec<u8> {
    let props = [
        Property::AuthenticationMethod(METHOD),
        Property::AuthenticationData(proof),
    ];
    encode(Packet::ConnAck(ConnAck {
        session_present: false,
        reason,
        properties: Properties::new(&props),
    }))
}

/// Reads one packet from the client: its bytes.
async fn read_packet(sock: &mut TcpStream) -> Vec<u8> {
    let mut packet = vec![0u8; 1];
    sock.read_exact(&mut packet).await.unwrap();
    let mut len = 0usize;
    for shift in [0, 7, 14, 21] {
        let mut b = [0u8; 1];
        sock.read_exact(&mut b).await.unwrap();
        packet.push(b[0]);
        len |= usize::from(b[0] & 0x7f) << shift;
        if b[0] & 0x80 == 0 {
            break;
        }
    }
    let start = packet.len();
    packet.resize(start + len, 0);
    sock.read_exact(&mut packet[start..]).await.unwrap();
    packet
}

/// The reason and authentication data of an AUTH from the client.
fn parse_auth(bytes: &[u8]) -> (ReasonCode, Vec<u8>) {
    match decode(bytes, Version::V5).unwrap().unwrap().0 {
        Packet::Auth(a) => {
            assert_eq!(
                a.properties.find(0x15),
                Some(Property::AuthenticationMethod(METHOD))
            );
            let data = match a.properties.find(0x16) {
                Some(Property::AuthenticationData(d)) => d.to_vec(),
                other => panic!("no data: {other:?}"),
            };
            (a.reason, data)
        }
        other => panic!("expected AUTH, got {other:?}"),
    }
}

/// The client's CONNECT carries the method and first data; one challenge round.
async fn accept_with_challenge(listener: &TcpListener) -> TcpStream {
    let (mut sock, _) = listener.accept().await.unwrap();
    let connect = read_packet(&mut sock).await;
    match decode(&connect, Version::V5).unwrap().unwrap().0 {
        Packet::Connect(c) => {
            assert_eq!(
                c.properties.find(0x15),
                Some(Property::AuthenticationMethod(METHOD))
            );
            assert_eq!(
                c.properties.find(0x16),
                Some(Property::AuthenticationData(b"client-first"))
            );
        }
        other => panic!("expected CONNECT, got {other:?}"),
    }
    sock.write_all(&auth_packet(ReasonCode::CONTINUE_AUTHENTICATION, b"abc"))
        .await
        .unwrap();
    let answer = parse_auth(&read_packet(&mut sock).await);
    assert_eq!(
        answer,
        (ReasonCode::CONTINUE_AUTHENTICATION, b"cba".to_vec())
    );
    sock
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("no hang")
}

#[tokio::test]
async fn challenge_at_connect_and_reauthentication() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let broker = async {
        let mut sock = accept_with_challenge(&listener).await;
        sock.write_all(&connack(ReasonCode::SUCCESS, b"server-proof"))
            .await
            .unwrap();
        // Re-authentication, started by the client.
        let (reason, data) = parse_auth(&read_packet(&mut sock).await);
        assert_eq!(
            (reason, data.as_slice()),
            (ReasonCode::RE_AUTHENTICATE, &b"again"[..])
        );
        sock.write_all(&auth_packet(ReasonCode::CONTINUE_AUTHENTICATION, b"xyz"))
            .await
            .unwrap();
        let answer = parse_auth(&read_packet(&mut sock).await);
        assert_eq!(
            answer,
            (ReasonCode::CONTINUE_AUTHENTICATION, b"zyx".to_vec())
        );
        sock.write_all(&auth_packet(ReasonCode::SUCCESS, b"server-proof"))
            .await
            .unwrap();
        let disconnect = read_packet(&mut sock).await;
        assert_eq!(disconnect[0], 0xe0, "DISCONNECT last");
    };
    let stack = Tokio::new();
    let mut storage = Storage::<512, 512, 4, 4, 0, 1>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, _rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(addr, "authed");
    let mut auth = Reverser::default();
    let app = async {
        client.connected().await.expect("connected");
        client.reauthenticate().await.unwrap();
        client.disconnect(ReasonCode::SUCCESS).await;
    };
    let ((run, ()), ()) = bounded(async {
        tokio::join!(
            async { tokio::join!(driver.run_with_auth(&opts, &mut auth), app) },
            broker
        )
    })
    .await;
    run.unwrap();
    assert_eq!((auth.challenges, auth.finished), (2, 2));
}

#[tokio::test]
async fn a_broker_proof_that_does_not_verify_ends_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let broker = async {
        let mut sock = accept_with_challenge(&listener).await;
        sock.write_all(&connack(ReasonCode::SUCCESS, b"forged"))
            .await
            .unwrap();
        let mut rest = Vec::new();
        sock.read_to_end(&mut rest).await.unwrap();
        rest
    };
    let stack = Tokio::new();
    let mut storage = Storage::<512, 512, 4, 4, 0, 1>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, _rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(addr, "authed");
    let mut auth = Reverser::default();
    let (run, rest) =
        bounded(async { tokio::join!(driver.run_with_auth(&opts, &mut auth), broker) }).await;
    assert_eq!(run, Err(Error::Auth("the broker's proof does not verify")));
    assert_eq!(
        run.unwrap_err().kind(),
        portnet_mqtt::ErrorKind::Authentication
    );
    assert_eq!(rest, b"\xe0\x01\x87", "DISCONNECT with Not authorized");
    assert!(client.connection_info().is_none());
}

#[tokio::test]
async fn refusals_and_rejected_reauthentication() {
    // The broker refuses the method at CONNACK.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let broker = async {
        let (mut sock, _) = listener.accept().await.unwrap();
        read_packet(&mut sock).await;
        sock.write_all(&encode(Packet::ConnAck(ConnAck {
            session_present: false,
            reason: ReasonCode::BAD_AUTHENTICATION_METHOD,
            properties: Properties::empty(),
        })))
        .await
        .unwrap();
    };
    let stack = Tokio::new();
    let mut storage = Storage::<512, 512, 4, 4, 0, 1>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, _rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(addr, "authed");
    let mut auth = Reverser::default();
    let (run, ()) =
        bounded(async { tokio::join!(driver.run_with_auth(&opts, &mut auth), broker) }).await;
    assert_eq!(
        run,
        Err(Error::Refused(ReasonCode::BAD_AUTHENTICATION_METHOD))
    );

    // The broker rejects a re-authentication with DISCONNECT 0x87.
    let broker = async {
        let mut sock = accept_with_challenge(&listener).await;
        sock.write_all(&connack(ReasonCode::SUCCESS, b"server-proof"))
            .await
            .unwrap();
        let (reason, _) = parse_auth(&read_packet(&mut sock).await);
        assert_eq!(reason, ReasonCode::RE_AUTHENTICATE);
        sock.write_all(&encode(Packet::Disconnect(Disconnect {
            reason: ReasonCode::NOT_AUTHORIZED,
            properties: Properties::empty(),
        })))
        .await
        .unwrap();
    };
    let app = async {
        client.connected().await.expect("connected");
        client.reauthenticate().await
    };
    let ((run, reauth), ()) = bounded(async {
        tokio::join!(
            async { tokio::join!(driver.run_with_auth(&opts, &mut auth), app) },
            broker
        )
    })
    .await;
    assert_eq!(
        reauth,
        Err(Error::ServerDisconnect(ReasonCode::NOT_AUTHORIZED))
    );
    assert_eq!(
        run,
        Err(Error::ServerDisconnect(ReasonCode::NOT_AUTHORIZED))
    );

    // Without an authenticator, re-authentication is refused by the client, and an
    // AUTH from the broker is a protocol error.
    let broker = async {
        let (mut sock, _) = listener.accept().await.unwrap();
        read_packet(&mut sock).await;
        sock.write_all(&connack(ReasonCode::SUCCESS, b""))
            .await
            .unwrap();
        let mut rest = Vec::new();
        sock.read_to_end(&mut rest).await.unwrap();
        rest
    };
    let app = async {
        client.connected().await.expect("connected");
        let r = client.reauthenticate().await;
        client.disconnect(ReasonCode::SUCCESS).await;
        r
    };
    let ((run, reauth), _) =
        bounded(async { tokio::join!(async { tokio::join!(driver.run(&opts), app) }, broker) })
            .await;
    run.unwrap();
    assert!(matches!(reauth, Err(Error::Unsupported(_))), "{reauth:?}");

    let broker = async {
        let (mut sock, _) = listener.accept().await.unwrap();
        read_packet(&mut sock).await;
        sock.write_all(&auth_packet(ReasonCode::CONTINUE_AUTHENTICATION, b"?"))
            .await
            .unwrap();
        let mut rest = Vec::new();
        sock.read_to_end(&mut rest).await.unwrap();
        rest
    };
    let (run, rest) = bounded(async { tokio::join!(driver.run(&opts), broker) }).await;
    assert_eq!(
        run.unwrap_err().reason_code(),
        Some(ReasonCode::PROTOCOL_ERROR)
    );
    assert_eq!(rest, b"\xe0\x01\x82");
}
