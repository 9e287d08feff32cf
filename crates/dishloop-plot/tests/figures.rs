//! Every figure function writes a decodable, non-blank file; empty and NaN input never panics;
//! IO errors name the path.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use dishloop_plot::{
    PlotError, RasterOptions, Series, gif_frames, gif_frames_scaled, heatmap, histogram,
    image_grid, line_chart, loglog_distribution, raster, raster_with,
};

/// A fresh directory under the target dir (no tempfile dependency).
fn out_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("plot-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

struct Rgb {
    w: u32,
    h: u32,
    px: Vec<u8>,
}

impl Rgb {
    fn get(&self, x: u32, y: u32) -> (u8, u8, u8) {
        let i = ((y * self.w + x) * 3) as usize;
        (self.px[i], self.px[i + 1], self.px[i + 2])
    }
    /// Number of pixels satisfying `f`, within the column range `xs`.
    fn count_in(&self, xs: std::ops::Range<u32>, f: impl Fn((u8, u8, u8)) -> bool) -> usize {
        let mut n = 0;
        for y in 0..self.h {
            for x in xs.clone() {
                if f(self.get(x, y)) {
                    n += 1;
                }
            }
        }
        n
    }
    fn count(&self, f: impl Fn((u8, u8, u8)) -> bool) -> usize {
        self.count_in(0..self.w, f)
    }
    fn non_white(&self) -> usize {
        self.count(|p| p != (255, 255, 255))
    }
}

fn decode_png(path: &Path) -> Rgb {
    let file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut reader = png::Decoder::new(BufReader::new(file))
        .read_info()
        .expect("valid PNG header");
    let mut px = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut px).expect("valid PNG data");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    px.truncate(info.buffer_size());
    Rgb {
        w: info.width,
        h: info.height,
        px,
    }
}

fn is_near(p: (u8, u8, u8), q: (u8, u8, u8), tol: i32) -> bool {
    (p.0 as i32 - q.0 as i32).abs() <= tol
        && (p.1 as i32 - q.1 as i32).abs() <= tol
        && (p.2 as i32 - q.2 as i32).abs() <= tol
}

/// No temporary files are left next to the figures.
fn assert_no_tmp(dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let name = entry.expect("entry").file_name();
        let name = name.to_string_lossy();
        assert!(!name.ends_with(".tmp"), "temporary file left: {name}");
    }
}

#[test]
fn line_chart_draws_series_and_reference_lines() {
    let dir = out_dir("line");
    let path = dir.join("curve.png");
    let a: Vec<(f64, f64)> = (0..200)
        .map(|i| (i as f64, 1.0 - (-(i as f64) / 40.0).exp()))
        .collect();
    let b: Vec<(f64, f64)> = (0..200).map(|i| (i as f64, 0.3)).collect();
    line_chart(
        &path,
        "Pong hit rate",
        "rally",
        "hit rate",
        &[Series::new("closed loop", &a), Series::new("open loop", &b)],
        &[(0.5, "chance")],
    )
    .expect("line chart");
    let img = decode_png(&path);
    assert_eq!((img.w, img.h), (1000, 600));
    // Background is white; the first two palette colours (blue, orange) are present.
    assert_eq!(img.get(2, 2), (255, 255, 255));
    assert!(img.count(|p| is_near(p, (31, 119, 180), 10)) > 300);
    assert!(img.count(|p| is_near(p, (255, 127, 14), 10)) > 300);
    assert_no_tmp(&dir);
}

#[test]
fn line_chart_handles_empty_nan_and_huge_series() {
    let dir = out_dir("line-edge");
    line_chart(&dir.join("empty.png"), "empty", "x", "y", &[], &[]).expect("empty chart");
    let img = decode_png(&dir.join("empty.png"));
    assert!(img.non_white() > 1000, "axes and 'no data' are drawn");

    let nan = [(f64::NAN, 1.0), (1.0, f64::INFINITY), (2.0, 3.0)];
    line_chart(
        &dir.join("nan.png"),
        "nan",
        "x",
        "y",
        &[Series::new("", &nan), Series::new("empty", &[])],
        &[(f64::NAN, "bad"), (1.0, "")],
    )
    .expect("NaN chart");
    decode_png(&dir.join("nan.png"));

    let big: Vec<(f64, f64)> = (0..500_000)
        .map(|i| (i as f64 * 0.1, (i as f64 * 0.001).sin()))
        .collect();
    line_chart(
        &dir.join("big.png"),
        "big",
        "t",
        "v",
        &[Series::new("sin", &big)],
        &[],
    )
    .expect("big chart");
    decode_png(&dir.join("big.png"));
}

