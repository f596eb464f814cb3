"""The book's shared settings: the split, the fast-mode switch, and the tempering protocol."""

import dataclasses
import json

import numpy as np
import pytest

from cgflow import analysis, data, presets


@pytest.fixture(scope="module")
def dataset():
    return data.load("ala2")


def test_ala2_frames_hold_out_the_last_fifth_of_every_trajectory(dataset):
    frames = presets.ala2_frames(dataset)
    assert len(frames.train) == presets.N_TRAIN
    assert len(frames.training_block) + len(frames.held_out) == len(dataset)
    assert len(frames.held_out) == round(presets.VALIDATION_FRACTION * len(dataset))
    assert len(frames.valid) == 2_000  # the fast-mode value of pick(5_000, 2_000)
    # No held-out frame is among the training frames.
    held_out = {row.tobytes() for row in frames.held_out.positions[:, 2]}
    assert not any(row.tobytes() in held_out for row in frames.train.positions[:, 2])


def test_training_draws_share_no_frame_with_the_book_nor_each_other(dataset):
    numbered = dataclasses.replace(dataset, positions=dataset.positions.copy())
    numbered.positions[:, 0, 0] = np.arange(len(dataset))  # every frame carries its index
    frames = presets.ala2_frames(numbered)
    sets = [frames.train] + [presets.training_draw(frames, draw) for draw in (1, 2, 3)]
    indices = [set(s.positions[:, 0, 0].astype(int)) for s in sets]
    assert all(len(i) == len(frames.train) for i in indices)
    block = set(frames.training_block.positions[:, 0, 0].astype(int))
    for a in range(4):
        assert indices[a] <= block
        for b in range(a):
            assert not indices[a] & indices[b]
    with pytest.raises(ValueError, match="draw must lie in 1..3"):
        presets.training_draw(frames, 4)


def test_cold_frames_are_the_coldest_replicas_walker_after_walker(dataset):
    # A harmonic well for every bead: cheap, and the run must stay finite.
    def harmonic(x):
        return 0.5 * 1000.0 * (x**2).sum((1, 2)), -1000.0 * x

    starts = np.random.default_rng(0).normal(0.0, 0.05, (64, dataset.n_beads, 3))
    run = presets.cold_frames(harmonic, dataset.masses, starts, seed=0, n_steps=1_000)
    walkers, rungs = presets.walkers(), presets.TEMPERING_RUNGS
    assert run.result.positions.shape[1] == walkers * rungs
    burn_in = run.result.n_frames - run.frames.shape[1]
    assert burn_in > 0
    assert run.frames.shape[1] == presets.cold_frames_per_walker(1_000) > 0
    assert presets.cold_frames_per_walker(10) == 0  # all of a run this short is burn-in
    for walker in range(walkers):
        np.testing.assert_array_equal(run.frames[walker], run.result.positions[burn_in:, walker * rungs])
    np.testing.assert_array_equal(run.flat()[: run.frames.shape[1]], run.frames[0])
    assert run.acceptance.shape == (rungs - 1,)


def test_the_cgnet_recipe_is_an_ensemble_trained_like_chapter_four():
    config = presets.cgnet_config(5, 300.0)
    assert config.members == presets.CGNET_MEMBERS > 1
    assert presets.cgnet_config(5, 300.0, members=1).members == 1
    assert (config.width, presets.cgnet_config(5, 300.0, members=1, width=160).width) == (presets.CGNET_WIDTH, 160)
    assert presets.cgnet_training(seed=3).seed == 3


def test_benchmark_records_are_read_from_the_repository_with_a_clear_error_when_missing():
    record = presets.benchmark_record("cgnet_stability")
    assert {"commit", "date", "settings", "rows"} <= set(record)
    for row in record["rows"]:  # only the rows that score ground-truth frames have no CGnet
        members, width = presets.cgnet_recipe(row)
        assert (members is None) == (width is None) == (row["kind"] == "estimator")
    with pytest.raises(FileNotFoundError, match="python benchmarks/no_such_benchmark.py"):
        presets.benchmark_record("no_such_benchmark")


