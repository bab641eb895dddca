"""The classroom: a server that owns the engine for a class, and its clients.

classroom/server is `labctl serve` (FastAPI): identity, access, quotas, the
API and the instructors' class routes; classroom/web its pages; classroom/client
the CLI's side of the API (HTTP, the shell over a WebSocket). grades.py,
roster.py and grade_formats.py are a class's grades as data and their formats.
May import the service layer and everything below it; never the CLI.
"""
