//! Trace analysis: Click's IP summary dumps (`ToIPSummaryDump`, `FromIPSummaryDump`), text
//! files with one line of chosen fields per packet.
use sluice::args::FromArg;
use sluice::element::ElementClass;

pub mod fields;
pub mod from_ip_summary_dump;
pub mod to_ip_summary_dump;

/// The classes of this group.
pub const CLASSES: &[ElementClass] =
    &[to_ip_summary_dump::TO_IP_SUMMARY_DUMP, from_ip_summary_dump::FROM_IP_SUMMARY_DUMP];

/// An argument taken as written, quotes kept (Click's `AnyArg`), for field lists.
pub(crate) struct RawArg(pub String);

impl FromArg for RawArg {
    const DESCRIPTION: &'static str = "string";
    fn from_arg(s: &str) -> Result<Self, String> {
        Ok(RawArg(s.to_string()))
    }
}

/// The fields a CONTENTS list names, or the first unknown name.
pub(crate) fn parse_contents(list: &str) -> Result<Vec<&'static fields::Field>, String> {
    fields::space_words(list)
        .iter()
        .map(|w| {
            let word = sluice::args::unquote(w).unwrap_or_else(|_| w.clone());
            fields::find(&word).ok_or_else(|| format!("unknown content type '{word}'"))
        })
        .collect()
}
