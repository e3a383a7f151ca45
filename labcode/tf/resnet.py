"""ResNet (He, Zhang, Ren & Sun 2015) in Keras: residual blocks and ResNet-18/34/50/101/152.

A residual block learns F(x) and outputs relu(F(x) + shortcut(x)): the shortcut is x itself,
or, where the block changes the shape (stride 2, or more maps), a 1×1 convolution with the
block's stride and a batch normalisation (the paper's "projection shortcut", option B).

- basic block (ResNet-18/34): 3×3 conv (stride s) → BN → ReLU → 3×3 conv → BN; ``filters`` maps out;
- bottleneck block (ResNet-50/101/152): 1×1 conv (stride s) → BN → ReLU → 3×3 conv → BN → ReLU
  → 1×1 conv (4 × ``filters`` maps) → BN.

Both follow ``keras.applications.ResNet50`` (ResNet v1): the stride sits on the block's first
convolution (the 1×1 in a bottleneck), the convolutions keep their biases, BN uses ε = 1.001e-5,
and the layers carry Keras' names (``conv3_block2_2_conv`` …). So ``resnet50`` and ``resnet152``
have the parameters of ``keras.applications.ResNet50`` / ``ResNet152`` (25,636,712 and
60,419,944, of which 53,120 and 151,424 are BN's non-trainable moving statistics), and their
weights copy across with ``set_weights``.

==========  ========  ==========  ==========================  ==============
model       blocks    kind        parameters (1,000 classes)  trainable
==========  ========  ==========  ==========================  ==============
ResNet-18   2-2-2-2   basic       11,703,912                  11,694,312 (*)
ResNet-34   3-4-6-3   basic       21,823,208                  21,806,184 (*)
ResNet-50   3-4-6-3   bottleneck  25,636,712                  25,583,592
ResNet-101  3-4-23-3  bottleneck  44,707,176                  44,601,832
ResNet-152  3-8-36-3  bottleneck  60,419,944                  60,268,520
==========  ========  ==========  ==========================  ==============

(*) torchvision's ResNet-34 has 21,797,672, ResNet-18 11,689,512: the same layers without
the convolutions' biases (8,512 and 4,800 of them here), which BN's β makes redundant; the
paper's "21.8 M" is either.
"""

from __future__ import annotations

import numbers

import keras

from labcode.tf._checks import check_input_shape, check_num_classes

__all__ = ["residual_block", "resnet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
           "RESNET_BLOCKS"]

#: depth → (blocks per stage, bottleneck?)
RESNET_BLOCKS = {
    18: ((2, 2, 2, 2), False),
    34: ((3, 4, 6, 3), False),
    50: ((3, 4, 6, 3), True),
    101: ((3, 4, 23, 3), True),
    152: ((3, 8, 36, 3), True),
}
MIN_SIZE = 32  # Keras' own minimum: the five stride-2 stages bring 32 down to a 1×1 map
BN_EPSILON = 1.001e-5


def _bn(x, name):
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=name)(x)


def residual_block(x, filters, strides=1, bottleneck=True, projection=None, se_ratio=None, name=None):
    """One residual block, relu(F(x) + shortcut(x)), in Keras' ResNet v1 form.

    Parameters
    ----------
    x : KerasTensor
        The input maps (N, H, W, C).
    filters : int
        The block's width: the maps of its 3×3 convolutions; a bottleneck
        block outputs 4 × ``filters`` maps, a basic block ``filters``.
    strides : int
        s, on the block's first convolution (and the projection): 2 halves H and W.
    bottleneck : bool
        1×1 → 3×3 → 1×1 (ResNet-50 and deeper) rather than 3×3 → 3×3.
    projection : bool, optional
        A 1×1 convolution + BN on the shortcut; by default exactly where the
        shape changes (s ≠ 1 or C ≠ the output maps), otherwise the identity.
    se_ratio : int, optional
        Recalibrate F(x) with a squeeze-and-excitation block of this reduction
        ratio r before the addition (SE-ResNet, :func:`labcode.tf.se_block`).
    name : str, optional
        The layers' prefix (``conv2_block1`` → ``conv2_block1_1_conv`` …); a
        unique one by default.

    Returns
    -------
    KerasTensor
        (N, ⌈H/s⌉, ⌈W/s⌉, output maps).
    """
    where = f"residual_block '{name}'"
    for what, v in [("filters", filters), ("strides", strides)]:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{where}: {what} must be a positive int, got {v!r}")
    name = name or f"residual_block_{keras.backend.get_uid('residual_block')}"
    L = keras.layers
    out_maps = 4 * filters if bottleneck else filters
    if projection is None:
        projection = strides != 1 or x.shape[-1] != out_maps
    if projection:
        shortcut = L.Conv2D(out_maps, 1, strides=strides, name=f"{name}_0_conv")(x)
        shortcut = _bn(shortcut, f"{name}_0_bn")
    elif x.shape[-1] != out_maps or strides != 1:
        raise ValueError(f"{where}: an identity shortcut needs the output shape of the input; with {x.shape[-1]} "
                         f"maps in, {out_maps} out and strides={strides}, use projection=True")
    else:
        shortcut = x
    if bottleneck:
        h = L.Conv2D(filters, 1, strides=strides, name=f"{name}_1_conv")(x)
        h = L.Activation("relu", name=f"{name}_1_relu")(_bn(h, f"{name}_1_bn"))
        h = L.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(h)
        h = L.Activation("relu", name=f"{name}_2_relu")(_bn(h, f"{name}_2_bn"))
        h = L.Conv2D(out_maps, 1, name=f"{name}_3_conv")(h)
        h = _bn(h, f"{name}_3_bn")
    else:
        h = L.Conv2D(filters, 3, strides=strides, padding="same", name=f"{name}_1_conv")(x)
        h = L.Activation("relu", name=f"{name}_1_relu")(_bn(h, f"{name}_1_bn"))
        h = L.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(h)
        h = _bn(h, f"{name}_2_bn")
    if se_ratio is not None:
        from labcode.tf.senet import se_block

        h = se_block(h, ratio=se_ratio, name=f"{name}_se")
    x = L.Add(name=f"{name}_add")([shortcut, h])
    return L.Activation("relu", name=f"{name}_out")(x)


