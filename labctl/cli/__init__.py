"""The command line: `labctl` and its commands.

entry.py is the console script; commands.py, serve_commands.py and
class_commands.py parse options and call one backend function each;
examples.py holds every command's examples; backends/ chooses where a command
goes (this host's engine through the service layer, or a classroom server
through its client). The top layer: may import anything, nothing imports it.
"""