/// 100 neurons (80 E, 20 I), 1000 ms at dt 0.5 ms: excitatory neurons fire only in the first
/// half, inhibitory only in the second.
fn split_spikes() -> (Vec<u32>, Vec<u32>) {
    let mut steps = Vec::new();
    let mut neurons = Vec::new();
    for k in 0..2000u32 {
        let t_ms = (k % 100) as f64 * 5.0; // 0..495 ms
        let j = k % 80;
        steps.push((t_ms / 0.5) as u32);
        neurons.push(j);
        steps.push(((t_ms + 500.0) / 0.5) as u32);
        neurons.push(80 + k % 20);
    }
    (steps, neurons)
}

#[test]
fn raster_puts_dark_ticks_where_spikes_are() {
    let dir = out_dir("raster");
    let path = dir.join("raster.png");
    let (steps, neurons) = split_spikes();
    raster(&path, "Raster", &steps, &neurons, 0.5, 100, 80, 1000.0).expect("raster");
    let img = decode_png(&path);
    assert_eq!((img.w, img.h), (1000, 720));
    let exc = |p| is_near(p, (22, 48, 120), 8);
    let inh = |p| is_near(p, (200, 30, 45), 8);
    // The plot spans roughly x = 100..975, the time midpoint is near x = 540 and the legend
    // sits right of x = 820.
    let left = 110..520;
    let right = 560..820;
    assert!(
        img.count_in(left.clone(), exc) > 2000,
        "excitatory ticks in first half"
    );
    assert!(
        img.count_in(right.clone(), inh) > 200,
        "inhibitory ticks in second half"
    );
    assert!(
        img.count_in(right, exc) < 50,
        "no excitatory ticks in second half"
    );
    assert!(
        img.count_in(left, inh) < 50,
        "no inhibitory ticks in first half"
    );
}

#[test]
fn raster_subsamples_large_populations_deterministically() {
    let dir = out_dir("raster-big");
    // 100 000 neurons, one spike each, spread over 60 s.
    let n = 100_000u32;
    let neurons: Vec<u32> = (0..n).collect();
    let steps: Vec<u32> = (0..n)
        .map(|j| (j as u64 * 120_000 / n as u64) as u32)
        .collect();
    let opts = RasterOptions {
        max_neurons: 300,
        ..RasterOptions::default()
    };
    let a = dir.join("a.png");
    let b = dir.join("b.png");
    raster_with(&a, "big", &steps, &neurons, 0.5, n, 80_000, 60_000.0, &opts).expect("a");
    raster_with(&b, "big", &steps, &neurons, 0.5, n, 80_000, 60_000.0, &opts).expect("b");
    assert_eq!(
        std::fs::read(&a).ok(),
        std::fs::read(&b).ok(),
        "deterministic"
    );
    let img = decode_png(&a);
    let dark = img.count(|p| is_near(p, (22, 48, 120), 8) || is_near(p, (200, 30, 45), 8));
    // 300 rows shown, each tick 2 px wide and at least 1 px high: far fewer than 100 000 spikes.
    assert!(dark >= 300, "ticks drawn: {dark}");
    assert!(dark < 300 * 2 * 4, "subsampled: {dark}");
}

