"""The numeric, rule and rendering cores stay free of Django (DESIGN.md, "Layout")."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORES = ["audit/fairness", "scoring/engine", "reports/render", "consent/rules"]


def existing_cores():
    return [core for core in CORES if (ROOT / core).is_dir()]


def imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            names += [
                arg.value for arg in node.args[:1] if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            ]
    return names


def test_the_consent_rules_exist_to_be_checked():
    assert "consent/rules" in existing_cores()
    assert list((ROOT / "consent/rules").glob("*.py"))


def test_no_core_module_imports_django():
    offenders, scanned = [], 0
    for core in existing_cores():
        for path in sorted((ROOT / core).rglob("*.py")):
            scanned += 1
            offenders += [
                f"{path.relative_to(ROOT)}: {name}" for name in imported_modules(path) if name.split(".")[0] == "django"
            ]
    assert scanned >= len(list((ROOT / "consent/rules").glob("*.py")))
    assert offenders == []


def test_the_scan_would_see_a_django_import(tmp_path):
    module = tmp_path / "sneaky.py"
    module.write_text("import os\nfrom django.conf import settings\nimportlib.import_module('django.db')\n")
    assert imported_modules(module) == ["os", "django.conf", "django.db"]


def test_the_import_linter_contract_names_every_core():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    guarded = {
        module
        for contract in config["contracts"]
        if contract["type"] == "forbidden" and "django" in contract["forbidden_modules"]
        for module in contract["source_modules"]
    }
    missing = {core.replace("/", ".") for core in existing_cores()} - guarded
    assert missing == set()
    root_packages = set(config.get("root_packages", [config.get("root_package")]))
    assert {core.split("/")[0] for core in existing_cores()} <= root_packages


def test_the_import_linter_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    assert lint_imports.exists(), f"{lint_imports} is missing: install the dev extras"
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower() or "0 broken" in result.stdout.lower()
