"""Interview questions: loading, rendering with the learner's own measurements, and practice mode.

Each question is a Markdown file in ``interview_prep/questions/`` with a YAML header::

    ---
    id: feature-store-architecture
    title: Explain the architecture of a feature store...
    level: medium                       # easy | medium | hard
    topics: [feature-stores, serving]
    evidence:                           # where the learner saw it happen
      - notebook: notebooks/03_online_serving.ipynb
        section: Latency at batch sizes 1, 10 and 100   # a Markdown heading in that notebook
    metrics:                            # numbers the answer cites, read from the results file
      feast_p99: {name: online.feast_sdk.p99_ms, unit: ms, context: {batch: 1}}
    ---
    ## Answer
    ... {feast_p99} ...
    ## Follow-ups
    ### Why not serve training data from Redis?
    ...
    ## Rubric
    ### Strong
    - ...
    ### Weak
    - ...

``{key}`` placeholders in the text become the learner's latest measurement of that metric, or a
pointer to the notebook that measures it when nothing was recorded yet.
"""

from __future__ import annotations

import json
import random
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from labkit import results
from labkit.settings import REPO_ROOT, Settings, get_settings

QUESTIONS_DIR = REPO_ROOT / "interview_prep" / "questions"
LEVELS = ("easy", "medium", "hard")
REQUIRED_SECTIONS = ("Answer", "Follow-ups", "Rubric")


class QuestionFormatError(ValueError):
    """A question file is missing a part or has a malformed header."""


@dataclass
class Question:
    id: str
    title: str
    level: str
    topics: list[str]
    evidence: list[dict[str, str]]
    metrics: dict[str, dict[str, Any]]
    sections: dict[str, str]  # "Answer" / "Follow-ups" / "Rubric" -> markdown body
    path: Path
    followups: list[tuple[str, str]] = field(default_factory=list)

    def render(self, section: str, settings: Settings | None = None) -> str:
        """A section with ``{metric}`` placeholders filled from the learner's results."""
        text = self.sections[section]
        values = {key: metric_text(spec, self, settings) for key, spec in self.metrics.items()}
        return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def metric_text(spec: dict[str, Any], q: Question, settings: Settings | None = None) -> str:
    row = results.latest(spec["name"], settings=settings, **spec.get("context", {}))
    if row is None:
        where = q.evidence[0]["notebook"] if q.evidence else "the lab"
        return f"(not measured yet: run {where})"
    value = row["value"]
    shown = f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{shown} {spec.get('unit', row.get('unit', ''))}".strip() + f" (your run, {row['when'][:10]})"


