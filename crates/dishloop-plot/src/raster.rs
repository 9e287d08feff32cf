//! Spike raster with a population-rate panel.

use std::path::Path;

use plotters::prelude::*;

use crate::PlotError;
use crate::render::{
    DESC_PX, DrawResult, FONT, GRID, LABEL_PX, Root, fmt_num, no_data_note, render_png,
    series_colour, titled,
};

/// Colour of excitatory spikes (dark navy: dark on white so rasters print well).
pub(crate) const EXC_COLOUR: RGBColor = RGBColor(22, 48, 120);
/// Colour of inhibitory spikes (crimson).
pub(crate) const INH_COLOUR: RGBColor = RGBColor(200, 30, 45);

/// Options of [`raster_with`].
#[derive(Debug, Clone, PartialEq)]
pub struct RasterOptions {
    /// At most this many neuron rows are drawn; larger populations are subsampled
    /// deterministically at evenly spaced indices (which keeps the E/I proportion, since
    /// excitatory neurons come first). The rate panel always uses every neuron.
    pub max_neurons: u32,
    /// Width of population-rate bins in ms; `None` picks a 1-2-5 value giving at most ~400
    /// bins and at least 5 ms.
    pub bin_ms: Option<f64>,
    /// Figure size in pixels.
    pub size: (u32, u32),
}

impl Default for RasterOptions {
    fn default() -> Self {
        Self {
            max_neurons: 400,
            bin_ms: None,
            size: (1000, 720),
        }
    }
}

/// Spike raster: spike `k` at time `steps[k] * dt_ms` (ms) of neuron `neurons[k]`.
///
/// Neurons `< n_exc` are drawn in dark blue, the rest (inhibitory) in red. Populations larger
/// than 400 neurons are subsampled to 400 evenly spaced rows (deterministic). Below the raster,
/// the population rate in Hz per neuron (spikes per bin / (`n_neurons` · bin width)) over all
/// neurons. Spikes at or after `duration_ms`, or of neurons `>= n_neurons`, are skipped. A
/// non-positive `duration_ms` is taken from the last spike. Times are shown in seconds when
/// the duration is 10 s or more.
#[allow(clippy::too_many_arguments)]
pub fn raster(
    path: &Path,
    title: &str,
    steps: &[u32],
    neurons: &[u32],
    dt_ms: f64,
    n_neurons: u32,
    n_exc: u32,
    duration_ms: f64,
) -> Result<(), PlotError> {
    raster_with(
        path,
        title,
        steps,
        neurons,
        dt_ms,
        n_neurons,
        n_exc,
        duration_ms,
        &RasterOptions::default(),
    )
}

