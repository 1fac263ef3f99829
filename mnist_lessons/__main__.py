"""Command line: ``python -m mnist_lessons COMMAND --help``, COMMAND one of data, train, predict,
bench, race, profile, study."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# The library's own errors, reported in one line; anything else is a bug and keeps its
# traceback. Named rather than imported: importing `train` or `backend` here would import Keras
# for every command, and a backend that fails to import leaves no module to import
# BackendError from. `main` adds the data loader's DataError.
LIBRARY_ERRORS = frozenset(
    {
        "mnist_lessons.checks.ParameterError",
        "mnist_lessons.train.CheckpointError",
        "mnist_lessons.predict.ImageError",
        "mnist_lessons.backend.BackendError",
        "mnist_lessons.studies.StudyError",
    }
)


def _is_library_error(err: BaseException, *classes: type) -> bool:
    """Whether ``err`` is one of ``classes`` or of `LIBRARY_ERRORS` (or a subclass of one)."""
    return isinstance(err, classes) or any(
        f"{cls.__module__}.{cls.__qualname__}" in LIBRARY_ERRORS for cls in type(err).__mro__
    )


def _cmd_data(args) -> int:
    from .sources import load_mnist

    mnist = load_mnist(data_home=args.data_home)
    (x_train, _), (x_test, _) = mnist
    report = mnist.report
    print(f"MNIST verified: {len(x_train):,} training and {len(x_test):,} test images")
    print(f"source: {report.source} ({report.location})")
    for line in report.tried:
        print(f"  tried first: {line}")
    return 0


def _cmd_train(args) -> int:
    from .data import prepare_data
    from .evaluate import evaluate_model
    from .models import REFERENCES, default_precision, precision_of
    from .train import epochs_and_batch_size, save_history, set_seed, train

    reference = REFERENCES[args.arch]
    # `train`'s own check, here before MNIST is loaded.
    epochs, batch_size = epochs_and_batch_size(args.arch, args.epochs, args.batch_size)
    set_seed(args.seed)
    data = prepare_data(
        train_limit=args.train_limit, validation_size=args.validation_size, seed=args.seed
    )
    output = Path(args.output) if args.output is not None else Path("runs") / args.arch
    precision = args.precision or default_precision()
    print(
        f"Training {args.arch} (reference write-up {reference.write_up}) for {epochs} "
        f"epochs, batch {batch_size}, on {len(data.x_train):,} images, in {precision}"
    )
    result = train(
        args.arch,
        data,
        epochs=epochs,
        batch_size=batch_size,
        checkpoint_dir=output / "checkpoint",
        verbose=1 if sys.stdout.isatty() else 2,
        precision=precision,
    )
    if result.resumed_from:
        print(f"Resumed after epoch {result.resumed_from} from {output / 'checkpoint'}")
    output.mkdir(parents=True, exist_ok=True)
    evaluation = evaluate_model(result.model, data.x_test, data.y_test)
    model_path = output / f"{args.arch}.keras"
    result.model.save(model_path)
    save_history(result, output / "history.json")
    metrics = {
        "architecture": args.arch,
        "epochs": result.epochs,
        "batch_size": batch_size,
        "precision": precision_of(result.model),
        "test_loss": evaluation.loss,
        "test_accuracy": evaluation.accuracy,
        "seconds_per_epoch": result.seconds_per_epoch,
    }
    (output / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    print(
        f"test loss {evaluation.loss:.4f}  test accuracy {evaluation.accuracy:.4f}  "
        f"({result.seconds_per_epoch:.1f} s/epoch)"
    )
    print(f"saved {model_path}, {output / 'history.json'}, {output / 'metrics.json'}")
    return 0


def _cmd_predict(args) -> int:
    from .backend import keras
    from .predict import ImageError, predict_digits

    if not Path(args.model).is_file():
        print(
            f"error: no model file at {args.model}; train one with "
            "`python -m mnist_lessons train --output DIR`",
            file=sys.stderr,
        )
        return 2
    try:
        model = keras.models.load_model(args.model)
    except ValueError as err:  # Keras's word for a file that is not a saved model
        print(f"error: cannot load a model from {args.model}: {err}", file=sys.stderr)
        return 2
    status = 0
    for image in args.images:
        try:
            (prediction,) = predict_digits(model, [image])
        except ImageError as err:
            print(f"{image}: error: {err}", file=sys.stderr)
            status = 1
            continue
        alternatives = ", ".join(f"{d}: {p:.1%}" for d, p in prediction.top(3)[1:])
        print(f"{image}: {prediction.digit} ({prediction.confidence:.1%}; then {alternatives})")
    return status


def _cmd_bench(args) -> int:
    from .backend import environment_line
    from .bench import HEADER, run_benchmark, write_json
    from .checks import check_int
    from .data import prepare_data
    from .models import default_precision

    # The check `run_benchmark` runs, before MNIST is loaded.
    check_int("epochs", args.epochs, minimum=2)
    data = prepare_data(validation_size=0, train_limit=args.train_limit, seed=0)
    print(
        f"Training throughput on {len(data.x_train):,} images, median of {args.epochs - 1} "
        "timed epoch(s) after one warm-up epoch"
    )
    print(f"library path in {default_precision()}; bare fit in float32")
    print(environment_line())
    print(HEADER)
    records = run_benchmark(data, architectures=args.arch, epochs=args.epochs)
    print(f"matrix-product rate: {records[0]['matmul_gflops']:.0f} GFLOP/s (4096² float32)")
    if args.json:
        print(f"wrote {write_json(records, args.json)}")
    return 0


def _cmd_race(args) -> int:
    from .backend import environment_line, matmul_gflops
    from .checks import check_int
    from .data import prepare_data
    from .peers import race, race_table

    # The checks `race` runs, before MNIST is loaded.
    check_int("seeds", args.seeds, minimum=1)
    check_int("seed", args.seed, minimum=0)
    seeds = list(range(args.seed, args.seed + args.seeds))
    data = prepare_data(train_limit=args.train_limit, seed=args.seed)
    print(environment_line())
    print(
        f"The book's 99 % recipe and the published recipes, ported, on {len(data.x_train):,} "
        f"training images, seeds {seeds[0]}–{seeds[-1]}, each seed's runs one after the other; "
        "seconds are the wall time of fit (tracing included), the validation split scored between "
        "epochs and the test set once, after the last"
    )
    before = matmul_gflops()
    print(f"matrix-product rate before: {before:.0f} GFLOP/s (4096² float32)")
    peers = args.peer or ("tuomaso", "keras_io")
    entries = race(data, seeds, peers, stop_at=None if args.full else 0.99)
    after = matmul_gflops()
    print(f"matrix-product rate after: {after:.0f} GFLOP/s")
    print(race_table(entries, len(data.y_val)))
    if args.json:
        records = {
            "environment": environment_line(),
            "matmul_gflops": [before, after],
            "runs": {
                entry.label: [
                    {
                        "seed": run.seed,
                        "epoch_seconds": list(run.epoch_seconds),
                        "epoch_val_accuracies": list(run.epoch_val_accuracies),
                        "test_accuracy": run.test_accuracy,
                    }
                    for run in entry.runs
                ]
                for entry in entries
            },
        }
        Path(args.json).write_text(json.dumps(records, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


def _cmd_profile(args) -> int:
    from .backend import environment_line, require_profiler
    from .checks import check_int
    from .data import prepare_data
    from .profiling import profile_recipe
    from .speedrun import RECIPE_99, RECIPE_995

    recipes = {"99": RECIPE_99, "99.5": RECIPE_995}
    # The checks `profile_recipe` runs, before MNIST is loaded.
    require_profiler()
    check_int("seed", args.seed, minimum=0)
    data = prepare_data(train_limit=args.train_limit, seed=args.seed)
    print(environment_line())
    profile = profile_recipe(recipes[args.recipe], data, seed=args.seed)
    print(profile.summary())
    print(
        "Time per training step by part of the network, each operation's own time summed over "
        "the threads that ran it (the profiler can slow the epoch: compare shares, not times):"
    )
    print(profile.table())
    if args.json:
        record = {
            "environment": environment_line(),
            "recipe": args.recipe,
            "images": profile.images,
            "steps": profile.steps,
            "seconds": profile.plain_seconds,
            "profiled_seconds": profile.wall_seconds,
            "matmul_gflops": profile.matmul_gflops,
            "achieved_gflops": profile.achieved_gflops,
            "parts": [
                {"part": p.part, "forward_seconds": p.forward, "backward_seconds": p.backward}
                for p in profile.parts
            ],
        }
        Path(args.json).write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


def _cmd_study(args) -> int:
    from .studies import StudyError, default_folder, listing, run_study, study_file

    if args.list == (args.name is not None):
        raise StudyError("Name one study to run, or list them with --list (not both).")
    if args.list:
        print(listing(args.out))
        return 0
    from .backend import environment_line

    print(environment_line())
    records = run_study(args.name, seeds=args.seeds, quick=args.quick, out=args.out, arms=args.arm)
    folder = args.out if args.out is not None else default_folder(args.quick)
    count = f"{len(records)} run" + ("" if len(records) == 1 else "s")
    print(f"{count} recorded in {study_file(folder, args.name)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .models import ARCHITECTURES, PRECISIONS

    parser = argparse.ArgumentParser(
        prog="python -m mnist_lessons",
        description="Train, evaluate and use the book's MNIST convolutional networks.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="fetch and verify MNIST, and say where it came from")
    data.add_argument(
        "--data-home", help="cache folder (default: $MNIST_LESSONS_HOME or ~/mnist_lessons_data)"
    )
    data.set_defaults(run=_cmd_data)

    train = commands.add_parser("train", help="train an architecture and save it")
    train.add_argument(
        "--arch", required=True, choices=list(ARCHITECTURES), help="architecture name"
    )
    # Numbers are parsed as plain integers; the library's own checks say what range they need.
    train.add_argument(
        "--epochs", type=int, help="epochs (default: the write-up's documented number)"
    )
    train.add_argument("--batch-size", type=int, help="batch size (default: the documented one)")
    train.add_argument(
        "--train-limit",
        type=int,
        help="train on this many images, balanced across digits (default: all)",
    )
    train.add_argument(
        "--validation-size",
        type=int,
        default=5000,
        help="images held out of training for validation (default: 5000)",
    )
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument(
        "--precision",
        choices=list(PRECISIONS),
        help="arithmetic precision (default: mixed_bfloat16 on CPUs with bfloat16 "
        "instructions and no GPU, else float32)",
    )
    train.add_argument(
        "--output",
        help="folder for the model, history and checkpoint; the same command run again "
        "resumes from its checkpoint, and a different run is refused (default: runs/ARCH)",
    )
    train.set_defaults(run=_cmd_train)

    predict = commands.add_parser("predict", help="classify your own digit images")
    predict.add_argument("--model", required=True, help="a .keras file saved by `train`")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG files")
    predict.set_defaults(run=_cmd_predict)

    bench = commands.add_parser("bench", help="measure training speed: library vs bare fit")
    bench.add_argument(
        "--arch",
        action="append",
        choices=list(ARCHITECTURES),
        help="only this architecture (repeatable; default: all)",
    )
    bench.add_argument(
        "--epochs",
        type=int,
        default=3,
        help="epochs per path, the first one warm-up (default: 3)",
    )
    bench.add_argument("--train-limit", type=int, help="images per epoch (default: all 60,000)")
    bench.add_argument("--json", help="also write the records to this JSON file")
    bench.set_defaults(run=_cmd_bench)

    race = commands.add_parser(
        "race", help="time the book's 99 %% recipe beside published fast recipes, seed by seed"
    )
    race.add_argument(
        "--peer",
        action="append",
        choices=["tuomaso", "keras_io"],
        help="only this peer (repeatable; default: both)",
    )
    race.add_argument("--seeds", type=int, default=3, help="runs of each recipe (default: 3)")
    race.add_argument("--seed", type=int, default=0, help="the first seed (default: 0)")
    race.add_argument(
        "--full",
        action="store_true",
        help="train every peer for its published epochs (default: stop once its validation "
        "accuracy reaches 99 %%)",
    )
    race.add_argument(
        "--train-limit", type=int, help="train on this many images (default: all 55,000)"
    )
    race.add_argument("--json", help="also write every run's times and accuracies here")
    race.set_defaults(run=_cmd_race)

    profile = commands.add_parser(
        "profile",
        help="where one epoch of a fast recipe's training time goes (TensorFlow's profiler)",
    )
    profile.add_argument(
        "--recipe",
        choices=["99", "99.5"],
        default="99",
        help="the fast-training chapter's recipe for 99 %% or for 99.5 %% (default: 99)",
    )
    profile.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    profile.add_argument(
        "--train-limit", type=int, help="train on this many images (default: all 55,000)"
    )
    profile.add_argument("--json", help="also write the profile here")
    profile.set_defaults(run=_cmd_profile)

    study = commands.add_parser(
        "study",
        help="run one of the book's studies (resumable), or list them with --list",
    )
    study.add_argument("name", nargs="?", help="the study to run (see --list)")
    study.add_argument("--list", action="store_true", help="list the studies and their runs")
    study.add_argument(
        "--seeds", type=int, nargs="+", help="train these seeds (default: the study's own)"
    )
    study.add_argument("--arm", action="append", help="only this arm (repeatable; default: all)")
    study.add_argument(
        "--quick",
        action="store_true",
        help="one epoch on 1,000 images per run, seeds 0 and 1, into _build/studies/",
    )
    study.add_argument(
        "--out",
        help="folder of the studies' .jsonl files (default: book/results/studies, or "
        "_build/studies with --quick)",
    )
    study.set_defaults(run=_cmd_study)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .sources import DataError

    try:
        # Building the parser imports Keras (for the architecture names): a BackendError here
        # is reported like any other.
        args = build_parser().parse_args(argv)
        return args.run(args)
    except Exception as err:
        if not _is_library_error(err, DataError):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
