//! Ethernet ports: finding them by number or name, configuring and starting them once for
//! all their users, statistics.
//!
//! A port is shared by everything that uses it (one element receiving, another sending,
//! one instance of each per worker). Users first [`declare`] what they need (queues,
//! descriptors, promiscuous mode) when they are built, then [`Port::acquire`] it when they
//! start: the first acquisition configures the port for everything declared so far, sets
//! up every queue with the socket's default mempool, and starts it. Later acquisitions
//! share the running port. When the last [`Port`] handle and queue are dropped the port
//! stops (what waits in its RX queues is freed), so the next acquisition configures it
//! afresh.
//!
//! A port spec is a port number (`0`), a device name (`net_null0`, `0000:01:00.0`), or a
//! virtual device that does not exist yet: a name starting with `net_` (optionally with
//! driver arguments, `net_ring0` or `net_pcap0,rx_pcap=in.pcap`) is created on first use,
//! as `--vdev` would have created it at EAL start.

use crate::burst::{QueueLock, RxQueue, TxQueue};
use crate::eal;
use crate::error::{check, strerror, Error};
use crate::ffi;
use crate::mempool::Mempool;
use std::collections::HashMap;
use std::ffi::{c_char, CStr, CString};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// RX descriptors per queue when nobody asks for a number (FastClick's default).
pub const DEFAULT_RX_DESC: u16 = 256;
/// TX descriptors per queue when nobody asks for a number (FastClick's default).
pub const DEFAULT_TX_DESC: u16 = 1024;

/// RSS hash types for spreading over several RX queues: IPv4/IPv6, with TCP and UDP ports
/// (DPDK's `RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP`, bits 2..=17).
const RSS_IP_TCP_UDP: u64 = 0x3_fffc;

/// What one user needs of a port. Needs of several users combine: the largest queue and
/// descriptor counts, promiscuous if anyone asks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// RX queues `0..rx_queues` must exist.
    pub rx_queues: u16,
    /// TX queues `0..tx_queues` must exist.
    pub tx_queues: u16,
    /// Descriptors per RX / TX queue; 0 for the default.
    pub rx_desc: u16,
    pub tx_desc: u16,
    pub promisc: bool,
}

impl Needs {
    fn merge(&mut self, o: &Needs) {
        self.rx_queues = self.rx_queues.max(o.rx_queues);
        self.tx_queues = self.tx_queues.max(o.tx_queues);
        self.rx_desc = self.rx_desc.max(o.rx_desc);
        self.tx_desc = self.tx_desc.max(o.tx_desc);
        self.promisc |= o.promisc;
    }
}

struct Entry {
    /// The running port's shared state, while anyone uses it.
    current: Weak<Inner>,
    /// The port was started and not stopped since.
    running: bool,
}

#[derive(Default)]
struct Registry {
    ports: HashMap<u16, Entry>,
    /// Needs declared by spec, before the port is acquired.
    declared: HashMap<String, Needs>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn registry() -> MutexGuard<'static, Option<Registry>> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Note what a user of port `spec` will need, before any user acquires it. Cheap, and it
/// does not start the EAL.
pub fn declare(spec: &str, needs: Needs) {
    let mut g = registry();
    let r = g.get_or_insert_with(Registry::default);
    r.declared.entry(spec.to_string()).or_default().merge(&needs);
}

/// The name of port `id` (`net_null0`, a PCI address...).
pub fn name(id: u16) -> String {
    let mut buf = [0 as c_char; ffi::RTE_ETH_NAME_MAX_LEN as usize];
    // SAFETY: the buffer has RTE_ETH_NAME_MAX_LEN bytes, as the call requires.
    if unsafe { ffi::rte_eth_dev_get_name_by_port(id, buf.as_mut_ptr()) } != 0 {
        return id.to_string();
    }
    // SAFETY: the call wrote a NUL-terminated name.
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
}

/// Every port, as `(id, name)`. Starts the EAL.
pub fn available() -> Result<Vec<(u16, String)>, Error> {
    eal::init()?;
    let mut out = Vec::new();
    let mut id = 0u64;
    loop {
        // SAFETY: plain ethdev query (RTE_ETH_FOREACH_DEV).
        let next = unsafe { ffi::rte_eth_find_next_owned_by(id as u16, ffi::RTE_ETH_DEV_NO_OWNER as u64) };
        if next >= ffi::RTE_MAX_ETHPORTS as u64 {
            break;
        }
        out.push((next as u16, name(next as u16)));
        id = next + 1;
    }
    Ok(out)
}

/// The port named or numbered `spec`, if it exists now (creates nothing).
fn lookup(spec: &str) -> Option<u16> {
    if let Ok(n) = spec.parse::<u16>() {
        // SAFETY: plain ethdev query.
        return (unsafe { ffi::rte_eth_dev_is_valid_port(n) } == 1).then_some(n);
    }
    let name = spec.split(',').next().unwrap_or(spec).trim();
    let c = CString::new(name).ok()?;
    let mut id = 0u16;
    // SAFETY: a NUL-terminated name and a place for the id.
    (unsafe { ffi::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) } == 0).then_some(id)
}

