"""Studies: the book's repeated training, run once, saved with its provenance, read by chapters.

A study answers one of the book's questions with several arms (recipes that differ in one
thing, or the five networks at one budget) trained over the same seeds. Each finished run is one
JSON record, appended to ``<folder>/<study>.jsonl``:

- what it is: the study, the arm, the seed and the arm's settings (``quick`` among them);
- what it measured: the test accuracy and loss, which test images it got right (packed bits,
  base64: what McNemar's test pairs two arms by), the seconds, the per-epoch history;
- where it came from: the library's version and git commit, the Keras backend and the versions
  of Keras, the backend and NumPy, the precision, the processor (or GPU), the matrix-product rate
  measured beside the run, and the date.

Running a study is resumable and never loses or mixes anything:

- a run already recorded is never trained again, so a stopped study restarts where it stopped;
- a record is appended by writing the whole file anew beside it and renaming it into place, so
  an interrupted write leaves the file as it was;
- a file whose records were made with other settings, one with a truncated record, or one holding
  another study's records is refused with a sentence that names the file and what differs.

``python -m mnist_lessons study --list`` lists the studies; ``study NAME`` runs one (see
`run_study`). The committed records live under ``book/results/studies/``; a quick run
(``--quick``) writes under ``_build/studies/`` unless told otherwise, so it never changes them.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .checks import ParameterError
from .sources import atomic_write

ROOT = Path(__file__).resolve().parent.parent
COMMITTED_DIR = ROOT / "book" / "results" / "studies"
"""Where the book's studies are kept (and read from by the chapters)."""
QUICK_DIR = ROOT / "_build" / "studies"
"""Where a ``--quick`` run writes unless told otherwise: never over the committed records."""
VALIDATION_SIZE = 5000
QUICK = {"epochs": 1, "train_limit": 1000, "validation_size": 200}
"""What ``--quick`` changes in every arm: one epoch on 1,000 images, 200 held out."""
QUICK_SEEDS = (0, 1)
RATE_SIZE = 2048
"""The matrix side of the matrix-product rate measured beside each run (a second or less)."""


class StudyError(ValueError):
    """A study cannot run or be read as asked: an unknown name, or a results file that does not
    belong to this run (other settings, a truncated record, another study's records)."""


@dataclass(frozen=True)
class Arm:
    """One arm of a study: a recipe trained once per seed.

    Attributes:
        name: a short key ("no_dropout").
        label: what it is, for tables and legends ("without dropout").
        kind: how it trains: ``"writeup"`` (a write-up's network and optimizer, or a variant of
            it, via `train.train`), ``"budget"`` (a network with Adam at a fixed rate) or
            ``"recipe"`` (a fast-training recipe, via `speedrun.run_recipe`).
        settings: JSON-plain settings that, with the seed, define the run.
    """

    name: str
    label: str
    kind: str
    settings: dict

    def resolved(self, quick: bool, precision: str) -> dict:
        """The settings a run records: the arm's own, changed by `QUICK` for a quick run, with
        the precision it computes in (the arm's own, else ``precision``, the machine's default:
        runs in two precisions are never mixed in one file)."""
        settings = {**self.settings, "quick": quick}
        settings["precision"] = self.settings.get("precision") or precision
        if quick:
            settings.update(QUICK)
        return settings


@dataclass(frozen=True)
class Study:
    """A named set of arms trained over the same seeds to answer one question.

    Attributes:
        name: the key (and file name).
        question: the question it answers, in a sentence.
        arms: the arms, the reference arm first.
        seeds: the seeds every arm is trained with.
        derived: arms read from another arm's records rather than trained:
            ``{name: (label, source arm, record field)}`` (the 99.5 % recipe scored without its
            test-time shifts is the same networks' ``unshifted`` score).
    """

    name: str
    question: str
    arms: tuple[Arm, ...]
    seeds: tuple[int, ...]
    derived: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    def arm(self, name: str) -> Arm:
        for arm in self.arms:
            if arm.name == name:
                return arm
        raise StudyError(
            f"Study {self.name!r} has no arm {name!r}. Its arms: "
            f"{', '.join(a.name for a in self.arms)}"
        )


def _writeup_arm(name: str, label: str, architecture: str, model: str | None = None) -> Arm:
    from .models import REFERENCES

    reference = REFERENCES[architecture]
    return Arm(
        name,
        label,
        "writeup",
        {
            "architecture": architecture,
            "model": model or architecture,
            "optimizer": reference.optimizer,
            "epochs": reference.epochs,
            "batch_size": reference.batch_size,
            "train_limit": None,
            "validation_size": VALIDATION_SIZE,
        },
    )


BUDGET = {
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "epochs": 10,
    "batch_size": 128,
    "train_limit": None,
    "validation_size": VALIDATION_SIZE,
}
"""The equal budget of the architectures study: Adam at 0.001, 10 epochs over 55,000 images at
batch 128 (4,300 steps), 5,000 held out to follow each network's validation curve. The curves
flatten within it but have not all stopped rising (`compare.ArchitectureComparison.late_change`
measures by how much), so its ranking holds for this budget."""


def _recipe_arm(name: str, label: str, recipe, **measure) -> Arm:
    """An arm that trains ``recipe`` on every training image (`speedrun.run_recipe`).

    ``measure`` adds settings that are not the recipe's: ``train_limit`` (default None),
    ``moved_shifts`` (also score the test digits moved by these pixels, `_moved_scores`),
    ``reestimate`` (also score the network after `learning.reestimate_batch_norm`),
    ``attack_epsilons`` (also attack every test digit with FGSM at these sizes, and a subset with
    iterative FGSM, `_attack_scores`) and ``keep_answers`` (also keep every test digit's answer,
    `_answers`).
    """
    from dataclasses import asdict

    from .speedrun import LATER_FIELDS

    settings = {
        k: v for k, v in asdict(recipe).items() if not (k in LATER_FIELDS and v == LATER_FIELDS[k])
    }
    settings["widths"] = list(settings["widths"])
    return Arm(
        name,
        label,
        "recipe",
        {
            **settings,
            "train_limit": None,
            "validation_size": VALIDATION_SIZE,
            **measure,
        },
    )


