"""Interview prep: every question is complete, and its evidence and numbers are real.

The question files are checked as files (headers, sections, rubric parts), independently of what the
parser in ``labkit.interview`` enforces, so a question cannot drift from the agreed format unnoticed.
Practice mode (``labkit quiz``, the practice notebook) is tested in ``test_practice.py``.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from pathlib import Path

import pytest
import yaml

from labkit import interview
from labkit.settings import REPO_ROOT

QUESTIONS = interview.load_questions()
QUESTION_FILES = sorted(interview.QUESTIONS_DIR.glob("*.md"))
GUIDE_QUESTIONS = {
    "feature-store-architecture",
    "realtime-recommender-batch-and-streaming",
    "feature-drift-monitoring",
    "training-serving-consistency",
}
MIN_QUESTIONS = 45
RUBRIC_PARTS = ("Strong", "Weak", "Red flags")

# Metrics a question may cite although none of ITS evidence notebooks records them: (question id,
# metric key) -> why. Such a metric must still be recorded by some notebook or benchmark. Keep this
# short: a number belongs next to the notebook where the learner saw it measured.
CITED_FROM_ELSEWHERE: dict[tuple[str, str], str] = {}


def _header(path: Path) -> dict:
    m = re.match(r"^---\n(.*?)\n---\n", path.read_text(), flags=re.S)
    assert m, f"{path.name}: no YAML header"
    return yaml.safe_load(m.group(1)) or {}


def _body(path: Path) -> str:
    return re.split(r"^---\n.*?\n---\n", path.read_text(), maxsplit=1, flags=re.S)[-1]


def _sections(text: str, level: int) -> dict[str, str]:
    marks = "#" * level
    parts = re.split(rf"^{marks} +(.+?)\s*$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


@functools.cache
def _notebook(path: str) -> dict:
    return json.loads((REPO_ROOT / path).read_text())


@functools.cache
def _headings(path: str) -> tuple[str, ...]:
    heads = []
    for cell in _notebook(path)["cells"]:
        if cell["cell_type"] == "markdown":
            src = "".join(cell["source"])
            heads += [h.strip() for h in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", src, flags=re.M)]
    return tuple(heads)


# -- what the lab records: metric name patterns and the context keys each call passes -----------
MISSING = object()  # a context value computed at run time (not a literal in the source)


def _name_pattern(node: ast.expr) -> str | None:
    """A regex for the metric name passed as a literal or an f-string ({x} = one or more segments)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        out = ""
        for part in node.values:
            if isinstance(part, ast.Constant):
                out += re.escape(str(part.value))
            else:
                out += r"[a-z0-9_.]+"
        return out
    return None


def _records_in_source(src: str) -> list[tuple[re.Pattern, dict]]:
    """Every ``record(name, value, unit, **context)`` call: (name regex, {context key: literal or MISSING})."""
    src = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines())
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        fn = node.func
        fname = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else None
        if fname != "record" or not node.args:
            continue
        pattern = _name_pattern(node.args[0])
        if pattern is None:
            continue
        context = {}
        for kw in node.keywords:
            if kw.arg in (None, "source", "settings"):
                continue
            context[kw.arg] = kw.value.value if isinstance(kw.value, ast.Constant) else MISSING
        found.append((re.compile(f"^{pattern}$"), context))
    return found


@functools.cache
def _notebook_records(path: str) -> tuple[tuple[re.Pattern, dict], ...]:
    cells = [c for c in _notebook(path)["cells"] if c["cell_type"] == "code"]
    return tuple(r for c in cells for r in _records_in_source("".join(c["source"])))


@functools.cache
def _all_records() -> tuple[tuple[re.Pattern, dict], ...]:
    found = []
    for p in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        found += _notebook_records(str(p.relative_to(REPO_ROOT)))
    for d in ("benchmarks", "feature_repo", "streaming", "serving", "pipelines", "monitoring"):
        for p in sorted((REPO_ROOT / d).rglob("*.py")):
            found += _records_in_source(p.read_text(errors="ignore"))
    return tuple(found)


def _matching_record(spec: dict, records) -> tuple[bool, str]:
    """Whether some record call has this name and passes every context key of the spec (with the
    same value where the source passes a literal). Returns (ok, what was found instead)."""
    named = [(p, ctx) for p, ctx in records if p.match(spec["name"])]
    if not named:
        return False, "no record() call with that name"
    want = spec.get("context") or {}
    for _, ctx in named:
        if set(want) <= set(ctx) and all(ctx[k] is MISSING or ctx[k] == v for k, v in want.items()):
            return True, ""
    return False, f"recorded with context keys {[sorted(c) for _, c in named]}, the question asks for {want}"


# -- the files themselves ------------------------------------------------------------------------
def test_enough_questions_unique_ids_every_level():
    assert len(QUESTION_FILES) >= MIN_QUESTIONS, f"{len(QUESTION_FILES)} questions; the bank needs {MIN_QUESTIONS}"
    ids = [_header(p).get("id") for p in QUESTION_FILES]
    assert len(ids) == len(set(ids)), f"duplicate ids: {sorted({i for i in ids if ids.count(i) > 1})}"
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", str(i)) for i in ids), "ids are kebab-case"
    assert len(QUESTIONS) == len(QUESTION_FILES), "every file loads through labkit.interview"
    assert {q.id for q in QUESTIONS} >= GUIDE_QUESTIONS, "the guide's four questions stay in the bank"
    assert {q.level for q in QUESTIONS} == set(interview.LEVELS)


