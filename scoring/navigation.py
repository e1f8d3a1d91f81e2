"""This app's entries in the menu (see core/navigation.py)."""

from core.navigation import NavLink

LINKS: list[NavLink] = [
    NavLink("Evaluation sets", "scoring:evaluation-sets", "scoring.view_evaluationset"),
    NavLink("Models", "scoring:models", "scoring.view_modelversion"),
]
