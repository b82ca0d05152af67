//! A double-entry points and membership ledger for gig-worker unions.
//!
//! Layers, from the inside out: `domain` (pure rules), `store` (the database), `http` (the API),
//! and `app` (wiring, background jobs, start and stop).

pub mod app;
pub mod auth;
pub mod bench;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod loopback;
pub mod store;
pub mod telemetry;
