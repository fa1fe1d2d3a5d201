"""The GitHub workflow (.github/workflows/ci.yml), which cannot run here:
`make lint` checks it with actionlint; this checks that it runs only make
targets that exist, and every check that .ci/run runs."""

import re

from conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def make_targets():
    return set(re.findall(r"^([a-zA-Z0-9_-]+):.*## ", (ROOT / "Makefile").read_text(), re.MULTILINE))


def called_targets(text):
    return re.findall(r"\bmake ([a-zA-Z0-9_-]+)", text)


def workflow_calls():
    """The make targets the workflow's steps run (not those its comments name)."""
    return called_targets("\n".join(re.findall(r"run: (.*)", WORKFLOW.read_text())))


def test_the_workflow_calls_only_make_targets_that_exist():
    called = workflow_calls()
    assert called, "the pattern still finds the workflow's make calls"
    assert sorted(set(called) - make_targets()) == []


def test_the_workflow_runs_what_ci_runs():
    """Every make target .ci/run calls (lint, test, e2e, ...) but the
    newcomer's `make up`/`make down` walk, which the stack suite covers."""
    ci = set(called_targets((ROOT / ".ci" / "run").read_text())) - {"up", "down"}
    assert ci, "the pattern still finds .ci/run's make calls"
    assert sorted(ci - set(workflow_calls())) == []
