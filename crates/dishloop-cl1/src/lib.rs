//! Virtual CL1 (docs below are expanded in a later commit).
pub mod backend;
pub mod channels;
pub mod design;
pub mod device;
pub mod plan;
pub mod wire;

pub use backend::{Ablation, Backend, BackendError, CultureBackend, FrameWindow, Pulse, Spike};
pub use channels::ChannelSet;
pub use design::{BurstDesign, EnvelopeError, Phase, StimDesign};
pub use device::{
    BurstOccupancy, Cl1Error, Clock, DetectionResult, Device, DeviceOptions, DeviceStats, Loop,
    LoopOptions, StimEvent, Tick, open,
};
pub use plan::StimPlan;
pub mod client;
pub mod server;
