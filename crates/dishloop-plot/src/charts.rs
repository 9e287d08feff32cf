//! Line charts, histograms and log-log distributions.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::render::{
    DARK_GREY, DESC_PX, FONT, GRID, LABEL_PX, TITLE_PX, finite_min_max, fmt_num, no_data_note,
    padded, render_png, series_colour,
};
use crate::{PlotError, Series};

/// Size of line charts and histograms in pixels.
const CHART_SIZE: (u32, u32) = (1000, 600);
/// Size of log-log distribution plots in pixels.
const LOGLOG_SIZE: (u32, u32) = (900, 650);
/// Series longer than this are reduced to a min/max envelope per bucket before drawing.
const MAX_LINE_POINTS: usize = 4000;

/// Options of [`line_chart_with`].
#[derive(Debug, Clone, PartialEq)]
pub struct LineOptions {
    /// Figure size in pixels.
    pub size: (u32, u32),
    /// The x axis covers at least this range (data outside it widens the axis).
    pub x_range: Option<(f64, f64)>,
    /// The y axis covers at least this range (e.g. `(0.0, 1.0)` for a hit rate); data
    /// outside it widens the axis.
    pub y_range: Option<(f64, f64)>,
    /// Draw a dot at every point as well as the line (for sparse data such as per-session
    /// scores).
    pub markers: bool,
}

impl Default for LineOptions {
    fn default() -> Self {
        Self {
            size: CHART_SIZE,
            x_range: None,
            y_range: None,
            markers: false,
        }
    }
}

/// Lines on shared axes (learning curves, PID traces, rate traces), with optional dashed
/// horizontal reference lines `(y, label)`.
///
/// Non-finite points are skipped; series with a single point are drawn as a dot. Long series
/// (more than 4000 points) are reduced to a per-bucket min/max envelope, which keeps peaks.
/// The legend is placed in the corner with the fewest points. Figure size 1000 x 600.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
    hlines: &[(f64, &str)],
) -> Result<(), PlotError> {
    line_chart_with(
        path,
        title,
        x_label,
        y_label,
        series,
        hlines,
        &LineOptions::default(),
    )
}

/// [`line_chart`] with explicit options (size, minimum axis ranges, markers).
pub fn line_chart_with(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
    hlines: &[(f64, &str)],
    opts: &LineOptions,
) -> Result<(), PlotError> {
    let cleaned: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            let finite: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            envelope(&finite, MAX_LINE_POINTS / 2)
        })
        .collect();
    let hlines: Vec<(f64, &str)> = hlines
        .iter()
        .copied()
        .filter(|(y, _)| y.is_finite())
        .collect();
    let xr = finite_min_max(cleaned.iter().flatten().map(|p| p.0));
    let yr = finite_min_max(
        cleaned
            .iter()
            .flatten()
            .map(|p| p.1)
            .chain(hlines.iter().map(|h| h.0)),
    );
    let has_data = xr.is_some();
    let (x0, x1) = with_range(xr, opts.x_range, 0.01);
    let (y0, y1) = with_range(yr, opts.y_range, 0.06);
    // Axis ends are clamped to ±1e300; keep every point on the axes so that pixel mapping
    // cannot overflow.
    let cleaned: Vec<Vec<(f64, f64)>> = cleaned
        .into_iter()
        .map(|s| {
            s.into_iter()
                .map(|(x, y)| (x.clamp(x0, x1), y.clamp(y0, y1)))
                .collect()
        })
        .collect();

    render_png(path, opts.size, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, TITLE_PX))
            .margin(18)
            .x_label_area_size(56)
            .y_label_area_size(84)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style((FONT, LABEL_PX))
            .axis_desc_style((FONT, DESC_PX))
            .x_labels(10)
            .y_labels(8)
            .x_label_formatter(&|v| fmt_num(*v, 4))
            .y_label_formatter(&|v| fmt_num(*v, 4))
            .draw()?;
        if !has_data {
            no_data_note(&chart.plotting_area().strip_coord_spec())?;
        }

        for &(y, label) in &hlines {
            chart.draw_series(DashedLineSeries::new(
                [(x0, y), (x1, y)],
                9,
                6,
                DARK_GREY.stroke_width(2),
            ))?;
            if !label.is_empty() {
                // Centred one label height above the line, at the right end.
                let style = TextStyle::from((FONT, LABEL_PX).into_font())
                    .color(&DARK_GREY)
                    .pos(Pos::new(HPos::Right, VPos::Center));
                chart.draw_series(std::iter::once(
                    EmptyElement::at((x1 - 0.01 * (x1 - x0), y))
                        + Text::new(label.to_string(), (0, -(LABEL_PX as i32)), style),
                ))?;
            }
        }

        let mut any_label = false;
        for (i, (s, pts)) in series.iter().zip(&cleaned).enumerate() {
            let colour = series_colour(i);
            if opts.markers && pts.len() > 1 {
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
            }
            let anno = if pts.len() == 1 {
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, colour.filled())))?
            } else {
                chart.draw_series(LineSeries::new(pts.iter().copied(), colour.stroke_width(2)))?
            };
            if !s.label.is_empty() {
                any_label = true;
                anno.label(s.label).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], colour.stroke_width(3))
                });
            }
        }
        if any_label {
            let position = legend_corner(&cleaned, (x0, x1), (y0, y1));
            chart
                .configure_series_labels()
                .position(position)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK.mix(0.3))
                .label_font((FONT, LABEL_PX))
                .margin(12)
                .draw()?;
        }
        Ok(())
    })
}

