//! doom-neuron's protocol (reference `cl1.md` §1.2): an 8-value stim packet, an 8-group spike
//! reply, feedback stimulation packets and JSON event packets, each on its own UDP port.
//!
//! | packet | direction | default port | bytes |
//! |---|---|---|---|
//! | [`DoomStim`] | trainer → CL1 | 12345 | 72 |
//! | [`DoomSpikes`] | CL1 → trainer | 12346 | 40 |
//! | [`EventPacket`] | trainer → CL1 | 12347 | 12 + N (≤ 4096) |
//! | [`Feedback`] | trainer → CL1 | 12348 | 120 |

mod event;
mod feedback;
mod spike;
mod stim;

pub use event::{EVENT_HEADER_LEN, EVENT_MAX_LEN, EventBody, EventPacket};
pub use feedback::{FEEDBACK_LEN, Feedback, FeedbackKind, NAME_LEN, UNUSED_SLOT};
pub use spike::{DoomSpikes, SPIKE_LEN};
pub use stim::{DoomStim, STIM_LEN};

/// Number of channel groups (= values in the stim and spike vectors).
pub const GROUPS: usize = 8;
/// Default port the CL1 listens on for stim packets.
pub const STIM_PORT: u16 = 12345;
/// Default port the trainer listens on for spike replies.
pub const SPIKE_PORT: u16 = 12346;
/// Default port the CL1 listens on for event packets.
pub const EVENT_PORT: u16 = 12347;
/// Default port the CL1 listens on for feedback packets.
pub const FEEDBACK_PORT: u16 = 12348;

/// Group names in spike-vector order.
pub const GROUP_NAMES: [&str; GROUPS] = [
    "encoding",
    "move_forward",
    "move_backward",
    "move_left",
    "move_right",
    "turn_left",
    "turn_right",
    "attack",
];

/// Channels of each group, in spike-vector order (`cl1.md` §1.2; `bl1.md` §8 table).
pub const CHANNEL_GROUPS: [&[u8]; GROUPS] = [
    &[8, 9, 10, 17, 18, 25, 27, 28],
    &[41, 42, 49],
    &[50, 51, 58],
    &[13, 14, 21],
    &[45, 46, 53],
    &[29, 30, 31, 37],
    &[59, 60, 61, 62],
    &[32, 33, 34],
];

/// The encoding group's channels: stim pair *i* drives `ENCODING_CHANNELS[i]` only (the device
/// applies the trainer's per-group pairs to single encoding channels; motor groups are never
/// stimulated by stim packets).
pub const ENCODING_CHANNELS: [u8; GROUPS] = [8, 9, 10, 17, 18, 25, 27, 28];

/// Frequency range the trainer clamps every value to (Hz).
pub const MIN_FREQ_HZ: f32 = 4.0;
/// Frequency range the trainer clamps every value to (Hz).
pub const MAX_FREQ_HZ: f32 = 40.0;
/// Amplitude range the trainer clamps every value to (µA).
pub const MIN_AMP_UA: f32 = 1.0;
/// Amplitude range the trainer clamps every value to (µA).
pub const MAX_AMP_UA: f32 = 2.5;

/// Group index of `channel`, if it belongs to one.
pub fn group_of(channel: u8) -> Option<usize> {
    CHANNEL_GROUPS.iter().position(|g| g.contains(&channel))
}

pub(crate) fn range_check(
    field: &'static str,
    index: usize,
    v: f32,
    min: f32,
    max: f32,
) -> Result<(), super::WireError> {
    if v < min || v > max {
        return Err(super::WireError::OutOfRange {
            field,
            index,
            value: v as f64,
            min: min as f64,
            max: max as f64,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_disjoint_and_stimulable() {
        let mut seen = 0u64;
        for g in CHANNEL_GROUPS {
            for &c in g {
                assert!(c < 64);
                assert_eq!(seen & (1 << c), 0, "channel {c} in two groups");
                seen |= 1 << c;
                assert!(![0u8, 4, 7, 56, 63].contains(&c));
            }
        }
        assert_eq!(seen.count_ones(), 8 + 3 + 3 + 3 + 3 + 4 + 4 + 3);
        assert_eq!(group_of(62), Some(6));
        assert_eq!(group_of(19), None);
        assert_eq!(&ENCODING_CHANNELS[..], CHANNEL_GROUPS[0]);
    }
}
