//! Parsing arbitrary bytes never panics, and whatever parses prints as text that
//! parses back to the same endpoint.
#![no_main]

use core_net::{Endpoint, Host};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else { return };
    if let Ok(endpoint) = Endpoint::parse(text) {
        let printed = endpoint.to_string();
        assert_eq!(Endpoint::parse(&printed), Ok(endpoint), "{text:?} printed as {printed:?}");
    }
    if let Ok(host) = Host::parse(text) {
        let printed = host.to_string();
        assert_eq!(Host::parse(&printed), Ok(host), "{text:?} printed as {printed:?}");
    }
    let _ = Endpoint::parse_with_default_port(text, 1883);
});
