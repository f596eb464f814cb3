"""Free energies and divergences on inputs with known answers."""

import numpy as np
import pytest

from cgflow import analysis, kT


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(42)


def test_kl_of_identical_samples_is_zero(rng):
    x = rng.normal(size=(20_000, 2))
    assert analysis.kl_divergence(x, x, bins=30) == 0.0
    assert analysis.free_energy_mse(x, x, 300.0, bins=30) == pytest.approx(0.0, abs=1e-20)


def test_kl_of_two_gaussians_matches_the_analytic_value(rng):
    # KL(N(0,1) || N(0.5,1)) = 0.5^2 / 2 = 0.125 nats. Binning at 1/6 sigma and 10^6 samples
    # each leave a bias and noise below 0.003 (measured over seeds: about 0.001).
    p = rng.normal(0.0, 1.0, 1_000_000)
    q = rng.normal(0.5, 1.0, 1_000_000)
    assert analysis.kl_divergence(p, q, bins=60, range=[(-5, 5)]) == pytest.approx(0.125, abs=0.003)


def test_free_energy_of_a_gaussian_is_harmonic(rng):
    # Samples of N(0, s^2) have F(x) = kT x^2 / (2 s^2) + const; compare bins within 2 sigma,
    # where each holds > 10^4 samples (relative count noise < 1%, so F noise < 0.03 kJ/mol).
    s, temperature = 0.3, 300.0
    x = rng.normal(0.0, s, 2_000_000)
    energy, (edges,) = analysis.free_energy(x, temperature, bins=40, range=[(-1.2, 1.2)])
    centres = 0.5 * (edges[1:] + edges[:-1])
    inside = np.abs(centres) < 2 * s
    # The bin average of exp(-x^2/2s^2) differs from its centre value; integrate exactly instead.
    from math import erf, sqrt

    mass = np.array([erf(b / (sqrt(2) * s)) - erf(a / (sqrt(2) * s)) for a, b in zip(edges[:-1], edges[1:])])
    exact = -kT(temperature) * np.log(mass / mass.max())
    np.testing.assert_allclose(energy[inside], exact[inside], atol=0.05)
    assert energy.min() == 0.0


def test_empty_bins_are_infinite_and_masked_or_penalised(rng):
    p = rng.uniform(-1, 1, 50_000)
    q = rng.uniform(0, 1, 50_000)  # puts no mass on [-1, 0)
    energy, _ = analysis.free_energy(q, 300.0, bins=20, range=[(-1, 1)])
    assert np.isinf(energy[:10]).all() and np.isfinite(energy[10:]).all()
    masked = analysis.kl_divergence(p, q, bins=20, range=[(-1, 1)])
    penalised = analysis.kl_divergence(p, q, bins=20, range=[(-1, 1)], pseudocount=1.0)
    # Masked: only [0, 1) counts, renormalised there both are uniform, so KL = 0 (up to the
    # sampling noise of 10 bins of 25,000 and 50,000 samples: about 1e-4), never negative.
    assert 0.0 <= masked < 1e-3
    # Penalised: the 10 empty bins of q hold 1 / (50000 + 20) each and add 0.5 ln(0.05 * 50020).
    assert penalised == pytest.approx(0.5 * np.log(0.05 * 50_020) + 0.5 * np.log(0.5), abs=0.02)


def test_masked_kl_is_never_negative_for_few_model_samples(rng):
    # 100 model samples populate few of 400 bins; without renormalising over the shared bins
    # the masked sum would come out negative (about -0.1 here).
    p, q = rng.normal(size=(50_000, 2)), rng.normal(size=(100, 2))
    assert analysis.kl_divergence(p, q, bins=20) >= 0.0


def test_uniform_weights_change_nothing(rng):
    p, q = rng.normal(size=(5000, 2)), rng.normal(0.3, 1.0, size=(5000, 2))
    unweighted = analysis.kl_divergence(p, q, bins=20)
    weighted = analysis.kl_divergence(p, q, bins=20, reference_weights=np.full(5000, 3.0), model_weights=np.ones(5000))
    assert weighted == pytest.approx(unweighted, rel=1e-12)