@pytest.mark.parametrize("path", QUESTION_FILES, ids=lambda p: p.stem)
def test_file_format(path):
    head = _header(path)
    for key in ("id", "title", "level", "topics"):
        assert head.get(key), f"{path.name}: header needs {key!r}"
    assert head["level"] in ("easy", "medium", "hard"), f"{path.name}: level {head['level']!r}"
    assert isinstance(head["topics"], list) and all(re.fullmatch(r"[a-z0-9-]+", t) for t in head["topics"])
    assert isinstance(head.get("evidence") or [], list)
    for ev in head.get("evidence") or []:
        assert set(ev) == {"notebook", "section"}, f"{path.name}: evidence entries have notebook and section"
    for key, spec in (head.get("metrics") or {}).items():
        assert re.fullmatch(r"[a-z0-9_]+", key) and spec.get("name"), f"{path.name}: metric {key!r}"
        assert set(spec) <= {"name", "unit", "context"}, f"{path.name}: metric {key!r} has unknown fields"
    sections = _sections(_body(path), 2)
    assert list(sections)[:3] == ["Answer", "Follow-ups", "Rubric"], f"{path.name}: sections {list(sections)}"


@pytest.mark.parametrize("path", QUESTION_FILES, ids=lambda p: p.stem)
def test_rubric_has_strong_weak_and_red_flags(path):
    rubric = _sections(_sections(_body(path), 2)["Rubric"], 3)
    for part in RUBRIC_PARTS:
        assert part in rubric, f"{path.name}: the rubric needs a '### {part}' part (has {list(rubric)})"
        items = re.findall(r"^- +\S", rubric[part], flags=re.M)
        assert items, f"{path.name}: '### {part}' needs at least one '- ' item"


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_question_has_every_part(q):
    assert len(q.sections["Answer"].split()) >= 120, f"{q.path.name}: the worked answer is too thin"
    assert q.followups and all(len(a.split()) >= 15 for _, a in q.followups), f"{q.path.name}: follow-ups need answers"


@pytest.mark.parametrize("q", [q for q in QUESTIONS if q.level == "hard"], ids=lambda q: q.id)
def test_hard_questions_are_worked_as_designs(q):
    """Senior answers: requirements, back-of-envelope numbers, trade-offs and failure modes, and a
    follow-up that moves the constraints (more traffic, less money, a region down...)."""
    answer = q.sections["Answer"].lower()
    for word in ("requirements", "capacity", "trade-off", "failure"):
        assert word in answer, f"{q.path.name}: a hard answer walks through {word!r}"
    assert re.search(r"\d", answer), f"{q.path.name}: the capacity estimate needs numbers"
    shifts = ("10x", "half the", "region", "budget", "100x", "doubles", "tenfold", "twice")
    assert any(any(s in (fq + fa).lower() for s in shifts) for fq, fa in q.followups), (
        f"{q.path.name}: give at least one follow-up that changes the constraints"
    )


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_evidence_sections_are_real_headings(q):
    for ev in q.evidence:
        nb = REPO_ROOT / ev["notebook"]
        assert nb.is_file(), f"{q.path.name}: {ev['notebook']} does not exist"
        heads = _headings(ev["notebook"])
        assert ev["section"] in heads, (
            f"{q.path.name}: {ev['section']!r} is not a heading of {ev['notebook']} (exact text); headings: {heads}"
        )


@pytest.mark.parametrize("q", [q for q in QUESTIONS if q.metrics], ids=lambda q: q.id)
def test_cited_metrics_are_recorded_by_the_evidence(q):
    """Each metric names something an evidence notebook records, with the context keys it records."""
    text = "".join(q.sections.values())
    for key, spec in q.metrics.items():
        assert "{" + key + "}" in text, f"{q.path.name}: metric {key} is never cited"
        if (q.id, key) in CITED_FROM_ELSEWHERE:
            ok, why = _matching_record(spec, _all_records())
        else:
            records = [r for ev in q.evidence for r in _notebook_records(ev["notebook"])]
            ok, why = _matching_record(spec, records)
        assert ok, f"{q.path.name}: metric {key} = {spec['name']!r} {spec.get('context', {})}: {why}"


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_every_placeholder_is_a_metric(q):
    for name, text in q.sections.items():
        for ph in re.findall(r"\{(\w+)\}", text):
            assert ph in q.metrics, f"{q.path.name}: {{{ph}}} in {name} is not one of the question's metrics"


def test_metric_scanner_sees_the_lab():
    """The scanner itself: it finds f-string names and the context keys of known calls."""
    recs = _notebook_records("notebooks/08_kafka_for_feature_pipelines.ipynb")
    assert _matching_record({"name": "kafka.delivery.lost", "context": {"mode": "exactly-once"}}, recs)[0]
    assert not _matching_record({"name": "kafka.delivery.lost", "context": {"batch": 1}}, recs)[0]
    assert not _matching_record({"name": "kafka.produce_consume.p50_ms", "context": {"fetch_wait_ms": 100}}, recs)[0]
    recs3 = _notebook_records("notebooks/03_online_serving.ipynb")
    assert _matching_record({"name": "feast.online.feast_serve.p99_ms", "context": {"batch": 1}}, recs3)[0]


# -- rendering and the README ---------------------------------------------------------------------
def test_placeholders_render_from_results(tmp_path):
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


def test_readme_index_lists_every_question():
    readme = (REPO_ROOT / "interview_prep" / "README.md").read_text()
    assert interview.render_index(QUESTIONS) in readme, (
        "interview_prep/README.md is out of date: run "
        "`python -c 'from labkit.interview import refresh_index; refresh_index()'`"
    )


def test_readme_defines_levels_and_the_score_scale():
    readme = (REPO_ROOT / "interview_prep" / "README.md").read_text()
    for level in interview.LEVELS:
        assert f"**{level}**" in readme, f"interview_prep/README.md should define the level {level!r}"
    assert "0-4" in readme or "0–4" in readme, "interview_prep/README.md should define the 0-4 score scale"
