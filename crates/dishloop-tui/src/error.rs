//! Errors of the cockpit.

use std::path::PathBuf;

/// Everything that can go wrong in the cockpit outside of drawing.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    /// A culture config could not be loaded or built.
    #[error(transparent)]
    Culture(#[from] dishloop_culture::CultureError),
    /// The spike trains of a run were inconsistent (a bug if it happens).
    #[error(transparent)]
    Spikes(#[from] dishloop_analysis::spikes::SpikeError),
    /// A parameter is outside its allowed range.
    #[error("{name} = {value} is out of range ({allowed})")]
    Param {
        /// Parameter name.
        name: &'static str,
        /// Offending value.
        value: String,
        /// Allowed range.
        allowed: &'static str,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The terminal could not be set up, drawn or read.
    #[error("terminal: {0}")]
    Terminal(#[source] std::io::Error),
    /// The training back end refused an operation.
    #[error("training: {0}")]
    Train(String),
    /// A preview run was cancelled before it finished.
    #[error("the preview was cancelled")]
    Cancelled,
}

impl TuiError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// Writes `bytes` to `path` atomically (temporary file in the same folder, then rename),
/// creating the parent folder.
pub(crate) fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), TuiError> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| TuiError::io(dir, e))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| TuiError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| TuiError::io(path, e))
}
