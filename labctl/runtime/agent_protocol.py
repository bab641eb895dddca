"""The lines the in-node agent writes to the container log (see node/agent.py)."""

READY = "labctl-agent: ready"
FAILED = "labctl-agent: failed:"
