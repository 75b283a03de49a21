package features_test

import (
	"context"
	"fmt"
	"log"

	"github.com/catdog-ml/catdog/features"
)

// ExampleExtract caches VGG16 features of a prepared dataset. (It needs the VGG16 weights and
// a prepared dataset, so it is compiled but not run by go test.)
func ExampleExtract() {
	res, err := features.Extract(context.Background(), features.Options{
		Backbone: "vgg16",
		Data:     "data", // catdog prepare --out data
		DType:    "float16",
		Progress: func(done, total int) { fmt.Printf("\r%d/%d", done, total) },
		Notify:   func(msg string) { log.Print(msg) },
	})
	if err != nil {
		log.Fatal(err)
	}
	if res.CacheHit {
		fmt.Println("cache hit")
	}
	fmt.Println(res.Dir, res.Info.FeatureShape, res.Info.Splits["train"].Count)
}
