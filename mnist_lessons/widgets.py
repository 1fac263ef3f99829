"""A drawing pad and an upload button in the notebook: draw a digit, or upload a photo of one.

`DigitPad` is a notebook widget (built on anywidget, so it runs in JupyterLab, Jupyter Notebook 7,
VS Code and Google Colab). The reader draws on a canvas with the mouse or a finger, or uploads a
PNG or JPEG; the front end sends the pixels to Python as PNG bytes, Python prepares them with
`mnist_lessons.predict.prepare_image` and classifies them with the model it was given, and the
front end shows the 28×28 image the network received and its three most probable digits. Pass the
model a chapter has already trained, so that re-running the widget's cell trains nothing::

    from mnist_lessons.widgets import DigitPad

    pad = DigitPad(model)
    pad  # draw; then, in Python: pad.prediction.top(3)

A widget runs only beside a live kernel. Its output also carries `DigitPad.STATIC_TEXT` as
text/plain, which says so; a static page shows it where the widget view is not rendered (for
Jupyter Book, ``nb_mime_priority_overrides: [["*", "application/vnd.jupyter.widget-view+json",
null]]`` in the Sphinx configuration).

The front end's elements carry stable CSS classes for tests and styling: ``digit-pad-canvas``,
``digit-pad-prediction`` (the most probable digit; empty when there is none), ``digit-pad-top``,
``digit-pad-preview`` (the 28×28 image), ``digit-pad-message``, ``digit-pad-clear`` and
``digit-pad-upload``.
"""

from __future__ import annotations

import base64
import io
import tempfile
from pathlib import Path

import anywidget
import numpy as np
import traitlets
from PIL import Image

from .checks import check_int
from .predict import ImageError, Prediction, predict_digits, prepare_image

TOP_K = 3
"""How many of the most probable digits the pad shows."""

THROTTLE_MS = 250
"""While a stroke is being drawn, the pad sends the canvas at most this often (milliseconds), and
only once the previous request is answered; it always sends it when the stroke ends."""

