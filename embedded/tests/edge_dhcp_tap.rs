//! edge-dhcp's server, unmodified, over portnet's smoltcp backend: the server
//! gets a smoltcp UDP socket as an edge-nal `UdpBind` socket through
//! [`EdgeNal`], and a real DHCP client (busybox's `udhcpc`, Debian package
//! `busybox`) on the kernel's side of a TAP device gets a lease from it.
//!
//! The smoltcp stack (10.9.8.2) runs on a TAP device inside a network namespace
//! the test creates; udhcpc runs in the same namespace (`ip netns exec`) on the
//! TAP device, with a script of the test's that records what it was given. The
//! client's own limits (`-t`, `-T`, `-A`, `-n`) and the test's timeout bound the
//! run. Nothing leaves the namespace. Where namespaces or TAP devices cannot be
//! made, the test prints `SKIPPED:` with the reason and passes.
#![cfg(target_os = "linux")]
#![allow(clippy::std_instead_of_core)]

mod support;
// edge-dhcp's `io` module links embassy-time.
#[path = "support/host_time.rs"]
mod host_time;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::pin::pin;
use std::time::Duration;

use edge_dhcp::io::server::run;
use edge_dhcp::server::{Server, ServerOptions};
use portnet::future::{Either, select};
use portnet_embedded::EdgeNal;
use portnet_links::tap::{NetNs, Tap};
use portnet_smoltcp::{Cidr, Config, Stack, StackResources, UdpPool};
use portnet_tokio::Tokio;

const STACK_V4: Ipv4Addr = Ipv4Addr::new(10, 9, 8, 2);
const TAP_NAME: &str = "pndhcp0";
const LEASE_SECS: u32 = 600;

type TapStack = Stack<'static, Tap, Tokio>;

fn smoltcp_stack(tap: Tap) -> &'static TapStack {
    let config = Config::ipv4_static(Cidr::new(STACK_V4, 24), None);
    let resources: &'static mut StackResources<'static, 4> =
        Box::leak(Box::new(StackResources::new()));
    let udp: &'static mut UdpPool<1, 2048, 4> = Box::leak(Box::new(UdpPool::new()));
    let sockets = resources.sockets().udp(udp).expect("the pool fits");
    Box::leak(Box::new(
        Stack::new(tap, Tokio::new(), config, sockets).expect("a valid configuration"),
    ))
}

/// Runs udhcpc on the TAP device until it holds a lease (`-q`), or gives up
/// after 5 discovers a second apart (`-n`). It asks for no broadcast replies:
/// edge-dhcp broadcasts its answers to a client without an address anyway.
/// Returns what the script recorded.
async fn udhcpc(netns: &NetNs, dir: &Path) -> Result<String, String> {
    let record = dir.join("events");
    let script = dir.join("script.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1 ip=$ip subnet=$subnet router=$router serverid=$serverid lease=$lease\" >> {}\n",
            record.display()
        ),
    )
    .map_err(|e| format!("writing the script: {e}"))?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod the script: {e}"))?;
    let output = tokio::process::Command::new("ip")
        .args(["netns", "exec", netns.name()])
        .arg(support::busybox_binary())
        .args(["udhcpc", "-f", "-q", "-n", "-t", "5", "-T", "1", "-A", "1"])
        .args(["-i", TAP_NAME, "-s"])
        .arg(&script)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("running udhcpc: {e}"))?;
    let events = std::fs::read_to_string(&record).unwrap_or_default();
    if !output.status.success() {
        return Err(format!(
            "udhcpc exited with {}: {}{}\nscript saw:\n{events}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        ));
    }
    Ok(events)
}

#[test]
fn udhcpc_gets_a_lease_from_edge_dhcp_on_a_smoltcp_udp_socket() {
    let (netns, entered, tap) = match support::namespace(
        "edge-dhcp",
        TAP_NAME,
        [0x02, 0, 0, 0, 0x09, 0x42],
        "10.9.8.1/24",
    ) {
        Ok(parts) => parts,
        Err(reason) => {
            println!("SKIPPED: cannot create a network namespace with a TAP device: {reason}");
            return;
        }
    };
    let dir = std::env::temp_dir().join(format!("portnet-edge-dhcp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let stack = smoltcp_stack(tap);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    let mut server = Server::<_, 4>::new(now, STACK_V4);
    let mut gateway = [Ipv4Addr::UNSPECIFIED];
    let mut options = ServerOptions::new(STACK_V4, Some(&mut gateway));
    options.lease_duration_secs = LEASE_SECS;
    let outcome = runtime.block_on(async {
        let edge = EdgeNal::new(stack);
        let mut socket =
            edge_nal::UdpBind::bind(&edge, SocketAddr::from((Ipv4Addr::UNSPECIFIED, 67)))
                .await
                .expect("bind UDP port 67 on the smoltcp stack");
        let mut buf = vec![0u8; 1500];
        let serving = pin!(run(&mut server, &options, &mut socket, &mut buf));
        let client = pin!(tokio::time::timeout(
            Duration::from_secs(30),
            udhcpc(&netns, &dir)
        ));
        match select(pin!(select(client, serving)), pin!(stack.run())).await {
            Either::Left(Either::Left(result)) => result,
            Either::Left(Either::Right(stopped)) => panic!("the server stopped: {stopped:?}"),
            Either::Right(never) => match never {},
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    let events = match outcome {
        Ok(Ok(events)) => events,
        Ok(Err(error)) => panic!("{error}"),
        Err(_) => panic!("udhcpc did not end within 30 s"),
    };
    // The server's first address of its range, to the only client.
    let leased = Ipv4Addr::new(10, 9, 8, 50);
    let bound = events
        .lines()
        .find(|line| line.starts_with("bound "))
        .unwrap_or_else(|| panic!("udhcpc got no lease; its script saw:\n{events}"));
    assert_eq!(
        bound,
        format!(
            "bound ip={leased} subnet=255.255.255.0 router={STACK_V4} serverid={STACK_V4} lease={LEASE_SECS}"
        ),
        "the lease udhcpc was given"
    );
    assert!(
        server.leases.contains_key(&leased),
        "the server holds no lease for {leased}"
    );
    drop(entered);
    drop(netns);
}
