"""The OpenMM generator: a tiny resumable replica-exchange run, assembly, manifest and checksums."""

import dataclasses
import json
import time

import numpy as np
import pytest

pytest.importorskip("openmm")
from cgflow import data, datagen, manifest  # noqa: E402
from cgflow.analysis import rmsd  # noqa: E402
from cgflow.datagen import starting  # noqa: E402
from cgflow.cgmap import bead_groups  # noqa: E402

TINY = dataclasses.replace(
    datagen.ALA2,
    n_trajectories=2,
    trajectory_length=4.0,
    chunk_length=2.0,
    save_interval=0.2,
    allatom_interval=1.0,
    equilibration=1.0,
    exchange_interval=0.1,
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    workdir, data_dir = root / "work", root / "data"
    datagen.generate(TINY, workdir, data_dir, processes=1)
    return workdir, data_dir


def test_assembled_dataset_loads_with_units_and_boundaries(generated):
    _, data_dir = generated
    dataset = data.load("ala2", directory=data_dir)
    assert dataset.positions.shape == (40, 5, 3) and dataset.forces.shape == (40, 5, 3)
    assert dataset.trajectory_lengths.tolist() == [20, 20]
    assert dataset.temperature == 300.0 and dataset.time_step == pytest.approx(0.2)
    # Bonded bead distances of a peptide backbone, in nm: C-N 0.13-0.14, N-CA 0.14-0.15, CA-C 0.15-0.16.
    distances = np.linalg.norm(np.diff(dataset.positions, axis=1), axis=2)
    assert ((distances > 0.12) & (distances < 0.17)).all()
    allatom = data.load_allatom("ala2", directory=data_dir)
    assert allatom.n_atoms == 22 and allatom.n_frames == 4  # every 1 ps of 2 x 4 ps, from trajectory 0
    # The first all-atom frame is the first CG frame: bead atoms C(ACE), N, CA, C, N(NME).
    np.testing.assert_allclose(allatom.xyz[0, [4, 6, 8, 10, 16]], dataset.positions[0], atol=1e-5)
    entry = manifest.read_manifest(data_dir)["ala2"]
    assert set(entry["files"]) == {"ala2/ala2_cg.npz", "ala2/ala2_cg.pdb", "ala2/ala2_allatom.pdb", "ala2/ala2_allatom.dcd", "ala2/ala2_ladders.npz"}
    provenance = entry["provenance"]
    assert provenance["frames"] == 40 and provenance["time_step_ps"] == 0.002
    assert provenance["force_field"] == ["amber99sbildn.xml", "amber99_obc.xml"]
    sampling = provenance["sampling"]
    assert sampling["temperatures_K"] == [300.0, 367.2, 449.4, 550.0]
    assert len(sampling["acceptance_per_pair"]) == 3 and all(0 < a < 1 for a in sampling["acceptance_per_pair"])
    assert provenance["total_simulated_ns"] == pytest.approx(2 * 4 * 0.004)  # every replica counts


def test_replica_exchange_saves_the_lowest_rung_and_tracks_walkers(generated):
    workdir, _ = generated
    chunk = np.load(datagen.chunk_path(workdir, 0, 1))
    assert len(chunk["states"]) == 4  # one resumable OpenMM state per rung
    # two exchange attempts per saved frame, pairs alternating: 10 frames -> 10 attempts per pair
    assert chunk["exchange_attempts"].tolist() == [10, 10, 10]
    assert all(sorted(row) == [0, 1, 2, 3] for row in chunk["walkers"])
    # the saved potential energies are those of the 300 K rung (the 550 K rung averages ~50 kJ/mol more)
    assert chunk["potential_energy"].mean() < -40.0


def test_plain_md_is_a_ladder_of_one(tmp_path):
    recipe = dataclasses.replace(TINY, n_trajectories=1, trajectory_length=0.4, chunk_length=0.4, exchange_temperatures=())
    assert recipe.steps_per_exchange == recipe.steps_per_save
    datagen.run_trajectory(recipe, tmp_path, 0)
    chunk = np.load(datagen.chunk_path(tmp_path, 0, 0))
    assert len(chunk["states"]) == 1 and chunk["exchange_attempts"].size == 0 and len(chunk["positions"]) == 2


def test_rung_records_hold_every_rung_and_the_cold_one_is_the_saved_frame(tmp_path):
    recipe = dataclasses.replace(TINY, n_trajectories=1, trajectory_length=2.0, rung_record_interval=0.4)
    assert recipe.rung_record_stride == 2
    datagen.run_trajectory(recipe, tmp_path, 0)
    chunk = np.load(datagen.chunk_path(tmp_path, 0, 0))
    assert chunk["rung_positions"].shape == (5, 4, 5, 3) and chunk["rung_energies"].shape == (5, 4)
    # records are taken at saved frames 0, 2, 4, ...: rung 0 is then the saved configuration
    np.testing.assert_array_equal(chunk["rung_positions"][:, 0], chunk["positions"][::2])
    np.testing.assert_allclose(chunk["rung_energies"][:, 0], chunk["potential_energy"][::2], rtol=1e-6)
    assert chunk["rung_energies"][:, -1].mean() > chunk["rung_energies"][:, 0].mean()  # 550 K above 300 K


def test_the_dataset_ships_strided_frames_and_the_ladders_records(tmp_path):
    recipe = dataclasses.replace(TINY, n_trajectories=1, trajectory_length=2.0, rung_record_interval=0.4,
                                 shipped_frame_stride=2, shipped_allatom_stride=2)
    datagen.generate(recipe, tmp_path / "work", tmp_path / "data", processes=1)
    chunk = np.load(datagen.chunk_path(tmp_path / "work", 0, 0))
    dataset = data.load("ala2", directory=tmp_path / "data")
    np.testing.assert_array_equal(dataset.positions, chunk["positions"][::2])
    np.testing.assert_array_equal(dataset.forces, chunk["forces"][::2])
    assert dataset.time_step == pytest.approx(0.4) and dataset.trajectory_lengths.tolist() == [5]
    allatom = data.load_allatom("ala2", directory=tmp_path / "data")
    np.testing.assert_allclose(allatom.xyz, chunk["allatom_positions"][::2], atol=1e-6)  # DCD stores float32
    (ladder,) = data.load_ladders("ala2", directory=tmp_path / "data")
    np.testing.assert_array_equal(ladder["walkers"], chunk["walkers"])  # every saved frame: round trips need them all
    np.testing.assert_array_equal(ladder["record_walkers"], chunk["walkers"][::2])
    assert ladder["attempts"].tolist() == [chunk["exchange_attempts"].tolist()] and ladder["temperatures"][0] == 300.0
    # float16 records, centred: each rung's configuration to 0.001 nm
    exact = chunk["rung_positions"] - chunk["rung_positions"].mean(axis=-2, keepdims=True)
    assert ladder["rung_positions"].dtype == np.float16 and np.abs(ladder["rung_positions"] - exact).max() < 1e-3
    provenance = manifest.read_manifest(tmp_path / "data")["ala2"]["provenance"]
    assert provenance["stride_ps"] == pytest.approx(0.4) and provenance["allatom_stride_ps"] == pytest.approx(2.0)
    with pytest.raises(KeyError, match="no replica-exchange records"):
        data.load_ladders("cln025_md", directory=tmp_path / "data")


def test_the_native_structure_is_the_allatom_frame_nearest_the_medoid_near_the_built_one(generated, tmp_path, monkeypatch):
    from cgflow import analysis

    workdir, _ = generated
    recipe = dataclasses.replace(TINY, native_cutoff=0.05)
    monkeypatch.setitem(data.DATASETS["ala2"], "native", "ala2/ala2_native.pdb")
    datagen.assemble(recipe, workdir, tmp_path, {})
    native = data.load_native("ala2", directory=tmp_path)
    chunks = [np.load(datagen.chunk_path(workdir, t, c)) for t in range(2) for c in range(2)]
    positions = np.concatenate([c["positions"] for c in chunks])
    allatom = np.concatenate([c["allatom_positions"] for c in chunks])
    runner = datagen.RecipeRunner(recipe)
    built = np.array(runner.initial_positions.value_in_unit(datagen.running.unit.nanometer))[runner.bead_atoms]
    medoid = analysis.medoid_near(positions, built, 0.05)
    distance = analysis.rmsd(allatom[:, runner.bead_atoms], medoid)
    # the PDB is the stored all-atom frame whose beads are closest to the medoid (PDB keeps 0.001 nm)
    np.testing.assert_allclose(native.xyz[0], allatom[np.argmin(distance)], atol=1e-3)
    provenance = manifest.read_manifest(tmp_path)["ala2"]["provenance"]["native"]
    assert provenance["frames_near_built"] == int(np.sum(analysis.rmsd(positions, built) < 0.05)) > 0
    assert provenance["chosen_frame_rmsd_to_medoid_nm"] == pytest.approx(distance.min(), abs=1e-4)
    with pytest.raises(KeyError, match="no native structure"):
        data.load_native("cln025_md", directory=tmp_path)


def test_partial_chunks_never_count_and_a_resumed_run_repeats_the_uninterrupted_one(generated, tmp_path):
    workdir, _ = generated
    original = np.load(datagen.chunk_path(workdir, 1, 1))["positions"]
    resumed = tmp_path / "work"
    # A run stopped after its first chunk (the recipe cut to one chunk stops there) ...
    datagen.run_trajectory(dataclasses.replace(TINY, trajectory_length=TINY.chunk_length), resumed, 1)
    assert "states" in np.load(datagen.chunk_path(resumed, 1, 0)).files  # the last chunk keeps what resuming needs
    # ... and a chunk that was cut off while being written leaves only a .partial file.
    datagen.chunk_path(resumed, 1, 1).with_suffix(".npz.partial").write_bytes(b"cut off")
    assert datagen.completed_chunks(TINY, resumed, 1) == 1
    datagen.run_trajectory(TINY, resumed, 1)
    assert datagen.completed_chunks(TINY, resumed, 1) == 2
    np.testing.assert_array_equal(np.load(datagen.chunk_path(resumed, 1, 1))["positions"], original)
    # Only the last chunk keeps the replicas' states; the others lose nothing else.
    assert ["states" in np.load(datagen.chunk_path(resumed, 1, c)).files for c in range(2)] == [False, True]
    np.testing.assert_array_equal(np.load(datagen.chunk_path(resumed, 1, 0))["forces"], np.load(datagen.chunk_path(workdir, 1, 0))["forces"])
    assert datagen.drop_resume_states(TINY, resumed, 1) == 0  # nothing left to drop


def test_ladders_run_as_separate_jobs_assemble_the_same_dataset(generated, tmp_path):
    """A cluster array: one job per trajectory sharing a work folder; the job that completes
    the last trajectory assembles, and the dataset is the one generated in one go."""
    workdir, data_dir = generated
    shared, out = tmp_path / "work", tmp_path / "data"
    assert datagen.generate(TINY, shared, out, processes=1, only=[1]) == []  # trajectory 0 has not run yet
    assert not out.exists() or not any(out.rglob("*.npz"))
    for chunk in range(TINY.chunks_per_trajectory):  # trajectory 0, as another job would have written it
        datagen.chunk_path(shared, 0, chunk).parent.mkdir(parents=True, exist_ok=True)
        datagen.chunk_path(shared, 0, chunk).write_bytes(datagen.chunk_path(workdir, 0, chunk).read_bytes())
    written = datagen.generate(TINY, shared, out, processes=1, only=[0])
    assert written
    ours, theirs = np.load(out / "ala2" / "ala2_cg.npz"), np.load(data_dir / "ala2" / "ala2_cg.npz")
    np.testing.assert_array_equal(ours["positions"], theirs["positions"])
    np.testing.assert_array_equal(ours["forces"], theirs["forces"])
    with pytest.raises(ValueError, match="no \\[2\\]"):
        datagen.generate(TINY, shared, out, processes=1, only=[2])


def test_assembly_refuses_incomplete_trajectories(generated, tmp_path):
    workdir, _ = generated
    with pytest.raises(RuntimeError, match="incomplete"):
        datagen.assemble(TINY, tmp_path / "empty", tmp_path / "data", {})


def test_corrupted_or_missing_files_are_named(generated, tmp_path):
    _, data_dir = generated
    copy = tmp_path / "data"
    (copy / "ala2").mkdir(parents=True)
    for name in ("MANIFEST.json", "ala2/ala2_cg.npz", "ala2/ala2_cg.pdb"):
        (copy / name).write_bytes((data_dir / name).read_bytes())
    arrays = copy / "ala2" / "ala2_cg.npz"
    arrays.write_bytes(arrays.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"ala2_cg\.npz is corrupted: sha256"):
        data.load("ala2", directory=copy)
    arrays.unlink()
    with pytest.raises(FileNotFoundError, match=r"ala2_cg\.npz is missing"):
        data.load("ala2", directory=copy)
    (copy / "MANIFEST.json").write_text(json.dumps({}))
    with pytest.raises(FileNotFoundError, match="not listed"):
        data.load("ala2", directory=copy)


def test_recipe_rejects_inconsistent_intervals():
    with pytest.raises(ValueError, match="whole number"):
        dataclasses.replace(TINY, save_interval=0.3).frames_per_chunk
    with pytest.raises(ValueError, match="save interval / exchange interval"):
        dataclasses.replace(TINY, exchange_interval=0.15).exchanges_per_save


def test_the_built_structure_is_deterministic_and_l_alanine():
    import mdtraj
    import openmm.app as app

    forcefield = app.ForceField(*datagen.ALA2.forcefield)
    builds = [datagen.build_alanine_dipeptide(forcefield) for _ in range(2)]
    xyz = [np.array([[v.x, v.y, v.z] for v in positions]) for _, positions in builds]
    np.testing.assert_array_equal(xyz[0], xyz[1])
    trajectory = mdtraj.Trajectory(xyz[0][None], mdtraj.Topology.from_openmm(builds[0][0]))
    assert trajectory.n_atoms == 22
    # phi = -80, psi = 75 degrees as built; improper N-C-CA-CB = +122.5 degrees: L-alanine.
    assert np.degrees(mdtraj.compute_phi(trajectory)[1][0, 0]) == pytest.approx(-80.0, abs=1e-3)
    assert np.degrees(mdtraj.compute_psi(trajectory)[1][0, 0]) == pytest.approx(75.0, abs=1e-3)
    atoms = {a.name: a.index for a in trajectory.topology.residue(1).atoms}
    improper = mdtraj.compute_dihedrals(trajectory, [[atoms["N"], atoms["C"], atoms["CA"], atoms["CB"]]])
    assert np.degrees(improper[0, 0]) == pytest.approx(122.5, abs=1e-3)


def test_cln025_is_built_from_its_sequence():
    generator = datagen.RecipeRunner(datagen.CLN025)
    assert generator.md_topology.n_atoms == 166
    assert "".join(r.code for r in generator.md_topology.residues) == "YYDPETGTWY"
    assert len(generator.bead_atoms) == 10
    system = generator.system()
    import openmm

    nonbonded = next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))
    charge = sum(nonbonded.getParticleParameters(i)[0]._value for i in range(system.getNumParticles()))
    assert charge == pytest.approx(-2.0, abs=1e-6)
    # CA beads carry their alpha hydrogens (glycine two) in the force map.
    groups = [len(g) for g in bead_groups(generator.md_topology, generator.bead_atoms)]
    assert groups == [2, 2, 2, 2, 2, 2, 3, 2, 2, 2]


