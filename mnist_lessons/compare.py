"""Comparing the five networks, from the book's studies rather than from single runs.

Two questions, two studies:

- **Did each write-up's figure come from its recipe?** A write-up reports one run. Its documented
  recipe, trained here over five seeds (the ``writeups`` study, and the first arms of the
  ``dropout`` and ``third_pooling`` studies for write-ups 001 and 004), gives the range one run
  lands in (`stats.prediction_interval`). `documented_spreads` reads them; `documented_table`
  sets each reported figure against that range.
- **Which network is best when all train the same way?** The ``architectures`` study trains the
  five with one budget (`studies.BUDGET`) long enough for every validation curve to flatten.
  `ArchitectureComparison` ranks them by mean test accuracy and sets each against the leader
  with the paired t-test over seeds (`stats.paired_difference`), and the leader against the
  runner-up image by image with McNemar's exact test (`stats.mcnemar`).

Nothing here trains: the chapter reads committed records, and `studies.run_study` re-runs them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .models import REFERENCES
from .stats import Difference, Interval, prediction_interval, seed_interval
from .studies import BUDGET, StudyResults, documented_recipe, load_study
from .tables import MarkdownTable, markdown_table

CONVERGED_EPOCHS = 3
"""How many final epochs `ArchitectureComparison.convergence` looks back over."""


def network_name(architecture: str) -> str:
    """The network's descriptive name with its write-up's number: "Three convolutions and a
    64-unit dense layer (000)"."""
    reference = REFERENCES[architecture]
    return f"{reference.title} ({reference.write_up})"


def _precision(results: StudyResults, arm: str) -> str:
    found = {r["settings"]["precision"] for r in results.records if r["arm"] == arm}
    return ", ".join(sorted(found))


def _median_seconds(results: StudyResults, arm: str) -> float:
    return float(np.median(results.seconds(arm)))


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
        """ "inside", "above" or "below": the reported figure against `prediction`."""
        prediction = self.prediction
        if prediction.contains(self.reported):
            return "inside"
        return "above" if self.reported > prediction.high else "below"

    @property
    def precision(self) -> str:
        return _precision(self.results, self.arm)

    @property
    def seconds(self) -> float:
        """The median seconds of one run."""
        return _median_seconds(self.results, self.arm)


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


def _reported_text(reported: float) -> str:
    """A reported accuracy as the write-up gave it: a figure in whole percent (write-up 002's
    "around 97 %") is a rounded one, and says so."""
    if round(reported * 100, 6) == round(reported * 100):
        return f"about {reported * 100:.0f} % (rounded)"
    return f"{reported:.4f}"


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
                _reported_text(spread.reported),
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
            "reported figure",
        ],
        rows,
        align="llrrrrl",
    )


