//! [`LineVec`]: a fixed-length array of `f32` or `u32` that starts on a cache line.
//!
//! The hot per-neuron state (membrane potential, conductances, the delay ring) is split
//! between threads at multiples of 64 neurons. That puts each thread's share in whole cache
//! lines only if the array itself starts on one, and the global allocator promises 16 bytes:
//! otherwise the two threads write the same line at every boundary on every step (false
//! sharing), and every 64-byte AVX-512 load of a misaligned array touches two lines.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

/// Bytes per cache line on x86-64 and most ARM cores.
pub const LINE_BYTES: usize = 64;

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u32; LINE_BYTES / 4]);

const ZERO_LINE: Line = Line([0; LINE_BYTES / 4]);

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for u32 {}
}

/// Element types of a [`LineVec`]: 4-byte plain values for which all-zero bits mean zero.
pub trait Lane: sealed::Sealed + Copy + Default + PartialEq + fmt::Debug + 'static {}
impl Lane for f32 {}
impl Lane for u32 {}

/// A fixed-length array whose first element starts a cache line. Dereferences to a slice.
///
/// ```
/// use dishloop_core::lines::LineVec;
/// let mut v = LineVec::<f32>::zeros(100);
/// v[3] = 1.5;
/// assert_eq!(v.len(), 100);
/// assert_eq!(v.as_ptr() as usize % 64, 0);
/// assert_eq!(v.iter().sum::<f32>(), 1.5);
/// ```
#[derive(Clone)]
pub struct LineVec<T: Lane> {
    lines: Vec<Line>,
    len: usize,
    _t: PhantomData<T>,
}

impl<T: Lane> LineVec<T> {
    /// `len` zeros.
    pub fn zeros(len: usize) -> Self {
        Self {
            lines: vec![ZERO_LINE; len.div_ceil(LINE_BYTES / 4)],
            len,
            _t: PhantomData,
        }
    }

    /// A copy of `values`.
    pub fn from_slice(values: &[T]) -> Self {
        let mut v = Self::zeros(values.len());
        v.copy_from_slice(values);
        v
    }
}

impl<T: Lane> Deref for LineVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `lines` holds at least `len` initialised 4-byte values, `T` is a 4-byte
        // plain type (`Lane` is sealed to f32 and u32) for which every bit pattern is valid,
        // and a line's alignment exceeds T's.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<T>(), self.len) }
    }
}

impl<T: Lane> DerefMut for LineVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, with unique access through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<T>(), self.len) }
    }
}

impl<T: Lane> Default for LineVec<T> {
    fn default() -> Self {
        Self::zeros(0)
    }
}

impl<T: Lane> fmt::Debug for LineVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: Lane> PartialEq for LineVec<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Lane> From<Vec<T>> for LineVec<T> {
    fn from(v: Vec<T>) -> Self {
        Self::from_slice(&v)
    }
}

impl<T: Lane> FromIterator<T> for LineVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Self::from_slice(&iter.into_iter().collect::<Vec<T>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_a_line_and_holds_what_it_was_given() {
        for len in [0usize, 1, 15, 16, 17, 1000] {
            let src: Vec<u32> = (0..len as u32).map(|i| i * 7 + 1).collect();
            let v = LineVec::from_slice(&src);
            assert_eq!(&*v, &src[..]);
            if len > 0 {
                assert_eq!(v.as_ptr() as usize % LINE_BYTES, 0);
            }
            let w: LineVec<u32> = src.iter().copied().collect();
            assert_eq!(v, w.clone());
        }
        let z = LineVec::<f32>::zeros(33);
        assert!(z.iter().all(|&x| x == 0.0));
        assert_eq!(format!("{:?}", LineVec::<u32>::from(vec![1, 2])), "[1, 2]");
    }
}
