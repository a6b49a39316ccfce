//! Unit tests of `src/config.rs`, kept out of the file a learner reads; it
//! includes this one as its `tests` module, so `super::*` is that module.

use super::*;

fn no_files() -> TlsCertificates {
    TlsCertificates {
        client_tls: None,
        root_cert: None,
    }
}

#[test]
fn a_bad_pem_file_is_one_line() {
    let pem = TlsCertificates {
        client_tls: None,
        root_cert: Some(b"-----BEGIN CERTIFICATE-----\nnot base64\n".to_vec()),
    };
    let bad = redis_url("rediss://h/1", pem).expect_err("PEM").to_string();
    assert!(bad.starts_with("the TLS files"), "{bad}");
}

#[test]
fn redis_url_takes_redis_and_names_what_it_does_not() {
    let target = redis_url(DEFAULT_REDIS_URL, no_files()).expect("the default");
    assert_eq!(target.to_string(), "localhost:6379 (db 1)");
    let tls = redis_url("rediss://:secret@h/1", no_files()).expect("TLS");
    assert!(!tls.skips_the_certificate_check());
    let insecure = redis_url("rediss://:secret@h/1#insecure", no_files()).expect("TLS");
    assert!(insecure.skips_the_certificate_check());
    let bad = redis_url("redis://:secret@h:notaport/1", no_files())
        .expect_err("port")
        .to_string();
    assert!(
        bad.starts_with("REDIS_URL") && !bad.contains("secret"),
        "{bad}"
    );
}

#[test]
fn sentinels_and_their_master() {
    let listed = sentinels("127.0.0.1:26379, [::1]:26380").expect("two");
    assert_eq!(
        listed,
        [("127.0.0.1".to_owned(), 26379), ("::1".to_owned(), 26380)]
    );
    for bad in ["", "h", "h:0", ":26379", "h:port", "h:1,"] {
        assert!(sentinels(bad).is_err(), "{bad:?}");
    }
    let target = redis_url("redis://:pw@ignored:1/1", no_files())
        .expect("url")
        .through_sentinels(Sentinels {
            addrs: listed,
            master: "mq".into(),
            username: None,
            password: None,
            first: Arc::default(),
        });
    assert_eq!(
        target.to_string(),
        "the primary of \"mq\" per the sentinels 127.0.0.1:26379,[::1]:26380 (db 1)"
    );
    assert!(printable("REDIS_MASTER", "two words".into()).is_err());
}

#[test]
fn bind_workers_and_log_level() {
    assert_eq!(bind(DEFAULT_BIND).expect("default").port(), 5000);
    assert!(bind("nowhere").is_err());
    assert!(bind("example.org:80").is_err(), "no lookup");
    assert_eq!(bind("localhost:8080").expect("localhost").port(), 8080);
    assert_eq!(workers(" 8 ").expect("8"), 8);
    for bad in ["0", "1025", "-1", "two"] {
        assert!(workers(bad).is_err(), "{bad}");
    }
    assert_eq!(log_level("debug").expect("debug"), LevelFilter::Debug);
    assert!(log_level("loud").is_err());
}

#[test]
fn consumer_arguments_and_name() {
    assert!(!reliable_flag(&[]).expect("none"));
    assert!(reliable_flag(&["--reliable".into()]).expect("--reliable"));
    assert!(reliable_flag(&["--fast".into()]).is_err());
    assert_eq!(printable("CONSUMER_NAME", "me".into()).expect("me"), "me");
    assert!(printable("CONSUMER_NAME", "two words".into()).is_err());
}
