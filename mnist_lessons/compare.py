"""Comparing the five networks, from the book's studies rather than from single runs.

Two questions, two studies:

- **Did each write-up's figure come from its recipe?** A write-up reports one run. Its documented
  recipe, trained here over five seeds (the ``writeups`` study, and the first arms of the
  ``dropout`` and ``third_pooling`` studies for write-ups 001 and 004), gives the range one run
  lands in (`stats.prediction_interval`). `documented_spreads` reads them; `documented_table`
  sets each reported figure against that range.
- **Which network is best when all train the same way?** The ``architectures`` study trains the
  five with one budget (`studies.BUDGET`), within which the validation curves flatten;
  `ArchitectureComparison.late_change` measures how much each still rises at the end.
  `ArchitectureComparison` ranks them by mean test accuracy, tests every pair with the paired
  t-test over seeds (`stats.paired_difference`) and Holm's adjustment for the 10 tests
  (`stats.holm`), and sets the leader against the runner-up image by image with McNemar's
  exact test (`stats.mcnemar`).

Nothing here trains: the chapter reads committed records, and `studies.run_study` re-runs them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .models import REFERENCES
from .stats import (
    Difference,
    Interval,
    holm,
    prediction_interval,
    rounded_range,
    seed_interval,
    where_reported,
)
from .studies import BUDGET, StudyResults, documented_recipe, load_study
from .tables import MarkdownTable, markdown_table

CONVERGED_EPOCHS = 3
"""How many final epochs `ArchitectureComparison.convergence` looks back over."""


def network_name(architecture: str, capital: bool = True) -> str:
    """The network's descriptive name with its write-up's number: "Three convolutions and a
    64-unit dense layer (000)"; with ``capital=False``, as it reads inside a sentence ("three
    convolutions and a 64-unit dense layer (000)")."""
    reference = REFERENCES[architecture]
    title = reference.title if capital else reference.title[0].lower() + reference.title[1:]
    return f"{title} ({reference.write_up})"


NUMBER_WORDS = ("none", "one", "two", "three", "four", "five")


def _count_text(n: int) -> str:
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def _precision(results: StudyResults, arm: str) -> str:
    found = {r["settings"]["precision"] for r in results.records if r["arm"] == arm}
    return ", ".join(sorted(found))


@dataclass(frozen=True)
class DocumentedSpread:
    """One write-up's documented recipe over seeds, against the figure it reported.

    Attributes:
        architecture: the registry key.
        results: the study that trained the recipe.
        arm: the recipe's arm in that study.
    """

    architecture: str
    results: StudyResults
    arm: str

    @property
    def reference(self):
        return REFERENCES[self.architecture]

    @property
    def reported(self) -> float:
        return self.reference.reported_test_accuracy

    @property
    def accuracies(self) -> np.ndarray:
        return self.results.accuracies(self.arm)

    @property
    def interval(self) -> Interval:
        """The mean over seeds with its 95 % t-interval."""
        return seed_interval(self.accuracies)

    @property
    def prediction(self) -> Interval:
        """Where one further run lands, 95 % of the time."""
        return prediction_interval(self.accuracies)

    @property
    def where(self) -> str:
        """ "inside", "above" or "below": the reported figure (with its rounding) against
        `prediction`."""
        return where_reported(self.prediction, self.reported, self.reference.reported_step)

    @property
    def precision(self) -> str:
        return _precision(self.results, self.arm)

    @property
    def seconds(self) -> float:
        """The median seconds of one run."""
        return self.results.median_seconds(self.arm)


def documented_spreads(
    folder: str | os.PathLike | None = None, fetch: Callable[[str], bytes] | None = None
) -> dict[str, DocumentedSpread]:
    """Every write-up's documented recipe over seeds, in write-up order (see
    `studies.documented_recipe`; ``folder`` as in `studies.load_study`)."""
    spreads = {}
    for architecture in REFERENCES:
        kwargs = {"fetch": fetch} if fetch is not None else {}
        results, arm = documented_recipe(architecture, folder, **kwargs)
        spreads[architecture] = DocumentedSpread(architecture, results, arm)
    return spreads


