"""Interview prep: every question is complete, its evidence exists, and practice mode works."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from labkit import interview
from labkit.settings import REPO_ROOT

QUESTIONS = interview.load_questions()
GUIDE_QUESTIONS = {
    "feature-store-architecture",
    "realtime-recommender-batch-and-streaming",
    "feature-drift-monitoring",
    "training-serving-consistency",
}


def _headings(notebook: Path) -> list[str]:
    nb = json.loads(notebook.read_text())
    heads = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            src = "".join(cell["source"])
            heads += [h.strip() for h in re.findall(r"^#{1,6}\s+(.+)$", src, flags=re.M)]
    return heads


def test_enough_questions_across_levels():
    assert len(QUESTIONS) >= 20, "the guide's four questions plus at least sixteen more"
    assert {q.id for q in QUESTIONS} >= GUIDE_QUESTIONS
    assert {q.level for q in QUESTIONS} == set(interview.LEVELS)


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_question_has_every_part(q):
    assert len(q.sections["Answer"].split()) >= 120, f"{q.path.name}: the worked answer is too thin"
    assert q.followups and all(len(a.split()) >= 15 for _, a in q.followups), f"{q.path.name}: follow-ups need answers"
    rubric = q.sections["Rubric"]
    assert "### Strong" in rubric and "### Weak" in rubric, f"{q.path.name}: rubric needs Strong and Weak parts"
    assert q.evidence, f"{q.path.name}: link at least one notebook where the learner saw it happen"


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_evidence_links_resolve_to_notebook_sections(q):
    for ev in q.evidence:
        nb = REPO_ROOT / ev["notebook"]
        assert nb.is_file(), f"{q.path.name}: {ev['notebook']} does not exist"
        heads = _headings(nb)
        assert any(ev["section"].lower() in h.lower() for h in heads), (
            f"{q.path.name}: no heading containing {ev['section']!r} in {ev['notebook']}; headings: {heads}"
        )


def _recorded_metric_patterns() -> list[re.Pattern]:
    """Every metric name passed to record(...) in the lab's notebooks and modules, as a regex
    (an f-string part such as {slug} matches any one dotted segment)."""
    sources = [
        p
        for d in ("notebooks", "benchmarks", "feature_repo", "streaming", "serving", "pipelines", "monitoring")
        for p in (REPO_ROOT / d).rglob("*")
        if p.suffix in (".py", ".ipynb")
    ]
    text = "\n".join(p.read_text(errors="ignore") for p in sources).replace('\\"', '"')
    names = set(re.findall(r"record\(\s*f?[\"']([a-z0-9_.{}]+)[\"']", text))
    return [re.compile("^" + re.sub(r"\\\{[^}]*\\\}", r"[a-z0-9_.]+", re.escape(n)) + "$") for n in names]


@pytest.mark.parametrize("q", [q for q in QUESTIONS if q.metrics], ids=lambda q: q.id)
def test_cited_metrics_are_recorded_somewhere(q):
    """Each metric an answer cites must be recorded by some notebook, module or benchmark."""
    patterns = _recorded_metric_patterns()
    for key, spec in q.metrics.items():
        assert any(p.match(spec["name"]) for p in patterns), (
            f"{q.path.name}: metric {spec['name']!r} ({key}) is recorded nowhere"
        )
        assert "{" + key + "}" in "".join(q.sections.values()), f"{q.path.name}: metric {key} is never cited"


def test_placeholders_render_from_results(tmp_path, monkeypatch):
    from labkit import results
    from labkit.settings import load_settings

    settings = load_settings({"LAB_HOME": str(tmp_path)})
    q = next(q for q in QUESTIONS if q.metrics)
    key, spec = next(iter(q.metrics.items()))
    before = q.render("Answer", settings)
    assert "not measured yet" in before
    results.record(spec["name"], 1.234, spec.get("unit", ""), settings=settings, **spec.get("context", {}))
    after = q.render("Answer", settings)
    assert "1.23" in after and "your run" in after


def test_bad_question_file_gets_a_clear_error(tmp_path):
    (tmp_path / "x.md").write_text("---\nid: x\ntitle: t\nlevel: expert\ntopics: [a]\n---\n## Answer\nok\n")
    with pytest.raises(interview.QuestionFormatError, match="level 'expert'"):
        interview.load_questions(tmp_path)
    (tmp_path / "x.md").write_text("---\nid: x\ntitle: t\nlevel: easy\ntopics: [a]\n---\n## Answer\nok\n")
    with pytest.raises(interview.QuestionFormatError, match="Follow-ups"):
        interview.load_questions(tmp_path)


def test_practice_mode_runs_and_keeps_scores(tmp_path):
    env = {"LAB_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    # reveal the answer, skip follow-ups, score 2, then quit at the next question
    proc = subprocess.run(
        [sys.executable, "-m", "labkit", "quiz", "--seed", "1"],
        input="\ns\n2\nq\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Rubric" in proc.stdout and "Score yourself" in proc.stdout
    scores = [json.loads(line) for line in (tmp_path / "interview_scores.jsonl").read_text().splitlines()]
    assert len(scores) == 1 and scores[0]["score"] == 2
    weak = subprocess.run(
        [sys.executable, "-m", "labkit", "quiz", "--weak"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert weak.returncode == 0 and "mean 2.0/3" in weak.stdout


def test_practice_mode_rejects_unknown_filters(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "labkit", "quiz", "--topic", "no-such-topic"],
        capture_output=True,
        text=True,
        env={"LAB_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert proc.returncode == 2 and "no question matches" in proc.stderr


def test_readme_index_lists_every_question():
    readme = (REPO_ROOT / "interview_prep" / "README.md").read_text()
    assert interview.render_index(QUESTIONS) in readme, (
        "interview_prep/README.md is out of date: run "
        "`python -c 'from labkit.interview import refresh_index; refresh_index()'`"
    )


def test_practice_notebook_runs(tmp_path, monkeypatch):
    import papermill as pm

    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    out = tmp_path / "practice.ipynb"
    pm.execute_notebook(
        str(REPO_ROOT / "interview_prep" / "practice.ipynb"),
        str(out),
        parameters={"SEED": 3, "LEVEL": "hard"},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(REPO_ROOT),
    )
    scores = (tmp_path / "interview_scores.jsonl").read_text().splitlines()
    assert len(scores) == 1 and json.loads(scores[0])["score"] == 2
    text = out.read_text()
    assert "### Strong" in text and "### Weak" in text, "the rubric cell should have rendered the rubric"
    assert "[hard]" in text, "the practice notebook should have shown a hard question"
