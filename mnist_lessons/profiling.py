"""Where a fast recipe's training time goes: one epoch under TensorFlow's profiler.

`profile_recipe` trains a recipe for one epoch exactly as `speedrun.run_recipe` does and sums, per
layer of the network, the time its operations took in the forward and in the backward pass, beside
the optimizer, the loss, the input pipeline, TensorFlow's own scheduling and the graph tracing.
`EpochProfile.table` sets them side by side, each as milliseconds per step and as a share of all
the time counted, with the arithmetic rate each convolution and dense layer reached.

The profiler itself can slow the epoch down; the shares, not the absolute times, are the
figures to compare with a run that was not profiled. Profiles need the TensorFlow backend, the
book's default, on a CPU (`backend.profiler_unavailable` says why not elsewhere).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from .backend import matmul_gflops, op_profile, require_profiler
from .data import PreparedData, encode_labels
from .models import layer_flops
from .speedrun import Recipe, compiled_model, fit_recipe
from .tables import MarkdownTable, markdown_table

OPTIMIZER = "optimizer (Adam)"
LOSS = "loss"
INPUT = "input pipeline"
OTHER = "other operations"
EXECUTOR = "TensorFlow's scheduling"
TRACING = "graph tracing"
OVERHEAD_PARTS = (OPTIMIZER, LOSS, OTHER, INPUT, EXECUTOR, TRACING)
"""The parts of a profile that are not a layer of the network, in the order tables list them."""


def part_of(
    op_name: str, model_name: str, layer_names, optimizer_name: str = "adam"
) -> tuple[str, str]:
    """The part of a training step an operation belongs to, and its direction.

    Args:
        op_name: a name from `backend.op_profile`, e.g.
            ``"gradient_tape/fast_99_percent_1/conv2_1/convolution/Conv2DBackpropInput:…"``.
        model_name: the network's name (``"fast_99_percent"``); TensorFlow may append ``_1``.
        layer_names: the network's layer names.
        optimizer_name: the optimizer's name (``"adam"``; a second Adam in a process is
            ``"adam_1"``).

    Returns:
        ``(part, direction)``: the layer's name, or one of `OVERHEAD_PARTS`; and ``"forward"`` or
        ``"backward"`` (operations that belong to no layer are counted as ``"forward"``).
    """
    backward = op_name.startswith("gradient_tape/")
    name = op_name.removeprefix("gradient_tape/")
    direction = "backward" if backward else "forward"
    layer = re.match(rf"{re.escape(model_name)}(?:_\d+)?/([^/]+)/", name)
    if layer:
        base = re.sub(r"_\d+$", "", layer.group(1))
        for candidate in (layer.group(1), base):
            if candidate in layer_names:
                return candidate, direction
    if re.match(rf"{re.escape(optimizer_name)}/", name):
        return OPTIMIZER, "forward"
    if name.startswith("compile_loss/"):
        return LOSS, "forward"
    if "Iterator" in name or "CapturedFunction" in name or name.startswith("GatherV2"):
        return INPUT, "forward"
    return OTHER, "forward"


@dataclass(frozen=True)
class PartTime:
    """The seconds one part of the network took over the profiled epoch."""

    part: str
    forward: float
    backward: float
    flops_per_image: int = 0
    kernel_seconds: float = 0.0
    """The layer's forward convolution or matrix product alone (no bias, activation or norm)."""

    @property
    def seconds(self) -> float:
        return self.forward + self.backward


