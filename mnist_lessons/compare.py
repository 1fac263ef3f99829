"""Comparing the five architectures: the documented recipes side by side, and an equal budget.

The documented runs differ in more than their layers: optimizer, batch size and epochs differ
too, so their table compares recipes. `equal_budget_study` trains every architecture with one
optimizer (Adam), one batch size and one number of epochs on the same training images, once per
seed, so that what differs between its rows is the architecture and the random seed alone.

An accuracy measured on the test set carries the test set's standard error
(`evaluate.standard_error`, about 0.1 point at 99 % on 10,000 images); a study over seeds also
has the spread between seeds. `EqualBudgetStudy.compare` says whether a difference between two
architectures is larger than both.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .backend import keras
from .chapter import ChapterParameters
from .checks import MAX_SEED, check_int
from .data import PreparedData, prepare_data
from .evaluate import compare_accuracy, evaluate_model, standard_error
from .models import ARCHITECTURES, REFERENCES, build_model, check_architecture
from .sources import load_mnist
from .tables import MarkdownTable, markdown_table
from .train import compile_model, set_seed, train
from .writeup import read_results, run_writeup, writeup_settings

DEFAULT_EPOCHS = 1
DEFAULT_BATCH_SIZE = 128
DEFAULT_TRAIN_LIMIT = 20_000
DEFAULT_SEEDS = 3
LEARNING_RATE = 1e-3
EVALUATION_BATCH = 1000
MNIST_TEST_IMAGES = 10_000
ESTIMATE_STEPS = 20
"""The documented runs are all scored on MNIST's whole test set."""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class EqualBudget:
    """The one recipe every architecture trains with in the study.

    Attributes:
        epochs: passes over the training images.
        batch_size: images per step.
        train_limit: training images, a class-balanced subset of MNIST's 60,000 (no validation
            split: the study makes no choice that one would inform).
        seeds: how many seeds each architecture is trained with (``seed``, ``seed + 1``, …).
        seed: the first seed; it also picks the training subset, the same for every run.
        learning_rate: Adam's learning rate.
    """

    epochs: int = DEFAULT_EPOCHS
    batch_size: int = DEFAULT_BATCH_SIZE
    train_limit: int = DEFAULT_TRAIN_LIMIT
    seeds: int = DEFAULT_SEEDS
    seed: int = 0
    learning_rate: float = LEARNING_RATE

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))

    def describe(self) -> str:
        return (
            f"Adam (learning rate {self.learning_rate:g}), {_count(self.epochs, 'epoch')} of "
            f"{self.train_limit:,} training images at batch "
            f"size {self.batch_size}, seeds {', '.join(map(str, self.seed_list))}"
        )


def equal_budget(
    *,
    epochs=None,
    batch_size=None,
    train_limit=None,
    seeds=DEFAULT_SEEDS,
    chapter: ChapterParameters | None = None,
) -> EqualBudget:
    """Checks the study's parameters and fills in the defaults.

    Args:
        epochs: None for the chapter's ``epochs`` if it gives one, else `DEFAULT_EPOCHS`.
        batch_size: None for `DEFAULT_BATCH_SIZE`.
        train_limit: None for the chapter's ``train_limit`` if it gives one, else
            `DEFAULT_TRAIN_LIMIT`; so a quick run of the chapter runs a quick study.
        seeds: how many seeds, at least 2 (a spread needs two).
        chapter: the chapter's checked parameters; its ``seed`` is the study's first seed.

    Raises:
        ParameterError: for a bad value, in the words of `mnist_lessons.checks`, e.g.
            ``"comparison_seeds must be an integer from 2 to 50. Received: comparison_seeds=1"``.
    """
    chapter = chapter or ChapterParameters(None, None, None, 0, 0)
    epochs = check_int("comparison_epochs", epochs, minimum=1, none_means="the default")
    batch_size = check_int(
        "comparison_batch_size", batch_size, minimum=1, maximum=60_000, none_means="the default"
    )
    train_limit = check_int(
        "comparison_train_limit", train_limit, minimum=10, maximum=60_000, none_means="the default"
    )
    seeds = check_int("comparison_seeds", seeds, minimum=2, maximum=50)
    return EqualBudget(
        epochs=epochs or chapter.epochs or DEFAULT_EPOCHS,
        batch_size=batch_size or DEFAULT_BATCH_SIZE,
        train_limit=train_limit or chapter.train_limit or DEFAULT_TRAIN_LIMIT,
        seeds=seeds,
        seed=check_int("seed", chapter.seed, minimum=0, maximum=MAX_SEED - seeds),
    )


