"""A reference write-up's whole procedure, in one call: the chapters' shared lesson.

Chapter 000 walks through the steps one cell at a time: resolve the documented settings, prepare
the data, build the architecture and check its parameter count, train with the documented
optimizer, evaluate once on the test set, set the result beside the write-up's, check it, and
save it for the comparison. `run_writeup` does the same in one call, so that chapters 001–004
and the comparison spend their code on what is theirs.

Results are saved only by a run at the documented settings (every training image, the documented
epochs and batch size, the default validation split), into the ``results_dir`` the chapter names
(the book's ``book/results/``). A quick run saves nothing and says so, so it can never overwrite
the results the fast-training chapter reads. The environment variable ``MNIST_LESSONS_RESULTS_DIR``
sends the documented runs' results to another folder instead: the test suite sets it so that
re-executing the book leaves the committed files alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .backend import keras
from .chapter import ChapterParameters, check_parameters
from .data import PreparedData, prepare_data
from .evaluate import (
    Evaluation,
    check_accuracy,
    evaluate_model,
    load_results,
    save_results,
)
from .models import REFERENCES, VARIANTS, Reference, build_model, precision_of
from .sources import load_mnist
from .tables import MarkdownTable, markdown_table
from .train import TrainingResult, set_seed, train

RESULTS_ENV = "MNIST_LESSONS_RESULTS_DIR"
DEFAULT_VALIDATION_SIZE = 5000
ACCURACY_MARGIN = 0.01
"""How far below the reported test accuracy a documented run may land before it fails.

A guard against a broken run (wrong preprocessing, a wrong layer), which costs far more than a
point; not a claim that the recipe matches the write-up, which the glued verdict states against
the spread of the recipe over seeds (`WriteupRun.reported_verdict`). The same recipe and seed
land apart by a few tenths of a point on different processors: write-up 004's network scored
0.9817 on one machine and 0.9788 on another, with the same code and library versions."""


@dataclass(frozen=True)
class WriteupSettings:
    """What a run of one write-up's recipe trains with, after the defaults are resolved.

    Attributes:
        architecture: a name from `ARCHITECTURES`.
        epochs, batch_size: as asked, or as the write-up documents them.
        train_limit: None for every training image left after the validation split.
        seed: the random seed for the split, the subset and the weights.
        validation_size: training images held out for validation.
    """

    architecture: str
    epochs: int
    batch_size: int
    train_limit: int | None
    seed: int
    validation_size: int

    @property
    def reference(self) -> Reference:
        return REFERENCES[self.architecture]

    def differences(self) -> list[str]:
        """How these settings differ from the documented ones, one phrase each."""
        found = []
        if self.epochs != self.reference.epochs:
            found.append(f"epochs {self.epochs} instead of {self.reference.epochs}")
        if self.batch_size != self.reference.batch_size:
            found.append(f"batch_size {self.batch_size} instead of {self.reference.batch_size}")
        if self.train_limit is not None:
            found.append(f"train_limit {self.train_limit} instead of every image")
        if self.validation_size != DEFAULT_VALIDATION_SIZE:
            found.append(
                f"validation_size {self.validation_size} instead of {DEFAULT_VALIDATION_SIZE}"
            )
        return found

    @property
    def documented(self) -> bool:
        """Whether these are the write-up's documented settings (any seed)."""
        return not self.differences()

    def prepare_data(self) -> PreparedData:
        """The arrays these settings train and test on, from the cached MNIST."""
        return prepare_data(
            load_mnist(),
            validation_size=self.validation_size,
            train_limit=self.train_limit,
            seed=self.seed,
        )

    def describe(self) -> str:
        reference = self.reference
        return (
            f"reference write-up {reference.write_up}: {self.epochs} epochs, batch size "
            f"{self.batch_size}, optimizer {reference.optimizer}"
        )


def writeup_settings(
    architecture: str,
    *,
    epochs=None,
    batch_size=None,
    train_limit=None,
    seed=0,
    validation_size=DEFAULT_VALIDATION_SIZE,
) -> WriteupSettings:
    """Checks a chapter's parameters and fills in the write-up's documented values.

    Raises:
        ParameterError: for a bad value, naming it (see `chapter.check_parameters`).
    """
    params: ChapterParameters = check_parameters(
        epochs=epochs,
        batch_size=batch_size,
        train_limit=train_limit,
        seed=seed,
        validation_size=validation_size,
        architecture=architecture,
    )
    reference = REFERENCES[architecture]
    return WriteupSettings(
        architecture=architecture,
        epochs=params.epochs or reference.epochs,
        batch_size=params.batch_size or reference.batch_size,
        train_limit=params.train_limit,
        seed=params.seed,
        validation_size=params.validation_size,
    )


