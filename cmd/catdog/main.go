// Command catdog takes the Kaggle "Dogs vs. Cats" photos from raw files to trained binary
// classifiers exported as ONNX models, each with its own written record.
//
// Run "catdog --help" for the list of commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd(newApp(os.Stdout, os.Stderr)).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "catdog:", err)
		os.Exit(1)
	}
}
