//! A strict, dependency-free reader and writer for 1-D little-endian `uint32` NumPy `.npy`
//! files (format versions 1.0, 2.0 and 3.0; we write 1.0).
//!
//! Layout (NumPy's `numpy.lib.format` specification, "NEP 1"): the 6 magic bytes
//! `\x93NUMPY`, a major and a minor version byte, the header length (little-endian `u16` for
//! 1.0, `u32` for 2.0/3.0), an ASCII Python dict literal such as
//! `{'descr': '<u4', 'fortran_order': False, 'shape': (3,), }` padded with spaces and ended by
//! `\n` so that the data starts at a multiple of 64 bytes, then the raw data.

use std::path::Path;

use thiserror::Error;

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// NumPy aligns the start of the data to this many bytes (numpy >= 1.9 uses 64).
const ALIGN: usize = 64;

/// What is wrong with an `.npy` byte stream (the file name is added by the caller).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NpyError {
    /// The file does not start with `\x93NUMPY`.
    #[error("not an .npy file (bad magic bytes)")]
    BadMagic,
    /// A format version we do not read.
    #[error("unsupported .npy format version {major}.{minor} (1.0, 2.0 and 3.0 are read)")]
    UnsupportedVersion {
        /// Major version byte.
        major: u8,
        /// Minor version byte.
        minor: u8,
    },
    /// The header is cut short or is not a valid dict literal.
    #[error("bad .npy header: {0}")]
    BadHeader(String),
    /// The array's dtype is not little-endian uint32.
    #[error("dtype is {found:?}, expected '<u4' (little-endian uint32)")]
    WrongDtype {
        /// The `descr` found.
        found: String,
    },
    /// The array is not one-dimensional.
    #[error("shape is {found}, expected a 1-D array (N,)")]
    WrongShape {
        /// The shape found, as written in the header.
        found: String,
    },
    /// Fewer data bytes than the shape needs.
    #[error("truncated data: shape needs {expected} bytes, file has {found}")]
    Truncated {
        /// Bytes the shape needs.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// More data bytes than the shape needs.
    #[error("{extra} unexpected trailing bytes after the data")]
    TrailingBytes {
        /// Number of extra bytes.
        extra: u64,
    },
}