def check_param_count(model: keras.Model, reference: Reference) -> int:
    """Raises AssertionError unless ``model`` has the write-up's parameter count."""
    count = model.count_params()
    if count != reference.params:
        raise AssertionError(
            f"{count:,} parameters; reference write-up {reference.write_up} has "
            f"{reference.params:,}"
        )
    return count


def results_destination(results_dir: str | os.PathLike) -> Path:
    """Where documented runs save their results: ``$MNIST_LESSONS_RESULTS_DIR``, else
    ``results_dir``."""
    return Path(os.environ.get(RESULTS_ENV) or results_dir)


def results_file(results_dir: str | os.PathLike, architecture: str) -> Path:
    """The results file of one architecture in a results folder."""
    return Path(results_dir) / f"{architecture}.json"


def read_results(results_dir: str | os.PathLike, architecture: str) -> dict | None:
    """The saved results of ``architecture``'s documented run, or None.

    A file from a run at other settings (which this library no longer writes, but an older
    version did) is not the documented run, and is treated as missing.
    """
    saved = load_results(results_file(results_dir, architecture))
    if saved is None or not saved.get("documented"):
        return None
    return saved


@dataclass
class WriteupRun:
    """One run of a write-up's recipe: its settings, data, model, training and test results.

    Attributes:
        settings: the resolved `WriteupSettings`.
        data: the prepared arrays the model was trained and tested on.
        model: the trained Keras model.
        training: the `TrainingResult` (history and epoch times).
        evaluation: the test-set `Evaluation`.
        saved_to: the results file written by `finish`, or None.
    """

    settings: WriteupSettings
    data: PreparedData
    model: keras.Model
    training: TrainingResult
    evaluation: Evaluation
    saved_to: Path | None = None

    @property
    def reference(self) -> Reference:
        return self.settings.reference

    def measured(self) -> dict[str, float]:
        """This run's figures under the names the write-ups report them by."""
        history = self.training.history
        return {
            "test_accuracy": self.evaluation.accuracy,
            "test_loss": self.evaluation.loss,
            "train_accuracy": history["accuracy"][-1],
            "train_loss": history["loss"][-1],
            "val_accuracy": history["val_accuracy"][-1],
            "best_val_accuracy": max(history["val_accuracy"]),
        }

    def reported_verdict(self, folder=None) -> dict[str, object]:
        """The write-up's reported test accuracy against its recipe's spread over seeds (the
        book's studies, `studies.documented_recipe`; ``folder`` as in `studies.load_study`), and
        where this run lands in the same range.

        Returns:
            The glued figures: ``verdict_sentence`` (from `stats.against_reported`), the seeds,
            the mean and its interval, the prediction interval, and ``run_in_range``.
        """
        from .stats import against_reported, prediction_interval, seed_interval
        from .studies import documented_recipe

        results, arm = documented_recipe(self.settings.architecture, folder)
        accuracies = results.accuracies(arm)
        mean, one_run = seed_interval(accuracies), prediction_interval(accuracies)
        here = self.evaluation.accuracy
        return {
            "verdict_sentence": against_reported(
                accuracies, self.reference.reported_test_accuracy, self.reference.reported_step
            ),
            "study_name": results.study.name,
            "study_seeds": len(accuracies),
            "study_mean": mean.estimate,
            "study_mean_low": mean.low,
            "study_mean_high": mean.high,
            "study_run_low": one_run.low,
            "study_run_high": one_run.high,
            "run_in_range": "inside" if one_run.contains(here) else "outside",
        }

    def reported_table(self) -> MarkdownTable:
        """The write-up's reported figures beside this run's measured ones."""
        measured = self.measured()
        return markdown_table(
            ["figure", "reported", "measured"],
            [
                [key.replace("_", " "), f"{reported:.4f}", f"{measured[key]:.4f}"]
                for key, reported in self.reference.reported.items()
            ],
            align="lrr",
        )

    def record(self) -> dict:
        """What `finish` saves: the same fields for every architecture."""
        return {
            "architecture": self.settings.architecture,
            "write_up": self.reference.write_up,
            "documented": self.settings.documented,
            "params": self.model.count_params(),
            "epochs": self.training.epochs,
            "batch_size": self.settings.batch_size,
            "precision": precision_of(self.model),
            "train_images": len(self.data.x_train),
            "train_limit": self.settings.train_limit,
            "validation_size": self.settings.validation_size,
            "seed": self.settings.seed,
            "test_accuracy": self.evaluation.accuracy,
            "test_loss": self.evaluation.loss,
            "test_errors": self.evaluation.error_count,
            "seconds_per_epoch": self.training.seconds_per_epoch,
            "training_seconds": self.training.total_seconds,
            "history": self.training.history,
        }

    def finish(self, results_dir: str | os.PathLike | None) -> list[str]:
        """Checks a documented run against the write-up and saves its results.

        A documented run that lands more than `ACCURACY_MARGIN` below the reported test
        accuracy raises AssertionError, so that a regression stops the book's build instead of
        being published. Only a documented run is saved (see the module's docstring).

        Returns:
            What was done, as lines for the reader.
        """
        lines = []
        if self.settings.documented:
            check_accuracy(
                f"write-up {self.reference.write_up}",
                self.evaluation.accuracy,
                self.reference.reported_test_accuracy,
                margin=ACCURACY_MARGIN,
            )
            lines.append(
                f"Checked: the test accuracy is within {ACCURACY_MARGIN * 100:.1f} points of "
                "the reported figure or above it."
            )
            if results_dir is not None:
                target = results_file(results_destination(results_dir), self.settings.architecture)
                self.saved_to = save_results(target, **self.record())
                lines.append(f"Saved the results for the fast-training chapter: {target.name}")
        else:
            lines.append(
                "Not checked against the write-up and not saved: this run differs from the "
                f"documented one ({'; '.join(self.settings.differences())}), so the results "
                "the fast-training chapter reads are unchanged."
            )
        return lines

    def glue(self) -> None:
        """Glues the figures every architecture chapter's prose cites (`myst_nb.glue`)."""
        from myst_nb import glue

        interval = self.evaluation.interval()
        for name, value in {
            "reference": self.reference.write_up,
            "reconstructed": self.reference.reconstructed,
            "epochs": self.settings.epochs,
            "batch_size": self.settings.batch_size,
            "params": f"{self.model.count_params():,}",
            "seconds_per_epoch": self.training.seconds_per_epoch,
            "training_seconds": self.training.total_seconds,
            "test_accuracy": self.evaluation.accuracy,
            "test_accuracy_low": interval.low,
            "test_accuracy_high": interval.high,
            "test_loss": self.evaluation.loss,
            "test_errors": self.evaluation.error_count,
            **self.reported_verdict(),
        }.items():
            glue(name, value, display=False)


