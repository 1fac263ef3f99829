"""What differs between Keras's backends, in one place; the rest of the library is plain Keras.

Importing this module imports Keras on the backend that ``KERAS_BACKEND`` (or Keras's own
``keras.json``) asks for, TensorFlow if neither says. The modules that need Keras import it from
here (``from .backend import keras``), so that this happens first:

- TensorFlow's C++ runtime writes informational lines (oneDNN, missing CUDA drivers) straight to
  file descriptor 2 while it is imported and when it first looks for devices, before any Python
  setting can reach them. In an executed book they would appear on every page, so the import and
  the device discovery are done once here with descriptor 2 pointed at /dev/null. Later errors
  still reach stderr as usual.
- A backend that is asked for but not installed is reported in one sentence that says how to
  install it, instead of a traceback from deep inside Keras.

Loading and preparing MNIST (`mnist_lessons.sources`, `mnist_lessons.data`) never imports this
module: that is NumPy work.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
"""Keras backend name → the Python module it needs."""

INSTALL_HINTS = {
    "tensorflow": "pip install tensorflow",
    "jax": "pip install jax",
    "torch": "pip install torch",
}


class BackendError(ImportError):
    """The Keras backend asked for cannot be used here."""


def requested_backend() -> str:
    """The backend Keras will use: ``KERAS_BACKEND``, else ``keras.json``, else TensorFlow."""
    chosen = os.environ.get("KERAS_BACKEND")
    if not chosen:
        keras_home = os.environ.get("KERAS_HOME") or Path("~") / ".keras"
        config = Path(keras_home).expanduser() / "keras.json"
        try:
            chosen = json.loads(config.read_text()).get("backend")
        except (OSError, ValueError, AttributeError):
            chosen = None
    return chosen or "tensorflow"


def _import_backend(backend: str) -> None:
    """Imports the backend's package (TensorFlow quietly), or says how to install it."""
    if backend not in BACKENDS:
        raise BackendError(
            f"KERAS_BACKEND must be one of {', '.join(BACKENDS)} for this library. "
            f"Received: KERAS_BACKEND={backend!r}"
        )
    package = BACKENDS[backend]
    try:
        if backend == "tensorflow":
            _import_tensorflow_quietly()
        else:
            importlib.import_module(package)
    except ModuleNotFoundError as err:
        if (err.name or "").partition(".")[0] != package:
            raise
        raise BackendError(
            f"Keras is set to the {backend} backend, but {package} is not installed: "
            f"install it with `{INSTALL_HINTS[backend]}`, or unset KERAS_BACKEND to use "
            "TensorFlow."
        ) from None


def _import_tensorflow_quietly() -> None:
    """Imports TensorFlow and looks up its devices with descriptor 2 pointed at /dev/null.

    Where the reader imported TensorFlow already, only the device lookup is left to do: it is
    lazy, and logs a CUDA error on machines without a GPU driver."""
    if _TENSORFLOW_READY:
        return
    try:
        saved = os.dup(2)
    except OSError:  # no usable descriptor 2 (some embedded interpreters)
        import tensorflow

        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        import tensorflow

        tensorflow.config.list_physical_devices()
        _TENSORFLOW_READY.append(True)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_TENSORFLOW_READY: list[bool] = []
"""Holds True once TensorFlow is imported and has looked up its devices (quietly)."""


