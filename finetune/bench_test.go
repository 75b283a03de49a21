package finetune

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkTrainStep measures one training step (forward, backward, SGD update) of an
// architecture at 64x64, batch 32. Report images/s with: go test -bench TrainStep ./finetune
func BenchmarkTrainStep(b *testing.B) {
	for _, name := range []string{"vgg3", "vgg3-dropout-bn", "resnet-gap"} {
		b.Run(name, func(b *testing.B) {
			a, err := Arch(name)
			if err != nil {
				b.Fatal(err)
			}
			m, err := a.Model(64, "", 1)
			if err != nil {
				b.Fatal(err)
			}
			const n = 32
			gr, err := m.build(n, true)
			if err != nil {
				b.Fatal(err)
			}
			defer gr.close()
			opt, err := newOptimizer("sgd", 0.001, 0.9, gr.learn)
			if err != nil {
				b.Fatal(err)
			}
			x, y := randomBatch(m, n, 1)
			rng := rand.New(rand.NewPCG(1, 1))
			grads := make([][]float32, len(gr.learn))
			b.ResetTimer()
			for range b.N {
				gr.fillMasks(rng.Float64)
				if _, err := gr.run(x, y); err != nil {
					b.Fatal(err)
				}
				for i, g := range gr.grads {
					_, grads[i], _ = float32s(g.Value(), "grad")
				}
				opt.step(gr.learn, grads)
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}