def documented_table(spreads: dict[str, DocumentedSpread]) -> MarkdownTable:
    """Each write-up's recipe, its mean over seeds, the range one run lands in, and where the
    write-up's reported figure falls."""
    rows = []
    for spread in spreads.values():
        reference = spread.reference
        interval, prediction = spread.interval, spread.prediction
        rows.append(
            [
                network_name(spread.architecture),
                f"{reference.optimizer.capitalize()}, {reference.epochs} × {reference.batch_size}",
                len(spread.accuracies),
                f"{interval.estimate:.4f} ({interval.low:.4f} to {interval.high:.4f})",
                f"{prediction.low:.4f} to {prediction.high:.4f}",
                reference.reported_text,
                spread.where,
            ]
        )
    return markdown_table(
        [
            "network (write-up)",
            "optimizer, epochs × batch",
            "seeds",
            "mean test accuracy (95 % interval)",
            "one run lands in (95 %)",
            "reported",
            "reported figure against that range",
        ],
        rows,
        align="llrrrrl",
    )


LAST_PLACE = 0.0001
"""The last decimal place of an accuracy given to four decimals, as the book prints them."""


def _gap_points(spread: DocumentedSpread) -> float:
    """How far, in points, the reported figure (every value it could have been rounded from)
    lies outside the range one run lands in; 0 inside."""
    low, high = rounded_range(spread.reported, spread.reference.reported_step)
    prediction = spread.prediction
    return max(0.0, prediction.low - high, low - prediction.high) * 100


def _truncated_text(spread: DocumentedSpread) -> str:
    """For a figure given in whole percent, whether reading it as truncated (97 % as anything
    up to 97.99 %) rather than rounded would bring it inside the range one run lands in."""
    step = spread.reference.reported_step
    if not step:
        return ""
    top = spread.reported + step - LAST_PLACE
    prediction = spread.prediction
    reaches = prediction.low <= top and spread.reported <= prediction.high
    return f"Even read as truncated, any value up to {top * 100:.2f} %, it would " + (
        "reach the range." if reaches else "still fall outside the range."
    )


def documented_figures(spreads: dict[str, DocumentedSpread]) -> dict[str, object]:
    """The figures the chapter's prose cites about the documented recipes."""
    inside = [s for s in spreads.values() if s.where == "inside"]
    outside = [s for s in spreads.values() if s.where != "inside"]
    # Widths from the four-decimal ends the table prints, so that text and table agree.
    widths = {
        name: (round(s.prediction.high, 4) - round(s.prediction.low, 4)) * 100
        for name, s in spreads.items()
    }
    widest = max(widths, key=widths.get)
    return {
        "documented_inside_count": len(inside),
        "documented_count": len(spreads),
        "documented_outside": "; ".join(
            f"{network_name(s.architecture, capital=False)} reported "
            f"{s.reference.reported_text}, {_gap_points(s):.2f} points {s.where} the nearest end "
            f"of its range ({s.prediction.low:.4f} to {s.prediction.high:.4f})"
            for s in outside
        )
        or "none",
        "documented_truncated": " ".join(_truncated_text(s) for s in outside),
        "documented_widest": network_name(widest, capital=False),
        "documented_widest_points": widths[widest],
        "documented_seeds": min(len(s.accuracies) for s in spreads.values()),
        "documented_precisions": ", ".join(sorted({s.precision for s in spreads.values()})),
    }