def resnet(depth, input_shape=(224, 224, 3), num_classes=1000, se_ratio=None, classifier_activation="softmax",
           name=None):
    """ResNet-``depth`` (18, 34, 50, 101 or 152) as a ``keras.Model``, Keras' ResNet v1 layout.

    Stem: 7×7/2 conv (64) → BN → ReLU → 3×3/2 max pool; four stages of residual
    blocks (64, 128, 256, 512 wide; the first block of stages 3–5 has stride 2);
    global average pooling; a dense classifier ("predictions").

    Parameters
    ----------
    depth : {18, 34, 50, 101, 152}
    input_shape : (int, int, int)
        (height, width, channels), at least 32×32.
    num_classes : int
    se_ratio : int, optional
        Squeeze-and-excitation in every block with this reduction ratio (SE-ResNet).
    classifier_activation : str or None
        None gives logits.
    name : str, optional
        Default ``resnet{depth}`` (``se_resnet{depth}`` with ``se_ratio``).
    """
    where = f"{'se_' if se_ratio else ''}resnet{depth}"
    if depth not in RESNET_BLOCKS:
        raise ValueError(f"resnet: depth must be one of {sorted(RESNET_BLOCKS)}, got {depth!r}")
    shape = check_input_shape(input_shape, where, MIN_SIZE, "five stride-2 stages must leave a 1×1 map")
    num_classes = check_num_classes(num_classes, where)
    if se_ratio is not None and (isinstance(se_ratio, bool) or not isinstance(se_ratio, numbers.Integral)
                                 or se_ratio < 1):
        raise ValueError(f"{where}: se_ratio must be a positive int or None, got {se_ratio!r}")
    blocks, bottleneck = RESNET_BLOCKS[depth]
    L = keras.layers
    inputs = keras.Input(shape=shape, name="input")
    x = L.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = L.Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = L.Activation("relu", name="conv1_relu")(_bn(x, "conv1_bn"))
    x = L.ZeroPadding2D(1, name="pool1_pad")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (n, filters) in enumerate(zip(blocks, (64, 128, 256, 512), strict=True), start=2):
        for b in range(1, n + 1):
            strides = 2 if b == 1 and stage > 2 else 1
            x = residual_block(x, filters, strides, bottleneck, se_ratio=se_ratio, name=f"conv{stage}_block{b}")
    x = L.GlobalAveragePooling2D(name="avg_pool")(x)
    x = L.Dense(num_classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, x, name=name or where)


def resnet18(input_shape=(224, 224, 3), num_classes=1000, classifier_activation="softmax", name="resnet18"):
    """ResNet-18: basic blocks 2-2-2-2; 11,703,912 parameters at 1,000 classes. See :func:`resnet`."""
    return resnet(18, input_shape, num_classes, None, classifier_activation, name)


def resnet34(input_shape=(224, 224, 3), num_classes=1000, classifier_activation="softmax", name="resnet34"):
    """ResNet-34: basic blocks 3-4-6-3, projection shortcuts where the shape changes.

    21,823,208 parameters at 1,000 classes (21,806,184 trainable; torchvision's, without
    conv biases, 21,797,672). Arguments as for :func:`resnet`.
    """
    return resnet(34, input_shape, num_classes, None, classifier_activation, name)


def resnet50(input_shape=(224, 224, 3), num_classes=1000, classifier_activation="softmax", name="resnet50"):
    """ResNet-50: bottleneck blocks 3-4-6-3, as ``keras.applications.ResNet50`` (25,636,712 parameters).

    Arguments as for :func:`resnet`.
    """
    return resnet(50, input_shape, num_classes, None, classifier_activation, name)


def resnet101(input_shape=(224, 224, 3), num_classes=1000, classifier_activation="softmax", name="resnet101"):
    """ResNet-101: bottleneck blocks 3-4-23-3, as ``keras.applications.ResNet101`` (44,707,176 parameters)."""
    return resnet(101, input_shape, num_classes, None, classifier_activation, name)


def resnet152(input_shape=(224, 224, 3), num_classes=1000, classifier_activation="softmax", name="resnet152"):
    """ResNet-152: bottleneck blocks 3-8-36-3, as ``keras.applications.ResNet152`` (60,419,944 parameters).

    Arguments as for :func:`resnet`.
    """
    return resnet(152, input_shape, num_classes, None, classifier_activation, name)
