"""labctl: network labs for teaching the transport layer."""

__version__ = "0.1.0"
