//! Issue 25 §2: `Debug` output never carries a secret. Options and packets are
//! what an application logs when a connection fails; the password and the
//! authentication data must not appear in any form `{:?}` or `{:#?}` could
//! print them (as text, as a byte list, or as an escaped byte string).

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

use std::net::SocketAddr;

use portnet_mqtt::ConnectOptions;
use portnet_mqtt::codec::{Connect, Packet, Properties, Property, QoS, Version, Will};

const PASSWORD: &[u8] = b"hunter2-correct-horse";
const TOKEN: &[u8] = b"eyJhbGciOi-bearer-token";

/// Every way a formatter could render `secret`.
fn forms(secret: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(secret).into_owned();
    let bytes = format!("{secret:?}");
    // The list without its brackets, and its first few elements: a truncated
    // or reformatted rendering would still start like this.
    let inner = bytes.trim_matches(['[', ']']).to_owned();
    let prefix = inner.split(", ").take(4).collect::<Vec<_>>().join(", ");
    let pretty_prefix = inner.split(", ").take(4).collect::<Vec<_>>().join(",\n");
    let escaped = secret.escape_ascii().to_string();
    vec![text[..8].to_owned(), inner, prefix, pretty_prefix, escaped]
}

fn assert_redacted(what: &str, rendered: &str, secret: &[u8]) {
    for form in forms(secret) {
        assert!(
            !rendered.contains(&form),
            "{what} shows the secret as {form:?}:\n{rendered}"
        );
    }
    assert!(rendered.contains("<redacted>"), "{what}:\n{rendered}");
}

fn both(value: &impl std::fmt::Debug) -> [String; 2] {
    [format!("{value:?}"), format!("{value:#?}")]
}

#[test]
fn connect_options_debug_never_shows_the_password() {
    let broker: SocketAddr = "127.0.0.1:1883".parse().unwrap();
    let user = [Property::UserProperty("site", "lab")];
    let mut options = ConnectOptions::new(broker, "sensor-1")
        .credentials("alice", PASSWORD)
        .persistent(60);
    options.properties = &user;
    for rendered in both(&options) {
        assert_redacted("ConnectOptions", &rendered, PASSWORD);
        // The rest is still there to debug with.
        for visible in ["sensor-1", "alice", "127.0.0.1:1883", "site", "lab"] {
            assert!(rendered.contains(visible), "{visible} missing:\n{rendered}");
        }
    }
    // No password: nothing to redact, and it says so.
    let none = format!("{:?}", ConnectOptions::new(broker, "anon"));
    assert!(none.contains("password: None"), "{none}");
}

#[test]
fn connect_packet_and_authentication_data_are_redacted() {
    let auth = [
        Property::AuthenticationMethod("bearer"),
        Property::AuthenticationData(TOKEN),
    ];
    let will_props = [Property::WillDelayInterval(5)];
    let connect = Connect {
        version: Version::V5,
        clean_start: true,
        keep_alive: 30,
        client_id: "c",
        will: Some(Will {
            topic: "w",
            payload: b"gone",
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Properties::new(&will_props),
        }),
        username: Some("alice"),
        password: Some(PASSWORD),
        properties: Properties::new(&auth),
    };
    for rendered in both(&Packet::Connect(connect)) {
        assert_redacted("CONNECT", &rendered, PASSWORD);
        assert_redacted("CONNECT", &rendered, TOKEN);
        assert!(rendered.contains("bearer") && rendered.contains("alice"));
    }
    // Decoded from the wire, the same.
    let mut buf = [0u8; 256];
    let n = Packet::Connect(connect)
        .encode(Version::V5, &mut buf)
        .unwrap();
    let (decoded, _) = portnet_mqtt::codec::decode(&buf[..n], Version::V5)
        .unwrap()
        .unwrap();
    for rendered in both(&decoded) {
        assert_redacted("decoded CONNECT", &rendered, PASSWORD);
        assert_redacted("decoded CONNECT", &rendered, TOKEN);
    }
    for rendered in both(&Property::AuthenticationData(TOKEN)) {
        assert_redacted("AuthenticationData", &rendered, TOKEN);
    }
}

/// The transmit buffer keeps the CONNECT (password included) after it went
/// out: `Storage`'s `Debug` shows sizes, never the buffers.
#[test]
fn storage_debug_never_shows_the_buffers() {
    use portnet_mqtt::{Session, Storage};
    use tokio::io::AsyncReadExt;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut storage = Storage::<256, 256, 2, 2>::new();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Reads the CONNECT, then closes without CONNACK.
        let broker = async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut connect = [0u8; 64];
            let n = sock.read(&mut connect).await.unwrap();
            connect[..n].to_vec()
        };
        let stack = portnet_tokio::Tokio::new();
        let mut session = Session::new(&mut storage);
        let (mut driver, _client, _rx) = session.split(&stack, stack);
        let opts = ConnectOptions::new(addr, "c").credentials("alice", PASSWORD);
        let (run, connect) = tokio::join!(driver.run(&opts), broker);
        assert!(run.is_err());
        let sent = connect.windows(PASSWORD.len()).any(|w| w == PASSWORD);
        assert!(sent, "the CONNECT carried the password");
    });
    let rendered = format!("{storage:?} {storage:#?}");
    for form in forms(PASSWORD) {
        assert!(!rendered.contains(&form), "{form:?} in {rendered}");
    }
    assert!(rendered.contains("rx: 256"), "{rendered}");
}