def test_cln025_plain_md_recipe_builds_chignolin_and_starts_from_the_first_ladder():
    recipe = datagen.CLN025_MD
    assert recipe.builder == "cln025" and recipe.name == "cln025_md" and datagen.RECIPES["cln025_md"] is recipe
    assert recipe.temperatures == (340.0,) and recipe.rung_record_stride is None and recipe.start_from == "cln025"
    assert recipe.chunks_per_trajectory == 1 and recipe.frames_per_chunk == 500 and recipe.allatom_stride == 50
    # one start per ns of the 40 ns ladder, at its middle: shipped all-atom frames (50 ps apart) 10, 30, ...
    starts = [starting.source_frame(recipe, t) for t in range(recipe.n_trajectories)]
    assert starts == list(range(10, 800, 20))
    assert starting.source_time(recipe, 0) == 500.0 and starting.source_time(recipe, 39) == 39_500.0
    with pytest.raises(ValueError, match="no 40"):
        starting.source_frame(recipe, 40)
    runner = datagen.RecipeRunner(recipe)
    assert "".join(r.code for r in runner.md_topology.residues) == "YYDPETGTWY" and len(runner.bead_atoms) == 10


TINY_MD = dataclasses.replace(
    TINY, name="ala2_md", molecule="ala2", trajectory_length=0.4, chunk_length=0.4, exchange_temperatures=(), start_from="ala2"
)


