//! The 120-byte doom feedback packet:
//! `0` u64 ts_us · `8` u8 type (0 interrupt, 1 event, 2 reward) · `9` u8 n_channels (≤ 64) ·
//! `10..74` u8[64] channel ids (unused slots 0xFF) · `74` u32 frequency Hz · `78` f32 amplitude µA ·
//! `82` u32 pulses · `86` u8 unpredictable (0/1) · `87..119` 32-byte UTF-8 name (NUL-padded) ·
//! `119` pad byte (0).

use crate::wire::{WireError, le_f32, le_u32, le_u64};

/// Size of a feedback packet in bytes.
pub const FEEDBACK_LEN: usize = 120;
/// Size of the event-name field in bytes.
pub const NAME_LEN: usize = 32;
/// Byte marking an unused channel slot.
pub const UNUSED_SLOT: u8 = 0xFF;

const OFF_TYPE: usize = 8;
const OFF_N: usize = 9;
const OFF_CH: usize = 10;
const OFF_FREQ: usize = 74;
const OFF_AMP: usize = 78;
const OFF_PULSES: usize = 82;
const OFF_UNPRED: usize = 86;
const OFF_NAME: usize = 87;
const OFF_PAD: usize = 119;

/// What a feedback packet asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedbackKind {
    /// Interrupt stimulation on the listed channels (type byte 0).
    Interrupt,
    /// Event feedback: a burst on the listed channels (type byte 1).
    Event,
    /// Reward feedback: a burst on the listed channels (type byte 2).
    Reward,
}

impl FeedbackKind {
    /// The wire byte.
    pub fn as_u8(self) -> u8 {
        match self {
            Self::Interrupt => 0,
            Self::Event => 1,
            Self::Reward => 2,
        }
    }

    /// Parses the wire byte.
    pub fn from_u8(b: u8) -> Result<Self, WireError> {
        match b {
            0 => Ok(Self::Interrupt),
            1 => Ok(Self::Event),
            2 => Ok(Self::Reward),
            other => Err(WireError::FeedbackType(other)),
        }
    }
}

/// A feedback stimulation (or interrupt) request.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    /// Sender wall clock, µs since the Unix epoch.
    pub timestamp_us: u64,
    /// Interrupt, event or reward.
    pub kind: FeedbackKind,
    /// Channel ids (0..=63), at most 64.
    pub channels: Vec<u8>,
    /// Burst frequency, Hz (an integer on the wire).
    pub frequency_hz: u32,
    /// Pulse amplitude, µA.
    pub amplitude_ua: f32,
    /// Pulses in the burst.
    pub pulses: u32,
    /// The trainer's "unpredictable" flag (the device only logs it).
    pub unpredictable: bool,
    /// Event name bytes, NUL-padded (see [`Feedback::name`]).
    pub name: [u8; NAME_LEN],
}

impl Feedback {
    /// Builds a packet with `unpredictable = false` and an empty name (see
    /// [`Feedback::unpredictable`] and [`Feedback::named`]).
    pub fn new(
        timestamp_us: u64,
        kind: FeedbackKind,
        channels: &[u8],
        frequency_hz: u32,
        amplitude_ua: f32,
        pulses: u32,
    ) -> Self {
        Self {
            timestamp_us,
            kind,
            channels: channels.to_vec(),
            frequency_hz,
            amplitude_ua,
            pulses,
            unpredictable: false,
            name: [0u8; NAME_LEN],
        }
    }

    /// Sets the "unpredictable" flag.
    pub fn unpredictable(mut self, unpredictable: bool) -> Self {
        self.unpredictable = unpredictable;
        self
    }

    /// Sets the event name, truncated to 32 bytes at a character boundary and NUL-padded.
    pub fn named(mut self, name: &str) -> Self {
        let mut cut = name.len().min(NAME_LEN);
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        self.name = [0u8; NAME_LEN];
        self.name[..cut].copy_from_slice(&name.as_bytes()[..cut]);
        self
    }

    /// The event name up to the first NUL, with invalid UTF-8 replaced.
    pub fn name(&self) -> String {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
        String::from_utf8_lossy(&self.name[..end]).into_owned()
    }

    /// Packs into the 120-byte layout. Fails if there are more than 64 channels or an id ≥ 64.
    pub fn encode(&self) -> Result<[u8; FEEDBACK_LEN], WireError> {
        if self.channels.len() > 64 {
            return Err(WireError::TooManyChannels(
                self.channels.len().min(255) as u8
            ));
        }
        let mut b = [0u8; FEEDBACK_LEN];
        b[0..8].copy_from_slice(&self.timestamp_us.to_le_bytes());
        b[OFF_TYPE] = self.kind.as_u8();
        b[OFF_N] = self.channels.len() as u8;
        b[OFF_CH..OFF_CH + 64].fill(UNUSED_SLOT);
        for (slot, &id) in self.channels.iter().enumerate() {
            if id >= 64 {
                return Err(WireError::ChannelId { slot, id });
            }
            b[OFF_CH + slot] = id;
        }
        b[OFF_FREQ..OFF_FREQ + 4].copy_from_slice(&self.frequency_hz.to_le_bytes());
        b[OFF_AMP..OFF_AMP + 4].copy_from_slice(&self.amplitude_ua.to_bits().to_le_bytes());
        b[OFF_PULSES..OFF_PULSES + 4].copy_from_slice(&self.pulses.to_le_bytes());
        b[OFF_UNPRED] = u8::from(self.unpredictable);
        b[OFF_NAME..OFF_NAME + NAME_LEN].copy_from_slice(&self.name);
        b[OFF_PAD] = 0;
        Ok(b)
    }

