"""The client side of the classroom server's API: requests over the Unix socket or
HTTPS (api.py, class_api.py) and an interactive shell over a WebSocket (shell.py).
May import labctl.errors and the classroom server's config; nothing of the engine.
"""