def _split_sections(body: str, path: Path) -> dict[str, str]:
    parts = re.split(r"^## +(.+?)\s*$", body, flags=re.M)
    sections = {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    missing = [s for s in REQUIRED_SECTIONS if not sections.get(s)]
    if missing:
        raise QuestionFormatError(
            f"{path.name}: missing or empty section(s) {missing}; add '## {missing[0]}' with text"
        )
    return sections


def _followups(text: str) -> list[tuple[str, str]]:
    parts = re.split(r"^### +(.+?)\s*$", text, flags=re.M)
    return [(parts[i].strip(), parts[i + 1].strip()) for i in range(1, len(parts) - 1, 2)]


def parse_question(path: Path) -> Question:
    raw = path.read_text()
    m = re.match(r"^---\n(.*?)\n---\n(.*)$", raw, flags=re.S)
    if not m:
        raise QuestionFormatError(f"{path.name}: no YAML header; start the file with '---', the header, '---'")
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise QuestionFormatError(f"{path.name}: the YAML header does not parse: {exc}") from None
    for key in ("id", "title", "level", "topics"):
        if not meta.get(key):
            raise QuestionFormatError(f"{path.name}: header needs '{key}'")
    if meta["level"] not in LEVELS:
        raise QuestionFormatError(f"{path.name}: level {meta['level']!r} is not one of {LEVELS}")
    sections = _split_sections(m.group(2), path)
    q = Question(
        id=str(meta["id"]),
        title=str(meta["title"]),
        level=meta["level"],
        topics=list(meta["topics"]),
        evidence=list(meta.get("evidence") or []),
        metrics=dict(meta.get("metrics") or {}),
        sections=sections,
        path=path,
    )
    q.followups = _followups(sections["Follow-ups"])
    if not q.followups:
        raise QuestionFormatError(f"{path.name}: 'Follow-ups' needs at least one '### question' with its answer")
    return q


def load_questions(directory: Path = QUESTIONS_DIR) -> list[Question]:
    questions = [parse_question(p) for p in sorted(directory.glob("*.md"))]
    ids = [q.id for q in questions]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise QuestionFormatError(f"duplicate question ids {dupes}; each file needs its own id")
    return questions


# -- practice mode -------------------------------------------------------------------------
def scores_file(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home / "interview_scores.jsonl"


def record_score(question_id: str, score: int, settings: Settings | None = None) -> dict[str, Any]:
    """Keep a self-assessed score (0 = could not answer .. 3 = strong answer with follow-ups)."""
    if score not in (0, 1, 2, 3):
        raise ValueError(f"score {score!r}: use 0 (blank), 1 (weak), 2 (good) or 3 (strong, with follow-ups)")
    row = {"id": question_id, "score": score, "when": datetime.now(UTC).isoformat(timespec="seconds")}
    path = scores_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(json.dumps(row) + "\n")
    return row


def load_scores(settings: Settings | None = None) -> list[dict[str, Any]]:
    path = scores_file(settings)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def weak_areas(questions: list[Question], scores: list[dict[str, Any]]) -> list[tuple[str, float, int]]:
    """(topic, mean of each question's latest score, questions scored), weakest first."""
    latest = {}
    for row in scores:
        latest[row["id"]] = row["score"]
    by_topic: dict[str, list[int]] = {}
    for q in questions:
        if q.id in latest:
            for t in q.topics:
                by_topic.setdefault(t, []).append(latest[q.id])
    rows = [(t, sum(v) / len(v), len(v)) for t, v in by_topic.items()]
    return sorted(rows, key=lambda r: (r[1], r[0]))


def pick_next(questions: list[Question], scores: list[dict[str, Any]], rng: random.Random) -> Question:
    """Unseen questions first, then the lowest-scored ones."""
    latest = {row["id"]: row["score"] for row in scores}
    unseen = [q for q in questions if q.id not in latest]
    if unseen:
        return rng.choice(unseen)
    low = min(latest.get(q.id, 0) for q in questions)
    return rng.choice([q for q in questions if latest.get(q.id, 0) == low])


def cmd_quiz(argv: list[str]) -> int:
    """`labkit quiz`: one question at a time, answer hidden until asked, self-scored."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="labkit quiz", description="Practise interview questions; scores stay in LAB_HOME."
    )
    parser.add_argument("--level", choices=LEVELS, help="only questions of this level")
    parser.add_argument("--topic", help="only questions with this topic")
    parser.add_argument("--list", action="store_true", help="list the questions and exit")
    parser.add_argument("--weak", action="store_true", help="show your weakest topics and exit")
    parser.add_argument("--seed", type=int, default=None, help="repeatable question order")
    args = parser.parse_args(argv)

    questions = load_questions()
    if args.level:
        questions = [q for q in questions if q.level == args.level]
    if args.topic:
        questions = [q for q in questions if args.topic in q.topics]
    if not questions:
        print("labkit quiz: no question matches those filters; try without --level/--topic", file=sys.stderr)
        return 2
    if args.list:
        for q in questions:
            print(f"[{q.level:6}] {q.id:40} {', '.join(q.topics)}")
        return 0
    if args.weak:
        rows = weak_areas(questions, load_scores())
        if not rows:
            print("No scores yet: run `labkit quiz` and score a few answers first.")
        for topic, mean, n in rows:
            print(f"{topic:28} mean {mean:.1f}/3 over {n} question(s)")
        return 0

    rng = random.Random(args.seed)
    while True:
        q = pick_next(questions, load_scores(), rng)
        print(f"\n[{q.level}] {q.title}\n(topics: {', '.join(q.topics)})")
        if _ask("Think it through, then press Enter to see the answer (q to quit) ") == "q":
            return 0
        print("\n" + q.render("Answer"))
        for fq, fa in q.followups:
            if _ask(f"\nFollow-up: {fq}\n  Enter for the answer (s to skip the rest) ") == "s":
                break
            print(fa)
        print("\nRubric:\n" + q.render("Rubric"))
        while True:
            raw = _ask("\nScore yourself 0-3 (0 blank, 1 weak, 2 good, 3 strong), q to quit: ")
            if raw == "q":
                return 0
            if raw in {"0", "1", "2", "3"}:
                record_score(q.id, int(raw))
                break
            print("Please type 0, 1, 2 or 3.")


def _ask(prompt: str) -> str:
    try:
        return input(prompt).strip().lower()
    except EOFError:
        return "q"


# -- the index in interview_prep/README.md ---------------------------------------------------
INDEX_START, INDEX_END = "<!-- questions:start -->", "<!-- questions:end -->"


def render_index(questions: list[Question]) -> str:
    """The table of questions that interview_prep/README.md carries between its index markers."""
    lines = ["| level | question | topics | evidence |", "|---|---|---|---|"]
    for q in questions:
        notebooks = dict.fromkeys(e["notebook"] for e in q.evidence)
        ev = ", ".join(f"[{Path(nb).name[:2]}](../{nb})" for nb in notebooks)
        lines.append(f"| {q.level} | [{q.title}](questions/{q.path.name}) | {', '.join(q.topics)} | {ev} |")
    return "\n".join(lines)


def refresh_index(readme: Path = REPO_ROOT / "interview_prep" / "README.md") -> bool:
    """Rewrite the README's question table; returns True when it changed."""
    text = readme.read_text()
    head, _, rest = text.partition(INDEX_START)
    _, _, tail = rest.partition(INDEX_END)
    new = f"{head}{INDEX_START}\n{render_index(load_questions())}\n{INDEX_END}{tail}"
    if new != text:
        readme.write_text(new)
    return new != text


# -- practice in a notebook ------------------------------------------------------------------
class Practice:
    """Practice mode for JupyterLab: one question at a time, the answer hidden until asked.

    p = Practice()        # or Practice(level="hard", topic="streaming")
    p.next()              # shows a question
    p.answer()            # shows the worked answer (with your measured numbers)
    p.followups()         # the follow-ups with their answers
    p.rubric()            # what a strong answer contains
    p.score(2)            # 0 blank, 1 weak, 2 good, 3 strong; kept in LAB_HOME
    p.weak()              # your weakest topics
    """

    def __init__(
        self,
        level: str | None = None,
        topic: str | None = None,
        seed: int | None = None,
        settings: Settings | None = None,
    ):
        qs = load_questions()
        if level:
            qs = [q for q in qs if q.level == level]
        if topic:
            qs = [q for q in qs if topic in q.topics]
        if not qs:
            raise ValueError(f"no question has level={level!r} and topic={topic!r}; see `labkit quiz --list`")
        self.questions, self.settings, self.rng = qs, settings, random.Random(seed)
        self.current: Question | None = None

    def _show(self, text: str):
        try:
            from IPython.display import Markdown, display

            display(Markdown(text))
        except ImportError:  # outside Jupyter
            print(text)
        return None

    def _need_question(self) -> Question:
        if self.current is None:
            raise RuntimeError("no question yet: call p.next() first")
        return self.current

    def next(self):
        self.current = pick_next(self.questions, load_scores(self.settings), self.rng)
        q = self.current
        return self._show(
            f"**[{q.level}]** {q.title}\n\n*topics: {', '.join(q.topics)}*. "
            "Answer it out loud or on paper, then call `p.answer()`."
        )

    def answer(self):
        return self._show(self._need_question().render("Answer", self.settings))

    def followups(self):
        q = self._need_question()
        return self._show("\n\n".join(f"**{fq}**\n\n{fa}" for fq, fa in q.followups))

    def rubric(self):
        return self._show(self._need_question().render("Rubric", self.settings))

    def score(self, value: int) -> dict[str, Any]:
        return record_score(self._need_question().id, value, self.settings)

    def weak(self):
        rows = weak_areas(self.questions, load_scores(self.settings))
        if not rows:
            return self._show("No scores yet: score a few answers with `p.score(n)` first.")
        return self._show(
            "| topic | mean score | questions |\n|---|---|---|\n"
            + "\n".join(f"| {t} | {m:.1f} / 3 | {n} |" for t, m, n in rows)
        )