@dataclass(frozen=True)
class StudyRun:
    """One architecture trained once at the equal budget.

    Attributes:
        architecture: a name from `ARCHITECTURES`.
        seed: the seed of its weights and of the order of its batches.
        params: its parameter count.
        test_accuracy: fraction of the test images right, 0–1.
        test_errors: test images wrong.
        test_images: test images scored.
        training_seconds: wall time of ``fit``, the first epoch's graph tracing included.
    """

    architecture: str
    seed: int
    params: int
    test_accuracy: float
    test_errors: int
    test_images: int
    training_seconds: float

    @property
    def write_up(self) -> str:
        return REFERENCES[self.architecture].write_up


def _std(values: Sequence[float]) -> float:
    """The sample standard deviation (n − 1); 0 for a single value."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


@dataclass(frozen=True)
class ArchitectureSummary:
    """One architecture's runs in the study, over seeds.

    The spread is the sample standard deviation over seeds (n − 1 in the denominator).
    """

    architecture: str
    runs: tuple[StudyRun, ...]

    @property
    def write_up(self) -> str:
        return REFERENCES[self.architecture].write_up

    @property
    def params(self) -> int:
        return self.runs[0].params

    def _values(self, key: str) -> list[float]:
        return [getattr(run, key) for run in self.runs]

    @property
    def accuracy(self) -> float:
        return float(np.mean(self._values("test_accuracy")))

    @property
    def accuracy_std(self) -> float:
        return _std(self._values("test_accuracy"))

    @property
    def errors(self) -> float:
        return float(np.mean(self._values("test_errors")))

    @property
    def errors_std(self) -> float:
        return _std(self._values("test_errors"))

    @property
    def seconds(self) -> float:
        return float(np.mean(self._values("training_seconds")))

    @property
    def seconds_std(self) -> float:
        return _std(self._values("training_seconds"))

    @property
    def standard_error(self) -> float:
        """The test set's standard error of one run at the mean accuracy, 0–1."""
        return standard_error(self.accuracy, self.runs[0].test_images)


@dataclass(frozen=True)
class Gap:
    """The difference between two architectures' mean accuracies, against the noise.

    Attributes:
        better, worse: the two summaries, the higher mean first.
        points: the difference of the means, in percentage points.
        noise: the larger of the two seed spreads and the test set's standard error, in points.
    """

    better: ArchitectureSummary
    worse: ArchitectureSummary
    points: float
    noise: float

    @property
    def inside(self) -> bool:
        """Whether the difference is no larger than the noise."""
        return self.points <= self.noise

    def sentence(self) -> str:
        a, b = self.better.write_up, self.worse.write_up
        if self.inside:
            return (
                f"{a} and {b} differ by {self.points:.2f} points, inside the noise of "
                f"{self.noise:.2f} points (the larger of their seed spreads and the test set's "
                "standard error): the test set cannot tell them apart"
            )
        return (
            f"{a} is {self.points:.2f} points above {b}, {self.points / self.noise:.1f} times "
            f"the noise of {self.noise:.2f} points (the larger of their seed spreads and the "
            "test set's standard error)"
        )


