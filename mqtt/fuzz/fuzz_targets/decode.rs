//! Decodes arbitrary bytes as MQTT 3.1.1 and 5.0 packets. The decoder must never
//! panic, and every packet it accepts must re-encode into bytes that decode to the
//! same packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portnet_mqtt::codec::{Packet, Version, decode, topic_matches};

fuzz_target!(|data: &[u8]| {
    for version in [Version::V3_1_1, Version::V5] {
        let mut rest = data;
        // Decode a stream of packets, as a client reads them.
        for _ in 0..16 {
            let Ok(Some((packet, used))) = decode(rest, version) else { break };
            assert!(used > 0 && used <= rest.len());
            let v = match packet {
                Packet::Connect(c) => c.version,
                _ => version,
            };
            let mut out = [0u8; 4096];
            if let Ok(n) = packet.encode(v, &mut out) {
                let (again, m) = decode(&out[..n], v).expect("re-encoded packet decodes").expect("complete");
                assert_eq!(m, n);
                assert_eq!(again, packet);
            } else {
                // Only a packet larger than the scratch buffer may fail to re-encode.
                assert!(used > out.len() - 16, "decoded packet does not re-encode: {packet:?}");
            }
            if let Packet::Publish(p) = packet {
                let _ = topic_matches("a/+/#", p.topic);
            }
            rest = &rest[used..];
        }
    }
});
