"""The data-efficiency sweep: strided subsets, one file per point, resumption and skipping."""

import dataclasses
import json
import time

import numpy as np
import pytest

from cgflow import data, data_efficiency, presets


@pytest.fixture(scope="module")
def frames():
    dataset = data.load("ala2")
    numbered = dataclasses.replace(dataset, positions=dataset.positions.copy())
    numbered.positions[:, 0, 0] = np.arange(len(dataset))  # every frame carries its index
    return presets.ala2_frames(numbered)


def indices(subset) -> np.ndarray:
    return subset.positions[:, 0, 0].astype(int)


def test_subsets_are_strided_over_every_trajectory_and_never_held_out(frames):
    held_out = set(indices(frames.held_out))
    starts = np.concatenate([frames.training_block.trajectory_starts, [len(frames.training_block)]])
    for n in (1_000, 5_000, 80_000):
        subset = data_efficiency.training_subset(frames, n)
        assert len(subset) == n and len(set(indices(subset))) == n
        assert not set(indices(subset)) & held_out
        # Every trajectory contributes its share, evenly spaced, not one contiguous block.
        per_trajectory = np.histogram(np.searchsorted(indices(frames.training_block), indices(subset)), bins=starts)[0]
        assert per_trajectory.min() >= n // len(per_trajectory) - 1
    np.testing.assert_array_equal(indices(data_efficiency.training_subset(frames, presets.N_TRAIN)), indices(frames.train))


def test_every_seed_draws_its_own_frames_where_the_data_allow(frames):
    for n in (1_000, 20_000):
        draws = [indices(data_efficiency.training_subset(frames, n, seed)) for seed in range(4)]
        assert all(len(np.unique(d)) == n for d in draws)
        for a in range(4):
            for b in range(a):  # disjoint but for the last frame, which every draw keeps
                assert set(draws[a]) & set(draws[b]) == {indices(frames.training_block)[-1]}
    np.testing.assert_array_equal(indices(data_efficiency.training_subset(frames, 1_000, 0)),
                                  indices(frames.training_block.subsample(1_000)))
    whole = indices(frames.training_block)
    for seed in range(3):  # 80,000 frames: the whole block, whatever the seed
        np.testing.assert_array_equal(indices(data_efficiency.training_subset(frames, len(whole), seed)), whole)


class CountingRunner:
    """A unit runner that records its calls and returns made-up rows."""

    def __init__(self, fail_at=None):
        self.calls, self.fail_at = [], fail_at

    def __call__(self, n, seed, unit):
        if (n, seed, unit) == self.fail_at:
            raise RuntimeError("killed")
        self.calls.append((n, seed, unit))
        return [{"seed": seed, "model": model, "kl": n / 1e5, "fe_mse": 0.0, "alpha_l_percent": 2.0, "seconds": 1.0}
                for model in data_efficiency.UNITS[unit]]


def settings_of(version):
    return lambda n, unit: {"n_train": n, "unit": unit, "version": version}


def test_the_sweep_writes_one_file_per_point_and_skips_stored_points(tmp_path):
    run = CountingRunner()
    rows = data_efficiency.sweep(run, settings_of(1), tmp_path, sizes=(2_000, 1_000), seeds=(0, 1), progress=False)
    assert run.calls[:2] == [(1_000, 0, "flow"), (1_000, 0, "cgnet")]  # smallest size first
    assert len(run.calls) == 8 and len(rows) == 12
    assert len(list(tmp_path.glob("*.json"))) == 12
    record = json.loads(data_efficiency.point_path(tmp_path, 2_000, "flow_cgnet", 1).read_text())
    assert record["settings"] == {"n_train": 2_000, "unit": "flow", "version": 1} and record["rows"][0]["kl"] == 0.02
    points = data_efficiency.load_points(tmp_path)
    assert sorted({p["n"] for p in points}) == [1_000, 2_000] and len(points) == 12

    again = CountingRunner()
    assert data_efficiency.sweep(again, settings_of(1), tmp_path, sizes=(1_000, 2_000), seeds=(0, 1), progress=False) == []
    assert again.calls == []
    data_efficiency.sweep(again, settings_of(1), tmp_path, sizes=(1_000,), seeds=(0,), units=("cgnet",), recompute=True, progress=False)
    assert again.calls == [(1_000, 0, "cgnet")]


