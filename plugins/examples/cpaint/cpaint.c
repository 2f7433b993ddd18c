/*
 * CPaint(COLOR): a Sluice plugin element written in C. Sets each packet's paint annotation
 * to COLOR and counts the packets, like Click's Paint plus a counter.
 *
 * Build (what build.rs does, by hand):
 *     cc -shared -fPIC -std=c11 -O2 -I plugins/include -o libcpaint.so cpaint.c
 * and load it with `require(library libcpaint.so)` in a graph or `sluicectl load PATH`.
 *
 * Compile-time knobs (the tests build variants with them):
 *     -DCPAINT_VERSION=2        the plugin's version number (default 1)
 *     -DCPAINT_CLASS=CPaintX    the class name (default CPaint)
 */
#include "sluice_plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CPAINT_VERSION
#define CPAINT_VERSION 1
#endif
#ifndef CPAINT_CLASS
#define CPAINT_CLASS CPaint
#endif
#define STR_(x) #x
#define STR(x) STR_(x)

/* Instances alive in this copy of the library (each load of the file is its own copy, with
 * its own statics): the `live` handler shows it. Atomic: elements are created and destroyed
 * on the control thread, but read from any. */
static long live_instances;

/* Tag and version of the state this plugin saves (see cpaint_take_state). */
static const char STATE_TAG[4] = {'C', 'P', 'N', 'T'};
#define STATE_FORMAT 1u

struct cpaint {
    uint8_t color;
    uint64_t count;
};

/* Copy `n` bytes of `text` into a host buffer of `cap` bytes; return the length needed. */
static int64_t put(const char *text, size_t n, uint8_t *out, size_t cap) {
    if (out != NULL) {
        memcpy(out, text, n < cap ? n : cap);
    }
    return (int64_t)n;
}

static int64_t put_str(const char *text, uint8_t *out, size_t cap) {
    return put(text, strlen(text), out, cap);
}

