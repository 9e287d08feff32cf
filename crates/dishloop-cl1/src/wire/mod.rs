//! Byte layouts of every packet the public CL1 client programs exchange with the device, plus
//! BL-1's statistics packet and a fixed, versioned action packet of our own.
//!
//! Source for every layout: `shared/reference/cl1.md` §1 (diffusion-neuron's 64-channel video
//! protocol, doom-neuron's 8-group protocol with feedback and JSON events, Cortical Labs' CL-01
//! spike firehose) and `shared/reference/bl1.md` §8 (BL-1's 356-byte statistics packet). All
//! packets are little-endian and packed; none has a magic number, version field, sequence number
//! or checksum (our own [`bl1::ActionV1`] adds a version).
//!
//! Decoding is *structural*: [`video::VideoStim::decode`] and friends check the exact size and
//! the fields whose bit patterns can be invalid (enums, channel ids, lengths, UTF-8/JSON). Every
//! `f32` bit pattern decodes, because the device code itself receives NaN and out-of-range values
//! and has to decide what to do with them per channel; the `validate` methods apply the client
//! programs' own value rules (finite, non-negative, protocol range) and return a typed
//! [`WireError`] naming the first offending field.

pub mod bl1;
pub mod doom;
pub mod firehose;
pub mod video;

/// Why a datagram did not decode, or a decoded packet failed validation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WireError {
    /// The datagram does not have this packet's fixed size.
    #[error("datagram is {got} bytes; this packet is exactly {expected} bytes")]
    Size {
        /// The packet's size in bytes.
        expected: usize,
        /// The datagram's size in bytes.
        got: usize,
    },
    /// The datagram is shorter than this variable-size packet's minimum.
    #[error("datagram is {got} bytes; this packet needs at least {min} bytes")]
    TooShort {
        /// The minimum size in bytes.
        min: usize,
        /// The datagram's size in bytes.
        got: usize,
    },
    /// The datagram is longer than this variable-size packet's maximum.
    #[error("datagram is {got} bytes; this packet is at most {max} bytes")]
    TooLong {
        /// The maximum size in bytes.
        max: usize,
        /// The datagram's size in bytes.
        got: usize,
    },
    /// A float field is NaN or infinite.
    #[error("{field}[{index}] is not finite ({value})")]
    NonFinite {
        /// Field name, e.g. `amp_ua`.
        field: &'static str,
        /// Element index within the field (0 for scalars).
        index: usize,
        /// The offending value.
        value: f32,
    },
    /// A field that must be non-negative is negative.
    #[error("{field}[{index}] = {value} is negative")]
    Negative {
        /// Field name.
        field: &'static str,
        /// Element index within the field.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A value lies outside the range the protocol's client programs allow.
    #[error("{field}[{index}] = {value} is outside the protocol range {min}..={max}")]
    OutOfRange {
        /// Field name.
        field: &'static str,
        /// Element index within the field.
        index: usize,
        /// The offending value.
        value: f64,
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// A spike count is not a whole number.
    #[error("{field}[{index}] = {value} is not a whole number")]
    NotWhole {
        /// Field name.
        field: &'static str,
        /// Element index within the field.
        index: usize,
        /// The offending value.
        value: f32,
    },
    /// A dead channel (0, 4, 7, 56, 63) carries a non-zero value where the protocol requires 0.
    #[error("dead channel {channel} carries {value}, the protocol requires 0")]
    DeadChannelNonZero {
        /// The dead channel.
        channel: usize,
        /// The value found there.
        value: f32,
    },
    /// Doom feedback `type` byte is not 0 (interrupt), 1 (event) or 2 (reward).
    #[error("feedback type {0} is not 0 (interrupt), 1 (event) or 2 (reward)")]
    FeedbackType(u8),
    /// Doom feedback `n_channels` exceeds the 64 slots.
    #[error("feedback n_channels = {0} exceeds the 64 channel slots")]
    TooManyChannels(u8),
    /// A listed channel id is not a CL1 channel (0..=63).
    #[error("channel id {id} in slot {slot} is not a CL1 channel (0..=63)")]
    ChannelId {
        /// Slot index in the channel list.
        slot: usize,
        /// The id found there.
        id: u8,
    },
    /// A boolean byte is neither 0 nor 1.
    #[error("flag byte {field} = {value} is neither 0 nor 1")]
    Flag {
        /// Field name.
        field: &'static str,
        /// The byte found.
        value: u8,
    },
    /// The declared JSON length runs past the end of the datagram.
    #[error("event declares {declared} JSON bytes but only {available} follow the header")]
    EventLength {
        /// Length from the header.
        declared: usize,
        /// Bytes present after the 12-byte header.
        available: usize,
    },
    /// The event payload is not UTF-8.
    #[error("event payload is not valid UTF-8")]
    Utf8,
    /// The event payload is not a JSON object with a string `event_type`.
    #[error("event payload is not a JSON object with a string event_type: {0}")]
    Json(String),
    /// A versioned packet carries a version this code does not know.
    #[error("packet version {got} is not supported (this code reads version {expected})")]
    Version {
        /// Version this code reads.
        expected: u32,
        /// Version found.
        got: u32,
    },
    /// A count field disagrees with the packet's fixed shape.
    #[error("{field} = {got}, this packet version requires {expected}")]
    Shape {
        /// Field name.
        field: &'static str,
        /// Required value.
        expected: u32,
        /// Value found.
        got: u32,
    },
}

/// Reads a little-endian `u64` at `off`. Callers have checked the length.
#[inline]
pub(crate) fn le_u64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

/// Reads a little-endian `u32` at `off`. Callers have checked the length.
#[inline]
pub(crate) fn le_u32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}

/// Reads a little-endian `f32` at `off` (bit-exact, NaN payloads preserved).
#[inline]
pub(crate) fn le_f32(b: &[u8], off: usize) -> f32 {
    f32::from_bits(le_u32(b, off))
}

/// Reads `N` consecutive little-endian `f32` starting at `off`.
#[inline]
pub(crate) fn le_f32s<const N: usize>(b: &[u8], off: usize) -> [f32; N] {
    let mut out = [0.0f32; N];
    for (i, v) in out.iter_mut().enumerate() {
        *v = le_f32(b, off + 4 * i);
    }
    out
}

/// Writes `N` consecutive little-endian `f32` starting at `off`.
#[inline]
pub(crate) fn put_f32s(b: &mut [u8], off: usize, vals: &[f32]) {
    for (i, v) in vals.iter().enumerate() {
        b[off + 4 * i..off + 4 * i + 4].copy_from_slice(&v.to_bits().to_le_bytes());
    }
}

/// Checks that every value is finite, reporting the first that is not.
pub(crate) fn check_finite(field: &'static str, vals: &[f32]) -> Result<(), WireError> {
    for (index, &value) in vals.iter().enumerate() {
        if !value.is_finite() {
            return Err(WireError::NonFinite {
                field,
                index,
                value,
            });
        }
    }
    Ok(())
}

/// Microseconds since the Unix epoch on this machine's wall clock, as the client programs stamp
/// their packets (`time.time()*1e6`). Returns 0 if the clock is before 1970.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
