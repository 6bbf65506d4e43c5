import numpy as np

from codesift.selection.kcenter import kcenter_greedy
from tests.helpers.pools import blobs, unit


def test_kcenter_on_a_line_takes_extremes_then_midpoints():
    """9 points evenly spaced on an arc: cosine distance is monotone in arc distance."""
    angles = np.linspace(0, np.pi / 2, 9)
    x = unit(np.stack([np.cos(angles), np.sin(angles)], axis=1))
    order = kcenter_greedy(x, 5, start=4)
    assert order[0] == 4 and set(order[1:3]) == {0, 8} and set(order[3:5]) == {2, 6}


def test_kcenter_matches_the_textbook_loop():
    x, _ = blobs(n=500, dim=8)
    best, order = np.full(len(x), -np.inf), [11]
    for _ in range(39):
        best = np.maximum(best, x @ x[order[-1]])
        best[order] = np.inf
        order.append(int(np.argmin(best)))
    assert kcenter_greedy(x, 40, start=11, block=16).tolist() == order