def test_smaller_training_sets_get_the_gradient_steps_and_schedule_of_twenty_thousand_frames():
    recipe = presets.teacher_training(seed=1)
    steps = recipe.epochs * -(-presets.N_TRAIN // recipe.batch_size)
    for n in (1_000, 2_000, 5_000, 10_000):
        small = presets.teacher_training(seed=1, n_frames=n)
        assert small.seed == 1 and small.learning_rate == recipe.learning_rate
        # As many optimiser steps, within one epoch's worth of rounding, and the warm-up in proportion.
        assert abs(small.epochs * -(-n // small.batch_size) - steps) <= -(-n // small.batch_size) + small.epochs
        assert small.warmup_epochs / small.epochs == pytest.approx(recipe.warmup_epochs / recipe.epochs, rel=0.02)
    for n in (presets.N_TRAIN, 80_000):  # larger sets keep the recipe's epochs
        assert presets.cgnet_training(n_frames=n) == presets.cgnet_training()
    with pytest.raises(ValueError, match="at least one frame"):
        presets.cgnet_training(n_frames=0)


def test_validation_frames_scale_with_the_training_set_and_stay_held_out(dataset):
    numbered = dataclasses.replace(dataset, positions=dataset.positions.copy())
    numbered.positions[:, 0, 0] = np.arange(len(dataset))
    frames = presets.ala2_frames(numbered)
    assert presets.validation_frames(frames, presets.N_TRAIN) is frames.valid  # the fast-mode 2,000 reached
    assert len(presets.validation_frames(frames, 4_000)) == 1_000
    assert len(presets.validation_frames(frames, 100)) == 250
    held_out = set(frames.held_out.positions[:, 0, 0].astype(int))
    assert set(presets.validation_frames(frames, 4_000).positions[:, 0, 0].astype(int)) <= held_out


def test_benchmark_records_are_written_whole(tmp_path):
    path = tmp_path / "record.json"
    presets.save_benchmark_record(path, {"a": 1}, [{"kl": 0.1}])
    presets.save_benchmark_record(path, {"a": 2}, [{"kl": 0.2}])
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]
    record = json.loads(path.read_text())
    assert record["settings"] == {"a": 2} and record["rows"][0]["kl"] == 0.2 and len(record["commit"]) == 40


def test_the_estimator_rows_of_the_stability_benchmark_are_reproduced_by_analysis_exact_sample_scores():
    record = presets.benchmark_record("cgnet_stability")
    settings, rows = record["settings"], [r for r in record["rows"] if r["kind"] == "estimator"]
    frames = presets.ala2_frames(data.load("ala2"))
    reference, pool = analysis.phi_psi(frames.held_out.positions), analysis.phi_psi(frames.training_block.positions)
    assert rows
    for row in rows:
        scores = analysis.exact_sample_scores(reference, pool, settings["frames_per_walker"], settings["walkers"], 300.0, seed=row["seed"])
        assert scores.fields()["alpha_l_percent"] == row["alpha_l_percent"]
        assert scores.fields()["kl"] == row["kl"]


def test_force_matching_drops_configurations_inside_the_repulsion_and_keeps_the_rest(capsys):
    from cgflow.cgnet import CGNet, nonbonded_pairs
    from cgflow.geometry import distances

    rng = np.random.default_rng(3)
    frames = np.cumsum(rng.normal(0.0, 0.1, (200, 6, 3)) + np.array([0.38, 0.0, 0.0]), axis=1)  # stretched random chains, nm
    config = dataclasses.replace(presets.cgnet_config(6, 340.0, members=1, width=8), repulsion_min_separation=3)
    model = CGNet.from_data(frames, config)
    samples = np.concatenate([frames[:50], frames[:50, ::-1]])  # the reversed chains put other beads 3 apart
    closest = (distances(samples, nonbonded_pairs(6, 3)).numpy() / model.prior.terms[3].sigma.numpy()).min(-1)
    samples = samples[np.abs(closest - 1) > 1e-4]  # float32 rounding decides a pair at its closest approach exactly
    inside = closest[np.abs(closest - 1) > 1e-4] < 1
    forces = rng.normal(size=samples.shape)
    assert 0 < inside.sum() < len(samples)
    kept_positions, kept_forces = presets.clear_of_repulsion(model, samples, forces)
    np.testing.assert_array_equal(kept_positions, samples[~inside])
    np.testing.assert_array_equal(kept_forces, forces[~inside])
    assert f"dropped {inside.sum()} of {len(samples)} configurations" in capsys.readouterr().out
    same = presets.clear_of_repulsion(model, frames, forces[:1].repeat(200, 0))  # the fitted frames: all kept, not copied
    assert same[0] is frames
    with pytest.raises(ValueError, match="all 1 configurations"):
        presets.clear_of_repulsion(model, samples[inside][:1], forces[:1])
