"""Studies: run at quick settings end to end, resumed, refused, and read back for the chapters."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnist_lessons import studies
from mnist_lessons.checks import ParameterError
from mnist_lessons.models import PRECISIONS
from mnist_lessons.stats import p_text, points_text, seed_interval
from mnist_lessons.studies import (
    COMMITTED_DIR,
    STUDY_NAMES,
    Outcome,
    StudyError,
    StudyResults,
    all_studies,
    append_record,
    get_study,
    load_study,
    pack_correct,
    read_records,
    run_study,
    study_file,
    unpack_correct,
)

ROOT = Path(__file__).resolve().parent.parent
PROVENANCE = {
    "library_version",
    "git_commit",
    "git_dirty",
    "keras_backend",
    "versions",
    "precision",
    "device",
    "processor",
    "cpus",
    "matmul_gflops",
    "date",
}


def fake_trainer(calls: list):
    """A trainer that records its calls and returns a deterministic outcome per arm and seed,
    so that resuming can be tested without training."""

    def train(arm, settings, seed, callbacks):
        calls.append((arm.name, seed))
        rng = np.random.default_rng([seed, len(arm.name)])
        correct = rng.random(10_000) < 0.99
        for callback in callbacks:
            callback.on_epoch_end(0, {})
        extra = {}
        if settings.get("test_shifts"):  # the same networks scored without the shifts
            plain = correct & (rng.random(10_000) < 0.999)
            extra["unshifted"] = {
                "test_accuracy": float(plain.mean()),
                "test_correct": pack_correct(plain),
            }
        return Outcome(
            float(correct.mean()),
            0.05,
            correct,
            1.0 + seed,
            settings["precision"],
            {"val_accuracy": [0.98]},
            extra,
        )

    return train


@pytest.fixture
def fake_training(monkeypatch):
    calls: list = []
    trainer = fake_trainer(calls)
    monkeypatch.setattr(studies, "TRAINERS", dict.fromkeys(studies.TRAINERS, trainer))
    return calls


def strip_run(record: dict) -> dict:
    """A record without what differs between two runs of the same thing: its provenance."""
    return {k: v for k, v in record.items() if k != "provenance"}


def test_the_registry_holds_the_studies_the_book_reads():
    assert [s.name for s in all_studies()] == list(STUDY_NAMES)
    for study in all_studies():
        # best_network compares nothing: it keeps one recipe's answers over ten seeds.
        assert len(study.arms) >= (1 if study.name == "best_network" else 2)
        assert len({a.name for a in study.arms}) == len(study.arms)
        fast = study.name.startswith("fast_")
        assert len(study.seeds) >= (10 if fast else 5)
        kinds = {a.kind for a in study.arms}
        assert len(kinds) == 1 and kinds <= set(studies.TRAINERS)
        # Every arm of a study trains with the same budget: only the recipe differs. The
        # write-ups keep their own documented budgets; the adversarial study sets the whole
        # 99.5 % recipe, budget included, beside the 99 % recipe's variants.
        budgets = {(a.settings["epochs"], a.settings["batch_size"]) for a in study.arms}
        assert len(budgets) == 1 or study.name in ("writeups", "adversarial")
    with pytest.raises(StudyError, match="Unknown study 'nope'. Choose one of: writeups"):
        get_study("nope")


def test_every_write_up_s_documented_recipe_is_an_arm_of_exactly_one_study():
    from mnist_lessons.models import REFERENCES

    writeups = get_study("writeups")
    for name in REFERENCES:
        if name in studies.DOCUMENTED_ELSEWHERE:
            study, arm = studies.DOCUMENTED_ELSEWHERE[name]
            assert name not in [a.name for a in writeups.arms]
            found = get_study(study).arm(arm)
            assert found.settings == studies._writeup_arm(name, "", name).settings
            assert get_study(study).arms[0].name == arm
        else:
            assert writeups.arm(name).settings == studies._writeup_arm(name, "", name).settings
    with pytest.raises(StudyError, match="Unknown write-up 'nope'"):
        studies.documented_recipe("nope")


def test_the_documented_recipe_of_001_is_read_from_the_dropout_study():
    results, arm = studies.documented_recipe("two_conv_dropout")
    assert (results.study.name, arm) == ("dropout", "dropout")
    assert len(results.seeds(arm)) == 5


def test_the_correct_answers_pack_into_base64_and_back():
    correct = np.random.default_rng(0).random(10_000) < 0.99
    text = pack_correct(correct)
    assert len(text) == 1668
    np.testing.assert_array_equal(unpack_correct(text, 10_000), correct)


def test_a_stopped_study_restarts_where_it_stopped_and_trains_nothing_twice(
    tmp_path, fake_training, monkeypatch
):
    whole = run_study("dropout", quick=True, out=tmp_path / "whole", measure_rate=False)
    assert (
        [(r["arm"], r["seed"]) for r in whole]
        == fake_training
        == [
            ("dropout", 0),
            ("no_dropout", 0),
            ("dropout", 1),
            ("no_dropout", 1),
        ]
    )
    fake_training.clear()

    # Stopped during its third run: the two finished runs are on disk, the third is not.
    real = studies.TRAINERS["writeup"]

    def stopping(arm, settings, seed, callbacks):
        if len(fake_training) == 2:
            raise KeyboardInterrupt
        return real(arm, settings, seed, callbacks)

    monkeypatch.setitem(studies.TRAINERS, "writeup", stopping)
    with pytest.raises(KeyboardInterrupt):
        run_study("dropout", quick=True, out=tmp_path / "stopped", measure_rate=False)
    path = study_file(tmp_path / "stopped", "dropout")
    assert len(path.read_text().splitlines()) == 2

    monkeypatch.setitem(studies.TRAINERS, "writeup", real)
    fake_training.clear()
    resumed = run_study("dropout", quick=True, out=tmp_path / "stopped", measure_rate=False)
    assert fake_training == [("dropout", 1), ("no_dropout", 1)]  # only what was missing
    assert [strip_run(r) for r in resumed] == [strip_run(r) for r in whole]
    fake_training.clear()
    again = run_study("dropout", quick=True, out=tmp_path / "stopped", measure_rate=False)
    assert fake_training == [] and len(again) == 4


def test_a_record_holds_what_it_takes_to_trust_and_pair_it(tmp_path, fake_training):
    stream = io.StringIO()
    (record, *_) = run_study(
        "third_pooling", quick=True, seeds=[3], out=tmp_path, stream=stream, measure_rate=False
    )
    assert record["study"] == "third_pooling" and record["arm"] == "three_pool"
    assert record["seed"] == 3 and record["settings"]["quick"] is True
    assert record["settings"]["epochs"] == 1 and record["settings"]["train_limit"] == 1000
    assert record["settings"]["precision"] in PRECISIONS
    assert set(record["provenance"]) == PROVENANCE
    assert record["provenance"]["precision"] == record["settings"]["precision"]
    correct = unpack_correct(record["test_correct"], record["test_images"])
    assert correct.mean() == pytest.approx(record["test_accuracy"])
    # The progress bar: runs done, the current run and its epoch, the time left.
    lines = stream.getvalue().splitlines()
    assert "third_pooling [----------" in lines[0] and "0/2 runs" in lines[0]
    assert "three pooling layers, seed 3, epoch 1/1" in stream.getvalue()
    assert lines[-1].startswith("third_pooling [####################] 2/2 runs")
    assert lines[-1].endswith("about 0 s left")


def test_a_quick_run_writes_outside_the_committed_records(monkeypatch, tmp_path, fake_training):
    monkeypatch.setattr(studies, "QUICK_DIR", tmp_path / "quick")
    before = {p: p.read_bytes() for p in COMMITTED_DIR.glob("*")} if COMMITTED_DIR.exists() else {}
    run_study("third_pooling", quick=True, seeds=[0], measure_rate=False)
    assert study_file(tmp_path / "quick", "third_pooling").is_file()
    after = {p: p.read_bytes() for p in COMMITTED_DIR.glob("*")} if COMMITTED_DIR.exists() else {}
    assert after == before


def test_records_made_with_other_settings_are_refused_before_anything_trains(
    tmp_path, fake_training
):
    run_study("dropout", quick=True, seeds=[0], out=tmp_path, measure_rate=False)
    path = study_file(tmp_path, "dropout")
    fake_training.clear()
    with pytest.raises(StudyError) as refused:
        run_study("dropout", seeds=[0], out=tmp_path, measure_rate=False)
    message = str(refused.value)
    assert str(path) in message and "line 1" in message
    assert "epochs=1" in message and "epochs=10" in message and "quick=True" in message
    assert "choose another folder (--out), or move that file away" in message
    assert fake_training == []

    # Another machine's default precision is another setting too.
    other = next(
        p
        for p in PRECISIONS
        if p != json.loads(path.read_text().splitlines()[0])["settings"]["precision"]
    )
    with pytest.raises(StudyError, match=f"precision='{other}'"):
        read_records(path, get_study("dropout"), quick=True, precision=other)


def test_a_truncated_record_is_refused_with_its_line(tmp_path, fake_training):
    run_study("dropout", quick=True, seeds=[0], out=tmp_path, measure_rate=False)
    path = study_file(tmp_path, "dropout")
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n" + lines[1][:200] + "\n")
    with pytest.raises(StudyError) as refused:
        load_study("dropout", tmp_path)
    assert str(refused.value) == (
        f"{path}, line 2, is not a whole study record (a write that was cut off?). Remove that "
        "line to train its run again."
    )


def test_another_studys_record_is_refused(tmp_path, fake_training):
    run_study("third_pooling", quick=True, seeds=[0], out=tmp_path, measure_rate=False)
    stray = study_file(tmp_path, "third_pooling").read_text().splitlines()[0]
    path = study_file(tmp_path, "dropout")
    path.write_text(stray + "\n")
    with pytest.raises(StudyError, match="holds a record of study 'third_pooling', not of"):
        load_study("dropout", tmp_path)


def test_a_run_recorded_twice_is_refused(tmp_path, fake_training):
    (first, *_) = run_study("dropout", quick=True, seeds=[0], out=tmp_path, measure_rate=False)
    append_record(study_file(tmp_path, "dropout"), first)
    with pytest.raises(StudyError, match="records arm 'dropout' seed 0 a second time"):
        load_study("dropout", tmp_path)


def test_bad_seeds_and_arms_are_refused(tmp_path, fake_training):
    with pytest.raises(ParameterError, match="seeds must be one or more whole numbers"):
        run_study("dropout", seeds=[-1], out=tmp_path)
    with pytest.raises(ParameterError, match="seeds must not repeat"):
        run_study("dropout", seeds=[1, 1], out=tmp_path)
    with pytest.raises(StudyError, match="has no arm 'big'. Its arms: dropout, no_dropout"):
        run_study("dropout", arms=["big"], out=tmp_path)
    assert fake_training == []


def test_an_append_is_all_or_nothing(tmp_path, monkeypatch):
    """A write that fails before its rename (a full disk, a kill) leaves the file as it was and
    no temporary file behind."""
    from mnist_lessons import sources

    path = tmp_path / "s.jsonl"
    append_record(path, {"a": 1})

    def broken(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(sources.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        append_record(path, {"a": 2})
    assert path.read_text() == '{"a":1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["s.jsonl"]


def test_a_diverged_run_is_written_as_strict_json(tmp_path):
    path = append_record(tmp_path / "s.jsonl", {"loss": float("nan"), "h": [1.0, float("inf")]})
    assert path.read_text() == '{"h":[1.0,null],"loss":null}\n'


def test_a_missing_study_is_an_error_that_says_how_to_run_it(tmp_path):
    with pytest.raises(StudyError) as missing:
        load_study("dropout", tmp_path)
    assert str(missing.value) == (
        f"Study 'dropout' has no records in {tmp_path}: run it with python -m mnist_lessons "
        f"study dropout --out {tmp_path}"
    )


def test_two_processes_never_run_into_one_file(tmp_path, fake_training):
    import fcntl

    lock = study_file(tmp_path, "dropout").with_suffix(".jsonl.lock")
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another process, running it
        with pytest.raises(StudyError, match="Another process is running this study into"):
            run_study("dropout", quick=True, seeds=[0], out=tmp_path, measure_rate=False)
    assert fake_training == []
    run_study("dropout", quick=True, seeds=[0], out=tmp_path, measure_rate=False)
    assert not lock.exists() and len(fake_training) == 2


def test_quick_and_full_records_in_one_file_are_refused_when_read(tmp_path, fake_training):
    run_study("dropout", quick=True, seeds=[0], out=tmp_path, measure_rate=False)
    path = study_file(tmp_path, "dropout")
    record = json.loads(path.read_text().splitlines()[0])
    full = get_study("dropout").arm("dropout").resolved(False, record["settings"]["precision"])
    append_record(path, {**record, "seed": 5, "settings": full})
    with pytest.raises(StudyError, match="line 3, a run of arm 'dropout' \\(seed 5\\) was made"):
        load_study("dropout", tmp_path)


def test_an_arm_with_its_own_precision_keeps_it_on_every_machine(tmp_path, fake_training):
    """The 99 % recipe fixes float32; the 99.5 % recipe takes the machine's default."""
    for precision in PRECISIONS:
        fast_99 = get_study("fast_99").arm("full").resolved(False, precision)
        fast_995 = get_study("fast_995").arm("full").resolved(False, precision)
        assert fast_99["precision"] == "float32" and fast_995["precision"] == precision


