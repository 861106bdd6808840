"""What the records say: question templates per task and the answer texts (per-kind analyses,
the normal-video texts, the 'Judgement: ... Description: ... Analysis: ...' answer format)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from va_gpt.pipeline.describe import DESCRIBE_QUESTION
from va_gpt.taxonomy import display

# describe stage's answer-format instruction, shared by every description paraphrase
FORMAT = "Answer as:" + DESCRIBE_QUESTION.split("Answer as:", 1)[1]

TEMPLATES: dict[str, tuple[str, ...]] = {
    "judgement": (
        "Is there an anomaly in this video? If so, which kind?",
        "Does anything abnormal happen in this video? If it does, name the kind of anomaly.",
        "Watch the video. Is there an abnormal event, and what kind is it?",
        "Are there anomalies in this surveillance footage? Answer yes or no and name the anomaly if there is one.",
    ),
    # about a window: the describe stage's own question first, then paraphrases with the same format
    "description": (
        DESCRIBE_QUESTION,
        "What happens between {start:.1f}s and {end:.1f}s? " + FORMAT,
        "Describe the event from {start:.1f}s to {end:.1f}s. " + FORMAT,
        "Look at the video from {start:.1f}s to {end:.1f}s and describe the event there. " + FORMAT,
    ),
    "description_video": (
        "Describe what happens in this video. " + FORMAT,
        "Summarise the events in this video. " + FORMAT,
        "What goes on in this footage? " + FORMAT,
    ),
    "analysis": (
        "Why is the event between {start:.1f}s and {end:.1f}s abnormal?",
        "Explain what makes the event from {start:.1f}s to {end:.1f}s an anomaly.",
        "What is abnormal about what happens between {start:.1f}s and {end:.1f}s, and why?",
    ),
    "analysis_video": (
        "Why is this video considered abnormal?",
        "Explain what makes the events in this video anomalous.",
        "What is abnormal in this video, and why?",
    ),
    "temporal": (
        "When does the anomaly happen in this video? Give the start and end times in seconds.",
        "Give the start and end time of the abnormal event, in seconds.",
        "Locate the anomaly in time: from when to when does it happen?",
        "At what time does the abnormal event start and end?",
    ),
    "mc_temporal": (
        "During which interval does {what} happen?",
        "Which time interval contains {what}?",
        "When does {what} take place? Choose one option.",
    ),
}


# why each synthetic kind is abnormal (the generator's captions describe the events)
SYNTHETIC_ANALYSIS = {
    "fighting": "People hitting and grappling with each other is violence that can injure someone, "
    "unlike the calm walking around them",
    "falling": "A person who collapses and stays on the ground may be hurt and need help; "
    "pedestrians normally stay on their feet",
    "running": "Several people suddenly breaking into a run suggests panic or flight from danger; "
    "pedestrians here normally walk",
    "explosion": "A sudden blast with fire endangers everyone nearby and damages property; "
    "nothing in an ordinary street scene flares up like this",
    "collision": "Vehicles crashing into each other can injure people and block the road; "
    "traffic normally passes without contact",
    "abandoned_object": "A bag left behind and unattended in a public place can be a security threat; "
    "people normally keep their belongings with them",
}
SYNTHETIC_NORMAL = "Pedestrians walk along the sidewalks at an ordinary pace and nothing unusual happens"
NORMAL_ANALYSIS = "Nothing abnormal happens; this is ordinary activity"

# One short description and reason per synthetic kind (the "plain" style): a small model learns
# these in minutes; the generator's varied captions need far more training.
SHORT_DESCRIPTION = {
    "fighting": "two people fight each other",
    "falling": "a person falls to the ground and stays down",
    "running": "a group of people suddenly runs away",
    "explosion": "a fire flares up after an explosion",
    "collision": "two cars crash into each other",
    "abandoned_object": "a person leaves a bag behind",
}
SHORT_ANALYSIS = {
    "fighting": "violence between people is dangerous",
    "falling": "the person may be hurt and need help",
    "running": "people running in panic suggests danger",
    "explosion": "fire puts people in danger",
    "collision": "a car crash can injure people",
    "abandoned_object": "an unattended bag may be a threat",
}
SHORT_NORMAL = "people walk along the street"

_FIELD_MARK = re.compile(r"\b(judgement|judgment|description|analysis)(\s*):", re.IGNORECASE)


def clean(text: str | None) -> str | None:
    """Text for a field of a 'Judgement: ... Description: ...' answer: stripped, no trailing period,
    and no 'Analysis:'-style marks of its own that would confuse parse_fields."""
    if text is None:
        return None
    text = " ".join(text.split()).strip().rstrip(".").strip()
    return _FIELD_MARK.sub(lambda m: m.group(1) + m.group(2) + " -", text) or None


def r1(x: float) -> float:
    """`x` on the 0.1 s grid."""
    return round(float(x) * 10.0) / 10.0


def seconds(x: float) -> str:
    return f"{x:.1f}s"


def kinds_text(kinds: Sequence[str]) -> str:
    words = [display(k) for k in kinds]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


TEMPORAL_QUESTION = TEMPLATES["temporal"][0]


def temporal_answer(spans: Sequence[Sequence[float]]) -> str:
    """The temporal task's answer: [(2.6, 8.6)] -> "The anomaly happens from 2.6s to 8.6s."
    (several spans joined by "and")."""
    joined = " and ".join(f"from {seconds(r1(s))} to {seconds(r1(e))}" for s, e in spans)
    return f"The anomaly happens {joined}."


def fields_answer(judgement: str, description: str | None = None, analysis: str | None = None) -> str:
    """'Judgement: x. Description: y. Analysis: z.' (the parts given), as the describe stage parses it."""
    parts = [f"Judgement: {judgement}."]
    if description:
        parts.append(f"Description: {description}.")
    if analysis:
        parts.append(f"Analysis: {analysis}.")
    return " ".join(parts)
