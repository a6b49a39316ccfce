//! Unit tests of `src/page.rs`, kept out of the file a learner reads; it
//! includes this one as its `tests` module, so `super::*` is that module.

use super::*;

#[test]
fn an_element_is_shown_as_text_shortened_with_its_length() {
    assert_eq!(shown(1, b"7"), "7");
    assert_eq!(shown(6, b"caf\xe9 <"), "caf\u{fffd} &lt;");
    assert_eq!(shown(1000, b"xxxx"), "xxxx… (1000 bytes)");
}

#[test]
fn clicks_are_kept_newest_first_and_bounded() {
    let clicks = Clicks::default();
    assert_eq!(clicks.html(), "no clicks yet");
    for n in 0..12 {
        clicks.record(format!("pushed {n}"));
    }
    let html = clicks.html();
    assert!(html.starts_with("last clicks, newest first: pushed 11; pushed 10"));
    assert!(html.ends_with("pushed 2"), "{html}");
}
