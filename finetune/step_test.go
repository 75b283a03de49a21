package finetune

import (
	"strings"
	"testing"
)

func TestStepper(t *testing.T) {
	for _, c := range []struct {
		arch, optimizer string
		lr              float64
	}{
		{"vgg1", "sgd", 0.01},
		{"vgg3-dropout-bn", "adam", 0.001},
		{"resnet-gap", "adam", 0.001},
	} {
		t.Run(c.arch, func(t *testing.T) {
			a, err := Arch(c.arch)
			if err != nil {
				t.Fatal(err)
			}
			m, err := a.Model(16, "", 1)
			if err != nil {
				t.Fatal(err)
			}
			st, err := m.NewStepper(8, c.optimizer, c.lr, 0.9, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			x, y := randomBatch(m, 8, 2)
			first, err := st.Step(x, y)
			if err != nil {
				t.Fatal(err)
			}
			last := first
			for range 40 {
				if last, err = st.Step(x, y); err != nil {
					t.Fatal(err)
				}
			}
			// one batch, learnt by heart: the loss falls well below where it started
			if !(last < first/2) {
				t.Errorf("loss %.4f after 41 steps on one batch, %.4f at the first", last, first)
			}
			if _, err := st.Step(x[1:], y); err == nil || !strings.Contains(err.Error(), "Step wants 8 samples") {
				t.Errorf("short batch: got error %v", err)
			}
		})
	}
}
