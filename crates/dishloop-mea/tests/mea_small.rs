//! MEA behaviour on small hand-built networks (fast): stimulation reach and latency, detection,
//! raw samples, LFP and the frame-window driver.

use dishloop_core::{Csr, IzhType, Network, NetworkSpec, PopulationBuilder};
use dishloop_mea::{
    BurstDesign, CultureOnMea, FrameSpike, Layout, Mea, MeaConfig, MeaError, Pulse, StimDesign,
};

/// Unconnected RS cells at `pos`, no noise; cell `i` gets constant drive `drive[i]` (mV/ms).
fn network(pos: &[[f32; 2]], drive: &[f32]) -> Network {
    let n = pos.len();
    let mut pop = PopulationBuilder::new();
    for _ in 0..n {
        pop.push_izhikevich(IzhType::RS.params());
    }
    let mut spec = NetworkSpec::new(
        0.5,
        pop,
        n,
        Csr::from_rows(n, vec![vec![]; n]).expect("csr"),
        7,
    );
    spec.positions_um = Some(pos.to_vec());
    let mut net = Network::new(spec).expect("network");
    net.i_ext_mut().copy_from_slice(drive);
    net
}

fn cl1() -> Layout {
    Layout::cl1([1500.0, 1500.0])
}

/// Cells on a ray from channel 27 at the given in-plane distances.
fn ray(distances: &[f32]) -> Vec<[f32; 2]> {
    let c = cl1().electrodes[27];
    distances.iter().map(|&d| [c.x_um + d, c.y_um]).collect()
}

/// Steps from a pulse on channel 27 to each cell's first spike (None = no spike in 20 ms).
fn latencies(design: StimDesign, distances: &[f32]) -> Vec<Option<u64>> {
    let pos = ray(distances);
    let mut net = network(&pos, &vec![0.0; pos.len()]);
    // Settle at rest.
    for _ in 0..200 {
        net.step();
    }
    let mut mea = Mea::new(cl1(), &net, MeaConfig::default()).expect("mea");
    let start = mea.stim(&[27], design, BurstDesign::single()).expect("ok");
    let first_step = start / 500;
    let mut lat = vec![None; pos.len()];
    mea.run(&mut net, 40, |k, s| {
        for &i in s {
            lat[i as usize].get_or_insert(k - first_step);
        }
    });
    lat
}

#[test]
fn pulse_fires_the_nearest_cells_within_a_few_ms_and_not_distant_ones() {
    // 3 µA, 200 µs cathodic-first biphasic: threshold radius ≈ 60 µm (effective charge ~0.68 of
    // the first phase). Cells at 10 and 40 µm fire within 5 ms; 150 µm and beyond do not.
    let d = [10.0, 40.0, 150.0, 300.0, 600.0];
    let lat = latencies(StimDesign::cathodic_first(200, 3.0).expect("ok"), &d);
    assert!(lat[0].is_some_and(|l| l <= 4), "{lat:?}"); // ≤ 2 ms
    assert!(lat[1].is_some_and(|l| l <= 10), "{lat:?}"); // ≤ 5 ms
    assert_eq!(&lat[2..], &[None, None, None], "{lat:?}");
    // 1 µA reaches fewer cells: the 10 µm cell fires, the 80 µm one does not.
    let lat1 = latencies(
        StimDesign::cathodic_first(200, 1.0).expect("ok"),
        &[10.0, 80.0],
    );
    assert!(lat1[0].is_some(), "{lat1:?}");
    assert!(lat1[1].is_none(), "{lat1:?}");
    // Stronger pulses fire sooner (strength–latency): 10 µm cell at 3 µA vs 1 µA.
    assert!(lat[0] <= lat1[0]);
    // A monophasic anodic pulse excites a third as well as a cathodic one: at 60 µm, 3 µA
    // cathodic fires (2× threshold), anodic does not (0.7×).
    let ca = latencies(StimDesign::monophasic(200, -3.0).expect("ok"), &[60.0]);
    assert!(ca[0].is_some(), "{ca:?}");
    let an = latencies(StimDesign::monophasic(200, 3.0).expect("ok"), &[60.0]);
    assert_eq!(an, vec![None]);
}

