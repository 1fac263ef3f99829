"""How a network learns: gradient descent by hand, learning rates, batch normalisation, and
what Keras reports at each step.

The training chapter builds these one at a time:

- a linear model (softmax regression: ten weighted sums of the 784 pixels), its cross-entropy
  loss in `keras.ops` (`linear_loss`), its gradient worked out by hand (`hand_gradient`) and
  checked against automatic differentiation (`autodiff_gradient`), and the plain gradient-descent
  loop (`descend`) that the chapter shows and then calls with other batch sizes and rates;
- the learning-rate range test for a Keras model (`range_test`);
- batch normalisation by hand (`batch_norm_by_hand`), the running statistics a layer keeps
  (`running_weight`), and re-estimating them after a short run (`reestimate_batch_norm`);
- per-step training curves (`StepLog`): Keras reports at each step the running mean of the
  epoch so far; `batch_values` recovers each batch's own value from it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .backend import input_gradient, keras
from .checks import check_int
from .data import NUM_CLASSES

ops = keras.ops


def _flat(images) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    return images.reshape(len(images), -1)


def linear_scores(weights, bias, images):
    """The linear model's ten scores (logits) for each image: ``images @ weights + bias``.

    Args:
        weights: (784, 10). bias: (10,).
        images: (n, 784), or images (n, 28, 28[, 1]) flattened here.

    Returns:
        A backend tensor (n, 10).
    """
    if not hasattr(images, "shape") or len(images.shape) != 2:
        images = _flat(images)
    return ops.matmul(images, weights) + bias


def linear_loss(weights, bias, images, labels):
    """Mean cross-entropy of the linear model on a batch, in `keras.ops` (differentiable on every
    backend): −log softmax(score)[true digit], averaged over the images.

    Args:
        labels: int class indices (n,).
    """
    scores = linear_scores(weights, bias, images)
    log_p = scores - ops.logsumexp(scores, axis=1, keepdims=True)
    chosen = ops.take_along_axis(log_p, ops.expand_dims(ops.cast(labels, "int32"), 1), axis=1)
    return -ops.mean(chosen)


def hand_gradient(weights, bias, images, labels) -> tuple[np.ndarray, np.ndarray]:
    """The gradient of `linear_loss` worked out by hand, in NumPy.

    For one image with pixels x, probabilities p and true digit y, the loss's derivative with
    respect to the score of digit j is ``p_j − [j = y]``; the score of digit j is
    ``Σ_i x_i·W_ij + b_j``, so ``∂loss/∂W_ij = x_i·(p_j − [j = y])`` and ``∂loss/∂b_j =
    p_j − [j = y]``. The batch's gradient is the mean over its images.

    Returns:
        (dW (784, 10), db (10,)), float32.
    """
    _, d_weights, d_bias = _loss_and_gradient(
        _flat(images), np.asarray(labels), np.asarray(weights), np.asarray(bias)
    )
    return d_weights, d_bias


def _loss_and_gradient(x, labels, weights, bias):
    """The batch's mean loss and `hand_gradient`, from one forward pass."""
    scores = x @ weights + bias
    scores -= scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    total = exp.sum(axis=1, keepdims=True)
    rows = np.arange(len(x))
    loss = float(np.mean(np.log(total[:, 0]) - scores[rows, labels]))
    error = exp / total
    error[rows, labels] -= 1.0
    d_weights = (x.T @ error / len(x)).astype(np.float32)
    return loss, d_weights, error.mean(axis=0).astype(np.float32)


def autodiff_gradient(weights, bias, images, labels) -> np.ndarray:
    """dW of `linear_loss` by the backend's automatic differentiation (`backend.input_gradient`).

    Returns:
        float32 (784, 10).
    """
    x = _flat(images)
    labels = np.asarray(labels)
    bias = np.asarray(bias, dtype=np.float32)
    return input_gradient(lambda w: linear_loss(w, bias, x, labels), weights)


