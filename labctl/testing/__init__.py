"""Tools for testing labctl and rehearsing a class: a Docker Swarm on one machine (swarm.py).

Shipped with labctl (not kept under tests/): a course's CI and an instructor trying
`labctl serve --runtime swarm` before the class's hosts exist use it as labctl's own
tests do. Nothing in labctl imports it.
"""
