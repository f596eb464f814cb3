"""Smooth transforms: exact inverses, log-derivatives against autograd, periodicity, smoothness."""

import math

import numpy as np
import pytest
import torch

from cgflow import transforms


@pytest.fixture(autouse=True)
def double_precision():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def parameters(kind, dim=3, components=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    count = transforms.real_parameter_count(components) if kind == "real" else transforms.circle_parameter_count(components)
    return 1.5 * torch.randn(dim, count, generator=generator)


def test_real_round_trip_and_log_derivative():
    p = parameters("real")
    x = torch.linspace(-6, 6, 301)[:, None].repeat(1, 3)
    y, log_derivative = transforms.mixture_cdf_real(x, p)
    np.testing.assert_allclose(transforms.mixture_cdf_real_inverse(y, p), x, atol=1e-9)
    x_grad = x.clone().requires_grad_(True)
    (derivative,) = torch.autograd.grad(transforms.mixture_cdf_real(x_grad, p)[0].sum(), x_grad)
    np.testing.assert_allclose(log_derivative, torch.log(derivative), atol=1e-10)
    assert (derivative > 0).all()


def test_real_tails_are_linear_not_clipped():
    p = parameters("real", dim=1)
    x = torch.tensor([[-60.0], [-40.0], [40.0], [60.0]])
    y, log_derivative = transforms.mixture_cdf_real(x, p)
    assert torch.isfinite(y).all() and torch.isfinite(log_derivative).all()
    slopes = torch.exp(log_derivative)
    assert torch.allclose(slopes[0], slopes[1], rtol=1e-3) and torch.allclose(slopes[2], slopes[3], rtol=1e-3)
    np.testing.assert_allclose(transforms.mixture_cdf_real_inverse(y, p), x, atol=1e-7)


def test_circle_round_trip_log_derivative_and_range():
    p = parameters("circle")
    theta = torch.linspace(-math.pi, math.pi, 401)[:-1, None].repeat(1, 3)
    phi, log_derivative = transforms.moebius_mixture_circle(theta, p)
    assert (phi >= -math.pi).all() and (phi < math.pi).all()
    back = transforms.moebius_mixture_circle_inverse(phi, p)
    # Compare on the circle.
    np.testing.assert_allclose(torch.cos(back - theta), 1.0, atol=1e-12)
    theta_grad = theta.clone().requires_grad_(True)
    out = transforms.moebius_mixture_circle(theta_grad, p)[0]
    # The output wraps at +-pi; differentiate the unwrapped sine and cosine instead.
    (d_sin,) = torch.autograd.grad(torch.sin(out).sum(), theta_grad, retain_graph=True)
    (d_cos,) = torch.autograd.grad(torch.cos(out).sum(), theta_grad)
    derivative = (d_sin * torch.cos(out) - d_cos * torch.sin(out)).detach()
    np.testing.assert_allclose(log_derivative, torch.log(derivative), atol=1e-10)


def test_circle_map_and_its_density_are_smooth_across_the_boundary():
    p = parameters("circle", dim=1, seed=3)
    eps = 1e-7
    theta = torch.tensor([[math.pi - eps], [-math.pi + eps]])
    phi, log_derivative = transforms.moebius_mixture_circle(theta, p)
    # The map is continuous on the circle and so is its log derivative (the density term).
    assert float(torch.cos(phi[0] - phi[1])) == pytest.approx(1.0, abs=1e-10)
    assert float(log_derivative[0] - log_derivative[1]) == pytest.approx(0.0, abs=1e-5)
    # Its gradient (a force term) too: d/dtheta of the log derivative at both sides.
    theta = theta.clone().requires_grad_(True)
    (slope,) = torch.autograd.grad(transforms.moebius_mixture_circle(theta, p)[1].sum(), theta)
    assert float(slope[0] - slope[1]) == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("kind", ["real", "circle"])
def test_second_derivatives_agree_with_finite_differences(kind):
    """Forces come from gradients of log-derivatives: those must be smooth. Finite
    differences of the autograd gradient match autograd second derivatives."""
    p = parameters(kind, dim=1, seed=5)
    function = transforms.mixture_cdf_real if kind == "real" else transforms.moebius_mixture_circle
    x = torch.linspace(-2.5, 2.5, 41)[:, None].requires_grad_(True)
    (first,) = torch.autograd.grad(function(x, p)[1].sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), x)
    step = 1e-5
    plus, minus = (x + step).detach().requires_grad_(True), (x - step).detach().requires_grad_(True)
    (g_plus,) = torch.autograd.grad(function(plus, p)[1].sum(), plus)
    (g_minus,) = torch.autograd.grad(function(minus, p)[1].sum(), minus)
    np.testing.assert_allclose(second, (g_plus - g_minus) / (2 * step), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["real", "circle"])
def test_nflows_transform_inverse_and_log_det(kind):
    transform = transforms.ElementwiseTransform(3, kind=kind).double()
    x = torch.rand(50, 3) * 4 - 2
    z, log_det = transform(x)
    back, inverse_log_det = transform.inverse(z)
    if kind == "real":
        np.testing.assert_allclose(back.detach(), x, atol=1e-9)
    else:
        np.testing.assert_allclose(torch.cos(back - x).detach(), 1.0, atol=1e-12)
    np.testing.assert_allclose((log_det + inverse_log_det).detach(), 0.0, atol=1e-9)
    with pytest.raises(ValueError, match="'real' or 'circle'"):
        transforms.ElementwiseTransform(3, kind="interval")
