//! Stimulation designs and the hardware safety envelope.
//!
//! The envelope is the CL1's (Cortical Labs `cl` SDK 1.0.0 checks; reference `cl1.md` §3.3):
//!
//! | limit | value |
//! |---|---|
//! | phases per pulse | 1–3, consecutive phases of opposite polarity |
//! | phase duration | 20–10 000 µs, a multiple of 20 µs |
//! | phase current | finite, non-zero, \|I\| ≤ 3 µA |
//! | charge per phase | \|I·d\| ≤ 3 nC (3 000 pC) |
//! | burst rate | 0 < f ≤ 200 Hz; pulses at least 80 µs apart |
//! | lead time | ≥ 80 µs, a multiple of 20 µs |
//! | channel | stimulable on the layout (CL1: 0..=63 except 0, 4, 7, 56, 63) |
//!
//! Everything is checked at construction and **refused, never clipped**: a design outside the
//! envelope is an [`EnvelopeError`] whose message names the limit.
//!
//! The API is the one of `dishloop_cl1::design` (same names and signatures), so the CL1 device
//! can re-export these types.

use serde::{Deserialize, Serialize};

/// Largest absolute phase current, µA.
pub const MAX_CURRENT_UA: f32 = 3.0;
/// Shortest phase, µs.
pub const MIN_PHASE_US: u32 = 20;
/// Phase durations, lead times and burst intervals are multiples of this, µs.
pub const TIMING_STEP_US: u32 = 20;
/// Longest phase, µs (SDK app model).
pub const MAX_PHASE_US: u32 = 10_000;
/// Largest charge per phase, pC (= µA·µs).
pub const MAX_CHARGE_PC: f32 = 3_000.0;
/// Highest burst rate, Hz.
pub const MAX_BURST_HZ: f32 = 200.0;
/// Minimum gap between the end of one pulse and the start of the next in a burst, µs.
pub const MIN_INTER_PULSE_GAP_US: u32 = 80;
/// Smallest lead time of a stim operation, µs.
pub const MIN_LEAD_TIME_US: u32 = 80;
/// Phase duration of the vendor's bare-amplitude form `stim(ch, x)`, µs.
pub const DEFAULT_PHASE_US: u32 = 160;

/// Why a design, burst, channel or lead time was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnvelopeError {
    /// A design needs 1 to 3 phases.
    #[error("a stim design has 1 to 3 phases, got {0}")]
    PhaseCount(usize),
    /// A phase is shorter than 20 µs.
    #[error("phase {phase}: {duration_us} µs is shorter than the {MIN_PHASE_US} µs minimum")]
    PhaseTooShort {
        /// Phase index.
        phase: usize,
        /// Its duration, µs.
        duration_us: u32,
    },
    /// A phase is longer than 10 000 µs.
    #[error("phase {phase}: {duration_us} µs is longer than the {MAX_PHASE_US} µs maximum")]
    PhaseTooLong {
        /// Phase index.
        phase: usize,
        /// Its duration, µs.
        duration_us: u32,
    },
    /// A phase duration is not a multiple of 20 µs.
    #[error("phase {phase}: {duration_us} µs is not a multiple of {TIMING_STEP_US} µs")]
    PhaseGranularity {
        /// Phase index.
        phase: usize,
        /// Its duration, µs.
        duration_us: u32,
    },
    /// A phase current is NaN or infinite.
    #[error("phase {phase}: current {current_ua} µA is not finite")]
    NonFiniteCurrent {
        /// Phase index.
        phase: usize,
        /// The current, µA.
        current_ua: f32,
    },
    /// A phase current is zero (every phase needs a polarity).
    #[error("phase {phase}: current is 0 µA; every phase needs a polarity")]
    ZeroCurrent {
        /// Phase index.
        phase: usize,
    },
    /// |I| above 3 µA.
    #[error("phase {phase}: |{current_ua}| µA exceeds the {MAX_CURRENT_UA} µA current limit")]
    CurrentTooHigh {
        /// Phase index.
        phase: usize,
        /// The current, µA.
        current_ua: f32,
    },
    /// Consecutive phases with the same polarity.
    #[error("phases {phase} and {} have the same polarity; phases must alternate", phase + 1)]
    Polarity {
        /// Index of the first of the two phases.
        phase: usize,
    },
    /// |I·d| above 3 nC.
    #[error(
        "phase {phase}: charge {charge_pc} pC exceeds the {MAX_CHARGE_PC} pC (3 nC) per-phase limit"
    )]
    ChargeTooHigh {
        /// Phase index.
        phase: usize,
        /// |I·d|, pC.
        charge_pc: f32,
    },
    /// Burst rate not in (0, 200] Hz.
    #[error("burst rate {hz} Hz is outside the (0, {MAX_BURST_HZ}] Hz limit")]
    BurstRate {
        /// The rate, Hz.
        hz: f32,
    },
    /// Burst pulses closer than pulse duration + 80 µs.
    #[error(
        "burst interval {interval_us} µs is shorter than pulse + {MIN_INTER_PULSE_GAP_US} µs = {min_us} µs"
    )]
    BurstInterval {
        /// Rounded inter-pulse interval, µs.
        interval_us: u32,
        /// Smallest allowed interval for this design, µs.
        min_us: u32,
    },
    /// A channel (electrode) that cannot be stimulated on this layout, or does not exist.
    #[error(
        "channel {channel} cannot be stimulated on this layout (CL1: 0..=63 except 0, 4, 7, 56, 63)"
    )]
    NotStimulable {
        /// The channel (electrode index).
        channel: usize,
    },
    /// Lead time below 80 µs or not a multiple of 20 µs.
    #[error(
        "lead time {lead_us} µs must be ≥ {MIN_LEAD_TIME_US} µs and a multiple of {TIMING_STEP_US} µs"
    )]
    LeadTime {
        /// The lead time, µs.
        lead_us: u32,
    },
}

