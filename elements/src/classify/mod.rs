//! Classification elements: Classifier, IPClassifier, IPFilter.
use sluice::element::ElementClass;

/// The classes of this group.
pub const CLASSES: &[ElementClass] = &[];
