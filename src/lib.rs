//! A message queue through Redis: the plumbing shared by the three programs.
//!
//! # Layout
//!
//! The lesson is in `bin/`, one file per program of the original, each
//! readable beside its Python file without opening anything here:
//!
//! - `bin/web.rs`: the Flask app (`/`, `/prodcons`, `/pubsub`).
//! - `bin/consumer.rs`: the consumer script (`BLPOP` loop).
//! - `bin/subscriber.rs`: the subscriber script (`pubsub.listen()` loop).
//!
//! This crate is the plumbing the original did without:
//!
//! - [`names`]: the queue and channel names, as in the original.
//! - [`config`]: settings from the environment and the command line, with
//!   the original's defaults.
//! - [`logging`]: one logger set-up for all three programs.
//! - [`exit`]: why a program stops, and the one place that turns that into
//!   an exit status (called from each `main`).
//! - [`redis_target`]: where Redis is, opening a connection within a time
//!   bound, and its failures in words.
//! - [`live_connection`]: the workers' connection, kept live through outages.
//! - [`web_link`]: a web worker's connection, and whether a failed command
//!   may have run.
//! - [`http`]: what a route answers and how it becomes HTTP; HEAD, the time
//!   bound, and the one place a Redis failure becomes a status.
//! - [`server`]: `app.run()`: the worker threads, and how they stop.
//! - [`page`]: what the page shows under the original's HTML: the last
//!   clicks, the queue, the subscribers.
//! - [`print`]: the `Task get N` line, onto a stdout that reports failure.
//! - [`signals`]: Ctrl-C, `kill` and their kin stop the workers between two
//!   elements, and the web server between two requests.
//! - `platform`: what differs between Linux, macOS, FreeBSD and Windows
//!   (stop requests, a closed stdout, the host's name); the only module
//!   with `cfg`.
//! - [`worker`]: what the consumer and subscriber do before their loops.
//! - `subscription`: one subscription, as an iterator over its messages.
//! - `sentinel`: everything Sentinel (finding the primary, failover
//!   answers, `WAIT` and `ROLE`), called by the modules above.
//! - `tls`: `rediss://`: the certificates, and a failed handshake in words.
//! - [`reliable`]: `consumer --reliable`, the at-least-once variant.
//!
//! The HTTP server's own defences (limits, deadlines, a thread pool that
//! never stalls) are in the patched tiny_http under `vendor/tiny_http`, and
//! six changes to the Redis client in the patched redis under
//! `vendor/redis`; see each one's `PATCHES.md`.

pub mod config;
pub mod exit;
pub mod http;
pub mod live_connection;
pub mod logging;
pub mod names;
pub mod page;
mod platform;
pub mod print;
pub mod redis_target;
pub mod reliable;
mod sentinel;
pub mod server;
pub mod signals;
mod subscription;
mod tls;
pub mod web_link;
pub mod worker;
