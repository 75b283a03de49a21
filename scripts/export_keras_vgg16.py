#!/usr/bin/env python3
"""Export Keras' ImageNet VGG16 convolutional base to ONNX, for `catdog backbones import`.

This is the backbone of Jason Brownlee's Dogs vs. Cats tutorial:
    tf.keras.applications.VGG16(weights="imagenet", include_top=False)
(weights file vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5, 58,889,256 bytes, downloaded
by Keras into ~/.keras/models on first use).

What the exported model expects, unlike the ONNX model zoo's vgg16 that catdog uses by default:
  - layout NHWC: input "input_1" (or as printed below) of shape (N, SIZE, SIZE, 3);
  - channel order BGR, "caffe" preprocessing: the ImageNet channel means
    103.939 (B), 116.779 (G), 123.68 (R) subtracted from 0..255 values, no scaling, no std.
catdog puts that preprocessing inside the exported classifier, so callers still feed plain RGB.

Needs TensorFlow and tf2onnx (pip install tensorflow tf2onnx); catdog itself never needs
Python. It could not be run where catdog was written (no TensorFlow there): treat the node
names below as what tf2onnx usually produces and check them with `catdog backbones inspect`.

Usage:
    python3 scripts/export_keras_vgg16.py --out vgg16_keras.onnx [--size 224] [--opset 13]
then:
    catdog backbones inspect vgg16_keras.onnx            # find the last max-pool's name
    catdog backbones import vgg16_keras.onnx --name keras-vgg16 --size 224 \\
        --layout NHWC --channels BGR --scale 1 --mean 103.939,116.779,123.68 --std 1,1,1 \\
        --cut <name of block5_pool's output, printed by this script>
"""

import argparse
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="vgg16_keras.onnx", help="ONNX file to write")
    ap.add_argument("--size", type=int, default=224, help="input side in pixels (at least 32)")
    ap.add_argument("--opset", type=int, default=13, help="ONNX opset")
    args = ap.parse_args()

    try:
        import tensorflow as tf
        import tf2onnx
    except ImportError as e:
        print(f"this script needs TensorFlow and tf2onnx: {e}\n  pip install tensorflow tf2onnx", file=sys.stderr)
        return 1

    model = tf.keras.applications.VGG16(
        weights="imagenet", include_top=False, input_shape=(args.size, args.size, 3)
    )
    params = model.count_params()
    print(f"Keras VGG16 conv base: {params:,} parameters, output {model.output_shape}")
    if params != 14_714_688:
        print("warning: expected 14,714,688 parameters", file=sys.stderr)

    spec = (tf.TensorSpec((None, args.size, args.size, 3), tf.float32, name=model.inputs[0].name.split(":")[0]),)
    onnx_model, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=args.opset, output_path=args.out)

    graph = onnx_model.graph
    print(f"wrote {args.out}")
    print("inputs: ", [(i.name, [d.dim_value or d.dim_param for d in i.type.tensor_type.shape.dim]) for i in graph.input])
    print("outputs:", [o.name for o in graph.output])
    pools = [n for n in graph.node if n.op_type == "MaxPool"]
    if pools:
        last = pools[-1]
        print(f"last MaxPool: node {last.name!r}, output {last.output[0]!r}  -> use --cut {last.output[0]}")
        print("(tf2onnx may put a Transpose back to NHWC after it; cutting at the MaxPool gives NCHW")
        print(" features (N, 512, 7, 7), the same layout as the ONNX zoo's vgg16.)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
