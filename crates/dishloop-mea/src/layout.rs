//! Electrode layouts as data.
//!
//! A [`Layout`] is a list of electrodes (position in the culture's coordinates, whether each one
//! records and whether it can stimulate), plus an optional grid shape for heat maps and the
//! routing limits of the hardware. Nothing in the simulator depends on which layout is used:
//! a new layout is a new value (built in code, or loaded from YAML/JSON with serde), never a new
//! code path.
//!
//! Built-in layouts:
//!
//! * [`Layout::cl1`] — Cortical Labs CL1: 8×8 electrodes at 200 µm pitch with the vendor's
//!   column-major numbering, channel = 8·column + row (channel 0 top-left, 8 to its right,
//!   7 bottom-left, 63 bottom-right); the corners 0, 7, 56, 63 are grounded and channel 4 is the
//!   reference, so 59 channels record and stimulate (reference `cl1.md` §3.1).
//! * [`Layout::maxone`] — MaxWell MaxOne HD-MEA: 120 rows × 220 columns = 26 400 electrodes at
//!   17.5 µm pitch, numbered row-major (electrode = 220·row + column). The chip can route at
//!   most 1 024 electrodes to its amplifiers and has 32 stimulation units, so a usable layout is
//!   a sparse selection ([`Layout::route`], [`Layout::maxone_selection`]).
//!
//! Both are centred on a given point; [`Layout::centered_on_substrate`] centres them on the
//! culture (BL-1's Python convention; BL-1's Rust port put the CL1 grid at the origin, i.e. in a
//! corner of a 3 mm culture, which this crate does not do).

use serde::{Deserialize, Serialize};

/// CL1 electrode pitch, µm.
pub const CL1_PITCH_UM: f32 = 200.0;
/// CL1 grounded corner channels.
pub const CL1_GROUNDED: [u32; 4] = [0, 7, 56, 63];
/// CL1 reference channel.
pub const CL1_REFERENCE: u32 = 4;
/// MaxOne rows.
pub const MAXONE_ROWS: usize = 120;
/// MaxOne columns.
pub const MAXONE_COLS: usize = 220;
/// MaxOne pitch, µm.
pub const MAXONE_PITCH_UM: f32 = 17.5;
/// MaxOne: electrodes that can be routed to amplifiers at once.
pub const MAXONE_MAX_RECORDING: usize = 1024;
/// MaxOne: stimulation units (electrodes that can be connected to a stimulation buffer at once).
pub const MAXONE_MAX_STIMULATION: usize = 32;

/// One electrode.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Electrode {
    /// Position in the culture's coordinates, µm.
    pub x_um: f32,
    /// Position, µm (y grows downwards, so row 0 is at the top).
    pub y_um: f32,
    /// Whether spikes are detected on it (routed to an amplifier).
    pub record: bool,
    /// Whether it may be stimulated.
    pub stimulate: bool,
}

/// How electrodes map onto a `rows × cols` grid (for heat maps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GridOrder {
    /// electrode = rows·column + row (CL1).
    ColumnMajor,
    /// electrode = cols·row + column (MaxOne).
    RowMajor,
}

/// Grid shape of a regular layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grid {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Numbering.
    pub order: GridOrder,
}

impl Grid {
    /// Electrode index at (`row`, `col`).
    pub fn electrode_at(&self, row: usize, col: usize) -> usize {
        match self.order {
            GridOrder::ColumnMajor => self.rows * col + row,
            GridOrder::RowMajor => self.cols * row + col,
        }
    }
}

