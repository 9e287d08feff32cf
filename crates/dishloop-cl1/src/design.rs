//! Stimulation designs and the CL1 hardware envelope. One definition for the whole project:
//! the MEA layer owns them (DESIGN.md: the MEA holds "stimulation designs with the hardware
//! safety envelope"); the device API re-exports them so `cl`-shaped code reads naturally.

pub use dishloop_mea::design::*;
