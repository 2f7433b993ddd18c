//! `StrideSwitch`: sends packets to outputs by stride scheduling.

use super::split::Outputs;
use sluice::args::{Args, FromArg};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec};

sluice::element_class! {
    /// StrideSwitch(TICKETS0, ..., TICKETSN-1)
    ///
    /// Sends packets to stride-scheduled outputs.
    ///
    /// Has one input and N outputs. Performs simple packet-based stride switching,
    /// assigning TICKETSi to output i. Each time a packet arrives on the input,
    /// StrideSwitch sends the packet to the next scheduled output according to the stride
    /// scheduling algorithm: every output with tickets has a stride of 65536 / TICKETS and
    /// a pass; the output with the smallest pass gets the packet and advances its pass by
    /// its stride (ties go to the lower output at first). An output with 0 tickets gets no
    /// packets; if no output has tickets, packets are dropped. Tickets above 32768 are
    /// reduced to 32768, as in Click.
    ///
    /// The packets of one batch leave as one batch per output, outputs in port order; each
    /// packet goes to the output Click would send it to.
    ///
    /// Ports: 1 input, 1 or more outputs, push.
    ///
    /// # Keywords
    /// - `TICKETSi` — integer >= 0, positional, one per output. Output i's share.
    ///
    /// # Handlers
    /// - `tickets0`, `tickets1`, ... (read/write) — the tickets of each output.
    /// - `drops` (read) — packets dropped because no output had tickets.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// // two thirds of the packets to output 0, one third to output 1
    /// src -> ss :: StrideSwitch(2, 1);
    /// ss[0] -> Queue -> ToDevice(eth0);
    /// ss[1] -> Queue -> ToDevice(eth1);
    /// ```
    pub const STRIDE_SWITCH = "StrideSwitch" { ports: "1/1-", processing: "h/h", handlers: &HANDLERS, build: build }
}

const HANDLERS: [HandlerSpec; 3] = [
    HandlerSpec::read_write("tickets#", Combine::First, "the tickets of output # (`tickets0`, `tickets1`, ...)"),
    HandlerSpec::read("drops", Combine::Sum, "packets dropped because no output had tickets"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
];

/// The output a `ticketsN` handler name refers to.
fn ticket_port(name: &str) -> Option<usize> {
    name.strip_prefix("tickets")?.parse().ok()
}

const REASONS: &[&str] = &["no output has tickets"];

/// Click's STRIDE1: the stride of a client with one ticket.
const STRIDE1: u32 = 1 << 16;
/// Click's MAX_TICKETS.
const MAX_TICKETS: u32 = 1 << 15;

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let words = args.rest();
    args.finish()?;
    if words.len() != ctx.noutputs {
        return Err(ConfigError(format!("need {} arguments, one per output port", ctx.noutputs)));
    }
    let mut tickets = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let v =
            i32::from_arg(w).map_err(|_| ConfigError(format!("argument {i} should be number of tickets (integer)")))?;
        if v < 0 {
            return Err(ConfigError(format!("argument {i} (number of tickets) must be >= 0")));
        }
        tickets.push((v as u32).min(MAX_TICKETS));
    }
    Ok(Box::new(StrideSwitch {
        sched: Stride::new(&tickets),
        outs: Outputs::new(ctx.noutputs),
        drops: DropCounts::new(REASONS),
    }))
}

/// Click's `PASS_GT`: `a` is after `b`, modulo wrap-around.
#[inline]
fn pass_gt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

#[derive(Clone, Copy, Debug)]
struct Client {
    tickets: u32,
    stride: u32,
    pass: u32,
}

/// Click's stride scheduler state: the clients, and the ones with tickets in pass order.
#[derive(Debug)]
struct Stride {
    clients: Vec<Client>,
    /// Indices of clients with tickets, smallest pass first.
    list: Vec<usize>,
}

impl Stride {
    fn new(tickets: &[u32]) -> Stride {
        let clients: Vec<Client> = tickets
            .iter()
            .map(|&t| {
                let stride = STRIDE1.checked_div(t).unwrap_or(0);
                Client { tickets: t, stride, pass: stride }
            })
            .collect();
        let mut s = Stride { list: Vec::with_capacity(clients.len()), clients };
        // Inserted in reverse, so that ties run in forward order.
        for i in (0..s.clients.len()).rev() {
            if s.clients[i].tickets > 0 {
                s.insert(i);
            }
        }
        s
    }

    /// Insert client `c` before the first listed client whose pass is not before its own.
    fn insert(&mut self, c: usize) {
        let pass = self.clients[c].pass;
        let at = self.list.iter().position(|&x| !pass_gt(pass, self.clients[x].pass)).unwrap_or(self.list.len());
        self.list.insert(at, c);
    }

