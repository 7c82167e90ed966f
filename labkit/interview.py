"""Interview questions: loading, rendering with the learner's own measurements, and practice.

Each question is a Markdown file in ``interview_prep/questions/`` with a YAML header::

    ---
    id: feature-store-architecture
    title: Explain the architecture of a feature store...
    level: medium                       # easy | medium | hard (see LEVEL_MEANING)
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
    ### Red flags
    - ...

``{key}`` placeholders become the learner's latest measurement of that metric, with its context
(batch size, rate...) and the notebook that recorded it, or a pointer to the notebook that measures
it when nothing was recorded yet.

Practice (``labkit quiz``, :class:`Practice` in the notebook) keeps three files under LAB_HOME:
``interview_scores.jsonl`` (one row per scored attempt, 0-4), ``interview_answers.jsonl`` (what the
learner typed) and ``interview_schedule.json`` (a Leitner box and a due date per question). An
attempt writes all three at once, when it is scored, and nothing before: quitting (or end of
input) half-way records nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import textwrap
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import zip_longest
from pathlib import Path
from typing import Any

import yaml

from labkit import results
from labkit.cli_support import CommandError, command
from labkit.cli_support import parser as cli_parser
from labkit.settings import REPO_ROOT, Settings, get_settings

QUESTIONS_DIR = REPO_ROOT / "interview_prep" / "questions"
LEVELS = ("easy", "medium", "hard")
LEVEL_MEANING = {
    "easy": "screening, junior to mid",
    "medium": "mid to senior",
    "hard": "senior to staff (system design)",
}
REQUIRED_SECTIONS = ("Answer", "Follow-ups", "Rubric")
RUBRIC_PARTS = ("Strong", "Weak", "Red flags")
# The agreed format requires a '### Red flags' part; False accepts files written before it.
REQUIRE_RED_FLAGS = True

SCORE_SCALE = {
    0: "no answer, or a red flag",
    1: "weak",
    2: "partial",
    3: "strong",
    4: "strong, and handles the follow-ups",
}
SCALE_TAG = "0-4"  # score rows carry it; rows without it (the earlier 0-3 self-scores) are ignored


class QuestionFormatError(ValueError):
    """A question file is missing a part or has a malformed header."""


# -- parsing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rubric:
    strong: list[str]
    weak: list[str]
    red_flags: list[str]


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
    rubric: Rubric = field(default_factory=lambda: Rubric([], [], []))

    def render(self, section: str, settings: Settings | None = None) -> str:
        """A section with ``{metric}`` placeholders filled from the learner's results."""
        return self.fill(self.sections[section], settings)

    def fill(self, text: str, settings: Settings | None = None) -> str:
        """``text`` with this question's ``{metric}`` placeholders filled from the learner's results."""
        values = {key: metric_text(spec, self, settings) for key, spec in self.metrics.items()}
        return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def _subsections(text: str, marks: str) -> list[tuple[str, str]]:
    parts = re.split(rf"^{marks} +(.+?)\s*$", text, flags=re.M)
    return [(parts[i].strip(), parts[i + 1].strip()) for i in range(1, len(parts) - 1, 2)]


def _split_sections(body: str, path: Path) -> dict[str, str]:
    sections = dict(_subsections(body, "##"))
    missing = [s for s in REQUIRED_SECTIONS if not sections.get(s)]
    if missing:
        raise QuestionFormatError(
            f"{path.name}: missing or empty section(s) {missing}; add '## {missing[0]}' with text"
        )
    return sections


def _followups(text: str) -> list[tuple[str, str]]:
    return _subsections(text, "###")


def list_items(text: str) -> list[str]:
    """The ``- item`` bullets of a Markdown list; indented continuation lines join their item."""
    items: list[str] = []
    for line in text.splitlines():
        bullet = re.match(r"^\s*[-*]\s+(.*)$", line)
        if bullet:
            items.append(bullet.group(1).strip())
        elif line.strip() and items:
            items[-1] += " " + line.strip()
    return items


def parse_rubric(text: str, path: Path) -> Rubric:
    """Strong / Weak / Red flags item lists; a clear error naming the file and the missing part."""
    parts = {name.lower(): list_items(body) for name, body in _subsections(text, "###")}
    required = RUBRIC_PARTS if REQUIRE_RED_FLAGS else RUBRIC_PARTS[:2]
    missing = [name for name in required if not parts.get(name.lower())]
    if missing:
        raise QuestionFormatError(
            f"{path.name}: the rubric has no '### {missing[0]}' part with '- ' items"
            f" (missing: {', '.join(missing)}); add it under '## Rubric'"
        )
    return Rubric(parts.get("strong", []), parts.get("weak", []), parts.get("red flags", []))


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
    followups = _followups(sections["Follow-ups"])
    if not followups:
        raise QuestionFormatError(f"{path.name}: 'Follow-ups' needs at least one '### question' with its answer")
    return Question(
        id=str(meta["id"]),
        title=str(meta["title"]),
        level=meta["level"],
        topics=list(meta["topics"]),
        evidence=list(meta.get("evidence") or []),
        metrics=dict(meta.get("metrics") or {}),
        sections=sections,
        path=path,
        followups=followups,
        rubric=parse_rubric(sections["Rubric"], path),
    )