/// [`raster`] with explicit options (row limit, rate bin width, figure size).
#[allow(clippy::too_many_arguments)]
pub fn raster_with(
    path: &Path,
    title: &str,
    steps: &[u32],
    neurons: &[u32],
    dt_ms: f64,
    n_neurons: u32,
    n_exc: u32,
    duration_ms: f64,
    opts: &RasterOptions,
) -> Result<(), PlotError> {
    let invalid = |message: String| PlotError::InvalidInput {
        path: path.to_path_buf(),
        message,
    };
    if steps.len() != neurons.len() {
        return Err(invalid(format!(
            "raster needs one neuron per spike time: {} steps but {} neurons",
            steps.len(),
            neurons.len()
        )));
    }
    if !(dt_ms.is_finite() && dt_ms > 0.0) {
        return Err(invalid(format!(
            "raster needs a positive dt_ms, got {dt_ms}"
        )));
    }
    let n = if n_neurons == 0 {
        neurons.iter().max().map_or(0, |&m| m.saturating_add(1))
    } else {
        n_neurons
    };
    let duration_ms = if duration_ms.is_finite() && duration_ms > 0.0 {
        duration_ms
    } else {
        steps
            .iter()
            .max()
            .map_or(1000.0, |&s| (s as f64 + 1.0) * dt_ms)
    }
    .min(1e300);
    let n_exc = n_exc.min(n);
    let rows = n.min(opts.max_neurons.max(1));
    let in_range = |k: usize| {
        let t = steps[k] as f64 * dt_ms;
        neurons[k] < n && t < duration_ms
    };
    let n_spikes = (0..steps.len()).filter(|&k| in_range(k)).count();

    // Population rate over all neurons.
    let bin_ms = opts
        .bin_ms
        .filter(|b| b.is_finite() && *b > 0.0)
        .unwrap_or_else(|| auto_bin_ms(duration_ms, dt_ms))
        .max(duration_ms / 100_000.0);
    let n_bins = ((duration_ms / bin_ms).ceil() as usize).max(1);
    let mut counts = vec![0u64; n_bins];
    for k in (0..steps.len()).filter(|&k| in_range(k)) {
        let b = ((steps[k] as f64 * dt_ms / bin_ms) as usize).min(n_bins - 1);
        counts[b] += 1;
    }
    let per_bin = n.max(1) as f64 * bin_ms / 1000.0;
    let rates: Vec<f64> = counts.iter().map(|&c| c as f64 / per_bin).collect();
    let mean_rate = n_spikes as f64 / (n.max(1) as f64 * duration_ms / 1000.0);

    let (t_scale, t_label) = if duration_ms >= 10_000.0 {
        (1e-3, "time (s)")
    } else {
        (1.0, "time (ms)")
    };
    let t_end = duration_ms * t_scale;
    let shown = if rows < n {
        format!(", {rows} rows shown")
    } else {
        String::new()
    };
    let subtitle = format!(
        "{n_spikes} spikes · {n} neurons ({n_exc} E / {} I{shown}) · mean {} Hz · rate bins {} ms",
        n - n_exc,
        fmt_num(mean_rate, 3),
        fmt_num(bin_ms, 3)
    );

    render_png(path, opts.size, |root| {
        let body = titled(root, title, Some(&subtitle))?;
        let (_, h) = body.dim_in_pixel();
        let (top, bottom) = body.split_vertically((h as f64 * 0.70) as u32);

        // Raster panel.
        let mut chart = ChartBuilder::on(&top)
            .margin_left(18)
            .margin_right(24)
            .margin_top(6)
            .x_label_area_size(0)
            .y_label_area_size(84)
            .build_cartesian_2d(0.0..t_end, 0.0..n.max(1) as f64)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .y_desc("neuron")
            .label_style((FONT, LABEL_PX))
            .axis_desc_style((FONT, DESC_PX))
            .y_labels(6)
            .y_label_formatter(&|v| {
                // Only whole neuron indices get a label (small populations have
                // fractional ticks).
                if (v - v.round()).abs() < 1e-9 {
                    format!("{}", v.round() as i64)
                } else {
                    String::new()
                }
            })
            .draw()?;
        if n_spikes == 0 {
            no_data_note(&chart.plotting_area().strip_coord_spec())?;
        } else {
            draw_spikes(
                root,
                &chart,
                steps,
                neurons,
                dt_ms * t_scale,
                t_end,
                (n, n_exc, rows),
            )?;
        }
        if n_exc > 0 && n_exc < n {
            chart.draw_series(LineSeries::new(
                [(0.0, n_exc as f64), (t_end, n_exc as f64)],
                RGBColor(150, 150, 150).stroke_width(1),
            ))?;
        }
        let empty = std::iter::empty::<Rectangle<(f64, f64)>>;
        if n_exc > 0 {
            chart
                .draw_series(empty())?
                .label(format!("excitatory ({n_exc})"))
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], EXC_COLOUR.filled())
                });
        }
        if n_exc < n {
            chart
                .draw_series(empty())?
                .label(format!("inhibitory ({})", n - n_exc))
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], INH_COLOUR.filled())
                });
        }
        if n > 0 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .label_font((FONT, LABEL_PX))
                .draw()?;
        }

        // Population-rate panel.
        let r_max = rates.iter().copied().fold(0.0, f64::max);
        let r_top = if r_max > 0.0 { r_max * 1.1 } else { 1.0 };
        let mut rate_chart = ChartBuilder::on(&bottom)
            .margin_left(18)
            .margin_right(24)
            .margin_top(16)
            .margin_bottom(8)
            .x_label_area_size(52)
            .y_label_area_size(84)
            .build_cartesian_2d(0.0..t_end, 0.0..r_top)?;
        rate_chart
            .configure_mesh()
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .x_desc(t_label)
            .y_desc("rate (Hz)")
            .label_style((FONT, LABEL_PX))
            .axis_desc_style((FONT, DESC_PX))
            .x_labels(10)
            .y_labels(4)
            .x_label_formatter(&|v| fmt_num(*v, 4))
            .y_label_formatter(&|v| fmt_num(*v, 3))
            .draw()?;
        let colour = series_colour(0);
        let step_pts = rates.iter().enumerate().flat_map(|(b, &r)| {
            let a = (b as f64 * bin_ms * t_scale).min(t_end);
            let z = ((b + 1) as f64 * bin_ms * t_scale).min(t_end);
            [(a, r), (z, r)]
        });
        rate_chart.draw_series(
            AreaSeries::new(step_pts, 0.0, colour.mix(0.25)).border_style(colour.stroke_width(1)),
        )?;
        Ok(())
    })
}

