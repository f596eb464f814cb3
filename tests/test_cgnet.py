"""CGNet: forces are minus the energy gradient, invariances, prior fits, checkpoints, training."""

import copy

import numpy as np
import pytest
import torch

from cgflow import cgnet, geometry, training
from cgflow.units import kT

T = 300.0


def rotation(angle, axis):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def random_chains(n_frames=2000, n_beads=5, seed=0):
    """Chains with bonds 0.15 +- 0.005 nm, angles 1.9 +- 0.15 rad and uniform dihedrals, built
    bead by bead from these internal coordinates (float64, nm)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n_frames, n_beads, 3))
    x[:, 1, 0] = rng.normal(0.15, 0.005, n_frames)
    theta = rng.normal(1.9, 0.15, n_frames)
    x[:, 2] = x[:, 1] + rng.normal(0.15, 0.005, (n_frames, 1)) * np.stack([-np.cos(theta), np.sin(theta), np.zeros(n_frames)], axis=1)
    for b in range(3, n_beads):
        bond, angle, torsion = rng.normal(0.15, 0.005, n_frames), rng.normal(1.9, 0.15, n_frames), rng.uniform(-np.pi, np.pi, n_frames)
        a, c, d = x[:, b - 3], x[:, b - 2], x[:, b - 1]
        u = (d - c) / np.linalg.norm(d - c, axis=1, keepdims=True)
        normal = np.cross(c - a, u)
        normal /= np.linalg.norm(normal, axis=1, keepdims=True)
        in_plane = np.cross(normal, u)
        local = np.stack([-np.cos(angle), np.sin(angle) * np.cos(torsion), np.sin(angle) * np.sin(torsion)], axis=1)
        x[:, b] = d + bond[:, None] * (local[:, :1] * u + local[:, 1:2] * in_plane + local[:, 2:] * normal)
    return x


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    with torch.random.fork_rng():
        torch.set_default_dtype(torch.float64)
        try:
            net = cgnet.CGNet.from_data(random_chains(), cgnet.CGNetConfig(n_beads=5, width=32, depth=2, repulsion_min_separation=3))
        finally:
            torch.set_default_dtype(torch.float32)
    return net.double()


def test_forces_are_minus_the_energy_gradient(model, device):
    model = copy.deepcopy(model).to(device)
    x = torch.tensor(random_chains(4, seed=1), dtype=torch.float64, device=device)
    _, forces = model.energy_and_forces(x)
    step = 1e-6
    for frame, bead, axis in [(0, 0, 0), (1, 2, 1), (2, 4, 2), (3, 3, 0)]:
        plus, minus = x.clone(), x.clone()
        plus[frame, bead, axis] += step
        minus[frame, bead, axis] -= step
        derivative = (model.energy(plus)[frame] - model.energy(minus)[frame]) / (2 * step)
        assert float(forces[frame, bead, axis]) == pytest.approx(-float(derivative.detach()), rel=1e-6, abs=1e-6)


def test_the_compiled_force_field_equals_the_eager_one_and_falls_back_when_compilation_fails(model, monkeypatch):
    x = torch.tensor(random_chains(6, seed=2), dtype=torch.float64)
    energy, forces = model.energy_and_forces(x)
    compiled_energy, compiled_forces = model.compiled_force_field()(x)
    # float64 throughout: fused kernels only reorder sums, so agreement is at rounding level
    assert torch.allclose(compiled_energy, energy, rtol=1e-10, atol=1e-10)
    assert torch.allclose(compiled_forces, forces, rtol=1e-10, atol=1e-10)

    def failing(function, **options):
        def fails(x):
            raise RuntimeError("no compiler")
        return fails

    monkeypatch.setattr(torch, "compile", failing)
    force_field = model.compiled_force_field()
    with pytest.warns(UserWarning, match="torch.compile failed"):
        assert torch.equal(force_field(x)[1], forces)
    assert torch.equal(force_field(x)[1], forces)  # eager from then on, without a second warning
    with pytest.raises(ValueError, match="shape"):
        force_field(x[:, :3])  # real errors still surface


def test_energy_is_invariant_to_rigid_motion_but_not_to_mirroring(model):
    x = random_chains(8, seed=2)
    moved = x @ rotation(2.0, [0.3, -1, 0.5]).T + np.array([1.0, -2.0, 0.5])
    energy = model.energy(torch.tensor(x)).detach()
    assert torch.allclose(model.energy(torch.tensor(moved)).detach(), energy, rtol=0, atol=1e-9)
    mirrored = model.energy(torch.tensor(x * np.array([1.0, 1.0, -1.0]))).detach()
    assert (mirrored - energy).abs().max() > 1e-3


def test_chain_geometry_equals_the_generic_geometry_functions():
    # The chain geometry takes slices by separation; the generic functions gather bead indices.
    x = torch.tensor(random_chains(6, seed=4))
    result = cgnet.ChainGeometry(5)(x)
    _, triples, quadruples = geometry.chain_indices(5)
    pairs = cgnet.ChainGeometry(5).pairs()
    assert sorted(map(tuple, pairs)) == sorted(zip(*np.triu_indices(5, k=1)))  # every pair once
    torch.testing.assert_close(result["distances"], geometry.distances(x, pairs), rtol=0, atol=1e-12)
    torch.testing.assert_close(result["angles"], geometry.angles(x, triples), rtol=0, atol=1e-12)
    torch.testing.assert_close(result["dihedrals"], geometry.dihedrals(x, quadruples), rtol=0, atol=1e-12)
    assert cgnet.ChainGeometry(5).separation().tolist() == [1, 1, 1, 1, 2, 2, 2, 3, 3, 4]


def test_featurizer_is_continuous_across_the_dihedral_branch_cut():
    featurizer, geometry = cgnet.Featurizer(4), cgnet.ChainGeometry(4)
    near = []
    for torsion in (np.pi - 1e-6, -np.pi + 1e-6):
        x = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [np.cos(torsion), 1.0, -np.sin(torsion)]])
        near.append(featurizer(geometry(torch.tensor(x[None], dtype=torch.float64))))
    assert torch.allclose(near[0], near[1], atol=1e-5)


def test_harmonic_prior_recovers_known_parameters():
    # Three beads: bond 0-1 ~ N(0.38, kT/k_b), angle ~ N(1.9, kT/k_a); sampled exactly.
    rng = np.random.default_rng(4)
    n, k_bond, r0, k_angle, theta0 = 200_000, 5.0e4, 0.38, 200.0, 1.9
    r = rng.normal(r0, np.sqrt(kT(T) / k_bond), n)
    theta = rng.normal(theta0, np.sqrt(kT(T) / k_angle), n)
    x = np.zeros((n, 3, 3))
    x[:, 0, 0] = -r
    x[:, 2] = rng.normal(0.38, 0.005, (n, 1)) * np.stack([-np.cos(theta), np.sin(theta), np.zeros(n)], axis=1)
    prior = cgnet.Prior(3).fit(torch.tensor(x), T)
    bonds, angles = prior.terms[0], prior.terms[1]
    # Relative error of a variance from n samples: sqrt(2/n) = 0.3%; allow 1.5%.
    assert float(bonds.q0[0]) == pytest.approx(r0, rel=1e-3)
    assert float(bonds.stiffness[0]) == pytest.approx(k_bond, rel=0.015)
    assert float(angles.q0[0]) == pytest.approx(theta0, rel=1e-3)
    assert float(angles.stiffness[0]) == pytest.approx(k_angle, rel=0.015)


def test_dihedral_prior_recovers_a_known_fourier_potential():
    # Sample phi from exp(-V/kT), V = 3 cos(phi) - 2 sin(2 phi) kJ/mol, by inverse CDF.
    grid = np.linspace(-np.pi, np.pi, 100_001)
    potential = 3 * np.cos(grid) - 2 * np.sin(2 * grid)
    cdf = np.cumsum(np.exp(-potential / kT(T)))
    phi = np.interp(np.random.default_rng(5).random(400_000) * cdf[-1], cdf, grid)
    x = np.zeros((len(phi), 4, 3))
    x[:, 0] = [1.0, 0.0, 0.0]
    x[:, 2] = [0.0, 1.0, 0.0]
    x[:, 3] = np.stack([np.cos(phi), np.ones_like(phi), -np.sin(phi)], axis=1)
    terms = cgnet.DihedralTerms(1, order=3).fit(cgnet.ChainGeometry(4)(torch.tensor(x)), T)
    np.testing.assert_allclose(terms.cos_coefficients[0].numpy(), [3.0, 0.0, 0.0], atol=0.1)
    np.testing.assert_allclose(terms.sin_coefficients[0].numpy(), [0.0, -2.0, 0.0], atol=0.1)


def test_a_coordinate_without_spread_cannot_be_fitted():
    x = random_chains(100, n_beads=3, seed=9)
    x[:, 1] = x[:, 0] + np.array([0.15, 0.0, 0.0])  # bond 0-1 constrained to exactly 0.15 nm
    with pytest.raises(ValueError, match="bond 0 does not vary"):
        cgnet.Prior(3).fit(torch.tensor(x), T)


def test_repulsion_is_kT_at_the_closest_distance_seen():
    x = random_chains(500, n_beads=5, seed=6)
    terms = cgnet.Prior(5, repulsion_min_separation=3).fit(torch.tensor(x), T).terms[3]
    closest = geometry.distances(x, cgnet.nonbonded_pairs(5, 3)).min(0).values
    np.testing.assert_allclose(terms.sigma.numpy(), closest.numpy())


def test_consecutive_prior_columns_are_sliced_and_give_what_gathering_them_gives():
    x = torch.tensor(random_chains(200, n_beads=6, seed=8), requires_grad=True)
    prior = cgnet.Prior(6, repulsion_min_separation=3).fit(x.detach(), T)
    bonds, angles, _, repulsion = prior.terms
    assert (bonds.span, angles.span, repulsion.span) == (slice(0, 5), slice(0, 4), slice(9, 15))  # pairs of separation 3-5
    assert cgnet.ColumnTerms(np.array([0, 2])).span is None
    sliced = prior(x)
    (sliced_gradient,) = torch.autograd.grad(sliced.sum(), x)
    for term in (bonds, angles, repulsion):
        term.span = None  # gather the same columns
    gathered = prior(x)
    (gathered_gradient,) = torch.autograd.grad(gathered.sum(), x)
    assert torch.equal(sliced, gathered) and torch.equal(sliced_gradient, gathered_gradient)


def test_a_chain_is_clear_of_the_repulsion_only_where_the_fitted_data_reach():
    fitted, other = random_chains(500, n_beads=6, seed=6), random_chains(500, n_beads=6, seed=7)
    prior = cgnet.Prior(6, repulsion_min_separation=3).fit(torch.tensor(fitted), T)
    assert prior.clear_of_repulsion(torch.tensor(fitted)).all()  # every pair at or beyond its closest approach
    sigma = prior.terms[3].sigma
    closest = geometry.distances(other, cgnet.nonbonded_pairs(6, 3))
    np.testing.assert_array_equal(prior.clear_of_repulsion(torch.tensor(other)).numpy(), (closest >= sigma).all(-1).numpy())
    squeezed = fitted[:1].copy()
    squeezed[0, 5] = squeezed[0, 0] + 0.9 * float(sigma[0]) * np.array([1.0, 0.0, 0.0])  # beads 0 and 5 inside the core
    assert not prior.clear_of_repulsion(torch.tensor(squeezed)).any()
    assert cgnet.Prior(6).fit(torch.tensor(fitted), T).clear_of_repulsion(torch.tensor(squeezed)).all()  # no repulsion term


def test_checkpoint_round_trip_and_clear_errors(model, tmp_path):
    path = tmp_path / "cgnet.pt"
    model.float().save(path)
    loaded = cgnet.CGNet.load(path)
    x = torch.tensor(random_chains(16, seed=7), dtype=torch.float32)
    assert torch.equal(loaded.energy(x), model.energy(x))
    model.double()
    training.save_checkpoint(tmp_path / "other.pt", "AugmentedFlow", {}, {})
    with pytest.raises(ValueError, match="holds a AugmentedFlow, not a CGNet"):
        cgnet.CGNet.load(tmp_path / "other.pt")
    content = torch.load(path, weights_only=True)
    content["format"] = 0
    torch.save(content, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="checkpoint format 0"):
        cgnet.CGNet.load(tmp_path / "old.pt")
    content = torch.load(path, weights_only=True)
    content["config"]["width"] = 64
    torch.save(content, tmp_path / "mismatch.pt")
    with pytest.raises(ValueError, match="does not fit"):
        cgnet.CGNet.load(tmp_path / "mismatch.pt")
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable cgflow checkpoint"):
        cgnet.CGNet.load(tmp_path / "broken.pt")


@pytest.mark.parametrize("loss", ["generalised", "cartesian"])
def test_force_matching_learns_a_known_force_field(device, loss):
    # Target: the fitted prior plus a smooth coupling of the two dihedrals. After training
    # with either loss the network must explain most of the force variance the prior alone
    # cannot (measured as the Cartesian force error on held-out frames).
    torch.manual_seed(8)
    x = torch.tensor(random_chains(3000, seed=8), dtype=torch.float32)
    config = cgnet.CGNetConfig(n_beads=5, width=32, depth=2)
    target = cgnet.CGNet.from_data(x, config)

    def target_energy(y):
        phi = geometry.dihedrals(y, [[0, 1, 2, 3], [1, 2, 3, 4]])
        return target.prior(y) + 4.0 * torch.cos(phi[:, 0] - phi[:, 1])

    y = x.clone().requires_grad_(True)
    forces = -torch.autograd.grad(target_energy(y).sum(), y)[0]
    y = x.clone().requires_grad_(True)
    prior_forces = -torch.autograd.grad(target.prior(y).sum(), y)[0]
    prior_only = float(((prior_forces[2400:] - forces[2400:]) ** 2).mean())
    student = cgnet.CGNet.from_data(x, config)
    student.to(device).fit(
        x[:2400], forces[:2400], validation=(x[2400:], forces[2400:]),
        config=training.TrainingConfig(epochs=30, batch_size=128, learning_rate=3e-3, patience=None), lipschitz=10.0, loss=loss,
    )
    learned = student.cpu().energy_and_forces(x[2400:])[1]
    error = float(((learned - forces[2400:]) ** 2).mean())
    assert error < 0.1 * prior_only, (error, prior_only)
    for weight in student.network.weights:
        assert float(torch.linalg.matrix_norm(weight.detach(), ord=2).max()) <= 10.0 + 1e-4


def test_ensemble_energy_is_the_prior_plus_the_members_mean_and_members_train_alone():
    x = torch.tensor(random_chains(64, seed=3), dtype=torch.float64)
    model = cgnet.CGNet.from_data(x, cgnet.CGNetConfig(n_beads=5, width=16, depth=2, members=3)).double()
    energies, forces = model.member_energies_and_forces(x)
    prior = model.prior(x).detach()
    for k in range(3):
        single = model.network(model.featurizer(model.prior.geometry(x)))[k].detach()
        torch.testing.assert_close(energies[k], prior + single, rtol=1e-12, atol=1e-9)
        y = x.clone().requires_grad_(True)
        energy_k = model.prior(y) + model.network(model.featurizer(model.prior.geometry(y)))[k]
        torch.testing.assert_close(forces[k], -torch.autograd.grad(energy_k.sum(), y)[0], rtol=1e-12, atol=1e-9)
    torch.testing.assert_close(model.energy(x).detach(), energies.mean(0), rtol=1e-12, atol=1e-9)
    # Each member its own batch (as in training): member k's rows are its energies there.
    own = torch.stack([x[:20], x[20:40], x[40:60]])
    own_energies, own_forces = model.member_energies_and_forces(own)
    for k in range(3):
        energies_k, forces_k = model.member_energies_and_forces(own[k])
        torch.testing.assert_close(own_energies[k], energies_k[k], rtol=1e-12, atol=1e-9)
        torch.testing.assert_close(own_forces[k], forces_k[k], rtol=1e-12, atol=1e-9)
    with pytest.raises(ValueError, match="need 3 batches"):
        model.member_energies_and_forces(own[:2])
    torch.testing.assert_close(model.energy_and_forces(x)[1], forces.mean(0), rtol=1e-12, atol=1e-9)
    # The loss is the mean of the members' own losses: a target equal to member 1's forces
    # leaves member 1 without a gradient, while the others still learn. (A loss on the
    # averaged force would move member 1 too.)
    loss = cgnet.force_matching_loss(model, x, forces[1].detach(), torch.ones(len(x), dtype=x.dtype))
    loss.backward()
    for weight in model.network.weights:
        assert float(weight.grad[1].abs().max()) < 1e-12
        assert float(weight.grad[0].abs().max()) > 1e-6 and float(weight.grad[2].abs().max()) > 1e-6


def test_shape_errors():
    net = cgnet.CGNet(cgnet.CGNetConfig(n_beads=5, width=8, depth=1))
    with pytest.raises(ValueError, match=r"\[batch, 5, 3\]"):
        net.energy(torch.zeros(2, 4, 3))
    with pytest.raises(ValueError, match="activation"):
        cgnet.CGNet(cgnet.CGNetConfig(n_beads=5, activation="relu"))
    with pytest.raises(ValueError, match="differ in shape"):
        net.fit(np.zeros((4, 5, 3)), np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="loss must be"):
        net.fit(np.zeros((4, 5, 3)), np.zeros((4, 5, 3)), loss="huber")


def test_an_ensemble_of_four_halves_the_seed_spread_of_the_learned_energy():
    # Fit noisy forces (a smooth dihedral coupling plus noise ten times larger) with 8 seeds,
    # once with one network and once with four members; compare the spread over seeds of the
    # learned energy differences on held-out configurations. Independent members average to
    # a spread of 1/sqrt(4) = 0.5 of one network's; 8 seeds estimate each spread to about
    # 25 %, so the bound 0.75 leaves two standard errors of room.
    x = torch.tensor(random_chains(300, seed=11), dtype=torch.float32)
    test = torch.tensor(random_chains(64, seed=12), dtype=torch.float32)
    prior_model = cgnet.CGNet.from_data(x, cgnet.CGNetConfig(n_beads=5, width=8, depth=1))

    def target_energy(y):
        phi = geometry.dihedrals(y, [[0, 1, 2, 3], [1, 2, 3, 4]])
        return prior_model.prior(y) + 4.0 * torch.cos(phi[:, 0] - phi[:, 1])

    y = x.clone().requires_grad_(True)
    clean = -torch.autograd.grad(target_energy(y).sum(), y)[0]
    noisy = clean + 10.0 * clean.std() * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))

    def spread(members):
        energies = []
        for seed in range(8):
            torch.manual_seed(seed)
            model = cgnet.CGNet.from_data(x, cgnet.CGNetConfig(n_beads=5, width=32, depth=2, members=members))
            model.fit(x, noisy, config=training.TrainingConfig(epochs=10, batch_size=100, learning_rate=3e-3, patience=None, seed=seed))
            with torch.no_grad():
                energy = model.energy(test)
            energies.append(energy - energy.mean())
        return float(torch.stack(energies).std(0).mean())

    single, ensemble = spread(1), spread(4)
    assert ensemble < 0.75 * single, (ensemble, single)
