package finetune

import (
	"fmt"
	"math/rand/v2"
)

// A Stepper trains a model one batch at a time, with the graph and the optimiser that
// Train uses in its epochs but none of Train's data, schedule, early stopping or records:
// for a training loop of one's own, and for benchmarks of the training step (bench/train).
// It is not safe for concurrent use; Close it when done.
type Stepper struct {
	gr    *graph
	opt   *optimizer
	grads [][]float32
	rng   *rand.Rand
	obj   objective
}

// NewStepper compiles m's training graph for batches of n samples, with the optimiser
// optimizer ("adam", or "sgd" with momentum) at the learning rate lr. Dropout masks are
// drawn from seed.
func (m *Model) NewStepper(n int, optimizer string, lr, momentum float64, seed uint64) (*Stepper, error) {
	if n < 1 {
		return nil, fmt.Errorf("finetune: batch of %d samples", n)
	}
	gr, err := m.build(n, true)
	if err != nil {
		return nil, err
	}
	opt, err := newOptimizer(optimizer, lr, momentum, gr.learn)
	if err != nil {
		gr.close()
		return nil, err
	}
	return &Stepper{gr: gr, opt: opt, grads: make([][]float32, len(gr.learn)),
		rng: rand.New(rand.NewPCG(seed, 0x57e9)), obj: objective{classes: m.Classes()}}, nil
}

// Step trains on one batch: x holds the n samples (the model's input shape each, n·C·H·W
// values), y their labels (0 … classes-1). It returns the batch's mean loss before the
// update.
func (s *Stepper) Step(x, y []float32) (float64, error) {
	n, per := s.gr.n, prod(s.gr.m.Input)
	if len(x) != n*per || len(y) != n {
		return 0, fmt.Errorf("finetune: Step wants %d samples of %d values and %d labels, got %d values and %d labels", n, per, n, len(x), len(y))
	}
	s.gr.fillMasks(s.rng.Uint64)
	z, err := s.gr.run(x, y)
	if err != nil {
		return 0, err
	}
	var loss float64
	w := s.obj.width()
	for i := range y {
		l, _ := s.obj.sample(z[i*w:(i+1)*w], y[i])
		loss += l
	}
	if err := s.gr.gradients(s.grads); err != nil {
		return 0, err
	}
	s.opt.step(s.gr.learn, s.grads)
	return loss / float64(n), nil
}

// Close frees the compiled graph.
func (s *Stepper) Close() { s.gr.close() }