ATTACK_EPSILONS = (0.0, 0.025, 0.05, 0.1, 0.15, 0.2)
"""The perturbation sizes at which the adversarial study attacks every test digit with the fast
gradient sign method (`adversarial.attack_curve`); at 0 the network alone, without any
test-time shifts."""
ATTACK_PAIRED = 0.1
"""The size whose right and wrong answers the adversarial study keeps, image by image, for
paired comparisons (a derived arm ``<arm>_fgsm``)."""
ITERATIVE_IMAGES = 2000
"""The test digits the adversarial study also attacks with iterative FGSM at `ATTACK_PAIRED`
(ten steps: ten times the cost of one), the same random subset in every run
(`iterative_subset`), so that runs pair image by image (a derived arm ``<arm>_iterative``)."""
MOVED_SHIFTS = (1, 2, 3, 4)
"""The shifts, in pixels, at which the shifts study scores moved test digits (the convolution
chapter's experiment)."""
SHORT_RUN_IMAGES = 2048
"""The training images of the short_runs study: 16 steps at batch 128, as a quick run."""


DOCUMENTED_ELSEWHERE = {
    "two_conv_dropout": ("dropout", "dropout"),
    "three_conv_three_pool": ("third_pooling", "three_pool"),
}
"""Write-ups whose documented recipe is already an arm of another study, trained at the same
settings and seeds: ``{architecture: (study, arm)}``. The writeups study leaves them out rather
than train the same 10 runs twice; `documented_recipe` finds any write-up's runs."""


def _studies() -> dict[str, Study]:
    from .models import REFERENCES
    from .speedrun import RECIPE_99, RECIPE_995, without_each_ingredient

    shifts, gap = RECIPE_99.changed(shift=2), RECIPE_99.changed(head="global_average")
    moved = {"moved_shifts": list(MOVED_SHIFTS)}
    shift_arms = (
        ("flatten", "the 99 % recipe", RECIPE_99),
        ("shifts", "random shifts of up to 2 px", shifts),
        (
            "affine",
            "shifts, rotations up to 10°, zooms up to 10 %",
            shifts.changed(rotation=10.0, zoom=0.1),
        ),
        ("global_average", "global average pooling", gap),
        ("global_average_shifts", "global average pooling and shifts", gap.changed(shift=2)),
    )
    short = {"train_limit": SHORT_RUN_IMAGES, "reestimate": True}
    short_recipe = RECIPE_99.changed(epochs=1)
    attacked = {"attack_epsilons": list(ATTACK_EPSILONS)}
    attack_arms = (
        ("recipe_99", "the 99 % recipe", RECIPE_99),
        ("shifts", "random shifts of up to 2 px", shifts),
        (
            "wide",
            "96 filters in the second convolution, dense layer of 128",
            RECIPE_99.changed(widths=(32, 96), dense=128),
        ),
        ("recipe_995", "the 99.5 % recipe", RECIPE_995),
    )
    five = tuple(range(5))
    ten = tuple(range(10))
    ablated = {r.name: (label, r) for label, r in without_each_ingredient(RECIPE_99).items()}
    labels = {
        "no_batch_norm": "without batch normalisation",
        "constant_rate": "constant rate 0.001 instead of one-cycle",
        "norm_first": "normalising before pooling",
        "first_3x3": "3×3 stride-1 first layer",
    }
    return {
        study.name: study
        for study in (
            Study(
                "writeups",
                "Where does each write-up's reported test accuracy fall in the spread of its "
                "documented recipe over seeds? (Write-ups 001 and 004 are the first arms of the "
                "dropout and third_pooling studies.)",
                tuple(
                    _writeup_arm(name, reference.title, name)
                    for name, reference in REFERENCES.items()
                    if name not in DOCUMENTED_ELSEWHERE
                ),
                five,
            ),
            Study(
                "dropout",
                "Does dropout raise write-up 001's test accuracy at its documented settings?",
                (
                    _writeup_arm("dropout", "with dropout", "two_conv_dropout"),
                    _writeup_arm(
                        "no_dropout", "without dropout", "two_conv_dropout", "two_conv_no_dropout"
                    ),
                ),
                five,
            ),
            Study(
                "third_pooling",
                "What does write-up 004's third pooling layer do to its test accuracy?",
                (
                    _writeup_arm("three_pool", "three pooling layers", "three_conv_three_pool"),
                    _writeup_arm(
                        "two_pool",
                        "without the third pooling layer",
                        "three_conv_three_pool",
                        "three_conv_two_pool",
                    ),
                ),
                five,
            ),
            Study(
                "architectures",
                "How do the five networks compare when all are trained the same way, long enough "
                "for their validation curves to flatten?",
                tuple(
                    Arm(name, reference.title, "budget", {"architecture": name, **BUDGET})
                    for name, reference in REFERENCES.items()
                ),
                five,
            ),
            Study(
                "fast_99",
                "What does each ingredient of the 99 % recipe buy?",
                (
                    _recipe_arm("full", "the 99 % recipe", RECIPE_99),
                    *(
                        _recipe_arm(name, labels[name], recipe)
                        for name, (_, recipe) in ablated.items()
                    ),
                ),
                ten,
            ),
            Study(
                "fast_995",
                "What do augmentation and test-time shifts buy the 99.5 % recipe?",
                (
                    _recipe_arm("full", "the 99.5 % recipe", RECIPE_995),
                    _recipe_arm(
                        "no_augmentation",
                        "without random shifts in training",
                        RECIPE_995.changed(name="no_augmentation", shift=0),
                    ),
                ),
                ten,
                derived={
                    "no_test_shifts": ("without test-time shifts", "full", "unshifted"),
                },
            ),
            Study(
                "learning_rates",
                "Does the 99 % recipe's one-cycle schedule beat a constant learning rate, at its "
                "peak rate and at lower ones?",
                (
                    _recipe_arm("one_cycle", "one-cycle, peak 0.02", RECIPE_99),
                    *(
                        _recipe_arm(
                            f"constant_{rate:g}",
                            f"constant {rate:g}",
                            RECIPE_99.changed(schedule="constant", peak_learning_rate=rate),
                        )
                        for rate in (0.02, 0.005, 0.001)
                    ),
                ),
                ten,
            ),
            Study(
                "batch_norm",
                "What does batch normalisation buy the 99 % recipe when the network without it "
                "trains at its own best peak rate?",
                (
                    _recipe_arm("with", "with batch normalisation, peak 0.02", RECIPE_99),
                    *(
                        _recipe_arm(
                            f"without_{rate:g}",
                            f"without, peak {rate:g}",
                            RECIPE_99.changed(batch_norm=False, peak_learning_rate=rate),
                        )
                        for rate in (0.1, 0.05, 0.02, 0.005, 0.002)
                    ),
                ),
                ten,
            ),
            Study(
                "short_runs",
                "Why does a 16-step run of the 99 % recipe score so low on the test set, and "
                "what mends it?",
                (
                    _recipe_arm(
                        "momentum_0.99", "momentum 0.99 (Keras's default)", short_recipe, **short
                    ),
                    _recipe_arm(
                        "momentum_0.9",
                        "momentum 0.9",
                        short_recipe.changed(bn_momentum=0.9),
                        **short,
                    ),
                ),
                ten,
                derived={
                    "reestimated": (
                        "momentum 0.99, statistics re-estimated",
                        "momentum_0.99",
                        "reestimated",
                    ),
                },
            ),
            Study(
                "shifts",
                "Do augmentation and global average pooling make the 99 % recipe's network hold "
                "its accuracy on moved test digits?",
                tuple(
                    _recipe_arm(name, label, recipe, **moved) for name, label, recipe in shift_arms
                ),
                ten,
                derived={
                    f"{name}_moved_4": (f"{label}, digits moved 4 px", name, "moved_4")
                    for name, label, _ in shift_arms
                },
            ),
            Study(
                "adversarial",
                "Do augmentation or a larger network make the 99 % recipe's network harder to "
                "fool with the fast gradient sign method?",
                tuple(
                    _recipe_arm(name, label, recipe, **attacked)
                    for name, label, recipe in attack_arms
                ),
                ten,
                derived={
                    **{
                        f"{name}_fgsm": (f"{label}, FGSM at {ATTACK_PAIRED:g}", name, "fgsm")
                        for name, label, _ in attack_arms
                    },
                    **{
                        f"{name}_iterative": (
                            f"{label}, iterative FGSM at {ATTACK_PAIRED:g}",
                            name,
                            "iterative",
                        )
                        for name, label, _ in attack_arms
                    },
                },
            ),
            Study(
                "best_network",
                "Which digits does the book's best network, the 99.5 % recipe, get wrong, and "
                "which confusions come up more often than chance would give?",
                (_recipe_arm("recipe_995", "the 99.5 % recipe", RECIPE_995, keep_answers=True),),
                ten,
            ),
        )
    }


