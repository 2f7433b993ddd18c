//! `Switch` and `StaticSwitch`: send every packet to one chosen output.

use sluice::args::{Args, FromArg};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec};

sluice::element_class! {
    /// Switch([OUTPUT])
    ///
    /// Sends packet stream to settable output.
    ///
    /// Switch sends every incoming packet to one of its output ports -- specifically,
    /// output number OUTPUT. The default OUTPUT is zero; negative OUTPUT means to destroy
    /// input packets instead of forwarding them. You can change OUTPUT with the `switch`
    /// write handler. Switch has an unlimited number of outputs.
    ///
    /// As in Click, an OUTPUT at or past the number of outputs is a configuration error,
    /// while writing such a value to `switch` sets it to -1 (packets are dropped).
    ///
    /// Ports: 1 input, any number of outputs, push.
    ///
    /// # Keywords
    /// - `OUTPUT` — integer, positional. The active output; negative drops. Default 0.
    ///
    /// # Handlers
    /// - `switch` (read/write) — the active output (-1: drop everything).
    /// - `drops` (read) — packets destroyed because the switch was off.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// s :: Switch(0);
    /// src -> s;
    /// s[0] -> Queue -> ToDevice(eth0);
    /// s[1] -> Queue -> ToDevice(eth1);
    /// // later: write s.switch 1
    /// ```
    pub const SWITCH = "Switch" { ports: "1/-", processing: "h/h", handlers: SWITCH_HANDLERS, build: build_switch }
}

sluice::element_class! {
    /// StaticSwitch(OUTPUT)
    ///
    /// Sends packet stream to fixed output.
    ///
    /// StaticSwitch sends every incoming packet to one of its output ports --
    /// specifically, OUTPUT. Negative OUTPUT means to destroy input packets instead of
    /// forwarding them; so does an OUTPUT at or past the number of outputs, as in Click.
    /// StaticSwitch has an unlimited number of outputs. It differs from Switch in that it
    /// has no `switch` write handler, and thus does not allow OUTPUT to be changed at run
    /// time.
    ///
    /// Ports: 1 input, any number of outputs, push.
    ///
    /// # Keywords
    /// - `OUTPUT` — integer, mandatory, positional. The output; negative drops.
    ///
    /// # Handlers
    /// - `drops` (read) — packets destroyed.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// src -> StaticSwitch(1) => (Discard; ToDump(out.pcap));
    /// ```
    pub const STATIC_SWITCH = "StaticSwitch" { ports: "1/-", processing: "h/h", handlers: STATIC_HANDLERS, build: build_static }
}

const SWITCH_HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("switch", Combine::First, "the active output (-1: drop)"),
    HandlerSpec::read("drops", Combine::Sum, "packets destroyed because the switch was off"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
];

const STATIC_HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets destroyed"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
];

const REASONS: &[&str] = &["switched off (negative OUTPUT)"];

fn build_switch(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let output = args.read_p::<i32>("OUTPUT")?.unwrap_or(0);
    args.finish()?;
    if output >= 0 && output as usize >= ctx.noutputs {
        return Err(ConfigError(format!("output must be < {}", ctx.noutputs)));
    }
    Ok(Box::new(Switch { output, noutputs: ctx.noutputs, settable: true, drops: DropCounts::new(REASONS) }))
}

fn build_static(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let mut output = args.read_mp::<i32>("OUTPUT")?;
    args.finish()?;
    if output >= 0 && output as usize >= ctx.noutputs {
        output = -1;
    }
    Ok(Box::new(Switch { output, noutputs: ctx.noutputs, settable: false, drops: DropCounts::new(REASONS) }))
}

/// The element (both classes): the active output, -1 when off.
pub struct Switch {
    output: i32,
    noutputs: usize,
    /// Switch (true) or StaticSwitch (false, no `switch` handler).
    settable: bool,
    drops: DropCounts,
}

impl Element for Switch {
    #[inline]
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        if self.output >= 0 {
            ctx.push(self.output as usize, batch);
        } else {
            self.drops.count(0, batch.len() as u64);
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "switch" if self.settable => Some(self.output.to_string()),
            _ => self.drops.read_handler(name),
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "switch" if self.settable => {
                let v = i32::from_arg(value.trim()).map_err(|_| "Switch output must be integer".to_string())?;
                self.output = if v >= 0 && v as usize >= self.noutputs { -1 } else { v };
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, run_element};
    use sluice::Packet;

    fn packets(n: u8) -> Vec<Packet> {
        (0..n).map(|i| Packet::from_slice(&[i])).collect()
    }

    #[test]
    fn sends_everything_to_the_chosen_output() {
        let (out, router) = run_element(&SWITCH, "1", 3, packets(10)).unwrap();
        assert_eq!((out[0].len(), out[1].len(), out[2].len()), (0, 10, 0));
        assert_eq!(router.read_handler("e", "switch").unwrap(), "1");
        let (out, _) = run_element(&SWITCH, "", 2, packets(3)).unwrap();
        assert_eq!(out[0].len(), 3);
        let (out, router) = run_element(&SWITCH, "OUTPUT -1", 2, packets(4)).unwrap();
        assert!(out.iter().all(Vec::is_empty));
        assert_eq!(router.read_handler("e", "drops").unwrap(), "4");
    }

    #[test]
    fn switch_handler() {
        let mut s = build_elem(&SWITCH, "0", 1, 3).unwrap();
        s.write_handler("switch", "2").unwrap();
        assert_eq!(s.read_handler("switch").unwrap(), "2");
        s.write_handler("switch", "3").unwrap();
        assert_eq!(s.read_handler("switch").unwrap(), "-1");
        s.write_handler("switch", "-5").unwrap();
        assert_eq!(s.read_handler("switch").unwrap(), "-5");
        assert_eq!(s.write_handler("switch", "two").unwrap_err(), "Switch output must be integer");
        assert_eq!(build_elem(&SWITCH, "3", 1, 3).err().unwrap().0, "output must be < 3");
    }

    #[test]
    fn static_switch() {
        let (out, _) = run_element(&STATIC_SWITCH, "1", 2, packets(5)).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (0, 5));
        let (out, router) = run_element(&STATIC_SWITCH, "2", 2, packets(5)).unwrap();
        assert!(out.iter().all(Vec::is_empty));
        assert_eq!(router.read_handler("e", "drops").unwrap(), "5");
        assert!(build_elem(&STATIC_SWITCH, "", 1, 2).is_err());
        let mut s = build_elem(&STATIC_SWITCH, "0", 1, 2).unwrap();
        assert!(s.write_handler("switch", "1").is_err());
    }
}
