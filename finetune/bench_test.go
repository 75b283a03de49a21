package finetune

import "testing"

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
			st, err := m.NewStepper(n, "sgd", 0.001, 0.9, 1)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			x, y := randomBatch(m, n, 1)
			b.ResetTimer()
			for range b.N {
				if _, err := st.Step(x, y); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}
