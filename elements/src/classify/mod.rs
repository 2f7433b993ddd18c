//! Classification elements: Classifier, IPClassifier, IPFilter.
//!
//! Patterns are parsed into boolean expressions over word tests (`program`): Classifier's
//! `offset/value%mask` clauses by `classifier`, the tcpdump-like language of IPClassifier
//! and IPFilter by `ip_pattern`, both with Click's semantics. The expressions are compiled
//! into a decision tree over packet fields whose leaves hold the few rules that can still
//! match (`tree`); `element` is the element body the three classes share. `classbench`
//! reads ClassBench rule sets and traces for tests and the `classifier` benchmark.
use sluice::element::ElementClass;

pub mod classbench;
pub mod classifier;
pub mod element;
pub mod ip_classifier;
pub mod ip_filter;
pub mod ip_pattern;
pub mod program;
#[cfg(test)]
mod testdata;
pub mod tree;

/// The classes of this group.
pub const CLASSES: &[ElementClass] = &[classifier::CLASSIFIER, ip_classifier::IP_CLASSIFIER, ip_filter::IP_FILTER];