/// The port for `spec` (a number, a name, or a virtual device to create: see the module
/// docs). Starts the EAL. The error lists the ports there are.
pub fn find(spec: &str) -> Result<u16, Error> {
    eal::init()?;
    let _g = registry(); // one hot-plug at a time
    find_locked(spec)
}

fn find_locked(spec: &str) -> Result<u16, Error> {
    if let Some(id) = lookup(spec) {
        return Ok(id);
    }
    let mut probe_error = None;
    if spec.starts_with("net_") {
        if let Ok(c) = CString::new(spec) {
            // SAFETY: a NUL-terminated devargs string.
            let ret = unsafe { ffi::rte_dev_probe(c.as_ptr()) };
            if let Some(id) = lookup(spec) {
                return Ok(id);
            }
            probe_error = Some(if ret < 0 { strerror(-ret) } else { "it made no Ethernet port".to_string() });
        }
    }
    let available = available()?.into_iter().map(|(id, name)| format!("{id} ({name})")).collect();
    Err(Error::NoSuchPort { spec: spec.to_string(), probe_error, available, args: eal::args().join(" ") })
}

/// Static facts about a port.
#[derive(Clone, Debug)]
pub struct Info {
    pub id: u16,
    pub name: String,
    pub driver: String,
    pub max_rx_queues: u16,
    pub max_tx_queues: u16,
}

/// Device information of port `id`.
pub fn info(id: u16) -> Result<Info, Error> {
    let raw = raw_info(id)?;
    let driver = if raw.driver_name.is_null() {
        String::new()
    } else {
        // SAFETY: the driver's static NUL-terminated name.
        unsafe { CStr::from_ptr(raw.driver_name) }.to_string_lossy().into_owned()
    };
    Ok(Info { id, name: name(id), driver, max_rx_queues: raw.max_rx_queues, max_tx_queues: raw.max_tx_queues })
}

fn raw_info(id: u16) -> Result<ffi::rte_eth_dev_info, Error> {
    let mut raw = ffi::rte_eth_dev_info::default();
    // SAFETY: `raw` is a valid output structure.
    check(unsafe { ffi::rte_eth_dev_info_get(id, &mut raw) }, &name(id), "reading device information")?;
    Ok(raw)
}

/// Port counters, as the driver keeps them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub ipackets: u64,
    pub opackets: u64,
    pub ibytes: u64,
    pub obytes: u64,
    /// Packets the hardware dropped for lack of RX descriptors.
    pub imissed: u64,
    pub ierrors: u64,
    pub oerrors: u64,
    /// RX mbuf allocation failures.
    pub rx_nombuf: u64,
}