_ESM = """
const THROTTLE_MS = __THROTTLE_MS__;

function element(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text) node.textContent = text;
  return node;
}

function render({ model, el }) {
  const size = model.get("size");
  const root = element("div", "digit-pad");
  const canvas = element("canvas", "digit-pad-canvas");
  canvas.width = size;
  canvas.height = size;
  canvas.setAttribute("aria-label", "Draw one digit here");
  const pen = canvas.getContext("2d");

  const clear = element("button", "digit-pad-clear", "Clear");
  const upload = element("button", "digit-pad-upload", "Upload a photo…");
  const file = element("input", "digit-pad-file");
  file.type = "file";
  file.accept = "image/png,image/jpeg";
  for (const button of [clear, upload]) button.type = "button";

  const result = element("div", "digit-pad-result");
  const caption = element("div", "digit-pad-caption", "What the network sees (28×28)");
  const preview = element("img", "digit-pad-preview");
  preview.alt = "the 28×28 image the network receives";
  const prediction = element("div", "digit-pad-prediction");
  const top = element("ol", "digit-pad-top");
  const message = element("div", "digit-pad-message");
  const unsure = element("div", "digit-pad-unsure");
  unsure.setAttribute("aria-live", "polite");
  result.append(caption, preview, prediction, unsure, top, message);

  const buttons = element("div", "digit-pad-buttons");
  buttons.append(clear, upload, file);
  const left = element("div", "digit-pad-left");
  left.append(canvas, buttons);
  root.append(left, result);
  el.append(root);

  function blank() {
    pen.fillStyle = "#fff";
    pen.fillRect(0, 0, size, size);
  }
  blank();

  // Every request carries a serial number; Python answers each in order, so the pad is busy
  // while the last answer has a smaller number than the last request.
  let sent = model.get("request");
  let queue = Promise.resolve();
  function showBusy() {
    const busy = model.get("answered") < sent;
    root.classList.toggle("digit-pad-busy", busy);
    root.dataset.busy = String(busy);
  }
  function request(name, read) {
    // Another view of the same widget may have sent requests too.
    sent = Math.max(sent, model.get("request")) + 1;
    const serial = sent;
    showBusy();
    queue = queue.then(async () => {
      model.set("input_name", name);
      model.set("input_file", new DataView(await read()));
      model.set("request", serial);
      model.save_changes();
    });
  }
  function send() {
    request("drawing.png", () => new Promise((resolve) => {
      canvas.toBlob((blob) => resolve(blob.arrayBuffer()), "image/png");
    }));
  }

  let last = null;
  let sentAt = 0;
  let showingPhoto = false;
  function at(event) {
    const box = canvas.getBoundingClientRect();
    return [
      ((event.clientX - box.left) * size) / box.width,
      ((event.clientY - box.top) * size) / box.height,
    ];
  }
  function strokeTo(point) {
    pen.strokeStyle = "#000";
    pen.lineWidth = size / 14;
    pen.lineCap = "round";
    pen.lineJoin = "round";
    pen.beginPath();
    pen.moveTo(...last);
    pen.lineTo(...point);
    pen.stroke();
    last = point;
  }
  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    if (showingPhoto) blank();  // a new drawing starts on blank paper
    showingPhoto = false;
    last = at(event);
    strokeTo(last);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (last === null) return;
    event.preventDefault();
    strokeTo(at(event));
    // No new request mid-stroke while one is unanswered, so that a slow kernel gets no backlog.
    if (model.get("answered") >= sent && Date.now() - sentAt > THROTTLE_MS) {
      sentAt = Date.now();
      send();
    }
  });
  function end() {
    if (last === null) return;
    last = null;
    send();
  }
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  clear.addEventListener("click", () => {
    blank();
    file.value = "";
    request("", async () => new ArrayBuffer(0));
  });
  upload.addEventListener("click", () => file.click());
  file.addEventListener("change", async () => {
    const chosen = file.files[0];
    if (!chosen) return;
    blank();
    try {
      // Show the photo on the pad, fitted; what is classified is the file itself.
      const picture = await createImageBitmap(chosen);
      const scale = Math.min(size / picture.width, size / picture.height);
      const [w, h] = [picture.width * scale, picture.height * scale];
      pen.drawImage(picture, (size - w) / 2, (size - h) / 2, w, h);
      showingPhoto = true;
    } catch (error) {
      // Not decodable by the browser: Python says what is wrong with it.
    }
    request(chosen.name, () => chosen.arrayBuffer());
    file.value = "";
  });

  function show() {
    const image = model.get("image");
    if (image) preview.src = image;
    else preview.removeAttribute("src");
    preview.hidden = !image;
    caption.hidden = !image;
    const ranked = model.get("top");
    prediction.textContent = ranked.length ? String(ranked[0][0]) : "";
    prediction.dataset.digit = ranked.length ? String(ranked[0][0]) : "";
    top.replaceChildren(
      ...ranked.map(([digit, probability]) => {
        const row = element("li", "digit-pad-candidate");
        const bar = element("span", "digit-pad-bar");
        bar.style.width = `${Math.round(probability * 100)}%`;
        row.append(
          element("span", "digit-pad-digit", String(digit)),
          bar,
          element("span", "digit-pad-probability", `${(probability * 100).toFixed(1)} %`),
        );
        return row;
      }),
    );
    message.textContent = model.get("message");
    unsure.textContent = model.get("unsure");
    unsure.hidden = !model.get("unsure");
    prediction.classList.toggle("digit-pad-doubtful", Boolean(model.get("unsure")));
  }
  for (const name of ["image", "top", "message", "unsure"]) model.on(`change:${name}`, show);
  model.on("change:answered", showBusy);
  show();
  showBusy();
}

export default { render };
""".replace("__THROTTLE_MS__", str(THROTTLE_MS))