def test_the_time_left_prefers_this_sessions_runs_arm_by_arm():
    progress = studies.Progress(get_study("dropout"), 4, 0, io.StringIO())
    progress.remaining = {"dropout": 2, "no_dropout": 2}
    assert progress.left() == "time left: estimated after the first run"
    progress.seconds = {"dropout": [100.0, 100.0]}  # the file's earlier runs
    assert progress.left() == "about 7 min left"  # 4 × 100 s, the other arm taking the same
    progress.finish(get_study("dropout").arm("dropout"), 40.0)  # this session: faster
    assert progress.remaining == {"dropout": 1, "no_dropout": 2}
    assert progress.left() == "about 2 min left"  # 40 + 2 × 40


def test_the_results_give_intervals_paired_tests_and_derived_arms(tmp_path, fake_training):
    run_study("fast_995", quick=True, seeds=[0, 1, 2], out=tmp_path, measure_rate=False)
    results = load_study("fast_995", tmp_path)
    assert results.arm_names() == ["full", "no_augmentation", "no_test_shifts"]
    assert results.label("no_test_shifts") == "without test-time shifts"
    shifted, plain = results.accuracies("full"), results.accuracies("no_test_shifts")
    assert np.all(plain <= shifted) and np.any(plain < shifted)
    assert results.correct("no_test_shifts", 0).mean() == pytest.approx(plain[0])
    interval = results.interval("full")
    assert interval.n == 3 and interval.low <= interval.estimate <= interval.high
    difference = results.difference("full", "no_augmentation")
    assert difference.n == 3 and difference.test == "paired t-test"
    assert results.mcnemar("full", "no_augmentation", 0).test == "McNemar's exact test"
    with pytest.raises(StudyError, match="holds no run of arm 'full' with seed 7"):
        results.correct("full", 7)
    assert results.compute_seconds() == pytest.approx(2 * (1 + 2 + 3))