/// The counters of port `id`.
pub fn stats(id: u16) -> Result<Stats, Error> {
    let mut s = ffi::rte_eth_stats::default();
    // SAFETY: `s` is a valid output structure.
    check(unsafe { ffi::rte_eth_stats_get(id, &mut s) }, &name(id), "reading statistics")?;
    Ok(Stats {
        ipackets: s.ipackets,
        opackets: s.opackets,
        ibytes: s.ibytes,
        obytes: s.obytes,
        imissed: s.imissed,
        ierrors: s.ierrors,
        oerrors: s.oerrors,
        rx_nombuf: s.rx_nombuf,
    })
}

/// Link state of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub up: bool,
    /// Mbit/s (0 when unknown).
    pub speed: u32,
    pub full_duplex: bool,
    pub autoneg: bool,
}

/// The link state of port `id`, without waiting.
pub fn link(id: u16) -> Result<Link, Error> {
    let mut l = ffi::rte_eth_link::default();
    // SAFETY: `l` is a valid output structure.
    check(unsafe { ffi::rte_eth_link_get_nowait(id, &mut l) }, &name(id), "reading the link state")?;
    Ok(Link {
        up: l.link_status() as u32 == ffi::RTE_ETH_LINK_UP,
        speed: l.link_speed,
        full_duplex: l.link_duplex() as u32 == ffi::RTE_ETH_LINK_FULL_DUPLEX,
        autoneg: l.link_autoneg() as u32 == ffi::RTE_ETH_LINK_AUTONEG,
    })
}

/// The MAC address of port `id`.
pub fn mac(id: u16) -> Result<[u8; 6], Error> {
    let mut a = ffi::rte_ether_addr::default();
    // SAFETY: `a` is a valid output structure.
    check(unsafe { ffi::rte_eth_macaddr_get(id, &mut a) }, &name(id), "reading the MAC address")?;
    Ok(a.addr_bytes)
}

/// Put port `id` in promiscuous mode or take it out. Drivers that do not support it
/// (virtual devices often) are left as they are.
pub fn set_promiscuous(id: u16, on: bool) -> Result<(), Error> {
    // SAFETY: plain ethdev calls.
    let ret = unsafe {
        if on {
            ffi::rte_eth_promiscuous_enable(id)
        } else {
            ffi::rte_eth_promiscuous_disable(id)
        }
    };
    if ret == -libc::ENOTSUP {
        tracing::debug!("DPDK port {}: promiscuous mode is not supported", name(id));
        return Ok(());
    }
    check(ret, &name(id), if on { "enabling promiscuous mode" } else { "disabling promiscuous mode" }).map(|_| ())
}

/// Whether port `id` is in promiscuous mode.
pub fn promiscuous(id: u16) -> bool {
    // SAFETY: plain ethdev query.
    unsafe { ffi::rte_eth_promiscuous_get(id) == 1 }
}

/// The shared state of a running port.
pub(crate) struct Inner {
    pub(crate) id: u16,
    pub(crate) name: String,
    pub(crate) pool: Mempool,
    pub(crate) rx: Box<[QueueLock]>,
    pub(crate) tx: Box<[QueueLock]>,
    rx_desc: u16,
    tx_desc: u16,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let mut g = registry();
        let Some(r) = g.as_mut() else { return };
        let Some(e) = r.ports.get_mut(&self.id) else { return };
        // Only the current user set stops the port (a newer one may have restarted it).
        if std::ptr::eq(e.current.as_ptr(), self) && e.running {
            // No queue of this port is in use any more (queues hold the Inner).
            stop(self.id, &self.name);
            e.running = false;
        }
    }
}

/// A started port, shared by all its users; it stops when the last handle and queue go.
#[derive(Clone)]
pub struct Port {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Port({} '{}', {} rx / {} tx queues)",
            self.inner.id,
            self.inner.name,
            self.rx_queues(),
            self.tx_queues()
        )
    }
}

