// Package gops holds fast Gorgonia ops for training convolutional networks on the CPU:
// a convolution (im2col + SGEMM, parallel across the batch) with its two gradients, a fused
// bias + ReLU, and a 2x2 max-pool, all float32 and NCHW.
//
// They are drop-in replacements for the equivalent chains of Gorgonia's own ops
// (Conv2d, BroadcastAdd, Rectify, MaxPool2D) in graphs run by a TapeMachine with
// symbolic gradients (gorgonia.Grad): every op implements gorgonia.SDOp.
//
// Matrix products go through gonum's blas32. The default is gonum's pure-Go
// implementation; building with the tag openblas (and CGO_LDFLAGS=-lopenblas) switches the
// whole process's blas32 to OpenBLAS through cgo. BLAS reports which one is in use.
package gops