/* Parse "COLOR" or "COLOR n" from `len` bytes (not NUL-terminated) into 0..255. */
static int parse_color(const uint8_t *text, size_t len, uint8_t *color) {
    char buf[64];
    if (len >= sizeof buf) {
        return -1;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *s = buf;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    if (strncmp(s, "COLOR", 5) == 0 && (s[5] == ' ' || s[5] == '\t')) {
        s += 5;
    }
    char *end;
    long v = strtol(s, &end, 0);
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r') end++;
    if (end == s || *end != '\0' || v < 0 || v > 255) {
        return -1;
    }
    *color = (uint8_t)v;
    return 0;
}

static void *cpaint_create(const uint8_t *config, size_t len, const sluice_build_info *info, uint8_t *err,
                           size_t err_cap) {
    (void)info;
    uint8_t color;
    if (parse_color(config, len, &color) != 0) {
        put_str("COLOR must be an integer from 0 to 255, as in " STR(CPAINT_CLASS) "(2)", err, err_cap);
        return NULL;
    }
    struct cpaint *p = calloc(1, sizeof *p);
    if (p == NULL) {
        put_str("out of memory", err, err_cap);
        return NULL;
    }
    p->color = color;
    __atomic_add_fetch(&live_instances, 1, __ATOMIC_RELAXED);
    return p;
}

static int64_t cpaint_push(void *inst, uint32_t port, sluice_packet_view *pkts, uint32_t n, uint16_t *verdicts) {
    (void)port;
    (void)verdicts; /* preset to output 0: every packet goes on */
    struct cpaint *p = inst;
    const uint8_t color = p->color; /* read once: the stores below could alias *p */
    for (uint32_t i = 0; i < n; i++) {
        pkts[i].anno->paint = color;
    }
    p->count += n;
    return 0;
}

static int64_t cpaint_read(void *inst, const char *name, uint8_t *out, size_t cap) {
    struct cpaint *p = inst;
    char buf[64];
    int n;
    if (strcmp(name, "count") == 0) {
        n = snprintf(buf, sizeof buf, "%llu", (unsigned long long)p->count);
    } else if (strcmp(name, "color") == 0) {
        n = snprintf(buf, sizeof buf, "%u", (unsigned)p->color);
    } else if (strcmp(name, "live") == 0) {
        n = snprintf(buf, sizeof buf, "%ld", __atomic_load_n(&live_instances, __ATOMIC_RELAXED));
    } else if (strcmp(name, "version") == 0) {
        n = snprintf(buf, sizeof buf, "%d", CPAINT_VERSION);
    } else {
        return -1;
    }
    return put(buf, (size_t)n, out, cap);
}

static int64_t cpaint_write(void *inst, const char *name, const uint8_t *value, size_t len, uint8_t *err,
                            size_t err_cap) {
    struct cpaint *p = inst;
    if (strcmp(name, "color") == 0) {
        if (parse_color(value, len, &p->color) != 0) {
            put_str("color: expected an integer from 0 to 255", err, err_cap);
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "reset") == 0) {
        p->count = 0;
        return 0;
    }
    put_str("no such writable handler", err, err_cap);
    return -1;
}

/* State: "CPNT", format (u32), count (u64), little-endian. The color is configuration, so a
 * replacement keeps its own. */
static int64_t cpaint_take_state(void *inst, uint8_t *out, size_t cap) {
    struct cpaint *p = inst;
    uint8_t buf[16];
    uint32_t format = STATE_FORMAT;
    memcpy(buf, STATE_TAG, 4);
    for (int i = 0; i < 4; i++) buf[4 + i] = (uint8_t)(format >> (8 * i));
    for (int i = 0; i < 8; i++) buf[8 + i] = (uint8_t)(p->count >> (8 * i));
    return put((const char *)buf, sizeof buf, out, cap);
}

static int64_t cpaint_give_state(void *inst, const uint8_t *state, size_t len) {
    struct cpaint *p = inst;
    if (len < 16 || memcmp(state, STATE_TAG, 4) != 0 || state[4] != STATE_FORMAT) {
        return 0; /* not ours, or a format we do not know: start afresh */
    }
    uint64_t count = 0;
    for (int i = 0; i < 8; i++) count |= (uint64_t)state[8 + i] << (8 * i);
    p->count += count;
    return 0;
}

static void cpaint_destroy(void *inst) {
    free(inst);
    __atomic_sub_fetch(&live_instances, 1, __ATOMIC_RELAXED);
}

static const sluice_handler_desc handlers[] = {
    {"count", SLUICE_HANDLER_READ},
    {"color", SLUICE_HANDLER_READ | SLUICE_HANDLER_WRITE},
    {"reset", SLUICE_HANDLER_WRITE},
    {"live", SLUICE_HANDLER_READ},
    {"version", SLUICE_HANDLER_READ},
};

static const sluice_class_desc classes[] = {{
    .name = STR(CPAINT_CLASS),
    .ports = "1/1",
    .doc = STR(CPAINT_CLASS) "(COLOR)\n"
                             "\n"
                             "Sets the paint annotation to COLOR and counts packets (a plugin written in C).\n"
                             "\n"
                             "Handlers: count (read), color (read/write), reset (write), live (read: instances\n"
                             "alive in this copy of the library), version (read).",
    .handlers = handlers,
    .nhandlers = sizeof handlers / sizeof handlers[0],
    .create = cpaint_create,
    .push = cpaint_push,
    .read_handler = cpaint_read,
    .write_handler = cpaint_write,
    .take_state = cpaint_take_state,
    .give_state = cpaint_give_state,
    .destroy = cpaint_destroy,
}};

static const sluice_plugin_desc plugin = {
    .magic = SLUICE_PLUGIN_MAGIC,
    .abi_version = SLUICE_ABI_VERSION,
    .nclasses = sizeof classes / sizeof classes[0],
    .classes = classes,
    .name = "cpaint",
    .version = STR(CPAINT_VERSION) ".0",
};

SLUICE_PLUGIN_ENTRY { return &plugin; }
