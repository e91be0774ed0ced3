//! Properties of the SLIP codec: every frame survives encoding and decoding
//! however the line bytes are chunked, and no input makes the decoder panic or
//! lose count of frames.

use portnet_slip::codec::{END, ESC, ESC_END, ESC_ESC, encode, encoded_len};
use portnet_slip::{DecodeError, Decoder, Encoder};
use proptest::prelude::*;

const MTU: usize = 1500;

/// Frames rich in the two special bytes.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            3 => any::<u8>(),
            1 => Just(END),
            1 => Just(ESC),
            1 => Just(ESC_END),
            1 => Just(ESC_ESC),
        ],
        1..=MTU,
    )
}

/// Decodes `chunks` in order; returns every outcome, with the frames.
fn decode_chunks<'a>(
    decoder: &mut Decoder,
    chunks: impl IntoIterator<Item = &'a [u8]>,
    mtu: usize,
) -> Vec<Result<Vec<u8>, DecodeError>> {
    let mut buf = vec![0u8; mtu];
    let mut out = Vec::new();
    for chunk in chunks {
        let mut rest = chunk;
        // Each call uses at least one byte: bounded by the chunk's length.
        for _ in 0..=chunk.len() {
            if rest.is_empty() {
                break;
            }
            let (used, outcome) = decoder.decode(rest, &mut buf);
            assert!(used > 0 && used <= rest.len());
            rest = &rest[used..];
            if let Some(outcome) = outcome {
                out.push(outcome.map(|len| buf[..len].to_vec()));
            }
        }
        assert!(rest.is_empty());
    }
    out
}

fn encoded(frame: &[u8]) -> Vec<u8> {
    let mut line = vec![0u8; encoded_len(frame)];
    let n = encode(frame, &mut line).expect("encoded_len is enough");
    assert_eq!(n, line.len());
    line
}

proptest! {
    // Each case decodes its frame once per split point: up to 1500 times.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_frame_survives_a_split_at_every_byte(frame in frame()) {
        let line = encoded(&frame);
        for split in 0..=line.len() {
            let mut decoder = Decoder::new();
            let outcomes = decode_chunks(&mut decoder, [&line[..split], &line[split..]], MTU);
            // The leading END closes an empty frame, the trailing one ours.
            prop_assert_eq!(outcomes.len(), 2);
            prop_assert_eq!(&outcomes[0], &Err(DecodeError::Empty));
            prop_assert_eq!(&outcomes[1], &Ok(frame.clone()));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn frames_back_to_back_survive_any_chunking(
        frames in prop::collection::vec(frame(), 1..8),
        cuts in prop::collection::vec(1usize..64, 1..64),
        out_sizes in prop::collection::vec(1usize..32, 1..16),
    ) {
        // The streaming encoder, writing into outputs of varying sizes, the
        // way the link's runner packs frames into its write buffer.
        let mut line = Vec::new();
        for (i, frame) in frames.iter().enumerate() {
            let mut encoder = Encoder::new(i == 0);
            let mut sizes = out_sizes.iter().cycle();
            for _ in 0..=2 * MTU + 2 {
                if encoder.is_done() {
                    break;
                }
                let mut out = vec![0u8; *sizes.next().unwrap()];
                let n = encoder.encode(frame, &mut out);
                prop_assert!(n > 0);
                line.extend_from_slice(&out[..n]);
            }
            prop_assert!(encoder.is_done());
        }
        let expected_len: usize = frames.iter().map(|f| encoded_len(f)).sum::<usize>() + 1
            - frames.len();
        prop_assert_eq!(line.len(), expected_len);
        let mut chunks = Vec::new();
        let mut rest = &line[..];
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at((*cut).min(rest.len()));
            chunks.push(chunk);
            rest = tail;
        }
        let mut decoder = Decoder::new();
        let outcomes = decode_chunks(&mut decoder, chunks, MTU);
        let decoded: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).cloned().collect();
        prop_assert_eq!(decoded, frames.clone());
        prop_assert_eq!(decoder.stats().frames as usize, frames.len());
        prop_assert_eq!(decoder.stats().empty, 1);
    }

    #[test]
    fn any_input_gives_one_outcome_per_end_and_resynchronises(
        noise in prop::collection::vec(any::<u8>(), 0..4096),
        frame in frame(),
        mtu in 0usize..64,
    ) {
        let mut decoder = Decoder::new();
        let outcomes = decode_chunks(&mut decoder, [&noise[..]], mtu);
        let ends = noise.iter().filter(|&&b| b == END).count();
        prop_assert_eq!(outcomes.len(), ends);
        for frame in outcomes.iter().flatten() {
            prop_assert!(!frame.is_empty() && frame.len() <= mtu);
        }
        let stats = decoder.stats();
        prop_assert_eq!(
            (stats.frames + stats.empty + stats.bad_escape + stats.overlong) as usize,
            ends
        );
        // After whatever came before, a frame opened by END arrives intact.
        let outcomes = decode_chunks(&mut decoder, [&encoded(&frame)[..]], MTU);
        prop_assert_eq!(outcomes.last(), Some(&Ok(frame)));
    }
}

#[test]
fn an_overlong_frame_is_dropped_and_the_next_one_arrives() {
    let mut line = encoded(&[7u8; 100]);
    line.extend(encoded(&[8u8; 10]));
    let mut decoder = Decoder::new();
    let outcomes = decode_chunks(&mut decoder, [&line[..]], 50);
    assert_eq!(
        outcomes,
        vec![
            Err(DecodeError::Empty),
            Err(DecodeError::Overlong),
            Err(DecodeError::Empty),
            Ok(vec![8u8; 10]),
        ]
    );
    assert_eq!(decoder.stats().overlong, 1);
}
