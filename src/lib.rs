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
//! - [`config`]: settings from the environment, with the original's defaults.
//! - [`logging`]: one logger set-up for all three programs.
//! - [`redis_link`]: where Redis is, timeouts, reconnects, backoff, and
//!   whether a failed command may have run.
//! - [`http`]: what a route answers and how it becomes HTTP; HEAD, the time
//!   bound, and the one place a Redis failure becomes a status.
//! - [`page`]: what the page shows under the original's HTML: the last
//!   clicks, the queue, the subscribers.
//! - [`print`]: the `Task get N` line, onto a stdout that reports failure.
//! - [`stop`]: Ctrl-C and `kill` stop the workers between two elements.
//! - [`worker`]: what the consumer and subscriber share around their loops:
//!   the start, the exit status, a watch over a quiet subscription.
//! - [`reliable`]: `consumer --reliable`, the at-least-once variant.
//!
//! The HTTP server's own defences (limits, deadlines, a thread pool that
//! never stalls) are in the patched tiny_http under `vendor/tiny_http`; see
//! its `PATCHES.md`.

pub mod config;
pub mod http;
pub mod logging;
pub mod names;
pub mod page;
pub mod print;
pub mod redis_link;
pub mod reliable;
pub mod stop;
pub mod worker;