class _NoRetracingNotice(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" notice.

    Keras gives every new model its own prediction function, so scoring several freshly trained
    models in a loop (as the fast-training chapter does for each seed) trips TensorFlow's
    retracing counter, although nothing is traced more than once per model.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


BACKEND = requested_backend()
_import_backend(BACKEND)

import keras  # noqa: E402  (after the backend's package, TensorFlow's quietly)

if BACKEND != "tensorflow" and importlib.util.find_spec("tensorflow") is not None:
    # Where TensorFlow is installed, Keras's data adapters import it during the first `fit` on
    # the other backends too, and its start-up lines would reach the page: import it quietly
    # now, and only after Keras. On the torch backend the order matters. Keras's torch backend
    # imports torch._dynamo, which loads triton where PyTorch's CUDA build brought it (PyPI's
    # default build on Linux, and Colab's). Measured with torch 2.14.1 (CUDA 13 build, triton
    # 3.8.0) beside TensorFlow 2.20 and Keras 3.13: triton loaded after TensorFlow crashes the
    # process with a segmentation fault (in triton/knobs.py), whether TensorFlow came first or
    # `import torch` did (`import torch` alone does not load triton); Keras, torch._dynamo or
    # triton imported before TensorFlow runs the same fit without a crash.
    # tests/test_backends.py imports the library in both orders a reader might use.
    _import_tensorflow_quietly()
if "tensorflow" in sys.modules:
    logging.getLogger("tensorflow").addFilter(_NoRetracingNotice())

STEPS_PER_EXECUTION = 1 if BACKEND == "torch" else 32
"""Training steps per call into the compiled training function. 32 cuts the per-step Python
overhead that dominates small MNIST batches on a CPU (the fast-training chapter measures it);
Keras's torch backend runs one step per call and refuses more."""

BFLOAT16_MEASURED = BACKEND == "tensorflow"
"""Whether mixed bfloat16 training was measured faster on CPUs with bfloat16 instructions on this
backend (`models.default_precision` uses it only where it was)."""


@functools.cache
def gpu_available() -> bool:
    """Whether the backend in use sees a GPU (looked up once per process)."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if BACKEND == "jax":
        import jax

        return any(device.platform == "gpu" for device in jax.devices())
    import torch

    return torch.cuda.is_available()


def matmul_gflops(n: int = 4096, repeats: int = 5) -> float:
    """The machine's measured float32 matrix-product rate on this backend, in GFLOP/s.

    The best of ``repeats`` products of two random ``n``×``n`` matrices, each timed until its
    result is back as a NumPy array (so that asynchronous backends finish the work).
    """
    a = keras.random.normal((n, n), seed=0)
    b = keras.random.normal((n, n), seed=1)
    keras.ops.convert_to_numpy(keras.ops.matmul(a, b))  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.matmul(a, b))
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def environment_line() -> str:
    """One line naming Keras, the backend and its version, the device, NumPy and Python."""
    import numpy as np

    module = sys.modules.get(BACKENDS[BACKEND]) or __import__(BACKENDS[BACKEND])
    device = "GPU" if gpu_available() else "CPU"
    return (
        f"Keras {keras.__version__} on {BACKEND} {module.__version__} ({device}), "
        f"NumPy {np.__version__}, Python {sys.version.split()[0]}"
    )


def input_gradient(function, x):
    """The gradient of a scalar function of a batch with respect to the batch, on any backend.

    Keras 3 has no backend-neutral gradient; this is the one place that takes one
    (`mnist_lessons.activations.saliency` uses it).

    Args:
        function: maps a backend tensor shaped like ``x`` to a scalar tensor (for a batch of
            independent images, the sum of their scores).
        x: float32 array, the point at which to take the gradient.

    Returns:
        float32 array shaped like ``x``.
    """
    import numpy as np

    backend = keras.backend.backend()
    x = np.asarray(x, dtype=np.float32)
    if backend == "tensorflow":
        import tensorflow as tf

        point = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(point)
            value = function(point)
        gradient = tape.gradient(value, point)
    elif backend == "jax":
        import jax

        gradient = jax.grad(function)(jax.numpy.asarray(x))
    elif backend == "torch":
        point = keras.ops.convert_to_tensor(x).detach().requires_grad_(True)
        function(point).backward()
        gradient = point.grad.detach().cpu()
    else:
        raise NotImplementedError(f"No input gradient for the {backend} backend.")
    return np.asarray(gradient, dtype=np.float32)


def training_batches(x, y, batch_size: int, seed: int):
    """Training data for ``model.fit``, reshuffled every epoch: on TensorFlow, a ``tf.data``
    pipeline with autotuning off; on the other backends, None (pass the arrays themselves).

    Given NumPy arrays, Keras's TensorFlow data adapter builds a pipeline that prefetches with
    ``tf.data`` autotuning, and when ``fit`` begins an epoch it releases the last epoch's iterator,
    which waits for the pipeline's background thread: on two shared cores that stalled epoch
    starts by 0–10 s with the process idle. This pipeline holds the arrays as two tensors, draws
    each epoch's order from ``seed``, gathers one batch at a time in the training loop's own
    thread, and starts no background thread. Pass it with ``shuffle=False`` and no
    ``batch_size``.

    Args:
        x: images, float32, (n, 28, 28, 1).
        y: one-hot labels, float32, (n, 10).
        batch_size: images per batch; the last batch of an epoch may be smaller.
        seed: seeds every epoch's order.
    """
    if BACKEND != "tensorflow":
        return None
    import tensorflow as tf

    images, labels = tf.constant(x), tf.constant(y)

    @tf.autograph.experimental.do_not_convert
    def gather(indices):
        return tf.gather(images, indices), tf.gather(labels, indices)

    order = tf.data.Dataset.range(len(x)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    dataset = order.batch(batch_size).map(gather)
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    return dataset.with_options(options)


PROFILE_BACKENDS = ("tensorflow",)
"""The backends `op_profile` can profile."""


def profiler_unavailable() -> str | None:
    """Why `op_profile` cannot profile in this process, in a sentence; None if it can.

    It needs TensorFlow, and counts the CPU's threads only: on a GPU the operations run on the
    device, where it does not look.
    """
    if BACKEND not in PROFILE_BACKENDS:
        return (
            "Operation profiles need the TensorFlow backend: run with KERAS_BACKEND=tensorflow "
            f"(this process runs Keras on {BACKEND})."
        )
    if gpu_available():
        return (
            "Operation profiles count the CPU's threads only, and this process trains on a GPU: "
            "use TensorFlow's profiler in TensorBoard there."
        )
    return None


def require_profiler() -> None:
    """Raises `BackendError` with `profiler_unavailable`'s reason, if there is one."""
    reason = profiler_unavailable()
    if reason is not None:
        raise BackendError(reason)


def op_profile(run) -> tuple[dict[str, float], float, float]:
    """Runs ``run()`` under TensorFlow's profiler and sums the time each graph operation took.

    Every operation's *self* time is counted (its own span less the operations nested inside it),
    summed over its calls and over the threads that ran it, so the figures add up without counting
    anything twice; on two cores the sum can exceed the wall time.

    Args:
        run: a function of no arguments, e.g. one that calls ``model.fit``.

    Returns:
        ``(ops, tracing, executor)``: ``ops`` maps each operation's node name (with the prefix
        that Keras's multi-step loop adds removed, then ``":"`` and its kernel, e.g.
        ``"gradient_tape/net/conv1/convolution/Conv2DBackpropFilter:_MklNativeConv2DBackpropFilter"``)
        to its seconds, including the input pipeline's (names starting
        ``"Iterator::"``); ``tracing`` is the seconds spent building ``tf.function`` graphs;
        ``executor`` is TensorFlow's scheduling of the operations, between and around them.

    Raises:
        BackendError: where `profiler_unavailable` gives a reason (not TensorFlow, or a GPU).
    """
    require_profiler()
    import re
    import tempfile

    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    with tempfile.TemporaryDirectory(prefix="mnist-lessons-profile-") as folder:
        tf.profiler.experimental.start(folder, tf.profiler.experimental.ProfilerOptions())
        try:
            run()
        finally:
            tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        (path,) = Path(folder).rglob("*.xplane.pb")
        space.ParseFromString(path.read_bytes())

    # Keras runs several steps per call inside a loop; its nodes carry the loop's scopes.
    loop_prefix = re.compile(
        r"^(?:while/body/_\d+/)?(?:while/cond/then/_\d+/)?"
        r"(?:while/cond/)?(?:StatefulPartitionedCall/)?"
    )
    ops: dict[str, float] = {}
    tracing = executor = 0.0
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        names = plane.event_metadata
        for line in plane.lines:
            if not line.name.startswith(("tf_Compute", "tf_data")):
                # A Python thread (named after the program: python, pytest, ipykernel…). Tracing
                # one function can trace others inside it: count the outermost spans.
                spans = sorted(
                    (e.offset_ps, e.offset_ps + e.duration_ps)
                    for e in line.events
                    if names[e.metadata_id].name == "tf.function-graph_building"
                )
                reached = 0
                for begin, end in spans:
                    tracing += max(0, end - max(begin, reached)) / 1e12
                    reached = max(reached, end)
                continue
            # Events on a thread nest; each one's self time is its span less its children's.
            events = sorted(line.events, key=lambda e: (e.offset_ps, -e.duration_ps))
            own = [e.duration_ps for e in events]
            open_events: list[tuple[int, int]] = []  # (end, index)
            for i, event in enumerate(events):
                while open_events and open_events[-1][0] <= event.offset_ps:
                    open_events.pop()
                if open_events:
                    own[open_events[-1][1]] -= event.duration_ps
                open_events.append((event.offset_ps + event.duration_ps, i))
            for event, self_ps in zip(events, own, strict=True):
                name = names[event.metadata_id].name
                if name.startswith("ExecutorState::"):
                    executor += self_ps / 1e12
                    continue
                if name.startswith("ThreadpoolListener::"):
                    continue
                op = loop_prefix.sub("", name)
                ops[op] = ops.get(op, 0.0) + self_ps / 1e12
    return ops, tracing, executor
