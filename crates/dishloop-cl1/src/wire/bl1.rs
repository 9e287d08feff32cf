//! BL-1's extra packets (reference `bl1.md` §8).
//!
//! - [`StatsV1`]: BL-1's 356-byte "neural statistics" packet (CL1 → trainer, port 12351),
//!   reproduced byte for byte: `0` u64 ts_us · `8` u32 version = 1 · `12` u32 n_el = 64 ·
//!   `16` u32 tick · `20..276` f32\[64\] electrode spikes · `276..308` f32\[8\] EMA group rates ·
//!   `308` f32 population rate · `312` f32 burst flag · `316` f32 Fano synchrony ·
//!   `320..352` f32\[8\] stim amplitudes · `352` f32 total spikes.
//! - [`ActionV1`]: an action packet of **our own design** (trainer → CL1, port 12352). BL-1
//!   documents an 80-byte action packet whose format string has 19 items while its packer passes
//!   18, so it can never be packed and no upstream program sends it; we therefore define a fixed,
//!   versioned replacement rather than guess at the intended one:
//!
//!   | offset | type | field |
//!   |---|---|---|
//!   | 0 | u64 | ts_us |
//!   | 8 | u32 | version = 1 |
//!   | 12 | f32\[3\] | forward probabilities (forward, none, backward) |
//!   | 24 | f32\[3\] | strafe probabilities (left, none, right) |
//!   | 36 | f32\[3\] | turn probabilities (left, none, right) |
//!   | 48 | f32 | attack probability |
//!   | 52 | u32\[4\] | chosen indices: forward 0..3, strafe 0..3, turn 0..3, attack 0..2 |
//!   | 68 | f32 | step reward |
//!   | 72 | f32 | episode reward so far |
//!   | 76 | u32 | kills |
//!
//!   80 bytes, little-endian, packed. A future layout must bump the version.

use super::{WireError, check_finite, le_f32, le_f32s, le_u32, le_u64, put_f32s};

/// Default port of the statistics packet.
pub const STATS_PORT: u16 = 12351;
/// Default port of the action packet.
pub const ACTION_PORT: u16 = 12352;
/// Size of [`StatsV1`] in bytes.
pub const STATS_LEN: usize = 356;
/// Size of [`ActionV1`] in bytes.
pub const ACTION_LEN: usize = 80;
/// Version field of [`StatsV1`].
pub const STATS_VERSION: u32 = 1;
/// Version field of [`ActionV1`].
pub const ACTION_VERSION: u32 = 1;
/// Electrodes in a [`StatsV1`] packet.
pub const STATS_ELECTRODES: usize = 64;

/// BL-1's per-tick statistics packet, version 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsV1 {
    /// Device wall clock at send, µs since the Unix epoch.
    pub timestamp_us: u64,
    /// Tick counter.
    pub tick: u32,
    /// Spikes per electrode during the tick.
    pub electrode_spikes: [f32; STATS_ELECTRODES],
    /// Exponential moving average of each doom channel group's rate.
    pub group_rates_ema: [f32; 8],
    /// Population rate (Hz per electrode).
    pub population_rate_hz: f32,
    /// 1.0 when the population rate exceeds its EMA mean + 1.5 SD, else 0.0.
    pub burst_flag: f32,
    /// Fano-factor synchrony measure.
    pub fano_synchrony: f32,
    /// Amplitudes of the last stim packet's 8 pairs, µA.
    pub stim_amplitudes_ua: [f32; 8],
    /// Total spikes during the tick.
    pub total_spikes: f32,
}

impl StatsV1 {
    /// Packs into the 356-byte layout.
    pub fn encode(&self) -> [u8; STATS_LEN] {
        let mut b = [0u8; STATS_LEN];
        b[0..8].copy_from_slice(&self.timestamp_us.to_le_bytes());
        b[8..12].copy_from_slice(&STATS_VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&(STATS_ELECTRODES as u32).to_le_bytes());
        b[16..20].copy_from_slice(&self.tick.to_le_bytes());
        put_f32s(&mut b, 20, &self.electrode_spikes);
        put_f32s(&mut b, 276, &self.group_rates_ema);
        put_f32s(
            &mut b,
            308,
            &[
                self.population_rate_hz,
                self.burst_flag,
                self.fano_synchrony,
            ],
        );
        put_f32s(&mut b, 320, &self.stim_amplitudes_ua);
        put_f32s(&mut b, 352, &[self.total_spikes]);
        b
    }