def evaluation_line(evaluation: Evaluation) -> str:
    """One line: test loss, accuracy and the number of mistakes."""
    return (
        f"test loss {evaluation.loss:.4f}, test accuracy {evaluation.accuracy:.4f} "
        f"({evaluation.error_count} of {len(evaluation.labels):,} wrong)"
    )


def run_writeup(
    architecture: str | WriteupSettings,
    *,
    epochs=None,
    batch_size=None,
    train_limit=None,
    seed=0,
    validation_size=DEFAULT_VALIDATION_SIZE,
    results_dir: str | os.PathLike | None = None,
    data: PreparedData | None = None,
    precision: str | None = None,
    callbacks: list | None = None,
    verbose: bool = True,
    network: Callable[[], keras.Sequential] | None = None,
) -> WriteupRun:
    """Runs a write-up's recipe from start to finish, as chapter 000 does step by step.

    Args:
        architecture: a name from `ARCHITECTURES`, or settings already resolved by
            `writeup_settings` (then ``epochs`` … ``validation_size`` must be left out).
        epochs, batch_size: None for the write-up's documented values.
        train_limit: None for every training image; else a class-balanced subset.
        seed: seeds the split, the subset and the weights.
        validation_size: training images held out for validation.
        results_dir: where a documented run saves its results (see the module docstring);
            None saves nothing.
        data: already prepared arrays to reuse (they must match ``train_limit``, ``seed`` and
            ``validation_size``); prepared from the cached MNIST if None.
        precision: see `models.build_model`.
        callbacks: extra Keras callbacks for the training (see `mnist_lessons.callbacks`).
        verbose: print what happens, step by step, as the chapters show it.
        network: the chapter's own function that builds the architecture (its Keras code on
            the page); it must build the registered network, which `models.build_model` checks.
            None: the registry's builder.

    Returns:
        A `WriteupRun`.

    Raises:
        ParameterError: for a bad parameter, before anything is trained.
        AssertionError: if the model's parameter count differs from the write-up's, or a
            documented run lands more than `ACCURACY_MARGIN` below the reported accuracy.
    """
    if isinstance(architecture, WriteupSettings):
        given = (epochs, batch_size, train_limit, seed, validation_size)
        if given != (None, None, None, 0, DEFAULT_VALIDATION_SIZE):
            raise ValueError(
                "run_writeup takes either settings or epochs, batch_size, train_limit, seed and "
                "validation_size, not both"
            )
        settings = architecture
    else:
        settings = writeup_settings(
            architecture,
            epochs=epochs,
            batch_size=batch_size,
            train_limit=train_limit,
            seed=seed,
            validation_size=validation_size,
        )
    say = print if verbose else (lambda *_: None)
    say(settings.describe())
    set_seed(settings.seed)
    if data is None:
        data = settings.prepare_data()
    say(data.summary())
    model = build_model(settings.architecture, precision, network=network)
    count = check_param_count(model, settings.reference)
    say(f"{count:,} parameters, as in reference write-up {settings.reference.write_up}")
    training = train(
        model,
        data,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        optimizer=settings.reference.make_optimizer(),
        callbacks=callbacks,
    )
    say(f"precision: {precision_of(model)}")
    say(training.table())
    evaluation = evaluate_model(model, data.x_test, data.y_test)
    say(evaluation_line(evaluation))
    run = WriteupRun(settings, data, model, training, evaluation)
    for line in run.finish(results_dir):
        say(line)
    return run


