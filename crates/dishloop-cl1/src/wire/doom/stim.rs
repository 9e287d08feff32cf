//! The 72-byte doom stim packet: `0..8` u64 ts_us · `8..40` f32[8] frequency Hz ·
//! `40..72` f32[8] amplitude µA.

use super::{GROUPS, MAX_AMP_UA, MAX_FREQ_HZ, MIN_AMP_UA, MIN_FREQ_HZ, range_check};
use crate::wire::{WireError, check_finite, le_f32s, le_u64, put_f32s};

/// Size of a doom stim packet in bytes.
pub const STIM_LEN: usize = 8 + 4 * GROUPS * 2;

/// One stimulation request: pair *i* is applied to encoding channel *i*.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DoomStim {
    /// Sender wall clock, µs since the Unix epoch.
    pub timestamp_us: u64,
    /// Burst frequency per pair, Hz (the device uses `int(freq)`).
    pub freq_hz: [f32; GROUPS],
    /// Pulse amplitude per pair, µA.
    pub amp_ua: [f32; GROUPS],
}

impl DoomStim {
    /// Packs into the 72-byte wire layout.
    pub fn encode(&self) -> [u8; STIM_LEN] {
        let mut b = [0u8; STIM_LEN];
        b[0..8].copy_from_slice(&self.timestamp_us.to_le_bytes());
        put_f32s(&mut b, 8, &self.freq_hz);
        put_f32s(&mut b, 8 + 4 * GROUPS, &self.amp_ua);
        b
    }

    /// Unpacks a datagram of exactly 72 bytes.
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
            amp_ua: le_f32s(bytes, 8 + 4 * GROUPS),
        })
    }

    /// The trainer's guarantee: all finite, frequency in 4..=40 Hz, amplitude in 1.0..=2.5 µA.
    pub fn validate(&self) -> Result<(), WireError> {
        check_finite("freq_hz", &self.freq_hz)?;
        check_finite("amp_ua", &self.amp_ua)?;
        for i in 0..GROUPS {
            range_check("freq_hz", i, self.freq_hz[i], MIN_FREQ_HZ, MAX_FREQ_HZ)?;
            range_check("amp_ua", i, self.amp_ua[i], MIN_AMP_UA, MAX_AMP_UA)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden bytes by hand from `cl1.md` §1.2.
    #[test]
    fn golden_bytes() {
        let mut b = [0u8; 72];
        b[0..8].copy_from_slice(&[0xE8, 0x03, 0, 0, 0, 0, 0, 0]); // ts = 1000
        b[8..12].copy_from_slice(&[0x00, 0x00, 0x20, 0x41]); // freq[0] = 10.0
        b[36..40].copy_from_slice(&[0x00, 0x00, 0x20, 0x42]); // freq[7] = 40.0
        b[40..44].copy_from_slice(&[0x00, 0x00, 0xC0, 0x3F]); // amp[0] = 1.5
        b[68..72].copy_from_slice(&[0x00, 0x00, 0x00, 0x40]); // amp[7] = 2.0
        let s = DoomStim::decode(&b).expect("72 bytes");
        assert_eq!(s.timestamp_us, 1000);
        assert_eq!(s.freq_hz, [10.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 40.0]);
        assert_eq!(s.amp_ua, [1.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0]);
        assert_eq!(s.encode(), b);
        // Zero frequencies are outside the trainer's clamp range.
        assert!(matches!(
            s.validate(),
            Err(WireError::OutOfRange {
                field: "freq_hz",
                index: 1,
                ..
            })
        ));
        assert_eq!(
            DoomStim::decode(&b[..71]),
            Err(WireError::Size {
                expected: 72,
                got: 71
            })
        );
    }
}
