"""This app's entries in the menu (see core/navigation.py)."""

from core.navigation import NavLink

LINKS: list[NavLink] = [
    NavLink("Policies", "audit:policies", "audit.view_auditpolicy"),
    NavLink("Audit runs", "audit:runs", "audit.view_auditrun"),
]
