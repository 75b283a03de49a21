// Command backbones measures what loading the ONNX zoo's VGG16 costs in catdog: reading the
// 553 MB file, checking its SHA-256, decoding the protobuf and cutting it after the fifth
// max-pool. The baseline is the floor any loader pays: reading the file and hashing it.
//
// No network is needed: it writes a stand-in with the zoo file's shape (VGG16 conv base with
// random weights, then Flatten and the three dense layers, 25088-4096-4096-1000, zero
// weights, batch fixed to 1) into a temporary folder, about the real file's size.
//
//	go run ./bench/backbones [-keep DIR]
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/pb"
)

func main() {
	keep := flag.String("keep", "", "folder to keep the stand-in file in (reused when present)")
	flag.Parse()
	dir := *keep
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "catdog-bench-backbones-"); err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
	}
	path := filepath.Join(dir, "vgg16-12-standin.onnx")
	if _, err := os.Stat(path); err != nil {
		if err := writeStandIn(path); err != nil {
			log.Fatal(err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		log.Fatal(err)
	}

	// Baseline: read and hash.
	t0 := time.Now()
	data, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	sum := sha256.Sum256(data)
	base := time.Since(t0)
	data = nil

	t1 := time.Now()
	bb, err := backbones.Load(context.Background(), backbones.VGG16, backbones.Options{File: path, CacheDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	load := time.Since(t1)

	t2 := time.Now()
	full, err := bb.WithPreprocess()
	if err != nil {
		log.Fatal(err)
	}
	out := filepath.Join(dir, "with-preprocess.onnx")
	if err := full.Write(out); err != nil {
		log.Fatal(err)
	}
	write := time.Since(t2)
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)

	fmt.Printf("stand-in for vgg16-12.onnx: %d bytes (SHA-256 %x...)\n", st.Size(), sum[:4])
	fmt.Printf("baseline  read + SHA-256:                 %6.2f s\n", base.Seconds())
	fmt.Printf("catdog    Load (read, SHA-256, decode, cut): %6.2f s  = %.2fx baseline\n", load.Seconds(), load.Seconds()/base.Seconds())
	fmt.Printf("catdog    add preprocessing + Write cut model: %6.2f s\n", write.Seconds())
	fmt.Printf("cut model: %d parameters, features %v; peak RSS %d MB\n", bb.Params, onnx.Shape(bb.Spec.OutputShape), ru.Maxrss/1024)
}

// writeStandIn writes a model shaped like the zoo's vgg16-12.onnx.
func writeStandIn(path string) error {
	m, err := backbones.RandomVGG16(224, 1)
	if err != nil {
		return err
	}
	g := m.Proto.Graph
	g.Input[0] = onnx.ValueInfo("data", onnx.Float, 1, 3, 224, 224)
	prev := "block5_pool"
	add := func(op string, in []string, out string, attrs ...*pb.AttributeProto) {
		g.Node = append(g.Node, &pb.NodeProto{Name: proto.String(out), OpType: proto.String(op), Input: in, Output: []string{out}, Attribute: attrs})
		prev = out
	}
	transB, err := onnx.Attribute("transB", int64(1))
	if err != nil {
		return err
	}
	add("Flatten", []string{prev}, "flatten")
	for i, d := range [][2]int64{{4096, 25088}, {4096, 4096}, {1000, 4096}} {
		w, b := fmt.Sprintf("dense%d_weight", i), fmt.Sprintf("dense%d_bias", i)
		g.Initializer = append(g.Initializer,
			onnx.FloatTensor(w, []int64{d[0], d[1]}, make([]float32, d[0]*d[1])),
			onnx.FloatTensor(b, []int64{d[0]}, make([]float32, d[0])))
		add("Gemm", []string{prev, w, b}, fmt.Sprintf("dense%d", i), transB)
		if i < 2 {
			add("Relu", []string{prev}, fmt.Sprintf("dense%d_relu", i))
			add("Dropout", []string{prev}, fmt.Sprintf("dense%d_dropout", i))
		}
	}
	g.Output = []*pb.ValueInfoProto{onnx.ValueInfo(prev, onnx.Float, 1, 1000)}
	return m.Write(path)
}
