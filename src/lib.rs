//! A message queue through Redis: the shared pieces of the three programs.
//!
//! The Python original is one Flask app (producer and publisher) and two scripts
//! (consumer and subscriber). This crate keeps that split: `bin/web.rs`,
//! `bin/consumer.rs` and `bin/subscriber.rs` read like the original, and the
//! modules here hold what they share.
//!
//! - [`names`]: the queue and channel names, as in the original.
//! - [`config`]: settings from the environment, with the original's defaults.
//! - [`logging`]: one logger set-up for all three programs.
//! - [`web`]: the three routes of the original page.
//! - [`print`]: the `Task get N` line both workers print.
//! - [`reliable`]: `consumer --reliable`, the at-least-once variant.
//! - [`redis_link`]: the defences (timeouts, reconnects, backoff) that the
//!   original did without, kept apart so the route and loop code stays line
//!   for line. The HTTP server's own defences live in the patched tiny_http
//!   under `vendor/tiny_http` (see its `PATCHES.md`).

pub mod config;
pub mod logging;
pub mod names;
pub mod print;
pub mod redis_link;
pub mod reliable;
pub mod web;
