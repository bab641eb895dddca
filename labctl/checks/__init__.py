"""Checks run against a running lab: the facts of each node fetched once (run.py,
testinfra_host.py), then every check of the lab judged by its kind's function
(declared in labctl.lab.check_kinds). May import trace, pcap, runtime and lab.
"""
