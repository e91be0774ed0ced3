//! TLS over the smoltcp backend: the portnet MQTT client, unchanged, through
//! `TlsConnect<&smoltcp stack>` to a mosquitto TLS listener, with rustls and
//! with embedded-tls.
//!
//! The smoltcp stack (10.9.2.2) runs on a TAP device inside a network namespace
//! the test creates; the broker runs in the same namespace on the kernel's side
//! of the TAP device (10.9.2.1), with a certificate the test makes. Nothing
//! leaves the namespace. Where namespaces or TAP devices cannot be made (no
//! `CAP_NET_ADMIN`, no `/dev/net/tun`), the test prints `SKIPPED:` with the
//! reason and passes.
#![cfg(target_os = "linux")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

#[path = "../../embedded/tests/support/mod.rs"]
mod netns;
mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::time::Duration;

use portnet::TcpConnect as _;
use portnet::future::{Either, select};
use portnet_links::tap::Tap;
use portnet_smoltcp::{Cidr, Config, Stack, StackResources, TcpPool};
use portnet_tls::{TlsConnect, TlsKind};
use portnet_tokio::Tokio;
use support::{Ca, Pki, mqtt_round_trip};

const KERNEL_V4: Ipv4Addr = Ipv4Addr::new(10, 9, 2, 1);
const STACK_V4: Ipv4Addr = Ipv4Addr::new(10, 9, 2, 2);
const TAP_NAME: &str = "pntls0";
const PLAIN_PORT: u16 = 1883;
const TLS_PORT: u16 = 8883;

type TapStack = Stack<'static, Tap, Tokio>;

fn smoltcp_stack(tap: Tap) -> &'static TapStack {
    let config = Config::ipv4_static(Cidr::new(STACK_V4, 24), None);
    let resources: &'static mut StackResources<'static, 8> =
        Box::leak(Box::new(StackResources::new()));
    let tcp: &'static mut TcpPool<2, 8192, 8192> = Box::leak(Box::new(TcpPool::new()));
    let sockets = resources.sockets().tcp(tcp).expect("the pool fits");
    Box::leak(Box::new(
        Stack::new(tap, Tokio::new(), config, sockets).expect("a valid configuration"),
    ))
}

#[test]
fn mqtt_client_over_tls_on_smoltcp() {
    let (netns, entered, tap) =
        match netns::namespace("tls", TAP_NAME, [0x02, 0, 0, 0, 0x09, 0x22], "10.9.2.1/24") {
            Ok(parts) => parts,
            Err(reason) => {
                println!("SKIPPED: cannot create a network namespace with a TAP device: {reason}");
                return;
            }
        };
    let pki = Pki::new("smoltcp");
    let plain = SocketAddr::new(IpAddr::V4(KERNEL_V4), PLAIN_PORT);
    let tls_addr = SocketAddr::new(IpAddr::V4(KERNEL_V4), TLS_PORT);
    let listeners = format!("listener {PLAIN_PORT} {KERNEL_V4}\n")
        + &pki.listener(&KERNEL_V4.to_string(), TLS_PORT, "server");
    let broker = netns::Broker::start(&netns, "tls-broker", &listeners, plain);
    support::wait_listening(&[tls_addr]);
    let ca_der: &'static [u8] = Box::leak(pki.ca.der().to_vec().into_boxed_slice());
    let stack = smoltcp_stack(tap);
    let payload: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let outcome = runtime.block_on(async {
        let work = pin!(async {
            // The certificate is for 10.9.2.1 (and localhost): by IP address.
            let tls = TlsConnect::new(stack, "10.9.2.1", pki.ca.roots()).expect("a valid name");
            mqtt_round_trip(
                &tls,
                Tokio::new(),
                tls_addr,
                "portnet-tls-smoltcp",
                &payload,
            )
            .await?;
            // An untrusted CA over the same stack: a certificate error, no hang.
            let other = TlsConnect::new(stack, "10.9.2.1", Ca::new("other CA").roots())
                .expect("a valid name");
            let e = match portnet::time::timeout(
                &Tokio::new(),
                Duration::from_secs(10),
                other.connect(tls_addr),
            )
            .await
            {
                Ok(Ok(_)) => return Err("an untrusted CA was accepted".to_owned()),
                Ok(Err(e)) => e,
                Err(_) => return Err("the handshake did not end within 10 s".to_owned()),
            };
            if e.tls_kind() != Some(TlsKind::CertificateNotTrusted) {
                return Err(format!("untrusted CA gave {e:?}"));
            }
            // The same over embedded-tls (TLS 1.3, no alloc), which matches DNS
            // names only: the certificate's "localhost", at the broker's address.
            let read: &'static mut [u8] = Box::leak(vec![0u8; 2 * 16_640].into_boxed_slice());
            let write: &'static mut [u8] = Box::leak(vec![0u8; 2 * 4_096].into_boxed_slice());
            let embedded = portnet_tls::embedded::TlsConnect::new(
                stack,
                "localhost",
                ca_der,
                rand_core::OsRng,
                read,
                write,
            );
            mqtt_round_trip(
                &embedded,
                Tokio::new(),
                tls_addr,
                "portnet-embedded-tls-smoltcp",
                &payload,
            )
            .await
            .map_err(|e| format!("embedded-tls: {e}"))?;
            Ok::<_, String>(())
        });
        let work = pin!(tokio::time::timeout(Duration::from_secs(60), work));
        match select(work, pin!(stack.run())).await {
            Either::Left(result) => result,
            Either::Right(never) => match never {},
        }
    });
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) => panic!("{error}\nbroker log:\n{}", broker.log()),
        Err(_) => panic!("no result within 60 s\nbroker log:\n{}", broker.log()),
    }
    // The broker saw this client, from the smoltcp stack's address.
    let log = broker.log();
    assert!(
        log.contains("portnet-tls-smoltcp")
            && log.contains("portnet-embedded-tls-smoltcp")
            && log.contains(&STACK_V4.to_string()),
        "the broker's log does not show the client from {STACK_V4}:\n{log}"
    );
    drop(broker);
    drop(entered);
    drop(netns);
}
