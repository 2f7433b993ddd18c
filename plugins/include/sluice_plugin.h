/*
 * sluice_plugin.h — the stable C ABI between Sluice and plugin libraries, version 2.
 * (Sluice also loads libraries built for version 1; see "Versions" below.)
 *
 * This header declares, for plugins written in C (or anything that speaks C), exactly the
 * layout of `plugins/src/abi.rs` in the Sluice source tree; keep the two in step. The
 * `sluice-plugin-tests` crate compiles this header and checks every size and offset
 * below against the Rust definitions.
 *
 * A plugin library is a shared object (`cc -shared -fPIC`) that exports one symbol,
 * SLUICE_PLUGIN_ENTRY (`sluice_plugin_v1`): a function returning a pointer to a static
 * `sluice_plugin_desc`, which carries the ABI magic and version and one
 * `sluice_class_desc` per element class, each with plain C function pointers.
 *
 * Ownership rules:
 * - Packets stay the host's. `push` receives `n` sluice_packet_views and writes one
 *   verdict per packet: an output port, or SLUICE_VERDICT_DROP. Verdicts are preset to
 *   output 0. The plugin may change the bytes in `data[0..len)`, and may move `data` back
 *   by at most `headroom` bytes or forward by at most `len`, and set `len` so that the
 *   data ends no later than `tailroom` bytes past its old end. A push that moved any
 *   packet's `data` or `len` returns SLUICE_PUSH_MOVED: the host then checks and applies
 *   the new bounds (a packet outside them is dropped and counted). A push that returns 0
 *   leaves every packet's bounds as they were, whatever it wrote into the views, and
 *   spares the host a second pass over the batch. The sluice_pull/push/take/put helpers
 *   below move bounds safely and mark the view (`flags`), so a push can return
 *   sluice_moved(pkts, n). The plugin must not keep pointers to a packet, its data or its
 *   annotations after `push` returns.
 * - Annotations are shared in place through `anno` (sluice_annotations, same layout as
 *   the host's). `reserved` is the host's: leave it alone. `packet_type` should be one of
 *   the SLUICE_PACKET_* values (the host reads anything else as SLUICE_PACKET_HOST).
 * - Strings in descriptors (class name, ports, doc, handler names, plugin name and
 *   version) are NUL-terminated UTF-8 and must stay valid, unchanged, for as long as the
 *   library is loaded: use static storage.
 * - Text and state cross through host buffers: the plugin writes at most `cap` bytes
 *   (no NUL needed) and returns the full length it needed; the host calls again with a
 *   bigger buffer when that was more than `cap`. Arguments the host passes (config,
 *   handler values, state) are `len` bytes, not NUL-terminated, valid only during the
 *   call: copy what you keep.
 * - An instance pointer returned by `create` is owned by the host, which calls `destroy`
 *   exactly once, on the control thread, after no worker can be inside the instance.
 *   One instance serves one worker: calls on one instance never overlap, but instances of
 *   one class may be called from several threads at once (guard shared statics).
 * - Functions return 0 (or a length) on success and a negative number on failure. A
 *   failing (negative) `push` disables the element: its packets are dropped and counted
 *   from then on. C code cannot "panic"; SLUICE_ERR_PANIC is what a Rust plugin returns
 *   when it caught a panic at the boundary, and a C plugin may return it too.
 *
 * Versions: version 2 added SLUICE_PUSH_MOVED (and named the view's last u32 `flags`).
 *   A version 1 library returns 0 from push after moving bounds, so the host checks every
 *   packet of a version 1 library after every push; nothing else differs.
 *
 * Limits: plugin ports are push ports (port counts in Click's notation, e.g. "1/1" or
 * "1/1-2"), at most SLUICE_MAX_OUTPUTS outputs; state formats are the plugin's own.
 */
