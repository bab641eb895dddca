"""A pcap read as it arrives (live capture): bytes in, whole records out.

pcapread.Capture reads a complete file; a live stream ends anywhere, mid-header or
mid-packet. This keeps what is incomplete until the rest comes. Only the classic pcap
format: it is what tcpdump writes in the nodes.
"""

from __future__ import annotations

import struct

_MAGICS = {b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\x4d\x3c\xb2\xa1": ("<", 1),
           b"\xa1\xb2\xc3\xd4": (">", 1000), b"\xa1\xb2\x3c\x4d": (">", 1)}
_FILE_HEADER = 24
_RECORD_HEADER = 16


class PcapStream:
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._record: struct.Struct | None = None
        self._scale = 1000
        self.linktype: int | None = None

    def feed(self, chunk: bytes) -> list[tuple[int, bytes, int]]:
        """(timestamp in ns, frame, length on the wire) of every record now complete."""
        self._buffer += chunk
        buffer = self._buffer
        if self._record is None:
            if len(buffer) < _FILE_HEADER:
                return []
            found = _MAGICS.get(bytes(buffer[:4]))
            if found is None:
                raise ValueError("the stream is not a pcap (unknown magic number)")
            order, self._scale = found
            self._record = struct.Struct(order + "IIII")
            self.linktype = struct.unpack_from(order + "I", buffer, 20)[0] & 0xFFFF
            del buffer[:_FILE_HEADER]
        records, offset = [], 0
        while len(buffer) - offset >= _RECORD_HEADER:
            sec, frac, caplen, wirelen = self._record.unpack_from(buffer, offset)
            end = offset + _RECORD_HEADER + caplen
            if end > len(buffer):
                break
            records.append((sec * 1_000_000_000 + frac * self._scale,
                            bytes(buffer[offset + _RECORD_HEADER:end]), wirelen))
            offset = end
        del buffer[:offset]
        return records
