//! The Science view's content: the metrics of a run in plain language, each with a
//! one-line explanation and a verdict that really tests the published range.
//!
//! BL-1's Science tab showed burst rate, avalanche exponent and IBI always green with a
//! fixed reference text (reference study §9). Here every verdict comes from the value
//! against its range, and "can't tell" is a verdict of its own: a 2 s preview cannot show
//! bursts that come every 3–300 s, and an exponent whose power law a KS test rejects is not
//! "in range" whatever its value.
//!
//! Ranges (from `dishloop_analysis::summary`, which cites them): Wagenaar, Pine & Potter
//! 2006 (BMC Neurosci 7:11): rate 0.1–5 Hz, 0.2–20 bursts/min, IBI 3–300 s, IBI CV 0.3–2,
//! burst duration 100–2000 ms, recruitment 0.1–0.95. Beggs & Plenz 2003 (J Neurosci
//! 23:11167): branching ratio 0.95–1.05, avalanche size exponent 1.2–1.8.

use dishloop_analysis::summary::{Summary, Verdict as RangeVerdict};

/// Verdict of one science item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Inside the published range.
    Matches,
    /// Below it.
    Below,
    /// Above it.
    Above,
    /// The statistical model behind the range does not hold (a KS test rejects the power law).
    Rejected,
    /// Not enough data to say.
    CantTell,
}

impl Verdict {
    /// Short label with a symbol (terminal-safe).
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Matches => "✓ matches living cortex",
            Verdict::Below => "▼ below the cortex range",
            Verdict::Above => "▲ above the cortex range",
            Verdict::Rejected => "✗ not a power law",
            Verdict::CantTell => "? can't tell yet",
        }
    }

    fn of_range(v: RangeVerdict) -> Self {
        match v {
            RangeVerdict::InRange => Verdict::Matches,
            RangeVerdict::Below => Verdict::Below,
            RangeVerdict::Above => Verdict::Above,
            RangeVerdict::Undefined => Verdict::CantTell,
        }
    }
}

/// One metric, explained.
#[derive(Debug, Clone, PartialEq)]
pub struct ScienceItem {
    /// What is measured.
    pub title: &'static str,
    /// The value(s), formatted with units.
    pub value: String,
    /// One line: what it means.
    pub explanation: &'static str,
    /// The range and its source.
    pub reference: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why the verdict is what it is, when that is not obvious.
    pub why: String,
}

fn fmt_opt(v: Option<f64>, digits: usize, unit: &str) -> String {
    match v {
        Some(x) if x.is_finite() => {
            if unit.is_empty() {
                format!("{x:.digits$}")
            } else {
                format!("{x:.digits$} {unit}")
            }
        }
        _ => "n/a".into(),
    }
}

/// Minutes of recording after which zero bursts rule out the lower end of the Wagenaar
/// range (0.2 /min) at p < 0.05 for a Poisson process: exp(−0.2·T) < 0.05 ⇔ T > 15 min.
pub const MIN_MINUTES_FOR_NO_BURSTS: f64 = 15.0;

