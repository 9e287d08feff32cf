//! Network bursts.
//!
//! Two detectors:
//!
//! * [`wagenaar_bursts`]: the method of Wagenaar, Pine & Potter 2006 (BMC Neurosci 7:11,
//!   "An extremely rich repertoire of bursting patterns during the development of cortical
//!   cultures", Methods): first per-channel *burstlets*, runs of at least 4 spikes whose
//!   inter-spike intervals are all below a threshold of 1/4 of the channel's inverse mean
//!   firing rate, capped at 100 ms; then network bursts where burstlets on enough channels
//!   overlap in time. This is the detector to use for comparison with the literature.
//! * [`rate_threshold_bursts`]: the simple population-rate threshold that BL-1 ships under the
//!   name "Wagenaar" (it is not Wagenaar's method): the population spike count per bin
//!   (one step by default, unsmoothed) must exceed mean + k·SD to start a burst, the burst
//!   ends when the count falls to the mean or below, and bursts shorter than a minimum
//!   duration are dropped (BL-1 defaults: k = 2, 1.5 in its calibrated config, 50 ms). Kept
//!   for comparison with BL-1's numbers only.
//!
//! Both return [`BurstReport`]s with the same statistics (burst rate per minute, onset-to-
//! onset inter-burst intervals, durations, recruitment, spikes per burst).

use serde::{Deserialize, Serialize};

use crate::spikes::{SpikeError, SpikeTrains};
use crate::stats::mean_var;

/// Parameters of [`wagenaar_bursts`]. Defaults follow Wagenaar et al. 2006 where the paper
/// fixes them; the channel-count rule is ours (see the fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WagenaarParams {
    /// Minimum spikes in a burstlet. Wagenaar et al. 2006: 4.
    pub min_spikes: usize,
    /// Burstlet ISI threshold as a fraction of the channel's inverse mean rate.
    /// Wagenaar et al. 2006: 1/4.
    pub isi_fraction: f64,
    /// Cap on the ISI threshold in ms. Wagenaar et al. 2006: 100 ms.
    pub max_isi_ms: f64,
    /// Minimum number of channels with overlapping burstlets for a network burst.
    /// Default 3 (ours: a coincidence of two burstlets is common by chance).
    pub min_channels: usize,
    /// Minimum fraction of the active channels (those with at least one spike) with
    /// overlapping burstlets. Default 0.05 (ours): on a 60-electrode MEA this is 3 channels,
    /// the same as `min_channels`; on single-neuron rasters of thousands of cells it keeps
    /// chance overlaps of independent burstlets (with 5 000 neurons at 1 Hz, about one
    /// burstlet is open at any time) from counting as network bursts.
    pub min_channel_fraction: f64,
}

impl Default for WagenaarParams {
    fn default() -> Self {
        Self {
            min_spikes: 4,
            isi_fraction: 0.25,
            max_isi_ms: 100.0,
            min_channels: 3,
            min_channel_fraction: 0.05,
        }
    }
}

/// A burst on one channel: a run of spikes with short ISIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Burstlet {
    /// Channel (neuron) index.
    pub channel: u32,
    /// Step of the first spike.
    pub start_step: u32,
    /// Step of the last spike.
    pub end_step: u32,
    /// Number of spikes.
    pub n_spikes: u32,
}

/// A network burst.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NetworkBurst {
    /// First step of the burst.
    pub start_step: u32,
    /// Last step of the burst (inclusive).
    pub end_step: u32,
    /// All spikes of all channels in `start_step..=end_step`.
    pub n_spikes: u64,
    /// Channels that contributed a burstlet (Wagenaar) or 0 (rate threshold).
    pub n_channels_bursting: u32,
    /// Channels that fired at least one spike during the burst.
    pub n_channels_spiking: u32,
    /// `n_channels_spiking / n_neurons`: the fraction of the population recruited (BL-1's
    /// definition, used for the Wagenaar-range verdict). On single-neuron rasters with
    /// background firing it grows with the burst span (a neuron at 1 Hz fires in a 300 ms
    /// window with probability 0.26); `n_channels_bursting / n_neurons` is the stricter
    /// participation measure.
    pub recruitment: f64,
}