/// One phase of a pulse: a constant current for a duration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// Duration, µs (multiple of 20, 20..=10 000).
    pub duration_us: u32,
    /// Current, µA; negative = cathodic (depolarises cells near the electrode).
    pub current_ua: f32,
}

/// A validated mono-, bi- or triphasic current pulse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StimDesign {
    phases: [Phase; 3],
    n: u8,
}

impl StimDesign {
    /// A design from 1–3 phases, checked against the envelope (module docs).
    pub fn new(phases: &[Phase]) -> Result<Self, EnvelopeError> {
        if phases.is_empty() || phases.len() > 3 {
            return Err(EnvelopeError::PhaseCount(phases.len()));
        }
        for (phase, p) in phases.iter().enumerate() {
            let duration_us = p.duration_us;
            if duration_us < MIN_PHASE_US {
                return Err(EnvelopeError::PhaseTooShort { phase, duration_us });
            }
            if duration_us > MAX_PHASE_US {
                return Err(EnvelopeError::PhaseTooLong { phase, duration_us });
            }
            if !duration_us.is_multiple_of(TIMING_STEP_US) {
                return Err(EnvelopeError::PhaseGranularity { phase, duration_us });
            }
            let current_ua = p.current_ua;
            if !current_ua.is_finite() {
                return Err(EnvelopeError::NonFiniteCurrent { phase, current_ua });
            }
            if current_ua == 0.0 {
                return Err(EnvelopeError::ZeroCurrent { phase });
            }
            if current_ua.abs() > MAX_CURRENT_UA {
                return Err(EnvelopeError::CurrentTooHigh { phase, current_ua });
            }
            let charge_pc = current_ua.abs() * duration_us as f32;
            if charge_pc > MAX_CHARGE_PC {
                return Err(EnvelopeError::ChargeTooHigh { phase, charge_pc });
            }
            if phase > 0 && (phases[phase - 1].current_ua > 0.0) == (current_ua > 0.0) {
                return Err(EnvelopeError::Polarity { phase: phase - 1 });
            }
        }
        let mut arr = [Phase {
            duration_us: 0,
            current_ua: 0.0,
        }; 3];
        arr[..phases.len()].copy_from_slice(phases);
        Ok(Self {
            phases: arr,
            n: phases.len() as u8,
        })
    }

    /// `StimDesign(d1, i1)`.
    pub fn monophasic(d1_us: u32, i1_ua: f32) -> Result<Self, EnvelopeError> {
        Self::new(&[Phase {
            duration_us: d1_us,
            current_ua: i1_ua,
        }])
    }

    /// `StimDesign(d1, i1, d2, i2)`.
    pub fn biphasic(d1_us: u32, i1_ua: f32, d2_us: u32, i2_ua: f32) -> Result<Self, EnvelopeError> {
        Self::new(&[
            Phase {
                duration_us: d1_us,
                current_ua: i1_ua,
            },
            Phase {
                duration_us: d2_us,
                current_ua: i2_ua,
            },
        ])
    }

