//! A message queue through Redis: the plumbing shared by its programs.
//!
//! # Layout
//!
//! The lesson is in `bin/`, one file per program, each read beside its
//! Python file; a line there that calls into this crate says in its
//! comment what the call does that the Python did not:
//!
//! - `bin/web.rs`: the Flask app (`/`, `/prodcons`, `/pubsub`; `/stream`).
//! - `bin/consumer.rs`: the consumer script (`BLPOP` loop).
//! - `bin/subscriber.rs`: the subscriber script (`pubsub.listen()` loop).
//! - `bin/stream_consumer.rs`: the third pattern, not in the original,
//!   read beside `python/stream_consumer.py` (`XREADGROUP` loop).
//!
//! This crate is the plumbing the original did without, built around the
//! one thing all the programs share: a [`connection`] to the Redis node
//! that holds our keys. Each module imports only from the layers below it
//! (`scripts/layers` checks it, in CI):
//!
//! 1. [`names`] (the queue and channel, as the original spells them),
//!    [`exit`] (why a program stops, and its exit status), [`failure`]
//!    (every failure of a talk with Redis, put in words, and
//!    [`failure::printable`], which every text from outside goes through),
//!    [`logging`], `tls` (the certificate files, checked at start),
//!    `platform` (what differs between systems; the only module with `cfg`).
//! 2. [`signals`] (Ctrl-C and `kill` set a flag the loops read), [`target`]
//!    (where Redis is: the URL or the sentinels, and what was learnt of a
//!    cluster), `connect` (one connect to one node, by one deadline, and
//!    the bound on a reply), [`print`](mod@print) (the `Task get` line),
//!    [`http`] (a route's [`http::Reply`] as HTTP).
//! 3. [`config`] (settings from the environment), `sentinel` (the primary,
//!    as the sentinels name it), `cluster` (the node that holds the queue's
//!    slot of a Redis Cluster).
//! 4. [`connection`]: finds the node (the URL, the sentinels, or the
//!    cluster), connects, runs each command on it (following a cluster's
//!    `MOVED` and `ASK`); the web's policy answers by the click's deadline,
//!    the workers' waits until Redis is back, with one capped backoff.
//! 5. The lessons' own modules, what each adds to a connection: [`click`]
//!    (the web's: a push confirmed on a replica with `WAIT`, a publish's
//!    count), [`subscription`] (the subscriber's `for i in ps.listen()`),
//!    [`reliable`] (`consumer --reliable`, at least once) and [`stream`]
//!    (the third pattern, a stream read by a consumer group); and beside
//!    them [`worker`] (what the workers do before their loops) and
//!    [`server`] (`app.run()`: each request on its connection's thread, at
//!    most `WORKERS` using Redis at once, and the stop).
//! 6. [`page`]: what the page shows under the original's HTML.
//!
//! The HTTP server's own defences (limits, deadlines, a thread pool that
//! never stalls) are in the patched tiny_http under `vendor/tiny_http`, and
//! seven changes to the Redis client in the patched redis under
//! `vendor/redis`; see each one's `PATCHES.md`.

pub mod click;
mod cluster;
pub mod config;
mod connect;
pub mod connection;
pub mod exit;
pub mod failure;
pub mod http;
pub mod logging;
pub mod names;
pub mod page;
mod platform;
pub mod print;
pub mod reliable;
mod sentinel;
pub mod server;
pub mod signals;
pub mod stream;
pub mod subscription;
pub mod target;
mod tls;
pub mod worker;
