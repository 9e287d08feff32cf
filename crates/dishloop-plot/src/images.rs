//! Grayscale image grids (PNG) and animations (GIF).

use std::borrow::Cow;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::PlotError;
use crate::render::{FONT, no_data_note, render_png, write_atomic};

/// Images smaller than this many pixels on their longer side are enlarged (nearest
/// neighbour, integer factor) in [`image_grid`].
const GRID_TARGET_PX: usize = 192;
/// Gap between images in [`image_grid`], in pixels.
const GAP_PX: u32 = 14;
/// Height of a caption line in [`image_grid`], in pixels.
const CAPTION_PX: u32 = 26;

/// Gray level 0-255 of an intensity in `[0, 1]` (clamped; NaN is black).
fn gray(v: f32) -> u8 {
    if v.is_nan() {
        0
    } else {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

fn check_images(
    path: &Path,
    lens: impl Iterator<Item = usize>,
    w: usize,
    h: usize,
    what: &str,
) -> Result<(), PlotError> {
    let invalid = |message: String| PlotError::InvalidInput {
        path: path.to_path_buf(),
        message,
    };
    if w == 0 || h == 0 {
        return Err(invalid(format!("{what} size {w} x {h} has no pixels")));
    }
    let need = w
        .checked_mul(h)
        .ok_or_else(|| invalid(format!("{what} size overflows")))?;
    for (i, len) in lens.enumerate() {
        if len != need {
            return Err(invalid(format!(
                "{what} {i} has {len} values, expected {w} x {h} = {need}"
            )));
        }
    }
    Ok(())
}

/// Grid of grayscale images (each `w * h` row-major, values in `[0, 1]`, 0 black) in `cols`
/// columns with optional captions below each (phosphene renders, video frames side by side).
/// Small images are enlarged by an integer factor so the longer side is about 192 px.
/// `cols == 0` picks a near-square grid; missing captions are left blank.
///
/// Fails with [`PlotError::InvalidInput`] if `w` or `h` is 0 or an image is not `w * h` long.
pub fn image_grid(
    path: &Path,
    images: &[&[f32]],
    w: usize,
    h: usize,
    cols: usize,
    captions: &[String],
) -> Result<(), PlotError> {
    check_images(path, images.iter().map(|im| im.len()), w, h, "image")?;
    if images.is_empty() {
        #[allow(clippy::redundant_closure)]
        // the closure is needed for the higher-ranked lifetime
        return render_png(path, (400, 240), |root| no_data_note(root));
    }
    let n = images.len();
    let cols = if cols == 0 {
        (n as f64).sqrt().ceil() as usize
    } else {
        cols.min(n)
    };
    let grid_rows = n.div_ceil(cols);
    let scale = (GRID_TARGET_PX / w.max(h)).clamp(1, 32);
    let (iw, ih) = ((w * scale) as u32, (h * scale) as u32);
    let cap_h = if captions.iter().any(|c| !c.is_empty()) {
        CAPTION_PX
    } else {
        0
    };
    let cell_w = iw + GAP_PX;
    let cell_h = ih + cap_h + GAP_PX;
    let width = cols as u32 * cell_w + GAP_PX;
    let height = grid_rows as u32 * cell_h + GAP_PX;
    let font_px = (cell_w as f64 / 12.0).clamp(11.0, 17.0);

    render_png(path, (width, height), |root| {
        for (k, img) in images.iter().enumerate() {
            let x0 = (GAP_PX + (k % cols) as u32 * cell_w) as i32;
            let y0 = (GAP_PX + (k / cols) as u32 * cell_h) as i32;
            for y in 0..ih as i32 {
                let src_row = (y as usize / scale) * w;
                for x in 0..iw as i32 {
                    let g = gray(img[src_row + x as usize / scale]);
                    root.draw_pixel((x0 + x, y0 + y), &RGBColor(g, g, g))?;
                }
            }
            root.draw(&Rectangle::new(
                [(x0 - 1, y0 - 1), (x0 + iw as i32, y0 + ih as i32)],
                RGBColor(160, 160, 160).stroke_width(1),
            ))?;
            if let Some(c) = captions.get(k).filter(|c| !c.is_empty()) {
                let style = TextStyle::from((FONT, font_px).into_font())
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Top));
                root.draw_text(c, &style, (x0 + iw as i32 / 2, y0 + ih as i32 + 5))?;
            }
        }
        Ok(())
    })
}

/// Animated GIF of grayscale frames (each `w * h` row-major, values in `[0, 1]`) at `fps`
/// frames per second (GIF delays are whole centiseconds, so e.g. 30 fps plays at 33.3 fps),
/// looping forever. Frames are written at their native size; see [`gif_frames_scaled`] to
/// enlarge small frames. An empty frame list writes one black frame.
///
/// Fails with [`PlotError::InvalidInput`] if `w` or `h` is 0 or above 65535, or a frame is
/// not `w * h` long.
pub fn gif_frames(
    path: &Path,
    frames: &[Vec<f32>],
    w: usize,
    h: usize,
    fps: u16,
) -> Result<(), PlotError> {
    gif_frames_scaled(path, frames, w, h, fps, 1)
}

/// [`gif_frames`] with each frame enlarged `scale` times (nearest neighbour; 0 counts as 1).
pub fn gif_frames_scaled(
    path: &Path,
    frames: &[Vec<f32>],
    w: usize,
    h: usize,
    fps: u16,
    scale: usize,
) -> Result<(), PlotError> {
    check_images(path, frames.iter().map(Vec::len), w, h, "frame")?;
    let scale = scale.max(1);
    let (ow, oh) = (w.saturating_mul(scale), h.saturating_mul(scale));
    let (Ok(gw), Ok(gh)) = (u16::try_from(ow), u16::try_from(oh)) else {
        return Err(PlotError::InvalidInput {
            path: path.to_path_buf(),
            message: format!("GIF frames are at most 65535 px a side, got {ow} x {oh}"),
        });
    };
    // Delay in centiseconds; browsers treat delays below 2 cs as 10 cs, so clamp to >= 2.
    let delay_cs = (100.0 / fps.max(1) as f64).round().clamp(2.0, 65_535.0) as u16;
    let palette: Vec<u8> = (0..=255u8).flat_map(|g| [g, g, g]).collect();
    let blank;
    let frames: &[Vec<f32>] = if frames.is_empty() {
        blank = [vec![0.0f32; w * h]];
        &blank
    } else {
        frames
    };
    write_atomic(path, |out| {
        let mut enc = gif::Encoder::new(out, gw, gh, &palette).map_err(|e| e.to_string())?;
        enc.set_repeat(gif::Repeat::Infinite)
            .map_err(|e| e.to_string())?;
        let mut indices = vec![0u8; ow * oh];
        for f in frames {
            for y in 0..oh {
                let src = &f[(y / scale) * w..(y / scale + 1) * w];
                for (x, px) in indices[y * ow..(y + 1) * ow].iter_mut().enumerate() {
                    *px = gray(src[x / scale]);
                }
            }
            let frame = gif::Frame {
                width: gw,
                height: gh,
                delay: delay_cs,
                buffer: Cow::Borrowed(&indices),
                ..gif::Frame::default()
            };
            enc.write_frame(&frame).map_err(|e| e.to_string())?;
        }
        // Writes the GIF trailer and reports its error (dropping would swallow it).
        enc.into_inner().map(|_| ()).map_err(|e| e.to_string())
    })
}
