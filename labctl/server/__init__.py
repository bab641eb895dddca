"""The classroom server: one process owns the container engine; students reach it
through a Unix socket (identity from the kernel) or HTTPS (per-user tokens)."""
