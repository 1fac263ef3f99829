"""Training-speed benchmark: the library's training path against a bare ``model.fit``.

For each architecture both paths train the same freshly built model on the same images at the
documented batch size; the first epoch (tracing, warm-up) is not counted. A FLOP count of each
model, set against the measured rate of a large matrix product, says how much of the machine's
arithmetic each path uses.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .backend import BACKEND, keras, matmul_gflops
from .checks import check_int
from .data import PreparedData
from .models import ARCHITECTURES, REFERENCES, build_model, default_precision, layer_flops
from .train import train


def forward_flops(model: keras.Model) -> int:
    """Multiply-adds ×2 of one image's forward pass through the Conv2D and Dense layers."""
    return sum(layer_flops(model).values())


def _bare_fit(name: str, data: PreparedData, epochs: int, batch_size: int) -> list[float]:
    model = ARCHITECTURES[name]()  # Keras's defaults: float32
    model.compile(
        optimizer=REFERENCES[name].make_optimizer(),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    seconds = []
    for epoch in range(epochs):
        start = time.perf_counter()
        model.fit(
            data.x_train,
            data.y_train,
            batch_size=batch_size,
            epochs=epoch + 1,
            initial_epoch=epoch,
            verbose=0,
        )
        seconds.append(time.perf_counter() - start)
    return seconds


def run_benchmark(
    data: PreparedData,
    *,
    architectures=None,
    epochs: int = 2,
    gflops: float | None = None,
    log=print,
) -> list[dict]:
    """Measures training throughput for each architecture on the library path and bare fit.

    The library path runs in `default_precision()`; where that is not float32, the library path
    is also measured in float32, to separate the effect of the precision from the rest.

    Args:
        data: training images (the validation split is not used, so both paths do equal work).
        architectures: names to measure; all of `ARCHITECTURES` if None.
        epochs: epochs per path; the first is warm-up, so at least 2.
        gflops: the machine's matrix-product rate; measured if None.
        log: where to report progress.

    Returns:
        One record per architecture with ``architecture``, ``backend``, ``batch_size``,
        ``precision``, ``library_images_per_s``, ``library_float32_images_per_s``,
        ``bare_images_per_s``, ``ratio``, ``train_gflop_per_image`` and the fraction of
        ``matmul_gflops`` each path reaches.
    """
    epochs = check_int("epochs", epochs, minimum=2)  # the first epoch is warm-up
    names = list(architectures or ARCHITECTURES)
    rate = gflops or matmul_gflops()
    no_val = PreparedData(
        data.x_train, data.y_train, data.x_val[:0], data.y_val[:0], data.x_test, data.y_test
    )
    n = len(no_val.x_train)
    precision = default_precision()
    records = []
    for name in names:
        batch = REFERENCES[name].batch_size
        keras.utils.set_random_seed(0)
        library = train(name, no_val, epochs=epochs, precision=precision).epoch_seconds[1:]
        library32 = library
        if precision != "float32":
            keras.utils.set_random_seed(0)
            library32 = train(name, no_val, epochs=epochs, precision="float32").epoch_seconds[1:]
        keras.utils.set_random_seed(0)
        bare = _bare_fit(name, no_val, epochs, batch)[1:]
        # Training costs about three forward passes (forward, and two products backward).
        gflop = 3 * forward_flops(build_model(name, "float32")) / 1e9
        lib_ips, bare_ips = n / float(np.median(library)), n / float(np.median(bare))
        lib32_ips = n / float(np.median(library32))
        records.append(
            {
                "architecture": name,
                "write_up": REFERENCES[name].write_up,
                "backend": BACKEND,
                "batch_size": batch,
                "images": n,
                "precision": precision,
                "library_images_per_s": round(lib_ips, 1),
                "library_float32_images_per_s": round(lib32_ips, 1),
                "bare_images_per_s": round(bare_ips, 1),
                "ratio": round(lib_ips / bare_ips, 3),
                "train_gflop_per_image": round(gflop, 5),
                "library_fraction_of_matmul": round(lib_ips * gflop / rate, 3),
                "bare_fraction_of_matmul": round(bare_ips * gflop / rate, 3),
                "matmul_gflops": round(rate, 1),
            }
        )
        log(format_row(records[-1]))
    return records


HEADER = (
    f"{'architecture':<22} {'batch':>5} {'library img/s':>14} {'lib f32 img/s':>14} "
    f"{'bare img/s':>11} "
    f"{'ratio':>6} {'GFLOP/img':>10} {'lib %peak':>9} {'bare %peak':>10}"
)


def format_row(r: dict) -> str:
    return (
        f"{r['architecture']:<22} {r['batch_size']:>5} {r['library_images_per_s']:>14,.0f} "
        f"{r['library_float32_images_per_s']:>14,.0f} {r['bare_images_per_s']:>11,.0f} "
        f"{r['ratio']:>6.2f} "
        f"{r['train_gflop_per_image']:>10.4f} {r['library_fraction_of_matmul']:>9.0%} "
        f"{r['bare_fraction_of_matmul']:>10.0%}"
    )


def write_json(records: list[dict], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(records, indent=1) + "\n")
    return path
