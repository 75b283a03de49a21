package finetune_test

import (
	"context"
	"fmt"
	"log"

	"github.com/catdog-ml/catdog/finetune"
)

func ExampleParseLayers() {
	layers, err := finetune.ParseLayers("gap,dropout:0.3,dense:1:sigmoid")
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range layers {
		fmt.Println(l)
	}
	// Output:
	// gap
	// dropout:0.3
	// dense:1
	// sigmoid
}

func ExampleArch() {
	arch, err := finetune.Arch("vgg3")
	if err != nil {
		log.Fatal(err)
	}
	m, err := arch.Model(200, "", 1)
	if err != nil {
		log.Fatal(err)
	}
	trainable, _ := m.NumParams()
	fmt.Println(arch.Name, trainable)
	// Output: vgg3 10333505
}

func ExampleNewModel() {
	// A transfer head for VGG16 features (512 x 7 x 7).
	layers, err := finetune.ParseLayers(finetune.DefaultHead)
	if err != nil {
		log.Fatal(err)
	}
	m, err := finetune.NewModel("head", []int{512, 7, 7}, layers, "", 1)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range m.Table() {
		fmt.Println(r.Name, r.Output, r.Params)
	}
	// Output:
	// flatten1 [25088] 0
	// dense1 [128] 3211392
	// relu1 [128] 0
	// dropout1 [128] 0
	// dense2 [1] 129
	// sigmoid1 [1] 0
}

func ExampleTrainCNN() {
	arch, err := finetune.Arch("vgg3-dropout")
	if err != nil {
		log.Fatal(err)
	}
	cfg := finetune.DefaultConfig() // the recipe: Adam, warm-up, cosine decay, early stopping
	cfg.Epochs, cfg.Patience = 20, 5
	cfg.Progress = func(p finetune.Progress) { fmt.Printf("\repoch %d: %d/%d", p.Epoch, p.Batch, p.Batches) }
	res, err := finetune.TrainCNN(context.Background(), "data", arch, cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("test accuracy %.3f, model in %s\n", res.TestAcc, res.ModelPath)
}

// A training loop of one's own: one Step per batch, with the graph and the optimiser that
// Train uses.
func ExampleModel_NewStepper() {
	arch, err := finetune.Arch("vgg1")
	if err != nil {
		log.Fatal(err)
	}
	m, err := arch.Model(16, "", 1)
	if err != nil {
		log.Fatal(err)
	}
	st, err := m.NewStepper(4, "sgd", 0.01, 0.9, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	x := make([]float32, 4*3*16*16) // four grey 16x16 photos
	for i := range x {
		x[i] = float32(i%7) / 7
	}
	y := []float32{0, 1, 0, 1} // dog, cat, dog, cat
	first, _ := st.Step(x, y)
	var last float64
	for range 20 {
		if last, err = st.Step(x, y); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(last < first)
	// Output: true
}
