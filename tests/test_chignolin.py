"""Chignolin's observables and its CG-model study (cgflow.chignolin, cgflow.cln025_study)."""

import numpy as np
import pytest
import torch

from cgflow import analysis, chignolin, cln025_study


def hairpin_path(reference: np.ndarray, distances: list[float]) -> np.ndarray:
    """Frames whose C-alpha RMSD from ``reference`` (nm) is each of ``distances``: the reference
    with every bead moved by ``d`` along one fixed random unit vector per bead, which after the
    optimal superposition leaves an RMSD that grows monotonically with ``d``."""
    rng = np.random.default_rng(0)
    direction = rng.normal(size=reference.shape)
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    return np.stack([reference + d * direction for d in distances]).astype(np.float32)


def test_folding_events_count_passages_between_the_cores():
    reference = np.cumsum(np.full((10, 3), 0.2), axis=0) * np.array([1.0, 0.5, 0.0]) + np.random.default_rng(1).normal(0, 0.1, (10, 3))
    scale = np.linspace(0, 1.5, 200)
    rmsd = analysis.rmsd(hairpin_path(reference, list(scale)), reference)
    assert np.all(np.diff(rmsd) > 0)   # the construction is monotonic
    to = lambda target: float(scale[np.argmin(abs(rmsd - target))])
    folded, middle, unfolded = to(0.05), to(0.22), to(0.5)
    # folded -> unfolded -> (transition region only) -> unfolded -> folded -> unfolded: 1 folding, 2 unfolding
    walk = [folded, unfolded, middle, unfolded, middle, folded, unfolded]
    assert chignolin.folding_events([hairpin_path(reference, walk)], reference) == (1, 2)
    assert chignolin.folding_events([hairpin_path(reference, walk)] * 3, reference) == (3, 6)
    fraction = chignolin.folded_fraction(analysis.rmsd(hairpin_path(reference, [folded, folded, unfolded, middle]), reference), 2)
    assert fraction.value == pytest.approx(0.5) and fraction.error == pytest.approx(0.5)  # blocks of 1.0 and 0.0


def test_rmsd_minima_finds_the_basins_and_ignores_noise():
    rng = np.random.default_rng(0)
    two_basins = np.concatenate([rng.normal(0.05, 0.02, 50_000), rng.normal(0.35, 0.03, 30_000)]).clip(0, 1)
    assert cln025_study.rmsd_minima(two_basins) == [0.05, 0.35]
    # a sparse tail (below 0.1 % of the frames per bin) adds no minimum
    with_tail = np.concatenate([two_basins, rng.uniform(0.6, 1.0, 40)])
    assert cln025_study.rmsd_minima(with_tail) == [0.05, 0.35]
    # one broad basin: one minimum however noisy its top
    assert len(cln025_study.rmsd_minima(rng.normal(0.4, 0.08, 20_000).clip(0, 1))) == 1


@pytest.fixture(scope="module")
def all_frames():
    pytest.importorskip("openmm")
    try:
        return chignolin.dataset()
    except ValueError:
        pytest.skip("no chignolin data: neither shipped nor committed chunks")


@pytest.fixture(scope="module")
def frames(all_frames):
    return all_frames.subsample(1_500)


@pytest.mark.parametrize("pair", [(i, i + 1) for i in range(9)] + [(0, 9), (1, 8), (2, 7)])
def test_aggregated_forces_satisfy_the_mean_force_identity(all_frames, pair):
    """E[(f_j - f_i) . u] = -4 kT E[1/r] for every C-alpha pair (chapter 3): the aggregated force
    map (each C-alpha with its constrained hydrogen) gives mean forces. Block errors are about
    6 kJ/mol/nm on a mean of about 30, so a sign error or a missing constraint force fails."""
    from cgflow import cgmap

    mean, error = cgmap.bond_force_residual(all_frames.positions, all_frames.forces, *pair, all_frames.temperature)
    assert abs(mean) < 3.5 * error, (mean, error)
    flipped, _ = cgmap.bond_force_residual(all_frames.positions, -all_frames.forces, *pair, all_frames.temperature)
    assert abs(flipped) > 3.5 * error  # the check has the power to fail


def test_reference_frames_hold_both_ladders_at_340_K(frames):
    assert frames.n_beads == 10 and frames.temperature == 340.0 and frames.forces.shape == frames.positions.shape
    assert np.isfinite(frames.positions).all() and np.allclose(frames.masses, 12.011, atol=0.01)
    reference = chignolin.folded_reference(frames.positions)
    assert reference.shape == (10, 3)
    # the folded reference lies within the folded cutoff of the hairpin the recipe builds
    assert analysis.rmsd(reference[None], chignolin.built_hairpin())[0] < chignolin.FOLDED