#ifndef SLUICE_PLUGIN_H
#define SLUICE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* First field of a sluice_plugin_desc: the bytes "SLUICEPL" read as a little-endian u64. */
#define SLUICE_PLUGIN_MAGIC UINT64_C(0x4C50454349554C53)
/* The ABI version this header describes. */
#define SLUICE_ABI_VERSION 2u
/* The symbol every plugin library exports (see SLUICE_PLUGIN_ENTRY below). */
#define SLUICE_ENTRY_SYMBOL "sluice_plugin_v1"
/* Verdict for a packet the element drops. */
#define SLUICE_VERDICT_DROP ((uint16_t)0xFFFF)
/* Flag in what push returns: it moved some packet's data or len (apply the new bounds). */
#define SLUICE_PUSH_MOVED ((int64_t)1)
/* Flag the sluice_pull/push/take/put helpers set in sluice_packet_view.flags. */
#define SLUICE_VIEW_MOVED 1u
/* Return code of a call that panicked (Rust plugins). */
#define SLUICE_ERR_PANIC ((int64_t)-99)
/* Handler flags. */
#define SLUICE_HANDLER_READ 1u
#define SLUICE_HANDLER_WRITE 2u
#define SLUICE_HANDLER_SUM 4u   /* the value is a counter: added up over workers */
/* Most outputs a plugin class may have (the host refuses classes with more). */
#define SLUICE_MAX_OUTPUTS 8

/* Values of sluice_annotations.packet_type. */
enum {
    SLUICE_PACKET_HOST = 0,
    SLUICE_PACKET_BROADCAST = 1,
    SLUICE_PACKET_MULTICAST = 2,
    SLUICE_PACKET_OTHERHOST = 3,
    SLUICE_PACKET_OUTGOING = 4,
    SLUICE_PACKET_LOOPBACK = 5,
    SLUICE_PACKET_FASTROUTE = 6
};

/* Packet annotations, shared in place. Same layout as the host's. (72 bytes) */
typedef struct sluice_annotations {
    uint8_t dst_ip[4];     /* destination IPv4 address annotation, network byte order */
    uint8_t paint;         /* paint annotation */
    uint8_t packet_type;   /* one of SLUICE_PACKET_* */
    uint16_t vlan_tci;     /* VLAN TCI annotation, host order */
    uint32_t reserved[2];  /* host-internal (header offsets); plugins leave them alone */
    uint64_t timestamp_ns; /* nanoseconds since the Unix epoch; 0 when unset */
    uint8_t user[48];      /* free-form annotation bytes */
} sluice_annotations;

/* One packet, as a plugin sees it during push. (32 bytes) */
typedef struct sluice_packet_view {
    uint8_t *data;
    uint32_t len;
    uint32_t headroom; /* bytes available before data (for moving data back) */
    uint32_t tailroom; /* bytes available after data + len (for growing len) */
    uint32_t flags;    /* the plugin's: 0 when lent; the helpers below set SLUICE_VIEW_MOVED */
    sluice_annotations *anno;
} sluice_packet_view;

/* What an instance is told when it is created. (24 bytes) */
typedef struct sluice_build_info {
    const char *name; /* the element's name in the graph, NUL-terminated */
    uint32_t ninputs;
    uint32_t noutputs;
    uint32_t worker;
    uint32_t nworkers;
} sluice_build_info;

/* A handler of a class. (16 bytes) */
typedef struct sluice_handler_desc {
    const char *name;
    uint32_t flags; /* SLUICE_HANDLER_READ | SLUICE_HANDLER_WRITE | SLUICE_HANDLER_SUM */
} sluice_handler_desc;

/* One element class of a plugin. (96 bytes) */
typedef struct sluice_class_desc {
    /* NUL-terminated strings: Click class name, port counts ("1/1"), documentation in
     * Click's shape (synopsis line, blank line, one-line summary, ...). */
    const char *name;
    const char *ports;
    const char *doc;
    const sluice_handler_desc *handlers;
    uint32_t nhandlers;

    /* Parse `config` (`len` bytes of UTF-8, not NUL-terminated) and make an instance; on
     * failure return NULL and write a sentence into `err` (at most `err_cap` bytes). */
    void *(*create)(const uint8_t *config, size_t len, const sluice_build_info *info, uint8_t *err,
                    size_t err_cap);

    /* Process `n` packets that arrived on input `port`: write one verdict per packet
     * (preset to 0). Return 0; SLUICE_PUSH_MOVED if it moved any packet's data or len;
     * or a negative number to fail (the element is disabled). */
    int64_t (*push)(void *inst, uint32_t port, sluice_packet_view *pkts, uint32_t n, uint16_t *verdicts);

    /* Read handler `name` into `out` (at most `cap` bytes); return the length needed, or
     * a negative number for an unknown handler. */
    int64_t (*read_handler)(void *inst, const char *name, uint8_t *out, size_t cap);

    /* Write handler `name` with `len` bytes of `value`; return 0, or negative after
     * writing a sentence into `err` (at most `err_cap` bytes). */
    int64_t (*write_handler)(void *inst, const char *name, const uint8_t *value, size_t len, uint8_t *err,
                             size_t err_cap);

    /* Serialize the instance's state into `out` (at most `cap` bytes); return the length
     * needed (0: no state). The host calls again with a bigger buffer when needed, so this
     * must not consume the state. */
    int64_t (*take_state)(void *inst, uint8_t *out, size_t cap);

    /* Receive a predecessor's serialized state (same class name, maybe another version of
     * the plugin: check a version tag in your format and ignore what you do not know). */
    int64_t (*give_state)(void *inst, const uint8_t *state, size_t len);

    /* Free the instance. Called exactly once, on the control thread. */
    void (*destroy)(void *inst);
} sluice_class_desc;

