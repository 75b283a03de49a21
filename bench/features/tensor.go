package main

import onnxruntime "github.com/yalue/onnxruntime_go"

func newTensor(data []float32, n int) (*onnxruntime.Tensor[float32], error) {
	return onnxruntime.NewTensor(onnxruntime.NewShape(int64(n), int64(n)), data)
}

func values(ts ...*onnxruntime.Tensor[float32]) []onnxruntime.Value {
	v := make([]onnxruntime.Value, len(ts))
	for i, t := range ts {
		v[i] = t
	}
	return v
}
