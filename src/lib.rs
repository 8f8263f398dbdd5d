//! berth: an OCI runtime-spec (v1.3) container runtime for Linux.
//!
//! Pure core (no syscalls): `id`, `spec`, `state`. Effectful: `sys` (the only home of
//! `unsafe`), `store`, `cgroups`, `hooks`, `init`, `runtime` (one file per verb).

pub mod cgroups;
pub mod cli;
pub mod error;
pub mod hooks;
pub mod id;
pub mod init;
pub mod layers;
pub mod log;
pub mod network;
pub mod runtime;
pub mod seccomp;
pub mod spec;
pub mod state;
pub mod store;
pub mod sys;