def test_allatom_frames_are_the_cg_frames_every_10_ps():
    pytest.importorskip("openmm")
    ladders = [{key: ladder[key][: 10 * 30] if key == "positions" else ladder[key][:30] for key in ("positions", "allatom_positions")}
               for ladder in chignolin.ladder_chunks()]
    if not ladders:
        pytest.skip("no committed chignolin chunks")
    allatom = chignolin.allatom_frames(ladders)
    assert allatom.n_atoms == 166 and allatom.n_frames == 30 * len(ladders)
    beads = allatom.atom_slice(allatom.topology.select("name CA")).xyz
    assert np.array_equal(beads, np.concatenate([ladder["positions"][::10] for ladder in ladders]))


def test_the_dataset_is_the_chunks_until_assembled_then_the_shipped_files(tmp_path):
    pytest.importorskip("openmm")
    import dataclasses

    from cgflow import datagen

    if datagen.completed_chunks(datagen.CLN025, chignolin.WORKDIR, 1) < 2:
        pytest.skip("needs two committed chunks of each ladder")
    (tmp_path / "_work").mkdir()
    (tmp_path / "_work" / "cln025").symlink_to(chignolin.WORKDIR)
    two_chunks = dataclasses.replace(datagen.CLN025, trajectory_length=2 * datagen.CLN025.chunk_length)
    chunks = [{key: ladder[key][:2000] for key in ("positions", "forces")} for ladder in chignolin.ladder_chunks()]
    # before assembly: every frame of the chunks (here those of a two-chunk recipe's worth are compared)
    before = chignolin.dataset(tmp_path)
    assert before.time_step == 1.0 and np.array_equal(before.positions[:2000], chunks[0]["positions"])
    datagen.assemble(two_chunks, tmp_path / "_work" / "cln025", tmp_path, {})
    after = chignolin.dataset(tmp_path)
    assert after.time_step == 2.0 and after.trajectory_lengths.tolist() == [1000, 1000]
    assert np.array_equal(after.positions, np.concatenate([c["positions"][::2] for c in chunks]))
    assert np.array_equal(after.forces, np.concatenate([c["forces"][::2] for c in chunks]))
    assert chignolin.structures(tmp_path).n_frames == 2000 // 10 // datagen.CLN025.shipped_allatom_stride  # first ladder


def test_plain_md_is_every_trajectory_that_has_its_chunk_in_order(tmp_path):
    from cgflow.datagen import CLN025_MD, chunk_path

    work = tmp_path / "_work" / "cln025_md"
    rng = np.random.default_rng(0)
    written = {t: rng.normal(size=(5, 10, 3)).astype(np.float32) for t in [0, 1, 3]}
    for t, positions in written.items():
        chunk_path(work, t, 0).parent.mkdir(parents=True, exist_ok=True)
        np.savez(chunk_path(work, t, 0), positions=positions)
    paths = chignolin.plain_md(tmp_path)
    # every trajectory with its chunk, in order; trajectory 2 is not there yet
    assert CLN025_MD.chunks_per_trajectory == 1 and len(paths) == 3
    assert all(np.array_equal(p, written[t]) for p, t in zip(paths, [0, 1, 3]))
    assert chignolin.plain_md(tmp_path / "nothing") == []


def test_plain_md_joins_a_trajectorys_chunks_up_to_its_first_gap(tmp_path, monkeypatch):
    import dataclasses

    from cgflow import datagen

    monkeypatch.setattr(datagen, "CLN025_MD", dataclasses.replace(datagen.CLN025_MD, n_trajectories=2, trajectory_length=4_000.0))
    work = tmp_path / "_work" / "cln025_md"
    rng = np.random.default_rng(0)
    written = {(t, c): rng.normal(size=(5, 10, 3)).astype(np.float32) for t, c in [(0, 0), (0, 1), (0, 3), (1, 0)]}
    for (t, c), positions in written.items():
        datagen.chunk_path(work, t, c).parent.mkdir(parents=True, exist_ok=True)
        np.savez(datagen.chunk_path(work, t, c), positions=positions)
    paths = chignolin.plain_md(tmp_path)
    # trajectory 0 stops at its first gap (chunk 2 is missing): chunks 0 and 1 only
    assert len(paths) == 2
    assert np.array_equal(paths[0], np.concatenate([written[0, 0], written[0, 1]])) and np.array_equal(paths[1], written[1, 0])