def gradient_noise(
    weights, bias, images, labels, batch_sizes, *, draws: int = 50, seed: int = 0
) -> dict[int, float]:
    """How far a batch's gradient is from the gradient over all of ``images``, by batch size.

    For each size, ``draws`` batches are drawn at random (without replacement within a batch),
    and the relative error ``‖dW_batch − dW‖ / ‖dW‖`` of `hand_gradient` is measured on each.
    The root mean square over the draws is returned: sampling theory says its square is the
    per-image variance divided by the batch size (times ``(N − size)/(N − 1)`` for a set of N),
    so it shrinks like one over the square root of the batch size. (A plain mean of the errors
    would not: for small batches their spread is skewed.)

    Returns:
        batch size → root-mean-square relative error (0 for the whole set).
    """
    x, y = _flat(images), np.asarray(labels)
    weights, bias = np.asarray(weights), np.asarray(bias)
    _, full, _ = _loss_and_gradient(x, y, weights, bias)
    norm = float(np.linalg.norm(full))
    rng = np.random.default_rng(seed)
    noise = {}
    for size in batch_sizes:
        size = check_int("batch size", size, minimum=1, maximum=len(x))
        if size == len(x):
            noise[size] = 0.0  # the batch is the whole set
            continue
        errors = []
        for _ in range(draws):
            batch = rng.choice(len(x), size, replace=False)
            _, estimate, _ = _loss_and_gradient(x[batch], y[batch], weights, bias)
            errors.append(float(np.linalg.norm(estimate - full)) / norm)
        noise[size] = float(np.sqrt(np.mean(np.square(errors))))
    return noise


@dataclass
class Descent:
    """One run of `descend`.

    Attributes:
        batch_size: images per step.
        learning_rate: the constant step size.
        batch_loss: the loss on each step's batch, before its update (float32 (steps,)).
        checkpoints: the steps at which the loss on the evaluation images was measured.
        loss: the loss on the evaluation images at those steps.
        seconds: wall time of the loop, the measurements of ``loss`` left out.
        diverged: the loss stopped being finite, or rose above ten times its start; the loop
            stopped there.
        weights, bias: where the loop ended.
    """

    batch_size: int
    learning_rate: float
    batch_loss: np.ndarray
    checkpoints: np.ndarray
    loss: np.ndarray
    seconds: float
    diverged: bool
    weights: np.ndarray = field(repr=False)
    bias: np.ndarray = field(repr=False)

    @property
    def steps(self) -> int:
        return len(self.batch_loss)

    def accuracy(self, images, labels) -> float:
        """The share of ``images`` the final weights classify correctly."""
        scores = _flat(images) @ self.weights + self.bias
        return float((scores.argmax(axis=1) == np.asarray(labels)).mean())


