//! One module per subcommand.
pub mod analyze;
pub mod bench;
pub mod culture_args;
pub mod phosphene;
pub mod pong;
pub mod pong_sweep;
pub mod run;
pub mod science;
pub mod serve_cl1;
pub mod simulate;
pub mod tui;
