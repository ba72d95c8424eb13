"""Tabs of the main window."""
