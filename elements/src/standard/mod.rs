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

// Paint, switches, samplers, packet editing, sources and pull schedulers.
pub mod address_info;
pub mod anno;
pub mod check_paint;
pub mod hash_switch;
pub mod idle;
pub mod pad;
pub mod paint;
pub mod paint_switch;
pub mod prio_sched;
pub mod random_sample;
pub mod round_robin_sched;
pub mod round_robin_switch;
pub mod script;
pub mod set_timestamp;
pub(crate) mod split;
pub mod store_data;
pub mod stride_switch;
pub mod switch;
pub mod timed_source;
pub mod truncate;
pub mod values;

// PaintTee, PullTee, TimedSink, RatedSplitter, DelayUnqueue.
pub mod delay_unqueue;
pub mod paint_tee;
pub mod pull_tee;
pub mod rated_splitter;
pub mod timed_sink;

// CheckLength, StripToNetworkHeader, and Click's configuration-only Align/AlignmentInfo/ScheduleInfo.
pub mod align;
pub mod alignment_info;
pub mod check_length;
pub mod schedule_info;
pub mod strip_to_network_header;

// Rate control, shaping, more queues and counters, Message/Error, PushNull/PullNull.
pub mod average_counter;
pub mod block;
pub mod front_drop_queue;
pub mod message;
pub mod meter;
pub mod push_pull_null;
pub(crate) mod rate_control;
pub mod rated_unqueue;
pub mod shaper;
pub mod suppressor;
pub mod timed_unqueue;

#[cfg(test)]
mod test_graph;

/// The classes of this group.
pub const CLASSES: &[ElementClass] = &[
    null::NULL,
    address_info::ADDRESS_INFO,
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
    paint::PAINT,
    check_paint::CHECK_PAINT,
    paint_switch::PAINT_SWITCH,
    switch::SWITCH,
    switch::STATIC_SWITCH,
    hash_switch::HASH_SWITCH,
    round_robin_switch::ROUND_ROBIN_SWITCH,
    stride_switch::STRIDE_SWITCH,
    random_sample::RANDOM_SAMPLE,
    truncate::TRUNCATE,
    pad::PAD,
    store_data::STORE_DATA,
    set_timestamp::SET_TIMESTAMP,
    idle::IDLE,
    timed_source::TIMED_SOURCE,
    round_robin_sched::ROUND_ROBIN_SCHED,
    prio_sched::PRIO_SCHED,
    paint_tee::PAINT_TEE,
    pull_tee::PULL_TEE,
    timed_sink::TIMED_SINK,
    rated_splitter::RATED_SPLITTER,
    delay_unqueue::DELAY_UNQUEUE,
    script::SCRIPT,
    script::DRIVER_MANAGER,
    check_length::CHECK_LENGTH,
    strip_to_network_header::STRIP_TO_NETWORK_HEADER,
    align::ALIGN,
    alignment_info::ALIGNMENT_INFO,
    schedule_info::SCHEDULE_INFO,
    meter::METER,
    meter::BANDWIDTH_METER,
    shaper::SHAPER,
    shaper::BANDWIDTH_SHAPER,
    rated_unqueue::RATED_UNQUEUE,
    rated_unqueue::BANDWIDTH_RATED_UNQUEUE,
    timed_unqueue::TIMED_UNQUEUE,
    timed_unqueue::BURSTER,
    front_drop_queue::FRONT_DROP_QUEUE,
    queue::THREAD_SAFE_QUEUE,
    average_counter::AVERAGE_COUNTER,
    suppressor::SUPPRESSOR,
    block::BLOCK,
    message::MESSAGE,
    message::ERROR,
    push_pull_null::PUSH_NULL,
    push_pull_null::PULL_NULL,
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
