package serve_test

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"os/signal"
	"syscall"

	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/serve"
)

// A service of your own: load the exported model, serve it until SIGTERM, then finish the
// requests in flight.
func Example() {
	c, err := classifier.Load("model.onnx")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	s, err := serve.New(c, serve.Options{Name: "cats and dogs", About: c.Metadata()})
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := s.Serve(ctx, l); err != nil {
		log.Fatal(err)
	}
}

// Mounted in a server of your own, beside other routes.
func ExampleServer_Handler() {
	c, err := classifier.Load("model.onnx")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	s, err := serve.New(c, serve.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	mux := http.NewServeMux()
	mux.Handle("/catdog/", http.StripPrefix("/catdog", s.Handler()))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}

// A model repository: every models/<model>/<version>/model.onnx, the newest version of
// each, a new version swapped in within two seconds of being written.
func ExampleNewRepository() {
	load := func(path string) (serve.Model, io.Closer, error) {
		c, err := classifier.Load(path)
		if err != nil {
			return nil, nil, err
		}
		return c, c, nil // closed once the version is no longer served
	}
	s, err := serve.NewRepository(serve.Repository{Dir: "models", Load: load}, serve.Options{})
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := s.Serve(ctx, l); err != nil {
		log.Fatal(err)
	}
}