_CSS = """
.digit-pad { display: flex; gap: 1.5em; align-items: flex-start; flex-wrap: wrap;
  font-family: sans-serif; }
.digit-pad-canvas { border: 1px solid #888; border-radius: 4px; touch-action: none;
  cursor: crosshair; background: #fff; max-width: 100%; }
.digit-pad-buttons { display: flex; gap: 0.5em; margin-top: 0.5em; }
.digit-pad-buttons button { padding: 0.3em 0.9em; cursor: pointer; }
.digit-pad-file { position: absolute; width: 1px; height: 1px; opacity: 0; overflow: hidden; }
.digit-pad-result { min-width: 12em; }
.digit-pad-caption { font-size: 0.85em; color: #666; }
.digit-pad-preview { width: 112px; height: 112px; image-rendering: pixelated;
  border: 1px solid #888; background: #000; display: block; margin: 0.3em 0; }
.digit-pad-preview[hidden], .digit-pad-caption[hidden] { display: none; }
.digit-pad-prediction { font-size: 3em; font-weight: bold; line-height: 1.1; min-height: 1.1em; }
.digit-pad-top { list-style: none; padding: 0; margin: 0.3em 0; }
.digit-pad-candidate { display: flex; align-items: center; gap: 0.5em; }
.digit-pad-digit { width: 1em; font-weight: bold; }
.digit-pad-bar { display: inline-block; height: 0.8em; max-width: 8em; background: #4a90d9;
  flex: none; }
.digit-pad-probability { font-variant-numeric: tabular-nums; }
.digit-pad-message { color: #b00020; max-width: 20em; }
.digit-pad-unsure { color: #8a5a00; font-weight: bold; max-width: 20em; }
.digit-pad-unsure[hidden] { display: none; }
.digit-pad-doubtful { color: #999; }
"""