@dataclass
class EqualBudgetStudy:
    """Every architecture trained at one `EqualBudget`, once per seed.

    Attributes:
        budget: the recipe.
        runs: one `StudyRun` per architecture and seed, in the order they ran.
        seconds: wall time of the whole study (building, training and testing).
    """

    budget: EqualBudget
    runs: list[StudyRun] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def architectures(self) -> list[str]:
        return list(dict.fromkeys(run.architecture for run in self.runs))

    @property
    def seeds(self) -> list[int]:
        return sorted({run.seed for run in self.runs})

    def summaries(self) -> dict[str, ArchitectureSummary]:
        """One `ArchitectureSummary` per architecture, in the registry's order."""
        return {
            name: ArchitectureSummary(
                name, tuple(run for run in self.runs if run.architecture == name)
            )
            for name in self.architectures
        }

    def ranking(self) -> list[str]:
        """The architectures from the highest mean test accuracy to the lowest."""
        summaries = self.summaries()
        return sorted(summaries, key=lambda name: -summaries[name].accuracy)

    def compare(self, first: str, second: str) -> Gap:
        """How far apart two architectures' mean accuracies are, against the noise."""
        a, b = self.summaries()[first], self.summaries()[second]
        if b.accuracy > a.accuracy:
            a, b = b, a
        noise = max(a.accuracy_std, b.accuracy_std, a.standard_error, b.standard_error)
        return Gap(a, b, (a.accuracy - b.accuracy) * 100, noise * 100)

    def level_with_best(self) -> list[str]:
        """The architectures (the best first) whose gap to the best is inside the noise."""
        best, *others = self.ranking()
        return [best, *[name for name in others if self.compare(best, name).inside]]

    def level_with_best_sentence(self) -> str:
        """`level_with_best` in words, e.g. "write-up 001 is inside the noise of write-up 003"."""
        best, *level = [REFERENCES[n].write_up for n in self.level_with_best()]
        if not level:
            return f"no other write-up is inside the noise of write-up {best}"
        verb = "is" if len(level) == 1 else "are"
        return f"write-up {' and '.join(level)} {verb} inside the noise of write-up {best}"

    def table(self) -> MarkdownTable:
        """Mean ± standard deviation over seeds: accuracy, errors, seconds; and parameters."""
        return markdown_table(
            ["write-up", "parameters", "test accuracy", "errors", "training s"],
            [
                [
                    s.write_up,
                    f"{s.params:,}",
                    f"{s.accuracy:.4f} ± {s.accuracy_std:.4f}",
                    f"{s.errors:.0f} ± {s.errors_std:.0f}",
                    f"{s.seconds:.1f} ± {s.seconds_std:.1f}",
                ]
                for s in self.summaries().values()
            ],
            align="lrrrr",
        )

    def cost_arrays(self) -> dict[str, list]:
        """The keyword arguments of `plots.accuracy_against_cost` for this study."""
        summaries = list(self.summaries().values())
        return {
            "labels": [s.write_up for s in summaries],
            "params": [s.params for s in summaries],
            "seconds": [s.seconds for s in summaries],
            "seconds_error": [s.seconds_std for s in summaries],
            "accuracy": [s.accuracy for s in summaries],
            "accuracy_error": [s.accuracy_std for s in summaries],
        }

    def figures(self) -> dict[str, object]:
        """The figures a chapter's prose cites, under the names it glues them by."""
        summaries = self.summaries()
        ranking = self.ranking()
        best, second, worst = summaries[ranking[0]], summaries[ranking[1]], summaries[ranking[-1]]
        spread = max(summaries.values(), key=lambda s: s.accuracy_std)
        by_time = sorted(summaries.values(), key=lambda s: s.seconds)
        return {
            "comparison_seeds": len(self.seeds),
            "comparison_epochs": self.budget.epochs,
            "comparison_batch_size": self.budget.batch_size,
            "comparison_train_images": f"{self.budget.train_limit:,}",
            "comparison_budget": f"{_count(self.budget.epochs, 'epoch')} of "
            f"{self.budget.train_limit:,} images at batch {self.budget.batch_size}",
            "study_minutes": self.seconds / 60,
            "study_ranking": ", ".join(summaries[n].write_up for n in ranking),
            "study_best_write_up": best.write_up,
            "study_best_accuracy": best.accuracy,
            "study_best_std": best.accuracy_std,
            "study_best_errors": best.errors,
            "study_worst_write_up": worst.write_up,
            "study_worst_accuracy": worst.accuracy,
            "study_worst_errors": worst.errors,
            "study_gap_sentence": self.compare(best.architecture, second.architecture).sentence(),
            "study_level_with_best": self.level_with_best_sentence(),
            "study_largest_std_write_up": spread.write_up,
            "study_largest_std": spread.accuracy_std * 100,
            "study_standard_error": worst.standard_error * 100,
            "study_fastest_write_up": by_time[0].write_up,
            "study_slowest_write_up": by_time[-1].write_up,
            "study_time_ratio": by_time[-1].seconds / by_time[0].seconds,
        }

    def records(self) -> list[dict]:
        """Every run as a plain dict (for a JSON file or a data frame)."""
        return [{**vars(run), "write_up": run.write_up} for run in self.runs]


