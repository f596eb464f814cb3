"""The teacher flow: exact inverses, log-dets against autograd, normalisation, forces."""

import copy
import math

import numpy as np
import pytest
import torch

from cgflow import cgnet, flows, generalised, training
from cgflow.geometry import energy_and_forces
from cgflow.units import kT


@pytest.fixture(autouse=True)
def double_precision():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def chains(n, seed=0):
    """Five-bead chains: bonds 0.15 +- 0.005 nm, angles 1.95 +- 0.1 rad, two torsions with a
    known bimodal distribution (von Mises mixtures)."""
    rng = np.random.default_rng(seed)
    bonds = rng.normal(0.15, 0.005, (n, 4))
    angles = rng.normal(1.95, 0.1, (n, 3))
    phi = np.where(rng.random(n) < 0.7, rng.vonmises(-1.5, 4.0, n), rng.vonmises(1.0, 6.0, n))
    psi = rng.vonmises(2.5, 3.0, n) + 0.3 * np.sin(phi)
    psi = (psi + np.pi) % (2 * np.pi) - np.pi
    from cgflow.geometry import ChainIC

    return ChainIC(5).inverse(torch.tensor(np.concatenate([bonds, angles, phi[:, None], psi[:, None]], axis=1)))


@pytest.fixture(scope="module", params=sorted(flows.STRUCTURES))
def flow(request):
    torch.manual_seed(0)
    with torch.no_grad():
        torch.set_default_dtype(torch.float64)
        config = flows.FlowConfig(n_beads=5, n_blocks=2, n_components=4, hidden=32, structure=request.param)
        model = flows.AugmentedFlow.from_data(chains(2000), config)
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))  # away from the identity-like start
    return model


def test_coupling_layers_invert_and_their_log_det_matches_autograd(flow):
    z = torch.cat([torch.randn(4, 7), torch.rand(4, 2) * 2 * math.pi - math.pi, torch.randn(4, 2)], dim=1)
    for layer in flow.transform._transforms:
        out, log_det = layer(z)
        back, inverse_log_det = layer.inverse(out)
        assert torch.allclose(torch.cos(back - z), torch.ones_like(z), atol=1e-10)
        assert torch.allclose(log_det + inverse_log_det, torch.zeros(4), atol=1e-8)
        for i in range(2):
            jacobian = torch.autograd.functional.jacobian(lambda v: layer(v[None])[0][0], z[i])
            assert float(torch.linalg.slogdet(jacobian)[1]) == pytest.approx(float(log_det[i].detach()), abs=1e-8)


