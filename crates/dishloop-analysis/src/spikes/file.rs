//! The dishloop spike file set (`<stem>_steps.npy`, `<stem>_neurons.npy`, `<stem>.json`) and
//! plain `time_ms,neuron` CSV import. The format is specified in `FORMAT.md` and in the crate
//! documentation.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::npy::{NpyError, parse_npy_u32, to_npy_u32};
use super::{SpikeError, SpikeTrains};

/// Value of the `format` field of the JSON sidecar.
pub const FORMAT_NAME: &str = "dishloop-spikes";
/// Version of the file set written by this crate; readers refuse newer versions.
pub const FORMAT_VERSION: u32 = 1;

/// An error reading or writing spike files; every variant names the file concerned.
#[derive(Debug, Error)]
pub enum SpikeIoError {
    /// The operating system refused (missing file, permissions, full disk...).
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error (its message is part of this error's message, so it is not
        /// exposed again as `source()`).
        error: std::io::Error,
    },
    /// An `.npy` file is malformed or holds the wrong kind of array.
    #[error("{}: {problem}", path.display())]
    Npy {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: NpyError,
    },
    /// The JSON sidecar is not valid JSON or misses a field.
    #[error("{}: invalid JSON sidecar: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The JSON sidecar is valid JSON but not a dishloop spike header we can read.
    #[error("{}: {problem}", path.display())]
    Header {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The two arrays have different lengths.
    #[error(
        "{} has {steps_len} spikes but {} has {neurons_len}",
        steps_path.display(),
        neurons_path.display()
    )]
    LengthMismatch {
        /// The steps file.
        steps_path: PathBuf,
        /// Its length.
        steps_len: usize,
        /// The neurons file.
        neurons_path: PathBuf,
        /// Its length.
        neurons_len: usize,
    },
    /// The arrays load but violate an invariant of [`SpikeTrains`] (a neuron index
    /// `>= n_neurons`, unsorted steps, a step `>= n_steps`...).
    #[error("{}: {problem}", path.display())]
    Invalid {
        /// The file holding the offending values.
        path: PathBuf,
        /// The violated invariant.
        problem: SpikeError,
    },
    /// A CSV line cannot be read.
    #[error("{}:{line}: {problem}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// The path cannot name a spike file set.
    #[error("{}: {problem}", path.display())]
    BadPath {
        /// The path given.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// Optional information stored in the JSON sidecar next to the spikes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpikeFileMeta {
    /// Number of excitatory neurons when they are numbered first (`0..n_exc`), as in BL-1's
    /// E-first blocks; `None` when unknown or not applicable (electrodes, imported units).
    pub n_exc: Option<u32>,
    /// Free-form provenance: config name, seed, git commit, electrode map... Any JSON.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// A spike file set read back: the spikes and the sidecar's extra fields.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeFile {
    /// The spikes (already validated).
    pub trains: SpikeTrains,
    /// `n_exc` and free-form metadata.
    pub meta: SpikeFileMeta,
}

/// The three paths of a spike file set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpikeFilePaths {
    /// `<stem>_steps.npy`
    pub steps: PathBuf,
    /// `<stem>_neurons.npy`
    pub neurons: PathBuf,
    /// `<stem>.json`
    pub json: PathBuf,
}

/// The JSON sidecar as stored on disk (see `FORMAT.md`).
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    format_version: u32,
    n_neurons: u32,
    dt_ms: f64,
    n_steps: u64,
    n_spikes: u64,
    #[serde(default)]
    n_exc: Option<u32>,
    #[serde(default)]
    metadata: serde_json::Map<String, serde_json::Value>,
}

