// "Draw a digit": a canvas, MNIST's preparation of the drawing, and the book's model, all in the
// reader's browser. The page needs ort.wasm.min.js (ONNX Runtime Web, global `ort`) and
// model.js (window.digitModel, the ONNX bytes in base64) loaded before this script.
//
// Strokes are white on a black canvas; the ink of a pixel is its alpha / 255.
// `centreDigit` is mnist_lessons.predict.centre_digit in JavaScript (fit_box, then
// place_by_mass): crop to the ink, resize with PIL's BOX filter (float32 'F' mode) so that the
// longer side is 20 pixels, put the centre of mass at pixel (14, 14) (a whole-pixel placement,
// then a bilinear shift as scipy.ndimage.shift(order=1, mode="constant") does).
(function () {
  "use strict";

  const FIELD = 28;
  const BOX = 20;
  const STROKE_WIDTH = 18;

  // PIL's precompute_coeffs (Resample.c) for the BOX filter: for each output pixel, the first
  // input pixel and the normalised weights of the input pixels it averages.
  function boxCoefficients(inSize, outSize) {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    const support = 0.5 * filterScale;
    const result = [];
    for (let xx = 0; xx < outSize; xx++) {
      const centre = (xx + 0.5) * scale;
      const xmin = Math.max(0, Math.trunc(centre - support + 0.5));
      const xmax = Math.min(inSize, Math.trunc(centre + support + 0.5)) - xmin;
      const weights = [];
      let total = 0;
      for (let x = 0; x < xmax; x++) {
        const t = (x + xmin - centre + 0.5) / filterScale;
        const w = t > -0.5 && t <= 0.5 ? 1 : 0;
        weights.push(w);
        total += w;
      }
      if (total !== 0) {
        for (let x = 0; x < weights.length; x++) weights[x] /= total;
      }
      result.push({ start: xmin, weights });
    }
    return result;
  }

  // PIL's Image.resize(size, BOX) of a float32 image: horizontal pass, then vertical, sums in
  // double precision, each pass stored as float32.
  function resizeBox(pixels, height, width, outHeight, outWidth) {
    let source = pixels;
    let current = width;
    if (outWidth !== width) {
      const coefficients = boxCoefficients(width, outWidth);
      const out = new Float32Array(height * outWidth);
      for (let y = 0; y < height; y++) {
        for (let xx = 0; xx < outWidth; xx++) {
          const { start, weights } = coefficients[xx];
          let sum = 0;
          for (let k = 0; k < weights.length; k++) sum += source[y * width + start + k] * weights[k];
          out[y * outWidth + xx] = sum;
        }
      }
      source = out;
      current = outWidth;
    }
    if (outHeight === height) return source;
    const coefficients = boxCoefficients(height, outHeight);
    const out = new Float32Array(outHeight * current);
    for (let yy = 0; yy < outHeight; yy++) {
      const { start, weights } = coefficients[yy];
      for (let x = 0; x < current; x++) {
        let sum = 0;
        for (let k = 0; k < weights.length; k++) sum += source[(start + k) * current + x] * weights[k];
        out[yy * current + x] = sum;
      }
    }
    return out;
  }

  // scipy.ndimage.shift(field, (dy, dx), order=1, mode="constant", cval=0) on a FIELD×FIELD
  // image: each output pixel reads the input at (row - dy, column - dx), bilinearly; points
  // outside the image read 0.
  function shiftBilinear(field, dy, dx) {
    const out = new Float32Array(FIELD * FIELD);
    const last = FIELD - 1;
    for (let row = 0; row < FIELD; row++) {
      const y = row - dy;
      if (y < 0 || y > last) continue;
      const y0 = Math.floor(y);
      const y1 = Math.min(y0 + 1, last);
      const fy = y - y0;
      for (let col = 0; col < FIELD; col++) {
        const x = col - dx;
        if (x < 0 || x > last) continue;
        const x0 = Math.floor(x);
        const x1 = Math.min(x0 + 1, last);
        const fx = x - x0;
        const top = field[y0 * FIELD + x0] * (1 - fx) + field[y0 * FIELD + x1] * fx;
        const bottom = field[y1 * FIELD + x0] * (1 - fx) + field[y1 * FIELD + x1] * fx;
        out[row * FIELD + col] = top * (1 - fy) + bottom * fy;
      }
    }
    return out;
  }

  // ink: Float32Array of height×width values in [0, 1], white on black. Returns the 28×28
  // Float32Array the network receives, or null when there is no ink.
  function centreDigit(ink, height, width) {
    let top = height;
    let bottom = -1;
    let left = width;
    let right = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (ink[y * width + x] > 0) {
          if (y < top) top = y;
          if (y > bottom) bottom = y;
          if (x < left) left = x;
          if (x > right) right = x;
        }
      }
    }
    if (bottom < 0) return null;
    const cropHeight = bottom - top + 1;
    const cropWidth = right - left + 1;
    const cropped = new Float32Array(cropHeight * cropWidth);
    for (let y = 0; y < cropHeight; y++) {
      for (let x = 0; x < cropWidth; x++) {
        cropped[y * cropWidth + x] = ink[(top + y) * width + left + x];
      }
    }
    // The shorter side is round(BOX * short / long), halves up, in integers (as fit_box).
    const longer = Math.max(cropHeight, cropWidth);
    const boxWidth = Math.max(1, Math.floor((2 * BOX * cropWidth + longer) / (2 * longer)));
    const boxHeight = Math.max(1, Math.floor((2 * BOX * cropHeight + longer) / (2 * longer)));
    const boxed = resizeBox(cropped, cropHeight, cropWidth, boxHeight, boxWidth);
    const clip = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
    for (let i = 0; i < boxed.length; i++) boxed[i] = clip(boxed[i], 0, 1);

    let mass = 0;
    let sumY = 0;
    let sumX = 0;
    for (let y = 0; y < boxHeight; y++) {
      for (let x = 0; x < boxWidth; x++) {
        const v = boxed[y * boxWidth + x];
        mass += v;
        sumY += y * v;
        sumX += x * v;
      }
    }
    if (mass <= 0) return null;
    const centreY = sumY / mass;
    const centreX = sumX / mass;
    // The nearest whole pixel, halves up (as place_by_mass), kept inside the field.
    const placeY = clip(Math.floor(FIELD / 2 - centreY + 0.5), 0, FIELD - boxHeight);
    const placeX = clip(Math.floor(FIELD / 2 - centreX + 0.5), 0, FIELD - boxWidth);
    const field = new Float32Array(FIELD * FIELD);
    for (let y = 0; y < boxHeight; y++) {
      for (let x = 0; x < boxWidth; x++) {
        field[(placeY + y) * FIELD + placeX + x] = boxed[y * boxWidth + x];
      }
    }
    const shifted = shiftBilinear(field, FIELD / 2 - (placeY + centreY), FIELD / 2 - (placeX + centreX));
    for (let i = 0; i < shifted.length; i++) shifted[i] = clip(shifted[i], 0, 1);
    return shifted;
  }

  function decodeBase64(text) {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`could not load ${src}`));
      document.head.appendChild(script);
    });
  }

  // Over HTTP the runtime loads its module and WebAssembly from the book's _static/draw/ort/.
  // From file:// the browser refuses both, so they come from a classic script instead.
  async function configureRuntime(base) {
    const folder = new URL("ort/", base).href;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    if (location.protocol === "file:") {
      await loadScript(folder + "ort-wasm-embedded.js");
      const embedded = window.ortWasmEmbedded;
      const module = new Blob([embedded.mjs], { type: "text/javascript" });
      ort.env.wasm.wasmPaths = { mjs: URL.createObjectURL(module) };
      ort.env.wasm.wasmBinary = decodeBase64(embedded.wasm);
    } else {
      ort.env.wasm.wasmPaths = folder;
    }
  }

  function setUp(root) {
    const canvas = root.querySelector("#digit-canvas");
    const prediction = root.querySelector("#digit-prediction");
    const clearButton = root.querySelector("#digit-clear");
    const inputView = root.querySelector("#digit-input");
    const topList = root.querySelector("#digit-top");
    const status = root.querySelector("#digit-status");
    const unsure = root.querySelector("#digit-unsure");
    const rejection = window.digitModel && window.digitModel.rejection;
    const context = canvas.getContext("2d", { willReadFrequently: true });
    const base = new URL(".", document.currentScript ? document.currentScript.src : location.href);

    const pad = {
      ready: null,
      lastInput: null,
      lastProbabilities: null,
      lastRejected: null, // whether the rejection rule said "not sure this is a digit"
      confidence,
      readyMs: null, // since the page's navigation started
      lastInferenceMs: null, // preparation and model, for the last drawing
      busy: Promise.resolve(),
      // The canvas's alpha channel, row by row: the ink the preparation starts from.
      alpha() {
        const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
        const alpha = new Uint8Array(canvas.width * canvas.height);
        for (let i = 0; i < alpha.length; i++) alpha[i] = data[4 * i + 3];
        return alpha;
      },
      centreDigit,
      clear,
      predictNow,
    };
    window.digitPad = pad;

    let session = null;

    pad.ready = (async () => {
      await configureRuntime(base);
      session = await ort.InferenceSession.create(decodeBase64(window.digitModel.base64), {
        executionProviders: ["wasm"],
      });
      pad.readyMs = performance.now();
      status.textContent = `Model: ${window.digitModel.name}. Draw a digit in the black square.`;
    })();
    pad.ready.catch((error) => {
      status.textContent = `The model could not be loaded: ${error.message}`;
      console.error(error);
    });

    function showInput(input) {
      const view = inputView.getContext("2d");
      const image = view.createImageData(FIELD, FIELD);
      for (let i = 0; i < FIELD * FIELD; i++) {
        const level = Math.round(input[i] * 255);
        image.data.set([level, level, level, 255], 4 * i);
      }
      view.putImageData(image, 0, 0);
    }

    // The rule of mnist_lessons.unfamiliar.confidence: the largest probability, or minus the
    // entropy in bits; an input whose score falls below the threshold is rejected.
    function confidence(probabilities) {
      if (rejection.score === "max_probability") return Math.max(...probabilities);
      let score = 0;
      for (const p of probabilities) score += p * Math.log2(Math.min(Math.max(p, 1e-12), 1));
      return score;
    }

    function showDoubt(rejected) {
      unsure.textContent = rejected ? "Not sure this is a digit." : "";
      unsure.hidden = !rejected;
      prediction.classList.toggle("digit-doubtful", rejected);
    }

    function showTop(probabilities) {
      const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b] - probabilities[a]);
      topList.replaceChildren(
        ...order.slice(0, 3).map((digit) => {
          const item = document.createElement("li");
          const percent = (100 * probabilities[digit]).toFixed(1);
          item.innerHTML = `<span class="digit-label">${digit}</span>` +
            `<span class="digit-bar"><span style="width:${percent}%"></span></span>` +
            `<span class="digit-percent">${percent} %</span>`;
          return item;
        }),
      );
    }

    async function predictNow() {
      await pad.ready;
      const started = performance.now();
      const alpha = pad.alpha();
      const ink = new Float32Array(alpha.length);
      for (let i = 0; i < alpha.length; i++) ink[i] = alpha[i] / 255;
      const input = centreDigit(ink, canvas.height, canvas.width);
      if (input === null) return null;
      const tensor = new ort.Tensor("float32", input, [1, FIELD, FIELD, 1]);
      const outputs = await session.run({ [session.inputNames[0]]: tensor });
      const probabilities = Float32Array.from(outputs[session.outputNames[0]].data);
      if (isEmpty()) return null; // cleared while the model ran
      pad.lastInput = input;
      pad.lastProbabilities = probabilities;
      pad.lastInferenceMs = performance.now() - started;
      let best = 0;
      for (let d = 1; d < probabilities.length; d++) if (probabilities[d] > probabilities[best]) best = d;
      prediction.textContent = String(best);
      pad.lastRejected = rejection ? confidence(probabilities) < rejection.threshold : false;
      showDoubt(pad.lastRejected);
      showInput(input);
      showTop(probabilities);
      return best;
    }

    let drawn = false;
    function isEmpty() {
      return !drawn;
    }

    function clear() {
      context.clearRect(0, 0, canvas.width, canvas.height);
      drawn = false;
      pad.lastInput = null;
      pad.lastProbabilities = null;
      pad.lastRejected = null;
      showDoubt(false);
      prediction.textContent = "";
      topList.replaceChildren();
      inputView.getContext("2d").clearRect(0, 0, FIELD, FIELD);
    }

    // Pointer events cover mouse, pen and touch alike.
    let last = null;
    function position(event) {
      const box = canvas.getBoundingClientRect();
      return [
        ((event.clientX - box.left) * canvas.width) / box.width,
        ((event.clientY - box.top) * canvas.height) / box.height,
      ];
    }
    function segment(from, to) {
      context.beginPath();
      context.moveTo(from[0], from[1]);
      context.lineTo(to[0], to[1]);
      context.stroke();
    }
    context.strokeStyle = "#ffffff";
    context.lineWidth = STROKE_WIDTH;
    context.lineCap = "round";
    context.lineJoin = "round";

    canvas.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      last = position(event);
      segment(last, last);
      drawn = true;
    });
    canvas.addEventListener("pointermove", (event) => {
      if (last === null) return;
      const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
      for (const each of events.length ? events : [event]) {
        const point = position(each);
        segment(last, point);
        last = point;
      }
    });
    function finish() {
      if (last === null) return;
      last = null;
      pad.busy = pad.busy.then(predictNow).catch((error) => console.error(error));
    }
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);
    clearButton.addEventListener("click", clear);
  }

  const root = document.getElementById("digit-pad");
  if (root) setUp(root);
})();
