"""Printed outputs after the draw: bin sheets, letters, offers, the audit report, the office list."""