    /// `StimDesign(d1, i1, d2, i2, d3, i3)`.
    pub fn triphasic(
        d1_us: u32,
        i1_ua: f32,
        d2_us: u32,
        i2_ua: f32,
        d3_us: u32,
        i3_ua: f32,
    ) -> Result<Self, EnvelopeError> {
        Self::new(&[
            Phase {
                duration_us: d1_us,
                current_ua: i1_ua,
            },
            Phase {
                duration_us: d2_us,
                current_ua: i2_ua,
            },
            Phase {
                duration_us: d3_us,
                current_ua: i3_ua,
            },
        ])
    }

    /// Symmetric, charge-balanced, cathodic-first biphasic pulse: `phase_us` at −`amp_ua`, then
    /// `phase_us` at +`amp_ua`.
    pub fn cathodic_first(phase_us: u32, amp_ua: f32) -> Result<Self, EnvelopeError> {
        Self::biphasic(phase_us, -amp_ua, phase_us, amp_ua)
    }

    /// The vendor's bare-amplitude form `stim(ch, x)`: 160 µs at −x, then 160 µs at +x.
    pub fn from_amplitude(amp_ua: f32) -> Result<Self, EnvelopeError> {
        Self::cathodic_first(DEFAULT_PHASE_US, amp_ua)
    }

    /// The phases.
    pub fn phases(&self) -> &[Phase] {
        &self.phases[..self.n as usize]
    }

    /// Total pulse duration, µs.
    pub fn duration_us(&self) -> u32 {
        self.phases().iter().map(|p| p.duration_us).sum()
    }

    /// Largest |I| over the phases, µA.
    pub fn peak_current_ua(&self) -> f32 {
        self.phases()
            .iter()
            .map(|p| p.current_ua.abs())
            .fold(0.0, f32::max)
    }

    /// Net charge ∑ I·d over the phases, pC (0 for a charge-balanced design).
    pub fn net_charge_pc(&self) -> f32 {
        self.phases()
            .iter()
            .map(|p| p.current_ua * p.duration_us as f32)
            .sum()
    }

    /// Current `t_us` after pulse onset (0 outside the pulse), µA.
    pub fn current_at_us(&self, t_us: u32) -> f32 {
        let mut start = 0;
        for p in self.phases() {
            if t_us < start + p.duration_us {
                return p.current_ua;
            }
            start += p.duration_us;
        }
        0.0
    }
}

impl Serialize for StimDesign {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.phases().serialize(s)
    }
}

impl<'de> Deserialize<'de> for StimDesign {
    /// Deserialises a list of phases and checks it against the envelope.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let phases = Vec::<Phase>::deserialize(d)?;
        StimDesign::new(&phases).map_err(serde::de::Error::custom)
    }
}

/// A validated burst: `count` pulses at `hz`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BurstDesign {
    count: u32,
    hz: f32,
}

impl BurstDesign {
    /// `count` pulses (≥ 0) at `hz` ∈ (0, 200].
    pub fn new(count: u32, hz: f32) -> Result<Self, EnvelopeError> {
        if !(hz.is_finite() && hz > 0.0 && hz <= MAX_BURST_HZ) {
            return Err(EnvelopeError::BurstRate { hz });
        }
        Ok(Self { count, hz })
    }

    /// A single pulse (a stim without a burst).
    pub fn single() -> Self {
        Self {
            count: 1,
            hz: MAX_BURST_HZ,
        }
    }

    /// Pulses in the burst.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Pulse rate, Hz.
    pub fn hz(&self) -> f32 {
        self.hz
    }

    /// Inter-pulse interval rounded to the nearest 20 µs, µs.
    pub fn interval_us(&self) -> u32 {
        let raw = 1e6 / self.hz as f64;
        let steps = (raw / TIMING_STEP_US as f64).round().max(1.0);
        // Saturating: a burst rate has no lower bound, so the interval can exceed u32 µs.
        (steps as u32).saturating_mul(TIMING_STEP_US)
    }

