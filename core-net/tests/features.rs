//! The optional features: `no-std-net` conversions and `serde` as text.

#[cfg(feature = "no-std-net")]
#[test]
fn no_std_net_round_trip() {
    use core_net::no_std_net_conv::{
        from_no_std_net, ip_from_no_std_net, ip_to_no_std_net, to_no_std_net,
    };
    for text in ["192.0.2.1:80", "[2001:db8::1]:443", "[fe80::1%4]:5683"] {
        let addr: core::net::SocketAddr = text.parse().unwrap();
        assert_eq!(from_no_std_net(to_no_std_net(addr)), addr);
        assert_eq!(ip_from_no_std_net(ip_to_no_std_net(addr.ip())), addr.ip());
    }
}

#[cfg(feature = "serde")]
#[test]
fn serde_as_borrowed_text() {
    use core_net::Endpoint;
    let endpoint = Endpoint::parse("[fe80::1%eth0]:1883").unwrap();
    let json = serde_json::to_string(&endpoint).unwrap();
    assert_eq!(json, "\"[fe80::1%eth0]:1883\"");
    let back: Endpoint<'_> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, endpoint);
    let err = serde_json::from_str::<Endpoint<'_>>("\"host:99999\"").unwrap_err();
    assert!(err.to_string().contains("port out of range"), "{err}");
}
