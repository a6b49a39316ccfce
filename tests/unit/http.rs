//! Unit tests of `src/http.rs`, kept out of the file a learner reads; it
//! includes this one as its `tests` module, so `super::*` is that module.

use super::*;

#[test]
fn escapes_markup_and_leaves_plain_text_alone() {
    assert_eq!(escape_html("pushed 7"), "pushed 7");
    assert_eq!(
        escape_html("<b>\"a\" & b</b>"),
        "&lt;b&gt;&quot;a&quot; &amp; b&lt;/b&gt;"
    );
}
