//! The cl-shaped device API over the ablation backends and a contract-checking culture backend.

use dishloop_cl1::backend::{BackendError, CultureBackend, FrameWindow, Pulse, Spike};
use dishloop_cl1::{
    Ablation, Backend, BurstDesign, ChannelSet, Cl1Error, Clock, Device, DeviceOptions,
    EnvelopeError, LoopOptions, StimDesign,
};
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn accelerated(backend: Backend) -> Device {
    Device::open(
        backend,
        DeviceOptions {
            clock: Clock::Accelerated,
            ..DeviceOptions::default()
        },
    )
}

fn ch(c: &[u8]) -> ChannelSet {
    ChannelSet::try_from(c).expect("channels in range")
}

#[test]
fn stim_in_a_tick_body_is_delivered_in_the_next_tick_after_the_lead_time() {
    let mut dev = accelerated(Backend::Zero);
    let design = StimDesign::cathodic_first(200, 2.0).expect("safe");
    let mut lp = dev.loop_(1000).expect("valid rate");
    let t0 = lp.next_tick().expect("tick").expect("running");
    assert_eq!(t0.analysis.start_timestamp, 0);
    assert_eq!(t0.iteration_timestamp, 25);
    lp.device()
        .stim(ch(&[9, 10]), design, BurstDesign::single())
        .expect("inside the envelope");
    let t1 = lp.next_tick().expect("tick").expect("running");
    // Issued at frame 25, lead 80 µs = 2 frames → onset at frame 27, in the window [25, 50).
    assert_eq!(t1.analysis.start_timestamp, 25);
    let stims: Vec<(u64, u8)> = t1
        .analysis
        .stims
        .iter()
        .map(|s| (s.timestamp, s.channel))
        .collect();
    assert_eq!(stims, vec![(27, 9), (27, 10)]);
    let t2 = lp.next_tick().expect("tick").expect("running");
    assert!(t2.analysis.stims.is_empty());
}

#[test]
fn bursts_queue_fifo_per_channel_and_sync_across_channels() {
    let mut dev = accelerated(Backend::Zero);
    let d = StimDesign::cathodic_first(100, 1.0).expect("safe");
    // 3 pulses at 100 Hz: onsets 0, 10 000, 20 000 µs after the first.
    dev.stim(ch(&[1]), d, BurstDesign::new(3, 100.0).expect("ok"))
        .expect("ok");
    // Queues behind channel 1's burst (ends at 80 + 20 000 + 200 µs), and channel 2 waits too.
    dev.stim(ch(&[1, 2]), d, BurstDesign::single()).expect("ok");
    assert_eq!(dev.queued_pulses(1), 4);
    let mut lp = dev.loop_(100).expect("valid");
    let mut all = Vec::new();
    for _ in 0..5 {
        let t = lp.next_tick().expect("tick").expect("running");
        all.extend(t.analysis.stims.iter().map(|s| (s.timestamp, s.channel)));
    }
    // 80 µs → frame 2; +10 000 µs → frame 252; +20 000 µs → frame 502; then both channels at
    // 20 080 + 200 = 20 280 µs → frame 507.
    assert_eq!(all, vec![(2, 1), (252, 1), (502, 1), (507, 1), (507, 2)]);
}

#[test]
fn interrupt_cancels_queued_pulses() {
    let mut dev = accelerated(Backend::Zero);
    let d = StimDesign::cathodic_first(120, 2.0).expect("safe");
    dev.stim(ch(&[19, 20]), d, BurstDesign::new(30, 20.0).expect("ok"))
        .expect("ok");
    let mut lp = dev.loop_(10).expect("valid");
    let t = lp.next_tick().expect("tick").expect("running");
    // 100 ms at 20 Hz: pulses at 0, 50 ms → 2 per channel.
    assert_eq!(t.analysis.stims.len(), 4);
    lp.device().interrupt(ChannelSet::stimulable()).expect("ok");
    assert_eq!(lp.device().queued_pulses(19), 0);
    assert_eq!(lp.device().stats().pulses_interrupted, 56);
    let t = lp.next_tick().expect("tick").expect("running");
    assert!(t.analysis.stims.is_empty());
    // interrupt_then_stim: one pulse right away.
    lp.device()
        .interrupt_then_stim(ch(&[19]), d, BurstDesign::single())
        .expect("ok");
    let t = lp.next_tick().expect("tick").expect("running");
    assert_eq!(t.analysis.stims.len(), 1);
}

