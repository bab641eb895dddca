"""The one service over the engine: up, down, status, exec, check, test, capture.

Owns the Engine (engine.py: up and down against a Runtime, with the per-instance
locks of locks.py), a lab's test sequence (lab_run.py, sequence.py, steps.py),
what a lab looks like to a caller (report.py, half_made.py), copies of its
captures (captures.py) and the classroom server's way in (operations.py). The
command line's local backend, the classroom server and the web pages all call
this layer. May import checks, trace, pcap, runtime and lab; never a caller.
"""
