#!/usr/bin/env python3
"""Independent reader for the ToIPSummaryDump round-trip test.

Reads a pcap with Python's struct module only and prints, for every IPv4 or IPv6 frame
(Ethernet, at most one 802.1Q tag, as FromDump's FORCE_IP finds them), the line Click's
ToIPSummaryDump writes for
  CONTENTS ts ip_src ip_dst ip_len ip_proto ip_id ip_ttl ip_tos ip_frag ip_fragoff
           sport dport tcp_seq tcp_ack tcp_flags tcp_window payload_len icmp_type icmp_code
following the field definitions of Click's elements/analysis/ipsumdump_*.cc (documented
formats: 'T'/'U'/'I' protocols, FSRPAUECN flag letters with the 'PA'/'A'/'.' special cases,
'-' for absent fields, fragment offsets in bytes with '+' for MF and '!' for DF).
Usage: expected.py FILE.pcap
"""
import struct
import sys

def main(path):
    data = open(path, 'rb').read()
    magic = struct.unpack('<I', data[:4])[0]
    endian = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    nano = struct.unpack(endian + 'I', data[:4])[0] == 0xa1b23c4d
    pos = 24
    out = []
    while pos + 16 <= len(data):
        sec, sub, caplen, origlen = struct.unpack(endian + 'IIII', data[pos:pos + 16])
        frame = data[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen
        ns = sub if nano else sub * 1000
        ts = '%d.%06d' % (sec, ns // 1000) if ns % 1000 == 0 else '%d.%09d' % (sec, ns)
        if len(frame) < 14:
            continue
        et = struct.unpack('>H', frame[12:14])[0]
        off = 14
        if et == 0x8100 and len(frame) >= 18:
            et = struct.unpack('>H', frame[16:18])[0]
            off = 18
        if et not in (0x0800, 0x86dd):
            continue  # FORCE_IP drops it
        extra = origlen - caplen
        ip = frame[off:]
        if et != 0x0800 or len(ip) < 20 or ip[0] >> 4 != 4 or ip[0] & 15 < 5 \
                or struct.unpack('>H', ip[2:4])[0] < (ip[0] & 15) * 4:
            # No valid IPv4 header: ip_len and payload_len are the whole packet's length.
            n = str(len(frame) + extra)
            out.append(' '.join([ts, '-', '-', n] + ['-'] * 12 + [n, '-', '-']))
            continue
        hl = (ip[0] & 15) * 4
        tot = struct.unpack('>H', ip[2:4])[0]
        ipid = struct.unpack('>H', ip[4:6])[0]
        fo = struct.unpack('>H', ip[6:8])[0]
        proto = ip[9]
        src = '.'.join(str(b) for b in ip[12:16])
        dst = '.'.join(str(b) for b in ip[16:20])
        nl = min(len(ip), tot)  # network length without Ethernet padding
        first = fo & 0x1fff == 0
        if fo & 0x3fff & ~0x4000:
            frag = 'F' if first else 'f'
        else:
            frag = '!' if fo & 0x4000 else '.'
        fragoff = str((fo & 0x1fff) * 8) + ('+' if fo & 0x2000 else '') + ('!' if fo & 0x4000 else '')
        pname = {6: 'T', 17: 'U', 1: 'I'}.get(proto, str(proto))
        t = ip[hl:nl]
        tl = len(t)
        deep = nl > hl and first
        sport = dport = seq = ack = flags = win = itype = icode = '-'
        if deep and proto in (6, 17, 33, 136):
            if tl >= 2:
                sport = str(struct.unpack('>H', t[0:2])[0])
            if tl >= 4:
                dport = str(struct.unpack('>H', t[2:4])[0])
        tcp_ok = deep and proto == 6 and not (tl > 12 and t[12] >> 4 < 5)
        if tcp_ok:
            if tl >= 8:
                seq = str(struct.unpack('>I', t[4:8])[0])
            if tl >= 12:
                ack = str(struct.unpack('>I', t[8:12])[0])
            if tl >= 14:
                v = t[13] | ((t[12] & 15) << 8)
                if v == 0x18:
                    flags = 'PA'
                elif v == 0x10:
                    flags = 'A'
                elif v == 0:
                    flags = '.'
                else:
                    flags = ''.join(c for i, c in enumerate('FSRPAUECN') if v & (1 << i))
            if tl >= 16:
                win = str(struct.unpack('>H', t[14:16])[0])
        if deep and proto == 1:
            if tl >= 1:
                itype = str(t[0])
            if tl >= 2:
                icode = str(t[1])
        poff = hl
        if first:
            if proto == 6:
                poff += (t[12] >> 4) * 4 if tl >= 13 and (t[12] >> 4) * 4 >= 20 else 20
            elif proto in (17, 136):
                poff += 8
        plen = (tot - poff) & 0xffffffff
        out.append(' '.join([ts, src, dst, str(tot), pname, str(ipid), str(ip[8]), str(ip[1]), frag, fragoff,
                             sport, dport, seq, ack, flags, win, str(plen), itype, icode]))
    print('\n'.join(out))

main(sys.argv[1])