/// An axis range: the data range (padded by `pad` of its span) widened to cover `want`.
fn with_range(data: Option<(f64, f64)>, want: Option<(f64, f64)>, pad: f64) -> (f64, f64) {
    let want = want.filter(|(a, b)| a.is_finite() && b.is_finite() && a < b);
    match (data, want) {
        (Some((a, b)), Some((lo, hi))) => {
            let (pa, pb) = padded(a, b, pad);
            padded(pa.min(lo), pb.max(hi), 0.0)
        }
        (Some((a, b)), None) => padded(a, b, pad),
        (None, Some((lo, hi))) => padded(lo, hi, 0.0),
        (None, None) => (0.0, 1.0),
    }
}

/// Reduces a long series to at most `2 * buckets` points: the min and max y of each bucket of
/// consecutive points, in their original order. Short series are returned unchanged.
fn envelope(points: &[(f64, f64)], buckets: usize) -> Vec<(f64, f64)> {
    if points.len() <= 2 * buckets || buckets == 0 {
        return points.to_vec();
    }
    let n = points.len();
    let mut out = Vec::with_capacity(2 * buckets);
    for b in 0..buckets {
        let chunk = &points[b * n / buckets..(b + 1) * n / buckets];
        let (mut imin, mut imax) = (0, 0);
        for (i, p) in chunk.iter().enumerate() {
            if p.1 < chunk[imin].1 {
                imin = i;
            }
            if p.1 > chunk[imax].1 {
                imax = i;
            }
        }
        let (a, b) = (imin.min(imax), imin.max(imax));
        out.push(chunk[a]);
        if b != a {
            out.push(chunk[b]);
        }
    }
    out
}

/// The corner of the plot with the fewest data points, for the legend.
fn legend_corner(
    series: &[Vec<(f64, f64)>],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> SeriesLabelPosition {
    // Counts in the four corner boxes (each 35 % of the width and 30 % of the height).
    let mut counts = [0usize; 4]; // UL, UR, LL, LR
    for &(x, y) in series.iter().flatten() {
        let u = (x - x0) / (x1 - x0);
        let v = (y - y0) / (y1 - y0);
        let left = u < 0.35;
        let right = u > 0.65;
        let top = v > 0.7;
        let bottom = v < 0.3;
        match (left, right, top, bottom) {
            (true, _, true, _) => counts[0] += 1,
            (_, true, true, _) => counts[1] += 1,
            (true, _, _, true) => counts[2] += 1,
            (_, true, _, true) => counts[3] += 1,
            _ => {}
        }
    }
    // Prefer upper right, then upper left, lower right, lower left on ties.
    let order = [1usize, 0, 3, 2];
    let best = order
        .iter()
        .copied()
        .min_by_key(|&i| counts[i])
        .unwrap_or(1);
    match best {
        0 => SeriesLabelPosition::UpperLeft,
        1 => SeriesLabelPosition::UpperRight,
        2 => SeriesLabelPosition::LowerLeft,
        _ => SeriesLabelPosition::LowerRight,
    }
}

/// Histogram of `samples` with `bins` equal-width bins between the smallest and largest finite
/// sample (ISI distributions etc.). `bins == 0` picks ⌈√n⌉ bins (at most 100). The title line
/// gets the sample count and mean.
pub fn histogram(
    path: &Path,
    title: &str,
    x_label: &str,
    samples: &[f64],
    bins: usize,
) -> Result<(), PlotError> {
    let finite: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    let n = finite.len();
    let bins = if bins == 0 {
        ((n as f64).sqrt().ceil() as usize).clamp(1, 100)
    } else {
        bins.min(100_000)
    };
    let range = finite_min_max(finite.iter().copied());
    let (lo, hi) = match range {
        Some((a, b)) => padded(a, b, 0.0),
        None => (0.0, 1.0),
    };
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u64; bins];
    for &v in &finite {
        let k = (((v - lo) / width) as usize).min(bins - 1);
        counts[k] += 1;
    }
    let max_count = counts.iter().copied().max().unwrap_or(0);
    let full_title = if n > 0 {
        let mean = finite.iter().sum::<f64>() / n as f64;
        format!("{title}  (n = {n}, mean = {})", fmt_num(mean, 4))
    } else {
        title.to_string()
    };

    render_png(path, CHART_SIZE, |root| {
        let y1 = (max_count.max(1) as f64 * 1.08).max(1.0);
        let mut chart = ChartBuilder::on(root)
            .caption(&full_title, (FONT, TITLE_PX))
            .margin(18)
            .x_label_area_size(56)
            .y_label_area_size(84)
            .build_cartesian_2d(lo..hi, 0.0..y1)?;
        chart
            .configure_mesh()
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .disable_x_mesh()
            .x_desc(x_label)
            .y_desc("count")
            .label_style((FONT, LABEL_PX))
            .axis_desc_style((FONT, DESC_PX))
            .x_labels(10)
            .y_labels(8)
            .x_label_formatter(&|v| fmt_num(*v, 4))
            .y_label_formatter(&|v| fmt_num(*v, 4))
            .draw()?;
        if n == 0 {
            no_data_note(&chart.plotting_area().strip_coord_spec())?;
            return Ok(());
        }
        let fill = RGBColor(76, 130, 190);
        chart.draw_series(
            counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(k, &c)| {
                    let a = lo + k as f64 * width;
                    Rectangle::new([(a, 0.0), (a + width, c as f64)], fill.filled())
                }),
        )?;
        if bins <= 200 {
            chart.draw_series(counts.iter().enumerate().filter(|(_, c)| **c > 0).map(
                |(k, &c)| {
                    let a = lo + k as f64 * width;
                    Rectangle::new(
                        [(a, 0.0), (a + width, c as f64)],
                        WHITE.mix(0.9).stroke_width(1),
                    )
                },
            ))?;
        }
        Ok(())
    })
}