def test_weights_reweight(rng):
    # Weights exp(x) turn N(0,1) samples into N(1,1): KL(N(1,1) || reweighted) is about 0.
    x = rng.normal(size=1_000_000)
    target = rng.normal(1.0, 1.0, 1_000_000)
    assert analysis.kl_divergence(target, x, bins=40, range=[(-3, 4)], model_weights=np.exp(x)) < 0.005


def test_free_energy_mse_ignores_a_constant_offset(rng):
    x = rng.normal(size=(100_000, 2))
    assert analysis.free_energy_mse(x, x[::-1], 300.0, bins=10) == pytest.approx(0.0, abs=1e-12)


def test_block_bootstrap_error_shrinks_with_data(rng):
    small = analysis.block_bootstrap(analysis.kl_divergence, rng.normal(size=2000), rng.normal(size=2000), bins=20, range=[(-4, 4)])
    large = analysis.block_bootstrap(analysis.kl_divergence, rng.normal(size=50_000), rng.normal(size=50_000), bins=20, range=[(-4, 4)])
    assert large.error < small.error / 2
    assert 0 <= large.value < 3 * large.error + 1e-3


def test_block_mean_error_is_the_standard_error_of_independent_blocks(rng):
    # 400 independent walkers of 250 correlated frames (an AR(1) chain, correlation 0.99):
    # the frame-wise standard error underestimates the truth about 11-fold; one block per
    # walker gives sigma / sqrt(walkers) of the walker means. The error of a standard
    # deviation from 400 blocks is 1/sqrt(2 * 399) = 3.5 %, so 15 % is a 4-sigma band.
    walkers, frames, rho = 400, 250, 0.99
    x = np.zeros((walkers, frames))
    x[:, 0] = rng.normal(size=walkers)
    for t in range(1, frames):
        x[:, t] = rho * x[:, t - 1] + np.sqrt(1 - rho**2) * rng.normal(size=walkers)
    estimate = analysis.block_mean(x.ravel(), walkers)
    assert estimate.value == pytest.approx(x.mean())
    # Variance of the mean of n frames of a stationary unit-variance AR(1) chain.
    per_walker = ((1 + rho) / (1 - rho) - 2 * rho * (1 - rho**frames) / (frames * (1 - rho) ** 2)) / frames
    true_error = np.sqrt(per_walker / walkers)
    assert estimate.error == pytest.approx(true_error, rel=0.15)
    assert estimate.error > 5 * x.std() / np.sqrt(x.size)
    with pytest.raises(ValueError, match="2 blocks"):
        analysis.block_mean(np.ones(10), 1)


def test_ramachandran_scores_of_the_reference_itself(rng):
    # Two independent draws of one distribution: KL near zero within its error, the phi > 0
    # population equal to the fraction drawn there.
    def draw(n):
        phi = np.where(rng.random(n) < 0.03, rng.normal(1.0, 0.2, n), rng.normal(-1.5, 0.4, n))
        return np.stack([phi, rng.normal(0.0, 1.0, n)], axis=1)

    reference, model = draw(200_000), draw(50_000)
    scores = analysis.ramachandran_scores(reference, model, 300.0, n_blocks=20)
    assert 0.0 <= scores.kl.value < 0.05
    assert scores.alpha_l_percent.value == pytest.approx(100 * np.mean(model[:, 0] > 0))
    assert abs(scores.alpha_l_percent.value - 3.0) < 4 * scores.alpha_l_percent.error
    assert scores.free_energy_mse >= 0.0


def test_phi_psi_of_a_built_alanine_dipeptide():
    # Beads on a planar zig-zag have phi = psi = 180 degrees.
    zigzag = np.array([[[0.0, 0.0, 0.0], [0.1, 0.1, 0.0], [0.2, 0.0, 0.0], [0.3, 0.1, 0.0], [0.4, 0.0, 0.0]]])
    np.testing.assert_allclose(np.abs(analysis.phi_psi(zigzag)), np.pi, atol=1e-12)
    with pytest.raises(ValueError, match=r"\[frames, 5, 3\]"):
        analysis.phi_psi(np.zeros((3, 4, 3)))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: analysis.kl_divergence(np.array([np.nan, 1.0]), np.ones(2)), "NaN"),
        (lambda: analysis.kl_divergence(np.ones(3), np.ones(3), model_weights=np.zeros(3)), "all zero"),
        (lambda: analysis.kl_divergence(np.ones(3), np.ones(3), reference_weights=np.ones(2)), "shape"),
        (lambda: analysis.kl_divergence(np.ones(3), np.ones(3), pseudocount=-1.0), "pseudocount"),
        (lambda: analysis.free_energy(np.ones(3), 300.0, range=[(5, 6)]), "no samples"),
    ],
)
def test_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_transitions_are_counted_with_hysteresis():
    # Core A = x < -1, core B = x > 1. Recrossings of the middle region do not count.
    x = np.array([-2, -0.5, 0.5, -0.5, 2, 0.5, 2, 0, -2, -2, 0.9, 1.5])
    assert analysis.count_transitions(x < -1, x > 1) == (2, 1)
    assert analysis.count_transitions(np.zeros(4, bool), np.zeros(4, bool)) == (0, 0)
    with pytest.raises(ValueError, match="both core states"):
        analysis.count_transitions(np.ones(3, bool), np.ones(3, bool))