def test_plain_md_comes_from_the_shipped_dataset_once_assembled(tmp_path):
    pytest.importorskip("openmm")
    import dataclasses

    from cgflow import datagen

    real = chignolin.data_dir() / "_work" / "cln025_md"
    if datagen.completed_chunks(datagen.CLN025_MD, real, 0) < 1:
        pytest.skip("needs a committed plain-MD chunk")
    one_chunk = dataclasses.replace(datagen.CLN025_MD, n_trajectories=1, trajectory_length=datagen.CLN025_MD.chunk_length)
    datagen.assemble(one_chunk, real, tmp_path, {})
    (path,) = chignolin.plain_md(tmp_path)
    assert np.array_equal(path, np.load(datagen.chunk_path(real, 0, 0))["positions"])


def test_study_calibrates_trains_exports_and_resumes(frames, tmp_path):
    settings = cln025_study.Settings.fast()
    study = cln025_study.Study(frames, tmp_path, settings)
    # a part of the study, as a second process would run it beside this one: the CGnet of the
    # second seed needs no teacher, and its rows survive the other study object's writes
    part = cln025_study.Study(frames, tmp_path, settings)
    with pytest.raises(ValueError, match="not in the study: .*'seed 7'.*'teacher'"):
        part.models(kinds=("teacher",), seeds=(7,))
    assert list(part.models(kinds=("cgnet",), seeds=settings.seeds[1:])) == ["cgnet"]
    part_stages = sorted(path.name for path in (tmp_path / "cache").glob("*.pt"))
    assert part_stages == [f"{cln025_study.cgnet_name(settings.seeds[1])}.pt"]
    part_seconds = part.row("stage", cln025_study.cgnet_name(settings.seeds[1]))["seconds"]
    assert part.row("stage", f"{cln025_study.cgnet_name(settings.seeds[1])}_langevin")["threads"] == torch.get_num_threads()
    written = study.export()
    assert study.row("stage", cln025_study.cgnet_name(settings.seeds[1]))["seconds"] == part_seconds  # kept, not retrained
    grid = cln025_study.spread_grid()
    chosen = study.row("stage", "spread")
    # the calibration picks, among the grid's students, the one closest to the teacher's folded fraction
    teacher = study.row("model", "teacher")["folded"]
    gaps = {int(n): abs(folded - teacher) for n, folded in chosen["candidates_folded"].items()}
    assert sorted(gaps) == sorted(grid) and chosen["spread_points"] == min(gaps, key=gaps.get)
    names = [cln025_study.flow_cgnet_name(chosen["spread_points"], seed) for seed in settings.seeds]
    names += [cln025_study.cgnet_name(seed) for seed in settings.seeds]
    for name in names:
        row = study.row("model", name)
        assert 0.0 <= row["folded"] <= 1.0 and row["langevin_ns"] == 0.004  # 2 replicas of 2 ps
    exported = {path.name for path in written}
    assert exported == {"flow_cgnet.pt", "cgnet.pt", "flow_cgnet_frames.npz", "cgnet_frames.npz", "teacher_samples.npz", "student_set.npz"}
    assert {path.name for path in tmp_path.iterdir() if path.is_file()} == exported | {"study.json"}
    with np.load(tmp_path / "flow_cgnet_frames.npz") as shipped, np.load(tmp_path / "cache" / f"{names[0]}_simulations.npz") as cached:
        assert shipped["langevin"].shape == (2, 2, 10, 3) and shipped["langevin"].dtype == np.float16  # 2 ps saved every ps
        # float16 after centring: the same RMSD to 0.002 nm
        exact = analysis.rmsd(cached["tempering"].reshape(-1, 10, 3), study.reference)
        rounded = analysis.rmsd(shipped["tempering"].reshape(-1, 10, 3).astype(np.float64), study.reference)
        assert np.abs(exact - rounded).max() < 2e-3
    results = cln025_study.Results.load(tmp_path)
    assert results.row("stage", "spread") == chosen and results.frames["flow_cgnet"]["langevin"].shape == (2, 2, 10, 3)
    assert len(results.teacher_samples) == min(cln025_study.EXPORTED_SAMPLES, len(study.teacher_sample().positions))
    student = results.models["flow_cgnet"]
    # a new study on the same folder loads every stage: same weights, same frames, nothing rerun
    again = cln025_study.Study(frames, tmp_path, settings)
    stamps = {path: path.stat().st_mtime_ns for path in (tmp_path / "cache").iterdir()}
    reloaded = again.flow_cgnet(chosen["spread_points"], settings.seeds[0])
    assert all(torch.equal(a, b) for a, b in zip(student.state_dict().values(), reloaded.state_dict().values()))
    assert np.array_equal(again.simulations(names[0], reloaded)["langevin"], study.simulations(names[0], student)["langevin"])
    assert stamps == {path: path.stat().st_mtime_ns for path in (tmp_path / "cache").iterdir()}
    (tmp_path / "cgnet.pt").unlink()
    with pytest.raises(FileNotFoundError, match="lacks cgnet.pt: python benchmarks/cln025_models.py"):
        cln025_study.Results.load(tmp_path)
