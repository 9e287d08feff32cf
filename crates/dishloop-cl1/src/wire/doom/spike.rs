//! The 40-byte doom spike reply: `0..8` u64 ts_us · `8..40` f32[8] spike count per group.

use super::GROUPS;
use crate::wire::{WireError, check_finite, le_f32s, le_u64, put_f32s};

/// Size of a doom spike reply in bytes.
pub const SPIKE_LEN: usize = 8 + 4 * GROUPS;

/// Spike counts summed over each channel group's channels during the collect window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DoomSpikes {
    /// Device wall clock at send, µs since the Unix epoch.
    pub timestamp_us: u64,
    /// Count per group, in [`super::GROUP_NAMES`] order.
    pub counts: [f32; GROUPS],
}

impl DoomSpikes {
    /// Packs into the 40-byte wire layout.
    pub fn encode(&self) -> [u8; SPIKE_LEN] {
        let mut b = [0u8; SPIKE_LEN];
        b[0..8].copy_from_slice(&self.timestamp_us.to_le_bytes());
        put_f32s(&mut b, 8, &self.counts);
        b
    }

    /// Unpacks a datagram of exactly 40 bytes.
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

    /// Counts finite, non-negative, whole.
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_bytes() {
        let r = DoomSpikes {
            timestamp_us: 0x1122_3344_5566_7788,
            counts: [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 7.0],
        };
        let b = r.encode();
        assert_eq!(b.len(), 40);
        assert_eq!(&b[0..8], &[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
        assert_eq!(&b[8..12], &[0x00, 0x00, 0x80, 0x3F]); // 1.0
        assert_eq!(&b[36..40], &[0x00, 0x00, 0xE0, 0x40]); // 7.0
        assert_eq!(DoomSpikes::decode(&b), Ok(r));
        assert_eq!(r.validate(), Ok(()));
    }
}
