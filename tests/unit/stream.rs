//! Unit tests of `src/stream.rs`, kept out of the file a learner reads; it
//! includes this one as its `tests` module, so `super::*` is that module.

use super::*;
use redis::Value::{Array, BulkString, Nil};

fn read_reply(entry: redis::Value) -> Vec<Entry> {
    let key = BulkString(STREAM.as_bytes().to_vec());
    let reply = Array(vec![Array(vec![key, Array(vec![entry])])]);
    let reply: StreamReadReply = redis::from_redis_value(reply).expect("a read reply");
    reply.keys.into_iter().flat_map(|k| k.ids).map(Entry::from).collect()
}

#[test]
fn an_entry_is_read_with_its_elem_or_as_trimmed() {
    let id = || BulkString(b"1-0".to_vec());
    let fields = |name: &[u8]| Array(vec![BulkString(name.to_vec()), BulkString(b"7".to_vec())]);
    let [entry] = &read_reply(Array(vec![id(), fields(b"elem")]))[..] else {
        panic!("one entry");
    };
    assert_eq!(
        (entry.id.as_str(), entry.elem.as_deref(), entry.trimmed),
        ("1-0", Some(&b"7"[..]), false)
    );
    let [entry] = &read_reply(Array(vec![id(), fields(b"junk")]))[..] else {
        panic!("one entry");
    };
    assert_eq!((entry.elem.as_deref(), entry.trimmed), (None, false));
    let [entry] = &read_reply(Array(vec![id(), Nil]))[..] else {
        panic!("one entry");
    };
    assert!(entry.trimmed);
}
