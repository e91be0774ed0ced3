//! Hostile bytes into the SLIP decoder, in two chunks split where the first
//! byte says: no panic; every packet it yields fits its capacity; and every
//! packet re-encoded and decoded again comes back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portnet_slip::{Decoder, encode};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, bytes)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(bytes.len());
    let mut decoder = Decoder::<64>::new();
    let mut packets: Vec<Vec<u8>> = Vec::new();
    decoder.feed(&bytes[..cut], |p| packets.push(p.to_vec()));
    decoder.feed(&bytes[cut..], |p| packets.push(p.to_vec()));
    for packet in packets {
        assert!(!packet.is_empty() && packet.len() <= 64);
        let mut wire = Vec::new();
        encode(&packet, |b| wire.push(b));
        let mut again = Decoder::<64>::new();
        let mut back = Vec::new();
        again.feed(&wire, |p| back.push(p.to_vec()));
        assert_eq!(back, vec![packet]);
    }
});