/// Why a layout (or a selection on it) is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LayoutError {
    /// An electrode index beyond the layout.
    #[error("electrode {index} does not exist (layout has {len})")]
    NoSuchElectrode {
        /// The index.
        index: usize,
        /// Electrodes in the layout.
        len: usize,
    },
    /// More electrodes routed than the hardware allows.
    #[error("{what}: {asked} electrodes selected, the hardware routes at most {limit}")]
    RoutingLimit {
        /// "recording" or "stimulation".
        what: &'static str,
        /// Electrodes selected.
        asked: usize,
        /// The limit.
        limit: usize,
    },
    /// A non-finite position.
    #[error("electrode {index} has a non-finite position")]
    BadPosition {
        /// The index.
        index: usize,
    },
    /// A grid shape that does not match the electrode count.
    #[error("grid {rows}×{cols} does not match {len} electrodes")]
    GridMismatch {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
        /// Electrodes.
        len: usize,
    },
}

/// How to pick a sparse MaxOne selection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Selection {
    /// The `n` electrodes closest to the array centre.
    Center,
    /// Every `stride`-th row and column, starting at the corner (at most `n`).
    Grid {
        /// Step in rows and columns.
        stride: usize,
    },
    /// `n` distinct electrodes drawn uniformly with a seed.
    Random {
        /// Seed.
        seed: u64,
    },
}

/// An electrode layout (module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    /// Name, for reports.
    pub name: String,
    /// Electrodes; the index is the electrode (channel) number.
    pub electrodes: Vec<Electrode>,
    /// Pitch, µm (informational; used for heat maps and default radii).
    pub pitch_um: f32,
    /// Grid shape, if the layout is a regular grid.
    #[serde(default)]
    pub grid: Option<Grid>,
    /// Most electrodes that may record at once (hardware routing), if limited.
    #[serde(default)]
    pub max_recording: Option<usize>,
    /// Most electrodes that may stimulate at once, if limited.
    #[serde(default)]
    pub max_stimulation: Option<usize>,
}

impl Layout {
    /// The CL1 64-channel MEA centred at `center_um` (module docs).
    pub fn cl1(center_um: [f32; 2]) -> Self {
        let mut electrodes = Vec::with_capacity(64);
        for ch in 0..64u32 {
            let (col, row) = (ch / 8, ch % 8);
            let usable = !CL1_GROUNDED.contains(&ch) && ch != CL1_REFERENCE;
            electrodes.push(Electrode {
                x_um: center_um[0] + (col as f32 - 3.5) * CL1_PITCH_UM,
                y_um: center_um[1] + (row as f32 - 3.5) * CL1_PITCH_UM,
                record: usable,
                stimulate: usable,
            });
        }
        Self {
            name: "cl1-8x8".into(),
            electrodes,
            pitch_um: CL1_PITCH_UM,
            grid: Some(Grid {
                rows: 8,
                cols: 8,
                order: GridOrder::ColumnMajor,
            }),
            max_recording: None,
            max_stimulation: None,
        }
    }

    /// The full MaxOne HD-MEA centred at `center_um`, with nothing routed yet (use
    /// [`Layout::route`] or [`Layout::maxone_selection`]).
    pub fn maxone(center_um: [f32; 2]) -> Self {
        let mut electrodes = Vec::with_capacity(MAXONE_ROWS * MAXONE_COLS);
        for row in 0..MAXONE_ROWS {
            for col in 0..MAXONE_COLS {
                electrodes.push(Electrode {
                    x_um: center_um[0]
                        + (col as f32 - (MAXONE_COLS as f32 - 1.0) / 2.0) * MAXONE_PITCH_UM,
                    y_um: center_um[1]
                        + (row as f32 - (MAXONE_ROWS as f32 - 1.0) / 2.0) * MAXONE_PITCH_UM,
                    record: false,
                    stimulate: false,
                });
            }
        }
        Self {
            name: "maxone-hd".into(),
            electrodes,
            pitch_um: MAXONE_PITCH_UM,
            grid: Some(Grid {
                rows: MAXONE_ROWS,
                cols: MAXONE_COLS,
                order: GridOrder::RowMajor,
            }),
            max_recording: Some(MAXONE_MAX_RECORDING),
            max_stimulation: Some(MAXONE_MAX_STIMULATION),
        }
    }