    /// Unpacks exactly 356 bytes with version 1 and n_el 64.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() != STATS_LEN {
            return Err(WireError::Size {
                expected: STATS_LEN,
                got: bytes.len(),
            });
        }
        let version = le_u32(bytes, 8);
        if version != STATS_VERSION {
            return Err(WireError::Version {
                expected: STATS_VERSION,
                got: version,
            });
        }
        let n_el = le_u32(bytes, 12);
        if n_el != STATS_ELECTRODES as u32 {
            return Err(WireError::Shape {
                field: "n_el",
                expected: STATS_ELECTRODES as u32,
                got: n_el,
            });
        }
        Ok(Self {
            timestamp_us: le_u64(bytes, 0),
            tick: le_u32(bytes, 16),
            electrode_spikes: le_f32s(bytes, 20),
            group_rates_ema: le_f32s(bytes, 276),
            population_rate_hz: le_f32(bytes, 308),
            burst_flag: le_f32(bytes, 312),
            fano_synchrony: le_f32(bytes, 316),
            stim_amplitudes_ua: le_f32s(bytes, 320),
            total_spikes: le_f32(bytes, 352),
        })
    }

    /// All values finite; spike counts non-negative.
    pub fn validate(&self) -> Result<(), WireError> {
        check_finite("electrode_spikes", &self.electrode_spikes)?;
        check_finite("group_rates_ema", &self.group_rates_ema)?;
        check_finite("population_rate_hz", &[self.population_rate_hz])?;
        check_finite("burst_flag", &[self.burst_flag])?;
        check_finite("fano_synchrony", &[self.fano_synchrony])?;
        check_finite("stim_amplitudes_ua", &self.stim_amplitudes_ua)?;
        check_finite("total_spikes", &[self.total_spikes])?;
        for (index, &v) in self.electrode_spikes.iter().enumerate() {
            if v < 0.0 {
                return Err(WireError::Negative {
                    field: "electrode_spikes",
                    index,
                    value: v as f64,
                });
            }
        }
        Ok(())
    }
}

/// Our fixed, versioned action packet (layout in the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActionV1 {
    /// Sender wall clock, µs since the Unix epoch.
    pub timestamp_us: u64,
    /// Probabilities of (forward, none, backward).
    pub forward_probs: [f32; 3],
    /// Probabilities of (left, none, right) strafing.
    pub strafe_probs: [f32; 3],
    /// Probabilities of (left, none, right) turning.
    pub turn_probs: [f32; 3],
    /// Probability of attacking.
    pub attack_prob: f32,
    /// Chosen indices: forward 0..3, strafe 0..3, turn 0..3, attack 0..2.
    pub actions: [u32; 4],
    /// Reward of this step.
    pub reward: f32,
    /// Episode reward so far.
    pub episode_reward: f32,
    /// Kills so far in the episode.
    pub kills: u32,
}

/// Number of choices per entry of [`ActionV1::actions`].
pub const ACTION_CHOICES: [u32; 4] = [3, 3, 3, 2];

impl ActionV1 {
    /// Packs into the 80-byte layout.
    pub fn encode(&self) -> [u8; ACTION_LEN] {
        let mut b = [0u8; ACTION_LEN];
        b[0..8].copy_from_slice(&self.timestamp_us.to_le_bytes());
        b[8..12].copy_from_slice(&ACTION_VERSION.to_le_bytes());
        put_f32s(&mut b, 12, &self.forward_probs);
        put_f32s(&mut b, 24, &self.strafe_probs);
        put_f32s(&mut b, 36, &self.turn_probs);
        put_f32s(&mut b, 48, &[self.attack_prob]);
        for (i, a) in self.actions.iter().enumerate() {
            b[52 + 4 * i..56 + 4 * i].copy_from_slice(&a.to_le_bytes());
        }
        put_f32s(&mut b, 68, &[self.reward, self.episode_reward]);
        b[76..80].copy_from_slice(&self.kills.to_le_bytes());
        b
    }

