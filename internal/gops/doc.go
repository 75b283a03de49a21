// Package gops holds fast Gorgonia ops for training convolutional networks on the CPU:
// a convolution (im2col + SGEMM, parallel across the batch) with its two gradients, a fused
// bias + ReLU, a 2x2 max-pool, and bias + ReLU + max-pool in one op, all float32 and NCHW.
//
// They are drop-in replacements for the equivalent chains of Gorgonia's own ops
// (Conv2d, BroadcastAdd, Rectify, MaxPool2D) in graphs run by a TapeMachine with
// symbolic gradients (gorgonia.Grad): every op implements gorgonia.SDOp.
//
// Matrix products use gops's own SGEMM, a 6x16 AVX2/FMA micro-kernel in Go assembly over
// packed panels, on amd64 CPUs that have AVX2 and FMA; elsewhere, or with the build tag
// gonum (or noasm), gonum's pure-Go blas32; with the build tag openblas, OpenBLAS through
// cgo (libopenblas-dev). BLAS names the one in use. Implementation hands the same SGEMM to
// Gorgonia's own products through gorgonia.Use.
//
// docs/speed.md has the measurements and bench/train the program that makes them.
package gops
