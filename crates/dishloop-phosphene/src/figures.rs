//! Figures written with the `image` crate: grayscale PNGs of renders, animated GIFs of frame sequences,
//! and simple line charts (traces, learning curves) labelled with the crate's 5 × 7 font.

use crate::PhospheneError;
use crate::glyphs::{CHARSET, cell};
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, GrayImage, Luma, Rgb, RgbImage, Rgba, RgbaImage};
use std::path::Path;

fn fig_err<E: std::fmt::Display>(e: E) -> PhospheneError {
    PhospheneError::Figure(e.to_string())
}

/// Writes a `w × h` image in [0, 1] as an 8-bit grayscale PNG, scaled up by `zoom` (nearest). Row 0 is
/// written at the top.
pub fn write_gray_png(
    path: &Path,
    img: &[f32],
    w: usize,
    h: usize,
    zoom: usize,
) -> Result<(), PhospheneError> {
    let z = zoom.max(1);
    let mut out = GrayImage::new((w * z) as u32, (h * z) as u32);
    for (x, y, p) in out.enumerate_pixels_mut() {
        let v = img[(y as usize / z) * w + x as usize / z];
        *p = Luma([(v.clamp(0.0, 1.0) * 255.0).round() as u8]);
    }
    out.save(path).map_err(fig_err)
}

/// Tiles several equally sized grayscale images in a row (with a 2-px gap) into one PNG.
pub fn write_gray_row_png(
    path: &Path,
    imgs: &[&[f32]],
    w: usize,
    h: usize,
    zoom: usize,
) -> Result<(), PhospheneError> {
    let z = zoom.max(1);
    let gap = 2;
    let tw = imgs.len() * (w * z + gap);
    let mut out = GrayImage::from_pixel(tw as u32, (h * z) as u32, Luma([64]));
    for (k, img) in imgs.iter().enumerate() {
        for y in 0..h * z {
            for x in 0..w * z {
                let v = img[(y / z) * w + x / z];
                out.put_pixel(
                    (k * (w * z + gap) + x) as u32,
                    y as u32,
                    Luma([(v.clamp(0.0, 1.0) * 255.0).round() as u8]),
                );
            }
        }
    }
    out.save(path).map_err(fig_err)
}

/// Writes frames (each `w × h` in [0, 1]) as a looping animated GIF at `fps`.
pub fn write_gif(
    path: &Path,
    frames: &[Vec<f32>],
    w: usize,
    h: usize,
    fps: f64,
) -> Result<(), PhospheneError> {
    let file = std::fs::File::create(path)?;
    let mut enc = GifEncoder::new_with_speed(file, 10);
    enc.set_repeat(Repeat::Infinite).map_err(fig_err)?;
    let delay = Delay::from_numer_denom_ms((1000.0 / fps).round() as u32, 1);
    for f in frames {
        let mut img = RgbaImage::new(w as u32, h as u32);
        for (x, y, p) in img.enumerate_pixels_mut() {
            let v = (f[y as usize * w + x as usize].clamp(0.0, 1.0) * 255.0).round() as u8;
            *p = Rgba([v, v, v, 255]);
        }
        enc.encode_frame(Frame::from_parts(img, 0, 0, delay))
            .map_err(fig_err)?;
    }
    Ok(())
}

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Points (x, y).
    pub points: Vec<(f64, f64)>,
    /// Colour.
    pub rgb: [u8; 3],
}

/// Distinct line colours.
pub const PALETTE: [[u8; 3]; 6] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [255, 127, 14],
    [148, 103, 189],
    [100, 100, 100],
];

fn draw_text(img: &mut RgbImage, x0: i64, y0: i64, text: &str, scale: i64, rgb: [u8; 3]) {
    for (k, ch) in text.chars().enumerate() {
        let up = ch.to_ascii_uppercase();
        let gx = x0 + k as i64 * 6 * scale;
        if let Some(g) = CHARSET.find(up) {
            for row in 0..7 {
                for col in 0..5 {
                    if cell(g, col, row) {
                        fill(
                            img,
                            gx + col as i64 * scale,
                            y0 + row as i64 * scale,
                            scale,
                            scale,
                            rgb,
                        );
                    }
                }
            }
        } else if ch == '.' {
            fill(img, gx + 2 * scale, y0 + 6 * scale, scale, scale, rgb);
        } else if ch == '-' {
            fill(img, gx, y0 + 3 * scale, 5 * scale, scale, rgb);
        }
    }
}

