//! CL1 channel numbering and [`ChannelSet`] (vendor `cl.ChannelSet`, reference `cl1.md` §3.1, §3.3).
//!
//! 64 channels on an 8×8 MEA, column-major: channel = 8·column + row; channel 0 is top-left,
//! 8 is to its right, 7 is bottom-left, 63 bottom-right. The corners 0, 7, 56, 63 are grounded and
//! channel 4 is the reference electrode, so 59 channels can be stimulated.

use std::fmt;
use std::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, BitXor, BitXorAssign, Not};

/// Channels on the CL1 MEA.
pub const CHANNEL_COUNT: usize = 64;
/// Grounded corner channels (unused).
pub const GROUNDED_CHANNELS: [u8; 4] = [0, 7, 56, 63];
/// The reference electrode.
pub const REFERENCE_CHANNEL: u8 = 4;
/// Channels that can be neither stimulated nor recorded from: corners plus the reference
/// (the SDK app model's excluded list, and the client programs' "dead" channels).
pub const NON_STIMULABLE_CHANNELS: [u8; 5] = [0, 4, 7, 56, 63];
/// Number of stimulable channels.
pub const STIMULABLE_COUNT: usize = CHANNEL_COUNT - NON_STIMULABLE_CHANNELS.len();

/// True if `channel` can be stimulated (0..=63 minus {0, 4, 7, 56, 63}).
#[inline]
pub fn is_stimulable(channel: u8) -> bool {
    (channel as usize) < CHANNEL_COUNT && !NON_STIMULABLE_CHANNELS.contains(&channel)
}

/// MEA column (0..8, left to right) of a channel.
#[inline]
pub fn column_of(channel: u8) -> u8 {
    channel / 8
}

/// MEA row (0..8, top to bottom) of a channel.
#[inline]
pub fn row_of(channel: u8) -> u8 {
    channel % 8
}

/// The channel at `column`, `row`, or `None` outside the 8×8 grid.
#[inline]
pub fn channel_at(column: u8, row: u8) -> Option<u8> {
    (column < 8 && row < 8).then_some(8 * column + row)
}

/// A channel id outside 0..=63.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("channel {0} is outside 0..=63")]
pub struct ChannelOutOfRange(pub usize);

/// A set of CL1 channels (a 64-bit mask); iterates in ascending order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChannelSet(u64);

impl ChannelSet {
    /// The empty set.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// All 64 channels.
    pub const fn all() -> Self {
        Self(u64::MAX)
    }

    /// The 59 stimulable channels.
    pub fn stimulable() -> Self {
        let mut s = Self::all();
        for c in NON_STIMULABLE_CHANNELS {
            s.0 &= !(1u64 << c);
        }
        s
    }

    /// A set from channel ids; fails on any id ≥ 64.
    pub fn new<I, C>(channels: I) -> Result<Self, ChannelOutOfRange>
    where
        I: IntoIterator<Item = C>,
        C: Into<usize>,
    {
        let mut s = Self::empty();
        for c in channels {
            s.insert(c.into())?;
        }
        Ok(s)
    }

    /// A single channel.
    pub fn single(channel: usize) -> Result<Self, ChannelOutOfRange> {
        let mut s = Self::empty();
        s.insert(channel)?;
        Ok(s)
    }

    /// The set with exactly these bits.
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The bit mask (bit *c* = channel *c*).
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Adds a channel; fails on an id ≥ 64.
    pub fn insert(&mut self, channel: usize) -> Result<(), ChannelOutOfRange> {
        if channel >= CHANNEL_COUNT {
            return Err(ChannelOutOfRange(channel));
        }
        self.0 |= 1u64 << channel;
        Ok(())
    }

    /// Removes a channel (no-op if absent or out of range).
    pub fn remove(&mut self, channel: usize) {
        if channel < CHANNEL_COUNT {
            self.0 &= !(1u64 << channel);
        }
    }

    /// Whether the set contains `channel`.
    pub fn contains(self, channel: usize) -> bool {
        channel < CHANNEL_COUNT && self.0 & (1u64 << channel) != 0
    }

    /// Number of channels.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// True for the empty set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Channels in ascending order.
    pub fn iter(self) -> ChannelIter {
        ChannelIter(self.0)
    }

