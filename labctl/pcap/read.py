"""Walk the records of a pcap or pcapng capture, keeping what is sound.

File and block headers are decoded with dpkt's classes (pcap FileHdr and
PktHdr, pcapng SHB/IDB/EPB/SPB/PB). dpkt's own readers stop silently at a
damaged record, assume one interface per pcapng file and cannot say where
they stopped, so the records are walked here with dpkt's header layouts:
each record is checked against what remains of the file and against its
interface's snapshot length. The first record that fails ends the walk and
is reported as a `Damage` naming its byte offset, as Wireshark reports
"cut short in the middle of a packet". A section of a pcapng version other
than 1.0 or 1.2 is refused as Wireshark refuses it: the whole file when it is
the first section (ValueError), else as the damage ending the walk. A file of
0 bytes is an empty capture (format "empty file"), as tshark reads it.

Records come out as plain tuples (time in integer nanoseconds, interface
index, frame bytes, original length) because a 240,000-packet capture must
be read in well under a second. Times stay integers, as Wireshark keeps
them: a float of seconds since 1970 holds only about a quarter of a
microsecond, enough to flip Wireshark's "within the round-trip time" tests.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

import dpkt
from dpkt import pcap, pcapng

MAX_RECORD = 262_144 * 4  # beyond any snaplen a capture tool writes: a corrupt length


@dataclass(frozen=True)
class Interface:
    linktype: int
    name: str = ""
    snaplen: int = 0


class UnsupportedVersion(ValueError):
    """A pcapng whose first section is of a version labctl (as Wireshark) does not read."""


@dataclass(frozen=True)
class Damage:
    offset: int
    reason: str

    def __str__(self) -> str:
        return f"capture damaged at byte {self.offset}: {self.reason}; read what came before"


@dataclass
class Capture:
    """A capture's interfaces, and after iteration, where (if anywhere) it was damaged."""

    data: bytes
    format: str = ""  # "pcap" or "pcapng"
    interfaces: list[Interface] = field(default_factory=list)
    damage: Damage | None = None

    def records(self) -> Iterator[tuple[int, int, bytes, int]]:
        if not self.data:
            # A capture that has not begun (tcpdump writes its header with the first
            # packet when buffered): an empty capture, as tshark reads it.
            self.format = "empty file"
            return iter(())
        if self.data[:4] == b"\x0a\x0d\x0d\x0a":
            self.format = "pcapng"
            if len(self.data) >= 16:
                problem = _section_version_problem(self.data, 0)
                if problem:  # the first section: nothing can be read, as tshark refuses it
                    raise UnsupportedVersion(problem)
            return self._pcapng()
        self.format = "pcap"
        return self._pcap(*self._pcap_header())

    # -- pcap ---------------------------------------------------------------
    def _pcap_header(self):
        data = self.data
        magic = data[:4]
        little = magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
        if not little and magic not in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            raise ValueError("neither pcap nor pcapng (unknown magic number)")
        header_cls = pcap.LEFileHdr if little else pcap.FileHdr
        if len(data) < header_cls.__hdr_len__:
            raise ValueError("pcap file header cut short")
        header = header_cls(data[:header_cls.__hdr_len__])
        nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        scale = 1 if nano else 1000  # the fraction's unit in nanoseconds
        # The link type's upper bits carry FCS flags in newer libpcap: keep the low 16.
        self.interfaces = [Interface(header.linktype & 0xFFFF, "", header.snaplen)]
        return header, header_cls.__hdr_len__, scale, little

    def _pcap(self, header, header_len: int, scale: int, little: bool
              ) -> Iterator[tuple[int, int, bytes, int]]:
        data = self.data
        record = struct.Struct(("<" if little else ">") + "IIII")
        limit = max(header.snaplen, 65_535)
        offset, end = header_len, len(data)
        unpack = record.unpack_from
        while offset < end:
            if end - offset < 16:
                self.damage = Damage(offset, "record header cut short")
                return
            sec, frac, caplen, wirelen = unpack(data, offset)
            if caplen > limit or caplen > MAX_RECORD:
                self.damage = Damage(offset, f"record length {caplen} exceeds the "
                                             f"snapshot length {header.snaplen}")
                return
            start = offset + 16
            if start + caplen > end:
                self.damage = Damage(offset, f"packet of {caplen} bytes cut short after "
                                             f"{end - start}")
                return
            yield sec * 1_000_000_000 + frac * scale, 0, data[start:start + caplen], wirelen
            offset = start + caplen

    # -- pcapng -------------------------------------------------------------
    def _pcapng(self) -> Iterator[tuple[int, int, bytes, int]]:
        data, offset, end = self.data, 0, len(self.data)
        little = True
        section_base = 0  # interfaces are numbered per section; keep one global list
        resolutions: list[tuple[int, int]] = []  # (units per second, offset in s)
        while offset < end:
            if end - offset < 12:
                self.damage = Damage(offset, "block header cut short")
                return
            block_type = struct.unpack_from("<I", data, offset)[0]
            if block_type == pcapng.PCAPNG_BT_SHB:
                bom = data[offset + 8:offset + 12]
                little = bom == b"\x4d\x3c\x2b\x1a"
                if not little and bom != b"\x1a\x2b\x3c\x4d":
                    self.damage = Damage(offset, "section header with an unknown byte order")
                    return
                section_base = len(self.interfaces)
                problem = _section_version_problem(data, offset) if end - offset >= 16 else ""
                if problem:
                    self.damage = Damage(offset, problem)
                    return
            order = "<" if little else ">"
            block_type, length = struct.unpack_from(order + "II", data, offset)
            if length < 12 or length % 4 or length > MAX_RECORD + 64:
                self.damage = Damage(offset, f"block length {length} is not valid")
                return
            if offset + length > end:
                self.damage = Damage(offset, f"block of {length} bytes cut short after "
                                             f"{end - offset}")
                return
            trailer = struct.unpack_from(order + "I", data, offset + length - 4)[0]
            if trailer != length:
                self.damage = Damage(offset, "block lengths at its start and end differ")
                return
            block = data[offset:offset + length]
            try:
                record = self._block(block_type, block, little, section_base, resolutions)
            except (dpkt.UnpackError, dpkt.NeedData, struct.error, IndexError) as exc:
                self.damage = Damage(offset, f"block could not be decoded ({exc})")
                return
            if record is not None:
                yield record
            offset += length

    def _block(self, block_type: int, block: bytes, little: bool, section_base: int,
               resolutions: list[tuple[int, int]]):
        if block_type == pcapng.PCAPNG_BT_IDB:
            idb = (pcapng.InterfaceDescriptionBlockLE if little
                   else pcapng.InterfaceDescriptionBlock)(block)
            divisor, tsoffset, name = 1_000_000, 0, ""
            for opt in idb.opts:
                if opt.code == pcapng.PCAPNG_OPT_IF_TSRESOL:
                    value = opt.data[0]
                    divisor = (2 if value & 0x80 else 10) ** (value & 0x7F)
                elif opt.code == pcapng.PCAPNG_OPT_IF_TSOFFSET:
                    tsoffset = struct.unpack("<q" if little else ">q", opt.data[:8])[0]
                elif opt.code == pcapng.PCAPNG_OPT_IF_NAME:
                    name = opt.data.decode("utf-8", "replace").rstrip("\x00")
            self.interfaces.append(Interface(idb.linktype, name, idb.snaplen))
            resolutions.append((divisor, tsoffset))
            return None
        order = "<" if little else ">"
        if block_type == pcapng.PCAPNG_BT_EPB:
            iface, high, low, caplen, wirelen = struct.unpack_from(order + "IIIII", block, 8)
            index = section_base + iface
            if index >= len(self.interfaces) or 28 + caplen > len(block) - 4:
                raise dpkt.UnpackError("packet for an undeclared interface or beyond its block")
            return (_nanoseconds((high << 32) | low, *resolutions[index]), index,
                    block[28:28 + caplen], wirelen)
        if block_type == pcapng.PCAPNG_BT_SPB:
            if section_base >= len(self.interfaces):
                raise dpkt.UnpackError("simple packet before any interface")
            wirelen = struct.unpack_from(order + "I", block, 8)[0]
            caplen = min(wirelen, self.interfaces[section_base].snaplen or wirelen,
                         len(block) - 16)
            return 0, section_base, block[12:12 + caplen], wirelen
        if block_type == pcapng.PCAPNG_BT_PB:
            iface, _, high, low, caplen, wirelen = struct.unpack_from(order + "HHIIII",
                                                                       block, 8)
            index = section_base + iface
            return (_nanoseconds((high << 32) | low, *resolutions[index]), index,
                    block[28:28 + caplen], wirelen)
        return None  # name resolution, statistics, custom blocks: nothing to decode


PCAPNG_VERSIONS = ((1, 0), (1, 2))  # what Wireshark reads: 1.2 is written as 1.0 is


def _section_version_problem(data: bytes, offset: int) -> str:
    """Why a pcapng section cannot be read ("" when it can): an unknown version."""
    bom = data[offset + 8:offset + 12]
    order = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
    version = struct.unpack_from(order + "HH", data, offset + 12)
    if bom not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d") or version in PCAPNG_VERSIONS:
        return ""  # a byte order unknown is reported where the walk meets it
    return (f"pcapng section of version {version[0]}.{version[1]}: labctl reads versions 1.0 "
            "and 1.2, as Wireshark does")


def _nanoseconds(units: int, per_second: int, offset: int) -> int:
    return offset * 1_000_000_000 + units * 1_000_000_000 // per_second
