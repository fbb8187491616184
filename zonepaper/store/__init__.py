"""SQLite storage: the database, its numbered migrations and the append-only event log."""