def helix(n=10, rise=0.15, radius=0.23, turn=np.radians(100)):
    k = np.arange(n)
    return np.stack([radius * np.cos(k * turn), radius * np.sin(k * turn), rise * k], axis=1)


def rotation(angle, axis):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def test_rmsd_leaves_its_inputs_as_they_are():
    """mdtraj centres what it is given in place; a float32 array or a trajectory passed to
    analysis.rmsd once came back centred (a 3D view then drew the beads off their atoms)."""
    positions = (np.random.default_rng(0).normal(size=(5, 10, 3)) + 3.0).astype(np.float32)
    trajectory = analysis.as_trajectory(positions.copy())
    before = positions.copy()
    analysis.rmsd(positions, positions[0])
    analysis.rmsd(trajectory, trajectory[0])
    assert np.array_equal(positions, before) and np.array_equal(trajectory.xyz, before)


def test_rmsd_of_a_rigidly_moved_copy_is_zero():
    reference = helix()
    moved = reference @ rotation(1.1, [1, 2, 3]).T + np.array([0.5, -2.0, 3.0])
    noisy = reference + np.random.default_rng(0).normal(0, 0.01, reference.shape)
    values = analysis.rmsd(np.stack([moved, noisy]), reference)
    assert values[0] == pytest.approx(0.0, abs=1e-4)  # float32 positions in mdtraj
    assert 0.005 < values[1] < 0.02


def test_representative_structure_is_the_frame_nearest_the_mean_whatever_the_pose():
    reference = helix()
    rng = np.random.default_rng(1)
    # Small fluctuations about the helix, each frame rotated and shifted at random; frame 3 is
    # the helix itself (the mean of the fluctuations), so it must be chosen.
    frames = reference + rng.normal(0, 0.02, (40, *reference.shape))
    frames[3] = reference
    posed = np.stack([f @ rotation(rng.uniform(0, 3), rng.normal(size=3)).T + rng.normal(size=3) for f in frames])
    kept = posed.copy()
    chosen = analysis.representative_structure(posed)
    np.testing.assert_array_equal(posed, kept)  # the input is not moved in place
    assert chosen.shape == reference.shape
    # float32 superposition leaves ~2e-4 nm; every other frame lies ~0.02 nm or more away
    assert analysis.rmsd(chosen[None], reference)[0] == pytest.approx(0.0, abs=1e-3)


def test_native_contacts_are_one_at_the_reference_and_fall_along_an_unfolding_path():
    reference = helix(12)
    contacts = analysis.NativeContacts.from_reference(reference)
    assert contacts.q(reference)[0] == pytest.approx(1.0, abs=0.01)
    # Unfolding path: stretch the helix along its axis; every contact distance grows.
    path = np.stack([reference * np.array([1.0, 1.0, s]) for s in np.linspace(1.0, 4.0, 15)])
    q = contacts.q(path)
    assert (np.diff(q) < 0).all() and q[-1] < 0.05
    groups = contacts.groups_by_separation([3, 5, 20])
    per_group = contacts.q(path, groups)
    assert per_group.shape == (15, 2)
    # Weighted by group size, the groups average back to the overall Q.
    np.testing.assert_allclose(per_group @ groups.sum(1) / groups.sum(), q, rtol=1e-12)


