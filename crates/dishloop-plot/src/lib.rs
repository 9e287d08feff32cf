//! Figures for dishloop: PNG charts (spike rasters, rate traces, MEA heat maps, avalanche
//! distributions, learning curves, histograms, image grids), animated GIFs of frames, and
//! Unicode sparklines for terminal summaries.
//!
//! Every figure function takes the output path first and returns `Result<(), PlotError>`.
//! Files are written to a temporary file in the same directory and renamed into place, so a
//! figure on disk is never half-written. Text is rendered with an embedded DejaVu Sans font
//! (see `assets/DejaVuSans-LICENSE.txt`), so no system font library is needed.
//!
//! Empty input and non-finite values never panic: non-finite samples are skipped and a chart
//! without data is drawn as empty axes with a "no data" note.
//!
//! ```no_run
//! use std::path::Path;
//! use dishloop_plot::{Series, line_chart, raster, sparkline};
//!
//! # fn main() -> Result<(), dishloop_plot::PlotError> {
//! let hits: Vec<(f64, f64)> = (0..50).map(|i| (i as f64, 0.3 + 0.01 * i as f64)).collect();
//! line_chart(Path::new("out/pong.png"), "Pong hit rate", "rally", "hit rate",
//!            &[Series::new("closed loop", &hits)], &[(0.33, "chance")])?;
//! // Spike k: time steps[k] * dt_ms of neuron neurons[k]; 80 excitatory of 100.
//! raster(Path::new("out/raster.png"), "Spontaneous activity", &[10, 20, 30], &[0, 85, 3],
//!        0.5, 100, 80, 1000.0)?;
//! println!("{}", sparkline(&[1.0, 3.0, 2.0, 5.0], 4)); // ▁▅▃█
//! # Ok(())
//! # }
//! ```

mod charts;
mod heatmap;
mod images;
mod raster;
mod render;
mod sparkline;

use std::path::PathBuf;

pub use charts::{LineOptions, histogram, line_chart, line_chart_with, loglog_distribution};
pub use heatmap::heatmap;
pub use images::{gif_frames, gif_frames_scaled, image_grid};
pub use raster::{RasterOptions, raster, raster_with};
pub use sparkline::sparkline;

/// Errors from writing a figure.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Creating, writing or renaming the output file failed.
    #[error("cannot write figure {}: {source}", path.display())]
    Io {
        /// The figure's output path.
        path: PathBuf,
        /// The underlying IO error.
        #[source]
        source: std::io::Error,
    },
    /// The plotting library failed while drawing.
    #[error("drawing figure {} failed: {message}", path.display())]
    Draw {
        /// The figure's output path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Encoding the PNG or GIF failed.
    #[error("encoding figure {} failed: {message}", path.display())]
    Encode {
        /// The figure's output path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The input cannot be drawn (e.g. image buffers whose length is not `w * h`).
    #[error("invalid input for figure {}: {message}", path.display())]
    InvalidInput {
        /// The figure's output path.
        path: PathBuf,
        /// What is wrong with the input.
        message: String,
    },
}

/// One named line of a [`line_chart`]: `(x, y)` points, drawn in order.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// Legend label (an empty label is left out of the legend).
    pub label: &'a str,
    /// The points, in drawing order (usually sorted by x). Non-finite points are skipped.
    pub points: &'a [(f64, f64)],
}

impl<'a> Series<'a> {
    /// A series from a label and its points.
    pub fn new(label: &'a str, points: &'a [(f64, f64)]) -> Self {
        Self { label, points }
    }
}
