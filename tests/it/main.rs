//! Every test, in one test binary: a module per topic, against real
//! `redis-server` processes and the real binaries; a small fake server
//! only where Redis must misbehave as a real one cannot (each says so).
//!
//! - `web`: the page and its routes, bad requests, a Redis outage.
//! - `web_stop`: the web server stopped under load.
//! - `windows`: the Windows programs under Wine.
//! - `workers`: the consumer and subscriber fed by another client.
//! - `faults`: Redis crashes, load, idle and malformed connections, passwords.
//! - `http_server`: the patched tiny_http against bursts, tricklers and
//!   hostile requests.
//! - `lying_node`: a cluster node that answers as a broken one would.
//! - `hard_conditions`: workers paused, daemonized, with a broken stderr or
//!   an ACL; a slow or busy reliable consumer; a frozen Redis; odd elements.
//! - `delivery`: one click is one push, honest answers, stopping loses nothing.
//! - `reliable`: `consumer --reliable` and competing consumers.
//! - `tls`: `rediss://` with certificates made at test time, and its mistakes.
//! - `stream`: the third lesson, a Redis Stream read by a consumer group,
//!   and its Python reader beside the Rust one.
//! - `sentinel`: a primary, two replicas and three sentinels; the programs
//!   follow failovers.
//! - `network`: several hosts in network namespaces, three network faults
//!   (root only).
//! - `minimal_host`: the static binaries in an empty root (root only).
//! - `demo`: `scripts/demo` as a new user runs it.
//! - `browser`: a person clicking in headless Chromium.
//!
//! `support` starts the servers and programs and reads what they print.

mod browser;
mod cluster;
mod delivery;
mod demo;
mod faults;
mod hard_conditions;
mod http_server;
mod lying_node;
mod minimal_host;
mod network;
mod reliable;
mod sentinel;
mod stream;
mod support;
mod tls;
mod tls_hostile;
mod web;
mod web_stop;
mod windows;
mod workers;