    /// Unpacks exactly 80 bytes of version 1 with action indices in range.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() != ACTION_LEN {
            return Err(WireError::Size {
                expected: ACTION_LEN,
                got: bytes.len(),
            });
        }
        let version = le_u32(bytes, 8);
        if version != ACTION_VERSION {
            return Err(WireError::Version {
                expected: ACTION_VERSION,
                got: version,
            });
        }
        let mut actions = [0u32; 4];
        for (i, a) in actions.iter_mut().enumerate() {
            *a = le_u32(bytes, 52 + 4 * i);
            if *a >= ACTION_CHOICES[i] {
                return Err(WireError::OutOfRange {
                    field: "actions",
                    index: i,
                    value: *a as f64,
                    min: 0.0,
                    max: (ACTION_CHOICES[i] - 1) as f64,
                });
            }
        }
        Ok(Self {
            timestamp_us: le_u64(bytes, 0),
            forward_probs: le_f32s(bytes, 12),
            strafe_probs: le_f32s(bytes, 24),
            turn_probs: le_f32s(bytes, 36),
            attack_prob: le_f32(bytes, 48),
            actions,
            reward: le_f32(bytes, 68),
            episode_reward: le_f32(bytes, 72),
            kills: le_u32(bytes, 76),
        })
    }

    /// Probabilities finite and in [0, 1], each triple summing to 1 within 1e-3; rewards finite.
    pub fn validate(&self) -> Result<(), WireError> {
        for (field, p) in [
            ("forward_probs", &self.forward_probs[..]),
            ("strafe_probs", &self.strafe_probs[..]),
            ("turn_probs", &self.turn_probs[..]),
            ("attack_prob", std::slice::from_ref(&self.attack_prob)),
        ] {
            check_finite(field, p)?;
            for (index, &v) in p.iter().enumerate() {
                if !(0.0..=1.0).contains(&v) {
                    return Err(WireError::OutOfRange {
                        field,
                        index,
                        value: v as f64,
                        min: 0.0,
                        max: 1.0,
                    });
                }
            }
            if p.len() == 3 {
                let s: f32 = p.iter().sum();
                if (s - 1.0).abs() > 1e-3 {
                    return Err(WireError::OutOfRange {
                        field,
                        index: 3,
                        value: s as f64,
                        min: 1.0 - 1e-3,
                        max: 1.0 + 1e-3,
                    });
                }
            }
        }
        check_finite("reward", &[self.reward, self.episode_reward])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden offsets by hand from `bl1.md` §8.
    #[test]
    fn stats_golden_offsets() {
        let mut s = StatsV1 {
            timestamp_us: 1,
            tick: 0x0A0B_0C0D,
            electrode_spikes: [0.0; 64],
            group_rates_ema: [0.0; 8],
            population_rate_hz: 2.0,
            burst_flag: 1.0,
            fano_synchrony: 0.5,
            stim_amplitudes_ua: [0.0; 8],
            total_spikes: 3.0,
        };
        s.electrode_spikes[63] = 3.0;
        s.group_rates_ema[0] = 1.0;
        s.stim_amplitudes_ua[7] = 2.5;
        let b = s.encode();
        assert_eq!(b.len(), 356);
        assert_eq!(&b[8..12], &[1, 0, 0, 0]);
        assert_eq!(&b[12..16], &[64, 0, 0, 0]);
        assert_eq!(&b[16..20], &[0x0D, 0x0C, 0x0B, 0x0A]);
        assert_eq!(&b[272..276], &[0x00, 0x00, 0x40, 0x40]); // electrode 63 = 3.0
        assert_eq!(&b[276..280], &[0x00, 0x00, 0x80, 0x3F]); // group 0 EMA = 1.0
        assert_eq!(&b[308..312], &[0x00, 0x00, 0x00, 0x40]); // 2.0
        assert_eq!(&b[312..316], &[0x00, 0x00, 0x80, 0x3F]); // 1.0
        assert_eq!(&b[316..320], &[0x00, 0x00, 0x00, 0x3F]); // 0.5
        assert_eq!(&b[348..352], &[0x00, 0x00, 0x20, 0x40]); // amp[7] = 2.5
        assert_eq!(&b[352..356], &[0x00, 0x00, 0x40, 0x40]); // 3.0
        assert_eq!(StatsV1::decode(&b), Ok(s));
        let mut bad = b;
        bad[8] = 2;
        assert_eq!(
            StatsV1::decode(&bad),
            Err(WireError::Version {
                expected: 1,
                got: 2
            })
        );
    }

    #[test]
    fn action_golden_offsets() {
        let a = ActionV1 {
            timestamp_us: 9,
            forward_probs: [1.0, 0.0, 0.0],
            strafe_probs: [0.0, 1.0, 0.0],
            turn_probs: [0.0, 0.0, 1.0],
            attack_prob: 0.5,
            actions: [0, 1, 2, 1],
            reward: -1.0,
            episode_reward: 4.0,
            kills: 2,
        };
        let b = a.encode();
        assert_eq!(&b[8..12], &[1, 0, 0, 0]);
        assert_eq!(&b[12..16], &[0x00, 0x00, 0x80, 0x3F]);
        assert_eq!(&b[48..52], &[0x00, 0x00, 0x00, 0x3F]);
        assert_eq!(
            &b[52..68],
            &[0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0]
        );
        assert_eq!(&b[68..72], &[0x00, 0x00, 0x80, 0xBF]);
        assert_eq!(&b[72..76], &[0x00, 0x00, 0x80, 0x40]);
        assert_eq!(&b[76..80], &[2, 0, 0, 0]);
        assert_eq!(ActionV1::decode(&b), Ok(a));
        assert_eq!(a.validate(), Ok(()));
        let mut bad = b;
        bad[64] = 2; // attack index 2 of 2 choices
        assert!(matches!(
            ActionV1::decode(&bad),
            Err(WireError::OutOfRange {
                field: "actions",
                index: 3,
                ..
            })
        ));
    }
}