@dataclass(frozen=True)
class EpochProfile:
    """One profiled epoch of a recipe.

    Attributes:
        recipe: the recipe.
        images: training images in the epoch.
        steps: training steps (batches) in the epoch.
        wall_seconds: the epoch's wall time under the profiler, tracing included.
        plain_seconds: the same epoch's wall time without the profiler (a fresh network with the
            same seed, trained just before), tracing included.
        parts: the network's layers in order, then `OVERHEAD_PARTS`.
        matmul_gflops: the machine's matrix-product rate measured just before, in GFLOP/s.
    """

    recipe: Recipe
    images: int
    steps: int
    wall_seconds: float
    plain_seconds: float
    parts: tuple[PartTime, ...]
    matmul_gflops: float

    @property
    def forward_flops(self) -> int:
        """One image's forward pass through the convolutions and dense layers, in floating-point
        operations."""
        return sum(p.flops_per_image for p in self.parts)

    @property
    def counted_seconds(self) -> float:
        """All the time the profile counted: operations on every thread, scheduling, tracing."""
        return sum(p.seconds for p in self.parts)

    def part(self, name: str) -> PartTime:
        """The part called ``name``: a layer's name or one of `OVERHEAD_PARTS`."""
        return next(p for p in self.parts if p.part == name)

    def share(self, *names: str) -> float:
        """The parts' time together, as a share of all the time counted."""
        return sum(self.part(name).seconds for name in names) / self.counted_seconds

    def kernel_gflops(self, name: str) -> float | None:
        """The arithmetic rate of a convolution's or dense layer's forward kernel, in GFLOP/s;
        None for a layer without one."""
        part = self.part(name)
        if not (part.flops_per_image and part.kernel_seconds > 0):
            return None
        return part.flops_per_image * self.images / part.kernel_seconds / 1e9

    @property
    def achieved_gflops(self) -> float:
        """The training arithmetic (a forward pass and a backward pass of about twice its cost,
        for every image) over the epoch's wall time without the profiler, tracing included, in
        GFLOP/s."""
        return 3 * self.forward_flops * self.images / self.plain_seconds / 1e9

    @property
    def matmul_share(self) -> float:
        """`achieved_gflops` as a share of the matrix-product rate."""
        return self.achieved_gflops / self.matmul_gflops

    def table(self) -> MarkdownTable:
        """Each part's time per step, forward and backward, its share of all the time counted,
        and for convolutions and dense layers the arithmetic rate of their forward kernel (the
        convolution or matrix product alone)."""
        total = self.counted_seconds
        per_step = 1e3 / self.steps
        rows = []
        for p in self.parts:
            rate = self.kernel_gflops(p.part)
            rows.append(
                [
                    f"`{p.part}`" if p.part not in OVERHEAD_PARTS else p.part,
                    f"{p.forward * per_step:.2f}",
                    f"{p.backward * per_step:.2f}" if p.part not in OVERHEAD_PARTS else "",
                    f"{p.seconds / total:.0%}",
                    "" if rate is None else f"{rate:.0f}",
                ]
            )
        rows.append(["all counted", f"{total * per_step:.2f}", "", "100%", ""])
        header = ["part", "forward ms/step", "backward ms/step", "share", "forward GFLOP/s"]
        return markdown_table(header, rows, "lrrrr")

    def summary(self) -> str:
        """What was profiled, the wall time, and the arithmetic rate against the machine's."""
        return (
            f"{self.recipe.name}: one epoch of {self.images:,} images in {self.steps} steps of "
            f"{self.recipe.batch_size}: {self.plain_seconds:.2f} s (tracing included), "
            f"{self.wall_seconds:.2f} s under the profiler, which counted "
            f"{self.counted_seconds:.2f} s over all threads. Arithmetic "
            f"{self.achieved_gflops:.0f} GFLOP/s, {self.matmul_share:.0%} of the matrix-product "
            f"rate ({self.matmul_gflops:.0f} GFLOP/s)."
        )


def profile_recipe(recipe: Recipe, data: PreparedData, seed: int = 0) -> EpochProfile:
    """Trains a fresh ``recipe`` network for one epoch as `run_recipe` trains it (the recipe's own
    schedule, augmentation and input pipeline; tracing included), then a second one under the
    profiler.

    Args:
        recipe: the recipe.
        data: prepared arrays with sparse labels.
        seed: seeds the weights and the order of the images.

    Raises:
        BackendError: on a backend other than TensorFlow, or on a GPU (`profiler_unavailable`).
    """
    require_profiler()
    if data.y_train.ndim != 1:
        raise ValueError("profile_recipe needs sparse labels: prepare_data(..., one_hot=False)")
    rate = matmul_gflops()
    y_train = encode_labels(data.y_train, one_hot=True)
    plain = compiled_model(recipe, len(data.x_train), seed)
    started = time.perf_counter()
    fit_recipe(plain, recipe, data.x_train, y_train, seed, 1)
    plain_seconds = time.perf_counter() - started
    model = compiled_model(recipe, len(data.x_train), seed)
    layers = [layer.name for layer in model.layers]
    flops = layer_flops(model)
    wall = []

    def epoch():
        started = time.perf_counter()
        fit_recipe(model, recipe, data.x_train, y_train, seed, 1)
        wall.append(time.perf_counter() - started)

    ops, tracing, executor = op_profile(epoch)
    forward = dict.fromkeys([*layers, *OVERHEAD_PARTS], 0.0)
    backward = dict.fromkeys(layers, 0.0)
    kernels = dict.fromkeys(layers, 0.0)
    for name, seconds in ops.items():
        part, direction = part_of(name, model.name, layers, model.optimizer.name)
        (backward if direction == "backward" else forward)[part] += seconds
        arithmetic = re.search(r"Conv2D|MatMul", name.rpartition(":")[2])
        if direction == "forward" and part in kernels and arithmetic:
            kernels[part] += seconds
    forward[EXECUTOR] += executor
    forward[TRACING] += tracing
    parts = tuple(
        PartTime(
            name, forward[name], backward.get(name, 0.0), flops.get(name, 0), kernels.get(name, 0.0)
        )
        for name in forward
        if forward[name] or backward.get(name) or name in OVERHEAD_PARTS
    )
    return EpochProfile(
        recipe=recipe,
        images=len(data.x_train),
        steps=math.ceil(len(data.x_train) / recipe.batch_size),
        wall_seconds=wall[0],
        plain_seconds=plain_seconds,
        parts=parts,
        matmul_gflops=rate,
    )
