//! `CheckIPHeader2`: `CheckIPHeader` without the checksum test.

use super::check_ip_header::{CheckIPHeader, HANDLERS};
use sluice::{BuildCtx, ConfigError, Element};

sluice::element_class! {
    /// CheckIPHeader2([OFFSET, KEYWORDS])
    ///
    /// Checks IP header, no checksum.
    ///
    /// This element behaves exactly like CheckIPHeader, except that it does not check
    /// packets' checksums by default (CHECKSUM defaults to false; `CHECKSUM true` turns the
    /// test back on, as in Click where CheckIPHeader2 is CheckIPHeader with another
    /// default). Useful after elements that change the header without fixing the checksum.
    ///
    /// Ports: 1 input; 1 or 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// The same as CheckIPHeader: `OFFSET` (positional), `CHECKSUM` (default false),
    /// `BADSRC`, `GOODDST`, `INTERFACES`, `VERBOSE`, `DETAILS`.
    ///
    /// # Handlers
    /// - `drops` (read) — packets that failed a check.
    /// - `drop_details` (read) — failed packets by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> SetIPAddress(10.0.0.1) -> CheckIPHeader2 -> ...
    /// ```
    pub const CHECK_IP_HEADER2 = "CheckIPHeader2" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Ok(Box::new(CheckIPHeader::configure(config, false)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{frames, num, run_capture};
    use sluice::testing::run_element;

    #[test]
    fn bad_checksums_pass_other_checks_remain() {
        let mut input = frames("snabb__v4.pcap");
        for p in input.iter_mut() {
            p.data_mut()[24] ^= 0x5a; // corrupt every header checksum
        }
        let mut tiny = input[0].clone_packet();
        tiny.take(tiny.len() - 30);
        input.push(tiny);
        let (out, r) = run_element(&CHECK_IP_HEADER2, "14", 2, input).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (43, 1));
        assert!(r.read_handler("e", "drop_details").unwrap().contains("1 tiny packet"));
        let mut bad = frames("snabb__v4.pcap").swap_remove(0);
        bad.data_mut()[24] ^= 1;
        let (out, _) = run_element(&CHECK_IP_HEADER2, "14, CHECKSUM true", 1, vec![bad]).unwrap();
        assert!(out[0].is_empty());
    }

    #[test]
    fn capture_counts() {
        // tcpdump__afs.pcap: 601 Ethernet frames, all IPv4 with good headers.
        let (out, r) = run_capture("tcpdump__afs.pcap", "ck :: CheckIPHeader2(14)");
        assert_eq!(out.len(), 601);
        assert_eq!(num(&r, "ck", "drops"), 0);
        assert!(out.iter().all(|p| p.network_header_offset() == Some(14)));
    }
}