def test_samples_carry_their_own_energies(flow, device):
    moved = copy.deepcopy(flow).to(device)
    sample = moved.sample(64, generator=torch.Generator().manual_seed(2))
    recomputed = -kT(300.0) * moved.log_prob(sample.positions, sample.eta).detach()
    assert torch.allclose(recomputed, sample.energy, atol=1e-4)  # Newton inverse to ~1e-12 rad/nm
    # A CPU generator draws the same base samples whatever the flow's device.
    on_cpu = flow.sample(64, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(sample.positions.cpu(), on_cpu.positions, atol=1e-9)
    assert torch.isfinite(sample.forces).all()


def test_a_teacher_sample_trains_a_student_as_it_comes(flow, device):
    """Flow-matching's hand-over: the teacher's sample tensors, on the teacher's device, go
    straight into the student's prior fit and force matching (no NumPy round trip)."""
    teacher = copy.deepcopy(flow).to(device)
    sample = teacher.sample(256, generator=torch.Generator().manual_seed(0))
    assert sample.positions.device.type == device.type
    student = cgnet.CGNet.from_data(sample.positions, cgnet.CGNetConfig(n_beads=5, width=16, depth=2)).to(device)
    history = student.fit(sample.positions, sample.forces, config=training.TrainingConfig(epochs=2, batch_size=64, patience=None))
    assert len(history.train) == 2 and np.isfinite(history.train).all()
    assert next(student.parameters()).device.type == device.type


def test_density_integrates_to_one_by_quadrature():
    # Coupling layers on one real and one circular variable, away from the identity: the
    # density in the base space pulled back integrates to 1 (a 600 x 600 grid on
    # [-9, 9] x [-pi, pi); the base mass outside |z| < 9 is negligible for these layers).
    from nflows.transforms.base import CompositeTransform

    torch.manual_seed(9)
    layers = [flows.SmoothCoupling(np.array([False, True]), np.array([k % 2 == 0, k % 2 == 1]), 4, 16) for k in range(4)]
    transform = CompositeTransform(layers).double()
    with torch.no_grad():
        for parameter in transform.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
        x = torch.linspace(-9, 9, 601)
        x = 0.5 * (x[1:] + x[:-1])
        theta = torch.linspace(-math.pi, math.pi, 601)[:-1] + math.pi / 600
        grid = torch.stack(torch.meshgrid(x, theta, indexing="ij"), dim=-1).reshape(-1, 2)
        z, log_det = transform(grid)
        log_p = -0.5 * z[:, 0] ** 2 - 0.5 * math.log(2 * math.pi) - math.log(2 * math.pi) + log_det
        total = float(torch.exp(log_p).sum() * (18 / 600) * (2 * math.pi / 600))
    assert total == pytest.approx(1.0, abs=0.005)


def test_forces_are_minus_the_energy_gradient_and_invariant(flow):
    x, eta = chains(3, seed=4), torch.randn(3, 2)
    energy, forces = flow.energy_and_forces(x, eta)
    step = 1e-6
    for frame, bead, axis in [(0, 0, 0), (1, 2, 1), (2, 4, 2)]:
        plus, minus = x.clone(), x.clone()
        plus[frame, bead, axis] += step
        minus[frame, bead, axis] -= step
        derivative = (flow.energy_and_forces(plus, eta)[0] - flow.energy_and_forces(minus, eta)[0])[frame] / (2 * step)
        assert float(forces[frame, bead, axis]) == pytest.approx(-float(derivative), rel=1e-5, abs=1e-4)
    rotation = torch.linalg.matrix_exp(torch.tensor([[0.0, -0.4, 1.0], [0.4, 0.0, 0.3], [-1.0, -0.3, 0.0]]))
    moved = x @ rotation.T + torch.tensor([1.0, 2.0, -3.0])
    assert torch.allclose(flow.energy_and_forces(moved, eta)[0], energy, atol=1e-8)


def test_torsions_first_flow_lets_the_augmented_channels_act_on_torsions_only(flow):
    # p(x, eta) = p(bonds | angles, torsions) p(angles | torsions) p(torsions, eta): changing
    # eta changes the generalised forces along the torsions and nowhere else.
    x = chains(6, seed=8)
    first, second = (flow.energy_and_forces(x, torch.randn(6, 2))[1] for _ in range(2))
    projection = generalised.internal_projection(x)
    change = generalised.generalised_forces(second - first, projection)
    kinds = generalised.coordinate_kinds(5)
    assert change[:, kinds["dihedrals"]].abs().max() > 1e-3   # eta matters
    stiff = change[:, kinds["bonds"].start : kinds["angles"].stop].abs().max()
    if flow.config.structure == "torsions-first":
        assert stiff < 1e-9   # double precision round-off of a 9 x 9 solve
    else:
        assert stiff > 1e-3


def test_marginal_force_is_the_eta_average_of_eq_10(flow):
    """The marginal free energy F(x) = -kT log p(x) by importance sampling over eta:
    with one draw it is the joint energy plus kT log N(eta) and its force the joint force;
    its forces are -dF/dx; with many draws it approaches F and -dF/dx computed by quadrature
    over eta (a 161 x 161 grid on [-8, 8]^2; the base mass beyond 8 sigma is negligible)."""
    x = chains(3, seed=12)
    energy, forces, ess = flow.marginal_energy_and_forces(x, n_eta=1, generator=torch.Generator().manual_seed(3))
    eta = torch.randn(3, 2, generator=torch.Generator().manual_seed(3))
    joint_energy, joint_forces = flow.energy_and_forces(x, eta)
    assert torch.allclose(energy, joint_energy + kT(300.0) * flows.standard_normal_log_prob(eta), atol=1e-9)
    assert torch.allclose(forces, joint_forces, atol=1e-9) and torch.equal(ess, torch.ones(3))

    step = 1e-6
    plus, minus = x.clone(), x.clone()
    plus[1, 3, 0] += step
    minus[1, 3, 0] -= step
    energy, forces, ess = flow.marginal_energy_and_forces(x, n_eta=16, generator=torch.Generator().manual_seed(4))
    shifted = [flow.marginal_energy_and_forces(y, n_eta=16, generator=torch.Generator().manual_seed(4))[0][1] for y in (plus, minus)]
    assert float(forces[1, 3, 0]) == pytest.approx(-float(shifted[0] - shifted[1]) / (2 * step), rel=1e-5, abs=1e-4)
    assert ((ess >= 1.0) & (ess <= 16.0)).all()

    grid = torch.linspace(-8.0, 8.0, 161)
    etas = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), dim=-1).reshape(-1, 2)
    cell = float(grid[1] - grid[0]) ** 2

    def exact(positions):  # -kT log of the quadrature of p(x, eta) over eta
        log_p = flow.log_prob(positions.repeat_interleave(len(etas), dim=0), etas.repeat(len(positions), 1))
        return -kT(300.0) * (torch.logsumexp(log_p.reshape(len(positions), -1), dim=1) + math.log(cell))

    exact_energy, exact_forces = energy_and_forces(exact, x)
    energy, forces, _ = flow.marginal_energy_and_forces(x, n_eta=4096, generator=torch.Generator().manual_seed(5))
    print("free-energy error (kJ/mol)", (energy - exact_energy).tolist(), "force error (kJ/mol/nm)",
          float((forces - exact_forces).abs().max()), "force scale", float(exact_forces.abs().max()))
    assert torch.allclose(energy, exact_energy, atol=0.1)   # measured errors 0.01-0.04 kJ/mol (the log of a 4096-draw mean)
    assert float((forces - exact_forces).abs().max()) < 0.01 * float(exact_forces.abs().max())


