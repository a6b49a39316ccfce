//! Unit tests of `src/failure.rs`, kept out of the file a learner reads; it
//! includes this one as its `tests` module, so `super::*` is that module.

use super::*;

fn failure(what: What, sent: bool) -> Failure {
    Failure {
        what,
        at: "localhost:6379 (db 1)".to_owned(),
        sent,
    }
}

#[test]
fn a_click_status_says_whether_it_may_have_run() {
    let lost = || What::Unreachable("broken pipe".into());
    assert_eq!(failure(lost(), false).status(), 503);
    assert_eq!(failure(lost(), true).status(), 504);
    assert_eq!(failure(What::NoAnswer, true).status(), 504);
    assert_eq!(failure(What::Tls("x".into()), false).status(), 503);
    let down = failure(
        What::TryAgain("CLUSTERDOWN The cluster is down".into()),
        true,
    );
    assert_eq!(down.status(), 503);
    assert!(down.for_a_click().0.ends_with("is down: nothing was pushed or published."));
    assert_eq!(
        failure(What::Refused("WRONGTYPE x".into()), true).status(),
        500
    );
    let (said, _) = failure(What::NoAnswer, true).for_a_click();
    assert!(said.contains("may or may not"), "{said}");
    let (said, advice) = failure(What::Refused("WRONGTYPE x".into()), false).for_a_click();
    assert!(
        said.ends_with("answered with an error: WRONGTYPE x. Nothing was pushed or published.")
    );
    assert!(advice.contains("fix that in Redis"));
}

#[test]
fn words_never_break_a_line() {
    assert_eq!(
        printable("Parse error at 1\nUnexpected\r\n x"),
        "Parse error at 1 Unexpected x"
    );
    let said = failure(What::Unusable(printable("a\nb")), false).to_string();
    assert!(!said.contains('\n'), "{said}");
}

#[test]
fn control_characters_are_shown_as_escapes() {
    assert_eq!(
        printable("a\x1b[31mb\x07\0\x7f\u{9b}"),
        "a\\u{1b}[31mb\\u{7}\\u{0}\\u{7f}\\u{9b}"
    );
    let said = failure(What::Unreachable("x\x1by".into()), false).to_string();
    assert!(said.ends_with("x\\u{1b}y"), "{said}");
}

#[test]
fn a_worker_says_it_lost_the_connection_only_after_sending() {
    let lost = What::Unreachable("broken pipe".into());
    assert!(
        failure(lost, true)
            .for_a_worker()
            .starts_with("lost the connection to Redis at")
    );
    let refused = failure(What::Unreachable("refused".into()), false).for_a_worker();
    assert!(refused.starts_with("cannot reach Redis at"), "{refused}");
}