@pytest.mark.slow
@pytest.mark.parametrize("name", STUDY_NAMES)
def test_every_study_runs_end_to_end_at_quick_settings(name, tmp_path):
    """Each arm trains one quick run through the real trainer and is read back."""
    records = run_study(name, quick=True, seeds=[0], out=tmp_path, measure_rate=False)
    study = get_study(name)
    assert [r["arm"] for r in records] == [a.name for a in study.arms]
    for record in records:
        assert 0.1 < record["test_accuracy"] <= 1 and record["seconds"] > 0
        assert record["test_images"] == 10_000
        assert unpack_correct(record["test_correct"], 10_000).mean() == pytest.approx(
            record["test_accuracy"]
        )
        assert record["history"], "the per-epoch history is kept"
        if record["settings"].get("moved_shifts"):
            assert record["moved_4"]["test_images"] == 40_000
            assert set(record["moved_accuracy"]) == {"1", "2", "3", "4"}
        if record["settings"].get("reestimate"):
            assert 0 <= record["reestimated"]["test_accuracy"] <= 1
        if record["settings"].get("attack_epsilons"):
            scores = record["fgsm_accuracy"]
            assert set(scores) == {f"{e:g}" for e in record["settings"]["attack_epsilons"]}
            assert record["fgsm"]["test_accuracy"] == scores["0.1"]
            assert unpack_correct(record["fgsm"]["test_correct"], 10_000).mean() == pytest.approx(
                scores["0.1"]
            )
    results = load_study(name, tmp_path)
    assert set(results.arm_names()) == {a.name for a in study.arms} | set(study.derived)


