//! `docs/elements.md` is generated from the element sources; this test fails when it is
//! stale. Regenerate with `UPDATE_DOCS=1 cargo test -p sluice-elements --test reference`.

#[test]
fn reference_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/elements.md");
    let fresh = sluice::reference::render("Sluice element reference", &sluice_elements::classes());
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(path, &fresh).unwrap();
        return;
    }
    let current = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        current == fresh,
        "docs/elements.md is stale: run `UPDATE_DOCS=1 cargo test -p sluice-elements --test reference`"
    );
}

#[test]
fn every_class_documents_itself() {
    for c in sluice_elements::classes() {
        assert!(c.synopsis().starts_with(c.name), "{}: doc must start with the synopsis", c.name);
        assert!(!c.summary().is_empty(), "{}: doc needs a one-line summary", c.name);
        for h in c.handlers {
            assert!(!h.doc.is_empty(), "{}.{}: handler needs a doc line", c.name, h.name);
        }
    }
}
