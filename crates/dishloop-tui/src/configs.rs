//! The list of culture configs the Simulate view offers: the embedded ones, then every
//! `*.yaml` / `*.yml` file of a folder that parses.

use std::path::{Path, PathBuf};

use dishloop_culture::{CultureConfig, EMBEDDED};

/// Where a config came from.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigSource {
    /// Embedded in `dishloop-culture` under this name.
    Embedded(&'static str),
    /// Read from this file.
    File(PathBuf),
}

/// One selectable config.
#[derive(Debug, Clone)]
pub struct ConfigEntry {
    /// Name shown in the list (the embedded name or the file name).
    pub label: String,
    /// Where it came from.
    pub source: ConfigSource,
    /// The parsed, validated config.
    pub config: CultureConfig,
}

impl ConfigEntry {
    /// The first line of the config's description, for the list's hint line.
    pub fn hint(&self) -> &str {
        self.config.description.lines().next().unwrap_or("").trim()
    }
}

/// Configs found, plus one message per file that was skipped (and why).
#[derive(Debug, Clone, Default)]
pub struct ConfigList {
    /// Embedded configs first, then files sorted by name.
    pub entries: Vec<ConfigEntry>,
    /// `"file: reason"` for files that did not parse.
    pub skipped: Vec<String>,
}

impl ConfigList {
    /// The embedded configs and those of `dir` (if given and readable).
    pub fn discover(dir: Option<&Path>) -> Self {
        let mut list = ConfigList::default();
        for (name, text) in EMBEDDED {
            match CultureConfig::from_yaml(text) {
                Ok(config) => list.entries.push(ConfigEntry {
                    label: name.to_string(),
                    source: ConfigSource::Embedded(name),
                    config,
                }),
                Err(e) => list.skipped.push(format!("{name}: {e}")),
            }
        }
        let Some(dir) = dir else { return list };
        let Ok(read) = std::fs::read_dir(dir) else {
            return list;
        };
        let mut files: Vec<PathBuf> = read
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.extension().is_some_and(|x| {
                        x.eq_ignore_ascii_case("yaml") || x.eq_ignore_ascii_case("yml")
                    })
            })
            .collect();
        files.sort();
        for path in files {
            let label = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let parsed = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| CultureConfig::from_yaml(&t).map_err(|e| e.to_string()));
            match parsed {
                Ok(config) => list.entries.push(ConfigEntry {
                    label,
                    source: ConfigSource::File(path),
                    config,
                }),
                Err(e) => list.skipped.push(format!("{label}: {e}")),
            }
        }
        list
    }

    /// Index of the entry labelled `label`.
    pub fn position(&self, label: &str) -> Option<usize> {
        self.entries.iter().position(|e| e.label == label)
    }

    /// Adds a config loaded from `name_or_path` (embedded name or file) unless one with that
    /// label is listed; returns its index.
    pub fn add(&mut self, name_or_path: &str) -> Result<usize, dishloop_culture::CultureError> {
        if let Some(i) = self.position(name_or_path) {
            return Ok(i);
        }
        let config = dishloop_culture::load_config(name_or_path)?;
        self.entries.push(ConfigEntry {
            label: name_or_path.to_string(),
            source: ConfigSource::File(PathBuf::from(name_or_path)),
            config,
        });
        Ok(self.entries.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_first_and_bad_files_are_reported() {
        let dir = std::env::temp_dir().join(format!("dishloop-tui-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dishloop_culture::load_config("wagenaar_calibrated").unwrap();
        std::fs::write(dir.join("b_good.yaml"), good.to_yaml()).unwrap();
        std::fs::write(dir.join("a_bad.yaml"), "culture: {n_neurons: -3}\n").unwrap();
        std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
        let list = ConfigList::discover(Some(&dir));
        let n_embedded = EMBEDDED.len();
        assert_eq!(list.entries.len(), n_embedded + 1);
        assert_eq!(list.entries[0].label, EMBEDDED[0].0);
        assert_eq!(list.entries[n_embedded].label, "b_good.yaml");
        assert_eq!(list.skipped.len(), 1);
        assert!(
            list.skipped[0].starts_with("a_bad.yaml"),
            "{:?}",
            list.skipped
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