def test_structures_check_their_coordinates():
    with pytest.raises(ValueError, match="structure must be one of"):
        flows.FlowConfig(n_beads=5, structure="spiral")
    with pytest.raises(ValueError, match="needs internal coordinates"):
        flows.FlowConfig(n_beads=2, coordinates="standardised", structure="torsions-first")


def test_checkpoint_round_trip(flow, tmp_path):
    flow.save(tmp_path / "flow.pt")
    loaded = flows.AugmentedFlow.load(tmp_path / "flow.pt").double()
    x, eta = chains(5, seed=5), torch.randn(5, 2)
    assert torch.allclose(loaded.log_prob(x, eta), flow.log_prob(x, eta))
    content = torch.load(tmp_path / "flow.pt", weights_only=True)
    content["config"]["n_augmented"] = 3
    torch.save(content, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="does not fit"):
        flows.AugmentedFlow.load(tmp_path / "other.pt")


def test_post_processing_filter_reweight_and_ess(flow):
    sample = flow.sample(200, generator=torch.Generator().manual_seed(10))
    largest = torch.linalg.vector_norm(sample.forces, dim=-1).amax(-1)
    threshold = float(largest.median())
    kept, fraction = flows.filter_by_force(sample, threshold)
    assert len(kept) == int((largest <= threshold).sum()) and fraction == pytest.approx(len(kept) / 200)
    assert torch.linalg.vector_norm(kept.forces, dim=-1).amax() <= threshold

    def harmonic_end_to_end(x):  # a bias (kJ/mol) on the end-to-end distance (nm)
        return 500.0 * (torch.linalg.vector_norm(x[:, -1] - x[:, 0], dim=-1) - 0.4) ** 2

    reweighted, weights = flows.reweight(sample, harmonic_end_to_end, 300.0)
    expected = torch.softmax(-harmonic_end_to_end(sample.positions) / kT(300.0), dim=0)
    assert torch.allclose(weights, expected) and float(weights.sum()) == pytest.approx(1.0)
    # Forces of the reweighted ensemble are minus the gradient of the biased energy.
    eta = sample.eta[:3]
    x = sample.positions[:3].clone().requires_grad_(True)
    total = -kT(300.0) * flow.log_prob(x, eta) + harmonic_end_to_end(x)
    (gradient,) = torch.autograd.grad(total.sum(), x)
    assert torch.allclose(reweighted.forces[:3], -gradient, atol=1e-6)
    assert flows.effective_sample_size(torch.ones(50)) == pytest.approx(50.0)
    assert flows.effective_sample_size(torch.tensor([1.0, 0.0, 0.0])) == pytest.approx(1.0)
    assert 1.0 <= flows.effective_sample_size(weights) <= 200.0
    with pytest.raises(ValueError, match="non-negative"):
        flows.effective_sample_size(torch.tensor([1.0, -1.0]))


