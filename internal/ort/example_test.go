package ort_test

import (
	"fmt"
	"log"
	"os"

	"github.com/catdog-ml/catdog/internal/ort"
)

// Example runs a model once on the CPU. (Compiled, not run: it needs a model file.)
func Example() {
	env, err := ort.Open() // finds libonnxruntime.so: $ONNXRUNTIME_LIB or .deps/onnxruntime
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close()
	model, err := os.ReadFile("model.onnx")
	if err != nil {
		log.Fatal(err)
	}
	s, err := env.NewSession(model, ort.SessionOptions{
		Provider: "auto", Inputs: []string{"image"}, Outputs: []string{"prob_cat"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if s.Fallback != "" {
		log.Print(s.Fallback) // "CUDA is not available (...): running on CPU"
	}
	out, shape, err := s.RunFloat32(make([]float32, 3*224*224), 1, 3, 224, 224)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(shape, out)
}