/// The science items of a summary, in display order.
pub fn science_items(s: &Summary) -> Vec<ScienceItem> {
    let mut out = Vec::with_capacity(6);
    let dur = s.duration_s;

    // 1. Firing rate.
    out.push(ScienceItem {
        title: "Firing rate",
        value: fmt_opt(s.mean_rate_hz, 2, "Hz per neuron"),
        explanation: "How often an average neuron fires; resting cortical cultures idle at a few spikes per second.",
        reference: "Wagenaar 2006: 0.1–5 Hz (Beggs & Plenz 2003 slices: 0.5–3 Hz)".into(),
        verdict: Verdict::of_range(RangeVerdict::of(s.mean_rate_hz, 0.1, 5.0)),
        why: String::new(),
    });

    // 2. Network bursts.
    let (verdict, why) = if s.n_bursts == 0 {
        if dur / 60.0 >= MIN_MINUTES_FOR_NO_BURSTS {
            (Verdict::Below, format!("no burst in {:.0} min", dur / 60.0))
        } else {
            (
                Verdict::CantTell,
                format!(
                    "no burst in {dur:.1} s: too short to judge (cultures burst every 3–300 s; run ≥ 60 s)"
                ),
            )
        }
    } else {
        let v = Verdict::of_range(RangeVerdict::of(s.bursts_per_min, 0.2, 20.0));
        let why = if s.n_bursts < 3 {
            format!(
                "only {} burst(s) in {dur:.1} s: a rough estimate",
                s.n_bursts
            )
        } else {
            String::new()
        };
        (v, why)
    };
    out.push(ScienceItem {
        title: "Network bursts",
        value: format!(
            "{} in {dur:.1} s = {}",
            s.n_bursts,
            fmt_opt(s.bursts_per_min, 1, "/min")
        ),
        explanation: "Moments when much of the culture fires together for a fraction of a second.",
        reference: "Wagenaar 2006: 0.2–20 bursts/min".into(),
        verdict,
        why,
    });

    // 3. Burst shape: duration and recruitment, both must be in range.
    let vd = RangeVerdict::of(s.burst_duration_ms, 100.0, 2000.0);
    let vr = RangeVerdict::of(s.recruitment, 0.10, 0.95);
    let shape = combine(vd, vr);
    out.push(ScienceItem {
        title: "Burst shape",
        value: if s.n_bursts == 0 {
            "no bursts".into()
        } else {
            format!(
                "{} long, {} of neurons join",
                fmt_opt(s.burst_duration_ms, 0, "ms"),
                s.recruitment
                    .map(|r| format!("{:.0} %", 100.0 * r))
                    .unwrap_or_else(|| "n/a".into())
            )
        },
        explanation: "How long a burst lasts and how much of the culture it recruits.",
        reference: "Wagenaar 2006: 100–2000 ms, 10–95 % recruited".into(),
        verdict: shape,
        why: if s.n_bursts == 0 {
            "needs at least one burst".into()
        } else {
            String::new()
        },
    });

    // 4. Rhythm: IBI and its CV.
    let vi = RangeVerdict::of(s.mean_ibi_s, 3.0, 300.0);
    let vc = RangeVerdict::of(s.ibi_cv, 0.3, 2.0);
    out.push(ScienceItem {
        title: "Burst rhythm",
        value: if s.n_bursts < 2 {
            "no interval yet".into()
        } else {
            format!(
                "every {} (CV {})",
                fmt_opt(s.mean_ibi_s, 1, "s"),
                fmt_opt(s.ibi_cv, 2, "")
            )
        },
        explanation: "Time between bursts and how irregular it is (CV 0 = clockwork, 1 = random).",
        reference: "Wagenaar 2006: 3–300 s, CV 0.3–2.0".into(),
        verdict: combine(vi, vc),
        why: if s.n_bursts < 2 {
            "needs 2 bursts for an interval, 3 for its CV".into()
        } else if s.n_bursts < 3 {
            "interval only: its CV needs 3 bursts".into()
        } else {
            String::new()
        },
    });

    // 5. Branching ratio (MR estimator).
    out.push(ScienceItem {
        title: "Branching ratio σ",
        value: format!(
            "{} (naive estimate {})",
            fmt_opt(s.branching_ratio, 3, ""),
            fmt_opt(s.branching_ratio_naive, 3, "")
        ),
        explanation: "Spikes caused per spike in the next few ms: 1 = critical, <1 activity dies out, >1 it explodes.",
        reference: "Beggs & Plenz 2003: 0.95–1.05 (MR estimator, Wilting & Priesemann 2018)".into(),
        verdict: Verdict::of_range(RangeVerdict::of(s.branching_ratio, 0.95, 1.05)),
        why: "the naive mean of ratios (BL-1's) is biased by background drive: shown, not judged".into(),
    });

    // 6. Avalanche size exponent, only if the power law survives its KS test.
    let (verdict, why) = match (s.avalanche_size_exponent, s.avalanche_size_ks_p) {
        (None, _) => (
            Verdict::CantTell,
            format!("{} avalanches: too few for a fit", s.n_avalanches),
        ),
        (Some(_), Some(p)) if p <= 0.1 => (
            Verdict::Rejected,
            format!("KS p = {p:.2} ≤ 0.1: sizes are not power-law distributed"),
        ),
        (Some(a), p) => (
            Verdict::of_range(RangeVerdict::of(Some(a), 1.2, 1.8)),
            match p {
                Some(p) => format!("{} avalanches, KS p = {p:.2}", s.n_avalanches),
                None => format!("{} avalanches, power law not tested", s.n_avalanches),
            },
        ),
    };
    out.push(ScienceItem {
        title: "Avalanche sizes",
        value: format!("P(size) ~ size^-{}", fmt_opt(s.avalanche_size_exponent, 2, "")),
        explanation: "Cascades of activity; near-critical tissue has many small and few huge ones (exponent ~1.5).",
        reference: "Beggs & Plenz 2003: exponent 1.2–1.8".into(),
        verdict,
        why,
    });
    out
}

