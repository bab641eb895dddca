"""What the captured packets say, drawn the way the course draws it.

Owns the TCP analysis with Wireshark's definitions (analysis.py,
tcp_sequence.py), the course's views (views.py: segment list, ladder, SVG, HTML,
JSON; layers.py: the per-packet layer tables), their terminal rendering
(terminal.py), live following (follow.py) and `labctl trace` itself
(command.py). May import pcap, labctl.errors and labctl.console.
"""
