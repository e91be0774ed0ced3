//! The SLIP decoder on hostile line bytes, fed in chunks of fuzzer-chosen
//! sizes into a frame buffer of a fuzzer-chosen MTU: it never panics, reports
//! exactly one outcome per END byte, its counters agree, no frame is empty or
//! longer than the MTU, and every frame it accepts encodes and decodes back to
//! itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portnet_slip::codec::{END, encode, encoded_len};
use portnet_slip::{Decoder, Encoder};

fuzz_target!(|data: &[u8]| {
    let [mtu, step, line @ ..] = data else { return };
    let mtu = usize::from(*mtu) * 8;
    let step = usize::from(*step).max(1);
    let mut frame = vec![0u8; mtu];
    let mut decoder = Decoder::new();
    let mut outcomes = 0;
    for chunk in line.chunks(step) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let (used, outcome) = decoder.decode(rest, &mut frame);
            assert!(used >= 1 && used <= rest.len());
            rest = &rest[used..];
            let Some(outcome) = outcome else { continue };
            outcomes += 1;
            let Ok(len) = outcome else { continue };
            assert!(len >= 1 && len <= mtu);
            check_round_trip(&frame[..len], step);
        }
    }
    assert_eq!(outcomes, line.iter().filter(|&&b| b == END).count());
    let stats = decoder.stats();
    assert_eq!(
        (stats.frames + stats.empty + stats.bad_escape + stats.overlong) as usize,
        outcomes
    );
});

/// One-shot and streaming encodings agree, and decode back to `frame`.
fn check_round_trip(frame: &[u8], step: usize) {
    let mut line = vec![0u8; encoded_len(frame)];
    assert_eq!(encode(frame, &mut line), Ok(line.len()));
    let mut streamed = Vec::with_capacity(line.len());
    let mut encoder = Encoder::new(true);
    let mut out = vec![0u8; step];
    while !encoder.is_done() {
        let n = encoder.encode(frame, &mut out);
        assert!(n >= 1);
        streamed.extend_from_slice(&out[..n]);
    }
    assert_eq!(streamed, line);
    let mut decoder = Decoder::new();
    let mut buf = vec![0u8; frame.len()];
    let (used, first) = decoder.decode(&line, &mut buf);
    assert_eq!(first, Some(Err(portnet_slip::DecodeError::Empty)));
    assert_eq!(
        decoder.decode(&line[used..], &mut buf),
        (line.len() - used, Some(Ok(frame.len())))
    );
    assert_eq!(buf, frame);
}