    /// The channels of this set that cannot be stimulated.
    pub fn non_stimulable(self) -> Self {
        Self(self.0 & !Self::stimulable().0)
    }
}

/// Ascending iterator over a [`ChannelSet`].
#[derive(Debug, Clone)]
pub struct ChannelIter(u64);

impl Iterator for ChannelIter {
    type Item = u8;
    fn next(&mut self) -> Option<u8> {
        if self.0 == 0 {
            return None;
        }
        let c = self.0.trailing_zeros() as u8;
        self.0 &= self.0 - 1;
        Some(c)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.count_ones() as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for ChannelIter {}

impl IntoIterator for ChannelSet {
    type Item = u8;
    type IntoIter = ChannelIter;
    fn into_iter(self) -> ChannelIter {
        self.iter()
    }
}

impl fmt::Debug for ChannelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelSet{self}")
    }
}

impl fmt::Display for ChannelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, c) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{c}")?;
        }
        f.write_str(")")
    }
}

impl TryFrom<&[u8]> for ChannelSet {
    type Error = ChannelOutOfRange;
    fn try_from(ids: &[u8]) -> Result<Self, ChannelOutOfRange> {
        Self::new(ids.iter().copied())
    }
}

impl From<u8> for ChannelSet {
    /// A single channel; ids ≥ 64 give the empty set (use [`ChannelSet::single`] to get an error).
    fn from(c: u8) -> Self {
        Self::single(c as usize).unwrap_or_default()
    }
}

macro_rules! set_op {
    ($tr:ident, $f:ident, $atr:ident, $af:ident, $op:tt) => {
        impl $tr for ChannelSet {
            type Output = ChannelSet;
            fn $f(self, rhs: ChannelSet) -> ChannelSet {
                ChannelSet(self.0 $op rhs.0)
            }
        }
        impl $atr for ChannelSet {
            fn $af(&mut self, rhs: ChannelSet) {
                self.0 = self.0 $op rhs.0;
            }
        }
    };
}
set_op!(BitOr, bitor, BitOrAssign, bitor_assign, |);
set_op!(BitAnd, bitand, BitAndAssign, bitand_assign, &);
set_op!(BitXor, bitxor, BitXorAssign, bitxor_assign, ^);

impl Not for ChannelSet {
    type Output = ChannelSet;
    fn not(self) -> ChannelSet {
        ChannelSet(!self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_column_major() {
        // cl1.md §3.1: channel 0 top-left, 8 to its right, 7 bottom-left, 63 bottom-right.
        assert_eq!(channel_at(0, 0), Some(0));
        assert_eq!(channel_at(1, 0), Some(8));
        assert_eq!(channel_at(0, 7), Some(7));
        assert_eq!(channel_at(7, 7), Some(63));
        assert_eq!((column_of(42), row_of(42)), (5, 2));
        assert_eq!(channel_at(8, 0), None);
    }

    #[test]
    fn stimulable_set_has_59_channels() {
        let s = ChannelSet::stimulable();
        assert_eq!(s.len(), 59);
        assert_eq!(STIMULABLE_COUNT, 59);
        for c in [0usize, 4, 7, 56, 63] {
            assert!(!s.contains(c));
        }
        assert!(s.contains(1) && s.contains(62));
        assert_eq!((!s).len(), 5);
    }

    #[test]
    fn set_algebra_and_iteration() {
        let a = ChannelSet::new([1u8, 2, 3]).expect("in range");
        let b = ChannelSet::new([3u8, 4]).expect("in range");
        assert_eq!((a | b).iter().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        assert_eq!((a & b).iter().collect::<Vec<_>>(), vec![3]);
        assert_eq!((a ^ b).iter().collect::<Vec<_>>(), vec![1, 2, 4]);
        assert_eq!((!a).len(), 61);
        let mut c = a;
        c |= b;
        c.remove(1);
        assert_eq!(format!("{c}"), "(2, 3, 4)");
        assert_eq!(ChannelSet::new([64usize]), Err(ChannelOutOfRange(64)));
        assert_eq!(b.non_stimulable().iter().collect::<Vec<_>>(), vec![4]);
        assert!(ChannelSet::empty().is_empty());
        assert_eq!(ChannelSet::all().iter().len(), 64);
    }
}
