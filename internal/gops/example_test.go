package gops_test

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/catdog-ml/catdog/internal/gops"
)

// A convolution block (conv 3x3 pad 1, bias + ReLU, 2x2 max-pool) with its gradients.
func Example() {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(8, 3, 32, 32), G.WithName("x"), G.WithInit(G.Ones()))
	w := G.NewTensor(g, tensor.Float32, 4, G.WithShape(16, 3, 3, 3), G.WithName("w"), G.WithInit(G.GlorotU(1)))
	b := G.NewVector(g, tensor.Float32, G.WithShape(16), G.WithName("b"), G.WithInit(G.Zeroes()))

	y := G.Must(gops.Conv2D(x, w, 1, 1))
	y = G.Must(gops.BiasReLU(y, b))
	y = G.Must(gops.MaxPool2x2(y))
	cost := G.Must(G.Mean(y))
	if _, err := G.Grad(cost, w, b); err != nil {
		panic(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(w, b))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		panic(err)
	}
	dw, _ := w.Grad()
	fmt.Println(y.Shape(), dw.Shape())
	// Output: (8, 16, 16, 16) (16, 3, 3, 3)
}
