package classifier_test

import (
	"fmt"
	"log"

	"github.com/catdog-ml/catdog/classifier"
)

// Example shows a service embedding an exported model. (It needs a trained model.onnx, so
// it is compiled but not run by go test.)
func Example() {
	c, err := classifier.Load("runs/vgg16-head/model.onnx")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	p, err := c.PredictFile("photo.jpg")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s (p(cat) = %.3f, confidence %.3f)\n", p.Label, p.Probability, p.Confidence)
}

// A model of many classes (CIFAR-10, say): the most probable class, then the next ones.
// (Compiled, not run.)
func ExamplePrediction_Top() {
	c, err := classifier.Load("runs/cifar10/model.onnx")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	p, err := c.PredictFile("ship.png")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s of %v\n", p.Label, c.Labels())
	for _, t := range p.Top(3) {
		fmt.Printf("%-10s %.3f\n", t.Label, t.Probability)
	}
}
