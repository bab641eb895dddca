"""The classroom server: one process owns the container engine; students reach it
through a Unix socket (identity from the kernel) or HTTPS (per-user tokens).

Owns identity (identity.py, transport.py), access and audit, tokens, quotas and the
`up` queue (ups.py), the API routes (app.py, streams.py, class_routes.py) and what it
keeps (journal.py, class_state.py). Reaches the engine only through the service
layer. May import service and below, and classroom/web for its pages.
"""