def study_data(budget: EqualBudget, arrays=None) -> PreparedData:
    """The study's training images: a class-balanced subset, without a validation split."""
    return prepare_data(
        arrays if arrays is not None else load_mnist(),
        validation_size=0,
        train_limit=budget.train_limit,
        seed=budget.seed,
    )


class BudgetTrainer:
    """One architecture, compiled once, retrained from a fresh start for each seed.

    Building and compiling a model, and tracing its training and prediction graphs, take a few
    seconds that do not depend on the budget. They are spent once per architecture, in a warm-up
    on two batches; before each seed the model's variables (weights and dropout's random state)
    are set to those of a model freshly built with that seed, and the optimizer's to their
    starting values, so that each run trains exactly as a freshly built model would (the tests
    check it) and its time counts training alone.
    """

    def __init__(self, architecture: str, data: PreparedData, budget: EqualBudget, precision=None):
        self.architecture = check_architecture(architecture)
        self.data, self.budget, self.precision = data, budget, precision
        self.model = build_model(self.architecture, precision)
        compile_model(self.model, keras.optimizers.Adam(budget.learning_rate))
        self.model.optimizer.build(self.model.trainable_variables)
        self._optimizer_start = [
            keras.ops.convert_to_numpy(v) for v in self.model.optimizer.variables
        ]
        # A full batch and a last, partial one, as the training set ends with: both shapes traced.
        warm_up = slice(0, budget.batch_size + (len(data.x_train) % budget.batch_size or 1))
        self.model.fit(
            data.x_train[warm_up], data.y_train[warm_up], batch_size=budget.batch_size, verbose=0
        )
        self.model.predict(data.x_test[:EVALUATION_BATCH], batch_size=EVALUATION_BATCH, verbose=0)

    def restart(self, seed: int) -> None:
        """Sets every variable to where a model freshly built with ``seed`` would start."""
        set_seed(seed)
        fresh = build_model(self.architecture, self.precision)
        for variable, start in zip(self.model.variables, fresh.variables, strict=True):
            variable.assign(start)
        for variable, start in zip(
            self.model.optimizer.variables, self._optimizer_start, strict=True
        ):
            variable.assign(start)

    def run(self, seed: int) -> StudyRun:
        """Trains from the start with ``seed`` at the budget, and scores the test set."""
        self.restart(seed)
        training = train(
            self.model, self.data, epochs=self.budget.epochs, batch_size=self.budget.batch_size
        )
        evaluation = evaluate_model(
            self.model, self.data.x_test, self.data.y_test, batch_size=EVALUATION_BATCH
        )
        return StudyRun(
            architecture=self.architecture,
            seed=seed,
            params=self.model.count_params(),
            test_accuracy=evaluation.accuracy,
            test_errors=evaluation.error_count,
            test_images=len(evaluation.labels),
            training_seconds=training.total_seconds,
        )


def equal_budget_study(
    budget: EqualBudget | None = None,
    *,
    data: PreparedData | None = None,
    architectures: Sequence[str] | None = None,
    precision: str | None = None,
    say: Callable[[str], object] = print,
) -> EqualBudgetStudy:
    """Trains every architecture at one equal budget, once per seed.

    Args:
        budget: the recipe; `EqualBudget()` if None.
        data: the training and test images; `study_data(budget)` if None. Every run trains on
            the same images.
        architectures: names from `ARCHITECTURES`; all five if None.
        precision: see `models.build_model`.
        say: where to write one line per run (``print``; ``lambda _: None`` for silence).

    Returns:
        An `EqualBudgetStudy` with one run per architecture and seed.
    """
    budget = budget or EqualBudget()
    names = [check_architecture(n) for n in (architectures or ARCHITECTURES)]
    data = data if data is not None else study_data(budget)
    start = time.perf_counter()
    study = EqualBudgetStudy(budget)
    for name in names:
        trainer = BudgetTrainer(name, data, budget, precision)
        for seed in budget.seed_list:
            run = trainer.run(seed)
            study.runs.append(run)
            say(
                f"seed {seed}, {run.write_up} {name}: test accuracy {run.test_accuracy:.4f} "
                f"({run.test_errors} wrong), {run.training_seconds:.1f} s"
            )
    study.seconds = time.perf_counter() - start
    return study


