/* Prints the size and field offsets of every type in sluice_plugin.h, and its constants, one
 * "name value" per line; the abi test compares them with plugins/src/abi.rs. */
#include "sluice_plugin.h"

#include <inttypes.h>
#include <stdio.h>

#define SIZE(t) printf(#t " %zu\n", sizeof(t))
#define OFF(t, f) printf(#t "." #f " %zu\n", offsetof(t, f))

int main(void) {
    SIZE(sluice_annotations);
    OFF(sluice_annotations, dst_ip);
    OFF(sluice_annotations, paint);
    OFF(sluice_annotations, packet_type);
    OFF(sluice_annotations, vlan_tci);
    OFF(sluice_annotations, reserved);
    OFF(sluice_annotations, timestamp_ns);
    OFF(sluice_annotations, user);
    SIZE(sluice_packet_view);
    OFF(sluice_packet_view, data);
    OFF(sluice_packet_view, len);
    OFF(sluice_packet_view, headroom);
    OFF(sluice_packet_view, tailroom);
    OFF(sluice_packet_view, flags);
    OFF(sluice_packet_view, anno);
    SIZE(sluice_build_info);
    OFF(sluice_build_info, name);
    OFF(sluice_build_info, ninputs);
    OFF(sluice_build_info, noutputs);
    OFF(sluice_build_info, worker);
    OFF(sluice_build_info, nworkers);
    SIZE(sluice_handler_desc);
    OFF(sluice_handler_desc, name);
    OFF(sluice_handler_desc, flags);
    SIZE(sluice_class_desc);
    OFF(sluice_class_desc, name);
    OFF(sluice_class_desc, ports);
    OFF(sluice_class_desc, doc);
    OFF(sluice_class_desc, handlers);
    OFF(sluice_class_desc, nhandlers);
    OFF(sluice_class_desc, create);
    OFF(sluice_class_desc, push);
    OFF(sluice_class_desc, read_handler);
    OFF(sluice_class_desc, write_handler);
    OFF(sluice_class_desc, take_state);
    OFF(sluice_class_desc, give_state);
    OFF(sluice_class_desc, destroy);
    SIZE(sluice_plugin_desc);
    OFF(sluice_plugin_desc, magic);
    OFF(sluice_plugin_desc, abi_version);
    OFF(sluice_plugin_desc, nclasses);
    OFF(sluice_plugin_desc, classes);
    OFF(sluice_plugin_desc, name);
    OFF(sluice_plugin_desc, version);
    printf("SLUICE_PLUGIN_MAGIC %" PRIu64 "\n", SLUICE_PLUGIN_MAGIC);
    printf("SLUICE_ABI_VERSION %u\n", SLUICE_ABI_VERSION);
    printf("SLUICE_ENTRY_SYMBOL %s\n", SLUICE_ENTRY_SYMBOL);
    printf("SLUICE_VERDICT_DROP %u\n", (unsigned)SLUICE_VERDICT_DROP);
    printf("SLUICE_ERR_PANIC %" PRId64 "\n", SLUICE_ERR_PANIC);
    printf("SLUICE_PUSH_MOVED %" PRId64 "\n", SLUICE_PUSH_MOVED);
    printf("SLUICE_VIEW_MOVED %u\n", SLUICE_VIEW_MOVED);
    printf("SLUICE_HANDLER_READ %u\n", SLUICE_HANDLER_READ);
    printf("SLUICE_HANDLER_WRITE %u\n", SLUICE_HANDLER_WRITE);
    printf("SLUICE_MAX_OUTPUTS %d\n", SLUICE_MAX_OUTPUTS);
    printf("SLUICE_PACKET_FASTROUTE %d\n", SLUICE_PACKET_FASTROUTE);
    return 0;
}