@dataclass
class VariantRun:
    """An ablation: a write-up's recipe trained again with one thing changed (`VARIANTS`).

    Attributes:
        name: the variant's name in `VARIANTS`.
        model, training, evaluation: as in `WriteupRun`.
    """

    name: str
    model: keras.Model
    training: TrainingResult
    evaluation: Evaluation

    @property
    def change(self) -> str:
        return VARIANTS[self.name].change

    def against(self, run: WriteupRun):
        """This variant against the documented run on the same test images: McNemar's exact
        test (`Evaluation.against`). One seed each: it says whether these two trained networks
        differ, not whether the two recipes do (the studies answer that)."""
        return self.evaluation.against(run.evaluation)


def run_variant(
    name: str,
    run: WriteupRun,
    *,
    callbacks: list | None = None,
    precision: str | None = None,
    verbose: bool = True,
) -> VariantRun:
    """Trains a variant of ``run``'s architecture exactly as ``run`` was trained: the same data,
    seed, epochs, batch size, optimizer and precision. Nothing is saved.

    Args:
        name: a key of `VARIANTS` whose architecture is ``run``'s.
        run: the documented recipe's `WriteupRun`.
        callbacks: extra Keras callbacks for the training.
        precision: see `models.build_model`; ``run``'s precision if None.
        verbose: print the training table and the test result.

    Raises:
        ValueError: for an unknown variant or one of another architecture.
    """
    if name not in VARIANTS:
        raise ValueError(f"Unknown variant {name!r}. Choose one of: {', '.join(VARIANTS)}")
    if VARIANTS[name].architecture != run.settings.architecture:
        raise ValueError(
            f"{name} is a variant of {VARIANTS[name].architecture}, not of "
            f"{run.settings.architecture}"
        )
    settings = run.settings
    set_seed(settings.seed)
    model = build_model(name, precision or precision_of(run.model))
    training = train(
        model,
        run.data,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        optimizer=settings.reference.make_optimizer(),
        callbacks=callbacks,
    )
    evaluation = evaluate_model(model, run.data.x_test, run.data.y_test)
    if verbose:
        print(f"{name}: {VARIANTS[name].change}; {model.count_params():,} parameters")
        print(training.table())
        print(evaluation_line(evaluation))
    return VariantRun(name, model, training, evaluation)


def show_test_results(run: WriteupRun) -> None:
    """Shows the test results in one figure (`plots.evaluation_figure`): the confusion matrix,
    each digit's accuracy with its interval, and the network's most confident mistakes."""
    import matplotlib.pyplot as plt

    from .plots import evaluation_figure

    evaluation_figure(run.evaluation, run.data.x_test, f"{run.reference.title}: the test set")
    plt.show()