# The documented runs ------------------------------------------------------------------------


def estimate_training_seconds(
    architecture: str,
    data: PreparedData,
    *,
    epochs: int,
    batch_size: int,
    steps: int = ESTIMATE_STEPS,
    precision: str | None = None,
) -> float:
    """Times ``steps`` training steps of the documented recipe here and scales them up.

    One step first, so that graph tracing is not counted; the estimate leaves out validation
    and the first epoch's tracing, so the real run takes somewhat longer.

    Returns:
        Estimated seconds for ``epochs`` passes over ``data.x_train`` at ``batch_size``.
    """
    model = build_model(architecture, precision)
    compile_model(model, REFERENCES[architecture].make_optimizer())
    images = min(len(data.x_train), batch_size * (steps + 1))
    x, y = data.x_train[:images], data.y_train[:images]
    model.fit(x[:batch_size], y[:batch_size], batch_size=batch_size, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x[batch_size:], y[batch_size:], batch_size=batch_size, epochs=1, verbose=0)
    per_image = (time.perf_counter() - start) / max(1, images - batch_size)
    return per_image * len(data.x_train) * epochs


def documented_results(
    results_dir: str | os.PathLike,
    parameters: ChapterParameters,
    *,
    say: Callable[[str], object] = print,
) -> dict[str, dict]:
    """Every architecture's documented run: read from ``results_dir``, or trained here.

    Before training the missing ones, says what each will train and about how long that takes
    on this machine (`estimate_training_seconds`). A run trained here at the documented settings
    is checked and saved as an architecture chapter saves it (`WriteupRun.finish`).

    Returns:
        Architecture name → the record `WriteupRun.record` writes.
    """
    results = {name: read_results(results_dir, name) for name in ARCHITECTURES}
    for name, saved in results.items():
        if saved is not None:
            say(
                f"{saved['write_up']} {name}: read {results_dir}/{name}.json ({saved['epochs']} "
                f"epochs, batch {saved['batch_size']}, {saved['train_images']:,} training images, "
                f"{saved['training_seconds']:.0f} s of training when it was run)"
            )
    missing = [name for name, saved in results.items() if saved is None]
    if not missing:
        return results
    data = prepare_data(load_mnist(), train_limit=parameters.train_limit, seed=parameters.seed)
    estimates = {}
    for name in missing:
        settings = writeup_settings(
            name,
            epochs=parameters.epochs,
            batch_size=parameters.batch_size,
            train_limit=parameters.train_limit,
            seed=parameters.seed,
        )
        estimates[name] = estimate_training_seconds(
            name, data, epochs=settings.epochs, batch_size=settings.batch_size
        )
        say(
            f"{REFERENCES[name].write_up} {name}: no documented run in {results_dir}/, so it is "
            f"trained here: {_count(settings.epochs, 'epoch')} of {len(data.x_train):,} images "
            f"at batch {settings.batch_size}, about {estimates[name]:.0f} s on this machine "
            f"(timed over {ESTIMATE_STEPS} steps)"
        )
    say(f"In all about {sum(estimates.values()) / 60:.1f} minutes of training; starting now.")
    for name in missing:
        run = run_writeup(
            name,
            epochs=parameters.epochs,
            batch_size=parameters.batch_size,
            train_limit=parameters.train_limit,
            seed=parameters.seed,
            results_dir=results_dir,
            data=data,
            verbose=False,
        )
        results[name] = run.record()
        say(f"{run.reference.write_up} {name}: trained in {run.training.total_seconds:.0f} s")
    return results


