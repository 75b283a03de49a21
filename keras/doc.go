// Package keras reads Keras models saved for TensorFlow.js ("layers models": a model.json
// holding the Keras configuration and a weights manifest, beside binary weight shards) and
// converts them to ONNX graphs, in pure Go. Teachable Machine image exports and the
// tfjs-models MobileNets are such models.
//
// Open reads a model folder (or its model.json), checks every shard against the manifest
// and dequantizes the weights (float32, or uint8, uint16 and float16 quantized). Model.ONNX
// builds the equivalent ONNX graph with package onnx: Keras's channels-last tensors become
// channels-first (NCHW) ONNX tensors, kernels are re-laid out, Keras "same" padding (whose
// odd extra row and column go to the bottom and right) becomes the matching ONNX padding, and nested
// Sequential and functional models are flattened into one graph whose tensors are named
// after the Keras layers. Download fetches a model.json and every shard it names into a
// folder, atomically.
//
// The supported layers are listed by Supported; any other layer is an *UnsupportedError
// naming the layer and its class.
package keras
