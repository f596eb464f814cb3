"""The publishing workflow: valid GitHub Actions (checked offline against the schema that
check-jsonschema vendors), running the README's two commands and deploying the built HTML."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def validate(path: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)]
    return subprocess.run(command, capture_output=True, text=True)


def test_workflow_is_valid_github_actions(tmp_path):
    result = validate(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yml"   # the validator must reject a misspelt key
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "runs_on:"))
    assert validate(broken).returncode != 0


def test_workflow_tests_builds_and_deploys_the_book():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    build = workflow["jobs"]["build"]["steps"]
    commands = [step.get("run", "") for step in build]
    assert "make test" in commands and "make book" in commands
    assert commands.index("make test") < commands.index("make book")
    upload = next(step for step in build if step.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert any(step.get("uses", "").startswith("actions/deploy-pages") for step in deploy["steps"])
    assert workflow["permissions"]["pages"] == "write" and workflow["permissions"]["id-token"] == "write"
    assert workflow[True]["push"]["branches"] == ["main"]   # YAML 1.1 reads the key `on` as True
