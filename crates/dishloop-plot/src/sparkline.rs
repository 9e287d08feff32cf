//! Unicode sparklines for terminal summaries.

/// The eight block heights, lowest first.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of `values` exactly `width` characters long, using `▁▂▃▄▅▆▇█`.
///
/// With more values than `width`, each character shows the mean of a run of consecutive
/// values; with fewer, values are stretched (each repeated). The mapping is monotone: the
/// smallest finite value gets `▁`, the largest `█`, linearly in between. Non-finite values
/// are ignored; a character with no finite value is a space. A constant series is drawn at
/// mid height (`▄`). Empty `values` give `width` spaces.
pub fn sparkline(values: &[f64], width: usize) -> String {
    if width == 0 {
        return String::new();
    }
    let n = values.len();
    if n == 0 {
        return " ".repeat(width);
    }
    // One value (or None) per output character.
    let cells: Vec<Option<f64>> = (0..width)
        .map(|i| {
            let (a, b) = if n >= width {
                (i * n / width, ((i + 1) * n / width).max(i * n / width + 1))
            } else {
                let k = i * n / width;
                (k, k + 1)
            };
            let (sum, count) = values[a..b.min(n)]
                .iter()
                .filter(|v| v.is_finite())
                .fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
            (count > 0).then(|| sum / count as f64)
        })
        .collect();
    let Some((lo, hi)) = cells
        .iter()
        .flatten()
        .fold(None, |acc: Option<(f64, f64)>, &v| {
            Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        })
    else {
        return " ".repeat(width);
    };
    let top = (BARS.len() - 1) as f64;
    cells
        .iter()
        .map(|c| match c {
            None => ' ',
            Some(_) if hi <= lo => BARS[3],
            Some(v) => {
                let t = ((v - lo) / (hi - lo)).clamp(0.0, 1.0);
                BARS[((t * top).round() as usize).min(BARS.len() - 1)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_width() {
        for width in [0, 1, 5, 40, 200] {
            for n in [0, 1, 3, 40, 1000] {
                let v: Vec<f64> = (0..n).map(|i| (i as f64).sin()).collect();
                assert_eq!(
                    sparkline(&v, width).chars().count(),
                    width,
                    "n={n} w={width}"
                );
            }
        }
    }

    #[test]
    fn ramp_uses_all_bars_in_order() {
        let v: Vec<f64> = (0..8).map(|i| i as f64).collect();
        assert_eq!(sparkline(&v, 8), "▁▂▃▄▅▆▇█");
        // Stretching repeats each value.
        assert_eq!(sparkline(&[0.0, 1.0], 4), "▁▁██");
        // Averaging pairs of values.
        assert_eq!(sparkline(&[0.0, 0.0, 7.0, 7.0], 2), "▁█");
    }

    #[test]
    fn monotone_mapping() {
        let v: Vec<f64> = (0..100).map(|i| ((i * 37) % 100) as f64).collect();
        let s: Vec<char> = sparkline(&v, 100).chars().collect();
        let rank = |c: char| BARS.iter().position(|&b| b == c).unwrap_or(usize::MAX);
        for i in 0..100 {
            for j in 0..100 {
                if v[i] < v[j] {
                    assert!(rank(s[i]) <= rank(s[j]));
                }
            }
        }
        assert_eq!(rank(s[0]), 0); // value 0
        // Value 99 sits at i = 27 (27 * 37 = 999); values >= 92 round to the top bar.
        assert_eq!(s[27], '█');
        assert_eq!(s.iter().filter(|&&c| c == '█').count(), 8);
    }

    #[test]
    fn nan_and_constant() {
        assert_eq!(sparkline(&[f64::NAN, 1.0, 2.0], 3), " ▁█");
        assert_eq!(sparkline(&[3.0; 5], 5), "▄▄▄▄▄");
        assert_eq!(sparkline(&[f64::NAN; 4], 4), "    ");
        assert_eq!(sparkline(&[], 3), "   ");
        // The crate-level example.
        assert_eq!(sparkline(&[1.0, 3.0, 2.0, 5.0], 4), "▁▅▃█");
    }
}