def _png_data_url(image: np.ndarray) -> str:
    """A float image in [0, 1] as a grey PNG ``data:`` URL."""
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def prepare_image_bytes(data: bytes, name: str = "image") -> np.ndarray:
    """`prepare_image` for the bytes of an image file, as a browser sends them.

    The bytes are read exactly as `prepare_image` reads a file of that name, so an upload is
    prepared as the same file passed by path would be.

    Args:
        data: the contents of a PNG or JPEG file.
        name: the file's name, used in error messages.

    Returns:
        float32 array of shape (28, 28), values in [0, 1], the digit white on black.

    Raises:
        ImageError: if the bytes are not a readable image, or the image is blank; the message
            names the file by ``name``.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be the bytes of an image file. Received: {type(data)}")
    name = Path(name).name or "image"
    with tempfile.TemporaryDirectory(prefix="digit-pad-") as folder:
        path = Path(folder) / name
        path.write_bytes(bytes(data))
        try:
            return prepare_image(path)
        except ImageError as err:
            raise ImageError(str(err).replace(str(path), name)) from err


def _bytes_from_front_end(value, widget) -> bytes:
    """Binary traits arrive from the front end as memoryviews."""
    return bytes(value)


class DigitPad(anywidget.AnyWidget):
    """A drawing pad and an upload button that classify a reader's digit as it is drawn.

    Args:
        model: a trained classifier taking float32 input of shape (n, 28, 28, 1) in [0, 1] and
            returning (n, 10) probabilities from ``model.predict(batch, verbose=0)``: a Keras
            model, or anything with that method.
        size: the canvas's width and height in pixels, 112 to 1024.
        rule: a `unfamiliar.RejectionRule`; where it rejects an image, the pad still shows the
            ten digits' ranking, and says it is not sure the image is a digit. None: no rule.

    The synced traits are the widget's protocol with its front end. The front end sends an image
    file and a new ``request`` number in one message; Python classifies the file and answers:

    - ``input_file``: bytes of a PNG or JPEG file: the canvas (sent at the end of each stroke
      and, throttled, while drawing) or an uploaded file; empty bytes when the pad is cleared.
    - ``input_name``: the file's name (``"drawing.png"`` for the canvas).
    - ``request``: the front end's serial number of the message.
    - ``image``: the 28×28 image the network received, as a PNG ``data:`` URL ("" for none).
    - ``top``: the `TOP_K` most probable digits, ``[[digit, probability], ...]``, best first.
    - ``message``: why the last image could not be classified ("" when it could).
    - ``unsure``: `UNSURE_TEXT` where the rule rejects the last image, else "".
    - ``answered``: the ``request`` number the result answers.

    From Python, `prediction` and `prepared` hold the last result, and `classify` takes an
    image file's bytes as the front end sends them.
    """

    STATIC_TEXT = (
        "Drawing pad for digits: run this cell in Jupyter or Colab to draw a digit "
        "(a widget needs a live kernel)."
    )

    _esm = _ESM
    _css = _CSS

    size = traitlets.Int(280).tag(sync=True)
    # Not echoed back: the front end already has what it sent.
    input_file = traitlets.Bytes(b"").tag(
        sync=True, echo_update=False, from_json=_bytes_from_front_end
    )
    input_name = traitlets.Unicode("").tag(sync=True, echo_update=False)
    request = traitlets.Int(0).tag(sync=True, echo_update=False)
    image = traitlets.Unicode("").tag(sync=True)
    top = traitlets.List([]).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    unsure = traitlets.Unicode("").tag(sync=True)
    answered = traitlets.Int(0).tag(sync=True)

    UNSURE_TEXT = "Not sure this is a digit."

    def __init__(self, model, *, size: int = 280, rule=None):
        if not callable(getattr(model, "predict", None)):
            raise TypeError(
                "model must be a trained classifier with a predict method, such as a Keras "
                f"model. Received: model={model!r}"
            )
        check_int("size", size, minimum=112, maximum=1024)
        if rule is not None and not callable(getattr(rule, "rejects", None)):
            raise TypeError(
                "rule must be a RejectionRule (mnist_lessons.unfamiliar.RejectionRule.fit on "
                f"validation probabilities), or None. Received: rule={rule!r}"
            )
        self._model = model
        self._rule = rule
        self._prediction: Prediction | None = None
        self._prepared: np.ndarray | None = None
        super().__init__(size=size)

    @property
    def prediction(self) -> Prediction | None:
        """The last image's `Prediction`, or None when the pad is empty or the image had none."""
        return self._prediction

    @property
    def rejected(self) -> bool:
        """Whether the rule rejected the last image (False without a rule or an image)."""
        return bool(self.unsure)

    @property
    def prepared(self) -> np.ndarray | None:
        """The last image as the network received it: float32 (28, 28) in [0, 1], or None."""
        return self._prepared

    def classify(self, data: bytes, name: str = "drawing.png") -> Prediction | None:
        """Prepares and classifies an image file's bytes, and shows the result on the pad.

        Args:
            data: a PNG or JPEG file's contents; empty bytes clear the result.
            name: the file's name, used in error messages.

        Returns:
            The `Prediction`, or None if ``data`` was empty or could not be classified;
            `message` then says why (an `ImageError` is shown, not raised).
        """
        self._prediction = self._prepared = None
        if not data:
            self._show(image="", top=[], message="", unsure="")
            return None
        try:
            prepared = prepare_image_bytes(data, name)
        except ImageError as err:
            self._show(image="", top=[], message=str(err), unsure="")
            return None
        (prediction,) = predict_digits(self._model, prepared[np.newaxis])
        self._prepared, self._prediction = prepared, prediction
        top = [[digit, probability] for digit, probability in prediction.top(TOP_K)]
        doubtful = self._rule is not None and bool(
            self._rule.rejects(prediction.probabilities[np.newaxis])[0]
        )
        self._show(
            image=_png_data_url(prepared),
            top=top,
            message="",
            unsure=self.UNSURE_TEXT if doubtful else "",
        )
        return prediction

    def _show(self, **values) -> None:
        with self.hold_sync():
            for name, value in values.items():
                setattr(self, name, value)

    @traitlets.observe("request")
    def _on_request(self, change) -> None:
        # The front end sets input_file, input_name and request in one message; ipywidgets
        # holds the notifications until all three are set, so the file here is the new one.
        with self.hold_sync():
            try:
                self.classify(self.input_file, self.input_name or "image")
            finally:
                # Answered even if the model failed, so that the pad does not wait forever.
                self.answered = change["new"]

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        # Shown where no widget manager is (a static export, nbconvert's text): a stable
        # sentence instead of the object's address, which would differ on every run.
        return {**data, "text/plain": self.STATIC_TEXT}, metadata


def draw_digit_pad(model, *, size: int = 280, rule=None) -> DigitPad:
    """A `DigitPad` for ``model``: draw a digit or upload a photo, and see it classified.

    Display the returned widget (last expression of a cell); read ``pad.prediction`` afterwards.
    Arguments as in `DigitPad`.
    """
    return DigitPad(model, size=size, rule=rule)