    /// Unpacks a datagram of exactly 120 bytes. Strict: type ∈ {0,1,2}, n_channels ≤ 64, every
    /// listed id ≤ 63, unpredictable ∈ {0,1}. Unused slots, the name bytes and the pad byte are
    /// not checked (the device ignores them).
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() != FEEDBACK_LEN {
            return Err(WireError::Size {
                expected: FEEDBACK_LEN,
                got: bytes.len(),
            });
        }
        let kind = FeedbackKind::from_u8(bytes[OFF_TYPE])?;
        let n = bytes[OFF_N];
        if n > 64 {
            return Err(WireError::TooManyChannels(n));
        }
        let channels = bytes[OFF_CH..OFF_CH + n as usize].to_vec();
        if let Some((slot, &id)) = channels.iter().enumerate().find(|(_, id)| **id >= 64) {
            return Err(WireError::ChannelId { slot, id });
        }
        let unpredictable = match bytes[OFF_UNPRED] {
            0 => false,
            1 => true,
            value => {
                return Err(WireError::Flag {
                    field: "unpredictable",
                    value,
                });
            }
        };
        let mut name = [0u8; NAME_LEN];
        name.copy_from_slice(&bytes[OFF_NAME..OFF_NAME + NAME_LEN]);
        Ok(Self {
            timestamp_us: le_u64(bytes, 0),
            kind,
            channels,
            frequency_hz: le_u32(bytes, OFF_FREQ),
            amplitude_ua: le_f32(bytes, OFF_AMP),
            pulses: le_u32(bytes, OFF_PULSES),
            unpredictable,
            name,
        })
    }

    /// The trainer's clamp ranges for stimulating feedback: amplitude finite and in 1.0..=2.5 µA,
    /// frequency in 4..=40 Hz. Interrupt packets carry no stimulation and always pass.
    pub fn validate(&self) -> Result<(), WireError> {
        if self.kind == FeedbackKind::Interrupt {
            return Ok(());
        }
        if !self.amplitude_ua.is_finite() {
            return Err(WireError::NonFinite {
                field: "amplitude_ua",
                index: 0,
                value: self.amplitude_ua,
            });
        }
        super::range_check(
            "frequency_hz",
            0,
            self.frequency_hz as f32,
            super::MIN_FREQ_HZ,
            super::MAX_FREQ_HZ,
        )?;
        super::range_check(
            "amplitude_ua",
            0,
            self.amplitude_ua,
            super::MIN_AMP_UA,
            super::MAX_AMP_UA,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden bytes by hand from `cl1.md` §1.2: the trainer's positive reward feedback on
    /// channels [19, 20, 22] at 20 Hz, 2.0 µA, 30 pulses.
    #[test]
    fn golden_bytes() {
        let mut b = [0u8; 120];
        b[0..8].copy_from_slice(&5u64.to_le_bytes());
        b[8] = 2; // reward
        b[9] = 3;
        b[10..74].fill(0xFF);
        b[10] = 19;
        b[11] = 20;
        b[12] = 22;
        b[74..78].copy_from_slice(&[20, 0, 0, 0]);
        b[78..82].copy_from_slice(&[0x00, 0x00, 0x00, 0x40]); // 2.0f32
        b[82..86].copy_from_slice(&[30, 0, 0, 0]);
        b[86] = 0;
        b[87..93].copy_from_slice(b"reward");
        let f = Feedback::decode(&b).expect("120 bytes");
        assert_eq!(f.kind, FeedbackKind::Reward);
        assert_eq!(f.channels, vec![19, 20, 22]);
        assert_eq!((f.frequency_hz, f.amplitude_ua, f.pulses), (20, 2.0, 30));
        assert!(!f.unpredictable);
        assert_eq!(f.name(), "reward");
        assert_eq!(f.validate(), Ok(()));
        let built =
            Feedback::new(5, FeedbackKind::Reward, &[19, 20, 22], 20, 2.0, 30).named("reward");
        assert_eq!(built, f);
        assert_eq!(built.encode(), Ok(b));
    }

    #[test]
    fn strict_fields() {
        let good = Feedback::new(0, FeedbackKind::Interrupt, &[23, 24, 26], 0, 0.0, 0)
            .encode()
            .expect("encodes");
        let mut b = good;
        b[8] = 3;
        assert_eq!(Feedback::decode(&b), Err(WireError::FeedbackType(3)));
        let mut b = good;
        b[9] = 65;
        assert_eq!(Feedback::decode(&b), Err(WireError::TooManyChannels(65)));
        let mut b = good;
        b[9] = 4; // slot 3 is 0xFF
        assert_eq!(
            Feedback::decode(&b),
            Err(WireError::ChannelId { slot: 3, id: 0xFF })
        );
        let mut b = good;
        b[86] = 2;
        assert!(matches!(
            Feedback::decode(&b),
            Err(WireError::Flag { value: 2, .. })
        ));
        let long = Feedback::new(0, FeedbackKind::Event, &[], 1, 1.0, 1)
            .unpredictable(true)
            .named("ééééééééééééééééé");
        assert_eq!(long.name().len(), 32);
        assert!(Feedback::decode(&good[..119]).is_err());
    }
}
