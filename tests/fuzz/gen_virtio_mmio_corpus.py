#!/usr/bin/env python3
"""Writes the seed corpus of virtio_mmio_fuzz (op encoding: see the target)."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "virtio_mmio")
ALL = 0xFFFFFFFFFFFFFFFF
V1 = 1 << 32
INDIRECT, EVENT_IDX = 1 << 28, 1 << 29


def bring_up(features=ALL, s0=8, s1=8):
    return bytes([5]) + struct.pack("<QBB", features, s0, s1)


def add(q, sgs, out, indirect=False):
    op = (8 if indirect else 7) | (q << 4) | ((len(sgs) - 1) << 5)
    b = bytes([op, out])
    for gpa, ln in sgs:
        b += struct.pack("<HH", gpa, ln)
    return b


def reap(q):
    return bytes([9 | (q << 4)])


def reg_write(off, val):
    return bytes([0, off // 4]) + struct.pack("<I", val)


def desc(q, idx, addr, ln, flags, nxt):
    return bytes([10 | (q << 4), idx]) + struct.pack("<QIBB", addr, ln, flags, nxt)


def publish(q, head):
    return bytes([11 | (q << 4) | 0x20]) + struct.pack("<H", head)


SEEDS = {
    "roundtrip": b"\x21" + bring_up() + add(0, [(0x100, 16), (0x200, 64)], 1)
    + reap(0) + b"\x0e",
    "indirect": b"\x00" + bring_up() + add(1, [(0x100, 8), (0x200, 8), (0x300, 8)], 1, True)
    + reap(1),
    "no_event_idx": b"\x00" + bring_up(V1) + add(0, [(0x400, 4)], 1) + bytes([13 | 0x20])
    + add(0, [(0x400, 4), (0x500, 4)], 1) + reap(0) + bytes([13]),
    "loop": b"\x00" + bring_up() + desc(0, 0, 0x100, 8, 1, 1) + desc(0, 1, 0x100, 8, 1, 0)
    + publish(0, 0) + bytes([4, 0]) + bytes([0, 0x70 // 4]) + b"\0\0\0\0" + bring_up(),
    "raw_negotiation": b"\x01" + reg_write(0x70, 1) + reg_write(0x70, 3)
    + reg_write(0x24, 1) + reg_write(0x20, 1) + reg_write(0x70, 11)
    + reg_write(0x30, 0) + reg_write(0x38, 3) + reg_write(0x44, 1) + reg_write(0x70, 15),
    "config_and_widths": b"\x00" + bring_up() + bytes([2 | 0x20]) + struct.pack("<HBQ", 0x104, 1, 7)
    + bytes([2]) + struct.pack("<HBQ", 0x70, 1, 0) + bytes([12 | 0x20]) + bytes([14]),
    "manual_device": b"\x00" + bring_up(V1 | INDIRECT | EVENT_IDX) + bytes([15])
    + add(0, [(0x100, 16), (0x200, 16)], 1) + add(0, [(0x300, 16)], 0)
    + bytes([15]) + reap(0),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"wrote {len(SEEDS)} seeds to {OUT}")