impl NetworkBurst {
    /// Onset in ms.
    pub fn start_ms(&self, dt_ms: f64) -> f64 {
        f64::from(self.start_step) * dt_ms
    }
    /// Duration in ms, counting the steps `start_step..=end_step`.
    pub fn duration_ms(&self, dt_ms: f64) -> f64 {
        f64::from(self.end_step - self.start_step + 1) * dt_ms
    }
}

/// Statistics of a list of network bursts. NaN where undefined (no bursts, fewer than 2
/// bursts for an IBI, fewer than 3 for its CV).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurstStats {
    /// Number of bursts.
    pub n_bursts: usize,
    /// Bursts per minute of recording.
    pub bursts_per_min: f64,
    /// Mean onset-to-onset inter-burst interval in s.
    pub mean_ibi_s: f64,
    /// Coefficient of variation (sample SD / mean) of the IBIs.
    pub ibi_cv: f64,
    /// Mean burst duration in ms.
    pub mean_duration_ms: f64,
    /// Mean recruitment (fraction of the population spiking in a burst).
    pub mean_recruitment: f64,
    /// Mean fraction of the population with a burstlet in the burst (Wagenaar detector only;
    /// 0 for the rate threshold).
    pub mean_bursting_fraction: f64,
    /// Mean number of spikes per burst.
    pub mean_spikes_per_burst: f64,
    /// Fraction of all spikes that fall inside bursts.
    pub fraction_spikes_in_bursts: f64,
}

/// Which detector produced a [`BurstReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BurstMethod {
    /// Wagenaar et al. 2006 burstlets and overlaps.
    Wagenaar2006,
    /// BL-1's population-rate threshold.
    RateThreshold,
}

/// Bursts and their statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurstReport {
    /// The detector used.
    pub method: BurstMethod,
    /// The bursts in time order.
    pub bursts: Vec<NetworkBurst>,
    /// Their statistics.
    pub stats: BurstStats,
}

/// Per-channel burstlets (Wagenaar et al. 2006): for each channel with rate r > 0, the ISI
/// threshold is `min(isi_fraction / r, max_isi_ms)`; a burstlet is a maximal run of spikes
/// whose consecutive ISIs are all strictly below it, with at least `min_spikes` spikes.
/// Sorted by (start, channel).
pub fn detect_burstlets(trains: &SpikeTrains, params: &WagenaarParams) -> Vec<Burstlet> {
    let dur_ms = trains.duration_ms();
    let mut out = Vec::new();
    if dur_ms <= 0.0 {
        return out;
    }
    let min_spikes = params.min_spikes.max(2);
    for (ch, st) in trains.per_neuron_steps().iter().enumerate() {
        if st.len() < min_spikes {
            continue;
        }
        let rate_per_ms = st.len() as f64 / dur_ms;
        let thr_ms = (params.isi_fraction / rate_per_ms).min(params.max_isi_ms);
        let mut run_start = 0usize;
        for i in 1..=st.len() {
            let breaks = i == st.len() || f64::from(st[i] - st[i - 1]) * trains.dt_ms >= thr_ms;
            if breaks {
                if i - run_start >= min_spikes {
                    out.push(Burstlet {
                        channel: ch as u32,
                        start_step: st[run_start],
                        end_step: st[i - 1],
                        n_spikes: (i - run_start) as u32,
                    });
                }
                run_start = i;
            }
        }
    }
    out.sort_by_key(|b| (b.start_step, b.channel));
    out
}