/// Encodes `data` as a version 1.0 `.npy` file holding a 1-D `<u4` array.
///
/// ```
/// use dishloop_analysis::spikes::{parse_npy_u32, to_npy_u32};
/// let bytes = to_npy_u32(&[1, 2, 3]);
/// assert_eq!(bytes.len() % 64, 12); // 64-byte aligned header + 3 * 4 data bytes
/// assert_eq!(parse_npy_u32(&bytes).unwrap(), vec![1, 2, 3]);
/// ```
pub fn to_npy_u32(data: &[u32]) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '<u4', 'fortran_order': False, 'shape': ({},), }}",
        data.len()
    );
    // Preamble is magic (6) + version (2) + header length (2) = 10 bytes; header ends in '\n'.
    let unpadded = 10 + header.len() + 1;
    let pad = (ALIGN - unpadded % ALIGN) % ALIGN;
    header.extend(std::iter::repeat_n(' ', pad));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 4 * data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    // Header length fits u16: it is at most ~100 bytes for any usize shape.
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Decodes a 1-D `<u4` `.npy` byte stream, strictly (see [`NpyError`]).
pub fn parse_npy_u32(bytes: &[u8]) -> Result<Vec<u32>, NpyError> {
    if bytes.len() < 8 || &bytes[..6] != MAGIC {
        return Err(
            if bytes.len() < 6 && MAGIC.starts_with(bytes) && !bytes.is_empty() {
                NpyError::BadHeader("file ends inside the magic string".into())
            } else {
                NpyError::BadMagic
            },
        );
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (hlen, start) = match (major, minor) {
        (1, 0) => {
            let b = bytes
                .get(8..10)
                .ok_or_else(|| NpyError::BadHeader("file ends before the header length".into()))?;
            (usize::from(u16::from_le_bytes([b[0], b[1]])), 10)
        }
        (2, 0) | (3, 0) => {
            let b = bytes
                .get(8..12)
                .ok_or_else(|| NpyError::BadHeader("file ends before the header length".into()))?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        _ => return Err(NpyError::UnsupportedVersion { major, minor }),
    };
    let header_bytes = bytes.get(start..start + hlen).ok_or_else(|| {
        NpyError::BadHeader(format!(
            "header claims {hlen} bytes but the file ends after {}",
            bytes.len().saturating_sub(start)
        ))
    })?;
    let header = std::str::from_utf8(header_bytes)
        .map_err(|_| NpyError::BadHeader("header is not ASCII/UTF-8".into()))?;
    let dict = parse_header_dict(header)?;
    let descr = dict
        .descr
        .ok_or_else(|| NpyError::BadHeader("missing 'descr'".into()))?;
    let shape = dict
        .shape
        .ok_or_else(|| NpyError::BadHeader("missing 'shape'".into()))?;
    if dict.fortran_order.is_none() {
        return Err(NpyError::BadHeader("missing 'fortran_order'".into()));
    }
    if descr != "<u4" {
        return Err(NpyError::WrongDtype { found: descr });
    }
    // For a 1-D array, C and Fortran order are the same layout, so either flag is accepted.
    let n = match shape.as_slice() {
        [n] => *n,
        _ => {
            return Err(NpyError::WrongShape {
                found: format!(
                    "({})",
                    shape
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    };
    let data = &bytes[start + hlen..];
    let expected = n.checked_mul(4).ok_or_else(|| {
        NpyError::BadHeader(format!("shape ({n},) is too large to be a real file"))
    })?;
    let found = data.len() as u64;
    if found < expected {
        return Err(NpyError::Truncated { expected, found });
    }
    if found > expected {
        return Err(NpyError::TrailingBytes {
            extra: found - expected,
        });
    }
    Ok(data
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Reads a 1-D `<u4` `.npy` file; errors name the file.
pub fn read_npy_u32(path: &Path) -> Result<Vec<u32>, super::SpikeIoError> {
    let bytes = std::fs::read(path).map_err(|error| super::SpikeIoError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    parse_npy_u32(&bytes).map_err(|problem| super::SpikeIoError::Npy {
        path: path.to_path_buf(),
        problem,
    })
}

/// Writes a 1-D `<u4` `.npy` file atomically (temporary file in the same folder, then rename).
pub fn write_npy_u32(path: &Path, data: &[u32]) -> Result<(), super::SpikeIoError> {
    super::file::write_atomic(path, &to_npy_u32(data))
}

#[derive(Default)]
struct HeaderDict {
    descr: Option<String>,
    fortran_order: Option<bool>,
    shape: Option<Vec<u64>>,
}

/// Parses the Python dict literal of an `.npy` header: string keys; values are strings,
/// `True`/`False`, or tuples of non-negative integers. Unknown keys are an error (NumPy writes
/// exactly these three).
fn parse_header_dict(s: &str) -> Result<HeaderDict, NpyError> {
    let mut p = Parser {
        b: s.as_bytes(),
        i: 0,
    };
    let bad = |m: &str| NpyError::BadHeader(m.to_string());
    p.ws();
    p.expect(b'{')
        .map_err(|_| bad("header does not start with '{'"))?;
    let mut dict = HeaderDict::default();
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.ws();
        p.expect(b':')
            .map_err(|_| bad("expected ':' after a key"))?;
        p.ws();
        match key.as_str() {
            "descr" => dict.descr = Some(p.string()?),
            "fortran_order" => dict.fortran_order = Some(p.boolean()?),
            "shape" => dict.shape = Some(p.tuple()?),
            other => return Err(NpyError::BadHeader(format!("unexpected key '{other}'"))),
        }
        p.ws();
        if p.eat(b',') {
            continue;
        }
        p.ws();
        p.expect(b'}')
            .map_err(|_| bad("expected ',' or '}' in the header dict"))?;
        break;
    }
    p.ws();
    if p.i != p.b.len() {
        return Err(bad("unexpected text after the header dict"));
    }
    Ok(dict)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) -> Result<(), ()> {
        if self.eat(c) { Ok(()) } else { Err(()) }
    }
    fn string(&mut self) -> Result<String, NpyError> {
        let q = match self.b.get(self.i) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => return Err(NpyError::BadHeader("expected a quoted string".into())),
        };
        self.i += 1;
        let start = self.i;
        while self.i < self.b.len() && self.b[self.i] != q {
            if self.b[self.i] == b'\\' {
                return Err(NpyError::BadHeader("escapes are not supported".into()));
            }
            self.i += 1;
        }
        if self.i >= self.b.len() {
            return Err(NpyError::BadHeader("unterminated string".into()));
        }
        let s = String::from_utf8_lossy(&self.b[start..self.i]).into_owned();
        self.i += 1;
        Ok(s)
    }
    fn boolean(&mut self) -> Result<bool, NpyError> {
        let rest = &self.b[self.i..];
        if rest.starts_with(b"True") {
            self.i += 4;
            Ok(true)
        } else if rest.starts_with(b"False") {
            self.i += 5;
            Ok(false)
        } else {
            Err(NpyError::BadHeader("expected True or False".into()))
        }
    }
    fn tuple(&mut self) -> Result<Vec<u64>, NpyError> {
        if !self.eat(b'(') {
            return Err(NpyError::BadHeader("shape is not a tuple".into()));
        }
        let mut dims = Vec::new();
        loop {
            self.ws();
            if self.eat(b')') {
                break;
            }
            let start = self.i;
            while self.i < self.b.len() && self.b[self.i].is_ascii_digit() {
                self.i += 1;
            }
            // Python 2 era files may write `3L`.
            let digits = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("");
            let d: u64 = digits
                .parse()
                .map_err(|_| NpyError::BadHeader("shape entries must be integers".into()))?;
            self.eat(b'L');
            dims.push(d);
            self.ws();
            if self.eat(b',') {
                continue;
            }
            self.ws();
            if !self.eat(b')') {
                return Err(NpyError::BadHeader("unterminated shape tuple".into()));
            }
            break;
        }
        Ok(dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_numpy_layout() {
        let b = to_npy_u32(&[7, 0x0102_0304]);
        assert_eq!(&b[..8], b"\x93NUMPY\x01\x00");
        let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        let header = std::str::from_utf8(&b[10..10 + hlen]).unwrap();
        assert!(header.starts_with("{'descr': '<u4', 'fortran_order': False, 'shape': (2,), }"));
        assert!(header.ends_with('\n'));
        assert_eq!(&b[10 + hlen..], &[7, 0, 0, 0, 4, 3, 2, 1]);
    }

    #[test]
    fn reads_headers_numpy_may_write() {
        // Version 2.0 header, double quotes, no trailing comma, fortran_order True (1-D).
        let header = b"{\"descr\": \"<u4\", \"fortran_order\": True, \"shape\": (1,)}\n";
        let mut b = b"\x93NUMPY\x02\x00".to_vec();
        b.extend_from_slice(&(header.len() as u32).to_le_bytes());
        b.extend_from_slice(header);
        b.extend_from_slice(&5u32.to_le_bytes());
        assert_eq!(parse_npy_u32(&b).unwrap(), vec![5]);
        // Empty array.
        assert_eq!(parse_npy_u32(&to_npy_u32(&[])).unwrap(), Vec::<u32>::new());
    }

    fn with_header(h: &str, data: &[u8]) -> Vec<u8> {
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn refuses_bad_files_with_the_right_error() {
        assert_eq!(parse_npy_u32(b"PK\x03\x04zipfile"), Err(NpyError::BadMagic));
        assert_eq!(parse_npy_u32(b""), Err(NpyError::BadMagic));
        let mut v = to_npy_u32(&[1]);
        v[6] = 9;
        assert_eq!(
            parse_npy_u32(&v),
            Err(NpyError::UnsupportedVersion { major: 9, minor: 0 })
        );
        let f8 = with_header(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n",
            &[0; 8],
        );
        assert_eq!(
            parse_npy_u32(&f8),
            Err(NpyError::WrongDtype {
                found: "<f8".into()
            })
        );
        let be = with_header(
            "{'descr': '>u4', 'fortran_order': False, 'shape': (1,), }\n",
            &[0; 4],
        );
        assert!(matches!(
            parse_npy_u32(&be),
            Err(NpyError::WrongDtype { .. })
        ));
        let two_d = with_header(
            "{'descr': '<u4', 'fortran_order': False, 'shape': (2, 1), }\n",
            &[0; 8],
        );
        assert_eq!(
            parse_npy_u32(&two_d),
            Err(NpyError::WrongShape {
                found: "(2, 1)".into()
            })
        );
        let scalar = with_header(
            "{'descr': '<u4', 'fortran_order': False, 'shape': (), }\n",
            &[0; 4],
        );
        assert!(matches!(
            parse_npy_u32(&scalar),
            Err(NpyError::WrongShape { .. })
        ));
        let full = to_npy_u32(&[1, 2, 3]);
        assert_eq!(
            parse_npy_u32(&full[..full.len() - 1]),
            Err(NpyError::Truncated {
                expected: 12,
                found: 11
            })
        );
        let mut longer = full.clone();
        longer.push(0);
        assert_eq!(
            parse_npy_u32(&longer),
            Err(NpyError::TrailingBytes { extra: 1 })
        );
        // Cut inside the header.
        assert!(matches!(
            parse_npy_u32(&full[..20]),
            Err(NpyError::BadHeader(_))
        ));
        let garbage = with_header(
            "{'descr': '<u4', 'shape': (1,), 'fortran_order': Maybe}\n",
            &[0; 4],
        );
        assert!(matches!(
            parse_npy_u32(&garbage),
            Err(NpyError::BadHeader(_))
        ));
    }
}