def test_tica_recovers_the_slow_coordinate_of_a_two_state_process():
    # A hidden two-state Markov chain (switching with probability 0.01 per step) shifts
    # feature 0; features 1-2 are fast noise. The first TIC must be feature 0 (whose own
    # correlation with the hidden state is 1/sqrt(2), the limit of any linear projection).
    rng = np.random.default_rng(3)
    n = 20_000
    state = np.cumsum(rng.random(n) < 0.01) % 2
    features = rng.normal(size=(n, 3))
    features[:, 0] += 2.0 * state
    model = analysis.fit_tica([features], lagtime=10, dim=1)
    projection = model.transform(features)[:, 0]
    assert abs(np.corrcoef(projection, features[:, 0])[0, 1]) > 0.99
    assert abs(np.corrcoef(projection, state)[0, 1]) == pytest.approx(1 / np.sqrt(2), abs=0.02)
    with pytest.raises(ValueError, match="lag time"):
        analysis.fit_tica([features[:5]], lagtime=10)


def test_pairwise_distance_features():
    x = helix(6)[None]
    features = analysis.pairwise_distance_features(x, min_separation=2)
    assert features.shape == (1, 10)  # pairs (i, j) with j - i >= 2 among 6 beads
    assert features[0, 0] == pytest.approx(np.linalg.norm(x[0, 2] - x[0, 0]))


def test_ramachandran_scores_give_their_fields_rounded_as_benchmarks_store_them():
    scores = analysis.RamachandranScores(kl=analysis.Estimate(0.123456, 0.012345), alpha_l_percent=analysis.Estimate(2.85049, 0.41249),
                                         free_energy_mse=1.0)
    assert scores.fields() == {"kl": 0.1235, "kl_error": 0.0123, "alpha_l_percent": 2.85, "alpha_l_error": 0.412}


def test_empty_arcs_are_the_widest_gaps_between_angles_also_across_pi():
    angles = np.array([-3.0, -2.9, -1.0, 0.5, 0.6, 2.4])  # gaps 0.1, 1.9, 1.5, 0.1, 1.8 and 0.88 across pi
    arcs = analysis.empty_arcs(np.random.default_rng(0).permutation(angles), count=3)
    assert arcs == [(-2.9, -1.0), (0.6, 2.4), (-1.0, 0.5)]
    (across,) = analysis.empty_arcs(np.array([-2.0, -1.0, 1.0, 2.0]), count=1)
    assert across == (2.0, -2.0)  # end < start: the arc crosses +-pi (width 2 pi - 4 = 2.28 rad)
    with pytest.raises(ValueError, match="fewer than 3 gaps"):
        analysis.empty_arcs(np.array([0.0, 1.0]), count=3)


def test_in_arc_is_strict_and_follows_arcs_across_pi():
    angles = np.array([-3.0, -2.9, -1.0, 0.5, 0.6, 2.4, np.pi])
    np.testing.assert_array_equal(analysis.in_arc(angles, (-2.9, 0.55)), [0, 0, 1, 1, 0, 0, 0])  # ends excluded
    np.testing.assert_array_equal(analysis.in_arc(angles, (2.0, -2.95)), [1, 0, 0, 0, 0, 1, 1])  # across +-pi
    # Every angle outside the widest empty arc's interior: that is what makes the arc empty.
    assert not analysis.in_arc(angles, analysis.empty_arcs(angles, count=1)[0]).any()


def test_exact_samples_cut_like_a_simulation_score_near_zero():
    rng = np.random.default_rng(5)
    reference = np.column_stack([rng.uniform(-np.pi, np.pi, 200_000), rng.normal(0.0, 0.5, 200_000)])
    pool = np.column_stack([rng.uniform(-np.pi, np.pi, 100_000), rng.normal(0.0, 0.5, 100_000)])  # the same law
    scores = analysis.exact_sample_scores(reference, pool, 1_000, 32, 300.0, seed=0)
    assert scores.kl.value < 0.05  # 32,000 samples on 3,600 bins: only the finite-sample bias of KL
    assert abs(scores.alpha_l_percent.value - 50.0) < 3 * scores.alpha_l_percent.error + 1.0
    with pytest.raises(ValueError, match="cannot cut 32 blocks of 4000 frames from 4010"):
        analysis.exact_sample_scores(reference, pool[:4_010], 4_000, 32, 300.0, seed=0)
