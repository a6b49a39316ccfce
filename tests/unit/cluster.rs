//! Unit tests of `src/cluster.rs`, kept out of the file a learner reads; it
//! includes this one as its `tests` module, so `super::*` is that module.

use super::*;
use redis::Value::{Array, BulkString, Int, Nil};

#[test]
fn a_range_that_is_not_slot_numbers_is_no_answer() {
    let node = node(BulkString(b"10.0.0.2".to_vec()));
    let range = |start| Array(vec![start, Int(16383), node.clone()]);
    let good = Array(vec![range(Int(0))]);
    let holder = Some(("10.0.0.2".into(), 7001));
    assert_eq!(read_slots(5, &good, "x").map(|s| s.0), Some(holder));
    assert_eq!(
        read_slots(5, &Array(vec![range(BulkString(b"x".to_vec()))]), "x"),
        None
    );
    assert_eq!(read_slots(5, &Array(vec![range(Int(-1))]), "x"), None);
    assert_eq!(read_slots(5, &Int(1), "x"), None);
}

fn node(host: redis::Value) -> redis::Value {
    Array(vec![host, Int(7001), BulkString(b"id".to_vec())])
}

#[test]
fn a_node_without_a_known_address_is_the_one_asked_or_none() {
    let named = node(BulkString(b"redis-1.example".to_vec()));
    assert_eq!(
        address(&named, "10.0.0.1"),
        Some(("redis-1.example".into(), 7001))
    );
    assert_eq!(
        address(&node(Nil), "10.0.0.1"),
        Some(("10.0.0.1".into(), 7001))
    );
    assert_eq!(
        address(&node(BulkString(vec![])), "10.0.0.1"),
        Some(("10.0.0.1".into(), 7001))
    );
    assert_eq!(address(&node(BulkString(b"?".to_vec())), "10.0.0.1"), None);
}
