//! One function per verb: orchestration only. Each reads like the lifecycle step it is.

mod container;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod tty;
pub mod update;

pub use container::Container;
