"""Database lifecycle: the embedded server, bootstrap of databases, schemas and roles."""
