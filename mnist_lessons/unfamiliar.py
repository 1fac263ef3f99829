"""Inputs that are not digits, and a rule that says "not sure this is a digit".

A softmax gives every input ten probabilities that add up to one, a letter or noise included.
This module makes such inputs the way the book makes digits (`unfamiliar_inputs`: letters from a
font, centred as MNIST's digits were; noise; a blank and a nearly blank field; scribbles; digits
with their ink inverted) and a rejection rule chosen on the validation split (`RejectionRule`):
reject an input whose confidence score falls below a threshold that rejects a chosen share of
real validation digits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .checks import check_choice, check_int
from .data import IMAGE_SIZE
from .predict import centre_digit

LETTERS = "AEFHKLMPRTUVWXY"
"""Capital letters drawn as inputs: those least like a digit's shape (no O, I, S, Z, G, B, C,
D, J, N or Q, which a reader might take for 0, 1, 5, 2, 6, 8, 0, 0, 1, 2 or 9)."""


def render_letter(letter: str, size: int = 64, angle: float = 0.0, stroke: int = 0) -> np.ndarray:
    """One letter in Pillow's built-in TrueType font, centred as MNIST's digits were
    (`predict.centre_digit`): float32 (28, 28) in [0, 1], white ink on black.

    Args:
        letter: one visible character.
        size: the font size in pixels, before the letter is scaled to MNIST's 20×20 box.
        angle: a rotation in degrees, anticlockwise.
        stroke: extra stroke width in pixels (0: the font's own), for a bolder letter.
    """
    from PIL import Image, ImageDraw, ImageFont

    if not (isinstance(letter, str) and len(letter) == 1 and letter.strip()):
        raise ValueError(f"letter must be one visible character. Received: {letter!r}")
    size = check_int("size", size, minimum=8, maximum=512)
    stroke = check_int("stroke", stroke, minimum=0, maximum=size // 4)
    font = ImageFont.load_default(size=size)
    canvas = Image.new("L", (2 * size, 2 * size), 0)
    draw = ImageDraw.Draw(canvas)
    draw.text(
        (size // 2, size // 4), letter, fill=255, font=font, stroke_width=stroke, stroke_fill=255
    )
    if angle:
        canvas = canvas.rotate(float(angle), resample=Image.Resampling.BILINEAR)
    ink = np.asarray(canvas, dtype=np.float64) / 255
    return centre_digit(ink)


def scribble(rng: np.random.Generator, strokes: int = 3, points: int = 6) -> np.ndarray:
    """A random scribble: ``strokes`` polylines through random points, drawn thick and centred
    as a digit would be. float32 (28, 28) in [0, 1]."""
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (200, 200), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(check_int("strokes", strokes, minimum=1)):
        xy = [tuple(p) for p in rng.uniform(20, 180, (check_int("points", points, minimum=2), 2))]
        draw.line(xy, fill=255, width=14, joint="curve")
    return centre_digit(np.asarray(canvas, dtype=np.float64) / 255)


KINDS = ("letters", "noise", "blank", "nearly blank", "scribbles", "inverted digits")


def unfamiliar_inputs(digits: np.ndarray, count: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """``count`` inputs of each kind in `KINDS`, float32 (count, 28, 28, 1) in [0, 1], except
    ``"blank"``, which is one image: every blank field is the same input.

    Args:
        digits: real digits (n ≥ count, 28, 28[, 1]) in [0, 1], to invert: the first ``count``.
        count: inputs per kind.
        seed: seeds everything drawn at random: each letter (which one, its size, its angle
            within ±15°, its boldness), the noise, the dots and the scribbles. Two seeds give
            two different batches.
    """
    count = check_int("count", count, minimum=1)
    digits = np.asarray(digits, dtype=np.float32).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    if len(digits) < count:
        raise ValueError(f"need at least {count} digits to invert. Received: {len(digits)}")
    rng = np.random.default_rng(seed)
    shape = (count, IMAGE_SIZE, IMAGE_SIZE)
    letters = [
        render_letter(
            str(rng.choice(list(LETTERS))),
            size=int(rng.integers(40, 90)),
            angle=float(rng.uniform(-15, 15)),
            stroke=int(rng.integers(0, 3)),
        )
        for _ in range(count)
    ]
    nearly = np.zeros(shape, np.float32)
    for image, (row, col) in zip(nearly, rng.integers(8, 20, (count, 2)), strict=True):
        image[row : row + 2, col : col + 2] = 1.0
    kinds = {
        "letters": np.stack(letters),
        "noise": rng.uniform(0, 1, shape).astype(np.float32),
        "blank": np.zeros((1, IMAGE_SIZE, IMAGE_SIZE), np.float32),
        "nearly blank": nearly,
        "scribbles": np.stack([scribble(rng) for _ in range(count)]),
        "inverted digits": 1.0 - digits[:count],
    }
    return {name: images[..., None].astype(np.float32) for name, images in kinds.items()}


SCORES = ("max_probability", "entropy")


def confidence(probabilities: np.ndarray, score: str = "max_probability") -> np.ndarray:
    """How sure each answer is: the largest probability, or minus the entropy in bits (so that
    higher is surer for both)."""
    check_choice("score", score, SCORES)
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probabilities must be (n, classes). Received: {p.shape}")
    if score == "max_probability":
        return p.max(axis=1)
    return (p * np.log2(np.clip(p, 1e-12, 1))).sum(axis=1)


@dataclass(frozen=True)
class RejectionRule:
    """Reject an input whose confidence is below ``threshold``.

    Attributes:
        score: ``"max_probability"`` or ``"entropy"`` (`confidence`).
        threshold: the confidence below which an input is rejected.
        target_share: the share of validation digits the threshold was chosen to reject.
    """

    score: str
    threshold: float
    target_share: float

    @classmethod
    def fit(
        cls, probabilities: np.ndarray, share: float = 0.01, score: str = "max_probability"
    ) -> RejectionRule:
        """The threshold that rejects ``share`` of the given (validation) digits."""
        if not (isinstance(share, int | float) and 0 < share < 1):
            raise ValueError(f"share must lie strictly between 0 and 1. Received: {share!r}")
        values = np.sort(confidence(probabilities, score))
        index = max(0, math.ceil(share * len(values)) - 1)
        return cls(score, float(np.nextafter(values[index], np.inf)), float(share))

    def rejects(self, probabilities: np.ndarray) -> np.ndarray:
        """bool (n,): which inputs the rule rejects."""
        return confidence(probabilities, self.score) < self.threshold


@dataclass(frozen=True)
class RuleChoice:
    """The rejection rule `choose_rule` picked, and the evidence it picked it on.

    Attributes:
        rule: the chosen `RejectionRule`.
        rules: both candidate rules, ``{score: rule}``, each rejecting the same share of
            validation digits.
        caught: ``{score: {kind: share rejected}}`` on the choosing batch of unfamiliar inputs.
        auroc: ``{score: area under the ROC curve}``: how well the score alone, at every
            threshold, tells the choosing batch's unfamiliar inputs (blank counted once) from the
            validation digits; 0.5 is chance, 1 is perfect.
    """

    rule: RejectionRule
    rules: dict
    caught: dict
    auroc: dict


def choose_rule(
    model, validation_images, share: float = 0.01, count: int = 100, seed: int = 0
) -> RuleChoice:
    """Fits a rule for each score in `SCORES` to reject ``share`` of the validation digits, and
    keeps the one that rejects the larger mean share of a batch of unfamiliar inputs made from
    validation digits (``count`` of each kind, drawn with ``seed``). Report the chosen rule's
    catch on another batch, made with another seed from test digits, which took no part in the
    choice.

    Args:
        model: a trained classifier with a Keras-style ``predict`` returning (n, 10)
            probabilities.
        validation_images: the validation split's digits, (n, 28, 28[, 1]) in [0, 1].
    """
    digits = np.asarray(validation_images, dtype=np.float32)
    probabilities = np.asarray(model.predict(digits, verbose=0))
    rules = {score: RejectionRule.fit(probabilities, share, score) for score in SCORES}
    batch = unfamiliar_inputs(digits, count=count, seed=seed)
    answers = {kind: np.asarray(model.predict(x, verbose=0)) for kind, x in batch.items()}
    caught = {
        score: {kind: float(rule.rejects(p).mean()) for kind, p in answers.items()}
        for score, rule in rules.items()
    }
    best = max(SCORES, key=lambda score: float(np.mean(list(caught[score].values()))))
    auroc = {score: separation(probabilities, answers, score) for score in SCORES}
    return RuleChoice(rules[best], rules, caught, auroc)


def separation(digit_probabilities, unfamiliar: dict, score: str = "max_probability") -> float:
    """The area under the ROC curve of ``score`` for telling unfamiliar inputs (every kind in
    ``unfamiliar``, ``{kind: probabilities}``, pooled) from digits: the chance that a random
    unfamiliar input scores less sure than a random digit (`sklearn.metrics.roc_auc_score`)."""
    from sklearn.metrics import roc_auc_score

    pooled = np.concatenate(list(unfamiliar.values()))
    surety = np.concatenate([confidence(digit_probabilities, score), confidence(pooled, score)])
    is_unfamiliar = np.r_[np.zeros(len(digit_probabilities)), np.ones(len(pooled))]
    return float(roc_auc_score(is_unfamiliar, -surety))
