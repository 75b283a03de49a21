package finetune

import (
	"fmt"
	"math"

	"github.com/catdog-ml/catdog/internal/gops"
)

// optimizer updates trainable weights from their gradients: Adam or SGD with momentum.
// Its state is plain slices so checkpoints can store it.
type optimizer struct {
	Kind     string  `json:"kind"` // "adam" or "sgd"
	LR       float64 `json:"lr"`
	Momentum float64 `json:"momentum"` // sgd
	Beta1    float64 `json:"beta1"`    // adam
	Beta2    float64 `json:"beta2"`    // adam
	Eps      float64 `json:"eps"`      // adam
	Steps    int64   `json:"steps"`
	// Schedule, WarmupSteps and TotalSteps shape the learning rate step by step
	// (Config.Schedule, Config.Warmup): see rate.
	Schedule    string `json:"schedule,omitempty"`
	WarmupSteps int64  `json:"warmup_steps,omitempty"`
	TotalSteps  int64  `json:"total_steps,omitempty"`
	// M holds Adam's first moments or SGD's velocities, V Adam's second moments, one slice
	// per trainable weight in model order.
	M [][]float32 `json:"-"`
	V [][]float32 `json:"-"`
}

func newOptimizer(kind string, lr, momentum float64, params []*Param) (*optimizer, error) {
	if lr <= 0 || math.IsNaN(lr) || math.IsInf(lr, 0) {
		return nil, fmt.Errorf("learning rate must be positive, got %v", lr)
	}
	o := &optimizer{Kind: kind, LR: lr}
	switch kind {
	case "adam":
		o.Beta1, o.Beta2, o.Eps = 0.9, 0.999, 1e-7
	case "sgd":
		if momentum < 0 || momentum >= 1 {
			return nil, fmt.Errorf("momentum must be in [0, 1), got %v", momentum)
		}
		o.Momentum = momentum
	default:
		return nil, fmt.Errorf("unknown optimizer %q (want adam or sgd)", kind)
	}
	for _, p := range params {
		o.M = append(o.M, make([]float32, p.Size()))
		if kind == "adam" {
			o.V = append(o.V, make([]float32, p.Size()))
		}
	}
	return o, nil
}

// rate is the learning rate of step o.Steps (1 for the first): a linear warm-up from 0 to
// LR over WarmupSteps, then LR ("constant"), or LR down to 0 along half a cosine over the
// steps left to TotalSteps ("cosine").
func (o *optimizer) rate() float64 {
	t := float64(o.Steps)
	switch {
	case o.WarmupSteps > 0 && o.Steps <= o.WarmupSteps:
		return o.LR * t / float64(o.WarmupSteps)
	case o.Schedule == "cosine" && o.TotalSteps > o.WarmupSteps:
		p := min(1, (t-float64(o.WarmupSteps))/float64(o.TotalSteps-o.WarmupSteps))
		return o.LR * 0.5 * (1 + math.Cos(math.Pi*p))
	}
	return o.LR
}

// step applies one update to params from grads (same order and sizes): gops.AdamStep or
// gops.MomentumStep, vectorised, spread over the cores, subnormals flushed to zero.
func (o *optimizer) step(params []*Param, grads [][]float32) {
	o.Steps++
	rate := o.rate()
	switch o.Kind {
	case "adam":
		b1, b2 := o.Beta1, o.Beta2
		// Bias-corrected step size, as in Kingma & Ba (and Keras).
		lr := float32(rate * math.Sqrt(1-math.Pow(b2, float64(o.Steps))) / (1 - math.Pow(b1, float64(o.Steps))))
		fb1, fb2, eps := float32(b1), float32(b2), float32(o.Eps)
		for i, p := range params {
			gops.AdamStep(p.Data, o.M[i], o.V[i], grads[i], fb1, fb2, lr, eps)
		}
	case "sgd":
		mu, lr := float32(o.Momentum), float32(rate)
		for i, p := range params {
			gops.MomentumStep(p.Data, o.M[i], grads[i], mu, lr)
		}
	}
}
