//! Stimulation designs and the CL1 hardware envelope (vendor `cl.StimDesign`, `cl.BurstDesign`;
//! reference `cl1.md` §3.3, limits from cl-sdk 1.0.0's checks and changelog).
//!
//! Everything here is checked at construction and **refused, never clipped**: a design outside
//! the envelope is an [`EnvelopeError`] naming the limit.

/// Largest absolute phase current, µA (cl-sdk: |I| ≤ 3.0 µA).
pub const MAX_CURRENT_UA: f32 = 3.0;
/// Shortest phase, µs (cl-sdk: ≥ 20 µs).
pub const MIN_PHASE_US: u32 = 20;
/// Phase durations, lead times and burst intervals are multiples of this, µs (20 µs timing
/// granularity; the simulator runs a 50 kHz clock).
pub const TIMING_STEP_US: u32 = 20;
/// Longest phase, µs (SDK app model: ≤ 10 000 µs).
pub const MAX_PHASE_US: u32 = 10_000;
/// Largest charge per phase, pC = µA·µs (cl-sdk 1.0.0: |I·d| ≤ 3 nC).
pub const MAX_CHARGE_PC: f32 = 3_000.0;
/// Highest burst rate, Hz (cl-sdk 1.0.0: 0 < hz ≤ 200).
pub const MAX_BURST_HZ: f32 = 200.0;
/// Minimum gap between the end of one pulse and the next pulse of a burst, µs.
pub const MIN_INTER_PULSE_GAP_US: u32 = 80;
/// Smallest lead time of a stim call, µs (cl-sdk default and minimum: 80 µs).
pub const MIN_LEAD_TIME_US: u32 = 80;
/// Default phase duration of the bare-float form `stim(ch, x)`, µs.
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
        /// The current.
        current_ua: f32,
    },
    /// A phase current is zero (a phase needs a polarity).
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
        /// The current.
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
        /// |I·d| in pC.
        charge_pc: f32,
    },
    /// Burst rate not in (0, 200] Hz or not finite.
    #[error("burst rate {hz} Hz is outside the (0, {MAX_BURST_HZ}] Hz limit")]
    BurstRate {
        /// The rate.
        hz: f32,
    },
    /// Burst pulses closer than pulse duration + 80 µs.
    #[error(
        "burst interval {interval_us} µs is shorter than pulse + {MIN_INTER_PULSE_GAP_US} µs = {min_us} µs"
    )]
    BurstInterval {
        /// Rounded inter-pulse interval, µs.
        interval_us: u64,
        /// Smallest allowed interval for this design, µs.
        min_us: u64,
    },
    /// A channel that cannot be stimulated (0, 4, 7, 56, 63) or does not exist.
    #[error("channel {channel} cannot be stimulated (stimulable: 0..=63 except 0, 4, 7, 56, 63)")]
    NotStimulable {
        /// The channel.
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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    /// Duration, µs (multiple of 20, 20..=10 000).
    pub duration_us: u32,
    /// Current, µA (negative = cathodic), |I| ≤ 3.
    pub current_ua: f32,
}

/// A validated mono-, bi- or triphasic pulse shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StimDesign {
    phases: [Phase; 3],
    n: u8,
}

