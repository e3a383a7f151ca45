"""Squeeze-and-excitation (Hu, Shen & Sun 2017) in Keras: ``se_block`` and SE-ResNet-50.

An SE block recalibrates the C maps of a feature tensor U channel by channel:

- squeeze: z = the global average of each map (C numbers);
- excitation: s = σ(W₂ relu(W₁ z)), W₁ of shape C × C/r, W₂ of shape C/r × C (r: the reduction ratio);
- scale: each map of U multiplied by its s_c.

In SE-ResNet it sits on the residual branch, after the block's last BN and before the
addition. With r = 16 it adds 2C²/r + C/r + C parameters per block:
2/r · Σ_stages (blocks · C²) = 2,514,944 weights and 16,048 biases over ResNet-50, so
SE-ResNet-50 has 25,636,712 + 2,530,992 = 28,167,704 parameters at 1,000 classes (the paper
reports ≈ 28.1 M, "a ∼10 % increase").
"""

from __future__ import annotations

import numbers

import keras

__all__ = ["se_block", "se_resnet50"]


def se_block(x, ratio=16, name=None):
    """A squeeze-and-excitation block: x · σ(W₂ relu(W₁ GAP(x))), channel by channel.

    Parameters
    ----------
    x : KerasTensor
        Maps (N, H, W, C).
    ratio : int
        r, the reduction: the hidden layer has max(1, C // r) units.
    name : str, optional
        Prefix of the layers ``{name}_squeeze``, ``_reduce``, ``_expand``, ``_excite``.

    Returns
    -------
    KerasTensor
        The same shape as ``x``.
    """
    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Integral) or ratio < 1:
        raise ValueError(f"se_block '{name}': ratio must be a positive int, got {ratio!r}")
    name = name or f"se_block_{keras.backend.get_uid('se_block')}"
    c = x.shape[-1]
    if c is None:
        raise ValueError(f"se_block '{name}': the number of channels of the input must be known, got shape {x.shape}")
    L = keras.layers
    s = L.GlobalAveragePooling2D(keepdims=True, name=f"{name}_squeeze")(x)
    s = L.Dense(max(1, c // ratio), activation="relu", name=f"{name}_reduce")(s)
    s = L.Dense(c, activation="sigmoid", name=f"{name}_expand")(s)
    return L.Multiply(name=f"{name}_excite")([x, s])


def se_resnet50(input_shape=(224, 224, 3), num_classes=1000, ratio=16, classifier_activation="softmax",
                name="se_resnet50"):
    """SE-ResNet-50: :func:`~labcode.tf.resnet50` with an SE block (r = ``ratio``) in each of its 16 blocks.

    28,167,704 parameters at 224×224×3, 1,000 classes, r = 16. Arguments as for
    :func:`labcode.tf.resnet.resnet`.
    """
    from labcode.tf.resnet import resnet

    return resnet(50, input_shape, num_classes, se_ratio=ratio, classifier_activation=classifier_activation,
                  name=name)