def documented_tables(results: dict[str, dict]) -> tuple[MarkdownTable, MarkdownTable]:
    """The documented runs as two narrow tables: their recipes, and their test results.

    The second gives each test accuracy with its standard error on the test set, the number of
    test images wrong, the write-up's reported figure and the verdict against it.
    """
    recipes, scores = [], []
    for name, r in results.items():
        reference = REFERENCES[name]
        recipes.append(
            [
                r["write_up"],
                f"`{name}`",
                f"{r['params']:,}",
                reference.optimizer.capitalize(),
                f"{r['epochs']} × {r['batch_size']}",
                f"{r['training_seconds']:.0f}",
            ]
        )
        comparison = compare_accuracy(
            r["test_accuracy"], reference.reported_test_accuracy, MNIST_TEST_IMAGES
        )
        verdict = comparison.verdict
        if not comparison.inside:
            verdict = f"{comparison.points:.2f} {verdict}"
        scores.append(
            [
                r["write_up"],
                f"{r['test_accuracy']:.4f} ± {comparison.standard_error:.4f}",
                r["test_errors"],
                f"{reference.reported_test_accuracy:.4f}",
                verdict,
            ]
        )
    return (
        markdown_table(
            ["write-up", "architecture", "parameters", "optimizer", "epochs × batch", "training s"],
            recipes,
            align="llrlrr",
        ),
        markdown_table(
            ["write-up", "test accuracy ± SE", "errors", "reported", "against reported"],
            scores,
            align="lrrrl",
        ),
    )


def documented_cost_arrays(results: dict[str, dict]) -> dict[str, list]:
    """The keyword arguments of `plots.accuracy_against_cost` for the documented runs: each
    accuracy with the test set's standard error."""
    rows = list(results.values())
    return {
        "labels": [r["write_up"] for r in rows],
        "params": [r["params"] for r in rows],
        "seconds": [r["training_seconds"] for r in rows],
        "accuracy": [r["test_accuracy"] for r in rows],
        "accuracy_error": [standard_error(r["test_accuracy"], MNIST_TEST_IMAGES) for r in rows],
    }


def documented_figures(results: dict[str, dict]) -> dict[str, object]:
    """The figures the chapter's prose cites about the documented runs, by their glue names."""
    rows = sorted(results.values(), key=lambda r: -r["test_accuracy"])
    best, second = rows[0], rows[1]
    smallest = min(rows, key=lambda r: r["params"])
    largest = max(rows, key=lambda r: r["params"])
    fastest = min(rows, key=lambda r: r["training_seconds"])
    slowest = max(rows, key=lambda r: r["training_seconds"])
    gap = compare_accuracy(best["test_accuracy"], second["test_accuracy"], MNIST_TEST_IMAGES)
    return {
        "best_write_up": best["write_up"],
        "best_accuracy": best["test_accuracy"],
        "best_errors": best["test_errors"],
        "second_write_up": second["write_up"],
        "documented_gap_sentence": gap.sentence(
            f"write-up {second['write_up']}'s {second['test_accuracy']:.4f}"
        ),
        "documented_ranking": ", ".join(r["write_up"] for r in rows),
        "smallest_write_up": smallest["write_up"],
        "smallest_accuracy": smallest["test_accuracy"],
        "params_ratio": largest["params"] / smallest["params"],
        "fastest_write_up": fastest["write_up"],
        "fastest_seconds": fastest["training_seconds"],
        "slowest_write_up": slowest["write_up"],
        "slowest_seconds": slowest["training_seconds"],
        "time_ratio": slowest["training_seconds"] / fastest["training_seconds"],
        "total_training_minutes": sum(r["training_seconds"] for r in rows) / 60,
        "accuracy_spread": (best["test_accuracy"] - rows[-1]["test_accuracy"]) * 100,
        "documented_standard_error": standard_error(best["test_accuracy"], MNIST_TEST_IMAGES) * 100,
    }


def recipe_gains(results: dict[str, dict], study: EqualBudgetStudy) -> dict[str, object]:
    """How much each documented recipe gains over the equal budget, in points, by glue name.

    The documented recipes train longer, on every training image, with their own optimizer and
    batch size, so a gain mixes all of these; it is not the optimizer's alone.
    """
    summaries = study.summaries()
    gains = {
        name: (results[name]["test_accuracy"] - summaries[name].accuracy) * 100
        for name in summaries
        if name in results
    }
    most, least = max(gains, key=gains.get), min(gains, key=gains.get)
    leader_documented = max(results, key=lambda n: results[n]["test_accuracy"])
    leader_study = study.ranking()[0]
    return {
        "most_gain_write_up": REFERENCES[most].write_up,
        "most_gain_points": gains[most],
        "least_gain_write_up": REFERENCES[least].write_up,
        "least_gain_points": gains[least],
        "same_leader": "the same write-up leads both"
        if leader_documented == leader_study
        else f"the lead passes from write-up {REFERENCES[leader_documented].write_up} to "
        f"write-up {REFERENCES[leader_study].write_up}",
    }
