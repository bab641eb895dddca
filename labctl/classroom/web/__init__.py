"""The web interface of `labctl serve`: server-rendered pages for students and instructors."""
