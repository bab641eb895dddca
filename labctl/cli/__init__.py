"""The command line: `labctl` and its commands.

entry.py is the console script: one click command group whose commands are imported
when they run (up_command.py, down_command.py, lab_commands.py, authoring_commands.py,
packet_commands.py, image_commands.py, serve_commands.py, class_commands.py); params.py
declares what several commands share; examples.py holds every command's examples;
exit_path.py turns every outcome into one line and an exit code; backends/ chooses where
a command goes (this host's engine through the service layer, or a classroom server
through its client). The top layer: may import anything, nothing imports it.
"""