def test_points_with_other_settings_or_missing_models_are_recomputed(tmp_path):
    data_efficiency.sweep(CountingRunner(), settings_of(1), tmp_path, sizes=(1_000,), seeds=(0,), progress=False)
    data_efficiency.point_path(tmp_path, 1_000, "teacher", 0).unlink()  # the unit's student alone is not enough
    run = CountingRunner()
    data_efficiency.sweep(run, settings_of(1), tmp_path, sizes=(1_000,), seeds=(0,), progress=False)
    assert run.calls == [(1_000, 0, "flow")]
    run = CountingRunner()
    data_efficiency.sweep(run, settings_of(2), tmp_path, sizes=(1_000,), seeds=(0,), progress=False)
    assert run.calls == [(1_000, 0, "flow"), (1_000, 0, "cgnet")]


def test_a_stopped_sweep_keeps_its_finished_points_and_resumes_after_them(tmp_path):
    with pytest.raises(RuntimeError, match="killed"):
        data_efficiency.sweep(CountingRunner(fail_at=(2_000, 0, "flow")), settings_of(1), tmp_path, sizes=(1_000, 2_000), seeds=(0,), progress=False)
    assert len(list(tmp_path.glob("*.json"))) == 3 and not list(tmp_path.glob("*.partial"))
    run = CountingRunner()
    data_efficiency.sweep(run, settings_of(1), tmp_path, sizes=(1_000, 2_000), seeds=(0,), progress=False)
    assert run.calls == [(2_000, 0, "flow"), (2_000, 0, "cgnet")]


def test_a_runner_that_returns_the_wrong_models_is_refused(tmp_path):
    def wrong(n, seed, unit):
        return [{"seed": seed, "model": "teacher"}]

    with pytest.raises(RuntimeError, match="expected"):
        data_efficiency.sweep(wrong, settings_of(1), tmp_path, sizes=(1_000,), seeds=(0,), units=("cgnet",), progress=False)
    assert not list(tmp_path.iterdir())


def test_unit_settings_name_what_the_points_depend_on(frames):
    dataset = data.load("ala2")
    small = data_efficiency.unit_settings(dataset, frames, 1_000, "cgnet", 5.0)
    assert small["n_train"] == 1_000 and small["n_validation"] == 250 and small["nanoseconds"] == 5.0
    assert small["cgnet_training"]["epochs"] == presets.cgnet_training(0, 1_000).epochs > presets.cgnet_training().epochs
    flow = data_efficiency.unit_settings(dataset, frames, 1_000, "flow", 5.0)
    assert flow["teacher_training"]["epochs"] == presets.teacher_training(0, 1_000).epochs and "student_set" in flow
    assert json.loads(json.dumps(flow)) == flow
    with pytest.raises(ValueError, match="unknown unit"):
        data_efficiency.unit_settings(dataset, frames, 1_000, "teacher", 5.0)


def test_a_deadline_starts_no_unit_that_would_end_after_it(tmp_path):
    data_efficiency.sweep(CountingRunner(), settings_of(1), tmp_path, sizes=(1_000,), seeds=(0,), progress=False)
    # Stored rows say 1 s per model: a flow unit (teacher + student) took 2 s, a CGnet unit 1 s.
    assert data_efficiency.expected_seconds(tmp_path, 1_000, "flow") == 2.0
    assert data_efficiency.expected_seconds(tmp_path, 5_000, "cgnet") == 1.0  # no point at 5,000: any size
    assert data_efficiency.expected_seconds(tmp_path / "empty", 1_000, "cgnet") == 0.0
    run = CountingRunner()
    data_efficiency.sweep(run, settings_of(1), tmp_path, sizes=(1_000, 2_000), seeds=(0,), progress=False, deadline=time.time() + 1.9)
    assert run.calls == [(2_000, 0, "cgnet")]  # the 2 s flow unit is skipped, the 1 s CGnet unit fits
    late = CountingRunner()
    data_efficiency.sweep(late, settings_of(1), tmp_path, sizes=(2_000,), seeds=(0,), progress=False, deadline=time.time() - 1)
    assert late.calls == []
