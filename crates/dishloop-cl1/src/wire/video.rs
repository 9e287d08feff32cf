//! diffusion-neuron's 64-channel video-prediction protocol (reference `cl1.md` §1.1).
//!
//! | packet | direction | bytes | layout |
//! |---|---|---|---|
//! | [`VideoStim`] | trainer → CL1 | 520 | `0..8` u64 ts_us · `8..264` f32\[64\] frequency Hz · `264..520` f32\[64\] amplitude µA |
//! | [`VideoSpikes`] | CL1 → trainer | 264 | `0..8` u64 ts_us · `8..264` f32\[64\] spike count |
//!
//! Index = physical MEA channel 0–63. Dead channels {0, 4, 7, 56, 63}: the trainer sends
//! 4.0 Hz / 0.0 µA there and the device forces their counts to 0.0.

use super::{WireError, check_finite, le_f32s, le_u64, put_f32s};

/// Channels per packet.
pub const CHANNELS: usize = 64;
/// Size of a stim packet in bytes.
pub const STIM_LEN: usize = 8 + 4 * CHANNELS * 2;
/// Size of a spike reply in bytes.
pub const SPIKE_LEN: usize = 8 + 4 * CHANNELS;
/// Channels the protocol treats as dead (corners 0, 7, 56, 63 are grounded; 4 is the reference).
pub const DEAD_CHANNELS: [usize; 5] = [0, 4, 7, 56, 63];
/// Smallest frequency a client may send on a live channel with non-zero amplitude (config.py).
pub const MIN_FREQ_HZ: f32 = 4.0;
/// Largest frequency a client may send (config.py).
pub const MAX_FREQ_HZ: f32 = 40.0;
/// Smallest non-zero amplitude a client may send (config.py).
pub const MIN_AMP_UA: f32 = 1.0;
/// Largest amplitude a client may send (config.py).
pub const MAX_AMP_UA: f32 = 2.5;

/// True for the protocol's dead channels {0, 4, 7, 56, 63}.
#[inline]
pub fn is_dead(channel: usize) -> bool {
    DEAD_CHANNELS.contains(&channel)
}

/// A 520-byte stimulation request: one (frequency, amplitude) pair per physical channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoStim {
    /// Sender wall clock, µs since the Unix epoch (receivers only log it).
    pub timestamp_us: u64,
    /// Burst frequency per channel, Hz.
    pub freq_hz: [f32; CHANNELS],
    /// Pulse amplitude per channel, µA; ≤ 0 means the channel stays silent.
    pub amp_ua: [f32; CHANNELS],
}

impl VideoStim {
    /// The trainer's starting arrays: every channel at 4.0 Hz and 0.0 µA (silent).
    pub fn silent(timestamp_us: u64) -> Self {
        Self {
            timestamp_us,
            freq_hz: [MIN_FREQ_HZ; CHANNELS],
            amp_ua: [0.0; CHANNELS],
        }
    }

    /// Packs into the 520-byte wire layout.
    pub fn encode(&self) -> [u8; STIM_LEN] {
        let mut b = [0u8; STIM_LEN];
        b[0..8].copy_from_slice(&self.timestamp_us.to_le_bytes());
        put_f32s(&mut b, 8, &self.freq_hz);
        put_f32s(&mut b, 8 + 4 * CHANNELS, &self.amp_ua);
        b
    }

    /// Unpacks a datagram of exactly 520 bytes. Every float bit pattern is accepted (see
    /// [`VideoStim::validate`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() != STIM_LEN {
            return Err(WireError::Size {
                expected: STIM_LEN,
                got: bytes.len(),
            });
        }
        Ok(Self {
            timestamp_us: le_u64(bytes, 0),
            freq_hz: le_f32s(bytes, 8),
            amp_ua: le_f32s(bytes, 8 + 4 * CHANNELS),
        })
    }

    /// The client program's own check before it sends (diffusion-neuron `cl1/protocol.py`): all
    /// values finite, and on every live channel with amplitude ≠ 0, frequency in
    /// [`MIN_FREQ_HZ`]..=[`MAX_FREQ_HZ`] and amplitude in [`MIN_AMP_UA`]..=[`MAX_AMP_UA`].
    /// The device itself does no range validation; the server uses this only to count.
    pub fn validate(&self) -> Result<(), WireError> {
        check_finite("freq_hz", &self.freq_hz)?;
        check_finite("amp_ua", &self.amp_ua)?;
        for ch in 0..CHANNELS {
            if is_dead(ch) || self.amp_ua[ch] == 0.0 {
                continue;
            }
            range_check("freq_hz", ch, self.freq_hz[ch], MIN_FREQ_HZ, MAX_FREQ_HZ)?;
            range_check("amp_ua", ch, self.amp_ua[ch], MIN_AMP_UA, MAX_AMP_UA)?;
        }
        Ok(())
    }
}

fn range_check(
    field: &'static str,
    index: usize,
    v: f32,
    min: f32,
    max: f32,
) -> Result<(), WireError> {
    if v < min || v > max {
        return Err(WireError::OutOfRange {
            field,
            index,
            value: v as f64,
            min: min as f64,
            max: max as f64,
        });
    }
    Ok(())
}

/// A 264-byte spike reply: spike count per physical channel over the collect window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoSpikes {
    /// Device wall clock at send, µs since the Unix epoch.
    pub timestamp_us: u64,
    /// Spike count per channel (whole numbers stored as f32; dead channels 0.0).
    pub counts: [f32; CHANNELS],
}