#[test]
fn raster_edge_cases() {
    let dir = out_dir("raster-edge");
    raster(&dir.join("empty.png"), "empty", &[], &[], 0.5, 0, 0, 0.0).expect("empty raster");
    assert!(decode_png(&dir.join("empty.png")).non_white() > 1000);
    // Spikes past the duration and neurons out of range are skipped.
    raster(
        &dir.join("skip.png"),
        "skip",
        &[10, 5000],
        &[1, 99],
        0.5,
        10,
        8,
        100.0,
    )
    .expect("skipping raster");
    let err = raster(
        &dir.join("bad.png"),
        "bad",
        &[1, 2],
        &[1],
        0.5,
        10,
        8,
        100.0,
    );
    assert!(matches!(err, Err(PlotError::InvalidInput { .. })));
    let err = raster(
        &dir.join("bad.png"),
        "bad",
        &[1],
        &[1],
        f64::NAN,
        10,
        8,
        100.0,
    );
    assert!(matches!(err, Err(PlotError::InvalidInput { .. })));
}

#[test]
fn heatmap_colours_cells_and_greys_unused() {
    let dir = out_dir("heatmap");
    let path = dir.join("mea.png");
    // 8x8 MEA: the four corners unused (NaN), rates 0..59 Hz elsewhere.
    let mut v: Vec<f64> = (0..64).map(|i| i as f64).collect();
    for corner in [0, 7, 56, 63] {
        v[corner] = f64::NAN;
    }
    heatmap(&path, "MEA rate map", &v, 8, 8, "Hz").expect("heatmap");
    let img = decode_png(&path);
    assert!(img.w >= 640 && img.h >= 600);
    // Grey unused cells: 4 cells of ~70x70 px.
    assert!(img.count(|p| p == (200, 200, 200)) > 4 * 40 * 40);
    // Both ends of viridis appear (cells and colour bar).
    assert!(img.count(|p| is_near(p, (68, 1, 84), 6)) > 500);
    assert!(img.count(|p| is_near(p, (253, 231, 37), 6)) > 500);

    let err = heatmap(&dir.join("bad.png"), "bad", &[1.0; 5], 2, 3, "Hz");
    assert!(matches!(err, Err(PlotError::InvalidInput { .. })));
    heatmap(&dir.join("empty.png"), "empty", &[], 0, 0, "").expect("empty heatmap");
    heatmap(&dir.join("nan.png"), "all NaN", &[f64::NAN; 4], 2, 2, "Hz").expect("NaN heatmap");
    heatmap(&dir.join("const.png"), "constant", &[3.0; 6], 2, 3, "Hz").expect("const heatmap");
    decode_png(&dir.join("const.png"));
}

#[test]
fn loglog_draws_ccdf_and_fit() {
    let dir = out_dir("loglog");
    let path = dir.join("avalanches.png");
    // Deterministic Pareto samples with alpha = 1.5: x = u^(-1/(alpha-1)), u on a grid.
    let samples: Vec<f64> = (1..=2000).map(|i| (i as f64 / 2001.0).powf(-2.0)).collect();
    loglog_distribution(&path, "Avalanche sizes", "size", &samples, Some((1.5, 1.0)))
        .expect("loglog");
    let img = decode_png(&path);
    assert_eq!((img.w, img.h), (900, 650));
    assert!(
        img.count(|p| is_near(p, (31, 119, 180), 10)) > 200,
        "CCDF drawn"
    );
    assert!(
        img.count(|p| is_near(p, (214, 39, 40), 10)) > 200,
        "fit drawn"
    );

    loglog_distribution(&dir.join("empty.png"), "empty", "size", &[], None).expect("empty");
    loglog_distribution(
        &dir.join("odd.png"),
        "odd",
        "size",
        &[-1.0, 0.0, f64::NAN, 5.0, 5.0],
        Some((0.5, -1.0)),
    )
    .expect("odd samples");
    decode_png(&dir.join("odd.png"));
}