/// Network bursts by the method of Wagenaar, Pine & Potter 2006 (BMC Neurosci 7:11).
///
/// 1. Burstlets per channel ([`detect_burstlets`]).
/// 2. Cores: maximal periods during which at least `max(min_channels,
///    ceil(min_channel_fraction * active channels))` channels are inside a burstlet.
/// 3. Each network burst spans the union of the burstlets that overlap its core (so its onset
///    is the first spike of the earliest participating burstlet); bursts whose spans overlap
///    are merged.
///
/// ```
/// use dishloop_analysis::SpikeTrains;
/// use dishloop_analysis::bursts::{WagenaarParams, wagenaar_bursts};
/// // 10 channels, 1 ms steps, 20 s: every channel fires 5 spikes 5 ms apart at 2 s and 12 s.
/// let mut pairs = vec![];
/// for ch in 0..10 {
///     for onset in [2000, 12000] {
///         for k in 0..5 { pairs.push((onset + ch + 5 * k, ch)); }
///     }
/// }
/// let s = SpikeTrains::from_unsorted(10, 1.0, 20_000, pairs).unwrap();
/// let r = wagenaar_bursts(&s, &WagenaarParams::default());
/// assert_eq!(r.stats.n_bursts, 2);
/// assert_eq!(r.stats.mean_ibi_s, 10.0);
/// assert_eq!(r.bursts[0].start_step, 2000);
/// assert_eq!(r.stats.bursts_per_min, 6.0);
/// ```
pub fn wagenaar_bursts(trains: &SpikeTrains, params: &WagenaarParams) -> BurstReport {
    let burstlets = detect_burstlets(trains, params);
    let n_active = trains.spike_counts().iter().filter(|&&c| c > 0).count();
    let required = params
        .min_channels
        .max((params.min_channel_fraction * n_active as f64).ceil() as usize)
        .max(1);

    // Sweep the concurrency of open burstlets (one channel has disjoint burstlets, so the
    // count is a number of distinct channels). Interval [s, e] adds +1 at s and -1 at e + 1;
    // at equal positions ends are processed first.
    let mut events: Vec<(u64, i32)> = Vec::with_capacity(2 * burstlets.len());
    for b in &burstlets {
        events.push((u64::from(b.start_step), 1));
        events.push((u64::from(b.end_step) + 1, -1));
    }
    events.sort_unstable();
    let mut cores: Vec<(u64, u64)> = Vec::new();
    let mut count: i64 = 0;
    let mut core_start = 0u64;
    let mut i = 0;
    while i < events.len() {
        let pos = events[i].0;
        let before = count;
        while i < events.len() && events[i].0 == pos {
            count += i64::from(events[i].1);
            i += 1;
        }
        let req = required as i64;
        if before < req && count >= req {
            core_start = pos;
        } else if before >= req && count < req {
            cores.push((core_start, pos - 1));
        }
    }

    // Assign burstlets to the cores they overlap; a burstlet overlapping several cores joins
    // them (union-find over core indices).
    let mut parent: Vec<usize> = (0..cores.len()).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    let mut members: Vec<(usize, usize)> = Vec::new(); // (core, burstlet)
    for (bi, b) in burstlets.iter().enumerate() {
        let (s, e) = (u64::from(b.start_step), u64::from(b.end_step));
        // First core whose end >= s.
        let first = cores.partition_point(|c| c.1 < s);
        let mut last_hit = None;
        let mut k = first;
        while k < cores.len() && cores[k].0 <= e {
            if let Some(prev) = last_hit {
                let (a, c) = (find(&mut parent, prev), find(&mut parent, k));
                parent[c] = a;
            }
            last_hit = Some(k);
            k += 1;
        }
        if let Some(kk) = last_hit {
            members.push((kk, bi));
        }
    }
    // Spans per group.
    let mut span: Vec<Option<(u32, u32)>> = vec![None; cores.len()];
    let mut channels_of: Vec<Vec<u32>> = vec![Vec::new(); cores.len()];
    for &(k, bi) in &members {
        let g = find(&mut parent, k);
        let b = burstlets[bi];
        span[g] = Some(match span[g] {
            None => (b.start_step, b.end_step),
            Some((s, e)) => (s.min(b.start_step), e.max(b.end_step)),
        });
        channels_of[g].push(b.channel);
    }
    let mut groups: Vec<((u32, u32), Vec<u32>)> = span
        .into_iter()
        .zip(channels_of)
        .filter_map(|(s, ch)| s.map(|s| (s, ch)))
        .collect();
    groups.sort_by_key(|g| g.0);
    // Merge overlapping spans.
    let mut merged: Vec<((u32, u32), Vec<u32>)> = Vec::new();
    for (s, ch) in groups {
        match merged.last_mut() {
            Some((ls, lch)) if s.0 <= ls.1 => {
                ls.1 = ls.1.max(s.1);
                lch.extend(ch);
            }
            _ => merged.push((s, ch)),
        }
    }
    let mut seen = SeenSet::new(trains.n_neurons as usize);
    let bursts: Vec<NetworkBurst> = merged
        .into_iter()
        .map(|((s, e), mut ch)| {
            ch.sort_unstable();
            ch.dedup();
            let mut b = burst_from_span(trains, s, e, &mut seen);
            b.n_channels_bursting = ch.len() as u32;
            b
        })
        .collect();
    let stats = burst_stats(trains, &bursts);
    BurstReport {
        method: BurstMethod::Wagenaar2006,
        bursts,
        stats,
    }
}

