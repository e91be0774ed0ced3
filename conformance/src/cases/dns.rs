//! DNS cases: literals, invalid names, silent servers, the order of
//! `resolve_all`, an empty output buffer.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::time::Duration;

use core::pin::pin;

use portnet::future::{Either, select};
use portnet::time::timeout;
use portnet::{AddrFamily, Dns, Error, ErrorKind, UdpBind, UdpSocket, UdpSocketExt};

use crate::support::{Check, PROMPT, expect_error, need, prompt, within};
use crate::{Capability, CaseResult, Harness, Outcome, ensure, fail};

/// Literals and the family each is asked with.
const LITERALS: [(&str, IpAddr, AddrFamily); 5] = [
    (
        "127.0.0.1",
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        AddrFamily::Ipv4,
    ),
    (
        "10.0.2.2",
        IpAddr::V4(Ipv4Addr::new(10, 0, 2, 2)),
        AddrFamily::Any,
    ),
    ("::1", IpAddr::V6(Ipv6Addr::LOCALHOST), AddrFamily::Ipv6),
    (
        "fd00::2",
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2)),
        AddrFamily::Any,
    ),
    (
        "192.0.2.1",
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        AddrFamily::Any,
    ),
];

/// Case `dns.resolve.literal`: an IP address literal resolves to itself, through
/// `resolve` and `resolve_all` (one address), without a query.
pub async fn resolve_literal<H: Harness>(h: &H) -> CaseResult {
    let dns = need(h.dns(), Capability::Dns)?;
    for (host, ip, family) in LITERALS {
        let got = prompt(h, "resolve a literal", dns.resolve(host, family)).await?;
        ensure!(got == ip, "resolve({host:?}, {family:?}) gave {got}");
        let mut out = [IpAddr::V4(Ipv4Addr::UNSPECIFIED); 4];
        let n = prompt(
            h,
            "resolve_all a literal",
            dns.resolve_all(host, family, &mut out),
        )
        .await?;
        ensure!(
            n == 1 && out[0] == ip,
            "resolve_all({host:?}, {family:?}) gave {:?}",
            &out[..n.min(out.len())]
        );
    }
    Ok(())
}

/// Writes a name of `labels` labels of `len` letters each into `buf`.
fn long_name(buf: &mut [u8; 320], labels: usize, len: usize) -> &str {
    let mut at = 0;
    for label in 0..labels {
        if label > 0 {
            buf[at] = b'.';
            at += 1;
        }
        for b in &mut buf[at..at + len] {
            *b = b'a';
        }
        at += len;
    }
    core::str::from_utf8(&buf[..at]).unwrap_or("")
}

/// Case `dns.resolve.invalid_name`: a name that breaks RFC 1123 (empty, an empty
/// label, a label over 63 bytes, a name over 253 bytes, a byte other than
/// letters, digits, `-` and `.`) fails with `InvalidInput`, through both methods.
pub async fn resolve_invalid_name<H: Harness>(h: &H) -> CaseResult {
    let dns = need(h.dns(), Capability::Dns)?;
    let mut label_buf = [0u8; 320];
    let mut name_buf = [0u8; 320];
    // 64 letters in one label; 4 labels of 63 and one of 2: 256 bytes.
    let long_label = long_name(&mut label_buf, 1, 64);
    let long = long_name(&mut name_buf, 5, 63);
    let names = [
        "",
        "a..example",
        ".example",
        long_label,
        &long[..long.len().min(254)],
        "bad_name.example",
        "white space.example",
        "caf\u{e9}.example",
    ];
    let limit = PROMPT.saturating_mul(h.patience());
    for name in names {
        let shown = &name[..name.len().min(40)];
        let Ok(result) = timeout(h.clock(), limit, dns.resolve(name, AddrFamily::Any)).await else {
            fail!(
                "resolve({shown:?}) gave no result within {limit:?}: an invalid name must fail at once, without a query"
            );
        };
        check_invalid(result.map(|_| ()), name, "resolve")?;
        let mut out = [IpAddr::V4(Ipv4Addr::UNSPECIFIED); 2];
        let all = dns.resolve_all(name, AddrFamily::Any, &mut out);
        let Ok(result) = timeout(h.clock(), limit, all).await else {
            fail!(
                "resolve_all({shown:?}) gave no result within {limit:?}: an invalid name must fail at once, without a query"
            );
        };
        check_invalid(result.map(|_| ()), name, "resolve_all")?;
    }
    Ok(())
}

/// The name `dns.resolve.no_such_name` resolves (the peer's DNS server answers
/// that it has no address).
pub const NO_SUCH_NAME: &str = "nx.portnet.example";

