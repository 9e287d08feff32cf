//! Property: whatever is asked of the device API, nothing outside the hardware envelope ever
//! reaches the backend, and nothing panics.

use dishloop_cl1::backend::{BackendError, CultureBackend, FrameWindow, Pulse, Spike};
use dishloop_cl1::design::{MAX_CHARGE_PC, MAX_CURRENT_UA, Phase};
use dishloop_cl1::{Backend, BurstDesign, ChannelSet, Clock, Device, DeviceOptions, StimDesign};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

/// Records every pulse it is handed.
struct Recorder(Arc<Mutex<Vec<Pulse>>>);

impl CultureBackend for Recorder {
    fn describe(&self) -> String {
        "recorder".into()
    }
    fn advance(
        &mut self,
        w: FrameWindow,
        pulses: &[Pulse],
        _: &mut Vec<Spike>,
    ) -> Result<(), BackendError> {
        for p in pulses {
            assert!(p.start_us >= w.start_us() && p.start_us < w.stop_us());
        }
        self.0
            .lock()
            .map_err(|e| BackendError(e.to_string()))?
            .extend_from_slice(pulses);
        Ok(())
    }
}

fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        -5.0f32..5.0,
        any::<u32>().prop_map(f32::from_bits),
        Just(0.0f32),
        Just(3.0f32),
        Just(-3.0f32),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Stim {
        chans: u64,
        phases: Vec<(u32, f32)>,
        count: u32,
        hz: f32,
        lead: u32,
    },
    Interrupt(u64),
    Sync(u64),
    Ticks(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (
            prop_oneof![
                3 => any::<u64>().prop_map(|b| b & ChannelSet::stimulable().bits()),
                1 => any::<u64>(),
            ],
            proptest::collection::vec(
                (
                    prop_oneof![3 => (1u32..60).prop_map(|k| 20 * k), 1 => any::<u32>()],
                    prop_oneof![3 => -3.5f32..3.5, 1 => any_f32()],
                ),
                0..4,
            )
            .prop_flat_map(|v| (Just(v), any::<bool>()))
            .prop_map(|(mut v, alternate)| {
                // Half the time, force the alternating polarity the envelope requires.
                if alternate {
                    for (k, p) in v.iter_mut().enumerate() {
                        let sign = if k % 2 == 0 { -1.0 } else { 1.0 };
                        p.1 = sign * p.1.abs();
                    }
                }
                v
            }),
            prop_oneof![3 => 0u32..5, 1 => any::<u32>()],
            prop_oneof![3 => 0.5f32..250.0, 1 => any_f32()],
            prop_oneof![Just(80u32), 0u32..400],
        )
            .prop_map(|(chans, phases, count, hz, lead)| Op::Stim { chans, phases, count, hz, lead }),
        1 => any::<u64>().prop_map(Op::Interrupt),
        1 => any::<u64>().prop_map(Op::Sync),
        2 => (1u8..20).prop_map(Op::Ticks),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn only_envelope_pulses_reach_the_backend(ops in proptest::collection::vec(op(), 1..30), tps in 1u32..=25_000) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut dev = Device::open(
            Backend::Culture(Box::new(Recorder(log.clone()))),
            DeviceOptions { clock: Clock::Accelerated, ..DeviceOptions::default() },
        );
        let mut lp = dev.loop_(tps).expect("valid rate");
        for op in ops {
            match op {
                Op::Stim { chans, phases, count, hz, lead } => {
                    let phases: Vec<Phase> = phases.iter().map(|&(d, i)| Phase { duration_us: d, current_ua: i }).collect();
                    if let (Ok(d), Ok(b)) = (StimDesign::new(&phases), BurstDesign::new(count, hz)) {
                        let _ = lp.device().stim_with_lead(ChannelSet::from_bits(chans), d, b, lead);
                    }
                }
                Op::Interrupt(c) => { let _ = lp.device().interrupt(ChannelSet::from_bits(c)); }
                Op::Sync(c) => { let _ = lp.device().sync(ChannelSet::from_bits(c)); }
                Op::Ticks(n) => {
                    for _ in 0..n {
                        lp.next_tick().expect("accelerated ticks never overrun");
                    }
                }
            }
        }
        for _ in 0..50 {
            lp.next_tick().expect("tick");
        }
        let pulses = log.lock().expect("not poisoned");
        for p in pulses.iter() {
            prop_assert!(ChannelSet::stimulable().contains(p.channel as usize), "{p:?}");
            prop_assert!(p.start_us % 20 == 0);
            let ph = p.design.phases();
            prop_assert!(!ph.is_empty() && ph.len() <= 3);
            for (k, x) in ph.iter().enumerate() {
                prop_assert!(x.current_ua.is_finite() && x.current_ua != 0.0);
                prop_assert!(x.current_ua.abs() <= MAX_CURRENT_UA);
                prop_assert!(x.duration_us >= 20 && x.duration_us <= 10_000 && x.duration_us % 20 == 0);
                prop_assert!(x.current_ua.abs() * x.duration_us as f32 <= MAX_CHARGE_PC);
                if k > 0 {
                    prop_assert!((ph[k - 1].current_ua > 0.0) != (x.current_ua > 0.0));
                }
            }
        }
        // Pulses on one channel never overlap.
        let mut by_ch: Vec<Vec<&Pulse>> = vec![Vec::new(); 64];
        for p in pulses.iter() {
            by_ch[p.channel as usize].push(p);
        }
        for v in by_ch.iter_mut() {
            v.sort_by_key(|p| p.start_us);
            for w in v.windows(2) {
                prop_assert!(w[0].end_us() <= w[1].start_us, "{:?} overlaps {:?}", w[0], w[1]);
            }
        }

    }
}
