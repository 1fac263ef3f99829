"""Command line: ``python -m mnist_lessons {data,train,predict,bench} --help``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _integer_at_least(minimum: int, description: str):
    """An argparse type: an integer no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be a {description} integer, got {text!r}")
        return value

    return parse


_positive = _integer_at_least(1, "positive")
_non_negative = _integer_at_least(0, "non-negative")


def _cmd_data(args) -> int:
    from .data import last_load_report, load_mnist

    (x_train, _), (x_test, _) = load_mnist(data_home=args.data_home)
    report = last_load_report()
    print(f"MNIST verified: {len(x_train):,} training and {len(x_test):,} test images")
    print(f"source: {report.source} ({report.location})")
    for line in report.tried:
        print(f"  tried first: {line}")
    return 0


def _cmd_train(args) -> int:
    from .data import prepare_data
    from .evaluate import evaluate_model
    from .models import REFERENCES, default_precision, precision_of
    from .train import save_history, set_seed, train

    reference = REFERENCES[args.arch]
    epochs = args.epochs or reference.epochs
    batch_size = args.batch_size or reference.batch_size
    set_seed(args.seed)
    data = prepare_data(
        train_limit=args.train_limit, validation_size=args.validation_size, seed=args.seed
    )
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
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
    import keras

    from .predict import ImageError, predict_digits

    if not Path(args.model).is_file():
        print(
            f"error: no model file at {args.model}; train one with "
            "`python -m mnist_lessons train --output DIR`",
            file=sys.stderr,
        )
        return 2
    model = keras.models.load_model(args.model)
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
    from .bench import HEADER, run_benchmark, write_json
    from .data import prepare_data
    from .models import default_precision

    data = prepare_data(validation_size=0, train_limit=args.train_limit, seed=0)
    print(
        f"Training throughput on {len(data.x_train):,} images, median of {args.epochs - 1} "
        "timed epoch(s) after one warm-up epoch"
    )
    print(f"library path in {default_precision()}; bare fit in float32")
    print(HEADER)
    records = run_benchmark(data, architectures=args.arch, epochs=args.epochs)
    print(f"matrix-product rate: {records[0]['matmul_gflops']:.0f} GFLOP/s (4096² float32)")
    if args.json:
        print(f"wrote {write_json(records, args.json)}")
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
    train.add_argument(
        "--epochs", type=_positive, help="epochs (default: the write-up's documented number)"
    )
    train.add_argument(
        "--batch-size", type=_positive, help="batch size (default: the documented one)"
    )
    train.add_argument(
        "--train-limit",
        type=_positive,
        help="train on this many images, balanced across digits (default: all)",
    )
    train.add_argument(
        "--validation-size",
        type=_non_negative,
        default=5000,
        help="images held out of training for validation (default: 5000)",
    )
    train.add_argument("--seed", type=_non_negative, default=0, help="random seed (default: 0)")
    train.add_argument(
        "--precision",
        choices=list(PRECISIONS),
        help="arithmetic precision (default: mixed_bfloat16 on CPUs with bfloat16 "
        "instructions and no GPU, else float32)",
    )
    train.add_argument(
        "--output",
        default="runs/latest",
        help="folder for the model, history and checkpoint; an interrupted run "
        "resumes from it (default: runs/latest)",
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
        type=_positive,
        default=3,
        help="epochs per path, the first one warm-up (default: 3)",
    )
    bench.add_argument(
        "--train-limit", type=_positive, help="images per epoch (default: all 60,000)"
    )
    bench.add_argument("--json", help="also write the records to this JSON file")
    bench.set_defaults(run=_cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .data import DataError

    try:
        return args.run(args)
    except (DataError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