def descend(
    images,
    labels,
    *,
    batch_size: int,
    learning_rate: float,
    steps: int,
    seed: int = 0,
    eval_images=None,
    eval_labels=None,
    eval_every: int | None = None,
) -> Descent:
    """Trains the linear model by mini-batch gradient descent from zero weights.

    Each step takes the next ``batch_size`` images of a shuffled order (reshuffled after every
    pass), computes `hand_gradient` on them and moves every weight by ``−learning_rate`` times
    its derivative. ``batch_size = len(images)`` is full-batch gradient descent; 1 is
    stochastic gradient descent on one image per step.

    Args:
        images: float32 (n, 28, 28[, 1]) in [0, 1]. labels: int (n,).
        batch_size: 1 to n. learning_rate: > 0. steps: updates to make.
        seed: seeds the order.
        eval_images, eval_labels: where to measure the loss (default: the training images).
        eval_every: measure it every so many steps (default: about 50 times in the run).
    """
    x = _flat(images)
    y = np.asarray(labels)
    batch_size = check_int("batch_size", batch_size, minimum=1, maximum=len(x))
    steps = check_int("steps", steps, minimum=1)
    if not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
        raise ValueError(
            f"learning_rate must be a positive number. Received: learning_rate={learning_rate!r}"
        )
    eval_x = x if eval_images is None else _flat(eval_images)
    eval_y = y if eval_labels is None else np.asarray(eval_labels)
    every = eval_every or max(1, steps // 50)
    weights = np.zeros((x.shape[1], NUM_CLASSES), np.float32)
    bias = np.zeros(NUM_CLASSES, np.float32)
    rng = np.random.default_rng(seed)
    order, position = rng.permutation(len(x)), 0
    batch_loss, checkpoints, loss = [], [], []
    diverged, seconds = False, 0.0
    for step in range(steps):
        if step % every == 0:
            checkpoints.append(step)
            loss.append(float(linear_loss(weights, bias, eval_x, eval_y)))
        start = time.perf_counter()
        if batch_size == len(x):
            batch_x, batch_y = x, y  # every image, in any order: no copy
        else:
            if position + batch_size > len(x):
                order, position = rng.permutation(len(x)), 0
            batch = order[position : position + batch_size]
            position += batch_size
            batch_x, batch_y = x[batch], y[batch]
        value, d_weights, d_bias = _loss_and_gradient(batch_x, batch_y, weights, bias)
        batch_loss.append(value)
        weights -= learning_rate * d_weights
        bias -= learning_rate * d_bias
        seconds += time.perf_counter() - start
        if not math.isfinite(batch_loss[-1]) or batch_loss[-1] > 10 * math.log(NUM_CLASSES):
            diverged = True
            break
    if not diverged:
        checkpoints.append(len(batch_loss))
        loss.append(float(linear_loss(weights, bias, eval_x, eval_y)))
    return Descent(
        batch_size,
        float(learning_rate),
        np.array(batch_loss, np.float32),
        np.array(checkpoints),
        np.array(loss, np.float32),
        seconds,
        diverged,
        weights,
        bias,
    )


# Per-step curves.


def batch_values(running_means, batch_sizes) -> np.ndarray:
    """Each batch's own value from the running means Keras reports after each step.

    Keras's training loss and accuracy at step k are the mean over the epoch's first k batches,
    weighted by their sizes: ``m_k = Σ_{i≤k} n_i·v_i / Σ_{i≤k} n_i``. So the k-th batch's value is
    ``v_k = (N_k·m_k − N_{k−1}·m_{k−1}) / n_k`` with ``N_k`` the images seen so far.

    Args:
        running_means: (steps,) the values logged after each step of one epoch.
        batch_sizes: (steps,) the images in each of those steps.
    """
    means = np.asarray(running_means, dtype=np.float64)
    sizes = np.asarray(batch_sizes, dtype=np.float64)
    if means.shape != sizes.shape:
        raise ValueError(
            f"running_means and batch_sizes differ in length: {means.shape} and {sizes.shape}"
        )
    totals = np.cumsum(sizes) * means
    return np.diff(totals, prepend=0.0) / sizes


class StepLog(keras.callbacks.Callback):
    """Keeps what Keras logs after every step (compile with ``steps_per_execution=1``, or Keras
    reports only every so many steps), epoch by epoch, across calls to ``fit``.

    Attributes:
        running: key → list of per-epoch arrays of the logged running means.
        epoch_end: key → the value logged at each epoch's end (what ``History`` keeps).
    """

    def __init__(self):
        super().__init__()
        self.running: dict[str, list[np.ndarray]] = {}
        self.epoch_end: dict[str, list[float]] = {}
        self._current: dict[str, list[float]] = {}

    def on_epoch_begin(self, epoch, logs=None):
        self._current = {}

    def on_train_batch_end(self, batch, logs=None):
        for key, value in (logs or {}).items():
            self._current.setdefault(key, []).append(float(value))

    def on_epoch_end(self, epoch, logs=None):
        for key, values in self._current.items():
            self.running.setdefault(key, []).append(np.array(values))
        for key, value in (logs or {}).items():
            if not key.startswith("val_"):
                self.epoch_end.setdefault(key, []).append(float(value))


def epoch_batch_sizes(images: int, batch_size: int) -> np.ndarray:
    """The size of each step's batch in one pass over ``images`` (the last may be smaller)."""
    full, rest = divmod(images, batch_size)
    return np.array([batch_size] * full + ([rest] if rest else []))


# The learning-rate range test.


@dataclass
class RangeTest:
    """A learning-rate range test: one short run whose rate grows by the same factor each step.

    Attributes:
        rates: the rate at each step. loss: that step's batch loss (before its update).
        smoothed: the loss smoothed by an exponential moving average (debiased, as fast.ai's).
        steepest: the rate where the smoothed loss fell fastest per step in log-rate.
        lowest: the rate with the lowest smoothed loss.
    """

    rates: np.ndarray
    loss: np.ndarray
    smoothed: np.ndarray
    steepest: float
    lowest: float


class _RateRamp(keras.callbacks.Callback):
    def __init__(self, rates: np.ndarray):
        super().__init__()
        self.rates, self.loss = rates, []

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = float(self.rates[len(self.loss)])

    def on_train_batch_end(self, batch, logs=None):
        self.loss.append(float(logs["loss"]))
        if len(self.loss) >= len(self.rates) or not math.isfinite(self.loss[-1]):
            self.model.stop_training = True


def range_test(
    model: keras.Model,
    images,
    labels,
    *,
    start: float = 1e-5,
    stop: float = 1.0,
    steps: int = 200,
    batch_size: int = 128,
    smoothing: float = 0.9,
) -> RangeTest:
    """Trains ``model`` for ``steps`` steps at a rate rising geometrically from ``start`` to
    ``stop``, recording each step's batch loss (Smith's learning-rate range test, the
    ``lr_find`` of fast.ai).

    Args:
        model: an uncompiled network with a softmax output; compiled here with Adam, one-hot
            cross-entropy and one step per call, and trained (so pass a fresh copy).
        images: float32 (n, 28, 28, 1). labels: int (n,), n ≥ steps × batch_size.
    """
    steps = check_int("steps", steps, minimum=2)
    needed = steps * batch_size
    if len(images) < needed:
        raise ValueError(
            f"a range test of {steps} steps at batch {batch_size} needs {needed:,} images. "
            f"Received: {len(images):,}"
        )
    if not 0 < start < stop:
        raise ValueError(f"need 0 < start < stop. Received: start={start}, stop={stop}")
    rates = np.geomspace(start, stop, steps)
    model.compile(
        optimizer=keras.optimizers.Adam(start),
        loss="categorical_crossentropy",
        steps_per_execution=1,
    )
    ramp = _RateRamp(rates)
    y = keras.utils.to_categorical(np.asarray(labels[:needed]), NUM_CLASSES)
    model.fit(
        images[:needed],
        y,
        batch_size=batch_size,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[ramp],
    )
    loss = batch_values(ramp.loss, [batch_size] * len(ramp.loss))
    rates = rates[: len(loss)]
    average, smoothed = 0.0, []
    for k, value in enumerate(loss, start=1):
        average = smoothing * average + (1 - smoothing) * value
        smoothed.append(average / (1 - smoothing**k))
    smoothed = np.array(smoothed)
    finite = np.isfinite(smoothed)
    slope = np.gradient(np.where(finite, smoothed, np.nan), np.log(rates))
    lowest = int(np.nanargmin(np.where(finite, smoothed, np.nan)))
    steepest = int(np.nanargmin(slope[: lowest + 1]))
    return RangeTest(rates, loss, smoothed, float(rates[steepest]), float(rates[lowest]))


# Batch normalisation.


def batch_norm_by_hand(x, gamma, beta, epsilon: float, mean=None, variance=None) -> np.ndarray:
    """What a batch-normalisation layer computes, per channel (the last axis):
    ``gamma·(x − mean)/sqrt(variance + epsilon) + beta``.

    With ``mean`` and ``variance`` None (training mode), they are the batch's own, taken over
    every axis but the last (for images: over the batch and every position); otherwise
    (inference mode) the layer's running statistics.
    """
    x = np.asarray(x, dtype=np.float64)
    axes = tuple(range(x.ndim - 1))
    if mean is None:
        mean, variance = x.mean(axis=axes), x.var(axis=axes)
    return np.asarray(gamma) * (x - mean) / np.sqrt(np.asarray(variance) + epsilon) + np.asarray(
        beta
    )


def running_weight(momentum: float, steps: int) -> float:
    """The share of its starting value (mean 0, variance 1) a running statistic still holds after
    ``steps`` updates ``running = momentum·running + (1 − momentum)·batch``: ``momentum**steps``."""
    return float(momentum) ** int(steps)


def batch_norm_layers(model: keras.Model) -> list:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def reestimate_batch_norm(
    model: keras.Model, images, batch_size: int = 500, batches: int = 10
) -> None:
    """Replaces every batch-normalisation layer's running mean and variance by their average over
    ``batches`` batches of ``images``, the weights left as they are.

    Each batch goes through the model in training mode, and each layer's momentum is set so that
    its running statistic becomes the plain mean of the batches seen (``k/(k+1)`` before the
    ``k+1``-th batch, 0 before the first). Dropout is on during these passes, as in training;
    the momenta are restored afterwards.
    """
    layers = batch_norm_layers(model)
    if not layers:
        raise ValueError(f"model {model.name!r} has no batch-normalisation layer to re-estimate")
    images = np.asarray(images, dtype=np.float32)
    batches = min(check_int("batches", batches, minimum=1), max(1, len(images) // batch_size))
    saved = [layer.momentum for layer in layers]
    try:
        for k in range(batches):
            for layer in layers:
                layer.momentum = k / (k + 1)
            model(images[k * batch_size : (k + 1) * batch_size], training=True)
    finally:
        for layer, momentum in zip(layers, saved, strict=True):
            layer.momentum = momentum


def running_statistics_gap(model: keras.Model, images) -> dict[str, float]:
    """For each batch-normalisation layer, how far its running mean is from the mean of its
    input over ``images``: the root-mean-square gap over channels, divided by the input's
    root-mean-square standard deviation (0: settled)."""
    gaps = {}
    for layer in batch_norm_layers(model):
        probe = keras.Model(model.inputs[0], layer.input)
        inputs = np.asarray(probe.predict(images, batch_size=1000, verbose=0), dtype=np.float64)
        axes = tuple(range(inputs.ndim - 1))
        mean, std = inputs.mean(axis=axes), inputs.std(axis=axes)
        running = np.asarray(layer.moving_mean, dtype=np.float64)
        gaps[layer.name] = float(np.sqrt(np.mean((running - mean) ** 2) / np.mean(std**2)))
    return gaps