/// Paints each spike as a short vertical tick directly on the canvas (fast for millions of
/// spikes), subsampling rows when `rows < n`.
fn draw_spikes<'a, X, Y>(
    root: &Root<'a>,
    chart: &ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    steps: &[u32],
    neurons: &[u32],
    dt_disp: f64,
    t_end: f64,
    (n, n_exc, rows): (u32, u32, u32),
) -> DrawResult
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let area = chart.plotting_area();
    let row_span = n as f64 / rows as f64;
    // Pixel height of one row: ticks fill 80 % of it (at least one pixel).
    let (_, y_a) = area.map_coordinate(&(0.0, 0.0));
    let (_, y_b) = area.map_coordinate(&(0.0, row_span));
    let tick_h = ((y_a - y_b).abs() as f64 * 0.8).round().max(1.0) as i32;
    let drawn = (0..steps.len()).filter(|&k| neurons[k] < n).count();
    let tick_w = if drawn > 20_000 { 1 } else { 2 };
    let (n64, rows64) = (n as u64, rows as u64);
    let kept_row = |j: u32| -> Option<u64> {
        if rows64 == n64 {
            return Some(j as u64);
        }
        // Row i shows neuron floor(i * n / rows); neuron j is shown if it is such a neuron.
        let i = (j as u64 * rows64).div_ceil(n64);
        (i < rows64 && i * n64 / rows64 == j as u64).then_some(i)
    };
    for (&s, &j) in steps.iter().zip(neurons) {
        if j >= n {
            continue;
        }
        let t = s as f64 * dt_disp;
        if t >= t_end {
            continue;
        }
        let Some(row) = kept_row(j) else { continue };
        let y_row = row as f64 * row_span;
        let colour = if j < n_exc { EXC_COLOUR } else { INH_COLOUR };
        // Ticks are centred on the row and grow upwards (screen y decreases).
        let (px, py) = area.map_coordinate(&(t, y_row + 0.5 * row_span));
        let y0 = py - tick_h / 2;
        for dx in 0..tick_w {
            for dy in 0..tick_h {
                root.draw_pixel((px + dx, y0 + dy), &colour)?;
            }
        }
    }
    Ok(())
}

/// A 1-2-5 bin width giving at most ~400 bins, at least 5 ms and at least one step.
fn auto_bin_ms(duration_ms: f64, dt_ms: f64) -> f64 {
    let target = (duration_ms / 400.0).max(5.0).max(dt_ms);
    let mut decade = 10f64.powf(target.log10().floor());
    loop {
        for m in [1.0, 2.0, 5.0] {
            if m * decade >= target * (1.0 - 1e-9) {
                return m * decade;
            }
        }
        decade *= 10.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_bins_are_nice() {
        assert_eq!(auto_bin_ms(1000.0, 0.5), 5.0);
        assert_eq!(auto_bin_ms(10_000.0, 0.5), 50.0);
        assert_eq!(auto_bin_ms(60_000.0, 0.5), 200.0);
        assert_eq!(auto_bin_ms(100.0, 7.0), 10.0);
    }
}