STUDY_NAMES = (
    "writeups",
    "dropout",
    "third_pooling",
    "architectures",
    "fast_99",
    "fast_995",
    "learning_rates",
    "batch_norm",
    "short_runs",
    "shifts",
    "adversarial",
    "best_network",
)


def get_study(name: str) -> Study:
    """The study called ``name``, or a StudyError listing the studies."""
    studies = _studies()
    if name not in studies:
        raise StudyError(f"Unknown study {name!r}. Choose one of: {', '.join(studies)}")
    return studies[name]


def all_studies() -> list[Study]:
    studies = _studies()
    return [studies[name] for name in STUDY_NAMES]


# Records.


def pack_correct(correct: np.ndarray) -> str:
    """A bool array of right answers as base64 of its packed bits (1,668 characters for the
    10,000 test images)."""
    return base64.b64encode(np.packbits(np.asarray(correct, dtype=bool))).decode("ascii")


def unpack_correct(text: str, count: int) -> np.ndarray:
    """The inverse of `pack_correct` for ``count`` images."""
    bits = np.unpackbits(np.frombuffer(base64.b64decode(text), dtype=np.uint8))
    return bits[:count].astype(bool)


def study_file(folder: str | os.PathLike, name: str) -> Path:
    return Path(folder) / f"{name}.jsonl"


def _differences(saved: dict, wanted: dict) -> str:
    keys = sorted(set(saved) | set(wanted))
    changed = [k for k in keys if saved.get(k, "(unset)") != wanted.get(k, "(unset)")]
    old = ", ".join(f"{k}={saved.get(k, '(unset)')!r}" for k in changed)
    new = ", ".join(f"{k}={wanted.get(k, '(unset)')!r}" for k in changed)
    return f"was made with {old}, where the file's runs are asked for with {new}"


def read_records(
    path: str | os.PathLike,
    study: Study,
    quick: bool | None = None,
    precision: str | None = None,
) -> list[dict]:
    """The records in a study's file, checked; ``[]`` if there is no file.

    Args:
        path: the ``.jsonl`` file.
        study: the study it must belong to.
        quick: if given, every record must be of a run at this setting; if None, the records
            may be quick or not, but all of one kind.
        precision: if given, the precision this machine trains in by default: every record of
            an arm without a precision of its own must have been trained in it. If None (to
            read, not to add runs), they must all share one precision.

    Raises:
        StudyError: for a line that is not a whole JSON record (a truncated write), a record of
            another study or of an arm this study does not have, a run recorded twice, or
            records made with other settings than the arm's (or than each other's).
    """
    path = Path(path)
    if not path.is_file():
        return []
    records, seen = [], set()
    arms = {a.name: a for a in study.arms}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            saved = dict(record["settings"])
            study_name, arm_name, seed = record["study"], record["arm"], record["seed"]
            float(record["test_accuracy"]), record["test_correct"], float(record["seconds"])
        except (ValueError, KeyError, TypeError):
            raise StudyError(
                f"{path}, line {number}, is not a whole study record (a write that was cut "
                "off?). Remove that line to train its run again."
            ) from None
        where = f"{path}, line {number},"
        if study_name != study.name:
            raise StudyError(
                f"{where} holds a record of study {study_name!r}, not of {study.name!r}: each "
                "study keeps its own file."
            )
        if arm_name not in arms:
            raise StudyError(
                f"{where} holds a run of arm {arm_name!r}, which study {study.name!r} does not "
                "have."
            )
        if quick is None:
            quick = bool(saved.get("quick"))
        if precision is None and not arms[arm_name].settings.get("precision"):
            precision = saved.get("precision")
        wanted = arms[arm_name].resolved(quick, precision)
        if saved != wanted:
            raise StudyError(
                f"{where} a run of arm {arm_name!r} (seed {seed}) {_differences(saved, wanted)}. "
                "Records made with different settings are never mixed in one file: choose "
                "another folder (--out), or move that file away."
            )
        if (arm_name, seed) in seen:
            raise StudyError(
                f"{where} records arm {arm_name!r} seed {seed} a second time: each run is "
                "recorded once."
            )
        seen.add((arm_name, seed))
        records.append(record)
    return records


