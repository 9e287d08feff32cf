//! Heat map of a grid (e.g. the 8x8 MEA rate map) with a colour bar.

use std::path::Path;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::PlotError;
use crate::render::{
    DESC_PX, FONT, LABEL_PX, finite_min_max, fmt_num, no_data_note, padded, render_png, titled,
    viridis,
};

/// Colour of unused (NaN) cells.
const UNUSED_GREY: RGBColor = RGBColor(200, 200, 200);
/// Grids with at most this many cells get their values written in the cells.
const ANNOTATE_MAX_CELLS: usize = 144;

/// Heat map of a `rows` x `cols` grid of row-major `values` (row 0 at the top), coloured with
/// viridis, with a colour bar labelled `unit` and the value range in the subtitle. NaN cells
/// (unused electrodes) are drawn grey; infinite values are treated like NaN. Small grids
/// (up to 144 cells, e.g. the 8x8 MEA) get their values written in the cells.
///
/// Fails with [`PlotError::InvalidInput`] if `values.len() != rows * cols`.
pub fn heatmap(
    path: &Path,
    title: &str,
    values: &[f64],
    rows: usize,
    cols: usize,
    unit: &str,
) -> Result<(), PlotError> {
    if rows.checked_mul(cols) != Some(values.len()) {
        return Err(PlotError::InvalidInput {
            path: path.to_path_buf(),
            message: format!(
                "heatmap of {rows} x {cols} cells needs {} values, got {}",
                rows.saturating_mul(cols),
                values.len()
            ),
        });
    }
    let range = finite_min_max(values.iter().copied());
    let unused = values.iter().filter(|v| !v.is_finite()).count();
    let unit_sfx = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    let subtitle = match range {
        Some((lo, hi)) => {
            let mut s = format!(
                "range {} – {}{unit_sfx} · {rows} x {cols}",
                fmt_num(lo, 3),
                fmt_num(hi, 3)
            );
            if unused > 0 {
                s.push_str(&format!(" · {unused} unused (grey)"));
            }
            s
        }
        None => "no data".to_string(),
    };
    // Colour scale: a constant map gets the middle colour.
    let (lo, hi) = match range {
        Some((a, b)) => padded(a, b, 0.0),
        None => (0.0, 1.0),
    };
    let t_of = |v: f64| (v - lo) / (hi - lo);

    // Square-ish cells: about 600 px for the larger grid side.
    let (r_eff, c_eff) = (rows.max(1), cols.max(1));
    let cell = (600 / r_eff.max(c_eff)).clamp(1, 120) as u32;
    let grid_w = cell * c_eff as u32;
    let grid_h = cell * r_eff as u32;
    let bar_w = 170u32;
    let width = (18 + 70 + grid_w + 24 + bar_w).max(640);
    let height = 84 + 10 + grid_h + 60 + 12;

    render_png(path, (width, height), |root| {
        let body = titled(root, title, Some(&subtitle))?;
        let (bw, _) = body.dim_in_pixel();
        let (main, bar) = body.split_horizontally(bw - bar_w);

        let mut chart = ChartBuilder::on(&main)
            .margin(12)
            .margin_top(24)
            .margin_left(18)
            .x_label_area_size(52)
            .y_label_area_size(70)
            // Integer ranges include their end, so 0..n-1 gives n segments.
            .build_cartesian_2d(
                (0..c_eff as i32 - 1).into_segmented(),
                (0..r_eff as i32 - 1).into_segmented(),
            )?;
        let nrows = r_eff as i32;
        let centre_label = |v: &SegmentValue<i32>, flip: bool| match v {
            SegmentValue::CenterOf(k) => {
                format!("{}", if flip { nrows - 1 - k } else { *k })
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("column")
            .y_desc("row")
            .label_style((FONT, LABEL_PX))
            .axis_desc_style((FONT, DESC_PX))
            .x_labels(c_eff.min(16))
            .y_labels(r_eff.min(16))
            .x_label_formatter(&|v| centre_label(v, false))
            .y_label_formatter(&|v| centre_label(v, true))
            .draw()?;
        if range.is_none() && values.is_empty() {
            no_data_note(&chart.plotting_area().strip_coord_spec())?;
        }
        let cell_rect = |r: usize, c: usize| {
            let y = nrows - 1 - r as i32;
            [
                (SegmentValue::Exact(c as i32), SegmentValue::Exact(y)),
                (
                    SegmentValue::Exact(c as i32 + 1),
                    SegmentValue::Exact(y + 1),
                ),
            ]
        };
        let colour_of = |v: f64| {
            if v.is_finite() {
                viridis(t_of(v))
            } else {
                UNUSED_GREY
            }
        };
        chart.draw_series(values.iter().enumerate().map(|(i, &v)| {
            Rectangle::new(cell_rect(i / c_eff, i % c_eff), colour_of(v).filled())
        }))?;
        // Thin white separators when cells are large enough to see them.
        if cell >= 12 {
            chart.draw_series(values.iter().enumerate().map(|(i, _)| {
                Rectangle::new(cell_rect(i / c_eff, i % c_eff), WHITE.stroke_width(1))
            }))?;
        }
        if values.len() <= ANNOTATE_MAX_CELLS {
            let (pw, _) = chart.plotting_area().dim_in_pixel();
            let px = (pw as f64 / c_eff as f64 / 4.2).clamp(9.0, 18.0);
            for (i, &v) in values.iter().enumerate() {
                if !v.is_finite() {
                    continue;
                }
                let colour = colour_of(v);
                let lum =
                    0.299 * colour.0 as f64 + 0.587 * colour.1 as f64 + 0.114 * colour.2 as f64;
                let ink = if lum < 140.0 { WHITE } else { BLACK };
                let style = TextStyle::from((FONT, px).into_font())
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                let (r, c) = (i / c_eff, i % c_eff);
                chart.draw_series(std::iter::once(Text::new(
                    fmt_num(v, 3),
                    (
                        SegmentValue::CenterOf(c as i32),
                        SegmentValue::CenterOf(nrows - 1 - r as i32),
                    ),
                    style,
                )))?;
            }
        }

        // Colour bar, with the unit written horizontally above it.
        let (bar_px_w, _) = bar.dim_in_pixel();
        if !unit.is_empty() {
            let style = TextStyle::from((FONT, DESC_PX).into_font())
                .pos(Pos::new(HPos::Center, VPos::Bottom));
            bar.draw_text(unit, &style, (10 + (bar_px_w as i32 - 110) / 2, 20))?;
        }
        let mut cb = ChartBuilder::on(&bar)
            .margin_top(24)
            .margin_bottom(12 + 52)
            .margin_left(10)
            .margin_right(10)
            .y_label_area_size(0)
            .right_y_label_area_size(90)
            .build_cartesian_2d(0.0..1.0, lo..hi)?;
        cb.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .label_style((FONT, LABEL_PX))
            .axis_desc_style((FONT, DESC_PX))
            .y_labels(6)
            .y_label_formatter(&|v| fmt_num(*v, 3))
            .draw()?;
        let steps = 256;
        cb.draw_series((0..steps).map(|k| {
            let a = lo + (hi - lo) * k as f64 / steps as f64;
            let b = lo + (hi - lo) * (k + 1) as f64 / steps as f64;
            let t = (k as f64 + 0.5) / steps as f64;
            Rectangle::new([(0.0, a), (1.0, b)], viridis(t).filled())
        }))?;
        cb.draw_series(std::iter::once(Rectangle::new(
            [(0.0, lo), (1.0, hi)],
            BLACK.mix(0.5).stroke_width(1),
        )))?;
        Ok(())
    })
}
