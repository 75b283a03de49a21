package finetune

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/catdog-ml/catdog/datasets"
)

// DefaultClasses returns the classes of a model or dataset that names none: Dogs vs. Cats,
// label 0 dog, label 1 cat.
func DefaultClasses() []string { return datasets.ClassNames() }

// OutputLayers returns the last layers of a model of classes classes (at least 2): one
// probability for two classes, Dense(1) and Sigmoid (binary cross-entropy, the probability
// of label 1); one per class for three or more, Dense(classes) and Softmax (categorical
// cross-entropy, the probabilities in label order).
func OutputLayers(classes int) []Layer {
	if classes <= 2 {
		return []Layer{Dense(1), Sigmoid()}
	}
	return []Layer{Dense(classes), Softmax()}
}

// WithClasses returns layers with their output layers (a dense layer, then sigmoid or
// softmax, as OutputLayers makes them) replaced by OutputLayers(classes): an architecture
// or a head written for Dogs vs. Cats, made for another number of classes. The layers
// before them are kept; layers itself is not changed.
func WithClasses(layers []Layer, classes int) ([]Layer, error) {
	if classes < 2 {
		return nil, fmt.Errorf("%d classes: a model tells apart two classes or more", classes)
	}
	n := len(layers)
	if n < 2 || layers[n-2].Kind != KindDense || layers[n-1].Kind != KindSigmoid && layers[n-1].Kind != KindSoftmax {
		return nil, fmt.Errorf("layers %q do not end with a dense layer and its sigmoid or softmax (dense:1:sigmoid, dense:C:softmax)", SpecString(layers))
	}
	return append(slices.Clone(layers[:n-2]), OutputLayers(classes)...), nil
}

// BalancedWeights returns a loss weight per class that makes every class count as much in
// the loss as the others: n/(C·count_c) for n samples in all and C classes, as
// scikit-learn's class_weight="balanced". A class with no sample gets weight 1.
func BalancedWeights(counts []int) []float64 {
	n := 0
	for _, c := range counts {
		n += c
	}
	w := make([]float64, len(counts))
	for i, c := range counts {
		w[i] = 1
		if c > 0 {
			w[i] = float64(n) / (float64(len(counts)) * float64(c))
		}
	}
	return w
}

// checkClasses checks that the class names classes fit a model of m's output, and that
// the loss weights (nil: all 1) are one positive finite number per class.
func checkClasses(m *Model, classes []string, weights []float64) error {
	if c := m.Classes(); len(classes) != c {
		return fmt.Errorf("the data has %d classes (%s) but model %s tells apart %d (it ends with %s): end it with %s (finetune.OutputLayers)",
			len(classes), strings.Join(classes, ", "), m.Name, c, SpecString(m.Layers[max(0, len(m.Layers)-2):]), SpecString(OutputLayers(len(classes))))
	}
	seen := map[string]bool{}
	for _, c := range classes {
		if c == "" || seen[c] {
			return fmt.Errorf("classes %q: an empty or repeated class name", classes)
		}
		seen[c] = true
	}
	if weights == nil {
		return nil
	}
	if len(weights) != len(classes) {
		return fmt.Errorf("%d class weights for %d classes (%s): want one per class", len(weights), len(classes), strings.Join(classes, ", "))
	}
	for i, w := range weights {
		if !(w > 0) || math.IsInf(w, 0) {
			return fmt.Errorf("class weight %v of class %s: want a positive number", w, classes[i])
		}
	}
	return nil
}

// objective is the loss a model trains on and is evaluated by, and how its outputs read:
// binary cross-entropy on one logit per sample (two classes), or categorical cross-entropy
// on C logits (C >= 3); each sample weighted by its class's weight (nil: all 1), the mean
// normalised by the weights' sum (PyTorch's weighted mean).
type objective struct {
	classes int
	weights []float64
}

// width is the number of logits per sample.
func (o objective) width() int {
	if o.classes <= 2 {
		return 1
	}
	return o.classes
}

// weight returns the loss weight of a sample of label y.
func (o objective) weight(y float32) float64 {
	if o.weights == nil {
		return 1
	}
	return o.weights[int(y)]
}

// sample returns the loss of one sample's logits z (width values) against its label y,
// and whether the model's class (the larger probability, the first of equals) is y.
func (o objective) sample(z []float32, y float32) (loss float64, correct bool) {
	if o.classes <= 2 {
		return bceLoss(z[0], y), (z[0] > 0) == (y > 0.5)
	}
	k := int(y)
	return ceRow(z, k, nil), argmax(z) == k
}

// probs appends the probabilities of one sample's logits z to dst: the probability of
// label 1 for two classes, the C softmax probabilities otherwise.
func (o objective) probs(dst []float32, z []float32) []float32 {
	if o.classes <= 2 {
		return append(dst, sigmoid(z[0]))
	}
	p := make([]float64, len(z))
	ceRow(z, 0, p)
	for _, v := range p {
		dst = append(dst, float32(v))
	}
	return dst
}

// argmax returns the index of the largest value, the first of equals.
func argmax(z []float32) int {
	k := 0
	for i, v := range z {
		if v > z[k] {
			k = i
		}
	}
	return k
}

// ceRow returns the cross-entropy of softmax(z) against class k, -log softmax(z)[k],
// computed from the logits with the row's largest value subtracted first (no overflow),
// in float64; when p is not nil it receives softmax(z).
func ceRow(z []float32, k int, p []float64) float64 {
	m := float64(z[argmax(z)])
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - m)
	}
	if p != nil {
		for j, v := range z {
			p[j] = math.Exp(float64(v)-m) / s
		}
	}
	return math.Log(s) - (float64(z[k]) - m)
}

// checkLabels checks that every label of src's splits is a class of a model of classes
// classes.
func checkLabels(src source, classes []string) error {
	for _, sp := range []string{Train, Valid, Test} {
		for i, l := range src.labels(sp) {
			if int(l) >= len(classes) {
				return fmt.Errorf("sample %d of the %s split has label %d, but there are %d classes (%s): labels run from 0 to %d",
					i, sp, l, len(classes), strings.Join(classes, ", "), len(classes)-1)
			}
		}
	}
	return nil
}
