"""Packet capture files: read (pcap and pcapng, damaged ones up to the damage),
decode frames of every link type labctl knows, read a live stream, write and
generate. Knows nothing of TCP analysis or labs. May import only labctl.errors.
"""
