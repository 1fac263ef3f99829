"""Adversarial digits: the smallest pixel changes that flip a network's answer.

The fast gradient sign method (FGSM, Goodfellow, Shlens and Szegedy 2015) moves every pixel by
``epsilon`` in the direction that raises the loss of the true digit: ``x + epsilon ·
sign(∂loss/∂x)``, clipped to [0, 1]. The iterative version (Kurakin, Goodfellow and Bengio 2017)
takes several smaller such steps, each time projecting back into the band of ``epsilon`` around
the image. The gradient comes from `backend.input_gradient`, so both run on every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .activations import as_image_batch
from .backend import input_gradient, keras
from .checks import check_int

ops = keras.ops


def _check_epsilon(epsilon) -> float:
    if not (isinstance(epsilon, int | float | np.floating) and 0 <= epsilon <= 1):
        raise ValueError(
            f"epsilon must be a number from 0 to 1 (pixels lie in [0, 1]). Received: {epsilon!r}"
        )
    return float(epsilon)


def loss_gradient(model: keras.Model, images, labels, batch_size: int = 500) -> np.ndarray:
    """∂loss/∂x for each image: the gradient of its cross-entropy with respect to its pixels.

    Args:
        model: a trained network ending in a softmax.
        images: float32 (n, 28, 28, 1) in [0, 1]. labels: int (n,) true digits.

    Returns:
        float32, shaped like ``images``.
    """
    images = as_image_batch(images)
    labels = np.asarray(labels)
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    gradients = []
    for start in range(0, len(images), batch_size):
        batch = labels[start : start + batch_size]
        chosen = ops.one_hot(ops.convert_to_tensor(batch, "int32"), 10)

        def total_loss(x, chosen=chosen):
            probabilities = ops.cast(model(x, training=False), "float32")
            picked = ops.sum(probabilities * chosen, axis=1)
            # Summed over the images: each image's gradient is its own loss's.
            return -ops.sum(ops.log(ops.maximum(picked, 1e-12)))

        gradients.append(input_gradient(total_loss, images[start : start + batch_size]))
    return np.concatenate(gradients)


def fgsm(model: keras.Model, images, labels, epsilon: float) -> np.ndarray:
    """The fast gradient sign method: each pixel moved by ``epsilon`` up the loss, then clipped
    to [0, 1]."""
    epsilon = _check_epsilon(epsilon)
    images = as_image_batch(images)
    if epsilon == 0:
        return images.copy()
    step = np.sign(loss_gradient(model, images, labels))
    return np.clip(images + epsilon * step, 0.0, 1.0).astype(np.float32)


def iterative_fgsm(
    model: keras.Model, images, labels, epsilon: float, steps: int = 10, step_size=None
) -> np.ndarray:
    """FGSM in ``steps`` steps of ``step_size`` (default ``2.5 · epsilon / steps``), each followed
    by a projection back into [x − epsilon, x + epsilon] and [0, 1]."""
    epsilon = _check_epsilon(epsilon)
    steps = check_int("steps", steps, minimum=1)
    images = as_image_batch(images)
    size = 2.5 * epsilon / steps if step_size is None else _check_epsilon(step_size)
    moved = images.copy()
    for _ in range(steps):
        moved = moved + size * np.sign(loss_gradient(model, moved, labels))
        moved = np.clip(moved, images - epsilon, images + epsilon)
        moved = np.clip(moved, 0.0, 1.0).astype(np.float32)
    return moved


ATTACKS = {"fgsm": fgsm, "iterative": iterative_fgsm}


@dataclass
class AttackCurve:
    """Test accuracy against the size of the perturbation.

    Attributes:
        attack: ``"fgsm"`` or ``"iterative"``.
        epsilons: the sizes tried.
        correct: one bool array (n,) per epsilon: which images the network still got right.
    """

    attack: str
    epsilons: tuple[float, ...]
    correct: list[np.ndarray] = field(repr=False)

    @property
    def accuracy(self) -> np.ndarray:
        return np.array([c.mean() for c in self.correct])


def attack_curve(model: keras.Model, images, labels, epsilons, attack: str = "fgsm") -> AttackCurve:
    """Scores ``model`` on ``images`` attacked at each of ``epsilons``."""
    from .checks import check_choice

    check_choice("attack", attack, tuple(ATTACKS))
    labels = np.asarray(labels)
    epsilons = tuple(_check_epsilon(e) for e in epsilons)
    images = as_image_batch(images)
    # FGSM's direction does not depend on epsilon: one gradient serves every size.
    step = np.sign(loss_gradient(model, images, labels)) if attack == "fgsm" else None
    correct = []
    for epsilon in epsilons:
        if step is None:
            attacked = ATTACKS[attack](model, images, labels, epsilon)
        else:
            attacked = np.clip(images + epsilon * step, 0.0, 1.0).astype(np.float32)
        predictions = np.asarray(model.predict(attacked, batch_size=1000, verbose=0))
        correct.append(predictions.argmax(axis=1) == labels)
    return AttackCurve(attack, epsilons, correct)
