"""Thin trigger adapters, one blueprint per area: parse, call shared code, return."""