#[test]
fn histogram_draws_bars() {
    let dir = out_dir("hist");
    let path = dir.join("isi.png");
    let samples: Vec<f64> = (0..5000)
        .map(|i| ((i * 7919) % 1000) as f64 / 10.0)
        .collect();
    histogram(&path, "ISI", "ISI (ms)", &samples, 40).expect("histogram");
    let img = decode_png(&path);
    assert_eq!((img.w, img.h), (1000, 600));
    // A uniform sample fills a large block of bar colour.
    assert!(img.count(|p| is_near(p, (76, 130, 190), 4)) > 100_000);

    histogram(&dir.join("empty.png"), "empty", "x", &[], 10).expect("empty");
    histogram(
        &dir.join("zero.png"),
        "zero bins",
        "x",
        &[1.0, f64::NAN, 1.0],
        0,
    )
    .expect("const");
    decode_png(&dir.join("zero.png"));
}

#[test]
fn image_grid_places_images() {
    let dir = out_dir("grid");
    let path = dir.join("grid.png");
    let (w, h) = (32, 24);
    let black = vec![0.0f32; w * h];
    let white = vec![1.0f32; w * h];
    let ramp: Vec<f32> = (0..w * h)
        .map(|i| (i % w) as f32 / (w - 1) as f32)
        .collect();
    let images: Vec<&[f32]> = vec![&black, &white, &ramp];
    let captions = vec!["black".to_string(), "white".to_string()];
    image_grid(&path, &images, w, h, 2, &captions).expect("grid");
    let img = decode_png(&path);
    // 32 px wide images are enlarged 6x to 192 x 144; 2 columns, 2 rows, captions 26 px.
    assert_eq!(img.w, 2 * (192 + 14) + 14);
    assert_eq!(img.h, 2 * (144 + 26 + 14) + 14);
    // The first image is black at its centre; the ramp is dark left, light right.
    assert_eq!(img.get(14 + 96, 14 + 72), (0, 0, 0));
    let ramp_y = 14 + 184 + 72;
    assert!(img.get(14 + 3, ramp_y).0 < 20);
    assert!(img.get(14 + 188, ramp_y).0 > 235);

    image_grid(&dir.join("empty.png"), &[], w, h, 3, &[]).expect("empty grid");
    let err = image_grid(&dir.join("bad.png"), &[&black[..10]], w, h, 1, &[]);
    assert!(matches!(err, Err(PlotError::InvalidInput { .. })));
}

#[test]
fn gif_round_trips_frames() {
    let dir = out_dir("gif");
    let path = dir.join("movie.gif");
    let (w, h) = (16, 8);
    let frames: Vec<Vec<f32>> = (0..5)
        .map(|k| {
            (0..w * h)
                .map(|i| if i % w == k { 1.0 } else { 0.0 })
                .collect()
        })
        .collect();
    gif_frames(&path, &frames, w, h, 10).expect("gif");
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::RGBA);
    let mut dec = opts
        .read_info(BufReader::new(File::open(&path).expect("open gif")))
        .expect("gif header");
    assert_eq!((dec.width(), dec.height()), (16, 8));
    let mut n = 0;
    while let Some(frame) = dec.read_next_frame().expect("gif frame") {
        assert_eq!(frame.delay, 10, "10 fps = 10 cs");
        // Column n is white, column n+1 black (RGBA).
        assert_eq!(frame.buffer[n * 4], 255);
        assert_eq!(frame.buffer[(n + 1) * 4], 0);
        n += 1;
    }
    assert_eq!(n, 5);

    gif_frames_scaled(&dir.join("big.gif"), &frames, w, h, 30, 4).expect("scaled gif");
    let dec = gif::DecodeOptions::new()
        .read_info(BufReader::new(
            File::open(dir.join("big.gif")).expect("open"),
        ))
        .expect("header");
    assert_eq!((dec.width(), dec.height()), (64, 32));

    gif_frames(&dir.join("empty.gif"), &[], w, h, 10).expect("empty gif");
    let err = gif_frames(&dir.join("bad.gif"), &[vec![0.0; 3]], w, h, 10);
    assert!(matches!(err, Err(PlotError::InvalidInput { .. })));
    assert_no_tmp(&dir);
}