fn fill(img: &mut RgbImage, x: i64, y: i64, w: i64, h: i64, rgb: [u8; 3]) {
    for yy in y.max(0)..(y + h).min(img.height() as i64) {
        for xx in x.max(0)..(x + w).min(img.width() as i64) {
            img.put_pixel(xx as u32, yy as u32, Rgb(rgb));
        }
    }
}

fn line(img: &mut RgbImage, (x0, y0): (f64, f64), (x1, y1): (f64, f64), rgb: [u8; 3]) {
    let n = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
    for i in 0..=n {
        let t = i as f64 / n as f64;
        let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
        fill(img, x.round() as i64, y.round() as i64, 2, 2, rgb);
    }
}

fn fmt_tick(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Writes a line chart PNG (`width × height` px) with a title, axis ranges and a legend.
pub fn write_line_chart(
    path: &Path,
    title: &str,
    series: &[Series],
    width: u32,
    height: u32,
) -> Result<(), PhospheneError> {
    let mut img = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    let (l, r, t, b) = (70.0, 20.0, 40.0, 40.0);
    let pw = width as f64 - l - r;
    let ph = height as f64 - t - b;
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut xmin, mut xmax, mut ymin, mut ymax) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in pts {
        if x.is_finite() && y.is_finite() {
            xmin = xmin.min(x);
            xmax = xmax.max(x);
            ymin = ymin.min(y);
            ymax = ymax.max(y);
        }
    }
    if !xmin.is_finite() {
        (xmin, xmax, ymin, ymax) = (0.0, 1.0, 0.0, 1.0);
    }
    if xmax <= xmin {
        xmax = xmin + 1.0;
    }
    if ymax <= ymin {
        ymax = ymin + 1.0;
    }
    let pad = 0.05 * (ymax - ymin);
    ymin -= pad;
    ymax += pad;
    let to_px = |x: f64, y: f64| {
        (
            l + (x - xmin) / (xmax - xmin) * pw,
            t + ph - (y - ymin) / (ymax - ymin) * ph,
        )
    };
    let axis = [0, 0, 0];
    line(&mut img, (l, t), (l, t + ph), axis);
    line(&mut img, (l, t + ph), (l + pw, t + ph), axis);
    if ymin < 0.0 && ymax > 0.0 {
        let (_, y0) = to_px(xmin, 0.0);
        for k in 0..(pw as i64 / 8) {
            fill(&mut img, l as i64 + 8 * k, y0 as i64, 4, 1, [180, 180, 180]);
        }
    }
    draw_text(&mut img, l as i64, 10, title, 2, axis);
    draw_text(&mut img, 4, t as i64, &fmt_tick(ymax), 1, axis);
    draw_text(&mut img, 4, (t + ph) as i64 - 7, &fmt_tick(ymin), 1, axis);
    draw_text(
        &mut img,
        l as i64,
        (t + ph) as i64 + 8,
        &fmt_tick(xmin),
        1,
        axis,
    );
    let xm = fmt_tick(xmax);
    draw_text(
        &mut img,
        (l + pw) as i64 - 6 * xm.len() as i64,
        (t + ph) as i64 + 8,
        &xm,
        1,
        axis,
    );
    for (k, s) in series.iter().enumerate() {
        for w in s.points.windows(2) {
            if w[0].1.is_finite() && w[1].1.is_finite() {
                line(
                    &mut img,
                    to_px(w[0].0, w[0].1),
                    to_px(w[1].0, w[1].1),
                    s.rgb,
                );
            }
        }
        let ly = t as i64 + 6 + 12 * k as i64;
        fill(&mut img, (l + pw) as i64 - 170, ly + 2, 14, 3, s.rgb);
        draw_text(&mut img, (l + pw) as i64 - 150, ly, &s.label, 1, s.rgb);
    }
    img.save(path).map_err(fig_err)
}
