"""Tests for mnist_lessons.unfamiliar."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_lessons import unfamiliar
from mnist_lessons.unfamiliar import RejectionRule, confidence, render_letter, unfamiliar_inputs


def test_a_letter_is_centred_as_mnist_digits_are():
    image = render_letter("K")
    assert image.shape == (28, 28) and image.max() == pytest.approx(1.0, abs=0.05)
    rows, cols = np.indices(image.shape)
    mass = image.sum()
    assert (rows * image).sum() / mass == pytest.approx(13.5, abs=1.0)
    assert (cols * image).sum() / mass == pytest.approx(13.5, abs=1.0)
    assert not np.array_equal(render_letter("K"), render_letter("T"))
    with pytest.raises(ValueError, match="one visible character"):
        render_letter("AB")


def test_every_kind_of_input_is_made_in_range(mnist):
    _, (x_test, _) = mnist
    digits = x_test[:8].astype(np.float32) / 255
    inputs = unfamiliar_inputs(digits, count=8, seed=1)
    assert list(inputs) == list(unfamiliar.KINDS)
    for name, images in inputs.items():
        assert images.shape == ((1 if name == "blank" else 8), 28, 28, 1), name
        assert images.min() >= 0 and images.max() <= 1, name
    assert not inputs["blank"].any()
    other = unfamiliar_inputs(digits, count=8, seed=2)
    for kind in ("letters", "noise", "scribbles"):  # another seed, another batch
        assert not np.array_equal(other[kind], inputs[kind]), kind
    assert len({image.tobytes() for image in inputs["letters"]}) == 8
    assert (inputs["nearly blank"].reshape(8, -1).sum(axis=1) == 4).all()
    np.testing.assert_allclose(inputs["inverted digits"][..., 0], 1 - digits)
    again = unfamiliar_inputs(digits, count=8, seed=1)
    np.testing.assert_array_equal(again["scribbles"], inputs["scribbles"])
    with pytest.raises(ValueError, match="at least 8 digits"):
        unfamiliar_inputs(digits[:3], count=8)


def test_confidence_is_higher_for_surer_answers():
    sure = np.eye(10)[[3]] * 0.91 + 0.01
    unsure = np.full((1, 10), 0.1)
    for score in unfamiliar.SCORES:
        assert confidence(sure, score)[0] > confidence(unsure, score)[0]
    assert confidence(unsure, "entropy")[0] == pytest.approx(-np.log2(10))
    with pytest.raises(ValueError, match="score"):
        confidence(sure, "margin")


def test_the_rule_rejects_the_chosen_share_of_the_digits_it_was_fitted_on():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (2000, 10))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    for score in unfamiliar.SCORES:
        rule = RejectionRule.fit(probabilities, share=0.05, score=score)
        assert rule.rejects(probabilities).mean() == pytest.approx(0.05, abs=0.001)
    with pytest.raises(ValueError, match="share must lie"):
        RejectionRule.fit(probabilities, share=0)


class InkModel:
    """Sure of a digit when a little of the field is inked, unsure when much of it is: a fake
    network whose confidence the rules can read."""

    def predict(self, images, verbose=0):
        ink = np.asarray(images).reshape(len(images), -1).mean(axis=1)
        spread = np.clip(ink * 4, 0, 1)[:, None]  # 0: sure, 1: all ten equal
        sure = np.eye(10)[np.zeros(len(images), int)]
        return (1 - spread) * sure + spread / 10


def test_choose_rule_fits_both_scores_on_validation_and_keeps_the_one_that_catches_more(mnist):
    from mnist_lessons.unfamiliar import SCORES, choose_rule

    _, (x_test, _) = mnist
    digits = x_test[:500].astype(np.float32) / 255
    choice = choose_rule(InkModel(), digits, share=0.02, count=20, seed=3)
    assert set(choice.rules) == set(SCORES) and choice.rule in choice.rules.values()
    probabilities = InkModel().predict(digits)
    for rule in choice.rules.values():
        assert rule.rejects(probabilities).mean() == pytest.approx(0.02, abs=0.004)
    assert set(choice.caught[choice.rule.score]) == set(unfamiliar.KINDS)
    means = {s: np.mean(list(caught.values())) for s, caught in choice.caught.items()}
    assert means[choice.rule.score] == max(means.values())
    assert choice.caught[choice.rule.score]["noise"] == 1.0  # half the field inked
    assert choice.caught[choice.rule.score]["blank"] == 0.0  # no ink: this fake is sure
    # Noise and inverted digits are far less sure than any digit; letters and dots are not.
    assert set(choice.auroc) == set(SCORES) and all(0.5 < a <= 1 for a in choice.auroc.values())
