//! Properties: what is printed parses back to the same value, and no input, however
//! odd, makes parsing panic.

use core::net::{Ipv4Addr, Ipv6Addr};

use core_net::{Endpoint, Host, Zone};
use proptest::prelude::*;

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?"
}

fn name() -> impl Strategy<Value = String> {
    (prop::collection::vec(label(), 1..5), "[a-z][a-z0-9]{0,5}")
        .prop_map(|(labels, tld)| format!("{}.{tld}", labels.join(".")))
}

fn zone() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        any::<u32>().prop_map(|i| Some(i.to_string())),
        "[a-z][a-z0-9]{0,14}".prop_map(Some),
    ]
}

proptest! {
    #[test]
    fn ipv4_endpoints_round_trip(octets in any::<[u8; 4]>(), port in any::<u16>()) {
        let text = format!("{}:{port}", Ipv4Addr::from(octets));
        let endpoint = Endpoint::parse(&text).unwrap();
        prop_assert_eq!(endpoint.to_string(), text);
    }

    #[test]
    fn ipv6_endpoints_round_trip(bits in any::<u128>(), zone in zone(), port in any::<u16>()) {
        let addr = Ipv6Addr::from(bits);
        let text = match &zone {
            Some(zone) => format!("[{addr}%{zone}]:{port}"),
            None => format!("[{addr}]:{port}"),
        };
        let endpoint = Endpoint::parse(&text).unwrap();
        prop_assert_eq!(endpoint.to_string(), text.clone());
        if let Host::Ipv6 { zone: Some(Zone::Index(i)), .. } = endpoint.host() {
            prop_assert_eq!(Some(i.to_string()), zone);
        }
    }

    #[test]
    fn name_endpoints_round_trip(name in name(), port in any::<u16>()) {
        let text = format!("{name}:{port}");
        let endpoint = Endpoint::parse(&text).unwrap();
        prop_assert_eq!(endpoint.to_string(), text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,300}") {
        if let Ok(endpoint) = Endpoint::parse(&text) {
            // Whatever parses prints as something that parses to the same value.
            let printed = endpoint.to_string();
            prop_assert_eq!(Endpoint::parse(&printed).unwrap(), endpoint);
        }
        let _ = Endpoint::parse_with_default_port(&text, 1);
        let _ = Host::parse(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Endpoint::parse(&text);
        let _ = Host::parse(&text);
    }
}
