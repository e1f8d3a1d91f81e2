"""The numeric, rule and rendering cores stay free of Django (DESIGN.md, "Layout")."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORES = ["consent/rules", "audit/fairness", "scoring/engine", "reports/render"]


def existing_cores():
    return [core for core in CORES if (ROOT / core).is_dir()]


def test_the_consent_rules_exist_to_be_checked():
    assert "consent/rules" in existing_cores()


def test_no_core_module_imports_django():
    offenders = []
    for core in existing_cores():
        for path in (ROOT / core).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                offenders += [f"{path.relative_to(ROOT)}: {name}" for name in names if name.split(".")[0] == "django"]
    assert offenders == []


def test_the_import_linter_contract_names_every_core():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    [contract] = [c for c in config["contracts"] if "django" in c["forbidden_modules"]]
    assert set(contract["source_modules"]) == {core.replace("/", ".") for core in existing_cores()}


def test_the_import_linter_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