def test_training_recovers_a_known_torsion_distribution(device):
    """Maximum likelihood on 4000 synthetic chains (bimodal phi, psi coupled to phi): the
    flow's torsion histogram approaches the true one. Measured KL (20 x 20 bins, 6000
    samples; the estimator's own floor is ~0.03) with learning rate 5e-3: 0.08 (seed 11, this test), 0.11 (3), 0.07 (6)
    after training, against 1.08 for the untrained flow; the test requires < 0.15. (At 1e-2
    the outcome depended on the seed and the CPU: 0.06-0.16 over seeds 3, 6, 11.)"""
    from cgflow import analysis
    from cgflow.geometry import dihedrals

    torch.set_default_dtype(torch.float32)
    torch.manual_seed(11)
    data = chains(5000, seed=11).float()
    quadruples = [[0, 1, 2, 3], [1, 2, 3, 4]]
    reference = dihedrals(chains(20000, seed=8), quadruples).numpy()
    model = flows.AugmentedFlow.from_data(data, flows.FlowConfig(n_beads=5, n_blocks=3, n_components=8, hidden=64)).to(device)

    def kl():
        generated = dihedrals(model.sample(6000, generator=torch.Generator().manual_seed(7)).positions.cpu(), quadruples).numpy()
        return analysis.kl_divergence(reference, generated, bins=20, range=analysis.RAMACHANDRAN_RANGE)

    before = kl()
    config = training.TrainingConfig(epochs=20, batch_size=128, learning_rate=5e-3, patience=None, max_gradient_norm=10.0)
    history = model.fit(data[:4000], data[4000:], config)
    assert history.validation[-1] < history.validation[0]
    after = kl()
    print(f"KL(reference || flow) before {before:.3f}, after {after:.3f}")
    assert before > 0.3
    assert after < 0.15


def test_standardised_coordinates_flow_round_trips_and_checks_shapes():
    torch.manual_seed(1)
    x = torch.randn(500, 1) * 0.7 + 0.3
    flow = flows.AugmentedFlow.from_data(x, flows.FlowConfig(n_beads=1, coordinates="standardised", n_blocks=2, n_components=4, hidden=8))
    assert torch.allclose(flow.coordinates.inverse(flow.coordinates(x)[0]), x, atol=1e-12)
    sample = flow.sample(32, generator=torch.Generator().manual_seed(0))
    assert sample.positions.shape == (32, 1) and sample.forces.shape == (32, 1)
    energy, forces = flow.energy_and_forces(sample.positions, sample.eta)
    h = 1e-6
    numeric = -(flow.energy_and_forces(sample.positions + h, sample.eta)[0] - flow.energy_and_forces(sample.positions - h, sample.eta)[0]) / (2 * h)
    assert torch.allclose(forces[:, 0], numeric, atol=1e-5)
    with pytest.raises(ValueError, match=r"expected values \[n, 1\]"):
        flow.coordinates.fit(torch.randn(10, 2))
    with pytest.raises(ValueError, match="coordinates must be one of"):
        flows.FlowConfig(n_beads=1, coordinates="cartesian")
    with pytest.raises(ValueError, match="condition on some others"):
        flows.AugmentedFlow(flows.FlowConfig(n_beads=1, coordinates="standardised", n_augmented=0))
