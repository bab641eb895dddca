"""Code that runs inside lab containers. Python standard library only."""
