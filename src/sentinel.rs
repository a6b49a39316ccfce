//! Finding the primary through the sentinels, as the Sentinel client spec
//! asks: each sentinel in turn, within its share of the time, answers
//! `SENTINEL get-master-addr-by-name`; the one that answered is asked first
//! next time (unless the node it named could not be used: it may lag
//! behind the others); and the sentinels' `+switch-master` event is
//! followed, so a switch of primary reaches every program at once, not
//! only when the old primary is demoted. (The connection then checks
//! `ROLE` on the node.) Why not the redis crate's Sentinel client:
//! `docs/sentinel.md`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Once, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, info};

use crate::connect;
use crate::failure::{Failure, What, printable};
use crate::target::{Sentinels, Target, show_addr};

/// The primary's `host:port`, from the first sentinel (the last one that
/// answered first) that names one by `deadline`.
pub(crate) fn find_primary(
    target: &Target,
    sentinels: &Sentinels,
    deadline: Instant,
) -> Result<(String, u16), Failure> {
    let count = sentinels.addrs.len();
    let first = sentinels.first.load(Ordering::Relaxed) % count;
    connect::first_answer(count, deadline, |tried, ask_by| {
        let at = (first + tried) % count;
        let primary = ask(target, sentinels, at, ask_by)?;
        sentinels.first.store(at, Ordering::Relaxed);
        Ok(primary)
    })
}

/// The primary the sentinels named could not be used (gone, or not a
/// primary): the sentinel that named it may lag behind the others, so the
/// next search starts with another one.
pub(crate) fn ask_another_first(sentinels: &Sentinels) {
    sentinels.first.fetch_add(1, Ordering::Relaxed);
}

/// `SENTINEL get-master-addr-by-name MASTER` to sentinel number `at`.
fn ask(
    target: &Target,
    sentinels: &Sentinels,
    at: usize,
    ask_by: Instant,
) -> Result<(String, u16), Failure> {
    let shown = target.to_string();
    let (host, port) = &sentinels.addrs[at];
    let info = target.sentinel_info(sentinels, host, *port)?;
    let mut rcon = connect::open(info, &shown, ask_by)?;
    let named: Option<(String, u16)> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(&sentinels.master)
        .query(&mut rcon)
        .map_err(|e| Failure::from_redis(&e, &shown, false, true))?;
    named.ok_or_else(|| Failure::new(What::NoPrimaryYet, &shown))
}

/// How many times the sentinels have announced a new primary of ours
/// since this program started; a connection made before the last one
/// looks for the node again before its next command.
pub(crate) fn switches() -> u64 {
    SWITCHES.load(Ordering::SeqCst)
}

static SWITCHES: AtomicU64 = AtomicU64::new(0);

/// Starts, once per program, a thread that listens to the sentinels'
/// `+switch-master` for our primary and counts each one. It goes from
/// sentinel to sentinel while they fail; a program that cannot subscribe
/// (an ACL user without `+subscribe`) still finds the new primary when the
/// old one answers `READONLY` or stops answering.
pub(crate) fn follow_switches(target: &Target, sentinels: &Sentinels) {
    static STARTED: Once = Once::new();
    static TARGET: OnceLock<(Target, Sentinels)> = OnceLock::new();
    let _ = TARGET.set((target.clone(), sentinels.clone()));
    STARTED.call_once(|| {
        let spawned = thread::Builder::new().name("+switch-master".into()).spawn(|| {
            if let Some((target, sentinels)) = TARGET.get() {
                listen(target, sentinels);
            }
        });
        if let Err(e) = spawned {
            debug!("cannot follow +switch-master: {e}");
        }
    });
}

/// Subscribes to `+switch-master` on one sentinel after another, for ever.
fn listen(target: &Target, sentinels: &Sentinels) {
    let shown = target.to_string();
    let prefix = format!("{} ", sentinels.master);
    for at in (0..sentinels.addrs.len()).cycle() {
        let (host, port) = &sentinels.addrs[at];
        let deadline = Instant::now() + connect::CONNECT_TIMEOUT;
        let opened = target
            .sentinel_info(sentinels, host, *port)
            .and_then(|info| connect::open(info, &shown, deadline));
        let mut rcon = match opened {
            Ok(rcon) => rcon,
            Err(failure) => {
                debug!("+switch-master: {failure}");
                thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        let mut ps = rcon.as_pubsub();
        if let Err(e) = ps.subscribe("+switch-master") {
            let at = show_addr(host, *port);
            debug!(
                "cannot subscribe to +switch-master: {}",
                Failure::from_redis(&e, &at, false, true)
            );
            drop(ps);
            thread::sleep(Duration::from_secs(5));
            continue;
        }
        let _ = ps.set_read_timeout(Some(Duration::from_secs(5)));
        loop {
            match ps.get_message() {
                Ok(msg) => {
                    let said: String = msg.get_payload().unwrap_or_default();
                    if said.starts_with(&prefix) {
                        info!("the sentinels switched the primary: {}", printable(&said));
                        sentinels.first.store(at, Ordering::Relaxed);
                        SWITCHES.fetch_add(1, Ordering::SeqCst);
                    }
                }
                // Quiet: ask whether the sentinel is still there.
                Err(e) if e.is_timeout() => {
                    if ps.ping::<redis::Value>().is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    }
}