def load_questions(directory: Path | None = None) -> list[Question]:
    questions = [parse_question(p) for p in sorted((directory or QUESTIONS_DIR).glob("*.md"))]
    ids = [q.id for q in questions]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise QuestionFormatError(f"duplicate question ids {dupes}; each file needs its own id")
    return questions


# -- the learner's numbers -------------------------------------------------------------------
def _context_text(context: dict[str, Any]) -> str:
    """``{"batch": 10, "rate_per_s": 500}`` -> ``" at batch 10, rate per s 500"``."""
    if not context:
        return ""
    return " at " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in context.items())


@cache
def _recorded_names() -> list[tuple[str, re.Pattern]]:
    """(notebook, name pattern) for every ``record("name"`` / ``record(f"...{x}..."`` in notebooks/."""
    found = []
    for nb in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        text = nb.read_text(errors="ignore").replace('\\"', '"')
        for name in re.findall(r"record\(\s*f?[\"']([a-z0-9_.{}]+)[\"']", text):
            pattern = re.sub(r"\\\{[^}]*\\\}", "[a-z0-9_.]+", re.escape(name))
            found.append((str(nb.relative_to(REPO_ROOT)), re.compile(f"^{pattern}$")))
    return found


def recording_notebook(name: str, q: Question) -> str:
    """The notebook that records metric ``name``, else the question's first evidence notebook."""
    for path, pattern in _recorded_names():
        if pattern.match(name):
            return path
    return q.evidence[0]["notebook"] if q.evidence else "the lab's notebooks"


def metric_text(spec: dict[str, Any], q: Question, settings: Settings | None = None) -> str:
    """The learner's latest value of a cited metric, with its context and the notebook that recorded it."""
    context = spec.get("context") or {}
    row = results.latest(spec["name"], settings=settings, **context)
    if row is None:
        return f"(not measured yet{_context_text(context)}: run {recording_notebook(spec['name'], q)})"
    value = row["value"]
    shown = f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    unit = spec.get("unit", row.get("unit", ""))
    return (
        f"{shown} {unit}".strip()
        + _context_text(context)
        + f" (your run, {row['when'][:10]}, recorded by {row.get('source', 'an unnamed run')})"
    )


def evidence_text(q: Question, settings: Settings | None = None) -> str:
    """Where the learner saw it happen, and every number the answer cites, from their own runs."""
    lines = [f"- {ev['notebook']}, section '{ev['section']}'" for ev in q.evidence]
    lines += [f"- {key} ({spec['name']}): {metric_text(spec, q, settings)}" for key, spec in q.metrics.items()]
    return "\n".join(lines) if lines else "- (this question cites no notebook)"


