//! `IpAddrExt::is_global` against every entry of the IANA IPv4 and IPv6
//! Special-Purpose Address Registries: an address at the start and one at the end
//! of each block, with the registry's "Globally Reachable" answer (N/A counts as
//! not global). Single-address exceptions are listed after their enclosing block.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use core_net::{IpAddrExt, Ipv6MulticastScope};

const IPV4: &[(&str, &str, bool)] = &[
    ("0.0.0.0", "0.255.255.255", false),           // "This network"
    ("10.0.0.0", "10.255.255.255", false),         // private use
    ("100.64.0.0", "100.127.255.255", false),      // shared address space
    ("127.0.0.0", "127.255.255.255", false),       // loopback
    ("169.254.0.0", "169.254.255.255", false),     // link local
    ("172.16.0.0", "172.31.255.255", false),       // private use
    ("192.0.0.0", "192.0.0.8", false), // IETF protocol assignments, IPv4 service continuity, dummy
    ("192.0.0.9", "192.0.0.9", true),  // port control protocol anycast
    ("192.0.0.10", "192.0.0.10", true), // TURN anycast
    ("192.0.0.170", "192.0.0.171", false), // NAT64/DNS64 discovery
    ("192.0.2.0", "192.0.2.255", false), // documentation (TEST-NET-1)
    ("192.31.196.0", "192.31.196.255", true), // AS112-v4
    ("192.52.193.0", "192.52.193.255", true), // AMT
    ("192.168.0.0", "192.168.255.255", false), // private use
    ("192.175.48.0", "192.175.48.255", true), // direct delegation AS112
    ("198.18.0.0", "198.19.255.255", false), // benchmarking
    ("198.51.100.0", "198.51.100.255", false), // documentation (TEST-NET-2)
    ("203.0.113.0", "203.0.113.255", false), // documentation (TEST-NET-3)
    ("240.0.0.0", "255.255.255.254", false), // reserved
    ("255.255.255.255", "255.255.255.255", false), // limited broadcast
    ("1.1.1.1", "8.8.8.8", true),      // ordinary unicast
];

const IPV6: &[(&str, &str, bool)] = &[
    ("::1", "::1", false),                                         // loopback
    ("::", "::", false),                                           // unspecified
    ("::ffff:0:0", "::ffff:ffff:ffff", false),                     // IPv4-mapped
    ("64:ff9b::", "64:ff9b::ffff:ffff", true),                     // IPv4-IPv6 translation
    ("64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", false),  // local-use translation
    ("100::", "100::ffff:ffff:ffff:ffff", false),                  // discard-only
    ("100:0:0:1::", "100:0:0:1:ffff:ffff:ffff:ffff", false),       // dummy prefix
    ("2001::", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", false), // IETF protocol assignments, TEREDO
    ("2001:1::1", "2001:1::1", true),                            // port control protocol anycast
    ("2001:1::2", "2001:1::2", true),                            // TURN anycast
    ("2001:1::3", "2001:1::3", true), // DNS-SD service registration anycast
    ("2001:2::", "2001:2:0:ffff:ffff:ffff:ffff:ffff", false), // benchmarking
    ("2001:3::", "2001:3:ffff:ffff:ffff:ffff:ffff:ffff", true), // AMT
    ("2001:4:112::", "2001:4:112:ffff:ffff:ffff:ffff:ffff", true), // AS112-v6
    ("2001:10::", "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff", false), // deprecated ORCHID
    ("2001:20::", "2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", true), // ORCHIDv2
    ("2001:30::", "2001:3f:ffff:ffff:ffff:ffff:ffff:ffff", true), // drone remote ID
    (
        "2001:db8::",
        "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
        false,
    ), // documentation
    ("2002::", "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false), // 6to4 (N/A)
    (
        "2620:4f:8000::",
        "2620:4f:8000:ffff:ffff:ffff:ffff:ffff",
        true,
    ), // direct delegation AS112
    ("3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", false), // documentation
    ("5f00::", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false), // segment routing SIDs
    ("fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false), // unique local
    ("fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false), // link local
    ("2606:4700::1111", "2a00:1450::1", true), // ordinary global unicast
];

#[test]
fn ipv4_registry() {
    for &(first, last, global) in IPV4 {
        for text in [first, last] {
            let addr: Ipv4Addr = text.parse().unwrap();
            assert_eq!(IpAddrExt::is_global(&addr), global, "{text}");
            assert_eq!(
                IpAddrExt::is_global(&IpAddr::V4(addr)),
                global,
                "{text} as IpAddr"
            );
        }
    }
}

#[test]
fn ipv6_registry() {
    for &(first, last, global) in IPV6 {
        for text in [first, last] {
            let addr: Ipv6Addr = text.parse().unwrap();
            assert_eq!(IpAddrExt::is_global(&addr), global, "{text}");
        }
    }
}

#[test]
fn classification_helpers() {
    let v4 = |s: &str| -> Ipv4Addr { s.parse().unwrap() };
    let v6 = |s: &str| -> Ipv6Addr { s.parse().unwrap() };
    assert!(IpAddrExt::is_shared(&v4("100.64.0.1")) && !IpAddrExt::is_shared(&v4("100.128.0.1")));
    assert!(
        IpAddrExt::is_benchmarking(&v4("198.19.1.1"))
            && IpAddrExt::is_benchmarking(&v6("2001:2::9"))
    );
    assert!(
        IpAddrExt::is_documentation(&v6("3fff::1")) && !IpAddrExt::is_documentation(&v6("4000::1"))
    );
    assert!(
        IpAddrExt::is_reserved(&v4("250.1.1.1")) && !IpAddrExt::is_reserved(&v4("255.255.255.255"))
    );
    assert!(
        IpAddrExt::is_unicast_link_local(&v6("febf::1"))
            && !IpAddrExt::is_unicast_link_local(&v6("fec0::1"))
    );
    assert!(IpAddrExt::is_unique_local(&v6("fd12::1")));
    assert_eq!(
        IpAddrExt::multicast_scope(&v6("ff02::1")),
        Some(Ipv6MulticastScope::LinkLocal)
    );
    assert_eq!(
        IpAddrExt::multicast_scope(&v6("ff0e::1")),
        Some(Ipv6MulticastScope::Global)
    );
    assert_eq!(IpAddrExt::multicast_scope(&v6("ff0f::1")), None);
    assert!(IpAddrExt::is_global(&v6("ff0e::1")) && !IpAddrExt::is_global(&v6("ff05::1")));
    assert!(!IpAddrExt::is_unicast_global(&v6("ff0e::1")));
    assert_eq!(
        IpAddrExt::to_canonical(&v6("::ffff:192.0.2.1")),
        IpAddr::V4(v4("192.0.2.1"))
    );
    assert_eq!(
        IpAddrExt::to_canonical(&v6("::1")),
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    );
}