#[test]
fn stimulation_leaves_other_users_current_alone() {
    let pos = ray(&[10.0, 500.0]);
    let mut net = network(&pos, &[0.0, 2.5]);
    let mut mea = Mea::new(cl1(), &net, MeaConfig::default()).expect("mea");
    mea.stim(
        &[27],
        StimDesign::cathodic_first(200, 2.0).expect("ok"),
        BurstDesign::new(5, 100.0).expect("ok"),
    )
    .expect("ok");
    mea.run(&mut net, 200, |_, _| {});
    assert!((net.i_ext()[1] - 2.5).abs() < 1e-5);
    assert!(net.i_ext()[0].abs() < 1e-5);
    assert_eq!(mea.recording().pulses.len(), 5);
    // Refused designs and channels leave the queue empty.
    assert!(matches!(
        mea.stim(
            &[4],
            StimDesign::from_amplitude(1.0).expect("ok"),
            BurstDesign::single()
        ),
        Err(MeaError::Envelope(_))
    ));
    assert_eq!(mea.queue().total_queued(), 0);
}

#[test]
fn detection_and_raw_samples() {
    // Cell A 5 µm from channel 27 fires regularly; cell B sits between electrodes (≥ 100 µm from
    // all); channel 9 has nothing near it.
    let c = cl1().electrodes[27];
    let pos = vec![[c.x_um + 5.0, c.y_um], [c.x_um + 100.0, c.y_um + 100.0]];
    let mut net = network(&pos, &[10.0, 10.0]);
    let mut mea = Mea::new(cl1(), &net, MeaConfig::default()).expect("mea");
    assert_eq!(mea.detecting_electrodes(0), &[27]);
    assert!(mea.detecting_electrodes(1).is_empty());
    mea.run(&mut net, 2000, |_, _| {}); // 1 s
    let rec = mea.recording();
    let a_spikes = rec.neurons.iter().filter(|&&n| n == 0).count();
    assert!(a_spikes > 5, "{a_spikes}");
    assert_eq!(rec.counts[27] as usize, a_spikes);
    assert_eq!(rec.counts.iter().sum::<u64>() as usize, a_spikes);

    // Raw: 1 s on channels 27 and 9.
    let raw = mea.raw_samples(&[27, 9], 0, 25_000).expect("recorded");
    let ch = |j: usize| -> Vec<f64> { (0..25_000).map(|f| raw[f * 2 + j] as f64).collect() };
    let (x27, x9) = (ch(0), ch(1));
    let sd = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    };
    // Noise only on 9: σ = 2.54 µV = 13.0 units.
    assert!((sd(&x9) - 13.04).abs() < 0.5, "{}", sd(&x9));
    // Every spike of cell A is a trough below −5σ on channel 27, at its sub-step time.
    let thr = -5.0 * 13.04;
    for (k, (&s, &n)) in rec.steps.iter().zip(&rec.neurons).enumerate() {
        if n != 0 || k > 3 {
            continue;
        }
        let f = (rec.spike_time_us(s, n) / 40.0).round() as usize;
        let trough = (f.saturating_sub(2)..(f + 3).min(25_000))
            .map(|i| x27[i])
            .fold(f64::INFINITY, f64::min);
        // Amplitude at 5 µm (r_eff 11.2 µm): 300·g/1.31 µV = 1170·g units, g ∈ [0.7, 1.3].
        assert!(trough < thr && trough > -2000.0, "trough {trough}");
    }
    let crossings = x27.windows(2).filter(|w| w[0] >= thr && w[1] < thr).count();
    assert_eq!(crossings, a_spikes);
    // Same frames, whatever the window cut.
    let part = mea.raw_samples(&[9], 12_345, 10).expect("recorded");
    assert_eq!(
        part,
        (12_345..12_355).map(|f| raw[f * 2 + 1]).collect::<Vec<_>>()
    );
    // Beyond what was simulated: refused.
    assert!(matches!(
        mea.raw_samples(&[9], 25_000, 10),
        Err(MeaError::NotRecorded { .. })
    ));
}