    /// Checks that pulses of `design` fit the interval (interval ≥ pulse + 80 µs). Single-pulse
    /// bursts always fit.
    pub fn check_fits(&self, design: &StimDesign) -> Result<(), EnvelopeError> {
        if self.count <= 1 {
            return Ok(());
        }
        let min_us = design.duration_us() + MIN_INTER_PULSE_GAP_US;
        let interval_us = self.interval_us();
        if interval_us < min_us {
            return Err(EnvelopeError::BurstInterval {
                interval_us,
                min_us,
            });
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for BurstDesign {
    /// Deserialises `{count, hz}` and checks the rate.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            count: u32,
            hz: f32,
        }
        let r = Raw::deserialize(d)?;
        BurstDesign::new(r.count, r.hz).map_err(serde::de::Error::custom)
    }
}

/// Checks a lead time (≥ 80 µs, a multiple of 20 µs).
pub fn check_lead_time(lead_us: u32) -> Result<(), EnvelopeError> {
    if lead_us < MIN_LEAD_TIME_US || !lead_us.is_multiple_of(TIMING_STEP_US) {
        return Err(EnvelopeError::LeadTime { lead_us });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_is_refused_by_name_never_clipped() {
        // 200 µs × 2.5 µA = 500 pC: inside. 3 µA allows at most 1000 µs per phase (3 nC).
        let d = StimDesign::cathodic_first(200, 2.5).expect("inside envelope");
        assert_eq!(d.duration_us(), 400);
        assert_eq!(d.net_charge_pc(), 0.0);
        assert_eq!(d.current_at_us(199), -2.5);
        assert_eq!(d.current_at_us(200), 2.5);
        assert_eq!(d.current_at_us(400), 0.0);
        assert!(StimDesign::cathodic_first(1000, 3.0).is_ok());
        let cases: Vec<(Result<StimDesign, EnvelopeError>, &str)> = vec![
            (StimDesign::cathodic_first(1020, 3.0), "3 nC"),
            (StimDesign::cathodic_first(200, 3.01), "3 µA"),
            (StimDesign::monophasic(10, 1.0), "20 µs minimum"),
            (StimDesign::monophasic(30, 1.0), "multiple of 20"),
            (StimDesign::monophasic(10_020, 0.1), "10000 µs maximum"),
            (StimDesign::biphasic(100, -1.0, 100, -1.0), "alternate"),
            (StimDesign::new(&[]), "1 to 3 phases"),
            (StimDesign::monophasic(100, f32::NAN), "not finite"),
            (StimDesign::monophasic(100, 0.0), "polarity"),
        ];
        for (r, needle) in cases {
            let msg = r.expect_err(needle).to_string();
            assert!(msg.contains(needle), "{msg:?} should name {needle:?}");
        }
        assert_eq!(
            StimDesign::cathodic_first(1020, 3.0),
            Err(EnvelopeError::ChargeTooHigh {
                phase: 0,
                charge_pc: 3060.0
            })
        );
        assert!(StimDesign::triphasic(100, -1.0, 100, 1.0, 100, -1.0).is_ok());
        let f = StimDesign::from_amplitude(1.0).expect("ok");
        assert_eq!(f.phases()[0].duration_us, 160);
        assert_eq!(f.phases()[0].current_ua, -1.0);
    }

    #[test]
    fn bursts_and_lead_times() {
        assert!(BurstDesign::new(1, 200.0).is_ok());
        let e = BurstDesign::new(1, 200.5).expect_err("over 200 Hz");
        assert!(e.to_string().contains("200] Hz"), "{e}");
        assert!(BurstDesign::new(1, 0.0).is_err());
        assert!(BurstDesign::new(1, f32::INFINITY).is_err());
        // 30 Hz → 33 333.3 µs → nearest 20 µs = 33 340 µs.
        assert_eq!(BurstDesign::new(3, 30.0).expect("ok").interval_us(), 33_340);
        let long = StimDesign::triphasic(2000, -1.0, 2000, 1.0, 1000, -1.0).expect("ok");
        assert_eq!(
            BurstDesign::new(2, 200.0).expect("ok").check_fits(&long),
            Err(EnvelopeError::BurstInterval {
                interval_us: 5000,
                min_us: 5080
            })
        );
        assert!(check_lead_time(80).is_ok());
        assert!(check_lead_time(60).is_err());
        assert!(check_lead_time(90).is_err());
    }

    #[test]
    fn serde_round_trip_validates() {
        let d = StimDesign::cathodic_first(200, 1.5).expect("ok");
        let json = serde_json::to_string(&d).expect("serialise");
        let back: StimDesign = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, d);
        let bad = r#"[{"duration_us": 200, "current_ua": -4.0}]"#;
        let err = serde_json::from_str::<StimDesign>(bad).expect_err("4 µA is refused");
        assert!(err.to_string().contains("3 µA"), "{err}");
        let b: BurstDesign = serde_json::from_str(r#"{"count": 5, "hz": 20}"#).expect("ok");
        assert_eq!(b.interval_us(), 50_000);
        assert!(serde_json::from_str::<BurstDesign>(r#"{"count": 5, "hz": 500}"#).is_err());
    }
}
