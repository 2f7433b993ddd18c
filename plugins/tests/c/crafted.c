/*
 * Crafted plugin libraries for Sluice's plugin safety tests. One source, many libraries:
 * the tests compile it with -D options into a temporary directory.
 *
 *   -DMAGIC=...            the descriptor's magic (default: the right one)
 *   -DABI=...              the descriptor's ABI version (default: the right one)
 *   -DNO_SYMBOL            export no sluice_plugin_v1 at all
 *   -DNULL_DESC            sluice_plugin_v1 returns NULL
 *   -DNCLASSES=0           a descriptor without classes
 *   -DCLASS='"Name"'       the class name (default "Crafted")
 *   -DPORTS='"1/9"'        the class's port counts (default "1/1")
 *
 * The class, Crafted(MODE), misbehaves in push as MODE says:
 *   pass        every packet to output 0
 *   drop_odd    drop every second packet (verdict SLUICE_VERDICT_DROP)
 *   verdict N   send every packet to output N
 *   before      move data before the start of the buffer
 *   beyond      grow len past the end of the buffer
 *   strip N     remove N bytes from the front (allowed)
 *   silent N    remove N bytes from the front, but return 0 (no SLUICE_PUSH_MOVED)
 *   type N      set the packet type annotation to N
 *   fail        return -1 from push
 */
#include "sluice_plugin.h"

#include <stdlib.h>
#include <string.h>

#ifndef MAGIC
#define MAGIC SLUICE_PLUGIN_MAGIC
#endif
#ifndef ABI
#define ABI SLUICE_ABI_VERSION
#endif
#ifndef NCLASSES
#define NCLASSES 1
#endif
#ifndef CLASS
#define CLASS "Crafted"
#endif
#ifndef PORTS
#define PORTS "1/1"
#endif

enum mode { PASS, DROP_ODD, VERDICT, BEFORE, BEYOND, STRIP, SILENT, TYPE, FAIL };

struct crafted {
    enum mode mode;
    long arg;
    uint64_t count;
};

static int64_t put(const char *s, uint8_t *out, size_t cap) {
    size_t n = strlen(s);
    if (out) memcpy(out, s, n < cap ? n : cap);
    return (int64_t)n;
}

static void *create(const uint8_t *config, size_t len, const sluice_build_info *info, uint8_t *err, size_t cap) {
    (void)info;
    char buf[64] = {0};
    if (len >= sizeof buf) len = sizeof buf - 1;
    memcpy(buf, config, len);
    struct crafted c = {PASS, 0, 0};
    static const struct { const char *word; enum mode mode; } words[] = {
        {"pass", PASS}, {"drop_odd", DROP_ODD}, {"verdict", VERDICT}, {"before", BEFORE},
        {"beyond", BEYOND}, {"strip", STRIP}, {"silent", SILENT}, {"type", TYPE}, {"fail", FAIL},
    };
    size_t k;
    for (k = 0; k < sizeof words / sizeof words[0]; k++) {
        size_t w = strlen(words[k].word);
        if (strncmp(buf, words[k].word, w) == 0 && (buf[w] == '\0' || buf[w] == ' ')) {
            c.mode = words[k].mode;
            c.arg = strtol(buf + w, NULL, 0);
            break;
        }
    }
    if (k == sizeof words / sizeof words[0]) {
        put("unknown MODE", err, cap);
        return NULL;
    }
    struct crafted *p = malloc(sizeof *p);
    if (p) *p = c;
    return p;
}

static int64_t push(void *inst, uint32_t port, sluice_packet_view *pkts, uint32_t n, uint16_t *verdicts) {
    (void)port;
    struct crafted *c = inst;
    c->count += n;
    for (uint32_t i = 0; i < n; i++) {
        sluice_packet_view *p = &pkts[i];
        switch (c->mode) {
        case PASS: break;
        case DROP_ODD: if (i % 2 == 1) verdicts[i] = SLUICE_VERDICT_DROP; break;
        case VERDICT: verdicts[i] = (uint16_t)c->arg; break;
        case BEFORE: p->data -= p->headroom + 1; p->len += p->headroom + 1; break;
        case BEYOND: p->len += p->tailroom + 1; break;
        case STRIP: p->data += c->arg; p->len -= (uint32_t)c->arg; break;
        case SILENT: p->data += c->arg; p->len -= (uint32_t)c->arg; break;
        case TYPE: p->anno->packet_type = (uint8_t)c->arg; break;
        case FAIL: return -1;
        }
    }
    /* Version 1 had no flag: its host checks every packet anyway. */
    return (c->mode == BEFORE || c->mode == BEYOND || c->mode == STRIP) && ABI >= 2 ? SLUICE_PUSH_MOVED : 0;
}

static int64_t read_handler(void *inst, const char *name, uint8_t *out, size_t cap) {
    struct crafted *c = inst;
    if (strcmp(name, "count") != 0) return -1;
    char buf[32];
    int i = sizeof buf - 1;
    buf[i] = '\0';
    uint64_t v = c->count;
    do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    return put(buf + i, out, cap);
}

static int64_t write_handler(void *inst, const char *name, const uint8_t *value, size_t len, uint8_t *err,
                             size_t cap) {
    (void)inst; (void)name; (void)value; (void)len;
    put("not writable", err, cap);
    return -1;
}

static int64_t take_state(void *inst, uint8_t *out, size_t cap) { (void)inst; (void)out; (void)cap; return 0; }
static int64_t give_state(void *inst, const uint8_t *s, size_t len) { (void)inst; (void)s; (void)len; return 0; }
static void destroy(void *inst) { free(inst); }

static const sluice_handler_desc handlers[] = {{"count", SLUICE_HANDLER_READ}};

static const sluice_class_desc classes[] = {{
    .name = CLASS,
    .ports = PORTS,
    .doc = "Crafted(MODE)\n\nMisbehaves as MODE says (a test element).",
    .handlers = handlers,
    .nhandlers = 1,
    .create = create,
    .push = push,
    .read_handler = read_handler,
    .write_handler = write_handler,
    .take_state = take_state,
    .give_state = give_state,
    .destroy = destroy,
}};

static const sluice_plugin_desc plugin = {
    .magic = MAGIC,
    .abi_version = ABI,
    .nclasses = NCLASSES,
    .classes = classes,
    .name = "crafted",
    .version = "0",
};

#ifdef NO_SYMBOL
SLUICE_EXPORT const sluice_plugin_desc *sluice_plugin_v2(void) { return &plugin; }
#elif defined(NULL_DESC)
SLUICE_PLUGIN_ENTRY { return NULL; }
#else
SLUICE_PLUGIN_ENTRY { return &plugin; }
#endif
