//! Virtual CL1 (placeholder docs, expanded below).
pub mod wire;