def test_plain_md_starts_from_the_same_frames_before_and_after_its_source_is_assembled(generated, tmp_path, monkeypatch):
    workdir, data_dir = generated
    monkeypatch.setitem(datagen.RECIPES, "ala2", TINY)  # the source is the tiny ladders
    topology = datagen.RecipeRunner(TINY_MD).md_topology
    # two trajectories over 4 ps of the first ladder: the shipped frames at 1 and 3 ps
    assert [starting.source_time(TINY_MD, t) for t in range(2)] == [1.0, 3.0]
    before = tmp_path / "before"
    (before / "_work").mkdir(parents=True)
    (before / "_work" / "ala2").symlink_to(workdir)
    shipped = data.load_allatom("ala2", directory=data_dir).xyz
    for t in range(2):
        from_chunks = starting.start_positions(TINY_MD, before, t, topology)
        assert np.array_equal(from_chunks, starting.start_positions(TINY_MD, data_dir, t, topology))
        assert np.array_equal(from_chunks, shipped[[1, 3][t]])
    with pytest.raises(FileNotFoundError, match="at 3 ps.*generate ala2 first"):
        starting.start_positions(TINY_MD, tmp_path / "empty", 1, topology)
    # the trajectories run from them, and the dataset says where each started
    written = datagen.generate(TINY_MD, tmp_path / "md_work", data_dir, processes=1)
    assert len(written) > 0
    sampling = manifest.read_manifest(data_dir)["ala2_md"]["provenance"]["sampling"]
    assert sampling["start_times_ps"] == [1.0, 3.0] and "ala2's first ladder" in sampling["method"]
    first = np.load(datagen.chunk_path(tmp_path / "md_work", 0, 0))["allatom_positions"][0]  # after 1.2 ps
    assert 0.0 < rmsd(first[None], shipped[1])[0] < 0.1  # nm, superposed: it moved, from there


def test_a_deadline_stops_between_chunks_and_nothing_is_assembled(tmp_path):
    # The first chunk always starts; the second would end after a deadline already near.
    written = datagen.generate(TINY, tmp_path / "work", tmp_path / "data", processes=1, deadline=time.time() + 1e-3)
    assert written == [] and not (tmp_path / "data").exists()
    assert [datagen.completed_chunks(TINY, tmp_path / "work", t) for t in range(2)] == [1, 1]
    assert "states" in np.load(datagen.chunk_path(tmp_path / "work", 0, 0)).files  # resumable
    assert len(datagen.generate(TINY, tmp_path / "work", tmp_path / "data", processes=1)) > 0  # resumes and assembles