    /// The substrate centre for a culture of `substrate_um` (width, height) whose neurons lie in
    /// `[0, w] × [0, h]`.
    pub fn substrate_center(substrate_um: [f64; 2]) -> [f32; 2] {
        [
            (substrate_um[0] / 2.0) as f32,
            (substrate_um[1] / 2.0) as f32,
        ]
    }

    /// This layout moved so that the centre of its electrodes' bounding box is the substrate
    /// centre.
    pub fn centered_on_substrate(mut self, substrate_um: [f64; 2]) -> Self {
        let c = Self::substrate_center(substrate_um);
        let (lo, hi) = self.bounds_um();
        let dx = c[0] - (lo[0] + hi[0]) / 2.0;
        let dy = c[1] - (lo[1] + hi[1]) / 2.0;
        for e in &mut self.electrodes {
            e.x_um += dx;
            e.y_um += dy;
        }
        self
    }

    /// Bounding box of the electrodes, `(min, max)` in µm.
    pub fn bounds_um(&self) -> ([f32; 2], [f32; 2]) {
        let mut lo = [f32::INFINITY; 2];
        let mut hi = [f32::NEG_INFINITY; 2];
        for e in &self.electrodes {
            lo[0] = lo[0].min(e.x_um);
            lo[1] = lo[1].min(e.y_um);
            hi[0] = hi[0].max(e.x_um);
            hi[1] = hi[1].max(e.y_um);
        }
        (lo, hi)
    }

    /// Number of electrodes.
    pub fn len(&self) -> usize {
        self.electrodes.len()
    }

    /// True for a layout without electrodes.
    pub fn is_empty(&self) -> bool {
        self.electrodes.is_empty()
    }

    /// Whether electrode `index` exists and may be stimulated.
    pub fn is_stimulable(&self, index: usize) -> bool {
        self.electrodes.get(index).is_some_and(|e| e.stimulate)
    }

    /// Whether electrode `index` exists and records.
    pub fn is_recording(&self, index: usize) -> bool {
        self.electrodes.get(index).is_some_and(|e| e.record)
    }

    /// Indices of recording electrodes, ascending.
    pub fn recording(&self) -> Vec<u32> {
        self.indices(|e| e.record)
    }

    /// Indices of stimulable electrodes, ascending.
    pub fn stimulable(&self) -> Vec<u32> {
        self.indices(|e| e.stimulate)
    }