fn append(stem: &Path, suffix: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// The file set for `path`, which may be the stem itself or any of the three files
/// (`run1`, `run1.json`, `run1_steps.npy` and `run1_neurons.npy` all give the same set).
pub fn spike_file_paths(path: &Path) -> SpikeFilePaths {
    let s = path.to_string_lossy();
    let stem_str = ["_steps.npy", "_neurons.npy", ".json"]
        .iter()
        .find_map(|suf| s.strip_suffix(suf))
        .map(str::to_owned);
    let stem = match stem_str {
        Some(st) => PathBuf::from(st),
        None => path.to_path_buf(),
    };
    SpikeFilePaths {
        steps: append(&stem, "_steps.npy"),
        neurons: append(&stem, "_neurons.npy"),
        json: append(&stem, ".json"),
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed to disk,
/// then renamed over `path` (a reader never sees a half-written file).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SpikeIoError> {
    let io = |error| SpikeIoError::Io {
        path: path.to_path_buf(),
        error,
    };
    let name = path.file_name().ok_or_else(|| SpikeIoError::BadPath {
        path: path.to_path_buf(),
        problem: "no file name".into(),
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Writes a spike file set for `stem` (`<stem>_steps.npy`, `<stem>_neurons.npy`,
/// `<stem>.json`), each file atomically; the JSON sidecar is written last, so a complete
/// sidecar always describes complete arrays. The folder must exist. Returns the paths.
///
/// ```
/// use dishloop_analysis::SpikeTrains;
/// use dishloop_analysis::spikes::{SpikeFileMeta, read_spikes, write_spikes};
/// let dir = std::env::temp_dir().join(format!("dl-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let s = SpikeTrains::new(4, 0.5, 100, vec![3, 3, 50], vec![0, 2, 1]).unwrap();
/// let paths = write_spikes(&dir.join("run1"), &s, &SpikeFileMeta::default()).unwrap();
/// assert!(paths.steps.ends_with("run1_steps.npy"));
/// let back = read_spikes(&paths.json).unwrap(); // the stem or any of the 3 files works
/// assert_eq!(back.trains, s);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn write_spikes(
    stem: &Path,
    trains: &SpikeTrains,
    meta: &SpikeFileMeta,
) -> Result<SpikeFilePaths, SpikeIoError> {
    let paths = spike_file_paths(stem);
    trains.validate().map_err(|problem| SpikeIoError::Invalid {
        path: paths.json.clone(),
        problem,
    })?;
    write_atomic(&paths.steps, &to_npy_u32(&trains.steps))?;
    write_atomic(&paths.neurons, &to_npy_u32(&trains.neurons))?;
    let header = Header {
        format: FORMAT_NAME.to_string(),
        format_version: FORMAT_VERSION,
        n_neurons: trains.n_neurons,
        dt_ms: trains.dt_ms,
        n_steps: trains.n_steps,
        n_spikes: trains.n_spikes() as u64,
        n_exc: meta.n_exc,
        metadata: meta.metadata.clone(),
    };
    let mut text = serde_json::to_string_pretty(&header).map_err(|e| SpikeIoError::Json {
        path: paths.json.clone(),
        message: e.to_string(),
    })?;
    text.push('\n');
    write_atomic(&paths.json, text.as_bytes())?;
    Ok(paths)
}

/// Reads and validates a spike file set; `path` is the stem or any of its three files.
/// Every problem is a typed [`SpikeIoError`] naming the file: bad magic, dtype or shape,
/// truncated data, mismatched lengths, a neuron `>= n_neurons`, unsorted steps, a sidecar of
/// another format or a newer version.
pub fn read_spikes(path: &Path) -> Result<SpikeFile, SpikeIoError> {
    let paths = spike_file_paths(path);
    let text = std::fs::read_to_string(&paths.json).map_err(|error| SpikeIoError::Io {
        path: paths.json.clone(),
        error,
    })?;
    let header: Header = serde_json::from_str(&text).map_err(|e| SpikeIoError::Json {
        path: paths.json.clone(),
        message: e.to_string(),
    })?;
    let bad_header = |problem: String| SpikeIoError::Header {
        path: paths.json.clone(),
        problem,
    };
    if header.format != FORMAT_NAME {
        return Err(bad_header(format!(
            "format is {:?}, expected {FORMAT_NAME:?}",
            header.format
        )));
    }
    if header.format_version == 0 || header.format_version > FORMAT_VERSION {
        return Err(bad_header(format!(
            "format_version {} is not supported (this reader knows 1..={FORMAT_VERSION})",
            header.format_version
        )));
    }
    let read = |p: &Path| -> Result<Vec<u32>, SpikeIoError> {
        let bytes = std::fs::read(p).map_err(|error| SpikeIoError::Io {
            path: p.to_path_buf(),
            error,
        })?;
        parse_npy_u32(&bytes).map_err(|problem| SpikeIoError::Npy {
            path: p.to_path_buf(),
            problem,
        })
    };
    let steps = read(&paths.steps)?;
    let neurons = read(&paths.neurons)?;
    if steps.len() != neurons.len() {
        return Err(SpikeIoError::LengthMismatch {
            steps_path: paths.steps.clone(),
            steps_len: steps.len(),
            neurons_path: paths.neurons.clone(),
            neurons_len: neurons.len(),
        });
    }
    if steps.len() as u64 != header.n_spikes {
        return Err(bad_header(format!(
            "n_spikes is {} but the arrays hold {} spikes (files from different writes?)",
            header.n_spikes,
            steps.len()
        )));
    }
    let trains = SpikeTrains {
        n_neurons: header.n_neurons,
        dt_ms: header.dt_ms,
        n_steps: header.n_steps,
        steps,
        neurons,
    };
    trains.validate().map_err(|problem| {
        let path = match problem {
            SpikeError::NeuronOutOfRange { .. } => paths.neurons.clone(),
            SpikeError::InvalidDt(_) => paths.json.clone(),
            _ => paths.steps.clone(),
        };
        SpikeIoError::Invalid { path, problem }
    })?;
    Ok(SpikeFile {
        trains,
        meta: SpikeFileMeta {
            n_exc: header.n_exc,
            metadata: header.metadata,
        },
    })
}

/// How to turn a `time_ms,neuron` CSV into [`SpikeTrains`].
#[derive(Debug, Clone, PartialEq)]
pub struct CsvOptions {
    /// Step used to quantise times (`step = round(time_ms / dt_ms)`). Spikes of one neuron
    /// that fall into the same step are merged. Default 0.1 ms.
    pub dt_ms: f64,
    /// Population size; default `max(neuron) + 1`.
    pub n_neurons: Option<u32>,
    /// Recording length in steps; default `last step + 1` (which slightly overestimates rates
    /// when the recording went on after the last spike: give it when known).
    pub n_steps: Option<u64>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            dt_ms: 0.1,
            n_neurons: None,
            n_steps: None,
        }
    }
}

/// Reads a plain CSV of spikes, one `time_ms,neuron` per line (an imported recording).
///
/// Blank lines and lines starting with `#` are skipped. A first line with non-numeric fields
/// is a header; if it names the columns `time_ms` and `neuron` (or `channel`) in either order
/// they are mapped by name. Times must be finite and >= 0, neurons non-negative integers.
pub fn read_csv(path: &Path, opts: &CsvOptions) -> Result<SpikeTrains, SpikeIoError> {
    let text = std::fs::read_to_string(path).map_err(|error| SpikeIoError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let csv_err = |line: usize, problem: String| SpikeIoError::Csv {
        path: path.to_path_buf(),
        line,
        problem,
    };
    if !(opts.dt_ms.is_finite() && opts.dt_ms > 0.0) {
        return Err(SpikeIoError::Invalid {
            path: path.to_path_buf(),
            problem: SpikeError::InvalidDt(opts.dt_ms),
        });
    }
    let mut time_col = 0usize;
    let mut neuron_col = 1usize;
    let mut seen_data = false;
    let mut header_done = false;
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 2 {
            return Err(csv_err(
                line_no,
                format!("expected 2 comma-separated fields, found {}", fields.len()),
            ));
        }
        if !seen_data && !header_done && fields.iter().any(|f| f.parse::<f64>().is_err()) {
            header_done = true;
            let names: Vec<String> = fields.iter().map(|f| f.to_ascii_lowercase()).collect();
            let is_neuron = |n: &str| n == "neuron" || n == "channel";
            if names[0] == "time_ms" && is_neuron(&names[1]) {
                (time_col, neuron_col) = (0, 1);
            } else if is_neuron(&names[0]) && names[1] == "time_ms" {
                (time_col, neuron_col) = (1, 0);
            }
            continue;
        }
        seen_data = true;
        let t: f64 = fields[time_col].parse().map_err(|_| {
            csv_err(
                line_no,
                format!("time {:?} is not a number", fields[time_col]),
            )
        })?;
        if !(t.is_finite() && t >= 0.0) {
            return Err(csv_err(
                line_no,
                format!("time {t} ms must be finite and >= 0"),
            ));
        }
        let n: u32 = fields[neuron_col].parse().map_err(|_| {
            csv_err(
                line_no,
                format!(
                    "neuron {:?} is not a non-negative integer",
                    fields[neuron_col]
                ),
            )
        })?;
        let step = (t / opts.dt_ms).round();
        if step > f64::from(u32::MAX) {
            return Err(csv_err(
                line_no,
                format!("time {t} ms is beyond u32 steps at dt {} ms", opts.dt_ms),
            ));
        }
        pairs.push((step as u32, n));
    }
    let max_neuron = pairs.iter().map(|p| p.1).max();
    let n_neurons = match opts.n_neurons {
        Some(n) => n,
        None => max_neuron.map_or(0, |m| m.saturating_add(1)),
    };
    let last_step = pairs.iter().map(|p| p.0).max();
    let n_steps = opts
        .n_steps
        .unwrap_or_else(|| last_step.map_or(0, |s| u64::from(s) + 1));
    SpikeTrains::from_unsorted(n_neurons, opts.dt_ms, n_steps, pairs).map_err(|problem| {
        SpikeIoError::Invalid {
            path: path.to_path_buf(),
            problem,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "dishloop-analysis-{tag}-{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn sample() -> SpikeTrains {
        SpikeTrains::new(5, 0.5, 1000, vec![0, 0, 7, 999], vec![1, 4, 2, 0]).unwrap()
    }

    #[test]
    fn round_trip_with_meta_and_any_path_form() {
        let d = tmpdir("rt");
        let stem = d.join("culture.a");
        let mut meta = SpikeFileMeta {
            n_exc: Some(4),
            ..Default::default()
        };
        meta.metadata
            .insert("config".into(), serde_json::json!("wagenaar_calibrated"));
        let p = write_spikes(&stem, &sample(), &meta).unwrap();
        assert_eq!(p.json, d.join("culture.a.json"));
        for path in [&stem, &p.steps, &p.neurons, &p.json] {
            let back = read_spikes(path).unwrap();
            assert_eq!(back.trains, sample());
            assert_eq!(back.meta, meta);
        }
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn corrupt_sets_are_refused_with_the_right_error() {
        let d = tmpdir("bad");
        let stem = d.join("r");
        let p = write_spikes(&stem, &sample(), &SpikeFileMeta::default()).unwrap();

        // Truncated steps file.
        let good_steps = std::fs::read(&p.steps).unwrap();
        std::fs::write(&p.steps, &good_steps[..good_steps.len() - 2]).unwrap();
        match read_spikes(&stem) {
            Err(SpikeIoError::Npy {
                path,
                problem:
                    NpyError::Truncated {
                        expected: 16,
                        found: 14,
                    },
            }) => assert_eq!(path, p.steps),
            other => panic!("{other:?}"),
        }
        // Not an npy at all.
        std::fs::write(&p.steps, b"hello").unwrap();
        assert!(matches!(
            read_spikes(&stem),
            Err(SpikeIoError::Npy {
                problem: NpyError::BadMagic,
                ..
            })
        ));
        // Mismatched lengths.
        std::fs::write(&p.steps, to_npy_u32(&[0, 0, 7])).unwrap();
        assert!(matches!(
            read_spikes(&stem),
            Err(SpikeIoError::LengthMismatch {
                steps_len: 3,
                neurons_len: 4,
                ..
            })
        ));
        // Unsorted steps (n_spikes still matches).
        std::fs::write(&p.steps, to_npy_u32(&[0, 0, 999, 7])).unwrap();
        match read_spikes(&stem) {
            Err(SpikeIoError::Invalid {
                path,
                problem: SpikeError::NotSorted { index: 3 },
            }) => assert_eq!(path, p.steps),
            other => panic!("{other:?}"),
        }
        std::fs::write(&p.steps, &good_steps).unwrap();
        // Neuron out of range.
        std::fs::write(&p.neurons, to_npy_u32(&[1, 4, 5, 0])).unwrap();
        match read_spikes(&stem) {
            Err(SpikeIoError::Invalid {
                path,
                problem: SpikeError::NeuronOutOfRange { neuron: 5, .. },
            }) => assert_eq!(path, p.neurons),
            other => panic!("{other:?}"),
        }
        std::fs::write(&p.neurons, to_npy_u32(&[1, 4, 2, 0])).unwrap();
        assert!(read_spikes(&stem).is_ok());
        // Sidecar problems.
        let json = std::fs::read_to_string(&p.json).unwrap();
        std::fs::write(
            &p.json,
            json.replace("\"format_version\": 1", "\"format_version\": 2"),
        )
        .unwrap();
        assert!(matches!(
            read_spikes(&stem),
            Err(SpikeIoError::Header { .. })
        ));
        std::fs::write(&p.json, json.replace("\"n_spikes\": 4", "\"n_spikes\": 5")).unwrap();
        assert!(matches!(
            read_spikes(&stem),
            Err(SpikeIoError::Header { .. })
        ));
        std::fs::write(&p.json, "{\"format\": ").unwrap();
        assert!(matches!(read_spikes(&stem), Err(SpikeIoError::Json { .. })));
        std::fs::remove_file(&p.json).unwrap();
        assert!(matches!(read_spikes(&stem), Err(SpikeIoError::Io { .. })));
        let msg = read_spikes(&stem).unwrap_err().to_string();
        assert!(msg.contains("r.json"), "{msg}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn csv_import() {
        let d = tmpdir("csv");
        let f = d.join("rec.csv");
        std::fs::write(
            &f,
            "# exported\nneuron,time_ms\n3, 10.04\n1,0.0\n\n3,10.01\n0,2.5\n",
        )
        .unwrap();
        let s = read_csv(&f, &CsvOptions::default()).unwrap();
        assert_eq!(s.n_neurons, 4);
        assert_eq!(s.n_steps, 101);
        // 10.04 and 10.01 ms round to step 100 for neuron 3 and are merged.
        assert_eq!(s.steps, vec![0, 25, 100]);
        assert_eq!(s.neurons, vec![1, 0, 3]);
        std::fs::write(&f, "time_ms,neuron\n1.0,2\n-1.0,2\n").unwrap();
        match read_csv(&f, &CsvOptions::default()) {
            Err(SpikeIoError::Csv { line: 3, .. }) => {}
            other => panic!("{other:?}"),
        }
        std::fs::write(&f, "1.0,2.5\n").unwrap();
        assert!(matches!(
            read_csv(&f, &CsvOptions::default()),
            Err(SpikeIoError::Csv { line: 1, .. })
        ));
        std::fs::write(&f, "1.0,2\n").unwrap();
        let opts = CsvOptions {
            n_neurons: Some(2),
            ..Default::default()
        };
        assert!(matches!(
            read_csv(&f, &opts),
            Err(SpikeIoError::Invalid { .. })
        ));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