/* What sluice_plugin_v1 returns. (40 bytes) */
typedef struct sluice_plugin_desc {
    uint64_t magic;       /* SLUICE_PLUGIN_MAGIC */
    uint32_t abi_version; /* SLUICE_ABI_VERSION */
    uint32_t nclasses;
    const sluice_class_desc *classes;
    /* NUL-terminated plugin name and version, for messages. */
    const char *name;
    const char *version;
} sluice_plugin_desc;

/* The entry point's type. */
typedef const sluice_plugin_desc *(*sluice_entry_fn)(void);

/* Define the entry point: `SLUICE_PLUGIN_ENTRY { return &my_plugin_desc; }`. */
#if defined(__GNUC__) || defined(__clang__)
#define SLUICE_EXPORT __attribute__((visibility("default")))
#else
#define SLUICE_EXPORT
#endif
#define SLUICE_PLUGIN_ENTRY SLUICE_EXPORT const sluice_plugin_desc *sluice_plugin_v1(void)

/* Click's packet operations on a view, checked: each returns 0 when the view lacks the
 * room (and leaves it alone), 1 after moving it and marking it SLUICE_VIEW_MOVED. */
static inline int sluice_pull(sluice_packet_view *p, uint32_t n) { /* remove n bytes at the front */
    if (n > p->len) return 0;
    p->data += n; p->len -= n; p->headroom += n; p->flags |= SLUICE_VIEW_MOVED;
    return 1;
}
static inline int sluice_push(sluice_packet_view *p, uint32_t n) { /* add n bytes at the front */
    if (n > p->headroom) return 0;
    p->data -= n; p->len += n; p->headroom -= n; p->flags |= SLUICE_VIEW_MOVED;
    return 1;
}
static inline int sluice_take(sluice_packet_view *p, uint32_t n) { /* remove n bytes at the end */
    if (n > p->len) return 0;
    p->len -= n; p->tailroom += n; p->flags |= SLUICE_VIEW_MOVED;
    return 1;
}
static inline int sluice_put(sluice_packet_view *p, uint32_t n) { /* add n bytes at the end */
    if (n > p->tailroom) return 0;
    p->len += n; p->tailroom -= n; p->flags |= SLUICE_VIEW_MOVED;
    return 1;
}
/* What push returns after using the helpers: SLUICE_PUSH_MOVED if any view moved, else 0. */
static inline int64_t sluice_moved(const sluice_packet_view *pkts, uint32_t n) {
    uint32_t f = 0;
    for (uint32_t i = 0; i < n; i++) f |= pkts[i].flags;
    return (f & SLUICE_VIEW_MOVED) ? SLUICE_PUSH_MOVED : 0;
}

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(sluice_annotations) == 72, "sluice_annotations layout");
_Static_assert(sizeof(sluice_packet_view) == 32, "sluice_packet_view layout");
_Static_assert(sizeof(sluice_build_info) == 24, "sluice_build_info layout");
_Static_assert(sizeof(sluice_handler_desc) == 16, "sluice_handler_desc layout");
_Static_assert(sizeof(sluice_class_desc) == 96, "sluice_class_desc layout");
_Static_assert(sizeof(sluice_plugin_desc) == 40, "sluice_plugin_desc layout");
#endif

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_PLUGIN_H */