    fn indices(&self, f: impl Fn(&Electrode) -> bool) -> Vec<u32> {
        self.electrodes
            .iter()
            .enumerate()
            .filter(|(_, e)| f(e))
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// Distance between two electrodes, µm (`None` if either does not exist).
    pub fn distance_um(&self, a: usize, b: usize) -> Option<f32> {
        let (p, q) = (self.electrodes.get(a)?, self.electrodes.get(b)?);
        Some(((p.x_um - q.x_um).powi(2) + (p.y_um - q.y_um).powi(2)).sqrt())
    }

    /// Routes a sparse selection: exactly the listed electrodes record / may stimulate; checks
    /// indices and the routing limits.
    pub fn route(mut self, record: &[u32], stimulate: &[u32]) -> Result<Self, LayoutError> {
        let len = self.len();
        for &i in record.iter().chain(stimulate) {
            if i as usize >= len {
                return Err(LayoutError::NoSuchElectrode {
                    index: i as usize,
                    len,
                });
            }
        }
        for e in &mut self.electrodes {
            e.record = false;
            e.stimulate = false;
        }
        for &i in record {
            self.electrodes[i as usize].record = true;
        }
        for &i in stimulate {
            self.electrodes[i as usize].stimulate = true;
        }
        self.validate()?;
        Ok(self)
    }

    /// A sparse MaxOne-style selection of `n` recording electrodes by `how`, of which the first
    /// `n_stim` (in index order) may also stimulate.
    pub fn maxone_selection(
        self,
        how: Selection,
        n: usize,
        n_stim: usize,
    ) -> Result<Self, LayoutError> {
        let len = self.len();
        let mut picked: Vec<u32> = match how {
            Selection::Center => {
                let (lo, hi) = self.bounds_um();
                let c = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
                let mut idx: Vec<(f32, u32)> = self
                    .electrodes
                    .iter()
                    .enumerate()
                    .map(|(i, e)| ((e.x_um - c[0]).powi(2) + (e.y_um - c[1]).powi(2), i as u32))
                    .collect();
                idx.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                idx.into_iter().take(n).map(|(_, i)| i).collect()
            }
            Selection::Grid { stride } => {
                let stride = stride.max(1);
                let g = self.grid.unwrap_or(Grid {
                    rows: 1,
                    cols: len,
                    order: GridOrder::RowMajor,
                });
                let mut v = Vec::new();
                for r in (0..g.rows).step_by(stride) {
                    for c in (0..g.cols).step_by(stride) {
                        v.push(g.electrode_at(r, c) as u32);
                    }
                }
                v.truncate(n);
                v
            }
            Selection::Random { seed } => {
                // Partial Fisher–Yates with a SplitMix stream.
                let mut r = dishloop_core::rng::SplitMix::new(seed, 0x005E_1EC7);
                let mut all: Vec<u32> = (0..len as u32).collect();
                let k = n.min(len);
                for i in 0..k {
                    let j = i + r.below((len - i) as u64) as usize;
                    all.swap(i, j);
                }
                all.truncate(k);
                all
            }
        };
        picked.sort_unstable();
        let stim: Vec<u32> = picked.iter().copied().take(n_stim).collect();
        self.route(&picked, &stim)
    }

    /// Checks positions, grid shape and routing limits (use after loading a layout from a file).
    pub fn validate(&self) -> Result<(), LayoutError> {
        for (index, e) in self.electrodes.iter().enumerate() {
            if !(e.x_um.is_finite() && e.y_um.is_finite()) {
                return Err(LayoutError::BadPosition { index });
            }
        }
        if let Some(g) = self.grid
            && g.rows * g.cols != self.len()
        {
            return Err(LayoutError::GridMismatch {
                rows: g.rows,
                cols: g.cols,
                len: self.len(),
            });
        }
        let n_rec = self.electrodes.iter().filter(|e| e.record).count();
        if let Some(limit) = self.max_recording
            && n_rec > limit
        {
            return Err(LayoutError::RoutingLimit {
                what: "recording",
                asked: n_rec,
                limit,
            });
        }
        let n_stim = self.electrodes.iter().filter(|e| e.stimulate).count();
        if let Some(limit) = self.max_stimulation
            && n_stim > limit
        {
            return Err(LayoutError::RoutingLimit {
                what: "stimulation",
                asked: n_stim,
                limit,
            });
        }
        Ok(())
    }

    /// Per-electrode values laid out row-major on the grid (row 0 at the top) for a heat map;
    /// electrodes that do not record are NaN. `None` for layouts without a grid or when
    /// `values.len()` differs from the electrode count.
    pub fn grid_values(&self, values: &[f64]) -> Option<(Vec<f64>, usize, usize)> {
        let g = self.grid?;
        if values.len() != self.len() {
            return None;
        }
        let mut out = vec![f64::NAN; g.rows * g.cols];
        for r in 0..g.rows {
            for c in 0..g.cols {
                let e = g.electrode_at(r, c);
                if self.electrodes[e].record {
                    out[r * g.cols + c] = values[e];
                }
            }
        }
        Some((out, g.rows, g.cols))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cl1_numbering_and_channels() {
        let l = Layout::cl1([1500.0, 1500.0]);
        assert_eq!(l.len(), 64);
        // Column-major: channel 8 is right of 0, 7 below 0, 63 bottom-right.
        let e = &l.electrodes;
        assert_eq!((e[0].x_um, e[0].y_um), (800.0, 800.0));
        assert_eq!((e[8].x_um, e[8].y_um), (1000.0, 800.0));
        assert_eq!((e[7].x_um, e[7].y_um), (800.0, 2200.0));
        assert_eq!((e[63].x_um, e[63].y_um), (2200.0, 2200.0));
        assert_eq!(l.distance_um(0, 9), Some(200.0 * 2f32.sqrt()));
        assert_eq!(l.stimulable().len(), 59);
        assert_eq!(l.recording().len(), 59);
        for c in [0usize, 4, 7, 56, 63] {
            assert!(!l.is_stimulable(c) && !l.is_recording(c), "{c}");
        }
        assert!(l.is_stimulable(1) && l.is_stimulable(62) && !l.is_stimulable(64));
        // Centred: the grid's centre is the substrate's.
        let m = Layout::cl1([0.0, 0.0]).centered_on_substrate([3000.0, 3000.0]);
        assert_eq!(m, l);
        let g = l.grid.expect("grid");
        assert_eq!(g.electrode_at(2, 5), 42);
        let vals: Vec<f64> = (0..64).map(f64::from).collect();
        let (hm, rows, cols) = l.grid_values(&vals).expect("grid values");
        assert_eq!((rows, cols), (8, 8));
        assert_eq!(hm[1], 8.0); // row 0, column 1 = channel 8
        assert!(hm[0].is_nan() && hm[4 * 8].is_nan()); // channel 0 corner, channel 4 reference
    }

    #[test]
    fn maxone_is_sparse_and_limited() {
        let l = Layout::maxone([1500.0, 1500.0]);
        assert_eq!(l.len(), 26_400);
        assert!(l.recording().is_empty());
        let e = &l.electrodes;
        assert!((e[1].x_um - e[0].x_um - 17.5).abs() < 1e-3);
        assert!((e[220].y_um - e[0].y_um - 17.5).abs() < 1e-3);
        let (lo, hi) = l.bounds_um();
        assert!((hi[0] - lo[0] - 219.0 * 17.5).abs() < 0.1);
        assert!(((lo[0] + hi[0]) / 2.0 - 1500.0).abs() < 0.01);
        let c = l
            .clone()
            .maxone_selection(Selection::Center, 1024, 32)
            .expect("ok");
        assert_eq!(c.recording().len(), 1024);
        assert_eq!(c.stimulable().len(), 32);
        let r = l
            .clone()
            .maxone_selection(Selection::Random { seed: 3 }, 1024, 0)
            .expect("ok");
        assert_eq!(r.recording().len(), 1024);
        let g = l
            .clone()
            .maxone_selection(Selection::Grid { stride: 8 }, 1024, 0)
            .expect("ok");
        assert_eq!(g.recording().len(), 15 * 28);
        assert!(g.is_recording(8) && g.is_recording(8 * 220));
        let too_many: Vec<u32> = (0..1025).collect();
        let err = l.clone().route(&too_many, &[]).expect_err("over 1024");
        assert!(err.to_string().contains("1024"), "{err}");
        assert!(l.route(&[26_400], &[]).is_err());
    }

    #[test]
    fn layout_is_data() {
        // A hand-written 2-electrode layout loads from YAML, no code path involved.
        let yaml = "name: pair\npitch_um: 300\nelectrodes:\n  \
            - {x_um: 100, y_um: 100, record: true, stimulate: true}\n  \
            - {x_um: 400, y_um: 100, record: true, stimulate: false}\n";
        let l: Layout = serde_yaml_ng::from_str(yaml).expect("parse");
        l.validate().expect("valid");
        assert_eq!(l.stimulable(), vec![0]);
        assert_eq!(l.distance_um(0, 1), Some(300.0));
        let json = serde_json::to_string(&Layout::cl1([0.0, 0.0])).expect("ser");
        let back: Layout = serde_json::from_str(&json).expect("de");
        assert_eq!(back.stimulable().len(), 59);
    }
}