def documented_figures(spreads: dict[str, DocumentedSpread]) -> dict[str, object]:
    """The figures the chapter's prose cites about the documented recipes."""
    inside = [s for s in spreads.values() if s.where == "inside"]
    outside = [s for s in spreads.values() if s.where != "inside"]
    widths = {name: s.prediction.high - s.prediction.low for name, s in spreads.items()}
    widest = max(widths, key=widths.get)
    return {
        "documented_inside_count": len(inside),
        "documented_count": len(spreads),
        "documented_outside": "; ".join(
            f"{network_name(s.architecture)} reported {s.reported:.4f}, {s.where} its range "
            f"({s.prediction.low:.4f} to {s.prediction.high:.4f})"
            for s in outside
        )
        or "none",
        "documented_widest": network_name(widest),
        "documented_widest_points": widths[widest] * 100,
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
class ArchitectureComparison:
    """The ``architectures`` study, read: ranking, differences from the leader, convergence.

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
    def against_leader(self) -> dict[str, Difference]:
        """Each other arm minus the leader, paired over seeds."""
        return {name: self.results.difference(name, self.leader) for name in self.ranking[1:]}

    @property
    def not_distinguished_from_leader(self) -> list[str]:
        """The arms the study cannot tell from the leader (the leader first)."""
        return [self.leader] + [n for n, d in self.against_leader.items() if not d.detected]

    def mcnemar(self, seed: int | None = None) -> Difference:
        """The leader against the runner-up on the test images, for one seed (the first)."""
        seed = self.results.common_seeds(self.leader, self.runner_up)[0] if seed is None else seed
        return self.results.mcnemar(self.leader, self.runner_up, seed)

    def convergence(self, last: int = CONVERGED_EPOCHS) -> dict[str, float]:
        """Each arm's mean change in validation accuracy over its final ``last`` epochs, in
        points: near zero where the curve has flattened."""
        changes = {}
        for name in self.ranking:
            runs = [r["history"]["val_accuracy"] for r in self.results.records if r["arm"] == name]
            changes[name] = float(np.mean([(c[-1] - c[-1 - last]) * 100 for c in runs]))
        return changes

    def cost_table(self) -> MarkdownTable:
        """Parameters, seconds per run and the last epochs' change in validation accuracy."""
        from .models import build_model

        convergence = self.convergence()
        rows = []
        for name in self.ranking:
            params = build_model(name, "float32").count_params()
            rows.append(
                [
                    network_name(name),
                    f"{params:,}",
                    f"{_median_seconds(self.results, name):.0f}",
                    f"{convergence[name]:+.2f}",
                ]
            )
        return markdown_table(
            [
                "network (write-up)",
                "parameters",
                "seconds per run (median)",
                f"validation change over the last {CONVERGED_EPOCHS} epochs (points, mean)",
            ],
            rows,
            align="lrrr",
        )

    def table(self) -> MarkdownTable:
        """Each arm's mean and interval, and its paired difference from the leader."""
        return self.results.table(reference=self.leader, arms=self.ranking)

    def figures(self) -> dict[str, object]:
        """The figures the chapter's prose cites about the equal budget."""
        results = self.results
        intervals = {n: results.interval(n) for n in self.ranking}
        spread = {n: float(np.std(results.accuracies(n), ddof=1)) * 100 for n in self.ranking}
        widest = max(spread, key=spread.get)
        convergence = self.convergence()
        undistinguished = self.not_distinguished_from_leader
        mcnemar = self.mcnemar()
        settings = results.study.arm(self.leader).settings
        return {
            "arch_budget": budget_text(settings),
            "arch_seeds": len(results.seeds(self.leader)),
            "arch_leader": network_name(self.leader),
            "arch_leader_accuracy": intervals[self.leader].estimate,
            "arch_leader_low": intervals[self.leader].low,
            "arch_leader_high": intervals[self.leader].high,
            "arch_runner_up": network_name(self.runner_up),
            "arch_runner_up_sentence": self.against_leader[self.runner_up].sentence(),
            "arch_last": network_name(self.ranking[-1]),
            "arch_last_sentence": self.against_leader[self.ranking[-1]].sentence(),
            "arch_not_distinguished_count": len(undistinguished),
            "arch_not_distinguished": "; ".join(network_name(n) for n in undistinguished),
            "arch_tests": len(self.against_leader),
            "arch_mcnemar_sentence": mcnemar.sentence(),
            "arch_mcnemar_disagree": mcnemar.n,
            "arch_widest_spread": spread[widest],
            "arch_widest_spread_network": network_name(widest),
            "arch_largest_late_change": max(abs(v) for v in convergence.values()),
            "arch_minutes": results.compute_seconds() / 60,
            "arch_precision": ", ".join(sorted({_precision(results, n) for n in self.ranking})),
        }


def architecture_comparison(
    folder: str | os.PathLike | None = None, fetch: Callable[[str], bytes] | None = None
) -> ArchitectureComparison:
    """The ``architectures`` study's records (``folder`` as in `studies.load_study`), read."""
    kwargs = {"fetch": fetch} if fetch is not None else {}
    return ArchitectureComparison(load_study("architectures", folder, **kwargs))