#[test]
fn unsafe_designs_and_channels_are_refused_with_the_limit_named() {
    let mut dev = accelerated(Backend::Zero);
    let d = StimDesign::cathodic_first(200, 1.0).expect("safe");
    let e = dev
        .stim(ch(&[4]), d, BurstDesign::single())
        .expect_err("reference channel");
    assert_eq!(
        e,
        Cl1Error::Envelope(EnvelopeError::NotStimulable { channel: 4 })
    );
    assert!(e.to_string().contains("0, 4, 7, 56, 63"));
    assert!(dev.stim(ch(&[0, 1]), d, BurstDesign::single()).is_err());
    assert_eq!(dev.queued_pulses(1), 0, "a refused stim queues nothing");
    let e = dev
        .stim_with_lead(ch(&[1]), d, BurstDesign::single(), 60)
        .expect_err("lead < 80 µs");
    assert!(matches!(
        e,
        Cl1Error::Envelope(EnvelopeError::LeadTime { lead_us: 60 })
    ));
    // Queue limit: refused atomically, nothing half-applied.
    let mut plan = dev.create_stim_plan();
    plan.stim(ch(&[1]), d, BurstDesign::new(4000, 200.0).expect("ok"))
        .expect("ok");
    plan.stim(ch(&[1, 2]), d, BurstDesign::new(200, 200.0).expect("ok"))
        .expect("ok");
    let e = plan.run(&mut dev, None).expect_err("4200 > 4096");
    assert!(matches!(e, Cl1Error::ChannelQueueFull { channel: 1, .. }));
    assert_eq!(dev.queued_pulses(1), 0);
    assert_eq!(dev.queued_pulses(2), 0);
    assert!(matches!(
        plan.stim(ch(&[1]), d, BurstDesign::single()),
        Err(Cl1Error::PlanFrozen)
    ));
}

#[test]
fn plans_are_reusable_and_can_be_deferred() {
    let mut dev = accelerated(Backend::Zero);
    let d = StimDesign::cathodic_first(120, 2.0).expect("safe");
    let mut plan = dev.create_stim_plan();
    plan.interrupt(ch(&[23, 24, 26])).expect("ok");
    plan.stim(ch(&[23, 24, 26]), d, BurstDesign::single())
        .expect("ok");
    assert_eq!(plan.channels_to_interrupt(), ch(&[23, 24, 26]));
    plan.run(&mut dev, None).expect("ok");
    plan.run(&mut dev, Some(1000)).expect("re-runnable");
    let mut lp = dev.loop_(10).expect("valid");
    let t = lp.next_tick().expect("tick").expect("running");
    let mut ts: Vec<u64> = t.analysis.stims.iter().map(|s| s.timestamp).collect();
    ts.dedup();
    // Now + 80 µs → frame 2; at frame 1000 + 80 µs → frame 1002.
    assert_eq!(ts, vec![2, 1002]);
}

#[test]
fn random_ablation_rate_through_the_loop() {
    let mut dev = accelerated(Backend::ablation(Ablation::Random { rate_hz: 5.0 }, 3).expect("ok"));
    let mut lp = dev
        .loop_with(LoopOptions {
            stop_after_seconds: Some(20.0),
            ..LoopOptions::new(1000)
        })
        .expect("valid");
    let mut counts = [0u64; 64];
    let mut ticks = 0;
    while let Some(t) = lp.next_tick().expect("tick") {
        ticks += 1;
        for (c, n) in t.analysis.spike_counts().iter().enumerate() {
            counts[c] += *n as u64;
        }
    }
    assert_eq!(ticks, 20_000);
    for c in [0usize, 4, 7, 56, 63] {
        assert_eq!(counts[c], 0, "channel {c} records nothing");
    }
    // 59 channels × 5 Hz × 20 s = 5900; Poisson SD ≈ 77, so ±6 % is ≈ 4.6 SD.
    let total: u64 = counts.iter().sum();
    assert!((total as f64 - 5900.0).abs() < 354.0, "{total}");
}

