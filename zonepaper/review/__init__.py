"""The review queue and its web app."""
