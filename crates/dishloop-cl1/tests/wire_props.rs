//! Property tests over the wire formats: decoding arbitrary bytes never panics, and every valid
//! packet survives encode → decode → encode bit-exactly (NaN payloads included).

use dishloop_cl1::wire::bl1::{ActionV1, StatsV1};
use dishloop_cl1::wire::doom::{DoomSpikes, DoomStim, EventPacket, Feedback, FeedbackKind};
use dishloop_cl1::wire::firehose::FirehosePacket;
use dishloop_cl1::wire::video::{VideoSpikes, VideoStim};
use proptest::prelude::*;

fn any_f32_bits() -> impl Strategy<Value = f32> {
    any::<u32>().prop_map(f32::from_bits)
}

fn f32_array<const N: usize>() -> impl Strategy<Value = [f32; N]> {
    proptest::collection::vec(any_f32_bits(), N).prop_map(|v| {
        let mut a = [0.0f32; N];
        a.copy_from_slice(&v);
        a
    })
}

fn bits<const N: usize>(a: &[f32; N]) -> Vec<u32> {
    a.iter().map(|f| f.to_bits()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        let _ = VideoStim::decode(&bytes);
        let _ = VideoSpikes::decode(&bytes);
        let _ = DoomStim::decode(&bytes);
        let _ = DoomSpikes::decode(&bytes);
        let _ = Feedback::decode(&bytes);
        let _ = EventPacket::decode(&bytes);
        let _ = StatsV1::decode(&bytes);
        let _ = ActionV1::decode(&bytes);
        let _ = FirehosePacket::decode(&bytes);
        if let Ok(s) = VideoStim::decode(&bytes) { let _ = s.validate(); }
        if let Ok(f) = Feedback::decode(&bytes) { let _ = f.validate(); let _ = f.name(); }
    }

    #[test]
    fn exact_size_bytes_round_trip(seed in proptest::collection::vec(any::<u8>(), 520)) {
        // Every 520/264/72/40-byte datagram decodes and re-encodes to the same bytes.
        let s = VideoStim::decode(&seed).expect("any 520 bytes decode");
        prop_assert_eq!(&s.encode()[..], &seed[..]);
        let r = VideoSpikes::decode(&seed[..264]).expect("any 264 bytes decode");
        prop_assert_eq!(&r.encode()[..], &seed[..264]);
        let d = DoomStim::decode(&seed[..72]).expect("any 72 bytes decode");
        prop_assert_eq!(&d.encode()[..], &seed[..72]);
        let k = DoomSpikes::decode(&seed[..40]).expect("any 40 bytes decode");
        prop_assert_eq!(&k.encode()[..], &seed[..40]);
    }

    #[test]
    fn video_stim_round_trip(ts in any::<u64>(), f in f32_array::<64>(), a in f32_array::<64>()) {
        let s = VideoStim { timestamp_us: ts, freq_hz: f, amp_ua: a };
        let b = s.encode();
        let back = VideoStim::decode(&b).expect("decodes");
        prop_assert_eq!(back.timestamp_us, ts);
        prop_assert_eq!(bits(&back.freq_hz), bits(&f));
        prop_assert_eq!(bits(&back.amp_ua), bits(&a));
    }

    #[test]
    fn feedback_round_trip(
        ts in any::<u64>(),
        kind in 0u8..3,
        chans in proptest::collection::vec(0u8..64, 0..=64),
        freq in any::<u32>(),
        amp in any_f32_bits(),
        pulses in any::<u32>(),
        unpred in any::<bool>(),
        name in "\\PC{0,40}",
    ) {
        let kind = FeedbackKind::from_u8(kind).expect("0..3");
        let f = Feedback::new(ts, kind, &chans, freq, amp, pulses)
            .unpredictable(unpred)
            .named(&name);
        let b = f.encode().expect("≤ 64 channels in range");
        let back = Feedback::decode(&b).expect("decodes");
        prop_assert_eq!(back.encode().expect("re-encodes"), b);
        prop_assert_eq!(back.channels, chans);
        prop_assert!(name.starts_with(&f.name()));
    }

    #[test]
    fn feedback_decode_is_idempotent(bytes in proptest::collection::vec(any::<u8>(), 120)) {
        if let Ok(f) = Feedback::decode(&bytes) {
            let again = Feedback::decode(&f.encode().expect("decoded packets encode")).expect("decodes");
            prop_assert_eq!(again.encode(), f.encode());
        }
    }

    #[test]
    fn event_round_trip(ts in any::<u64>(), kind in "[a-z_]{1,20}", v in any::<i64>(), s in "\\PC{0,100}") {
        let p = EventPacket::new(ts, &kind, serde_json::json!({"value": v, "text": s}));
        let b = p.encode().expect("small events fit");
        let back = EventPacket::decode(&b).expect("decodes");
        prop_assert_eq!(&back, &p);
        let body = back.body().expect("parses");
        prop_assert_eq!(body.event_type, kind);
        prop_assert_eq!(body.data["value"].as_i64(), Some(v));
    }

    #[test]
    fn stats_and_action_round_trip(bytes in proptest::collection::vec(any::<u8>(), 356), acts in (0u32..3, 0u32..3, 0u32..3, 0u32..2)) {
        let mut b = bytes.clone();
        b[8..12].copy_from_slice(&1u32.to_le_bytes());
        b[12..16].copy_from_slice(&64u32.to_le_bytes());
        let s = StatsV1::decode(&b).expect("version 1");
        prop_assert_eq!(&s.encode()[..], &b[..]);
        let mut a = b[..80].to_vec();
        for (i, x) in [acts.0, acts.1, acts.2, acts.3].iter().enumerate() {
            a[52 + 4 * i..56 + 4 * i].copy_from_slice(&x.to_le_bytes());
        }
        let act = ActionV1::decode(&a).expect("indices in range");
        prop_assert_eq!(&act.encode()[..], &a[..]);
    }

    #[test]
    fn firehose_round_trip(ts in any::<u64>(), chans in proptest::collection::vec(0u8..64, 1..1492)) {
        let p = FirehosePacket { timestamp_frames: ts, channels: chans };
        let b = p.encode().expect("valid");
        prop_assert_eq!(FirehosePacket::decode(&b).expect("decodes"), p);
    }
}