# -- files under LAB_HOME ---------------------------------------------------------------------
def scores_file(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home / "interview_scores.jsonl"


def answers_file(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home / "interview_answers.jsonl"


def schedule_file(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home / "interview_schedule.json"


def _now() -> datetime:
    return datetime.now(UTC)


def _append(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # an empty line, or one cut by a crash
    return rows


def load_scores(settings: Settings | None = None) -> list[dict[str, Any]]:
    """Scored attempts on the 0-4 scale, oldest first (earlier 0-3 self-scores are left out)."""
    return [row for row in _read_jsonl(scores_file(settings)) if row.get("scale") == SCALE_TAG]


def load_answers(settings: Settings | None = None) -> list[dict[str, Any]]:
    return _read_jsonl(answers_file(settings))


def load_schedule(settings: Settings | None = None) -> dict[str, dict[str, Any]]:
    path = schedule_file(settings)
    return json.loads(path.read_text()) if path.is_file() else {}


def _save_schedule(schedule: dict[str, dict[str, Any]], settings: Settings | None) -> None:
    path = schedule_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(schedule, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


# -- spaced repetition: Leitner boxes ---------------------------------------------------------
BOX_DAYS = (1, 3, 7, 14, 30)  # box 1..5: days until the question is due again


def next_box(box: int, score: int) -> int:
    """0-1 back to box 1; 2 down one box; 3 up one; 4 up two (boxes 1..5). A new question is in box 1."""
    step = {0: -len(BOX_DAYS), 1: -len(BOX_DAYS), 2: -1, 3: 1, 4: 2}[score]
    return max(1, min(len(BOX_DAYS), box + step))


def reschedule(entry: dict[str, Any] | None, score: int, now: datetime) -> dict[str, Any]:
    """The schedule entry after scoring ``score``: the new box and the date it is due again."""
    box = next_box((entry or {}).get("box", 1), score)
    return {
        "box": box,
        "due": (now + timedelta(days=BOX_DAYS[box - 1])).isoformat(timespec="seconds"),
        "last_score": score,
        "last_seen": now.isoformat(timespec="seconds"),
        "reviews": (entry or {}).get("reviews", 0) + 1,
    }


def is_due(entry: dict[str, Any] | None, now: datetime) -> bool:
    """A question never scored is due; a scored one once its due date has come."""
    return entry is None or datetime.fromisoformat(entry["due"]) <= now


# -- scoring by rubric checklist ---------------------------------------------------------------
@dataclass(frozen=True)
class Marks:
    """What the answer did, by 1-based item numbers: Strong items met, Red flags hit, follow-ups handled."""

    answered: bool
    strong: frozenset[int] = frozenset()
    red_flags: frozenset[int] = frozenset()
    followups: frozenset[int] = frozenset()


def checklist_score(q: Question, marks: Marks) -> int:
    """The 0-4 score the checklist gives.

    - no answer: 0;
    - every Strong item met: 3, or 4 when every follow-up was handled too;
    - at least half the Strong items: 2; fewer: 1;
    - any Red flag caps the score at 1 (0 when fewer than half the Strong items were met).
    """
    if not marks.answered:
        return 0
    share = len(marks.strong) / len(q.rubric.strong) if q.rubric.strong else 0.0
    if marks.red_flags:
        return 1 if share >= 0.5 else 0
    if share < 1:
        return 2 if share >= 0.5 else 1
    return 4 if len(marks.followups) >= len(q.followups) else 3


def _check_marks(q: Question, marks: Marks) -> None:
    for name, chosen, n in (
        ("Strong", marks.strong, len(q.rubric.strong)),
        ("Red flags", marks.red_flags, len(q.rubric.red_flags)),
        ("follow-ups", marks.followups, len(q.followups)),
    ):
        wrong = sorted(i for i in chosen if not 1 <= i <= n)
        if wrong:
            raise ValueError(f"{name} item(s) {wrong} do not exist: {q.id} has {n} (numbered from 1)")


# -- one attempt at one question -------------------------------------------------------------
@dataclass
class Attempt:
    """One practice of one question: typed (``mode="typed"``) or answered aloud to a partner."""

    question: Question
    mode: str = "typed"  # "typed" | "partner"
    time_box_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    started: float = 0.0
    answer: str = ""
    answer_seconds: float | None = None
    followup_answers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def over_time(self) -> bool:
        return self.elapsed() > self.time_box_s

    def finish_answer(self, text: str) -> float:
        self.answer, self.answer_seconds = text.strip(), self.elapsed()
        return self.answer_seconds

    def answer_followup(self, text: str) -> None:
        if len(self.followup_answers) >= len(self.question.followups):
            raise ValueError(f"{self.question.id} has only {len(self.question.followups)} follow-up(s)")
        self.followup_answers.append(text.strip())

    def effective(self, marks: Marks) -> Marks:
        """Typed practice: a follow-up left blank cannot count as handled."""
        if self.mode != "typed":
            return marks
        typed = {i for i, text in enumerate(self.followup_answers, 1) if text}
        return Marks(marks.answered, marks.strong, marks.red_flags, marks.followups & typed)

    def record(
        self,
        marks: Marks,
        override: int | None = None,
        reason: str = "",
        settings: Settings | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Score by the checklist (or ``override`` with a ``reason``); save answers, score and schedule."""
        q = self.question
        _check_marks(q, marks)
        marks = self.effective(marks)
        computed = checklist_score(q, marks)
        if override is not None and (override not in SCORE_SCALE or not reason.strip()):
            raise ValueError("an override is a score 0-4 with a reason, e.g. override=2, reason='missed the cost side'")
        now = now or _now()
        when = now.isoformat(timespec="seconds")
        final = computed if override is None else override
        row = {
            "id": q.id,
            "score": final,
            "scale": SCALE_TAG,
            "computed": computed,
            "override_reason": reason.strip() if override is not None else None,
            "mode": self.mode,
            "when": when,
            "answer_seconds": None if self.answer_seconds is None else round(self.answer_seconds, 1),
            "time_box_s": self.time_box_s,
            "strong_met": sorted(marks.strong),
            "strong_total": len(q.rubric.strong),
            "red_flags_hit": sorted(marks.red_flags),
            "followups_handled": sorted(marks.followups),
            "followups_total": len(q.followups),
        }
        _append(answers_file(settings), self._answer_rows(when))
        _append(scores_file(settings), [row])
        schedule = load_schedule(settings)
        schedule[q.id] = reschedule(schedule.get(q.id), final, now)
        _save_schedule(schedule, settings)
        return row

    def _answer_rows(self, when: str) -> list[dict[str, Any]]:
        if self.mode != "typed":
            return []  # answered aloud: nothing typed to keep
        rows = [
            {
                "id": self.question.id,
                "when": when,
                "part": "answer",
                "prompt": self.question.title,
                "text": self.answer,
                "seconds": None if self.answer_seconds is None else round(self.answer_seconds, 1),
            }
        ]
        for i, text in enumerate(self.followup_answers):
            rows.append(
                {
                    "id": self.question.id,
                    "when": when,
                    "part": f"follow-up {i + 1}",
                    "prompt": self.question.followups[i][0],
                    "text": text,
                    "seconds": None,
                }
            )
        return rows


def default_time_box(level: str) -> float:
    """Seconds to answer: screening questions are short, system design takes longer."""
    return {"easy": 3, "medium": 5, "hard": 10}[level] * 60.0


# -- what to practise next -------------------------------------------------------------------
def latest_scores(scores: list[dict[str, Any]]) -> dict[str, int]:
    return {row["id"]: row["score"] for row in scores}


def weak_areas(questions: list[Question], scores: list[dict[str, Any]]) -> list[tuple[str, float, int]]:
    """(topic, mean of each question's latest score, questions scored), weakest first."""
    latest = latest_scores(scores)
    by_topic: dict[str, list[int]] = {}
    for q in questions:
        if q.id in latest:
            for t in q.topics:
                by_topic.setdefault(t, []).append(latest[q.id])
    rows = [(t, sum(v) / len(v), len(v)) for t, v in by_topic.items()]
    return sorted(rows, key=lambda r: (r[1], r[0]))


WEAK_TOPICS = 2  # `--weak` drills the questions of this many weakest topics


def filter_questions(
    questions: list[Question], *, qid: str | None = None, topic: str | None = None, level: str | None = None
) -> list[Question]:
    return [
        q
        for q in questions
        if (qid is None or q.id == qid) and (topic is None or topic in q.topics) and (level is None or q.level == level)
    ]


def practice_queue(
    questions: list[Question],
    scores: list[dict[str, Any]],
    schedule: dict[str, dict[str, Any]],
    *,
    mode: str = "due",
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> list[Question]:
    """The questions of one session, each once, in order.

    ``due``: overdue reviews (oldest due date first), then questions never scored (shuffled).
    ``all``: the same, then every other question by due date.
    ``weak``: the questions of the WEAK_TOPICS weakest topics, lowest latest score first, due or not.
    """
    now, rng = now or _now(), rng or random.Random()
    if mode == "weak":
        weakest = {t for t, _, _ in weak_areas(questions, scores)[:WEAK_TOPICS]}
        latest = latest_scores(scores)
        drill = [q for q in questions if weakest & set(q.topics)]
        return sorted(drill, key=lambda q: (latest.get(q.id, len(SCORE_SCALE)), q.id))
    unseen = [q for q in questions if q.id not in schedule]
    rng.shuffle(unseen)
    seen = sorted((q for q in questions if q.id in schedule), key=lambda q: schedule[q.id]["due"])
    due = [q for q in seen if is_due(schedule[q.id], now)]
    if mode == "due":
        return due + unseen
    return due + unseen + [q for q in seen if not is_due(schedule[q.id], now)]


# -- progress ----------------------------------------------------------------------------------
def streak(days: set[date], today: date) -> int:
    """Days in a row with practice, ending today (or yesterday: today's may not have happened yet)."""
    day = today if today in days else today - timedelta(days=1)
    n = 0
    while day in days:
        n, day = n + 1, day - timedelta(days=1)
    return n


def progress(
    questions: list[Question],
    scores: list[dict[str, Any]],
    schedule: dict[str, dict[str, Any]],
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Per topic and per level (and overall): questions, seen, average latest score, due now, streak."""
    now = now or _now()
    latest = latest_scores(scores)
    days_by_id: dict[str, set[date]] = {}
    for row in scores:
        days_by_id.setdefault(row["id"], set()).add(datetime.fromisoformat(row["when"]).date())
    groups: dict[str, list[Question]] = {"all": questions}
    for level in LEVELS:
        groups[f"level {level}"] = [q for q in questions if q.level == level]
    for topic in sorted({t for q in questions for t in q.topics}):
        groups[f"topic {topic}"] = [q for q in questions if topic in q.topics]
    rows = []
    for name, qs in groups.items():
        seen = [q for q in qs if q.id in latest]
        rows.append(
            {
                "group": name,
                "questions": len(qs),
                "seen": len(seen),
                "avg_score": round(sum(latest[q.id] for q in seen) / len(seen), 2) if seen else None,
                "due": sum(1 for q in seen if q.id in schedule and is_due(schedule[q.id], now)),
                "streak_days": streak(set().union(*(days_by_id.get(q.id, set()) for q in qs)), now.date()),
            }
        )
    return [r for r in rows if r["questions"]]


def progress_table(rows: list[dict[str, Any]]) -> str:
    head = f"{'group':32} {'questions':>9} {'seen':>5} {'avg 0-4':>8} {'due':>4} {'streak':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        avg = "-" if r["avg_score"] is None else f"{r['avg_score']:.1f}"
        lines.append(
            f"{r['group']:32} {r['questions']:>9} {r['seen']:>5} {avg:>8} {r['due']:>4} {r['streak_days']:>5} d"
        )
    return "\n".join(lines)


# -- the terminal ----------------------------------------------------------------------------
class Quit(Exception):
    """The learner typed q, or the input ended: leave without recording the current attempt."""


class Console:
    """Prompts on stdout, answers from stdin; end of input raises :class:`Quit`."""

    def __init__(self) -> None:
        self.eof = False

    def say(self, text: str = "") -> None:
        print(text, flush=True)

    def ask(self, prompt: str) -> str:
        if self.eof:
            raise Quit("end of input")
        try:
            return input(prompt).strip()
        except EOFError:
            self.eof = True
            raise Quit("end of input") from None

    def read_text(self, attempt: Attempt) -> str:
        """Lines until an empty line or end of input (which quits when nothing was typed);
        says once when the time box is over."""
        lines: list[str] = []
        warned = False
        while True:
            try:
                line = input("> ")
            except EOFError:
                self.eof = True
                if not lines:  # nothing typed before the input ended: leave
                    raise Quit("end of input") from None
                break
            if not line.strip():
                break
            lines.append(line.rstrip())
            if not warned and attempt.over_time():
                self.say(f"-- time is up ({_clock(attempt.time_box_s)} box): finish, then an empty line --")
                warned = True
        return "\n".join(lines)


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


_ITEM = re.compile(r"^\s*([-*]|\d+\.)\s+")


def _wrap(text: str, width: int) -> list[str]:
    """Markdown reflowed to ``width``: hard-wrapped lines join their paragraph or list item."""
    logical: list[str] = []
    for line in text.splitlines():
        if line.strip() and logical and logical[-1] and not _ITEM.match(line):
            logical[-1] += " " + line.strip()
        else:
            logical.append(line.strip() if not _ITEM.match(line) else line.rstrip())
    out: list[str] = []
    for line in logical or [""]:
        indent = " " * len(_ITEM.match(line).group(0)) if _ITEM.match(line) else ""
        out += textwrap.wrap(line, width, subsequent_indent=indent) or [""]
    return out


def side_by_side(left_title: str, left: str, right_title: str, right: str, width: int | None = None) -> str:
    """Two texts in two columns (the learner's answer beside the worked answer)."""
    width = width or min(160, shutil.get_terminal_size((120, 24)).columns)
    col = max(30, (width - 3) // 2)
    rows = zip_longest(
        _wrap(left_title, col) + ["-" * col] + _wrap(left or "(nothing typed)", col),
        _wrap(right_title, col) + ["-" * col] + _wrap(right, col),
        fillvalue="",
    )
    return "\n".join(f"{a:<{col}} | {b}".rstrip() for a, b in rows)


def _parse_numbers(raw: str, n: int) -> frozenset[int] | None:
    """'1 3', '1,3', 'all' or '' -> item numbers; None when something is not an item number."""
    raw = raw.strip().lower()
    if raw == "all":
        return frozenset(range(1, n + 1))
    tokens = raw.replace(",", " ").split()
    if not all(t.isdigit() and 1 <= int(t) <= n for t in tokens):
        return None
    return frozenset(int(t) for t in tokens)


def _checklist(console: Console, title: str, items: list[str]) -> frozenset[int]:
    console.say(f"\n{title}:")
    for i, item in enumerate(items, 1):
        console.say(f"  {i}. {item}")
    while True:
        chosen = _parse_numbers(console.ask("  numbers (e.g. 1 3), 'all', or Enter for none: "), len(items))
        if chosen is not None:
            return chosen
        console.say(f"  type item numbers between 1 and {len(items)}, 'all', or nothing")


def _score_interactively(console: Console, attempt: Attempt, answered: bool) -> tuple[Marks, int | None, str]:
    q = attempt.question
    marks = Marks(
        answered=answered,
        strong=_checklist(console, "Strong: which did the answer contain?", q.rubric.strong),
        red_flags=_checklist(console, "Red flags: which did the answer do?", q.rubric.red_flags),
        followups=_checklist(console, "Follow-ups: which were handled well?", [fq for fq, _ in q.followups]),
    )
    computed = checklist_score(q, attempt.effective(marks))
    console.say(f"\nChecklist score: {computed}/4 ({SCORE_SCALE[computed]})")
    while True:
        raw = console.ask("Enter to keep it, or a score 0-4 and a reason (e.g. '2 vague on cost'): ")
        if not raw:
            return marks, None, ""
        head, _, reason = raw.partition(" ")
        if head in {"0", "1", "2", "3", "4"} and reason.strip():
            return marks, int(head), reason.strip()
        console.say("  an override is a score 0-4 followed by a reason")


def _show_question(console: Console, q: Question, attempt: Attempt, index: int, total: int) -> None:
    console.say(f"\n=== {index}/{total} [{q.level}: {LEVEL_MEANING[q.level]}] {q.id}")
    console.say(textwrap.fill(q.title, 100))
    console.say(f"topics: {', '.join(q.topics)}; time box {_clock(attempt.time_box_s)}")


def _run_typed(console: Console, q: Question, attempt: Attempt, settings: Settings | None) -> dict[str, Any]:
    console.say("Type your answer; an empty line ends it (end of input quits without recording).")
    text = console.read_text(attempt)
    seconds = attempt.finish_answer(text)
    over = " (over the time box)" if seconds > attempt.time_box_s else ""
    console.say(f"answered in {_clock(seconds)}{over}")
    for i, (fq, _) in enumerate(q.followups, 1):
        console.say(f"\nFollow-up {i}/{len(q.followups)} (an empty line ends it): {fq}")
        attempt.answer_followup(console.read_text(attempt))
    console.say("\n" + side_by_side("Your answer", attempt.answer, "Worked answer", q.render("Answer", settings)))
    for i, ((fq, fa), mine) in enumerate(zip(q.followups, attempt.followup_answers, strict=True), 1):
        console.say(f"\nFollow-up {i}: {fq}\n" + side_by_side("You", mine, "Worked answer", q.fill(fa, settings)))
    console.say("\nEvidence, with your numbers:\n" + evidence_text(q, settings))
    marks, override, reason = _score_interactively(console, attempt, answered=bool(attempt.answer))
    return attempt.record(marks, override, reason, settings)


def _run_partner(console: Console, q: Question, attempt: Attempt, settings: Settings | None) -> dict[str, Any]:
    console.say("PARTNER MODE: the interviewer reads this screen; the candidate answers aloud.")
    for name, items in (("Strong", q.rubric.strong), ("Weak", q.rubric.weak), ("Red flags", q.rubric.red_flags)):
        console.say(f"\n{name}:\n" + "\n".join(f"  - {item}" for item in items))
    console.ask("\nRead the question aloud, then press Enter to start the clock: ")
    attempt.started = attempt.clock()
    raw = console.ask("Enter when the candidate has finished (0 if they gave no answer): ")
    seconds = attempt.finish_answer("")
    answered = raw != "0"
    console.say(f"answered in {_clock(seconds)}" + (" (over the time box)" if seconds > attempt.time_box_s else ""))
    for i, (fq, fa) in enumerate(q.followups, 1):
        console.say(f"\nFollow-up {i}/{len(q.followups)} (ask it): {fq}\nWorked answer: {q.fill(fa, settings)}")
        console.ask("Enter when the candidate has answered: ")
    console.say("\nEvidence to discuss afterwards:\n" + evidence_text(q, settings))
    marks, override, reason = _score_interactively(console, attempt, answered=answered)
    return attempt.record(marks, override, reason, settings)


def _session(console: Console, queue: list[Question], args: argparse.Namespace, settings: Settings | None) -> int:
    for index, q in enumerate(queue, 1):
        box = args.minutes * 60.0 if args.minutes else default_time_box(q.level)
        attempt = Attempt(q, mode="partner" if args.partner else "typed", time_box_s=box)
        _show_question(console, q, attempt, index, len(queue))
        try:
            run = _run_partner if args.partner else _run_typed
            row = run(console, q, attempt, settings)
        except Quit:
            console.say(f"\n({'end of input' if console.eof else 'quit'}: nothing recorded for {q.id})")
            return 0
        entry = load_schedule(settings)[q.id]
        console.say(f"recorded {row['score']}/4; box {entry['box']}, due again {entry['due'][:10]}")
        if index < len(queue):
            try:
                if console.ask("\nEnter for the next question, q to stop: ").lower() == "q":
                    return 0
            except Quit:
                return 0
    console.say(f"\n{len(queue)} question(s) done. `labkit quiz --progress` shows where you stand.")
    return 0


def _next_due_note(questions: list[Question], schedule: dict[str, dict[str, Any]]) -> str:
    upcoming = sorted((schedule[q.id]["due"], q.id) for q in questions if q.id in schedule)
    first = f" The next is {upcoming[0][1]}, due {upcoming[0][0][:10]}." if upcoming else ""
    return f"nothing is due now.{first} Practise anyway with --all, or drill with --weak."


@command("labkit quiz")
def cmd_quiz(argv: list[str]) -> int:
    """`labkit quiz`: spaced-repetition interview practice, typed or with a partner, scored by rubric."""
    parser = cli_parser(
        "labkit quiz",
        "Practise interview questions: answer (typed, or aloud with --partner), the follow-ups one at a "
        "time, then the worked answer beside yours, your own numbers, and a score 0-4 from the rubric "
        "checklist. Questions scored high come back later, low ones soon. Files stay in LAB_HOME.",
    )
    parser.add_argument("--level", choices=LEVELS, help="only this level (easy: screening, hard: system design)")
    parser.add_argument("--topic", help="only questions with this topic")
    parser.add_argument("--id", dest="qid", help="only this question (due or not)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--due", action="store_true", help="questions due for review and new ones (the default)")
    which.add_argument("--all", action="store_true", help="every matching question, due ones first")
    which.add_argument("--weak", action="store_true", help="drill the questions of your weakest topics")
    parser.add_argument("--minutes", type=float, help="time box per answer (default: 3 easy, 5 medium, 10 hard)")
    parser.add_argument("--partner", action="store_true", help="mock interview: the interviewer scores aloud answers")
    parser.add_argument("--progress", action="store_true", help="summary per topic and level, then exit")
    parser.add_argument("--list", action="store_true", help="list the questions and exit")
    parser.add_argument("--seed", type=int, default=None, help="repeatable order of new questions")
    args = parser.parse_args(argv)

    try:
        questions = load_questions()
    except QuestionFormatError as exc:
        raise CommandError(f"{exc}. Fix the question file (see interview_prep/README.md)") from None
    settings = get_settings()
    scores, schedule = load_scores(settings), load_schedule(settings)
    if args.progress:
        print(progress_table(progress(questions, scores, schedule)))
        return 0
    chosen = filter_questions(questions, qid=args.qid, topic=args.topic, level=args.level)
    if not chosen:
        raise CommandError("no question matches those filters; see `labkit quiz --list`, or drop --id/--level/--topic")
    if args.list:
        for q in chosen:
            print(f"[{q.level:6}] {q.id:44} {', '.join(q.topics)}")
        return 0
    if args.weak and not scores:
        raise CommandError("no scores yet, so no weak topics; practise first with `labkit quiz`")
    mode = "weak" if args.weak else "all" if (args.all or args.qid) else "due"
    queue = practice_queue(chosen, scores, schedule, mode=mode, rng=random.Random(args.seed))
    if not queue:
        print(f"labkit quiz: {_next_due_note(chosen, schedule)}")
        return 0
    if args.weak:
        weakest = ", ".join(t for t, _, _ in weak_areas(questions, scores)[:WEAK_TOPICS])
        print(f"Drilling your weakest topics: {weakest}")
    return _session(Console(), queue, args, settings)


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
    """The same practice in JupyterLab: nothing is recorded until you call ``p.score(...)``.

    p = Practice()            # or Practice(level="hard", topic="streaming", qid="...")
    p.next()                  # a due (or new) question; the clock starts
    p.answer(MY_ANSWER)       # your typed answer; shows the first follow-up
    p.followup(MY_FOLLOWUP)   # your answer to it; shows the next one
    p.reveal()                # the worked answer beside yours, your numbers, the checklist
    p.score(strong=[1, 3], red_flags=[], followups=[1])   # 0-4 from the checklist; saved
    p.progress()              # per topic and level
    """

    def __init__(
        self,
        level: str | None = None,
        topic: str | None = None,
        qid: str | None = None,
        seed: int | None = None,
        minutes: float | None = None,
        settings: Settings | None = None,
    ):
        qs = filter_questions(load_questions(), qid=qid, topic=topic, level=level)
        if not qs:
            raise ValueError(f"no question has id={qid!r}, level={level!r}, topic={topic!r}; see `labkit quiz --list`")
        self.questions, self.settings, self.rng, self.minutes = qs, settings, random.Random(seed), minutes
        self.attempt: Attempt | None = None

    def _show(self, text: str) -> None:
        try:
            from IPython.display import Markdown, display

            display(Markdown(text))
        except ImportError:  # outside Jupyter
            print(text)

    def _need(self) -> Attempt:
        if self.attempt is None:
            raise RuntimeError("no question yet: call p.next() first")
        return self.attempt

    def next(self) -> None:
        scores, schedule = load_scores(self.settings), load_schedule(self.settings)
        queue = practice_queue(self.questions, scores, schedule, mode="due", rng=self.rng)
        note = ""
        if not queue:
            queue = practice_queue(self.questions, scores, schedule, mode="all", rng=self.rng)
            note = f"\n\n*Nothing is due: {_next_due_note(self.questions, schedule)} Here is the earliest.*"
        q = queue[0]
        box = self.minutes * 60.0 if self.minutes else default_time_box(q.level)
        self.attempt = Attempt(q, mode="typed", time_box_s=box)
        self._show(
            f"**[{q.level}: {LEVEL_MEANING[q.level]}]** {q.title}\n\n*topics: {', '.join(q.topics)}; "
            f"time box {_clock(box)}; {len(q.followups)} follow-up(s)*. Write your answer in `MY_ANSWER`, "
            f"then run `p.answer(MY_ANSWER)`.{note}"
        )

    def answer(self, text: str) -> None:
        attempt = self._need()
        seconds = attempt.finish_answer(text)
        over = " (over the time box)" if seconds > attempt.time_box_s else ""
        said = f"Answered in {_clock(seconds)}{over}." if attempt.answer else "Nothing typed: that counts as no answer."
        self._show(f"{said}\n\n{self._next_followup_text()}")

    def followup(self, text: str) -> None:
        attempt = self._need()
        attempt.answer_followup(text)
        self._show(self._next_followup_text())

    def _next_followup_text(self) -> str:
        attempt = self._need()
        i, fus = len(attempt.followup_answers), attempt.question.followups
        if i >= len(fus):
            return "All follow-ups answered: run `p.reveal()`."
        return (
            f"**Follow-up {i + 1}/{len(fus)}:** {fus[i][0]}\n\nAnswer in `MY_FOLLOWUP`, then `p.followup(MY_FOLLOWUP)`."
        )

    def reveal(self) -> None:
        attempt = self._need()
        q, s = attempt.question, self.settings
        parts = [
            f"### Your answer\n\n{attempt.answer or '(nothing typed)'}",
            f"### Worked answer\n\n{q.render('Answer', s)}",
        ]
        for i, (fq, fa) in enumerate(q.followups, 1):
            mine = attempt.followup_answers[i - 1] if i <= len(attempt.followup_answers) else ""
            parts.append(
                f"### Follow-up {i}: {fq}\n\n**You:** {mine or '(nothing typed)'}\n\n**Worked:** {q.fill(fa, s)}"
            )
        parts.append("### Evidence, with your numbers\n\n" + evidence_text(q, s))
        parts.append("### Checklist: pass the numbers you met to `p.score(...)`\n\n" + self._checklist_text(q))
        self._show("\n\n".join(parts))

    @staticmethod
    def _checklist_text(q: Question) -> str:
        lines = []
        for name, items in (
            ("strong", q.rubric.strong),
            ("red_flags", q.rubric.red_flags),
            ("followups", [fq for fq, _ in q.followups]),
        ):
            lines.append(f"**{name}=**\n\n" + "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1)))
        return "\n\n".join(lines)

    def score(
        self,
        strong: Iterable[int] | None = None,
        red_flags: Iterable[int] = (),
        followups: Iterable[int] = (),
        override: int | None = None,
        reason: str = "",
    ) -> dict[str, Any] | None:
        """Record the attempt, scored from the checklist. ``strong=None`` (not marked yet) records nothing."""
        attempt = self._need()
        if strong is None:
            self._show(
                "Not recorded: mark the checklist first, e.g. `p.score(strong=[1, 2], red_flags=[], followups=[1])`."
            )
            return None
        marks = Marks(bool(attempt.answer), frozenset(strong), frozenset(red_flags), frozenset(followups))
        row = attempt.record(marks, override, reason, self.settings)
        entry = load_schedule(self.settings)[attempt.question.id]
        self._show(f"Recorded **{row['score']}/4** ({SCORE_SCALE[row['score']]}); due again {entry['due'][:10]}.")
        self.attempt = None
        return row

    def progress(self) -> None:
        rows = progress(self.questions, load_scores(self.settings), load_schedule(self.settings))
        self._show("```\n" + progress_table(rows) + "\n```")