/// Parameters of [`rate_threshold_bursts`] (BL-1's detector).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateThresholdParams {
    /// Bin of the population count in ms; `None` = one step (BL-1: one 0.5 ms step).
    pub bin_ms: Option<f64>,
    /// Threshold in SDs above the mean count. BL-1: 2 by default, 1.5 when calibrated.
    pub k_sd: f64,
    /// Minimum burst duration in ms. BL-1: 50 ms.
    pub min_duration_ms: f64,
}

impl Default for RateThresholdParams {
    fn default() -> Self {
        Self {
            bin_ms: None,
            k_sd: 2.0,
            min_duration_ms: 50.0,
        }
    }
}

/// BL-1's population-rate burst detector (documented in the module docs); not Wagenaar's
/// method, kept for comparison with BL-1's numbers.
pub fn rate_threshold_bursts(
    trains: &SpikeTrains,
    params: &RateThresholdParams,
) -> Result<BurstReport, SpikeError> {
    let b = match params.bin_ms {
        Some(ms) => trains.bin_steps(ms)?,
        None => 1,
    };
    let counts = trains.population_counts_steps(b);
    let x: Vec<f64> = counts.iter().map(|&c| f64::from(c)).collect();
    let mut bursts = Vec::new();
    if x.len() >= 2 {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let sd = (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        let thr = mean + params.k_sd * sd;
        let mut seen = SeenSet::new(trains.n_neurons as usize);
        let mut start: Option<usize> = None;
        let mut close = |s: usize, e_excl: usize, bursts: &mut Vec<NetworkBurst>| {
            let dur_ms = (e_excl - s) as f64 * b as f64 * trains.dt_ms;
            if dur_ms >= params.min_duration_ms {
                let s_step = (s as u64 * b) as u32;
                let e_step = (e_excl as u64 * b - 1) as u32;
                bursts.push(burst_from_span(trains, s_step, e_step, &mut seen));
            }
        };
        if sd > 0.0 {
            for (i, &v) in x.iter().enumerate() {
                match start {
                    None if v > thr => start = Some(i),
                    Some(s) if v <= mean => {
                        close(s, i, &mut bursts);
                        start = None;
                    }
                    _ => {}
                }
            }
            if let Some(s) = start {
                close(s, x.len(), &mut bursts);
            }
        }
    }
    let stats = burst_stats(trains, &bursts);
    Ok(BurstReport {
        method: BurstMethod::RateThreshold,
        bursts,
        stats,
    })
}

/// Statistics of `bursts` detected in `trains` (see [`BurstStats`]).
pub fn burst_stats(trains: &SpikeTrains, bursts: &[NetworkBurst]) -> BurstStats {
    let n = bursts.len();
    let dur_min = trains.duration_s() / 60.0;
    let onsets_s: Vec<f64> = bursts
        .iter()
        .map(|b| b.start_ms(trains.dt_ms) / 1000.0)
        .collect();
    let ibis: Vec<f64> = onsets_s.windows(2).map(|w| w[1] - w[0]).collect();
    let (mean_ibi, var_ibi) = mean_var(&ibis);
    let mean_of = |f: &dyn Fn(&NetworkBurst) -> f64| {
        if n == 0 {
            f64::NAN
        } else {
            bursts.iter().map(f).sum::<f64>() / n as f64
        }
    };
    let in_bursts: u64 = bursts.iter().map(|b| b.n_spikes).sum();
    BurstStats {
        n_bursts: n,
        bursts_per_min: if dur_min > 0.0 {
            n as f64 / dur_min
        } else {
            f64::NAN
        },
        mean_ibi_s: mean_ibi,
        ibi_cv: if ibis.len() >= 2 && mean_ibi > 0.0 {
            var_ibi.sqrt() / mean_ibi
        } else {
            f64::NAN
        },
        mean_duration_ms: mean_of(&|b| b.duration_ms(trains.dt_ms)),
        mean_recruitment: mean_of(&|b| b.recruitment),
        mean_bursting_fraction: mean_of(&|b| {
            if trains.n_neurons > 0 {
                f64::from(b.n_channels_bursting) / f64::from(trains.n_neurons)
            } else {
                f64::NAN
            }
        }),
        mean_spikes_per_burst: mean_of(&|b| b.n_spikes as f64),
        fraction_spikes_in_bursts: if trains.n_spikes() > 0 {
            in_bursts as f64 / trains.n_spikes() as f64
        } else {
            f64::NAN
        },
    }
}

/// Marks channels seen in the current burst without clearing a vector per burst.
struct SeenSet {
    stamp: Vec<u32>,
    current: u32,
}

impl SeenSet {
    fn new(n: usize) -> Self {
        Self {
            stamp: vec![0; n],
            current: 0,
        }
    }
}

/// Counts spikes and spiking channels in `s..=e` (binary search on the sorted steps).
fn burst_from_span(trains: &SpikeTrains, s: u32, e: u32, seen: &mut SeenSet) -> NetworkBurst {
    let lo = trains.steps.partition_point(|&x| x < s);
    let hi = trains.steps.partition_point(|&x| x <= e);
    seen.current = seen.current.wrapping_add(1);
    if seen.current == 0 {
        seen.stamp.iter_mut().for_each(|v| *v = 0);
        seen.current = 1;
    }
    let mut spiking = 0u32;
    for &n in &trains.neurons[lo..hi] {
        if let Some(st) = seen.stamp.get_mut(n as usize)
            && *st != seen.current
        {
            *st = seen.current;
            spiking += 1;
        }
    }
    NetworkBurst {
        start_step: s,
        end_step: e,
        n_spikes: (hi - lo) as u64,
        n_channels_bursting: 0,
        n_channels_spiking: spiking,
        recruitment: if trains.n_neurons > 0 {
            f64::from(spiking) / f64::from(trains.n_neurons)
        } else {
            f64::NAN
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{poisson_pairs, rng};
    use rand::RngExt;

    const DT: f64 = 0.5;

    /// 60 channels, 0.5 Hz Poisson background, bursts at `onsets_ms` where 40 channels fire 6
    /// spikes at ~10 ms ISIs; the first spike of each burst is exactly at the onset.
    /// With `clear_ms`, background spikes within that distance of a burst are removed.
    fn planted(onsets_ms: &[f64], clear_ms: Option<f64>, seed: u64) -> SpikeTrains {
        let n_steps = (120_000.0 / DT) as u64;
        let mut r = rng(seed);
        let mut pairs: Vec<(u32, u32)> = (0..60)
            .flat_map(|ch| poisson_pairs(ch, 0.5, DT, n_steps, &mut r))
            .collect();
        if let Some(c) = clear_ms {
            pairs.retain(|&(s, _)| {
                let t = f64::from(s) * DT;
                onsets_ms.iter().all(|&o| t < o - c || t > o + 100.0 + c)
            });
        }
        for &o in onsets_ms {
            for ch in 0..40u32 {
                let mut t = o + if ch == 0 {
                    0.0
                } else {
                    r.random_range(1.0..20.0)
                };
                for _ in 0..6 {
                    pairs.push(((t / DT).round() as u32, ch));
                    t += r.random_range(5.0..15.0);
                }
            }
        }
        SpikeTrains::from_unsorted(60, DT, n_steps, pairs).unwrap()
    }

    const ONSETS: [f64; 10] = [
        3000.0, 11000.0, 17500.0, 30000.0, 38000.0, 52000.0, 61000.0, 75000.0, 90000.0, 104000.0,
    ];

    #[test]
    fn planted_bursts_exact_count_onsets_and_ibi() {
        let s = planted(&ONSETS, Some(300.0), 1);
        let r = wagenaar_bursts(&s, &WagenaarParams::default());
        assert_eq!(r.stats.n_bursts, ONSETS.len());
        for (b, &o) in r.bursts.iter().zip(&ONSETS) {
            assert_eq!(b.start_ms(DT), o);
            assert!(b.n_channels_bursting >= 38, "{b:?}");
            assert_eq!(b.n_channels_spiking, 40);
            assert!((b.recruitment - 40.0 / 60.0).abs() < 1e-12);
            assert!(b.n_spikes >= 240, "{b:?}");
        }
        // Planted mean IBI = (104 - 3) / 9 s exactly; CV of the planted intervals.
        let ibis: Vec<f64> = ONSETS.windows(2).map(|w| (w[1] - w[0]) / 1000.0).collect();
        let (m, v) = mean_var(&ibis);
        assert!((r.stats.mean_ibi_s - 101.0 / 9.0).abs() < 1e-9);
        assert!((r.stats.ibi_cv - v.sqrt() / m).abs() < 1e-9);
        assert!((r.stats.bursts_per_min - 5.0).abs() < 1e-12); // 10 bursts in 2 min
        // Durations: planted bursts last 20..~110 ms.
        assert!(r.stats.mean_duration_ms > 40.0 && r.stats.mean_duration_ms < 120.0);
    }

    #[test]
    fn planted_bursts_in_background_count_and_ibi() {
        // Background everywhere: background spikes just before a burst may extend a
        // burstlet (each by < 100 ms, the ISI cap), moving the onset earlier; here one channel
        // chains two background spikes into the first burst (onset 2877.5 ms, not 3000 ms).
        let s = planted(&ONSETS, None, 2);
        let r = wagenaar_bursts(&s, &WagenaarParams::default());
        assert_eq!(r.stats.n_bursts, ONSETS.len());
        for (b, &o) in r.bursts.iter().zip(&ONSETS) {
            let t = b.start_ms(DT);
            assert!(t <= o && t > o - 300.0, "onset {t} vs planted {o}");
        }
        // Mean IBI = (last onset - first onset) / 9: off by at most 0.3 s / 9.
        assert!((r.stats.mean_ibi_s - 101.0 / 9.0).abs() < 0.3 / 9.0);
        // The same bursts with BL-1's rate threshold, on 10 ms bins.
        let p = RateThresholdParams {
            bin_ms: Some(10.0),
            k_sd: 2.0,
            min_duration_ms: 20.0,
        };
        let rt = rate_threshold_bursts(&s, &p).unwrap();
        assert_eq!(rt.stats.n_bursts, ONSETS.len(), "{:?}", rt.bursts);
        assert_eq!(rt.method, BurstMethod::RateThreshold);
    }

    #[test]
    fn independent_poisson_channels_have_no_network_bursts() {
        let s = planted(&[], None, 3);
        let r = wagenaar_bursts(&s, &WagenaarParams::default());
        assert_eq!(r.stats.n_bursts, 0);
        assert!(r.stats.mean_ibi_s.is_nan());
        assert_eq!(r.stats.bursts_per_min, 0.0);
    }

    #[test]
    fn burstlet_threshold_is_quarter_inverse_rate_capped() {
        // One channel, 100 s. Bursts of 4 spikes with 20 ms ISIs: rate = 40 spikes / 100 s
        // = 0.4 Hz -> 1/(4 r) = 625 ms, capped at 100 ms: all 10 runs are burstlets.
        let mut pairs = vec![];
        for k in 0..10u32 {
            for j in 0..4u32 {
                pairs.push((k * 10_000 + j * 20, 0));
            }
        }
        let s = SpikeTrains::from_unsorted(1, 1.0, 100_000, pairs.clone()).unwrap();
        assert_eq!(detect_burstlets(&s, &WagenaarParams::default()).len(), 10);
        // Raise the rate with a regular 25 Hz train on a second stretch: r ~ 25 Hz overall
        // -> threshold 1/(4 r) = 10 ms < 20 ms, so the 20 ms runs are no longer burstlets.
        for j in 0..2500u32 {
            pairs.push((100_000 + j * 40, 0));
        }
        let s = SpikeTrains::from_unsorted(1, 1.0, 200_000, pairs).unwrap();
        let bl = detect_burstlets(&s, &WagenaarParams::default());
        // rate = 2540 / 200 s = 12.7 Hz -> 19.7 ms threshold: 20 ms ISIs fail, 40 ms too.
        assert!(bl.is_empty(), "{bl:?}");
    }

    #[test]
    fn empty_recording_is_fine() {
        let s = SpikeTrains::empty(0, 0.5, 0).unwrap();
        let r = wagenaar_bursts(&s, &WagenaarParams::default());
        assert_eq!(r.stats.n_bursts, 0);
        assert!(r.stats.bursts_per_min.is_nan());
        let rt = rate_threshold_bursts(&s, &RateThresholdParams::default()).unwrap();
        assert_eq!(rt.stats.n_bursts, 0);
    }
}
