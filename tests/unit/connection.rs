//! Unit tests of `src/connection.rs`, kept out of the file a learner reads; it
//! includes this one as its `tests` module, so `super::*` is that module.

use super::*;

#[test]
fn the_waits_double_from_100_ms_to_5_s() {
    let delays: Vec<u128> = (1..10).map(|n| Retries::delay(n).as_millis()).collect();
    assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    assert_eq!(Retries::delay(u32::MAX), Duration::from_secs(5));
}
