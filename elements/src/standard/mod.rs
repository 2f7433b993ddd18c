//! Basic elements: sources, sinks, counters, queues, header stripping, printing.
use sluice::element::ElementClass;

pub mod counter;
pub mod discard;
pub mod infinite_source;
pub mod null;
pub mod print;
pub mod queue;
pub mod rated_source;
pub mod strip;
pub mod tee;
pub mod unqueue;
pub mod unstrip;

#[cfg(test)]
mod test_graph;

/// The classes of this group.
pub const CLASSES: &[ElementClass] = &[
    null::NULL,
    counter::COUNTER,
    discard::DISCARD,
    tee::TEE,
    strip::STRIP,
    unstrip::UNSTRIP,
    queue::QUEUE,
    queue::SIMPLE_QUEUE,
    unqueue::UNQUEUE,
    infinite_source::INFINITE_SOURCE,
    rated_source::RATED_SOURCE,
    print::PRINT,
];

#[cfg(test)]
mod tests {
    use super::CLASSES;

    #[test]
    fn classes_are_well_formed_and_documented() {
        let mut names: Vec<&str> = CLASSES.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CLASSES.len(), "duplicate class names");
        for c in CLASSES {
            let _ = c.port_count();
            let _ = c.processing_spec();
            assert!(c.synopsis().starts_with(c.name), "{}: synopsis '{}'", c.name, c.synopsis());
            assert!(!c.summary().is_empty(), "{}: no summary", c.name);
            assert!(c.doc.contains("# Example"), "{}: no example", c.name);
            if c.name != "Null" {
                assert!(c.doc.contains("# Keywords") && c.doc.contains("# Handlers"), "{}: doc sections", c.name);
            }
            let mut hs: Vec<&str> = c.handlers.iter().map(|h| h.name).collect();
            hs.sort_unstable();
            hs.dedup();
            assert_eq!(hs.len(), c.handlers.len(), "{}: duplicate handlers", c.name);
        }
    }
}
