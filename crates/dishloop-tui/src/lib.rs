//! # dishloop-tui
//!
//! The terminal cockpit, `dishloop tui` (ratatui + crossterm; keys and mouse; lazygit/k9s
//! habits), modelled on BL-1's (reference/bl1.md §9). Five views:
//!
//! | view | what |
//! |---|---|
//! | Dashboard | what is loaded (config, seed, neurons, synapses), live mean rate, last results |
//! | Simulate | pick a config, neuron cap / duration / seed with `[-][+]`, preview on a background thread, raster, rate trace, CL1 8×8 MEA map (recorded by `dishloop-mea`) |
//! | Train | live Pong (`dishloop-experiments` behind [`train::PongBackend`]): game canvas, hit-rate chart, hit/miss timeline, skill gauges, sensory bump |
//! | Science | the last run's metrics in plain language, with verdicts that test the published ranges |
//! | Results | every run of the session; `e` exports CSV |
//!
//! Keys and clicks become [`app::Action`]s handled by [`App::handle_event`], so tests drive
//! the cockpit with synthetic events and render it with ratatui's `TestBackend`
//! ([`ui::draw`]). [`terminal::run`] owns the real terminal (restored on exit and on panic);
//! [`headless`] prints the Dashboard / Science content without one. Training runs in the UI
//! thread, time-sliced between frames (see `BENCHMARKS.md`: ~29 fps, training within a few %
//! of headless speed on one core).
//!
//! ```no_run
//! let stats = dishloop_tui::terminal::run(dishloop_tui::AppOptions::default(), None)?;
//! # Ok::<(), dishloop_tui::TuiError>(())
//! ```
#![warn(missing_docs)]

pub mod app;
pub mod configs;
mod error;
pub mod headless;
pub mod mea;
pub mod preview;
pub mod results;
pub mod science;
pub mod terminal;
pub mod train;
pub mod ui;

pub use app::{Action, App, AppOptions, View};
pub use error::TuiError;