impl StimDesign {
    /// A design from 1–3 phases, checked against the envelope: each phase 20..=10 000 µs in 20 µs
    /// steps, finite non-zero current with |I| ≤ 3 µA and |I·d| ≤ 3 nC, alternating polarity.
    pub fn new(phases: &[Phase]) -> Result<Self, EnvelopeError> {
        if phases.is_empty() || phases.len() > 3 {
            return Err(EnvelopeError::PhaseCount(phases.len()));
        }
        for (phase, p) in phases.iter().enumerate() {
            if p.duration_us < MIN_PHASE_US {
                return Err(EnvelopeError::PhaseTooShort {
                    phase,
                    duration_us: p.duration_us,
                });
            }
            if p.duration_us > MAX_PHASE_US {
                return Err(EnvelopeError::PhaseTooLong {
                    phase,
                    duration_us: p.duration_us,
                });
            }
            if !p.duration_us.is_multiple_of(TIMING_STEP_US) {
                return Err(EnvelopeError::PhaseGranularity {
                    phase,
                    duration_us: p.duration_us,
                });
            }
            if !p.current_ua.is_finite() {
                return Err(EnvelopeError::NonFiniteCurrent {
                    phase,
                    current_ua: p.current_ua,
                });
            }
            if p.current_ua == 0.0 {
                return Err(EnvelopeError::ZeroCurrent { phase });
            }
            if p.current_ua.abs() > MAX_CURRENT_UA {
                return Err(EnvelopeError::CurrentTooHigh {
                    phase,
                    current_ua: p.current_ua,
                });
            }
            let charge_pc = p.current_ua.abs() * p.duration_us as f32;
            if charge_pc > MAX_CHARGE_PC {
                return Err(EnvelopeError::ChargeTooHigh { phase, charge_pc });
            }
            if phase > 0 && (phases[phase - 1].current_ua > 0.0) == (p.current_ua > 0.0) {
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

    /// Symmetric cathodic-first biphasic pulse: `phase_us` at −amp, then `phase_us` at +amp (the
    /// pulse both client programs' device scripts build; 200 µs for video, 120 µs for doom).
    pub fn cathodic_first(phase_us: u32, amp_ua: f32) -> Result<Self, EnvelopeError> {
        Self::biphasic(phase_us, -amp_ua, phase_us, amp_ua)
    }

    /// The vendor's bare-float form `stim(ch, x)`: 160 µs at −x then 160 µs at +x.
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

    /// Net charge I·d summed over phases, pC (0 for a charge-balanced design).
    pub fn net_charge_pc(&self) -> f32 {
        self.phases()
            .iter()
            .map(|p| p.current_ua * p.duration_us as f32)
            .sum()
    }

    /// Current at `t_us` after pulse onset (0 outside the pulse), µA.
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

/// A validated burst: `count` pulses at `hz` (vendor `cl.BurstDesign`).
#[derive(Debug, Clone, Copy, PartialEq)]
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

    /// A single pulse (what `stim` does without a burst).
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

    /// Inter-pulse interval rounded to the nearest 20 µs (cl-sdk 1.0.0), µs.
    /// Saturates for absurdly slow rates (a burst rate only has a lower bound of 0 Hz).
    pub fn interval_us(&self) -> u64 {
        let raw = 1e6 / self.hz as f64;
        let max_steps = (u64::MAX / TIMING_STEP_US as u64) as f64;
        let steps = (raw / TIMING_STEP_US as f64).round().clamp(1.0, max_steps);
        (steps as u64).saturating_mul(TIMING_STEP_US as u64)
    }

    /// Checks that pulses of `design` fit the interval (interval ≥ pulse + 80 µs). Single-pulse
    /// bursts always fit.
    pub fn check_fits(&self, design: &StimDesign) -> Result<(), EnvelopeError> {
        if self.count <= 1 {
            return Ok(());
        }
        let min_us = (design.duration_us() + MIN_INTER_PULSE_GAP_US) as u64;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_limits_are_refused_not_clipped() {
        // cl1.md §3.3: 200 µs × 2.5 µA = 0.5 nC is fine; 3 µA allows ≤ 1000 µs per phase.
        let d = StimDesign::cathodic_first(200, 2.5).expect("inside envelope");
        assert_eq!(d.duration_us(), 400);
        assert_eq!(d.net_charge_pc(), 0.0);
        assert_eq!(d.current_at_us(0), -2.5);
        assert_eq!(d.current_at_us(200), 2.5);
        assert_eq!(d.current_at_us(400), 0.0);
        assert!(StimDesign::cathodic_first(1000, 3.0).is_ok());
        assert_eq!(
            StimDesign::cathodic_first(1020, 3.0),
            Err(EnvelopeError::ChargeTooHigh {
                phase: 0,
                charge_pc: 3060.0
            })
        );
        assert_eq!(
            StimDesign::cathodic_first(200, 3.01),
            Err(EnvelopeError::CurrentTooHigh {
                phase: 0,
                current_ua: -3.01
            })
        );
        assert_eq!(
            StimDesign::monophasic(10, 1.0),
            Err(EnvelopeError::PhaseTooShort {
                phase: 0,
                duration_us: 10
            })
        );
        assert_eq!(
            StimDesign::monophasic(30, 1.0),
            Err(EnvelopeError::PhaseGranularity {
                phase: 0,
                duration_us: 30
            })
        );
        assert_eq!(
            StimDesign::monophasic(10_020, 0.1),
            Err(EnvelopeError::PhaseTooLong {
                phase: 0,
                duration_us: 10_020
            })
        );
        assert_eq!(
            StimDesign::biphasic(100, -1.0, 100, -1.0),
            Err(EnvelopeError::Polarity { phase: 0 })
        );
        assert!(StimDesign::triphasic(100, -1.0, 100, 1.0, 100, -1.0).is_ok());
        assert_eq!(StimDesign::new(&[]), Err(EnvelopeError::PhaseCount(0)));
        assert!(matches!(
            StimDesign::monophasic(100, f32::NAN),
            Err(EnvelopeError::NonFiniteCurrent { .. })
        ));
        assert_eq!(
            StimDesign::monophasic(100, 0.0),
            Err(EnvelopeError::ZeroCurrent { phase: 0 })
        );
        // Error text names the limit.
        let msg = StimDesign::cathodic_first(200, 3.5)
            .expect_err("too high")
            .to_string();
        assert!(msg.contains("3 µA"), "{msg}");
    }

    #[test]
    fn bursts() {
        assert!(BurstDesign::new(1, 200.0).is_ok());
        assert_eq!(
            BurstDesign::new(1, 200.5),
            Err(EnvelopeError::BurstRate { hz: 200.5 })
        );
        assert!(BurstDesign::new(1, 0.0).is_err());
        // Tiny positive rates are legal; the interval saturates instead of overflowing.
        assert!(BurstDesign::new(2, 1e-30).expect("ok").interval_us() >= u64::MAX - 20);
        assert!(BurstDesign::new(1, f32::INFINITY).is_err());
        // 30 Hz → 33 333.3 µs → nearest 20 µs step = 33 340 µs.
        assert_eq!(BurstDesign::new(3, 30.0).expect("ok").interval_us(), 33_340);
        assert_eq!(BurstDesign::new(3, 200.0).expect("ok").interval_us(), 5_000);
        // A 3 × 1000 µs triphasic pulse + 80 µs gap fits 200 Hz (5000 µs), not a long monophasic
        // pulse sequence closer than that.
        let long = StimDesign::triphasic(1000, -1.0, 1000, 1.0, 1000, -1.0).expect("ok");
        assert!(
            BurstDesign::new(2, 200.0)
                .expect("ok")
                .check_fits(&long)
                .is_ok()
        );
        let longer = StimDesign::triphasic(2000, -1.0, 2000, 1.0, 1000, -1.0).expect("ok");
        assert_eq!(
            BurstDesign::new(2, 200.0).expect("ok").check_fits(&longer),
            Err(EnvelopeError::BurstInterval {
                interval_us: 5000,
                min_us: 5080
            })
        );
    }
}
