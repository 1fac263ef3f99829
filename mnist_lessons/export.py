"""A trained model for other programs: ONNX files, and the files the "Draw a digit" page loads.

`export_onnx` writes any of the book's models as an ONNX graph (through Keras's own
``model.export(..., format="onnx")``, which on TensorFlow converts with ``tf2onnx``).
`export_for_page` writes that graph and a copy of it as a script, ``model.js``, which the book's
drawing page loads with a ``<script>`` tag: a page opened from ``file://`` may not fetch files,
but it may run scripts.

Importing this module imports neither Keras nor the ONNX tools; the functions import them when
they are called.
"""

from __future__ import annotations

import base64
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10

MODEL_FILE = "model.onnx"
SCRIPT_FILE = "model.js"
SCRIPT_GLOBAL = "digitModel"
"""The page's model script sets ``window.digitModel = {name, base64}``."""

EXPORT_PACKAGES = "pip install tf2onnx==1.17.0 onnx==1.23.2"


def _check_model(model) -> None:
    from .backend import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a Keras model. Received: model of type {type(model)}")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            "model must have one input and one output. "
            f"Received: {len(model.inputs)} inputs and {len(model.outputs)} outputs"
        )
    input_shape = tuple(model.inputs[0].shape[1:])
    output_shape = tuple(model.outputs[0].shape[1:])
    if input_shape != INPUT_SHAPE or output_shape != (NUM_CLASSES,):
        raise ValueError(
            "model must take (batch, 28, 28, 1) images and return (batch, 10) probabilities, "
            "as every model of mnist_lessons.models does. "
            f"Received: input shape {input_shape}, output shape {output_shape}"
        )


def float32_copy(model):
    """``model`` itself if it computes in float32, else a float32 copy with the same weights.

    Mixed-precision models (``mixed_bfloat16``) keep their weights in float32 but compute in
    bfloat16; an ONNX graph exported from them casts to bfloat16 before each convolution, which
    ONNX Runtime's convolutions do not accept. The copy computes every layer in float32.

    Args:
        model: a Keras ``Sequential`` or functional model.

    Returns:
        A Keras model whose layers all compute in float32.
    """
    from .models import precision_of, with_precision

    if precision_of(model) == "float32":
        return model
    copy = with_precision(model, "float32")
    copy.set_weights(model.get_weights())
    return copy


def export_onnx(model, path) -> Path:
    """Writes a trained model as an ONNX file that computes in float32.

    The graph takes a float32 input named ``image`` of shape (batch, 28, 28, 1), values in
    [0, 1] (white digit on black, as `mnist_lessons.data` prepares them), and returns float32
    softmax probabilities of shape (batch, 10). A mixed-precision model is exported from a
    float32 copy (`float32_copy`).

    Args:
        model: a Keras model with that input and output, e.g. one of `mnist_lessons.models`.
        path: the file to write (``.onnx``); its folder is created if missing.

    Returns:
        The path written.

    Raises:
        TypeError: if ``model`` is not a Keras model.
        ValueError: if its input or output shape is not the above, or ``path`` does not end
            in ``.onnx``.
        ImportError: if the export packages are missing, with the command that installs them.
    """
    _check_model(model)
    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"path must name an .onnx file. Received: path={str(path)!r}")
    from .backend import BACKEND

    if BACKEND == "tensorflow":
        try:
            import onnx  # noqa: F401
            import tf2onnx  # noqa: F401
        except ModuleNotFoundError as err:
            raise ImportError(
                f"Exporting to ONNX needs {err.name}: install it with `{EXPORT_PACKAGES}`."
            ) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # Keras's NumPy 2 patch of tf2onnx probes `np.object`, which NumPy warns about; the
        # warning would otherwise reach an executed chapter's stderr.
        warnings.filterwarnings("ignore", message=".*np.object.*", category=FutureWarning)
        exported = float32_copy(model)
        # Keras exports only a model that has been called once (a fresh copy has not).
        exported(np.zeros((1, *INPUT_SHAPE), dtype="float32"))
        exported.export(str(path), format="onnx", verbose=False)
    return path


@dataclass(frozen=True)
class PageModel:
    """The files `export_for_page` wrote.

    Attributes:
        onnx: the ONNX graph.
        script: ``model.js``, the same bytes in base64 for a ``<script>`` tag.
    """

    onnx: Path
    script: Path

    @property
    def size(self) -> int:
        """The ONNX file's size in bytes."""
        return self.onnx.stat().st_size


def export_for_page(model, folder, name: str | None = None, rule=None) -> PageModel:
    """Writes ``model.onnx`` and ``model.js`` for the book's "Draw a digit" page.

    ``model.js`` sets ``window.digitModel = {name, base64, rejection}``: the ONNX file's bytes in
    base64, so that the page can load the model from ``file://`` as well as over HTTP, and the
    rejection rule (``{score, threshold, share}``, or null) with which the page says it is not
    sure a drawing is a digit.

    Args:
        model: a trained Keras model, as `export_onnx` takes it.
        folder: where to write both files, e.g. ``book/_static/draw``; created if missing.
        name: a label the page shows for the model; ``model.name`` if None.
        rule: a `unfamiliar.RejectionRule` fitted on the model's validation probabilities, or
            None for none.

    Returns:
        The `PageModel` with both paths.
    """
    if rule is not None and getattr(rule, "score", None) not in ("max_probability", "entropy"):
        raise TypeError(
            "rule must be a RejectionRule (mnist_lessons.unfamiliar.RejectionRule.fit) or "
            f"None. Received: rule={rule!r}"
        )
    folder = Path(folder)
    onnx_path = export_onnx(model, folder / MODEL_FILE)
    label = model.name if name is None else str(name)
    encoded = base64.b64encode(onnx_path.read_bytes()).decode("ascii")
    script = folder / SCRIPT_FILE
    rejection = None
    if rule is not None:
        rejection = {
            "score": rule.score,
            "threshold": float(rule.threshold),
            "share": float(rule.target_share),
        }
    content = {"name": label, "base64": encoded, "rejection": rejection}
    script.write_text(
        "// Generated by mnist_lessons.export.export_for_page: the ONNX model in base64.\n"
        f"window.{SCRIPT_GLOBAL} = {json.dumps(content)};\n"
    )
    return PageModel(onnx_path, script)
