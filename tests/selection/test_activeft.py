import numpy as np
import torch

from codesift.selection import Pool
from codesift.selection import activeft as aft
from codesift.selection._activeft_reference import _published_loss, reference_params
from codesift.selection.activeft import ActiveftOptions
from tests.helpers.pools import blobs, pick, unit


def test_activeft_fast_gradient_equals_autograd_of_published_loss():
    x, _ = blobs(n=500, dim=16)
    s = ActiveftOptions(screen="float32")
    f, param = aft._init(x, 50, 0)
    with torch.no_grad():
        param.mul_(torch.rand(50, 1, generator=torch.Generator().manual_seed(0)) + 0.5)
    _published_loss(f, param, s.temperature, s.balance).backward()
    with torch.no_grad():
        norm = param.norm(dim=1, keepdim=True)
        theta = param / norm
        cache = aft._refresh(f, theta, s)
        score, c = aft._assignments(f, theta, cache.cand)
        s_c, mu = aft._diversity(theta, cache, s.temperature)
        grad = aft._gradient(f, theta, norm, score, c, s_c, mu, s)
    torch.testing.assert_close(grad, param.grad, rtol=1e-4, atol=1e-6)


def test_activeft_final_step_equals_published_full_sort():
    x, _ = blobs(n=3000, dim=32)
    f = torch.from_numpy(x)
    theta = torch.nn.functional.normalize(f[:300] + 0.3 * torch.randn(300, 32), dim=1)
    order = torch.sort(theta @ f.T, dim=1, descending=True).indices.tolist()
    taken: list[int] = []
    for row in order:
        taken.append(next(i for i in row if i not in set(taken)))
    assert aft.assign(f, theta, top=8).tolist() == taken


def test_activeft_takes_one_point_per_well_separated_cluster():
    rng = np.random.default_rng(0)
    centres = np.eye(16)[:5] * 4
    x = unit(np.concatenate([c + rng.normal(size=(40, 16)) for c in centres]))
    labels = np.repeat(np.arange(5), 40)
    init = torch.randperm(200, generator=torch.Generator().manual_seed(0))[:5].numpy()
    assert len(set(labels[init])) < 5  # it starts with three parameters in one cluster
    picked = pick("activeft", Pool(x, np.zeros(200), np.zeros(200)), 5)
    assert sorted(labels[picked]) == [0, 1, 2, 3, 4]


def test_activeft_fast_matches_reference():
    x, _ = blobs()
    s = ActiveftOptions(iters=300)
    f, ref_theta = reference_params(x, 200, 0, s)
    _, fast_theta = aft.fast_params(x, 200, 0, s)
    ref, fast = aft.assign(f, ref_theta), aft.assign(f, fast_theta)
    init = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:200].numpy()
    assert np.mean(ref != init) > 0.05  # the optimisation does move picks here
    assert len(np.intersect1d(ref, fast)) / 200 >= 0.98
    assert (ref_theta * fast_theta).sum(dim=1).min() > 0.99