#[test]
fn stimulation_artefact_saturates_the_stimulated_electrode_and_decays_with_distance() {
    let pos = ray(&[600.0]);
    let mut net = network(&pos, &[0.0]);
    let mut mea = Mea::new(cl1(), &net, MeaConfig::default()).expect("mea");
    mea.stim(
        &[27],
        StimDesign::cathodic_first(200, 2.0).expect("ok"),
        BurstDesign::single(),
    )
    .expect("ok");
    mea.run(&mut net, 20, |_, _| {});
    let p = mea.recording().pulses[0];
    let f0 = p.start_us / 40;
    // Channels 27 (stimulated), 28 (200 µm), 31 (800 µm).
    let raw = mea.raw_samples(&[27, 28, 31], f0, 10).expect("recorded");
    assert_eq!(
        raw[0],
        i16::MIN,
        "cathodic phase saturates the stimulated electrode"
    );
    assert_eq!(
        raw[6 * 3],
        i16::MAX,
        "anodic phase saturates it the other way"
    );
    // 200 µm: −2 µA · 1326 µV/µA = −2653 µV = −13 603 units (± noise).
    assert!((raw[1] as f32 + 13_603.0).abs() < 80.0, "{}", raw[1]);
    assert!((raw[2] as f32 + 13_603.0 / 4.0).abs() < 80.0, "{}", raw[2]);
}

#[test]
fn frame_windows_of_any_size_give_the_same_spikes() {
    let c = cl1().electrodes[27];
    let pos: Vec<[f32; 2]> = (0..6).map(|i| [c.x_um + 8.0 * i as f32, c.y_um]).collect();
    let drive = [9.0, 10.0, 11.0, 12.0, 13.0, 14.0];
    let run = |window: u64| {
        let net = network(&pos, &drive);
        let mea = Mea::new(cl1(), &net, MeaConfig::default()).expect("mea");
        let mut dev = CultureOnMea::new(net, mea);
        let mut out: Vec<FrameSpike> = Vec::new();
        let mut f = 0;
        while f < 25_000 {
            let stop = (f + window).min(25_000);
            dev.advance_frames(f, stop, &[], &mut out).expect("ok");
            f = stop;
        }
        out
    };
    let a = run(25);
    assert!(a.len() > 50, "{}", a.len());
    assert!(a.windows(2).all(|w| w[0] <= w[1]));
    assert!(a.iter().all(|s| s.electrode == 27 && s.frame < 25_000));
    assert_eq!(a, run(1));
    assert_eq!(a, run(2_500));
    assert_eq!(a, run(7));
}

#[test]
fn frame_driver_delivers_pulses_and_renders_raw_frames() {
    let pos = ray(&[5.0, 20.0, 30.0]);
    let net = network(&pos, &[0.0; 3]);
    let mea = Mea::new(cl1(), &net, MeaConfig::default()).expect("mea");
    let mut dev = CultureOnMea::new(net, mea);
    let mut out = Vec::new();
    let d = StimDesign::cathodic_first(200, 2.5).expect("ok");
    // 1 kHz ticks: a pulse at frame 1000 (40 ms).
    for t in 0..100u64 {
        let pulses: Vec<Pulse> = if t == 40 {
            vec![Pulse {
                electrode: 27,
                start_us: 40_000,
                design: d,
            }]
        } else {
            Vec::new()
        };
        dev.advance_frames(25 * t, 25 * (t + 1), &pulses, &mut out)
            .expect("ok");
    }
    // All three cells fire within 5 ms of the pulse, seen on channel 27.
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(out.iter().all(|s| s.frame >= 1000 && s.frame < 1000 + 125));
    let mut raw = vec![0i16; 25 * 64];
    dev.raw_frames(1000, 1025, 64, &mut raw).expect("ok");
    assert_eq!(raw[27], i16::MIN);
    assert_eq!(raw[0], 0, "grounded corner reads 0");
    let bad = Pulse {
        electrode: 0,
        start_us: 100_000,
        design: d,
    };
    assert!(dev.advance_frames(2500, 2525, &[bad], &mut out).is_err());
    assert!(
        dev.advance_frames(0, 25, &[], &mut out).is_err(),
        "windows must be contiguous"
    );
}