#[test]
fn wall_clock_loop_paces_ticks_and_flags_overruns() {
    let mut dev = Device::open(Backend::Zero, DeviceOptions::default());
    let t0 = Instant::now();
    let mut lp = dev
        .loop_with(LoopOptions {
            stop_after_ticks: Some(40),
            // The CI machine is shared: count lateness but do not fail on scheduler noise.
            ignore_jitter: true,
            ..LoopOptions::new(1000)
        })
        .expect("valid");
    while lp.next_tick().expect("ignoring jitter").is_some() {}
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    assert!((39.0..80.0).contains(&ms), "40 ticks at 1 kHz took {ms} ms");

    let mut lp = dev
        .loop_with(LoopOptions {
            jitter_tolerance_frames: 250,
            ..LoopOptions::new(1000)
        })
        .expect("valid");
    lp.next_tick().expect("first tick").expect("running");
    std::thread::sleep(std::time::Duration::from_millis(30));
    let e = lp
        .next_tick()
        .expect_err("body overran by ~29 ms > 10 ms tolerance");
    match e {
        Cl1Error::LoopOverrun { late_frames, .. } => assert!(late_frames >= 700, "{late_frames}"),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn raw_frames_on_request() {
    let mut dev =
        accelerated(Backend::ablation(Ablation::Random { rate_hz: 20.0 }, 1).expect("ok"));
    let mut lp = dev
        .loop_with(LoopOptions {
            with_frames: true,
            stop_after_ticks: Some(3),
            ..LoopOptions::new(100)
        })
        .expect("valid");
    let t = lp.next_tick().expect("tick").expect("running");
    let frames = t.frames.expect("asked for frames");
    assert_eq!(frames.len(), 250 * 64);
    // Grounded corner 0 is flat; channel 10 is noisy.
    assert!((0..250).all(|f| frames[f * 64] == 0));
    assert!((0..250).any(|f| frames[f * 64 + 10] != 0));

    let now = dev.timestamp();
    let r = dev.read(500, None).expect("future frames");
    assert_eq!(r.len(), 500 * 64);
    assert_eq!(dev.timestamp(), now + 500);
    let again = dev.read(100, Some(now + 100)).expect("kept");
    assert_eq!(&again[..], &r[100 * 64..200 * 64]);
    assert!(matches!(
        dev.read(10, Some(0)),
        Err(Cl1Error::History { .. })
    ));
}

/// A culture stand-in that checks the [`CultureBackend`] contract and answers each pulse with one
/// spike on the same channel 3 ms later.
type CallLog = Arc<Mutex<Vec<(FrameWindow, Vec<Pulse>)>>>;

struct ContractBackend {
    log: CallLog,
    pending: Vec<Spike>,
}

impl CultureBackend for ContractBackend {
    fn describe(&self) -> String {
        "contract checker".into()
    }
    fn advance(
        &mut self,
        w: FrameWindow,
        pulses: &[Pulse],
        spikes: &mut Vec<Spike>,
    ) -> Result<(), BackendError> {
        let mut log = self.log.lock().map_err(|e| BackendError(e.to_string()))?;
        if let Some((prev, _)) = log.last() {
            assert_eq!(prev.stop, w.start, "windows are contiguous");
        } else {
            assert_eq!(w.start, 0, "first window starts at frame 0");
        }
        for p in pulses {
            assert!(p.start_us >= w.start_us() && p.start_us < w.stop_us());
            self.pending.push(Spike {
                timestamp: p.frame() + 75,
                channel: p.channel,
            });
        }
        log.push((w, pulses.to_vec()));
        self.pending.sort();
        let (now, later): (Vec<Spike>, Vec<Spike>) =
            self.pending.iter().partition(|s| s.timestamp < w.stop);
        spikes.extend(now);
        self.pending = later;
        Ok(())
    }
}

#[test]
fn culture_backend_contract() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut dev = accelerated(Backend::Culture(Box::new(ContractBackend {
        log: log.clone(),
        pending: Vec::new(),
    })));
    let d = StimDesign::cathodic_first(200, 1.5).expect("safe");
    let mut lp = dev.loop_(1000).expect("valid");
    let mut spikes = Vec::new();
    for i in 0..20 {
        let t = lp.next_tick().expect("tick").expect("running");
        spikes.extend(t.analysis.spikes.iter().map(|s| (s.timestamp, s.channel)));
        if i == 2 {
            lp.device()
                .stim(ch(&[33]), d, BurstDesign::single())
                .expect("ok");
        }
    }
    // Stim at frame 75 + 2 → spike at frame 152.
    assert_eq!(spikes, vec![(152, 33)]);
    let log = log.lock().expect("not poisoned");
    assert_eq!(log.len(), 20);
    let delivered: Vec<&Pulse> = log.iter().flat_map(|(_, p)| p.iter()).collect();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].design.peak_current_ua(), 1.5);
}
