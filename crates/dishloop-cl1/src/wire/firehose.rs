//! Cortical Labs' own spike-forwarding example (cl-api-doc CL-01, reference `cl1.md` §1.3): for
//! each tick with spikes, one datagram of `u64` LE device timestamp (25 kHz frames) of the first
//! spike, then one byte per spike giving its channel. Receivers read ≤ 1500 bytes and reject
//! fewer than 9.

use super::{WireError, le_u64};

/// Smallest valid datagram (timestamp + one channel).
pub const MIN_LEN: usize = 9;
/// Largest datagram a receiver reads.
pub const MAX_LEN: usize = 1500;
/// The example's destination port.
pub const PORT: u16 = 12345;

/// Spikes of one tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirehosePacket {
    /// Device timestamp of the first spike, 25 kHz frames.
    pub timestamp_frames: u64,
    /// Channel of each spike in the tick, in order.
    pub channels: Vec<u8>,
}

impl FirehosePacket {
    /// Packs; fails when there are no spikes, more than 1492 spikes, or a channel ≥ 64.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let len = 8 + self.channels.len();
        if len < MIN_LEN {
            return Err(WireError::TooShort {
                min: MIN_LEN,
                got: len,
            });
        }
        if len > MAX_LEN {
            return Err(WireError::TooLong {
                max: MAX_LEN,
                got: len,
            });
        }
        if let Some((slot, &id)) = self.channels.iter().enumerate().find(|(_, c)| **c >= 64) {
            return Err(WireError::ChannelId { slot, id });
        }
        let mut b = Vec::with_capacity(len);
        b.extend_from_slice(&self.timestamp_frames.to_le_bytes());
        b.extend_from_slice(&self.channels);
        Ok(b)
    }

    /// Unpacks 9..=1500 bytes; every channel byte must be < 64.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() < MIN_LEN {
            return Err(WireError::TooShort {
                min: MIN_LEN,
                got: bytes.len(),
            });
        }
        if bytes.len() > MAX_LEN {
            return Err(WireError::TooLong {
                max: MAX_LEN,
                got: bytes.len(),
            });
        }
        let channels = bytes[8..].to_vec();
        if let Some((slot, &id)) = channels.iter().enumerate().find(|(_, c)| **c >= 64) {
            return Err(WireError::ChannelId { slot, id });
        }
        Ok(Self {
            timestamp_frames: le_u64(bytes, 0),
            channels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_bytes() {
        let b = [0x10, 0x27, 0, 0, 0, 0, 0, 0, 5, 63, 5];
        let p = FirehosePacket::decode(&b).expect("valid");
        assert_eq!(p.timestamp_frames, 10_000);
        assert_eq!(p.channels, vec![5, 63, 5]);
        assert_eq!(p.encode().expect("valid"), b.to_vec());
        assert!(FirehosePacket::decode(&b[..8]).is_err());
        assert_eq!(
            FirehosePacket::decode(&[0, 0, 0, 0, 0, 0, 0, 0, 64]),
            Err(WireError::ChannelId { slot: 0, id: 64 })
        );
    }
}