    /// The client to serve next; advances its pass. `None` when nobody has tickets.
    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.list.is_empty() {
            return None;
        }
        let c = self.list.remove(0);
        let cl = &mut self.clients[c];
        cl.pass = cl.pass.wrapping_add(cl.stride);
        self.insert(c);
        Some(c)
    }

    fn set_tickets(&mut self, c: usize, tickets: u32) {
        let tickets = tickets.min(MAX_TICKETS);
        let old = self.clients[c].tickets;
        let cl = &mut self.clients[c];
        cl.tickets = tickets;
        cl.stride = STRIDE1.checked_div(tickets).unwrap_or(0);
        if tickets == 0 && old != 0 {
            self.list.retain(|&x| x != c);
        } else if tickets != 0 && old == 0 {
            let stride = self.clients[c].stride;
            self.clients[c].pass = self.list.first().map_or(0, |&h| self.clients[h].pass.wrapping_add(stride));
            self.insert(c);
        }
    }
}

/// The element: the scheduler, one batch per output, and the drop counter.
pub struct StrideSwitch {
    sched: Stride,
    outs: Outputs,
    drops: DropCounts,
}

impl Element for StrideSwitch {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        let sched = &mut self.sched;
        let dropped = self.outs.route(batch, &mut ctx, |_| sched.next());
        if dropped > 0 {
            self.drops.count(0, dropped);
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        if let Some(i) = ticket_port(name) {
            return self.sched.clients.get(i).map(|c| c.tickets.to_string());
        }
        self.drops.read_handler(name)
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        let Some(i) = ticket_port(name) else {
            return Err(format!("handler '{name}' is not writable"));
        };
        if i >= self.sched.clients.len() {
            return Err(format!("port {i} out of range"));
        }
        let t = i32::from_arg(value.trim()).map_err(|_| "tickets value must be integer".to_string())?;
        if t < 0 {
            return Err("number of tickets must be >= 0".into());
        }
        self.sched.set_tickets(i, t as u32);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, run_element};
    use sluice::Packet;

    #[test]
    fn schedule_follows_clicks_stride_order() {
        let mut s = Stride::new(&[2, 1]);
        let order: Vec<usize> = (0..9).map(|_| s.next().unwrap()).collect();
        // Strides 32768 and 65536: passes 32768/65536 start; ties go to output 0.
        assert_eq!(order, [0, 0, 1, 0, 0, 1, 0, 0, 1]);
        // Click re-inserts a client before the clients whose pass equals its own, so
        // equal shares go 0 1 2, then 2 1 0, and so on.
        let mut s = Stride::new(&[1, 1, 1]);
        let order: Vec<usize> = (0..9).map(|_| s.next().unwrap()).collect();
        assert_eq!(order, [0, 1, 2, 2, 1, 0, 0, 1, 2]);
        let mut s = Stride::new(&[0, 3]);
        assert!((0..5).all(|_| s.next() == Some(1)));
        assert!(Stride::new(&[0, 0]).next().is_none());
    }

    #[test]
    fn shares_packets_by_tickets() {
        let input: Vec<Packet> = (0..300u32).map(|i| Packet::from_slice(&i.to_be_bytes())).collect();
        let (out, router) = run_element(&STRIDE_SWITCH, "2, 1", 2, input).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (200, 100));
        assert_eq!(router.read_handler("e", "tickets0").unwrap(), "2");
        assert_eq!(router.read_handler("e", "tickets1").unwrap(), "1");
    }

    #[test]
    fn every_output_has_a_tickets_handler() {
        // 40 outputs: Click has a `ticketsN` handler for each; so does Sluice (a numbered
        // handler family), and a number past the last output is no handler at all.
        let tickets = vec!["1"; 40].join(", ");
        let input: Vec<Packet> = (0..400u32).map(|i| Packet::from_slice(&i.to_be_bytes())).collect();
        let (out, router) = run_element(&STRIDE_SWITCH, &tickets, 40, input).unwrap();
        assert!(out.iter().all(|o| o.len() == 10));
        assert_eq!(router.read_handler("e", "tickets39").unwrap(), "1");
        let err = router.read_handler("e", "tickets40").unwrap_err().to_string();
        assert!(err.contains("has no handler 'tickets40'"), "{err}");
        assert!(router.read_handler("e", "tickets").is_err());
        assert!(router.read_handler("e", "tickets-1").is_err());
    }

    #[test]
    fn handlers_and_config() {
        let mut e = build_elem(&STRIDE_SWITCH, "1, 0", 1, 2).unwrap();
        e.write_handler("tickets1", "4").unwrap();
        assert_eq!(e.read_handler("tickets1").unwrap(), "4");
        e.write_handler("tickets0", "100000").unwrap();
        assert_eq!(e.read_handler("tickets0").unwrap(), "32768");
        assert!(e.write_handler("tickets0", "-1").is_err());
        assert!(e.write_handler("tickets5", "1").is_err());
        assert!(e.read_handler("tickets5").is_none());
        assert!(build_elem(&STRIDE_SWITCH, "1", 1, 2).err().unwrap().0.contains("need 2 arguments"));
        assert!(build_elem(&STRIDE_SWITCH, "1, -1", 1, 2).is_err());
        assert!(build_elem(&STRIDE_SWITCH, "1, x", 1, 2).is_err());
    }
}
