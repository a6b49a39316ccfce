//! Unit tests of `src/target.rs`, kept out of the file a learner reads; it
//! includes this one as its `tests` module, so `super::*` is that module.

use super::*;

fn none() -> TlsCertificates {
    TlsCertificates {
        client_tls: None,
        root_cert: None,
    }
}

#[test]
fn shows_the_address_and_db_never_the_password() {
    let target = Target::parse("redis://:hunter2@example.org:6380/3", none()).expect("parse");
    assert_eq!(target.to_string(), "example.org:6380 (db 3)");
    let tls = Target::parse("rediss://:hunter2@example.org/1", none()).expect("parse");
    assert_eq!(tls.to_string(), "example.org:6379 (db 1)");
    let v6 = Target::parse("redis://[::1]:6379/1", none()).expect("parse");
    assert_eq!(v6.to_string(), "[::1]:6379 (db 1)");
}

#[test]
fn names_what_is_unsupported() {
    assert_eq!(unsupported("redis://localhost/1"), None);
    assert_eq!(unsupported("rediss://h/1"), None);
    assert!(unsupported("unix:///run/redis.sock").is_some_and(|w| w.contains("Unix")));
    assert!(unsupported("redis+unix:///x").is_some_and(|w| w.contains("Unix")));
    assert!(unsupported("http://h/").is_some_and(|w| w.contains("only redis://")));
    assert!(unsupported("localhost:6379").is_some_and(|w| w.contains("no scheme")));
}