/// How many queries the peer's DNS server answers in one resolution (a resolver
/// may ask for each family and retry).
const QUERIES: usize = 8;

/// Turns the DNS query in `msg` into a reply with `rcode` and no records, echoing
/// its question; the reply's length, or `None` for anything that is not a query.
fn empty_reply(msg: &mut [u8], rcode: u8) -> Option<usize> {
    if msg.len() < 12 || msg[2] & 0x80 != 0 {
        return None;
    }
    // The question: labels up to the root, then type and class.
    let mut at = 12;
    for _ in 0..128 {
        let len = usize::from(*msg.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len & 0xc0 != 0 {
            return None;
        }
        at += len;
    }
    let end = at + 4;
    if end > msg.len() {
        return None;
    }
    // QR, the query's RD kept; RA and the code; one question, no records.
    msg[2] = 0x80 | (msg[2] & 0x01);
    msg[3] = 0x80 | (rcode & 0x0f);
    msg[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    Some(end)
}

/// Answers up to [`QUERIES`] queries arriving on `socket` with `rcode` and no records.
async fn serve_empty<S: UdpSocket>(socket: &S, rcode: u8) -> Result<(), S::Error> {
    let mut buf = [0u8; 512];
    for _ in 0..QUERIES {
        let (n, from) = socket.recv_from(&mut buf).await?;
        if let Some(len) = empty_reply(&mut buf[..n.min(512)], rcode) {
            socket.send_to(&buf[..len], from).await?;
        }
    }
    Ok(())
}

/// Case `dns.resolve.no_such_name`: with the peer playing the stack's DNS server,
/// a name it answers with NXDOMAIN, and one it answers with no record, fail with
/// `NameNotResolved` through `resolve_all` and `resolve`: "no such name" is not
/// "no answer" (`TimedOut`).
pub async fn resolve_no_such_name<H: Harness>(h: &H) -> CaseResult {
    let dns = need(h.dns(), Capability::Dns)?;
    let server = need(h.dns_server(), Capability::DnsServer)?;
    let socket = prompt(
        h,
        "peer bind of the DNS server's address",
        h.peer().bind(server),
    )
    .await?;
    for (rcode, answer) in [(3, "NXDOMAIN"), (0, "no record")] {
        for method in ["resolve_all", "resolve"] {
            let mut out = [IpAddr::V4(Ipv4Addr::UNSPECIFIED); 2];
            let result = async {
                if method == "resolve" {
                    dns.resolve(NO_SUCH_NAME, AddrFamily::Any).await.map(|_| 0)
                } else {
                    dns.resolve_all(NO_SUCH_NAME, AddrFamily::Any, &mut out)
                        .await
                }
            };
            let query = pin!(within(h, PROMPT, method, result));
            let serve = pin!(serve_empty(&socket, rcode));
            match select(query, serve).await {
                Either::Left(result) => match result? {
                    Err(e) if e.kind() == ErrorKind::NameNotResolved => {}
                    Err(e) => fail!(
                        "{method}({NO_SUCH_NAME:?}) answered with {answer} failed with kind {:?}, expected NameNotResolved",
                        e.kind()
                    ),
                    Ok(n) => fail!(
                        "{method}({NO_SUCH_NAME:?}) answered with {answer} gave {n} addresses"
                    ),
                },
                Either::Right(served) => {
                    served.check("the peer's DNS server")?;
                    fail!(
                        "{method}({NO_SUCH_NAME:?}): {QUERIES} queries answered with {answer} and still no result"
                    );
                }
            }
        }
    }
    Ok(())
}

/// How long `dns.resolve.no_answer` waits for a resolver to give up (times the
/// harness's patience): longer than the resolvers of the field take with one
/// silent server (smoltcp gives up about 15 s after its first query: its 10 s
/// timeout is checked at its next retransmission), within the case's deadline
/// ([`crate::CASE_DEADLINE`]).
const GIVE_UP: Duration = Duration::from_secs(25);

/// Case `dns.resolve.no_answer`: `resolve_all` of a valid name for which no server
/// answers fails with `TimedOut` once the stack's own timeout has passed: "no
/// answer" is not "no such name" (`NameNotResolved`), and a resolver gives up
/// rather than wait forever. (One call: `resolve` is `resolve_all`'s first
/// address, and two silent waits would not fit in the case's deadline.)
pub async fn resolve_no_answer<H: Harness>(h: &H) -> CaseResult {
    let dns = need(h.dns(), Capability::Dns)?;
    let name = need(h.dns_silent_name(), Capability::DnsSilent)?;
    let limit = GIVE_UP.saturating_mul(h.patience());
    let mut out = [IpAddr::V4(Ipv4Addr::UNSPECIFIED); 2];
    let query = dns.resolve_all(name, AddrFamily::Any, &mut out);
    match timeout(h.clock(), limit, query).await {
        Err(_) => fail!(
            "resolve_all({name:?}) with no server answering gave no result within {limit:?}: a resolver must give up with TimedOut"
        ),
        Ok(Err(e)) if e.kind() == ErrorKind::TimedOut => Ok(()),
        Ok(Err(e)) => fail!(
            "resolve_all({name:?}) with no server answering failed with kind {:?}, expected TimedOut (NameNotResolved is for a name the servers answered without an address)",
            e.kind()
        ),
        Ok(Ok(n)) => fail!("resolve_all({name:?}) gave {n} addresses though no server answers"),
    }
}

fn check_invalid<E: Error>(result: Result<(), E>, name: &str, method: &str) -> CaseResult {
    match result {
        Err(e) if e.kind() == ErrorKind::InvalidInput => Ok(()),
        Err(e) => fail!(
            "{method} of the invalid name {:?} failed with kind {:?}, expected InvalidInput",
            &name[..name.len().min(40)],
            e.kind()
        ),
        Ok(()) => fail!(
            "{method} of the invalid name {:?} succeeded",
            &name[..name.len().min(40)]
        ),
    }
}

/// Case `dns.resolve_all.order`: `resolve_all` of a name the resolver answers
/// writes at least one address and no more than fit; with `Any` every IPv4
/// address comes before every IPv6 one; each address is of the family asked;
/// `resolve` gives the first address `resolve_all` gives.
pub async fn resolve_all_order<H: Harness>(h: &H) -> CaseResult {
    let dns = need(h.dns(), Capability::Dns)?;
    let name = need(h.dns_name(), Capability::DnsName)?;
    let mut out = [IpAddr::V4(Ipv4Addr::UNSPECIFIED); 8];
    let n = prompt(
        h,
        "resolve_all",
        dns.resolve_all(name, AddrFamily::Any, &mut out),
    )
    .await?;
    ensure!(
        (1..=out.len()).contains(&n),
        "resolve_all({name:?}) reported {n} addresses into a buffer of {}",
        out.len()
    );
    let answer = &out[..n];
    if let Some(v6) = answer.iter().position(IpAddr::is_ipv6) {
        ensure!(
            answer[v6..].iter().all(IpAddr::is_ipv6),
            "resolve_all({name:?}, Any) put an IPv4 address after an IPv6 one: {answer:?}"
        );
    }
    let first = prompt(h, "resolve", dns.resolve(name, AddrFamily::Any)).await?;
    ensure!(
        first == answer[0],
        "resolve({name:?}) gave {first}, resolve_all's first address is {}",
        answer[0]
    );
    for family in [AddrFamily::Ipv4, AddrFamily::Ipv6] {
        let mut out = [IpAddr::V4(Ipv4Addr::UNSPECIFIED); 8];
        match within(
            h,
            PROMPT,
            "resolve_all",
            dns.resolve_all(name, family, &mut out),
        )
        .await?
        {
            Ok(n) => {
                let got = &out[..n.min(out.len())];
                ensure!(
                    n >= 1 && got.iter().all(|ip| family.matches(*ip)),
                    "resolve_all({name:?}, {family:?}) gave {got:?}"
                );
            }
            Err(e) if e.kind() == ErrorKind::NameNotResolved => {
                let expected = answer.iter().any(|ip| family.matches(*ip));
                ensure!(
                    !expected,
                    "resolve_all({name:?}, {family:?}) found nothing, but Any gave {answer:?}"
                );
            }
            Err(e) => fail!(
                "resolve_all({name:?}, {family:?}) failed with kind {:?}",
                e.kind()
            ),
        }
    }
    Ok(())
}

/// Case `dns.resolve_all.empty_out`: `resolve_all` into an empty buffer fails with
/// `InvalidInput`, for a literal and for a name.
pub async fn resolve_all_empty_out<H: Harness>(h: &H) -> CaseResult {
    let dns = need(h.dns(), Capability::Dns)?;
    let mut hosts: [Option<&str>; 2] = [Some("127.0.0.1"), h.dns_name()];
    for host in hosts.iter_mut().filter_map(Option::take) {
        let what = "resolve_all into an empty buffer";
        let result = within(
            h,
            PROMPT,
            what,
            dns.resolve_all(host, AddrFamily::Any, &mut []),
        )
        .await?;
        expect_error(result, &[ErrorKind::InvalidInput], what).map_err(
            |outcome| match outcome {
                Outcome::Fail(detail) => {
                    Outcome::Fail(crate::Detail::from_args(format_args!("{host:?}: {detail}")))
                }
                other => other,
            },
        )?;
    }
    Ok(())
}