impl Port {
    /// The running port for `spec`, configured and started for every need declared for it
    /// (plus `needs`) if it is not running yet. If it runs already, `needs` must fit in
    /// what it was configured with.
    ///
    /// ```no_run
    /// use dpdk_sys::{eal, Needs, Port};
    /// eal::set_args_str("-l 0 --no-huge --no-pci --no-shconf -m 512").unwrap();
    /// let p = Port::acquire("net_null0", Needs { rx_queues: 1, tx_queues: 1, ..Default::default() }).unwrap();
    /// let mut got = Vec::new();
    /// p.rx_queue(0).unwrap().recv(&mut got, 32);
    /// p.tx_queue(0).unwrap().send(&mut got);
    /// ```
    pub fn acquire(spec: &str, needs: Needs) -> Result<Port, Error> {
        eal::init()?;
        let mut g = registry();
        let r = g.get_or_insert_with(Registry::default);
        let id = find_locked(spec)?;
        // Everything declared for this port, by any spec naming it. Declarations are used
        // up here, so that a later graph starts the port with its own needs only.
        let mut all = needs;
        r.declared.retain(|s, n| {
            if lookup(s) == Some(id) {
                all.merge(n);
                false
            } else {
                true
            }
        });
        let existing = r.ports.get(&id).and_then(|e| e.current.upgrade());
        if let Some(inner) = existing {
            drop(g); // never drop an Inner while holding the registry lock
            let port = Port { inner };
            port.fits(&needs)?;
            if needs.promisc {
                set_promiscuous(id, true)?;
            }
            return Ok(port);
        }
        let entry = r.ports.entry(id).or_insert(Entry { current: Weak::new(), running: false });
        if entry.running {
            // The previous users are gone but their port still runs: stop it to reconfigure
            // (no queue handle of theirs is left: the Inner could not be upgraded).
            stop(id, &name(id));
            entry.running = false;
        }
        let inner = Arc::new(start(id, &all)?);
        entry.current = Arc::downgrade(&inner);
        entry.running = true;
        Ok(Port { inner })
    }

    fn fits(&self, needs: &Needs) -> Result<(), Error> {
        let (rx, tx) = (self.rx_queues(), self.tx_queues());
        if needs.rx_queues > rx || needs.tx_queues > tx {
            return Err(Error::Capacity {
                port: self.inner.name.clone(),
                message: format!(
                    "it is running with {rx} RX and {tx} TX queues, but {} RX and {} TX queues are needed; declare every user before the port starts",
                    needs.rx_queues, needs.tx_queues
                ),
            });
        }
        Ok(())
    }