/// Two metrics judged together: any out of range → that direction; otherwise in range if at
/// least one is defined and in range (the item's `why` says which one is missing).
fn combine(a: RangeVerdict, b: RangeVerdict) -> Verdict {
    use RangeVerdict::*;
    match (a, b) {
        (Below, _) | (_, Below) => Verdict::Below,
        (Above, _) | (_, Above) => Verdict::Above,
        (InRange, _) | (_, InRange) => Verdict::Matches,
        _ => Verdict::CantTell,
    }
}

/// `(matches, judged)` over the items: how many match among those with a verdict other
/// than "can't tell".
pub fn score(items: &[ScienceItem]) -> (usize, usize) {
    let judged = items
        .iter()
        .filter(|i| i.verdict != Verdict::CantTell)
        .count();
    let ok = items
        .iter()
        .filter(|i| i.verdict == Verdict::Matches)
        .count();
    (ok, judged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dishloop_analysis::SpikeTrains;
    use dishloop_analysis::summary::{SummaryParams, summarize};

    fn base() -> Summary {
        let s = SpikeTrains::from_unsorted(2, 0.5, 4000, [(10, 0), (10, 1), (2000, 0)]).unwrap();
        summarize(&s, &SummaryParams::default())
    }

    #[test]
    fn short_run_without_bursts_cannot_be_judged() {
        let s = base();
        let items = science_items(&s);
        assert_eq!(items.len(), 6);
        // 3 spikes / (2 neurons × 2 s) = 0.75 Hz: in Wagenaar's 0.1–5 Hz.
        assert_eq!(items[0].value, "0.75 Hz per neuron");
        assert_eq!(items[0].verdict, Verdict::Matches);
        assert_eq!(items[1].verdict, Verdict::CantTell);
        assert!(items[1].why.contains("too short"), "{}", items[1].why);
        assert_eq!(items[2].verdict, Verdict::CantTell);
        assert_eq!(items[3].verdict, Verdict::CantTell);
        assert_eq!(items[5].verdict, Verdict::CantTell);
    }

    #[test]
    fn verdicts_follow_the_values() {
        let mut s = base();
        s.mean_rate_hz = Some(12.0);
        s.duration_s = 16.0 * 60.0;
        s.branching_ratio = Some(0.5);
        s.avalanche_size_exponent = Some(1.5);
        s.avalanche_size_ks_p = Some(0.05);
        let items = science_items(&s);
        assert_eq!(items[0].verdict, Verdict::Above);
        assert_eq!(items[1].verdict, Verdict::Below); // no burst in 16 min
        assert_eq!(items[4].verdict, Verdict::Below);
        assert_eq!(items[5].verdict, Verdict::Rejected); // p ≤ 0.1
        s.avalanche_size_ks_p = Some(0.4);
        s.n_bursts = 10;
        s.bursts_per_min = Some(8.0);
        s.burst_duration_ms = Some(150.0);
        s.recruitment = Some(0.99);
        let items = science_items(&s);
        assert_eq!(items[5].verdict, Verdict::Matches);
        assert_eq!(items[1].verdict, Verdict::Matches);
        assert_eq!(items[2].verdict, Verdict::Above); // recruitment 99 % > 95 %
        assert_eq!(score(&items), (2, 5));
        // Two bursts: the interval is judged alone, and says the CV is missing.
        s.n_bursts = 2;
        s.mean_ibi_s = Some(9.0);
        s.ibi_cv = None;
        let items = science_items(&s);
        assert_eq!(items[3].verdict, Verdict::Matches);
        assert!(items[3].why.contains("CV needs 3"), "{}", items[3].why);
        s.mean_ibi_s = Some(1.0);
        assert_eq!(science_items(&s)[3].verdict, Verdict::Below);
    }
}