def test_the_command_lists_the_studies_and_refuses_a_wrong_name(tmp_path):
    listed = subprocess.run(
        [sys.executable, "-m", "mnist_lessons", "study", "--list", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    for study in all_studies():
        assert f"{study.name}: {study.question}" in listed.stdout
    assert "0 of 50 runs recorded; time not yet estimated" in listed.stdout
    wrong = subprocess.run(
        [sys.executable, "-m", "mnist_lessons", "study", "nope"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == (
        "error: Unknown study 'nope'. Choose one of: writeups, dropout, third_pooling, "
        "architectures, fast_99, fast_995, learning_rates, batch_norm, short_runs, shifts, "
        "adversarial, best_network"
    )


def test_a_study_is_drawn_as_seeds_with_the_mean_and_its_interval(tmp_path, fake_training):
    import matplotlib

    matplotlib.use("Agg")
    from mnist_lessons.plots import study_curves, study_points

    run_study("dropout", quick=True, seeds=[0, 1, 2], out=tmp_path, measure_rate=False)
    results = load_study("dropout", tmp_path)
    ax = study_points(results)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["without dropout", "with dropout"]
    dots = [c.get_offsets()[:, 0] for c in ax.collections]
    np.testing.assert_allclose(dots[0], results.accuracies("dropout"))
    interval = results.interval("dropout")
    first_line = ax.lines[0].get_xdata()
    np.testing.assert_allclose(first_line, [interval.low, interval.high])
    curves = study_curves(results)
    assert len(curves.lines) == 6 + 2  # one thin line per run and one thick mean per arm
    assert [t.get_text() for t in curves.get_legend().get_texts()] == [
        "with dropout (mean of 3)",
        "without dropout (mean of 3)",
    ]
    mean = next(line for line in curves.lines if line.get_label() == "with dropout (mean of 3)")
    runs = [r["history"]["val_accuracy"] for r in results.records if r["arm"] == "dropout"]
    np.testing.assert_allclose(mean.get_ydata(), np.mean(runs, axis=0))


@pytest.mark.slow
def test_a_committed_record_rerun_at_its_settings_lands_within_the_seed_spread():
    """The 99 % recipe's seed 0 from the committed fast_99 study, trained again here. Its recipe
    fixes float32, so any processor may re-run it; the run must land within the range its arm's
    seeds span (the spread that any single run carries)."""
    results = load_study("fast_99")
    (record,) = [r for r in results.records if r["arm"] == "full" and r["seed"] == 0]
    assert record["settings"]["precision"] == "float32" and not record["settings"]["quick"]
    study = get_study("fast_99")
    outcome = studies.TRAINERS["recipe"](study.arm("full"), record["settings"], 0, [])
    spread = np.ptp(results.accuracies("full"))
    print(
        f"re-run {outcome.test_accuracy:.4f}, recorded {record['test_accuracy']:.4f}, "
        f"seed range {spread * 100:.2f} points"
    )
    assert abs(outcome.test_accuracy - record["test_accuracy"]) <= spread


def test_the_table_sets_each_arm_beside_the_reference_over_the_same_seeds(tmp_path, fake_training):
    run_study("dropout", quick=True, seeds=[0, 1, 2], out=tmp_path, measure_rate=False)
    run_study("dropout", quick=True, seeds=[3], arms=["dropout"], out=tmp_path, measure_rate=False)
    results = load_study("dropout", tmp_path)
    assert results.seeds("dropout") == [0, 1, 2, 3] and results.seeds("no_dropout") == [0, 1, 2]
    lines = results.table().splitlines()
    assert lines[0] == (
        "| arm (3 seeds each) | mean test accuracy | 95 % interval | points vs with dropout "
        "| 95 % interval | test |"
    )
    # Seed 3, which only one arm has, is left out of every column.
    interval = seed_interval(results.accuracies("dropout", [0, 1, 2]))
    assert lines[2] == (
        f"| with dropout | {interval.estimate:.4f} | {interval.low:.4f} to "
        f"{interval.high:.4f} | (reference) |  |  |"
    )
    difference = results.difference("no_dropout", "dropout")
    assert lines[3].endswith(
        f"| {points_text(difference.points)} | {points_text(difference.low)} to "
        f"{points_text(difference.high)} "
        f"| {p_text(difference.p_value)} (paired t-test) |"
    )
    with pytest.raises(StudyError, match="fewer than 2 seeds that every arm shown"):
        StudyResults(results.study, results.records[:2]).table()


def test_an_installed_library_fetches_the_committed_records(monkeypatch, tmp_path, fake_training):
    """Without the book beside the library (pip in Colab), the records come from the published
    repository into the data folder; offline, the error says what to do."""
    run_study("dropout", quick=True, seeds=[0, 1], out=tmp_path / "made", measure_rate=False)
    published = study_file(tmp_path / "made", "dropout").read_bytes()
    monkeypatch.setattr(studies, "in_clone", lambda: False)
    monkeypatch.setenv("MNIST_LESSONS_HOME", str(tmp_path / "home"))
    asked = []

    def fetch(url):
        asked.append(url)
        return published

    results = load_study("dropout", fetch=fetch)
    assert asked == [f"{studies.PUBLISHED_URL}/dropout.jsonl"]
    assert len(results.records) == 4
    assert (tmp_path / "home" / "studies" / "dropout.jsonl").read_bytes() == published

    def offline(url):
        raise OSError("Name or service not known")

    with pytest.raises(StudyError) as refused:
        load_study("dropout", fetch=offline)
    assert str(refused.value).endswith(
        "(Name or service not known). Clone the repository to read them, or train the study "
        "yourself: python -m mnist_lessons study dropout"
    )


def test_recipe_fields_added_later_are_recorded_only_where_an_arm_changes_them():
    """The committed records of the first recipe studies predate the ``head`` and
    ``bn_momentum`` settings; their arms still ask for exactly what those records hold."""
    for arm in get_study("fast_99").arms:
        assert "head" not in arm.settings and "bn_momentum" not in arm.settings
    shifts = get_study("shifts")
    assert shifts.arm("global_average").settings["head"] == "global_average"
    assert "head" not in shifts.arm("flatten").settings
    assert get_study("short_runs").arm("momentum_0.9").settings["bn_momentum"] == 0.9
    for name in ("fast_99", "fast_995"):
        assert load_study(name).records, f"the committed {name} records still read"


def test_the_shifts_study_reads_moved_accuracy_seed_by_seed(tmp_path, monkeypatch):
    calls: list = []
    base = fake_trainer(calls)

    def train(arm, settings, seed, callbacks):
        outcome = base(arm, settings, seed, callbacks)
        moved = np.random.default_rng(seed).random(40_000) < 0.9
        outcome.extra.update(
            moved_accuracy={"1": 0.98, "2": 0.96, "3": 0.93, "4": float(moved.mean())},
            moved_4={
                "test_accuracy": float(moved.mean()),
                "test_images": 40_000,
                "test_correct": pack_correct(moved),
            },
        )
        return outcome

    monkeypatch.setattr(studies, "TRAINERS", dict.fromkeys(studies.TRAINERS, train))
    run_study("shifts", quick=True, seeds=[0, 1], out=tmp_path, measure_rate=False)
    results = load_study("shifts", tmp_path)
    moves, values = results.moved_accuracy("flatten")
    assert moves == (0, 1, 2, 3, 4) and values.shape == (2, 5)
    assert values[:, 0].tolist() == results.accuracies("flatten").tolist()
    assert results.correct("flatten_moved_4", 0).shape == (40_000,)
    assert results.difference("shifts_moved_4", "flatten_moved_4").n == 2
    with pytest.raises(StudyError, match="no scores on moved digits"):
        results.moved_accuracy("flatten_moved_4")


def test_the_adversarial_study_reads_attacked_accuracy_seed_by_seed(tmp_path, monkeypatch):
    calls: list = []
    base = fake_trainer(calls)

    def train(arm, settings, seed, callbacks):
        outcome = base(arm, settings, seed, callbacks)
        attacked = np.random.default_rng(seed).random(10_000) < 0.7
        sizes = settings["attack_epsilons"]
        outcome.extra.update(
            fgsm_accuracy={f"{e:g}": 0.99 - 2 * e for e in sizes} | {"0.1": float(attacked.mean())},
            fgsm={"test_accuracy": float(attacked.mean()), "test_correct": pack_correct(attacked)},
        )
        return outcome

    monkeypatch.setattr(studies, "TRAINERS", dict.fromkeys(studies.TRAINERS, train))
    run_study("adversarial", quick=True, seeds=[0, 1], out=tmp_path, measure_rate=False)
    results = load_study("adversarial", tmp_path)
    sizes, values = results.attack_accuracy("wide")
    assert sizes == studies.ATTACK_EPSILONS and values.shape == (2, len(sizes))
    assert values[:, sizes.index(0.1)].tolist() == results.accuracies("wide_fgsm").tolist()
    assert results.difference("wide_fgsm", "recipe_99_fgsm").n == 2
    with pytest.raises(StudyError, match="no scores on attacked digits"):
        results.attack_accuracy("wide_fgsm")


def test_the_committed_adversarial_study_attacks_the_network_alone_at_zero():
    """At ε = 0 the attack scores the bare network: for the 99.5 % recipe, the record's score
    without test-time shifts; for the others, its test accuracy."""
    results = load_study("adversarial")
    for arm in ("recipe_99", "recipe_995"):
        sizes, values = results.attack_accuracy(arm)
        assert sizes[0] == 0.0 and (np.diff(values, axis=1) <= 0.005).all()
        records = sorted((r for r in results.records if r["arm"] == arm), key=lambda r: r["seed"])
        bare = [r.get("unshifted", r)["test_accuracy"] for r in records]
        np.testing.assert_allclose(values[:, 0], bare, atol=5e-4)


def test_values_reads_a_field_or_a_function_of_each_record_seed_by_seed():
    results = load_study("shifts")
    val = results.values("flatten", "val_accuracy")
    assert val.shape == (10,) and ((val > 0.9) & (val <= 1)).all()
    last = results.values("flatten", lambda r: r["history"]["accuracy"][-1])
    records = sorted((r for r in results.records if r["arm"] == "flatten"), key=lambda r: r["seed"])
    assert last.tolist() == [r["history"]["accuracy"][-1] for r in records]
    with pytest.raises(StudyError, match="no field 'nope'"):
        results.values("flatten", "nope")
    with pytest.raises(StudyError, match="no runs of arm 'nope'"):
        results.values("nope", "val_accuracy")