#[test]
fn lfp_follows_population_spikes() {
    // 40 cells near channel 27 fire together once (strong pulse); the LFP on 27 deflects about
    // 10 ms later and is larger than on a distant electrode.
    let c = cl1().electrodes[27];
    let pos: Vec<[f32; 2]> = (0..40)
        .map(|i| [c.x_um + (i % 8) as f32 * 6.0, c.y_um + (i / 8) as f32 * 6.0])
        .collect();
    let mut net = network(&pos, &[0.0; 40]);
    let mut mea = Mea::new(cl1(), &net, MeaConfig::default()).expect("mea");
    mea.stim(
        &[27],
        StimDesign::monophasic(1000, -3.0).expect("ok"),
        BurstDesign::single(),
    )
    .expect("ok");
    mea.run(&mut net, 200, |_, _| {});
    assert!(mea.recording().neurons.len() >= 40);
    let lfp = mea.lfp(&[27, 31], 0.0, 100.0).expect("ok");
    let (k, peak) =
        lfp[0].iter().enumerate().fold(
            (0, 0f32),
            |a, (k, &v)| if v.abs() > a.1.abs() { (k, v) } else { a },
        );
    // All excitatory: negative field, peaking 10.4 ms + ≈0.1 ms after the spikes (1–5 ms).
    assert!(peak < -10.0, "{peak}");
    assert!((10..20).contains(&k), "{k}");
    let far = lfp[1].iter().fold(0f32, |a, &v| a.max(v.abs()));
    assert!(far < 0.1 * peak.abs(), "{far} vs {peak}");
}

#[test]
fn maxone_hd_layout_sees_one_cell_on_many_electrodes() {
    use dishloop_mea::Selection;
    // The 1 024 electrodes nearest the centre (a 32×32 block, 560 µm wide), 32 of which can
    // stimulate. A cell at the centre is seen by every electrode within ~95 µm (about 90 of
    // them at 17.5 µm pitch).
    let layout = Layout::maxone([1500.0, 1500.0])
        .maxone_selection(Selection::Center, 1024, 32)
        .expect("routable");
    let pos = vec![[1500.0, 1500.0], [1500.0, 2500.0]];
    let mut net = network(&pos, &[10.0, 10.0]);
    let mut mea = Mea::new(layout.clone(), &net, MeaConfig::default()).expect("mea");
    let seen = mea.detecting_electrodes(0).len();
    assert!((40..150).contains(&seen), "{seen}");
    assert!(
        mea.detecting_electrodes(1).is_empty(),
        "outside the routed block"
    );
    mea.run(&mut net, 400, |_, _| {});
    let per_el = mea.recording().counts.iter().filter(|&&c| c > 0).count();
    assert_eq!(per_el, seen);
    // Stimulation only on routed stimulation electrodes.
    let stim = layout.stimulable();
    assert_eq!(stim.len(), 32);
    let d = StimDesign::cathodic_first(200, 1.0).expect("ok");
    assert!(mea.stim(&[stim[0]], d, BurstDesign::single()).is_ok());
    let unrouted = layout
        .recording()
        .into_iter()
        .find(|e| !stim.contains(e))
        .expect("some");
    assert!(mea.stim(&[unrouted], d, BurstDesign::single()).is_err());
}