def budget_text(settings: dict | None = None) -> str:
    """The architectures study's budget in words."""
    settings = settings or BUDGET
    images = 60_000 - settings["validation_size"]
    steps = settings["epochs"] * -(-images // settings["batch_size"])
    return (
        f"{settings['optimizer'].capitalize()} at a learning rate of "
        f"{settings['learning_rate']:g}, {settings['epochs']} epochs of {images:,} images at "
        f"batch size {settings['batch_size']} ({steps:,} steps)"
    )


@dataclass(frozen=True)
class Pair:
    """Two networks of the architectures study, the one with the higher mean first.

    Attributes:
        higher, lower: the arms, by mean test accuracy.
        difference: ``higher − lower``, paired over seeds (`stats.paired_difference`).
        adjusted_p: the paired t-test's p-value after Holm's adjustment for every pair tested
            (`stats.holm`).
    """

    higher: str
    lower: str
    difference: Difference
    adjusted_p: float

    @property
    def detected(self) -> bool:
        """Whether the pair differs once every pair tested is taken into account."""
        return self.adjusted_p < 1 - self.difference.confidence


@dataclass(frozen=True)
class ArchitectureComparison:
    """The ``architectures`` study, read: ranking, every pair tested, convergence.

    Every pair of networks is compared (10 pairs for five networks), not each against the one
    that happened to score best: the best mean is picked after seeing the data, and testing only
    against it would favour it. With 10 tests, Holm's adjustment keeps the chance of any false
    finding at 5 %.

    Attributes:
        results: the study's records.
    """

    results: StudyResults

    @cached_property
    def ranking(self) -> list[str]:
        """The arms by mean test accuracy, best first."""
        names = self.results.arm_names()
        return sorted(names, key=lambda n: -float(np.mean(self.results.accuracies(n))))

    @property
    def leader(self) -> str:
        return self.ranking[0]

    @property
    def runner_up(self) -> str:
        return self.ranking[1]

    @cached_property
    def pairs(self) -> list[Pair]:
        """Every pair of arms, paired over seeds, with Holm-adjusted p-values."""
        names = self.ranking
        found = [
            (a, b, self.results.difference(a, b))
            for i, a in enumerate(names)
            for b in names[i + 1 :]
        ]
        adjusted = holm([d.p_value for _, _, d in found]) if found else []
        return [Pair(a, b, d, float(p)) for (a, b, d), p in zip(found, adjusted, strict=True)]

    def pair(self, first: str, second: str) -> Pair:
        for pair in self.pairs:
            if {pair.higher, pair.lower} == {first, second}:
                return pair
        raise KeyError(f"No pair of {first!r} and {second!r} in the study")

    @property
    def top_group(self) -> list[str]:
        """The leader and every network the adjusted tests cannot tell from it."""
        return [self.leader] + [
            name for name in self.ranking[1:] if not self.pair(self.leader, name).detected
        ]

    def mcnemar(self, seed: int | None = None) -> Difference:
        """The leader against the runner-up on the test images, for one seed (the first)."""
        seed = self.results.common_seeds(self.leader, self.runner_up)[0] if seed is None else seed
        return self.results.mcnemar(self.leader, self.runner_up, seed)

    def _curves(self, name: str) -> np.ndarray:
        """``name``'s validation accuracy per epoch, one row per seed."""
        runs = [r["history"]["val_accuracy"] for r in self.results.records if r["arm"] == name]
        epochs = min(len(c) for c in runs)
        return np.array([c[:epochs] for c in runs])

    def early_change(self, name: str, first: int = CONVERGED_EPOCHS) -> float:
        """How much ``name``'s mean validation accuracy rose from its first epoch to epoch
        ``first + 1``, in points: the climb that the late change is set against."""
        curves = self._curves(name)
        return float(np.mean(curves[:, first] - curves[:, 0]) * 100)

    def late_change(self, name: str, last: int = CONVERGED_EPOCHS) -> Interval:
        """How much ``name``'s validation accuracy still rose at the end, in points: the mean
        of its final ``last`` epochs minus the mean of the ``last`` epochs before them, per
        seed; the mean over seeds with its 95 % interval. Averaging blocks of epochs steadies
        a reading that single epochs make noisy. Near zero where the curve has flattened."""
        return seed_interval(self._late_changes(name, last) * 100)

    def _late_changes(self, name: str, last: int) -> np.ndarray:
        """Per seed: the mean of ``name``'s last ``last`` epochs minus that of the ones before."""
        curves = self._curves(name)
        return curves[:, -last:].mean(axis=1) - curves[:, -2 * last : -last].mean(axis=1)

    def rising_runs(self, last: int = CONVERGED_EPOCHS) -> tuple[int, int]:
        """How many runs, of all, still rose at the end (see `late_change`)."""
        changes = np.concatenate([self._late_changes(name, last) for name in self.ranking])
        return int(np.sum(changes > 0)), len(changes)

    def convergence_table(self) -> MarkdownTable:
        """Each network's rise over its first epochs and over its last ones."""
        n = CONVERGED_EPOCHS
        rows = []
        for name in self.ranking:
            change = self.late_change(name)
            rows.append(
                [
                    network_name(name),
                    f"{self.early_change(name):+.2f}",
                    f"{change.estimate:+.2f}",
                    f"{change.low:+.2f} to {change.high:+.2f}",
                ]
            )
        return markdown_table(
            [
                "network (write-up)",
                f"rise from epoch 1 to {n + 1} (points)",
                "rise of epochs 8 to 10 over 5 to 7 (points)"
                if n == 3
                else f"rise of the last {n} epochs over the {n} before (points)",
                "95 % interval",
            ],
            rows,
            align="lrrr",
        )

    @cached_property
    def sizes(self) -> dict[str, tuple[int, int]]:
        """Each network's parameters and the operations (multiply-adds × 2) of one image's
        forward pass, counted from the built model."""
        from .bench import forward_flops
        from .models import build_model

        sizes = {}
        for name in self.ranking:
            model = build_model(name, "float32")
            sizes[name] = (model.count_params(), forward_flops(model))
        return sizes

    def cost_table(self) -> MarkdownTable:
        """Parameters, operations per image and seconds per run."""
        rows = []
        for name in self.ranking:
            params, flops = self.sizes[name]
            rows.append(
                [
                    network_name(name),
                    f"{params:,}",
                    f"{flops / 1e6:.1f}",
                    f"{self.results.median_seconds(name):.0f}",
                ]
            )
        return markdown_table(
            [
                "network (write-up)",
                "parameters",
                "million operations per image",
                "seconds per run (median)",
            ],
            rows,
            align="lrrr",
        )

    def table(self) -> MarkdownTable:
        """Each arm's mean test accuracy and its 95 % interval over seeds, best first."""
        rows = []
        for name in self.ranking:
            interval = self.results.interval(name)
            rows.append(
                [
                    network_name(name),
                    f"{interval.estimate:.4f}",
                    f"{interval.low:.4f} to {interval.high:.4f}",
                ]
            )
        return markdown_table(
            ["network (write-up)", "mean test accuracy", "95 % interval"], rows, align="lrr"
        )

    def pairs_table(self) -> MarkdownTable:
        """Every pair: the difference with its interval, the p-value before and after Holm's
        adjustment, and whether the pair is told apart."""
        from .stats import p_text, points_text

        rows = []
        for pair in self.pairs:
            d = pair.difference
            rows.append(
                [
                    REFERENCES[pair.higher].title,
                    REFERENCES[pair.lower].title,
                    points_text(d.points),
                    f"{points_text(d.low)} to {points_text(d.high)}",
                    p_text(d.p_value).removeprefix("p ").removeprefix("= "),
                    p_text(pair.adjusted_p).removeprefix("p ").removeprefix("= "),
                    "yes" if pair.detected else "no",
                ]
            )
        return markdown_table(
            [
                "higher mean",
                "lower mean",
                "difference (points)",
                "95 % interval, unadjusted",
                "p (paired t-test)",
                f"p, adjusted for {len(self.pairs)} tests",
                "told apart",
            ],
            rows,
            align="llrrrrl",
        )

    def figures(self) -> dict[str, object]:
        """The figures the chapter's prose cites about the equal budget. Names inside a
        sentence are in lower case (`network_name`)."""
        results = self.results

        def name(arm: str) -> str:
            return network_name(arm, capital=False)

        leader = results.interval(self.leader)
        late = {n: self.late_change(n) for n in self.ranking}
        latest = max(late, key=lambda n: late[n].estimate)
        detected = [p for p in self.pairs if p.detected]
        unadjusted = [p for p in self.pairs if p.difference.detected]
        runner_up = self.pair(self.leader, self.runner_up)
        mcnemar = self.mcnemar()
        only_leader, only_runner_up = mcnemar.counts
        rising, runs = self.rising_runs()
        settings = results.study.arm(self.leader).settings
        machines = sorted({r["provenance"]["processor"] for r in results.records})
        return {
            "arch_budget": budget_text(settings),
            "arch_seeds": len(results.seeds(self.leader)),
            "arch_leader": name(self.leader),
            "arch_leader_accuracy": leader.estimate,
            "arch_leader_low": leader.low,
            "arch_leader_high": leader.high,
            "arch_runner_up": name(self.runner_up),
            "arch_runner_up_points": runner_up.difference.points,
            "arch_runner_up_p": runner_up.difference.p_value,
            "arch_runner_up_adjusted_p": runner_up.adjusted_p,
            "arch_runner_up_adjusted": "tells the two apart"
            if runner_up.detected
            else "cannot tell the two apart",
            "arch_last": name(self.ranking[-1]),
            "arch_pairs": len(self.pairs),
            "arch_detected_unadjusted": len(unadjusted),
            "arch_detected": len(detected),
            "arch_detected_pairs": "; ".join(
                f"{name(p.higher)} over {name(p.lower)}" for p in detected
            )
            or "no pair",
            "arch_top_count": len(self.top_group),
            "arch_top_count_text": _count_text(len(self.top_group)),
            "arch_top_group": "; ".join(name(n) for n in self.top_group),
            "arch_leader_unadjusted": _count_text(
                sum(1 for n in self.ranking[1:] if self.pair(self.leader, n).difference.detected)
            ),
            "arch_leader_adjusted": _count_text(
                sum(1 for n in self.ranking[1:] if self.pair(self.leader, n).detected)
            ),
            "arch_mcnemar_p": mcnemar.p_value,
            "arch_mcnemar_disagree": mcnemar.n,
            "arch_mcnemar_only_leader": only_leader,
            "arch_mcnemar_only_runner_up": only_runner_up,
            "arch_late_network": name(latest),
            "arch_late_change": late[latest].estimate,
            "arch_late_low": late[latest].low,
            "arch_late_high": late[latest].high,
            "arch_late_detected": _count_text(
                sum(1 for i in late.values() if i.low > 0 or i.high < 0)
            ),
            "arch_rising_runs": rising,
            "arch_runs": runs,
            "arch_early_change_min": min(self.early_change(n) for n in self.ranking),
            "arch_minutes": results.compute_seconds() / 60,
            "arch_machine": ", ".join(machines),
            "arch_most_params": name(max(self.sizes, key=lambda n: self.sizes[n][0])),
            "arch_most_flops": name(max(self.sizes, key=lambda n: self.sizes[n][1])),
            "arch_most_flops_millions": max(f for _, f in self.sizes.values()) / 1e6,
            "arch_slowest": name(max(self.ranking, key=results.median_seconds)),
            "arch_precision": ", ".join(sorted({_precision(results, n) for n in self.ranking})),
        }


def architecture_comparison(
    folder: str | os.PathLike | None = None, fetch: Callable[[str], bytes] | None = None
) -> ArchitectureComparison:
    """The ``architectures`` study's records (``folder`` as in `studies.load_study`), read."""
    kwargs = {"fetch": fetch} if fetch is not None else {}
    return ArchitectureComparison(load_study("architectures", folder, **kwargs))
