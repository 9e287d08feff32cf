//! A hand-made 5 × 7 bitmap font (digits 0–9, letters A–Z) and an augmenting rasteriser, so data sets are
//! rendered from glyphs the crate ships (no downloads).

use rand::{Rng, RngExt};

/// Rows of each glyph, top to bottom; bit 4 is the leftmost column.
pub const FONT_5X7: [[u8; 7]; 36] = [
    [
        0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110,
    ], // 0
    [
        0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
    ], // 1
    [
        0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111,
    ], // 2
    [
        0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110,
    ], // 3
    [
        0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010,
    ], // 4
    [
        0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110,
    ], // 5
    [
        0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110,
    ], // 6
    [
        0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000,
    ], // 7
    [
        0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110,
    ], // 8
    [
        0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100,
    ], // 9
    [
        0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001,
    ], // A
    [
        0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110,
    ], // B
    [
        0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110,
    ], // C
    [
        0b11100, 0b10010, 0b10001, 0b10001, 0b10001, 0b10010, 0b11100,
    ], // D
    [
        0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111,
    ], // E
    [
        0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000,
    ], // F
    [
        0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111,
    ], // G
    [
        0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001,
    ], // H
    [
        0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
    ], // I
    [
        0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100,
    ], // J
    [
        0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001,
    ], // K
    [
        0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111,
    ], // L
    [
        0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001,
    ], // M
    [
        0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001,
    ], // N
    [
        0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110,
    ], // O
    [
        0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000,
    ], // P
    [
        0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101,
    ], // Q
    [
        0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001,
    ], // R
    [
        0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110,
    ], // S
    [
        0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100,
    ], // T
    [
        0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110,
    ], // U
    [
        0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100,
    ], // V
    [
        0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010,
    ], // W
    [
        0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001,
    ], // X
    [
        0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100, 0b00100,
    ], // Y
    [
        0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111,
    ], // Z
];

/// Characters of [`FONT_5X7`] in order.
pub const CHARSET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Whether cell (col, row) of glyph `g` is set.
pub fn cell(g: usize, col: usize, row: usize) -> bool {
    (FONT_5X7[g][row] >> (4 - col)) & 1 == 1
}

/// Placement of a glyph on a canvas, in canvas fractions (resolution independent).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GlyphPose {
    /// Centre x, fraction of the canvas width (0.5 = centre).
    pub cx: f64,
    /// Centre y, fraction of the canvas height.
    pub cy: f64,
    /// Glyph height as a fraction of the canvas height.
    pub height: f64,
    /// Rotation, radians.
    pub rotation_rad: f64,
    /// Horizontal shear.
    pub shear: f64,
    /// Stroke thickness relative to a 5 × 7 cell (1 = cells touch; < 1 thins the strokes).
    pub stroke: f64,
}

impl Default for GlyphPose {
    fn default() -> Self {
        Self {
            cx: 0.5,
            cy: 0.5,
            height: 0.6,
            rotation_rad: 0.0,
            shear: 0.0,
            stroke: 1.0,
        }
    }
}

impl GlyphPose {
    /// A random augmentation around the default: shift ±`shift`, height × [0.8, 1.1], rotation ±0.15 rad,
    /// shear ±0.2, stroke [0.7, 1.0].
    pub fn random<R: Rng + ?Sized>(rng: &mut R, shift: f64) -> Self {
        Self {
            cx: 0.5 + shift * (2.0 * rng.random::<f64>() - 1.0),
            cy: 0.5 + shift * (2.0 * rng.random::<f64>() - 1.0),
            height: 0.6 * (0.8 + 0.3 * rng.random::<f64>()),
            rotation_rad: 0.15 * (2.0 * rng.random::<f64>() - 1.0),
            shear: 0.2 * (2.0 * rng.random::<f64>() - 1.0),
            stroke: 0.7 + 0.3 * rng.random::<f64>(),
        }
    }
}

/// Rasterises glyph `g` (index into [`CHARSET`]) on a `w × h` canvas in [0, 1] with 3 × 3 super-sampling.
/// Row 0 of the canvas is the glyph's top row.
pub fn rasterize(g: usize, w: usize, h: usize, pose: &GlyphPose) -> Vec<f32> {
    let mut img = vec![0.0f32; w * h];
    let gh = pose.height * h as f64; // glyph height in px
    let cell_px = gh / 7.0;
    let (cx, cy) = (pose.cx * w as f64, pose.cy * h as f64);
    let (c, s) = (pose.rotation_rad.cos(), pose.rotation_rad.sin());
    let half = 0.5 * pose.stroke;
    const SS: usize = 3;
    for py in 0..h {
        for px in 0..w {
            let mut hits = 0;
            for sy in 0..SS {
                for sx in 0..SS {
                    let x = px as f64 + (sx as f64 + 0.5) / SS as f64 - cx;
                    let y = py as f64 + (sy as f64 + 0.5) / SS as f64 - cy;
                    // inverse rotation, then inverse shear, into glyph cell units centred on the glyph
                    let xr = c * x + s * y;
                    let yr = -s * x + c * y;
                    let u = (xr - pose.shear * yr) / cell_px + 2.5;
                    let v = yr / cell_px + 3.5;
                    if u < 0.0 || v < 0.0 || u >= 5.0 || v >= 7.0 {
                        continue;
                    }
                    let (col, row) = (u as usize, v as usize);
                    if cell(g, col, row) {
                        let (fu, fv) = (u - col as f64 - 0.5, v - row as f64 - 0.5);
                        // thin strokes shrink each cell towards its centre, but keep neighbours joined
                        let joined_x = if fu < 0.0 {
                            col > 0 && cell(g, col - 1, row)
                        } else {
                            col < 4 && cell(g, col + 1, row)
                        };
                        let joined_y = if fv < 0.0 {
                            row > 0 && cell(g, col, row - 1)
                        } else {
                            row < 6 && cell(g, col, row + 1)
                        };
                        let in_x = fu.abs() <= half || joined_x;
                        let in_y = fv.abs() <= half || joined_y;
                        if (in_x && fv.abs() <= half)
                            || (in_y && fu.abs() <= half)
                            || (fu.abs() <= half && fv.abs() <= half)
                        {
                            hits += 1;
                        }
                    }
                }
            }
            img[py * w + px] = hits as f32 / (SS * SS) as f32;
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyphs_are_distinct_and_drawn() {
        for a in 0..36 {
            for b in a + 1..36 {
                assert_ne!(FONT_5X7[a], FONT_5X7[b], "{a} {b}");
            }
        }
        let img = rasterize(1, 32, 32, &GlyphPose::default());
        let ink: f32 = img.iter().sum();
        // '1' has 11 cells of (0.6*32/7)^2 = 7.5 px each.
        assert!((ink - 11.0 * 7.5).abs() < 15.0, "{ink}");
        // Top row of '7' (all five cells) is set near the top of the glyph box.
        let img = rasterize(
            7,
            70,
            70,
            &GlyphPose {
                height: 1.0,
                ..GlyphPose::default()
            },
        );
        assert!(img[5 * 70 + 35] > 0.9);
    }
}
