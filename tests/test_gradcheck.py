import numpy as np
import pytest

from labcode.gradcheck import numerical_gradient, relative_error


def test_centred_difference_of_a_known_function():
    x = np.array([[0.5, -1.0], [2.0, 0.1]])
    before = x.copy()
    grad = numerical_gradient(lambda v: float(np.sum(np.sin(v) * v)), x)
    np.testing.assert_allclose(grad, np.cos(x) * x + np.sin(x), rtol=1e-9)
    np.testing.assert_array_equal(x, before)  # every probe is undone


def test_centred_difference_error_is_second_order():
    # f = x³ at 1: the centred difference is exactly 3 + h², the forward one 3 + 3h + h²
    for h in [1e-2, 1e-3]:
        assert numerical_gradient(lambda v: v**3, 1.0, h=h) == pytest.approx(3 + h**2, rel=1e-9)


def test_relative_error():
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error([1.0, 0.0], [0.0, 1.0]) == pytest.approx(np.sqrt(2) / 2)
    assert relative_error([3.0], [1.0]) == pytest.approx(0.5)


def test_bad_input():
    with pytest.raises(ValueError, match="shapes differ"):
        relative_error(np.ones(2), np.ones(3))
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda v: v.sum(), np.ones(3, np.float32))
    with pytest.raises(ValueError, match="one number"):
        numerical_gradient(lambda v: v, np.ones(3))
    with pytest.raises(ValueError, match="positive"):
        numerical_gradient(lambda v: v.sum(), np.ones(3), h=0.0)
    with pytest.raises(TypeError, match="NumPy array"):
        numerical_gradient(lambda v: v, [1.0, 2.0])