/// Log-log complementary CDF `P(X ≥ x)` of the positive finite `samples` (avalanche sizes and
/// durations), with an optional power-law fit line.
///
/// `fit = Some((alpha, x_min))` draws the CCDF implied by a density `p(x) ~ x^-alpha` for
/// `x ≥ x_min`, i.e. `P(X ≥ x) = P(X ≥ x_min) · (x / x_min)^(1 - alpha)` (Clauset, Shalizi &
/// Newman 2009, SIAM Review 51:661, eq. 2.2-2.3), anchored at the empirical CCDF at `x_min`.
/// A fit with `alpha ≤ 1` or non-positive `x_min` is not normalisable and is left out.
pub fn loglog_distribution(
    path: &Path,
    title: &str,
    x_label: &str,
    samples: &[f64],
    fit: Option<(f64, f64)>,
) -> Result<(), PlotError> {
    let mut xs: Vec<f64> = samples
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    let ignored = samples.len() - n;
    let ccdf = ccdf_points(&xs);
    let full_title = if ignored > 0 {
        format!("{title}  (n = {n}; {ignored} non-positive/NaN ignored)")
    } else {
        format!("{title}  (n = {n})")
    };

    let fit = fit.filter(|&(alpha, x_min)| {
        alpha.is_finite() && alpha > 1.0 && x_min.is_finite() && x_min > 0.0
    });
    let (x_lo, x_hi) = match (xs.first(), xs.last()) {
        // plotters' log axis needs a finite end/start ratio: keep within 1e-150..1e150.
        (Some(&a), Some(&b)) => {
            let lo = (a / 1.5).clamp(1e-150, 1e149);
            (lo, (b * 1.5).clamp(lo * 10.0, 1e150))
        }
        _ => (1.0, 100.0),
    };
    let y_lo = if n > 0 { 0.5 / n as f64 } else { 1e-3 };
    let ccdf: Vec<(f64, f64)> = ccdf
        .into_iter()
        .map(|(x, p)| (x.clamp(x_lo, x_hi), p))
        .collect();

    render_png(path, LOGLOG_SIZE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&full_title, (FONT, TITLE_PX))
            .margin(18)
            .x_label_area_size(56)
            .y_label_area_size(90)
            .build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..1.5).log_scale())?;
        chart
            .configure_mesh()
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .x_desc(x_label)
            .y_desc("P(X ≥ x)")
            .label_style((FONT, LABEL_PX))
            .axis_desc_style((FONT, DESC_PX))
            .x_label_formatter(&|v| fmt_log_tick(*v))
            .y_label_formatter(&|v| fmt_log_tick(*v))
            .draw()?;
        if n == 0 {
            no_data_note(&chart.plotting_area().strip_coord_spec())?;
            return Ok(());
        }
        let colour = series_colour(0);
        chart
            .draw_series(LineSeries::new(
                ccdf.iter().copied(),
                colour.stroke_width(2),
            ))?
            .label("empirical CCDF")
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, colour.filled()));
        if ccdf.len() <= 400 {
            chart.draw_series(ccdf.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
        }
        if let Some((alpha, x_min)) = fit {
            // Empirical P(X >= x_min) anchors the fitted line.
            let at_least = n - xs.partition_point(|&v| v < x_min);
            let p0 = at_least as f64 / n as f64;
            let x_end = xs[n - 1].max(x_min);
            if p0 > 0.0 {
                let k = 64;
                let fit_pts: Vec<(f64, f64)> = (0..=k)
                    .map(|i| {
                        let x = x_min * (x_end / x_min).powf(i as f64 / k as f64);
                        (x, p0 * (x / x_min).powf(1.0 - alpha))
                    })
                    .filter(|p| p.1 >= y_lo && p.1 <= 1.5 && p.0 >= x_lo && p.0 <= x_hi)
                    .collect();
                let red = series_colour(3);
                chart
                    .draw_series(DashedLineSeries::new(fit_pts, 10, 5, red.stroke_width(3)))?
                    .label(format!(
                        "power law p(x) ∝ x^-α, α = {}, x_min = {}",
                        fmt_num(alpha, 3),
                        fmt_num(x_min, 3)
                    ))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 22, y)], red.stroke_width(3))
                    });
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, LABEL_PX))
            .margin(12)
            .draw()?;
        Ok(())
    })
}