def append_record(path: str | os.PathLike, record: dict) -> Path:
    """Appends one record to a study's file atomically: the file's lines and the new one are
    written to a temporary file beside it, which then replaces it, so that the file is always
    either as it was or with the whole record added."""
    path = Path(path)
    before = path.read_bytes() if path.is_file() else b""
    if before and not before.endswith(b"\n"):
        before += b"\n"
    line = json.dumps(_finite(record), sort_keys=True, separators=(",", ":"), allow_nan=False)
    line = line.encode() + b"\n"
    atomic_write(path, before + line)
    return path


def _finite(value):
    """``value`` with every NaN or infinity (a run whose training diverged) as None, so that the
    file stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class _StudyLock:
    """An exclusive lock on a study's file for a whole `run_study`, so that two processes never
    train into one file (each would append its runs over the other's). Where the platform has no
    ``fcntl`` (Windows), nothing is locked."""

    def __init__(self, path: Path):
        self.path = path.with_name(path.name + ".lock")
        self.handle = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a")  # held until __exit__
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise StudyError(
                f"Another process is running this study into {self.path.with_suffix('')}: "
                "wait for it to finish (or stop it), then run again to resume."
            ) from None
        return self

    def __exit__(self, *exc):
        if self.handle is not None:
            self.handle.close()
            self.path.unlink(missing_ok=True)


# Provenance.


def _git(*arguments: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def processor_name() -> str:
    """The processor's model name (Linux's /proc/cpuinfo), else what `platform` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(precision: str, matmul_gflops: float) -> dict:
    """Where a record came from (see the module's docstring)."""
    from importlib.metadata import PackageNotFoundError, version

    from .backend import BACKEND, BACKENDS, gpu_available, keras

    try:
        backend_version = version(BACKENDS[BACKEND])
    except PackageNotFoundError:
        backend_version = None
    # Only a clone's git history says which code ran: an installed copy may sit inside some
    # other repository. Untracked files count as changes (a new module not yet committed).
    commit = _git("rev-parse", "HEAD") if in_clone() else None
    dirty = _git("status", "--porcelain") if in_clone() else None
    return {
        "library_version": __version__,
        "git_commit": commit,
        "git_dirty": None if dirty is None else bool(dirty),
        "keras_backend": BACKEND,
        "versions": {
            "keras": keras.__version__,
            BACKENDS[BACKEND]: backend_version,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
        "precision": precision,
        "device": "GPU" if gpu_available() else "CPU",
        "processor": processor_name(),
        "cpus": os.cpu_count(),
        "matmul_gflops": round(matmul_gflops, 1),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


# Training one run.


@dataclass
class Outcome:
    """What one run measured (before provenance is added)."""

    test_accuracy: float
    test_loss: float | None
    correct: np.ndarray
    seconds: float
    precision: str
    history: dict[str, list[float]]
    extra: dict = field(default_factory=dict)


def _prepare(settings: dict, seed: int, one_hot: bool = True):
    from .data import prepare_data
    from .sources import load_mnist

    return prepare_data(
        load_mnist(),
        validation_size=settings["validation_size"],
        train_limit=settings["train_limit"],
        seed=seed,
        one_hot=one_hot,
    )


def _train_network(arm: Arm, settings: dict, seed: int, callbacks: list) -> Outcome:
    from .backend import keras
    from .evaluate import evaluate_model
    from .models import REFERENCES, build_model, precision_of
    from .train import set_seed, train

    set_seed(seed)
    data = _prepare(settings, seed)
    name = settings["model"] if arm.kind == "writeup" else settings["architecture"]
    model = build_model(name, settings["precision"])
    if arm.kind == "writeup":
        optimizer = REFERENCES[settings["architecture"]].make_optimizer()
    else:
        optimizer = keras.optimizers.Adam(settings["learning_rate"])
    training = train(
        model,
        data,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        optimizer=optimizer,
        callbacks=callbacks,
    )
    evaluation = evaluate_model(model, data.x_test, data.y_test)
    history = {k: [float(v) for v in values] for k, values in training.history.items()}
    return Outcome(
        evaluation.accuracy,
        evaluation.loss,
        evaluation.predictions == evaluation.labels,
        training.total_seconds,
        precision_of(model),
        history,
    )


def _train_recipe(arm: Arm, settings: dict, seed: int, callbacks: list) -> Outcome:
    from .speedrun import Recipe, recipe_precision, run_recipe

    fields = {k: v for k, v in settings.items() if k in Recipe.__dataclass_fields__}
    fields["widths"] = tuple(fields["widths"])
    recipe = Recipe(**fields)
    data = _prepare(settings, seed, one_hot=False)
    from .callbacks import EpochLog

    history = EpochLog()
    result = run_recipe(recipe, data, seed=seed, callbacks=[*callbacks, history])
    extra = {"val_accuracy": result.val_accuracy, "scoring_seconds": result.scoring_seconds}
    if settings.get("moved_shifts"):
        extra.update(_moved_scores(result.model, data, settings["moved_shifts"]))
    if settings.get("keep_answers"):
        extra.update(_answers(result.model, data, recipe.test_shifts))
    if settings.get("attack_epsilons"):
        extra.update(_attack_scores(result.model, data, settings["attack_epsilons"]))
    if settings.get("reestimate"):
        from .evaluate import evaluate_model
        from .learning import reestimate_batch_norm

        reestimate_batch_norm(result.model, data.x_train)
        correct = evaluate_model(result.model, data.x_test, data.y_test).predictions
        correct = correct == data.y_test
        extra["reestimated"] = {
            "test_accuracy": float(correct.mean()),
            "test_correct": pack_correct(correct),
        }
    if result.unshifted_test_correct is not None:
        extra["unshifted"] = {
            "test_accuracy": result.unshifted_test_accuracy,
            "test_correct": pack_correct(result.unshifted_test_correct),
        }
    return Outcome(
        result.test_accuracy,
        None,
        result.test_correct,
        result.seconds,
        recipe_precision(recipe),
        history.history,
        extra,
    )


def _moved_scores(model, data, shifts) -> dict:
    """The network's accuracy on the test digits moved by each of ``shifts`` pixels in the four
    directions (``moved_accuracy``), and, for the largest shift, which of the 40,000 moved images
    it got right (``moved_<shift>``, a record a derived arm reads)."""
    from .convolution import moved_correct

    scores = {"moved_accuracy": {}}
    for shift in sorted(shifts):  # the largest last: its right answers are kept below
        correct = moved_correct(model, data.x_test, data.y_test, shift)
        scores["moved_accuracy"][str(shift)] = float(correct.mean())
    scores[f"moved_{max(shifts)}"] = {
        "test_accuracy": float(correct.mean()),
        "test_images": len(correct),
        "test_correct": pack_correct(correct),
    }
    return scores


def _attack_scores(model, data, epsilons) -> dict:
    """The network's accuracy on every test digit attacked with the fast gradient sign method at
    each of ``epsilons`` (``fgsm_accuracy``), and which digits it still got right at
    `ATTACK_PAIRED` (``fgsm``, a record a derived arm reads)."""
    from .adversarial import attack_curve

    epsilons = sorted({float(e) for e in epsilons} | {ATTACK_PAIRED})
    curve = attack_curve(model, data.x_test, data.y_test, epsilons)
    scores = {
        "fgsm_accuracy": {f"{e:g}": float(a) for e, a in zip(epsilons, curve.accuracy, strict=True)}
    }
    correct = curve.correct[epsilons.index(ATTACK_PAIRED)]
    scores["fgsm"] = {
        "test_accuracy": float(correct.mean()),
        "test_correct": pack_correct(correct),
    }
    subset = iterative_subset(len(data.x_test))
    iterative = attack_curve(
        model, data.x_test[subset], data.y_test[subset], [ATTACK_PAIRED], attack="iterative"
    ).correct[0]
    scores["iterative"] = {
        "test_accuracy": float(iterative.mean()),
        "test_images": len(subset),
        "test_correct": pack_correct(iterative),
    }
    return scores


def iterative_subset(test_images: int = 10_000) -> np.ndarray:
    """The indices of the `ITERATIVE_IMAGES` test digits the iterative attack uses: a random
    subset, drawn once with seed 0 and sorted, the same in every run."""
    count = min(ITERATIVE_IMAGES, test_images)
    return np.sort(np.random.default_rng(0).choice(test_images, count, replace=False))


def _answers(model, data, test_shifts: bool) -> dict:
    """Every test digit's answer, as the recipe scores it, as a string of digits
    (``answers``): what per-class errors and confusions need beyond right and wrong."""
    from .speedrun import shift_averaged_probabilities

    if test_shifts:
        probabilities = shift_averaged_probabilities(model, data.x_test)
    else:
        probabilities = np.asarray(model.predict(data.x_test, batch_size=1000, verbose=0))
    return {"answers": "".join(str(int(d)) for d in probabilities.argmax(axis=1))}


TRAINERS: dict[str, Callable[[Arm, dict, int, list], Outcome]] = {
    "writeup": _train_network,
    "budget": _train_network,
    "recipe": _train_recipe,
}


# Progress.


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """A one-line progress bar: runs done, the current run and its epoch, and the time left.

    On a terminal the line is redrawn in place; elsewhere (a log, a notebook's captured output)
    each update is a line of its own. The time left is the runs still to do (the current one
    counted whole) times the median seconds of the arm's finished runs: this session's, else the
    file's, else any arm's.
    """

    WIDTH = 20

    def __init__(self, study: Study, total: int, done: int, stream=None):
        self.study, self.total, self.done = study, total, done
        self.stream = stream or sys.stderr
        self.seconds: dict[str, list[float]] = {}  # from the file's earlier runs
        self.session: dict[str, list[float]] = {}  # from this session's runs
        self.remaining: dict[str, int] = {}
        self.current = ""
        self.epoch_text = ""
        self.started = time.perf_counter()
        self.in_place = hasattr(self.stream, "isatty") and self.stream.isatty()

    def left(self) -> str:
        def per_run(arm: str) -> float | None:
            for source in (self.session, self.seconds):
                if source.get(arm):
                    return float(np.median(source[arm]))
            return None

        known = [t for arm in self.remaining if (t := per_run(arm)) is not None]
        if not known:
            return "time left: estimated after the first run"
        fallback = float(np.median(known))
        total = sum(
            count * (per_run(arm) or fallback) for arm, count in self.remaining.items() if count
        )
        return f"about {_duration(total)} left"

    def _draw(self) -> None:
        filled = round(self.WIDTH * self.done / self.total) if self.total else self.WIDTH
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        parts = [f"{self.study.name} [{bar}] {self.done}/{self.total} runs"]
        if self.current:
            parts.append(self.current + self.epoch_text)
        parts.append(self.left())
        line = " | ".join(parts)
        if self.in_place:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def start(self, arm: Arm, seed: int) -> None:
        self.current, self.epoch_text = f"{arm.label}, seed {seed}", ""
        self._draw()

    def epoch(self, epoch: int, epochs: int) -> None:
        self.epoch_text = f", epoch {epoch}/{epochs}"
        self._draw()

    def finish(self, arm: Arm, seconds: float) -> None:
        self.done += 1
        self.remaining[arm.name] = max(0, self.remaining.get(arm.name, 1) - 1)
        self.session.setdefault(arm.name, []).append(seconds)
        self.current = ""
        self._draw()

    def close(self) -> None:
        if self.in_place:
            self.stream.write("\n")
            self.stream.flush()


# Running a study.


def _check_seeds(seeds: Iterable[int] | None, default: Sequence[int]) -> tuple[int, ...]:
    if seeds is None:
        return tuple(default)
    chosen = tuple(seeds)
    if not chosen or any(
        isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 0 for s in chosen
    ):
        raise ParameterError(
            f"seeds must be one or more whole numbers of at least 0. Received: seeds={chosen!r}"
        )
    if len(set(chosen)) != len(chosen):
        raise ParameterError(f"seeds must not repeat. Received: seeds={chosen!r}")
    return chosen


def in_clone() -> bool:
    """Whether the library runs from a clone of the repository (the book beside it), rather
    than from an installation (``pip install`` in Colab puts it in site-packages)."""
    return (ROOT / "pyproject.toml").is_file() and (ROOT / "book").is_dir()


def default_folder(quick: bool) -> Path:
    """Where ``run_study`` writes unless told: in a clone, the committed records (or
    `QUICK_DIR` for a quick run); in an installation, the data folder's ``studies`` (or
    ``studies-quick``), never site-packages."""
    if in_clone():
        return QUICK_DIR if quick else COMMITTED_DIR
    from .sources import get_data_home

    return get_data_home() / ("studies-quick" if quick else "studies")


def run_study(
    name: str,
    *,
    seeds: Iterable[int] | None = None,
    quick: bool = False,
    out: str | os.PathLike | None = None,
    arms: Iterable[str] | None = None,
    stream=None,
    measure_rate: bool = True,
) -> list[dict]:
    """Trains every run of a study that its file does not hold yet, appending each record.

    Args:
        name: a study from `STUDY_NAMES`.
        seeds: the seeds to train (default: the study's own, or `QUICK_SEEDS` for a quick run).
        quick: train every arm at `QUICK` settings (for tests and a first look).
        out: the folder for ``<name>.jsonl`` (default: `default_folder`).
        arms: only these arms (default: all).
        stream: where the progress bar goes (default: stderr).
        measure_rate: measure the matrix-product rate beside each run (the tests turn it off).

    Returns:
        Every record in the file afterwards, in file order.

    Raises:
        StudyError: for an unknown study or arm, or a results file that does not belong to
            this run (see `read_records`), before anything is trained.
        ParameterError: for bad seeds.
    """
    from .backend import matmul_gflops
    from .callbacks import EpochProgress
    from .models import default_precision

    study = get_study(name)
    chosen = _check_seeds(seeds, QUICK_SEEDS if quick else study.seeds)
    selected = [study.arm(a) for a in arms] if arms is not None else list(study.arms)
    path = study_file(out if out is not None else default_folder(quick), name)
    with _StudyLock(path):
        precision = default_precision()
        records = read_records(path, study, quick=quick, precision=precision)
        finished = {(r["arm"], r["seed"]) for r in records}
        todo = [
            (arm, seed) for seed in chosen for arm in selected if (arm.name, seed) not in finished
        ]
        progress = Progress(study, len(todo), 0, stream)
        for arm, _ in todo:
            progress.remaining[arm.name] = progress.remaining.get(arm.name, 0) + 1
        for record in records:
            progress.seconds.setdefault(record["arm"], []).append(record["seconds"])
        for arm, seed in todo:
            settings = arm.resolved(quick, precision)
            progress.start(arm, seed)
            outcome = TRAINERS[arm.kind](
                arm, settings, seed, [EpochProgress(progress.epoch, settings["epochs"])]
            )
            rate = matmul_gflops(RATE_SIZE, 3) if measure_rate else float("nan")
            record = {
                "study": study.name,
                "arm": arm.name,
                "seed": seed,
                "settings": settings,
                "test_accuracy": outcome.test_accuracy,
                "test_loss": outcome.test_loss,
                "test_images": len(outcome.correct),
                "test_correct": pack_correct(outcome.correct),
                "seconds": outcome.seconds,
                "history": outcome.history,
                **outcome.extra,
                "provenance": provenance(outcome.precision, rate),
            }
            append_record(path, record)
            records.append(record)
            progress.finish(arm, outcome.seconds)
        progress.close()
        return records


# Reading a study.


@dataclass(frozen=True)
class StudyResults:
    """A study's records, arm by arm, and the statistics the chapters state.

    Attributes:
        study: the `Study`.
        records: the checked records.
    """

    study: Study
    records: tuple[dict, ...]

    def arm_names(self) -> list[str]:
        trained = [a.name for a in self.study.arms if any(r["arm"] == a.name for r in self.records)]
        derived = [
            name
            for name, (_, source, key) in self.study.derived.items()
            if any(r["arm"] == source and key in r for r in self.records)
        ]
        return trained + derived

    def label(self, arm: str) -> str:
        if arm in self.study.derived:
            return self.study.derived[arm][0]
        return self.study.arm(arm).label

    def _runs(self, arm: str) -> list[dict]:
        if arm in self.study.derived:
            _, source, key = self.study.derived[arm]
            return [
                {**r, **r[key], "arm": arm} for r in self.records if r["arm"] == source and key in r
            ]
        return [r for r in self.records if r["arm"] == arm]

    def values(self, arm: str, read: Callable[[dict], float] | str) -> np.ndarray:
        """One figure per run of ``arm``, seed by seed: the record's field ``read`` (such as
        ``"val_accuracy"``), or what a function of the record returns (such as the last epoch's
        training accuracy, ``lambda r: r["history"]["accuracy"][-1]``)."""
        runs = sorted(self._runs(arm), key=lambda r: r["seed"])
        if not runs:
            raise StudyError(f"Study {self.study.name!r} holds no runs of arm {arm!r}")
        if isinstance(read, str):
            if read not in runs[0]:
                raise StudyError(
                    f"Study {self.study.name!r}'s records of arm {arm!r} have no field {read!r}"
                )
            return np.array([r[read] for r in runs], dtype=float)
        return np.array([read(r) for r in runs], dtype=float)

    def seeds(self, arm: str) -> list[int]:
        return sorted(r["seed"] for r in self._runs(arm))

    def accuracies(self, arm: str, seeds: Sequence[int] | None = None) -> np.ndarray:
        """The arm's test accuracies, in seed order (only ``seeds``, if given)."""
        by_seed = {r["seed"]: r["test_accuracy"] for r in self._runs(arm)}
        return np.array([by_seed[s] for s in (seeds if seeds is not None else sorted(by_seed))])

    def correct(self, arm: str, seed: int) -> np.ndarray:
        """Which test images the arm's run with ``seed`` got right."""
        for r in self._runs(arm):
            if r["seed"] == seed:
                return unpack_correct(r["test_correct"], r["test_images"])
        raise StudyError(f"Study {self.study.name!r} holds no run of arm {arm!r} with seed {seed}")

    def seconds(self, arm: str) -> np.ndarray:
        return np.array([r["seconds"] for r in sorted(self._runs(arm), key=lambda r: r["seed"])])

    def median_seconds(self, arm: str) -> float | None:
        """The median seconds of one run of ``arm``, or None where it has no run yet."""
        seconds = self.seconds(arm)
        return float(np.median(seconds)) if len(seconds) else None

    def interval(self, arm: str):
        """The arm's mean test accuracy with its 95 % t-interval over seeds."""
        from .stats import seed_interval

        return seed_interval(self.accuracies(arm))

    def common_seeds(self, first: str, second: str) -> list[int]:
        return sorted(set(self.seeds(first)) & set(self.seeds(second)))

    def difference(self, first: str, second: str, seeds: Sequence[int] | None = None):
        """``first − second`` over ``seeds`` (default: every seed both were trained with): the
        paired t-test (`stats.paired_difference`)."""
        from .stats import paired_difference

        seeds = self.common_seeds(first, second) if seeds is None else list(seeds)
        return paired_difference(self.accuracies(first, seeds), self.accuracies(second, seeds))

    def mcnemar(self, first: str, second: str, seed: int):
        """McNemar's exact test between the two arms' runs with one seed, image by image."""
        from .stats import mcnemar

        return mcnemar(self.correct(first, seed), self.correct(second, seed))

    def moved_accuracy(self, arm: str) -> tuple[tuple[int, ...], np.ndarray]:
        """For an arm that scored moved test digits (the shifts study): the shifts, 0 first, and
        an array (seeds, shifts) of its accuracies, seed by seed (0 px: the test accuracy)."""
        runs = sorted(self._runs(arm), key=lambda r: r["seed"])
        if arm in self.study.derived or not runs or "moved_accuracy" not in runs[0]:
            raise StudyError(
                f"Study {self.study.name!r} holds no scores on moved digits for arm {arm!r}"
            )
        shifts = sorted(int(s) for s in runs[0]["moved_accuracy"])
        values = [
            [r["test_accuracy"], *(r["moved_accuracy"][str(s)] for s in shifts)] for r in runs
        ]
        return (0, *shifts), np.array(values)

    def attack_accuracy(self, arm: str) -> tuple[tuple[float, ...], np.ndarray]:
        """For an arm attacked with the fast gradient sign method (the adversarial study): the
        perturbation sizes, smallest first, and an array (seeds, sizes) of its accuracies on the
        attacked test digits, seed by seed."""
        runs = sorted(self._runs(arm), key=lambda r: r["seed"])
        if arm in self.study.derived or not runs or "fgsm_accuracy" not in runs[0]:
            raise StudyError(
                f"Study {self.study.name!r} holds no scores on attacked digits for arm {arm!r}"
            )
        sizes = sorted(runs[0]["fgsm_accuracy"], key=float)
        values = [[r["fgsm_accuracy"][s] for s in sizes] for r in runs]
        return tuple(float(s) for s in sizes), np.array(values)

    def answers(self, arm: str) -> tuple[tuple[int, ...], np.ndarray]:
        """For an arm that kept its answers (the best_network study): the seeds, and an int
        array (seeds, test images) of the digit each run answered."""
        runs = sorted(self._runs(arm), key=lambda r: r["seed"])
        if arm in self.study.derived or not runs or "answers" not in runs[0]:
            raise StudyError(f"Study {self.study.name!r} kept no answers for arm {arm!r}")
        answers = np.array([np.frombuffer(r["answers"].encode(), np.uint8) - 48 for r in runs])
        return tuple(r["seed"] for r in runs), answers.astype(np.int64)

    def compute_seconds(self) -> float:
        return float(sum(r["seconds"] for r in self.records))

    def table(self, reference: str | None = None, arms: Sequence[str] | None = None):
        """Each arm's mean test accuracy with its 95 % interval, and its paired difference from
        ``reference`` (the first arm by default) with the paired t-test's interval and p-value,
        as a Markdown table. Every figure rests on the seeds that every arm shown was trained
        with, so that the columns describe the same runs."""
        from .stats import p_text, points_text, seed_interval
        from .tables import markdown_table

        names = list(arms) if arms is not None else self.arm_names()
        reference = reference or names[0]
        seeds = sorted(set.intersection(*(set(self.seeds(name)) for name in names)))
        if len(seeds) < 2:
            raise StudyError(
                f"Study {self.study.name!r} has fewer than 2 seeds that every arm shown was "
                f"trained with ({seeds}): an interval needs at least 2."
            )
        rows = []
        for name in names:
            interval = seed_interval(self.accuracies(name, seeds))
            row = [
                self.label(name),
                f"{interval.estimate:.4f}",
                f"{interval.low:.4f} to {interval.high:.4f}",
            ]
            if name == reference:
                row += ["(reference)", "", ""]
            else:
                difference = self.difference(name, reference, seeds)
                has_interval = difference.low is not None
                row += [
                    points_text(difference.points),
                    f"{points_text(difference.low)} to {points_text(difference.high)}"
                    if has_interval
                    else "–",
                    f"{p_text(difference.p_value)} ({difference.test})",
                ]
            rows.append(row)
        return markdown_table(
            [
                f"arm ({len(seeds)} seeds each)",
                "mean test accuracy",
                "95 % interval",
                f"points vs {self.label(reference)}",
                "95 % interval",
                "test",
            ],
            rows,
            align="lrrrrr",
        )


PUBLISHED_URL = (
    "https://raw.githubusercontent.com/mnist-lessons/mnist-lessons/main/book/results/studies"
)
"""Where an installed library without the book beside it (Colab's) fetches the committed
records from."""


def _download(url: str, timeout: float = 60) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def committed_file(name: str, fetch: Callable[[str], bytes] = _download) -> Path:
    """The committed records of study ``name``: ``book/results/studies/`` in a clone of the
    repository; in an installation without the book beside it (``pip install`` in Colab), a
    copy fetched from `PUBLISHED_URL` into the data folder (see `sources.get_data_home`).

    Raises:
        StudyError: if the records are neither here nor fetchable, saying what to do.
    """
    if in_clone():
        return study_file(COMMITTED_DIR, name)
    from .sources import get_data_home

    url = f"{PUBLISHED_URL}/{name}.jsonl"
    try:
        data = fetch(url)
    except OSError as err:
        raise StudyError(
            f"The records of study {name!r} are not beside this installation of the library "
            f"and could not be fetched from {url} ({err}). Clone the repository to read them, "
            f"or train the study yourself: python -m mnist_lessons study {name}"
        ) from err
    path = study_file(get_data_home() / "studies", name)
    atomic_write(path, data)
    return path


def load_study(
    name: str,
    folder: str | os.PathLike | None = None,
    fetch: Callable[[str], bytes] = _download,
) -> StudyResults:
    """A study's records from ``folder`` (default: the committed ones, see `committed_file`),
    checked (see `read_records`)."""
    study = get_study(name)
    path = study_file(folder, name) if folder is not None else committed_file(name, fetch)
    if not path.is_file():
        raise StudyError(
            f"Study {name!r} has no records in {path.parent}: run it with "
            f"python -m mnist_lessons study {name}"
            + (f" --out {path.parent}" if folder is not None else "")
        )
    return StudyResults(study, tuple(read_records(path, study)))


def documented_recipe(
    architecture: str,
    folder: str | os.PathLike | None = None,
    fetch: Callable[[str], bytes] = _download,
) -> tuple[StudyResults, str]:
    """Where a write-up's documented recipe was trained over seeds: the study's results and the
    arm's name (the writeups study's arm, or the other study's first arm for the write-ups in
    `DOCUMENTED_ELSEWHERE`)."""
    from .models import REFERENCES

    if architecture not in REFERENCES:
        raise StudyError(
            f"Unknown write-up {architecture!r}. Choose one of: {', '.join(REFERENCES)}"
        )
    study, arm = DOCUMENTED_ELSEWHERE.get(architecture, ("writeups", architecture))
    return load_study(study, folder, fetch), arm


def estimate_seconds(study: Study, folder: str | os.PathLike | None = None) -> float | None:
    """The study's whole compute from the median seconds of each arm's recorded runs, or None
    where an arm has none yet."""
    folder = folder if folder is not None else default_folder(False)
    results = StudyResults(study, tuple(read_records(study_file(folder, study.name), study)))
    medians = [results.median_seconds(arm.name) for arm in study.arms]
    if any(m is None for m in medians):
        return None
    return sum(medians) * len(study.seeds)


def listing(folder: str | os.PathLike | None = None) -> str:
    """What ``study --list`` prints: each study's question, arms, seeds, runs recorded and an
    estimate of its compute from those runs."""
    folder = folder if folder is not None else default_folder(False)
    lines = []
    for study in all_studies():
        results = StudyResults(study, tuple(read_records(study_file(folder, study.name), study)))
        total = len(study.arms) * len(study.seeds)
        estimate = estimate_seconds(study, folder)
        cost = (
            f"about {_duration(estimate)} of training in all (from the recorded runs' times)"
            if estimate is not None
            else "time not yet estimated: no recorded run of every arm"
        )
        lines.append(f"{study.name}: {study.question}")
        lines.append(
            f"  arms: {'; '.join(f'{a.name} ({a.label})' for a in study.arms)}"
            + (
                f"; derived: {'; '.join(f'{k} ({v[0]})' for k, v in study.derived.items())}"
                if study.derived
                else ""
            )
        )
        quick = any(r["settings"]["quick"] for r in results.records)
        lines.append(
            f"  seeds {study.seeds[0]}–{study.seeds[-1]}; {len(results.records)} of {total} runs "
            f"recorded{' (at quick settings)' if quick else ''}; {cost}"
        )
    return "\n".join(lines)


def rerun_and_compare(
    name: str,
    seed: int | None,
    results: StudyResults,
    out: str | os.PathLike | None = None,
    stream=None,
) -> list[dict]:
    """What a chapter's "train a seed again" cell does: says how long training ``seed`` of
    every arm again takes (from ``results``' own runs), and, if ``seed`` is not None, trains it
    into ``out`` (default: a temporary folder, so that no committed file changes) and sets each
    new run beside the study's run with that seed and the range one run lands in.

    Returns:
        The new records (empty when ``seed`` is None).
    """
    import sys
    import tempfile

    from .stats import prediction_interval

    stream = stream or sys.stdout
    study = get_study(name)
    arms = [a.name for a in study.arms]
    seconds = sum(results.median_seconds(a) for a in arms if results.seeds(a))
    machines = sorted({r["provenance"]["processor"] for r in results.records})
    print(
        f"Training one seed of the {len(arms)} arms of {name!r} again takes about "
        f"{_duration(seconds)} on the machine that ran the study ({', '.join(machines)}).",
        file=stream,
    )
    if seed is None:
        print("No seed given, so nothing is trained here.", file=stream)
        return []
    with tempfile.TemporaryDirectory() as temporary:
        folder = out if out is not None else temporary
        new = run_study(name, seeds=[seed], out=folder, stream=stream)
    for record in new:
        arm = record["arm"]
        prediction = prediction_interval(results.accuracies(arm))
        committed = dict(zip(results.seeds(arm), results.accuracies(arm), strict=True))
        before = f"{committed[seed]:.4f}" if seed in committed else "not in the study"
        where = "inside" if prediction.contains(record["test_accuracy"]) else "outside"
        print(
            f"{results.label(arm)}: {record['test_accuracy']:.4f} here, {before} in the study; "
            f"{where} the range one run lands in ({prediction.low:.4f} to {prediction.high:.4f})",
            file=stream,
        )
    return new