impl VideoSpikes {
    /// Packs into the 264-byte wire layout.
    pub fn encode(&self) -> [u8; SPIKE_LEN] {
        let mut b = [0u8; SPIKE_LEN];
        b[0..8].copy_from_slice(&self.timestamp_us.to_le_bytes());
        put_f32s(&mut b, 8, &self.counts);
        b
    }

    /// Unpacks a datagram of exactly 264 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() != SPIKE_LEN {
            return Err(WireError::Size {
                expected: SPIKE_LEN,
                got: bytes.len(),
            });
        }
        Ok(Self {
            timestamp_us: le_u64(bytes, 0),
            counts: le_f32s(bytes, 8),
        })
    }

    /// What a well-formed device reply satisfies: counts finite, non-negative, whole, and 0.0 on
    /// every dead channel.
    pub fn validate(&self) -> Result<(), WireError> {
        check_finite("counts", &self.counts)?;
        for (index, &value) in self.counts.iter().enumerate() {
            if value < 0.0 {
                return Err(WireError::Negative {
                    field: "counts",
                    index,
                    value: value as f64,
                });
            }
            if value.fract() != 0.0 {
                return Err(WireError::NotWhole {
                    field: "counts",
                    index,
                    value,
                });
            }
        }
        for &channel in &DEAD_CHANNELS {
            if self.counts[channel] != 0.0 {
                return Err(WireError::DeadChannelNonZero {
                    channel,
                    value: self.counts[channel],
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden bytes written by hand from `cl1.md` §1.1: u64 LE timestamp, then channel i's
    /// frequency at 8+4i and amplitude at 264+4i, all IEEE-754 f32 LE.
    #[test]
    fn stim_golden_bytes() {
        let mut s = VideoStim::silent(0x0102_0304_0506_0708);
        s.freq_hz[1] = 20.0; // 20.0f32 = 0x41A00000
        s.amp_ua[1] = 2.5; // 2.5f32 = 0x40200000
        s.amp_ua[63] = -1.0; // -1.0f32 = 0xBF800000
        let b = s.encode();
        assert_eq!(b.len(), 520);
        assert_eq!(&b[0..8], &[0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01]);
        // Channel 0 frequency 4.0f32 = 0x40800000.
        assert_eq!(&b[8..12], &[0x00, 0x00, 0x80, 0x40]);
        assert_eq!(&b[12..16], &[0x00, 0x00, 0xA0, 0x41]);
        // Channel 0 amplitude 0.0.
        assert_eq!(&b[264..268], &[0, 0, 0, 0]);
        assert_eq!(&b[268..272], &[0x00, 0x00, 0x20, 0x40]);
        assert_eq!(&b[516..520], &[0x00, 0x00, 0x80, 0xBF]);
        assert_eq!(VideoStim::decode(&b), Ok(s));
    }

    #[test]
    fn spike_golden_bytes() {
        let mut b = [0u8; 264];
        b[0] = 0x2A; // ts = 42
        // Channel 9 = 3.0f32 = 0x40400000 at 8 + 36 = 44.
        b[44..48].copy_from_slice(&[0x00, 0x00, 0x40, 0x40]);
        let r = VideoSpikes::decode(&b).expect("264 bytes decode");
        assert_eq!(r.timestamp_us, 42);
        assert_eq!(r.counts[9], 3.0);
        assert_eq!(r.counts.iter().sum::<f32>(), 3.0);
        assert_eq!(r.encode(), b);
        assert_eq!(r.validate(), Ok(()));
    }

    #[test]
    fn sizes_are_strict() {
        assert_eq!(
            VideoStim::decode(&[0u8; 519]),
            Err(WireError::Size {
                expected: 520,
                got: 519
            })
        );
        assert_eq!(
            VideoStim::decode(&[0u8; 521]),
            Err(WireError::Size {
                expected: 520,
                got: 521
            })
        );
        assert!(VideoSpikes::decode(&[0u8; 263]).is_err());
    }

    #[test]
    fn validation_follows_client_rules() {
        let mut s = VideoStim::silent(0);
        assert_eq!(s.validate(), Ok(()));
        // Dead channel values are not checked (the trainer sends 4.0/0.0 there anyway).
        s.amp_ua[4] = 9.0;
        assert_eq!(s.validate(), Ok(()));
        s.amp_ua[1] = 2.6;
        assert!(matches!(
            s.validate(),
            Err(WireError::OutOfRange {
                field: "amp_ua",
                index: 1,
                ..
            })
        ));
        s.amp_ua[1] = 2.0;
        s.freq_hz[1] = 41.0;
        assert!(matches!(
            s.validate(),
            Err(WireError::OutOfRange {
                field: "freq_hz",
                index: 1,
                ..
            })
        ));
        s.freq_hz[1] = f32::NAN;
        assert!(matches!(
            s.validate(),
            Err(WireError::NonFinite {
                field: "freq_hz",
                index: 1,
                ..
            })
        ));
        let mut r = VideoSpikes {
            timestamp_us: 0,
            counts: [0.0; 64],
        };
        r.counts[0] = 1.0;
        assert_eq!(
            r.validate(),
            Err(WireError::DeadChannelNonZero {
                channel: 0,
                value: 1.0
            })
        );
        r.counts[0] = 0.0;
        r.counts[5] = 0.5;
        assert!(matches!(
            r.validate(),
            Err(WireError::NotWhole { index: 5, .. })
        ));
    }
}