/// A log-axis tick label: powers of ten beyond 1000 (or below 0.001) as `10⁴`, `10⁻⁵`;
/// other values compactly.
fn fmt_log_tick(v: f64) -> String {
    if v > 0.0 && v.is_finite() {
        let e = v.log10().round();
        if (v / 10f64.powf(e) - 1.0).abs() < 1e-9 && e.abs() >= 4.0 {
            const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
            let digits: String = (e.abs() as u64)
                .to_string()
                .chars()
                .map(|d| SUP[d.to_digit(10).unwrap_or(0) as usize])
                .collect();
            let sign = if e < 0.0 { "⁻" } else { "" };
            return format!("10{sign}{digits}");
        }
    }
    fmt_num(v, 3)
}

/// `(x, P(X ≥ x))` at each distinct value of the sorted samples, thinned to at most ~2000
/// points spread evenly in log x (the first and last are always kept).
fn ccdf_points(sorted: &[f64]) -> Vec<(f64, f64)> {
    let n = sorted.len();
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut i = 0;
    while i < n {
        let x = sorted[i];
        out.push((x, (n - i) as f64 / n as f64));
        while i < n && sorted[i] == x {
            i += 1;
        }
    }
    const MAX: usize = 2000;
    if out.len() <= MAX {
        return out;
    }
    let (lx0, lx1) = (out[0].0.ln(), out[out.len() - 1].0.ln());
    let step = (lx1 - lx0) / MAX as f64;
    let mut thinned = Vec::with_capacity(MAX + 1);
    let mut next = f64::NEG_INFINITY;
    let last = out.len() - 1;
    for (k, p) in out.into_iter().enumerate() {
        if p.0.ln() >= next || k == last {
            thinned.push(p);
            next = p.0.ln() + step;
        }
    }
    thinned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks() {
        assert_eq!(fmt_log_tick(1000.0), "1000");
        assert_eq!(fmt_log_tick(1e4), "10⁴");
        assert_eq!(fmt_log_tick(1e-12), "10⁻¹²");
        assert_eq!(fmt_log_tick(0.01), "0.01");
        assert_eq!(fmt_log_tick(20000.0), "20000");
    }

    #[test]
    fn ccdf_of_distinct_values() {
        let pts = ccdf_points(&[1.0, 2.0, 2.0, 4.0]);
        assert_eq!(pts, vec![(1.0, 1.0), (2.0, 0.75), (4.0, 0.25)]);
    }

    #[test]
    fn envelope_keeps_extremes() {
        let pts: Vec<(f64, f64)> = (0..100_000)
            .map(|i| (i as f64, if i == 54_321 { 10.0 } else { 0.0 }))
            .collect();
        let env = envelope(&pts, 1000);
        assert!(env.len() <= 2000);
        assert!(env.iter().any(|p| p.1 == 10.0));
        assert!(env.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn legend_avoids_crowded_corner() {
        // Points crowd the upper right: the legend goes elsewhere.
        let s = vec![vec![(0.9, 0.9); 50]];
        let pos = legend_corner(&s, (0.0, 1.0), (0.0, 1.0));
        assert!(matches!(pos, SeriesLabelPosition::UpperLeft));
    }
}