#[test]
fn missing_directory_error_names_the_path() {
    let dir = out_dir("missing");
    let path = dir.join("no-such-dir").join("fig.png");
    let checks: Vec<Result<(), PlotError>> = vec![
        line_chart(&path, "t", "x", "y", &[], &[]),
        raster(&path, "t", &[], &[], 0.5, 10, 8, 100.0),
        heatmap(&path, "t", &[1.0], 1, 1, "Hz"),
        loglog_distribution(&path, "t", "x", &[1.0], None),
        histogram(&path, "t", "x", &[1.0], 3),
        image_grid(&path, &[&[0.5f32][..]], 1, 1, 1, &[]),
        gif_frames(&path, &[vec![0.5]], 1, 1, 5),
    ];
    for r in checks {
        match r {
            Err(e @ PlotError::Io { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("no-such-dir/fig.png"),
                    "message names path: {msg}"
                );
            }
            other => panic!("expected an IO error, got {other:?}"),
        }
    }
    assert!(!path.exists());
}

#[test]
fn overwrites_existing_figure_atomically() {
    let dir = out_dir("overwrite");
    let path = dir.join("fig.png");
    std::fs::write(&path, b"old").expect("write old");
    histogram(&path, "h", "x", &[1.0, 2.0, 3.0], 3).expect("overwrite");
    decode_png(&path);
    assert_no_tmp(&dir);
}

/// Timing of large figures: `cargo test -p dishloop-plot --release -- --ignored --nocapture`.
#[test]
#[ignore = "timing run"]
fn timing_large_figures() {
    let dir = out_dir("timing");
    // 1 000 000 spikes of 5 000 neurons over 10 s (pseudo-random, deterministic).
    let mut x: u64 = 12345;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let n_spk = 1_000_000;
    let steps: Vec<u32> = (0..n_spk).map(|_| (next() % 20_000) as u32).collect();
    let neurons: Vec<u32> = (0..n_spk).map(|_| (next() % 5000) as u32).collect();
    let t = std::time::Instant::now();
    raster(
        &dir.join("r.png"),
        "1M spikes",
        &steps,
        &neurons,
        0.5,
        5000,
        4000,
        10_000.0,
    )
    .expect("raster");
    println!("raster 1e6 spikes: {:?}", t.elapsed());
    let pts: Vec<(f64, f64)> = (0..1_000_000)
        .map(|i| (i as f64, (i as f64).sin()))
        .collect();
    let t = std::time::Instant::now();
    line_chart(
        &dir.join("l.png"),
        "1M points",
        "x",
        "y",
        &[Series::new("s", &pts)],
        &[],
    )
    .expect("line");
    println!("line chart 1e6 points: {:?}", t.elapsed());
    let v: Vec<f64> = (0..64).map(|i| i as f64).collect();
    let t = std::time::Instant::now();
    heatmap(&dir.join("h.png"), "8x8", &v, 8, 8, "Hz").expect("heatmap");
    println!("heatmap 8x8: {:?}", t.elapsed());
}

#[test]
fn extreme_values_do_not_panic() {
    let dir = out_dir("extreme");
    let big = [(-1e308, -1e308), (1e308, 1e308), (0.0, f64::MAX)];
    line_chart(
        &dir.join("l.png"),
        "",
        "",
        "",
        &[Series::new("", &big)],
        &[(1e308, "x")],
    )
    .expect("line");
    line_chart(
        &dir.join("h.png"),
        "only hlines",
        "x",
        "y",
        &[],
        &[(2.0, "two")],
    )
    .expect("hl");
    let tiny = [(0.0, 1e-300), (1e-300, 2e-300)];
    line_chart(
        &dir.join("t.png"),
        "tiny",
        "x",
        "y",
        &[Series::new("a", &tiny)],
        &[],
    )
    .expect("tiny");
    histogram(
        &dir.join("hist.png"),
        "h",
        "x",
        &[-f64::MAX, f64::MAX, 0.0],
        10,
    )
    .expect("hist");
    heatmap(&dir.join("hm.png"), "hm", &[-f64::MAX, f64::MAX], 1, 2, "").expect("heatmap");
    loglog_distribution(
        &dir.join("ll.png"),
        "ll",
        "x",
        &[1e-300, f64::MAX],
        Some((2.0, 1.0)),
    )
    .expect("loglog");
    raster(
        &dir.join("r.png"),
        "r",
        &[u32::MAX],
        &[0],
        1e300,
        1,
        1,
        f64::MAX,
    )
    .expect("raster");
    for f in [
        "l.png", "h.png", "t.png", "hist.png", "hm.png", "ll.png", "r.png",
    ] {
        decode_png(&dir.join(f));
    }
}

