//! Shared machinery: the embedded font, rendering into an RGB buffer, atomic PNG/GIF writes,
//! colours and axis ranges.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::PlotError;

/// DejaVu Sans, embedded so that no system font library is needed (licence in `assets/`).
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// The font family name every figure uses.
pub(crate) const FONT: &str = "sans-serif";

/// Title font size in pixels.
pub(crate) const TITLE_PX: f64 = 26.0;
/// Subtitle font size in pixels.
pub(crate) const SUBTITLE_PX: f64 = 16.0;
/// Axis description font size in pixels.
pub(crate) const DESC_PX: f64 = 19.0;
/// Tick label font size in pixels.
pub(crate) const LABEL_PX: f64 = 15.0;

/// Error type of drawing closures.
pub(crate) type DrawResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The whole canvas of a bitmap figure.
pub(crate) type Root<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

static FONT_INIT: Once = Once::new();

/// Registers the embedded font with plotters (once per process).
pub(crate) fn ensure_font() {
    FONT_INIT.call_once(|| {
        // The bytes are a valid TrueType font checked by the tests; if registration ever
        // failed, text drawing would report a `PlotError::Draw` instead of panicking.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES);
    });
}

/// Draws a figure of `size` pixels with `draw` and writes it to `path` as a PNG.
pub(crate) fn render_png<F>(path: &Path, size: (u32, u32), draw: F) -> Result<(), PlotError>
where
    F: FnOnce(&Root<'_>) -> DrawResult,
{
    ensure_font();
    let (w, h) = (size.0.max(1), size.1.max(1));
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let draw_err = |e: Box<dyn std::error::Error + Send + Sync>| PlotError::Draw {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        root.fill(&WHITE).map_err(|e| draw_err(Box::new(e)))?;
        draw(&root).map_err(draw_err)?;
        root.present().map_err(|e| draw_err(Box::new(e)))?;
    }
    write_png(path, w, h, &buf)
}

/// Encodes an RGB8 buffer as PNG and writes it atomically to `path`.
pub(crate) fn write_png(path: &Path, w: u32, h: u32, rgb: &[u8]) -> Result<(), PlotError> {
    write_atomic(path, |out| {
        let mut enc = png::Encoder::new(out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(rgb).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())
    })
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes a file through `write` into a temporary file next to `path`, then renames it into
/// place, so readers never see a half-written figure. The temporary file is removed on error.
pub(crate) fn write_atomic<F>(path: &Path, write: F) -> Result<(), PlotError>
where
    F: FnOnce(&mut BufWriter<File>) -> Result<(), String>,
{
    let io_err = |source: std::io::Error| PlotError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .ok_or_else(|| PlotError::InvalidInput {
            path: path.to_path_buf(),
            message: "the output path has no file name".into(),
        })?
        .to_string_lossy()
        .into_owned();
    let dir: PathBuf = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let file = File::create(&tmp).map_err(io_err)?;
    let mut out = BufWriter::new(file);
    let result = write(&mut out)
        .map_err(|message| PlotError::Encode {
            path: path.to_path_buf(),
            message,
        })
        .and_then(|()| out.flush().map_err(io_err))
        .and_then(|()| {
            drop(out);
            std::fs::rename(&tmp, path).map_err(io_err)
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Categorical colours (Tableau 10), for series in order.
pub(crate) const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Colour of series `i`.
pub(crate) fn series_colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Grid line colour.
pub(crate) const GRID: RGBColor = RGBColor(225, 225, 225);
/// Dark grey for annotations and reference lines.
pub(crate) const DARK_GREY: RGBColor = RGBColor(90, 90, 90);

/// Minimum and maximum of the finite values, or `None` if there are none.
pub(crate) fn finite_min_max(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Largest magnitude an axis end may have: keeps spans finite (plotters' tick search never
/// terminates on an infinite span).
const AXIS_LIMIT: f64 = 1e300;

/// An axis range around `[lo, hi]` with `pad` (a fraction of the span) on each side. Ends are
/// clamped to ±1e300 and a span narrower than 1e-9 of the magnitude (or zero) is widened, so
/// the axis is always finite, non-empty and resolvable in f64.
pub(crate) fn padded(lo: f64, hi: f64, pad: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        return (0.0, 1.0);
    }
    let (lo, hi) = (
        lo.clamp(-AXIS_LIMIT, AXIS_LIMIT),
        hi.clamp(-AXIS_LIMIT, AXIS_LIMIT),
    );
    let mag = lo.abs().max(hi.abs());
    let min_span = (mag * 1e-9).max(1e-290);
    let span = hi - lo;
    if span < min_span {
        let mid = 0.5 * (lo + hi);
        let half = if mid == 0.0 {
            1.0
        } else {
            (0.1 * mid.abs()).max(min_span)
        };
        return (mid - half, mid + half);
    }
    let pad = pad.clamp(0.0, 1.0) * span;
    (
        (lo - pad).max(-2.0 * AXIS_LIMIT),
        (hi + pad).min(2.0 * AXIS_LIMIT),
    )
}

/// Draws "no data" in the middle of a chart's plotting area.
pub(crate) fn no_data_note<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (w, h) = area.dim_in_pixel();
    let style = TextStyle::from((FONT, 24.0).into_font())
        .color(&DARK_GREY)
        .pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        ));
    area.draw_text("no data", &style, (w as i32 / 2, h as i32 / 2))
        .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
    Ok(())
}

/// Draws a centred title (and an optional grey subtitle line) at the top of `root` and returns
/// the area below them.
pub(crate) fn titled<'a>(
    root: &Root<'a>,
    title: &str,
    subtitle: Option<&str>,
) -> DrawResult<Root<'a>> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let (w, _) = root.dim_in_pixel();
    let pos = Pos::new(HPos::Center, VPos::Top);
    let mut y = 10;
    if !title.is_empty() {
        let style = TextStyle::from((FONT, TITLE_PX).into_font()).pos(pos);
        root.draw_text(title, &style, (w as i32 / 2, y))?;
        y += TITLE_PX as i32 + 8;
    }
    if let Some(sub) = subtitle.filter(|s| !s.is_empty()) {
        let style = TextStyle::from((FONT, SUBTITLE_PX).into_font())
            .color(&DARK_GREY)
            .pos(pos);
        root.draw_text(sub, &style, (w as i32 / 2, y))?;
        y += SUBTITLE_PX as i32 + 6;
    }
    Ok(root.margin(y + 4, 0, 0, 0))
}

/// Formats a number compactly with about `sig` significant digits (no trailing zeros).
pub(crate) fn fmt_num(v: f64, sig: usize) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor() as i32;
    if !(-3..6).contains(&mag) {
        let s = format!("{:.*e}", sig.saturating_sub(1), v);
        return match s.split_once('e') {
            Some((m, e)) if m.contains('.') => {
                format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
            }
            _ => s,
        };
    }
    let decimals = (sig as i32 - 1 - mag).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Viridis colour map at `t` in `[0, 1]` (piecewise-linear through 9 anchors of matplotlib's
/// viridis; non-finite `t` maps to 0).
pub(crate) fn viridis(t: f64) -> RGBColor {
    const ANCHORS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (ANCHORS.len() - 1) as f64;
    let i = (x.floor() as usize).min(ANCHORS.len() - 2);
    let f = x - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (ANCHORS[i], ANCHORS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmt_num_is_compact() {
        assert_eq!(fmt_num(0.0, 3), "0");
        assert_eq!(fmt_num(12.345, 3), "12.3");
        assert_eq!(fmt_num(2.0, 3), "2");
        assert_eq!(fmt_num(0.01234, 3), "0.0123");
        assert_eq!(fmt_num(1.5e7, 3), "1.5e7");
        assert_eq!(fmt_num(1e6, 4), "1e6");
    }

    #[test]
    fn padded_never_degenerate() {
        assert_eq!(padded(0.0, 0.0, 0.05), (-1.0, 1.0));
        let (lo, hi) = padded(5.0, 5.0, 0.05);
        assert!(lo < 5.0 && hi > 5.0);
        assert_eq!(padded(0.0, 10.0, 0.1), (-1.0, 11.0));
        assert_eq!(padded(f64::NAN, 1.0, 0.1), (0.0, 1.0));
    }

    #[test]
    fn viridis_endpoints() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(f64::NAN), RGBColor(68, 1, 84));
    }
}
