package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/serve"
)

// minDecodeMemory is the least --decode-memory: 16 MiB decode an 8-megapixel JPEG.
const minDecodeMemory = 16 << 20

func newServeCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve (--model FILE.onnx | --models DIR) [--addr 127.0.0.1:8080]",
		Short: "Serve exported models over HTTP (catdog's API and the Open Inference Protocol), with a page to try photos",
		Long: `serve answers HTTP requests with exported catdog models (model.onnx) on onnxruntime: one
file (--model), or every model of a model repository (--models), in catdog's own API and in
the Open Inference Protocol (KServe's v2 protocol, Triton's HTTP API):

  POST /v1/predict   the image as the body (Content-Type: image/jpeg, image/png, ...), or
                     the multipart form field "image" (repeat it for several images);
                     ?top=k lists the k most probable classes; ?model=NAME&version=V picks
                     a repository's model (default: the first by name, newest version)
  GET  /             a page: choose or drop a photo, see the label and the three most
                     probable classes as bars
  GET  /v1/model     the model's name, version, input size, labels, classes, metadata
  GET  /healthz      200 while serving, 503 while shutting down (see --drain-delay)
  GET  /metrics      Prometheus metrics: requests by status, latency, in flight, queue,
                     batch sizes, predictions and inference time by model, version and
                     label, models loaded and refused, Go and process

  GET  /v2                                server metadata (extension binary_tensor_data)
  GET  /v2/health/live, /v2/health/ready  liveness; readiness (503 while shutting down)
  GET  /v2/models/NAME[/versions/V]       inputs, outputs, class names ("labels")
  GET  /v2/models/NAME[/versions/V]/ready 200 when served
  POST /v2/models/NAME[/versions/V]/infer one input: "image_bytes" (BYTES [N]: image files,
                                          base64 in JSON), "pixels" (UINT8 [N,S,S,3]) or
                                          "image" (FP32 [N,3,S,S], RGB 0..255); outputs
                                          "probabilities" (FP32 [N,C]), "label" (BYTES
                                          [N]), "class" (INT64 [N]); JSON or binary data
--model's model is called --name in /v2 URLs (default: its catdog.arch, or "model").

A model repository is DIR/<model>/<version>/model.onnx (Triton's layout; versions are whole
numbers). --versions says which are served: latest (default), latest:N, all, or a list
such as 1,3. DIR is scanned every --poll: a new version (write it as a temporary folder,
then rename it into place) is loaded, checked on a blank image and swapped in without
failing a request: the requests holding the old one finish on it, then it is closed. A
version that fails to load or run is logged and left out while the one before goes on; a
model file changed in place is loaded again; a removed version stops being served.

An answer is JSON, {"label":"cat","class":1,"probability":0.97,"confidence":0.97} for a
model of two classes ("probability" is that of cat, label 1), or a list of them for a form
with several images. For a model of three classes or more, "probability" is that of the
label given and "top" lists the 5 most probable classes:
  {"label":"ship","class":8,"probability":0.91,"confidence":0.91,
   "top":[{"label":"ship","class":8,"probability":0.91},{"label":"truck","class":9,...},...]}
?top=k asks for k of them (all when k is more than the classes, none when 0), for any
model: a two-class answer has "top" only when asked for. A bad request gets a 4xx status and
{"error":"..."}: 415 for another content type, 413 for a body over --max-bytes (a larger
Content-Length is refused before the body is read), an image over 50 megapixels or one
whose decoding would take more than --decode-memory, 422 for what is not a usable image,
503 with Retry-After when --queue images are already waiting (or a quarter of them are
large images waiting to be decoded). Refusals of overload are logged once every 10 s with
their count, others one line each, on stderr.

Decoding is admitted by its cost, estimated from the image's header: images costing up to
a 32nd of --decode-memory decode at once, one per core; costlier ones (decompression bombs
among them) wait for their share of --decode-memory in order of arrival, on half as many
lanes, so that they never hold back ordinary photos.

SIGINT or SIGTERM stop it gracefully: /healthz and new predictions answer 503 while the
requests in flight finish, and for --drain-delay; then the listener closes.

Examples:
  catdog serve --model runs/mobilenet-v1-075-head-20261203-101500/model.onnx
  curl -H 'Content-Type: image/jpeg' --data-binary @cat.jpg http://127.0.0.1:8080/v1/predict
  catdog serve --models models/ --versions latest:2
  curl -d '{"inputs":[{"name":"image_bytes","shape":[1],"datatype":"BYTES","data":["'$(base64 -w0 cat.jpg)'"]}]}' \
      http://127.0.0.1:8080/v2/models/catdog/infer`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, repo := a.v.GetString("serve.model"), a.v.GetString("serve.models")
			if (path == "") == (repo == "") {
				return fmt.Errorf("serve: give --model FILE (one model) or --models DIR (a model repository)")
			}
			decodeMemory, drainDelay := a.v.GetInt64("serve.decode-memory"), a.v.GetDuration("serve.drain-delay")
			if decodeMemory < minDecodeMemory || decodeMemory > 1<<40 {
				return fmt.Errorf("serve: --decode-memory %d: want %d to %d bytes", decodeMemory, minDecodeMemory, int64(1<<40))
			}
			if drainDelay < 0 || drainDelay > 10*time.Minute {
				return fmt.Errorf("serve: --drain-delay %v: want 0 to 10m", drainDelay)
			}
			copts, err := classifierOptions(a, "serve")
			if err != nil {
				return err
			}
			opts := serve.Options{
				MaxBytes:      a.v.GetInt64("serve.max-bytes"),
				MaxImages:     a.v.GetInt("serve.max-images"),
				Queue:         a.v.GetInt("serve.queue"),
				MaxBatch:      a.v.GetInt("serve.batch"),
				BatchWait:     a.v.GetDuration("serve.batch-wait"),
				DecodeMemory:  decodeMemory,
				DrainDelay:    drainDelay,
				ServerVersion: version(),
				Log:           slog.New(slog.NewTextHandler(a.errOut, nil)),
			}
			var s *serve.Server
			var what string
			if repo != "" {
				policy, err := serve.ParseVersionPolicy(a.v.GetString("serve.versions"))
				if err != nil {
					return fmt.Errorf("serve: --versions: %w", err)
				}
				poll := a.v.GetDuration("serve.poll")
				if poll < 100*time.Millisecond || poll > time.Hour {
					return fmt.Errorf("serve: --poll %v: want 100ms to 1h", poll)
				}
				load := func(file string) (serve.Model, io.Closer, error) {
					c, err := classifier.Load(file, copts...)
					if err != nil {
						return nil, nil, err
					}
					if _, why := c.Provider(); why != "" {
						a.errf("catdog: %s: %s\n", file, why)
					}
					return c, c, nil
				}
				if s, err = serve.NewRepository(serve.Repository{Dir: repo, Load: load, Policy: policy, Poll: poll}, opts); err != nil {
					return err
				}
				what = "the models of " + repo + " (" + policy.String() + ")"
			} else {
				c, err := classifier.Load(path, copts...)
				if err != nil {
					return fmt.Errorf("serve: %w", err)
				}
				defer c.Close()
				if _, why := c.Provider(); why != "" {
					a.errf("catdog: %s\n", why)
				}
				meta := c.Metadata()
				opts.ModelName = a.v.GetString("serve.name")
				if opts.ModelName == "" {
					opts.ModelName = modelNameOf(meta[exported.MetaArch])
				}
				opts.Name = filepath.Base(filepath.Dir(path))
				if arch := meta[exported.MetaArch]; arch != "" {
					opts.Name = arch + " (" + opts.Name + ")"
				}
				opts.About = meta
				if s, err = serve.New(c, opts); err != nil {
					return err
				}
				what = opts.Name + " as " + opts.ModelName
			}
			defer s.Close()
			l, err := net.Listen("tcp", a.v.GetString("serve.addr"))
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			fmt.Fprintf(a.out, "serving %s on http://%s/ (Ctrl-C to stop)\n", what, l.Addr())
			err = s.Serve(ctx, l)
			if err == nil {
				fmt.Fprintln(a.out, "stopped: every request in flight was answered")
			}
			return err
		},
	}
	cmd.Flags().String("model", "", "exported model file (model.onnx)")
	cmd.Flags().String("models", "", "model repository: DIR/<model>/<version>/model.onnx, watched for new versions")
	cmd.Flags().String("name", "", "--model's name in /v2 URLs (default: its architecture, or model)")
	cmd.Flags().String("versions", "latest", "with --models: versions served of each model: latest, latest:N, all, or a list such as 1,3")
	cmd.Flags().Duration("poll", 2*time.Second, "with --models: how often the repository is scanned for new, changed and removed versions")
	cmd.Flags().String("addr", "127.0.0.1:8080", "address to listen on (0.0.0.0:8080 for every interface)")
	cmd.Flags().String("ep", "auto", "onnxruntime execution provider: auto, cuda or cpu")
	threadsFlag(cmd)
	modelLimitFlag(cmd)
	cmd.Flags().Float32("threshold", 0.5, "for a model of two classes: probability of cat (label 1) from which an image is called a cat")
	cmd.Flags().Int64("max-bytes", 20<<20, "largest request body in bytes")
	cmd.Flags().Int("max-images", 32, "most images in one multipart request")
	cmd.Flags().Int("queue", 64, "most images admitted and not yet answered; past it, 503")
	cmd.Flags().Int("batch", 16, "most images the model runs on at once")
	cmd.Flags().Duration("batch-wait", 2*time.Millisecond, "how long the first image of a batch waits for others")
	cmd.Flags().Int64("decode-memory", serve.DefaultDecodeMemory, "bytes that decoding large images may take at once, as estimated from their headers; an image needing more is refused 413")
	cmd.Flags().Duration("drain-delay", 0, "on SIGTERM, how long /healthz answers 503 before the listener closes (your load balancer's probe period)")
	a.bind(cmd)
	return cmd
}

// modelNameOf makes a name for the /v2 URLs from a model's architecture: the characters
// serve.ValidModelName refuses become '-'; "model" when nothing is left.
func modelNameOf(arch string) string {
	b := []byte(arch)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	name := strings.Trim(string(b), "-._")
	if len(name) > 128 {
		name = name[:128]
	}
	if !serve.ValidModelName(name) {
		return "model"
	}
	return name
}