#[test]
fn line_chart_with_minimum_ranges_and_markers() {
    use dishloop_plot::{LineOptions, line_chart_with};
    let dir = out_dir("line-opts");
    let path = dir.join("hits.png");
    let pts: Vec<(f64, f64)> = (0..12).map(|i| (i as f64, 0.4 + 0.03 * i as f64)).collect();
    let opts = LineOptions {
        size: (800, 500),
        y_range: Some((0.0, 1.0)),
        markers: true,
        ..LineOptions::default()
    };
    line_chart_with(
        &path,
        "hit rate per session",
        "session",
        "hit rate",
        &[Series::new("hits", &pts)],
        &[],
        &opts,
    )
    .expect("line chart");
    let img = decode_png(&path);
    assert_eq!((img.w, img.h), (800, 500));
    // With y forced to 0..1, the data (0.40..0.73) sits in the middle band of the plot:
    // no series pixels in the top 20 % or bottom 25 % of the image.
    let blue = |p| is_near(p, (31, 119, 180), 10);
    let mut rows_with_blue = Vec::new();
    for y in 0..img.h {
        if (0..img.w).any(|x| blue(img.get(x, y))) {
            rows_with_blue.push(y);
        }
    }
    let (top, bottom) = (rows_with_blue[0], rows_with_blue[rows_with_blue.len() - 1]);
    // Ignore the legend swatch (a short horizontal line near a corner): use the span of rows.
    assert!(bottom < img.h * 3 / 4, "bottom {bottom}");
    assert!(top > img.h / 10, "top {top}");
}

/// Realistic-looking examples to inspect by eye (written to target/tmp/plot-gallery):
/// `cargo test -p dishloop-plot --test figures gallery -- --ignored`.
#[test]
#[ignore = "writes example figures for inspection"]
fn gallery() {
    let dir = out_dir("gallery");
    let mut x: u64 = 99;
    let mut uniform = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    // Discrete avalanche sizes ~ s^-1.5 (inverse transform of the continuous CCDF, floored).
    let sizes: Vec<f64> = (0..5000)
        .map(|_| (1.0 - uniform()).powf(-2.0).floor().min(1e5))
        .collect();
    loglog_distribution(
        &dir.join("avalanches.png"),
        "Avalanche sizes",
        "size (spikes)",
        &sizes,
        Some((1.5, 1.0)),
    )
    .expect("loglog");
    // Exponential ISIs with a 2 ms refractory period.
    let isi: Vec<f64> = (0..20_000)
        .map(|_| 2.0 - 50.0 * (1.0 - uniform()).ln())
        .collect();
    histogram(
        &dir.join("isi.png"),
        "Inter-spike intervals",
        "ISI (ms)",
        &isi,
        60,
    )
    .expect("hist");
    // Phosphene-like Gaussian blobs.
    let (w, h) = (64, 48);
    let imgs: Vec<Vec<f32>> = (0..6)
        .map(|k| {
            (0..w * h)
                .map(|i| {
                    let (px, py) = ((i % w) as f32, (i / w) as f32);
                    let (cx, cy) = (10.0 + 8.0 * k as f32, 24.0);
                    (-((px - cx).powi(2) + (py - cy).powi(2)) / 18.0).exp()
                })
                .collect()
        })
        .collect();
    let refs: Vec<&[f32]> = imgs.iter().map(|v| v.as_slice()).collect();
    let caps: Vec<String> = (0..6).map(|k| format!("electrode {k}")).collect();
    image_grid(&dir.join("phosphenes.png"), &refs, w, h, 3, &caps).expect("grid");
    gif_frames_scaled(&dir.join("phosphenes.gif"), &imgs, w, h, 5, 3).expect("gif");
}
