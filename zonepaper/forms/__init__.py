"""Printing application forms from the layout, the zone and the translations."""
