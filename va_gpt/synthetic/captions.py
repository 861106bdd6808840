"""Captions of the injected events: a template per kind, filled with where it happens and who is involved."""

from __future__ import annotations

import numpy as np

_TEMPLATES = {
    "fighting": [
        "Two people start fighting {loc}, pushing and hitting each other.",
        "A person in a {shirt} top and a person in a {shirt2} top get into a violent fight {loc}.",
        "{Loc}, two pedestrians meet and begin to brawl, moving erratically at close range.",
        "A fight breaks out {loc} as two people exchange punches.",
    ],
    "falling": [
        "A person falls to the ground {loc} and stays down.",
        "A pedestrian in a {shirt} top suddenly collapses {loc} and lies on the ground.",
        "{Loc}, a walking person loses balance, drops to the ground and does not get up.",
        "Someone wearing {shirt} falls over {loc} and remains lying on the pavement.",
    ],
    "running": [
        "Several people {loc} suddenly start running away in panic.",
        "A group of {n} pedestrians abruptly sprints off in different directions, as if fleeing something.",
        "{Loc}, people scatter and run quickly out of the scene.",
        "{N} people who were walking {loc} break into a panicked run.",
    ],
    "explosion": [
        "An explosion {loc} produces a bright, flickering fire.",
        "A fireball suddenly erupts {loc} and burns with flickering flames before dying down.",
        "{Loc}, a bright fire flares up and expands rapidly.",
        "Something explodes {loc}, leaving flames and a dark scorch mark on the ground.",
    ],
    "collision": [
        "Two vehicles speed toward each other {loc} and collide, stopping abruptly.",
        "A {car1} car and a {car2} car crash head-on {loc} and come to a halt.",
        "{Loc}, two cars driving fast collide and smoke rises from the wreck.",
        "A {car2} car swerves into the oncoming lane {loc} and hits a {car1} car.",
    ],
    "abandoned_object": [
        "A person in a {shirt} top leaves a {bag} bag on the ground {loc} and walks away; the bag stays there.",
        "An unattended {bag} bag is left behind {loc} by a passer-by.",
        "{Loc}, a pedestrian puts down a bag and leaves without it.",
        "Someone drops off a {bag} bag {loc} and walks away, leaving it unattended.",
    ],
}

_NUMBERS = {3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}


def _where(box, width: int, height: int) -> str:
    cx = (box[0] + box[2]) / 2 / width
    cy = (box[1] + box[3]) / 2 / height
    col = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else None
    row = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else None
    if row and col:
        return f"near the {row} {col}"
    if col:
        return f"on the {col} side of the frame"
    if row:
        return f"near the {row} of the frame"
    return "in the middle of the frame"


def caption(rng: np.random.Generator, kind: str, box, width: int, height: int, ctx: dict) -> str:
    """A caption of a `kind` event at `box`; `ctx` fills the template (shirt, car and bag colours, group size)."""
    loc = _where(box, width, height)
    tmpl = _TEMPLATES[kind][int(rng.integers(len(_TEMPLATES[kind])))]
    n = ctx.get("n", 3)
    text = tmpl.format(loc=loc, Loc=loc[0].upper() + loc[1:], N=_NUMBERS.get(n, str(n)).capitalize(), **ctx)
    return text[0].upper() + text[1:]