    pub fn id(&self) -> u16 {
        self.inner.id
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn rx_queues(&self) -> u16 {
        self.inner.rx.len() as u16
    }

    pub fn tx_queues(&self) -> u16 {
        self.inner.tx.len() as u16
    }

    /// Descriptors per RX and TX queue, as configured.
    pub fn descriptors(&self) -> (u16, u16) {
        (self.inner.rx_desc, self.inner.tx_desc)
    }

    /// The mempool RX queues fill from (and the one to copy packets into for sending).
    pub fn pool(&self) -> Mempool {
        self.inner.pool
    }

    /// RX queue `q`. Several handles to one queue may exist; calls on it are serialized.
    pub fn rx_queue(&self, q: u16) -> Result<RxQueue, Error> {
        if q >= self.rx_queues() {
            return Err(self.no_queue("RX", q, self.rx_queues()));
        }
        Ok(RxQueue::new(self.inner.clone(), q))
    }

    /// TX queue `q`. Several handles to one queue may exist; calls on it are serialized.
    pub fn tx_queue(&self, q: u16) -> Result<TxQueue, Error> {
        if q >= self.tx_queues() {
            return Err(self.no_queue("TX", q, self.tx_queues()));
        }
        Ok(TxQueue::new(self.inner.clone(), q))
    }

    fn no_queue(&self, kind: &str, q: u16, n: u16) -> Error {
        Error::Capacity { port: self.inner.name.clone(), message: format!("no {kind} queue {q}: it has {n}") }
    }

    pub fn stats(&self) -> Result<Stats, Error> {
        stats(self.inner.id)
    }

    pub fn link(&self) -> Result<Link, Error> {
        link(self.inner.id)
    }

    pub fn mac(&self) -> Result<[u8; 6], Error> {
        mac(self.inner.id)
    }

    pub fn info(&self) -> Result<Info, Error> {
        info(self.inner.id)
    }
}

/// Most packets [`stop`] discards per RX queue (net_null would give packets forever).
const DRAIN_LIMIT: usize = 4096;

/// Stop port `id`, first freeing what waits in its RX queues: a NIC's driver resets its
/// rings, but some virtual devices keep packets across a restart (a net_ring port's ring
/// holds what its last users left), and the next graph should not receive them, nor
/// should their mbufs stay out of the pool.
fn stop(id: u16, pname: &str) {
    let n_rx = raw_info(id).map(|i| i.nb_rx_queues).unwrap_or(0);
    let mut raw = [std::ptr::null_mut(); 64];
    for q in 0..n_rx {
        let mut left = DRAIN_LIMIT;
        while left > 0 {
            // SAFETY: a started port whose users are gone: this thread is its only user.
            let n = unsafe { ffi::sluice_rte_eth_rx_burst(id, q, raw.as_mut_ptr(), raw.len() as u16) } as usize;
            if n == 0 {
                break;
            }
            // SAFETY: the driver handed us these mbufs.
            unsafe { ffi::rte_pktmbuf_free_bulk(raw.as_mut_ptr(), n as u32) };
            left = left.saturating_sub(n);
        }
    }
    // SAFETY: no queue of the port is in use any more.
    let ret = unsafe { ffi::rte_eth_dev_stop(id) };
    if ret < 0 {
        tracing::warn!("stopping DPDK port {pname}: {}", strerror(-ret));
    }
}

/// A symmetric RSS key: 0x6d5a repeated, longer than any driver's key.
static SYMMETRIC_RSS_KEY: [u8; 64] = {
    let mut k = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        k[i] = if i % 2 == 0 { 0x6d } else { 0x5a };
        i += 1;
    }
    k
};

/// Configure port `id` for `needs`, set up its queues and start it.
fn start(id: u16, needs: &Needs) -> Result<Inner, Error> {
    let pname = name(id);
    let raw = raw_info(id)?;
    let n_rx = needs.rx_queues.max(1);
    let n_tx = needs.tx_queues.max(1);
    if n_rx > raw.max_rx_queues || n_tx > raw.max_tx_queues {
        return Err(Error::Capacity {
            port: pname,
            message: format!(
                "{n_rx} RX and {n_tx} TX queues are needed, but the device has at most {} and {}",
                raw.max_rx_queues, raw.max_tx_queues
            ),
        });
    }
    let mut conf = ffi::rte_eth_conf::default();
    let rss = raw.flow_type_rss_offloads & RSS_IP_TCP_UDP;
    // A symmetric Toeplitz key (the 16-bit pattern 0x6d5a repeated, Woo and Park): both
    // directions of a flow hash alike and reach the same queue, so the worker that keeps
    // a flow's state (NAT mappings, per-flow counters) sees its replies too.
    // Drivers size keys differently (40 bytes for most, 52 for i40e).
    let key_len = match raw.hash_key_size as usize {
        0 => 40,
        n => n.min(SYMMETRIC_RSS_KEY.len()),
    };
    if n_rx > 1 && rss != 0 {
        conf.rxmode.mq_mode = ffi::RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf = rss;
        // Static: drivers keep the pointer in the port's configuration and read it when
        // the port (re)starts. DPDK only reads through it.
        conf.rx_adv_conf.rss_conf.rss_key = SYMMETRIC_RSS_KEY.as_ptr() as *mut u8;
        conf.rx_adv_conf.rss_conf.rss_key_len = key_len as u8;
    }
    // SAFETY: `conf` is a valid, zero-initialized configuration.
    check(unsafe { ffi::rte_eth_dev_configure(id, n_rx, n_tx, &conf) }, &pname, "configuring")?;
    let mut rx_desc = if needs.rx_desc == 0 { DEFAULT_RX_DESC } else { needs.rx_desc };
    let mut tx_desc = if needs.tx_desc == 0 { DEFAULT_TX_DESC } else { needs.tx_desc };
    // SAFETY: valid out-parameters.
    check(
        unsafe { ffi::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut rx_desc, &mut tx_desc) },
        &pname,
        "adjusting descriptor counts",
    )?;
    // The device's NUMA socket; virtual devices have none: then the caller's, or 0.
    // SAFETY: plain queries.
    let socket = match unsafe { ffi::rte_eth_dev_socket_id(id) } {
        s if s >= 0 => s,
        _ => (unsafe { ffi::rte_socket_id() } as i32).max(0),
    };
    let pool = Mempool::for_socket(socket)?;
    for q in 0..n_rx {
        // SAFETY: a configured port, a valid pool; NULL asks for the default RX config.
        let ret =
            unsafe { ffi::rte_eth_rx_queue_setup(id, q, rx_desc, socket as u32, std::ptr::null(), pool.as_ptr()) };
        check(ret, &pname, &format!("setting up RX queue {q}"))?;
    }
    for q in 0..n_tx {
        // SAFETY: as above.
        let ret = unsafe { ffi::rte_eth_tx_queue_setup(id, q, tx_desc, socket as u32, std::ptr::null()) };
        check(ret, &pname, &format!("setting up TX queue {q}"))?;
    }
    // SAFETY: configured with all queues set up.
    check(unsafe { ffi::rte_eth_dev_start(id) }, &pname, "starting")?;
    if needs.promisc {
        set_promiscuous(id, true)?;
    }
    tracing::debug!("DPDK port {id} ({pname}) started: {n_rx} RX / {n_tx} TX queues, {rx_desc}/{tx_desc} descriptors");
    Ok(Inner {
        id,
        name: pname,
        pool,
        rx: (0..n_rx).map(|_| QueueLock::default()).collect(),
        tx: (0..n_tx).map(|_| QueueLock::default()).collect(),
        rx_desc,
        tx_desc,
    })
}

