"""Managers' reports (issue 15): read-only figures over the other features' read models,
asked through the kernel's ports (hotline.ports); see reports/wiring.py."""
