/*
 * The C side of dpdk-sys: the DPDK headers bindgen reads, and out-of-line wrappers for
 * DPDK's inline fast-path functions (they have no symbol in the shared libraries, so Rust
 * cannot call them directly). shim.c defines the wrappers; build.rs compiles it with the
 * same cflags pkg-config gives for libdpdk (including `-include rte_config.h -march=...`).
 */
#ifndef SLUICE_DPDK_SHIM_H
#define SLUICE_DPDK_SHIM_H

#include <stdint.h>
#include <stdio.h>

#include <rte_common.h>
#include <rte_version.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_dev.h>
#include <rte_memory.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ether.h>
#include <rte_ethdev.h>

/* rte_eth_rx_burst: receive up to n packets from queue `queue` of port `port`. */
uint16_t sluice_rte_eth_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);

/* rte_eth_tx_burst: queue up to n packets for sending; returns how many the driver took
 * (it owns those now). */
uint16_t sluice_rte_eth_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);

/* rte_pktmbuf_alloc: one packet mbuf (reset, data_off = headroom), or NULL. */
struct rte_mbuf *sluice_rte_pktmbuf_alloc(struct rte_mempool *mp);

/* rte_pktmbuf_alloc_bulk: n reset packet mbufs, or none (returns 0 on success). */
int sluice_rte_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned n);

/* rte_pktmbuf_free: free a packet mbuf and its chained segments. */
void sluice_rte_pktmbuf_free(struct rte_mbuf *m);

/* rte_mbuf_refcnt_read. */
uint16_t sluice_rte_mbuf_refcnt_read(const struct rte_mbuf *m);

/* The calling thread's rte_errno (a thread-local variable in C). */
int sluice_rte_errno(void);

/* The calling thread's lcore id (LCORE_ID_ANY for threads unknown to the EAL). */
unsigned sluice_rte_lcore_id(void);

#endif