#[cfg(test)]
mod tests {
    use super::SYMMETRIC_RSS_KEY;

    /// The Toeplitz hash RSS computes over `input` with `key`.
    fn toeplitz(key: &[u8], input: &[u8]) -> u32 {
        let mut hash = 0u32;
        for (i, byte) in input.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    // The 32 key bits starting at bit i*8+bit.
                    let start = i * 8 + bit;
                    let mut window = 0u32;
                    for k in 0..32 {
                        let b = start + k;
                        window = (window << 1) | ((key[b / 8] >> (7 - b % 8)) & 1) as u32;
                    }
                    hash ^= window;
                }
            }
        }
        hash
    }

    /// RSS input for IPv4/TCP: source and destination address, then ports.
    fn tuple(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        [&src[..], &dst[..], &sport.to_be_bytes()[..], &dport.to_be_bytes()[..]].concat()
    }

    #[test]
    fn the_rss_key_sends_both_directions_of_a_flow_to_one_queue() {
        let flows = [([10, 0, 0, 1], [192, 168, 1, 7], 40000, 80), ([172, 16, 3, 4], [8, 8, 8, 8], 5353, 53)];
        for (a, b, pa, pb) in flows {
            let there = toeplitz(&SYMMETRIC_RSS_KEY, &tuple(a, b, pa, pb));
            let back = toeplitz(&SYMMETRIC_RSS_KEY, &tuple(b, a, pb, pa));
            assert_eq!(there, back);
        }
        // The check has teeth: with DPDK's default (Microsoft) key the two differ.
        let default_key: Vec<u8> = [
            0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca,
            0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b,
            0xbe, 0xac, 0x01, 0xfa,
        ]
        .to_vec();
        let (a, b) = ([10, 0, 0, 1], [192, 168, 1, 7]);
        assert_ne!(toeplitz(&default_key, &tuple(a, b, 40000, 80)), toeplitz(&default_key, &tuple(b, a, 80, 40000)));
    }
}
