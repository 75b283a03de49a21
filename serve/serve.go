// Package serve puts exported catdog models behind HTTP: one model (New), or the models of
// a model repository in their versions, swapped as new versions are written (NewRepository),
// in catdog's own API and in the Open Inference Protocol (KServe's v2, Triton's HTTP API:
// see protocol.go's routes):
//
//	POST /v1/predict   an image as the body (Content-Type: image/*), or the multipart form
//	                   field "image" (repeated for several): JSON answers; ?top=k lists
//	                   the k most probable classes; ?model=NAME&version=V picks the model
//	GET  /v1/model     the model's name, version, input size, labels, classes, metadata
//	GET  /             a page to try a photo in a browser
//	GET  /healthz      200 while serving, 503 once shutting down
//	GET  /metrics      Prometheus text format: requests, errors, latency, in flight, queue,
//	                   predictions and inference time by model and version
//	GET  /v2/...       the Open Inference Protocol: health, metadata, readiness, inference
//
// Requests are decoded in parallel (at most one image per core at a time) and the model runs
// on batches of the images waiting, so that many small requests cost little more than one
// big one. Images admitted but not yet answered are bounded: past Options.Queue a request is
// answered 503 with Retry-After at once, instead of waiting without end. Bodies are bounded
// by Options.MaxBytes (a larger declared Content-Length is answered 413 before any byte is
// read); what is not a usable image is answered 4xx with a message.
//
// Decoding is admitted by what it costs, not only by the count of images: the memory each
// image takes to decode is estimated from its header (imgutil.DecodeCost), and the large
// ones (decompression bombs among them: a 381 KB PNG can declare 392 MB of pixels) share
// Options.DecodeMemory, waiting for their share in order of arrival, on lanes of their own,
// so that they queue behind each other and never ahead of ordinary photos.
//
// Serve runs an http.Server with timeouts and shuts it down gracefully: /healthz answers
// 503 while the requests in flight finish.
package serve

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/internal/imgutil"
)

// Model is what the server needs of a classifier; *classifier.Classifier is one. A Model
// that also has the methods of Described (the classifier has them) tells /v1/model its
// labels and input size.
type Model interface {
	// Decode reads one image and returns it resized for the model (see classifier.Decode);
	// errors of bad input wrap classifier.ErrImage.
	Decode(r io.Reader) ([]uint8, error)
	// PredictPixels classifies n decoded images laid end to end.
	PredictPixels(nhwc []uint8, n int) ([]classifier.Prediction, error)
}

// Described is a Model that can say what it classifies, for /v1/model.
type Described interface {
	Labels() []string // the class names in label order
	InputSize() int   // the side length images are resized to
}

// Options configure a Server. The zero value of a field means its default.
type Options struct {
	// ModelName names the model that New serves in the Open Inference Protocol's URLs
	// (/v2/models/NAME/infer): see ValidModelName (default "model"). A repository's models
	// are named by their folders.
	ModelName string
	// Name names New's model on the page and in /v1/model (default: ModelName).
	Name string
	// About is shown by /v1/model: the model's metadata, say (classifier.Metadata).
	About map[string]string
	// MaxBytes bounds a request's body (default 20 MiB).
	MaxBytes int64
	// MaxImages bounds the images of one multipart request (default 32).
	MaxImages int
	// Queue bounds the images admitted and not yet answered, over all requests (default
	// 64); a request that would pass it is answered 503.
	Queue int
	// Decoders is how many images are decoded at once (default: the number of cores); large
	// images (see DecodeMemory) have lanes of their own besides: half as many, at least one.
	Decoders int
	// DecodeMemory bounds the memory that the decoding of large images holds at once, in
	// bytes, as imgutil.DecodeCost estimates it from each image's header (default 1 GiB).
	// An image that costs at most a 32nd of it (32 MiB by default: a 16-megapixel JPEG, a
	// 4-megapixel RGBA PNG) is small: it decodes as soon as one of the Decoders is free. A
	// larger one waits until its cost fits in DecodeMemory, in order of arrival among the
	// large ones, then decodes on a lane of its own; at most a quarter of Queue (at least one)
	// may wait or decode at a time, past that they are answered 503. One that costs more
	// than DecodeMemory is answered 413. The memory of each large image is collected as
	// soon as it is decoded, and handed back to the system after the last of a burst
	// (runtime.GC, debug.FreeOSMemory).
	DecodeMemory int64
	// MaxBatch is the most images the model runs on at once (default 16), BatchWait how long
	// the first image of a batch waits for company (default 2 ms).
	MaxBatch  int
	BatchWait time.Duration
	// DrainDelay is how long Serve, once its context is done, keeps accepting connections to
	// answer 503 (to /healthz, and to new predictions) before it closes its listener, so
	// that a load balancer's probe sees the server leave before connections are refused
	// (default 0: it closes once the requests in flight are answered). Give it your probe's
	// period.
	DrainDelay time.Duration
	// Registry receives the server's metrics and is what /metrics shows (default: a new
	// registry with Go's and the process's collectors too).
	Registry *prometheus.Registry
	// ServerVersion is the version the protocol's server metadata (GET /v2) gives (default
	// "dev").
	ServerVersion string
	// Log receives one line per failed request, except refusals of overload (503: busy,
	// shutting down), of which it receives at most one line every 10 s per reason, with
	// their count (default: none).
	Log *slog.Logger
}

func (o *Options) defaults() {
	if o.ModelName == "" {
		o.ModelName = "model"
	}
	if o.Name == "" {
		o.Name = o.ModelName
	}
	if o.ServerVersion == "" {
		o.ServerVersion = "dev"
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 20 << 20
	}
	if o.MaxImages <= 0 {
		o.MaxImages = 32
	}
	if o.Queue <= 0 {
		o.Queue = 64
	}
	o.MaxImages = min(o.MaxImages, o.Queue) // a bigger request could never be admitted
	if o.Decoders <= 0 {
		o.Decoders = runtime.NumCPU()
	}
	if o.DecodeMemory <= 0 {
		o.DecodeMemory = DefaultDecodeMemory
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 16
	}
	if o.BatchWait <= 0 {
		o.BatchWait = 2 * time.Millisecond
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
		o.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// DefaultDecodeMemory is Options.DecodeMemory's default: 1 GiB, enough for every image
// under imgutil.MaxPixels (50 megapixels) of ordinary proportions, 16-bit and interlaced
// PNGs included, but a progressive CMYK JPEG over 39 megapixels.
const DefaultDecodeMemory = imgutil.MaxDecodeBytes

// refusalLogEvery is how often the refusals of overload are logged, with their count.
const refusalLogEvery = 10 * time.Second

// Server answers the requests of one model (New) or of the models of a repository
// (NewRepository), each in one or more versions. Serve it with Serve (or mount Handler in
// your own server), and Close it when done.
type Server struct {
	opts Options
	mux  *http.ServeMux

	admitted chan struct{} // one token per image admitted and not yet answered
	decoders chan struct{} // one token per small image being decoded
	closing  sync.Once

	mu     sync.RWMutex
	models map[string]*served // by name
	live   sync.WaitGroup     // instances not yet shut down, retired or not
	closed bool               // Close has begun: nothing is served or installed any more
	repo   *repository        // nil for New's one model

	// Large images: their memory and lanes, their share of the queue.
	budget    *budget
	smallCost int64         // the most an image costs to count as small
	large     chan struct{} // one token per large image waiting or being decoded

	drain    chan struct{} // closed when shutting down begins
	draining sync.Once
	active   atomic.Int64 // prediction requests admitted before the drain and not yet answered

	refusals *refusalLog
	m        metrics
}

// job is one decoded image waiting for the model.
type job struct {
	px   []uint8
	done chan result // buffered: the batcher never waits for the handler
}

type result struct {
	p   classifier.Prediction
	err error
}

type metrics struct {
	inFlight    prometheus.Gauge
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	predictions *prometheus.CounterVec
	errors      *prometheus.CounterVec
	queue       prometheus.Gauge
	batch       prometheus.Histogram
	inference   *prometheus.HistogramVec
	ready       *prometheus.GaugeVec
	loads       *prometheus.CounterVec
}

// New returns a Server for model, served as version 1 of Options.ModelName. It starts the
// goroutine that runs the model on batches; Close stops it. The caller closes model after
// Close.
func New(model Model, opts Options) (*Server, error) {
	if model == nil {
		return nil, errors.New("serve: no model")
	}
	s, err := newBareServer(opts)
	if err != nil {
		return nil, err
	}
	s.install(s.newInstance(s.opts.ModelName, "1", model, nil))
	return s, nil
}

// newBareServer returns a Server that serves no model yet.
func newBareServer(opts Options) (*Server, error) {
	opts.defaults()
	if !ValidModelName(opts.ModelName) {
		return nil, fmt.Errorf("serve: model name %q: want 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or a digit", opts.ModelName)
	}
	s := &Server{
		opts:      opts,
		admitted:  make(chan struct{}, opts.Queue),
		decoders:  make(chan struct{}, opts.Decoders),
		models:    map[string]*served{},
		budget:    newBudget(opts.DecodeMemory, max(1, opts.Decoders/2)),
		smallCost: opts.DecodeMemory / 32,
		large:     make(chan struct{}, max(1, opts.Queue/4)),
		drain:     make(chan struct{}),
		refusals:  newRefusalLog(opts.Log, refusalLogEvery),
	}
	if err := s.register(opts.Registry); err != nil {
		return nil, err
	}
	s.mux = http.NewServeMux()
	s.mux.Handle("POST /v1/predict", s.instrument(http.HandlerFunc(s.predict)))
	s.mux.HandleFunc("GET /v1/model", s.info)
	s.mux.HandleFunc("GET /healthz", s.health)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{Registry: opts.Registry}))
	s.mux.HandleFunc("GET /{$}", s.page)
	s.routeProtocol()
	return s, nil
}

func (s *Server) register(reg *prometheus.Registry) error {
	s.m = metrics{
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "catdog_http_requests_in_flight", Help: "Prediction requests being served.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "catdog_http_requests_total", Help: "Prediction requests answered, by status code.",
		}, []string{"code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "catdog_http_request_duration_seconds", Help: "Latency of prediction requests, by status code.",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 13),
		}, []string{"code"}),
		predictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "catdog_predictions_total", Help: "Images classified, by model, version and label.",
		}, []string{"model", "version", "label"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "catdog_request_errors_total", Help: "Prediction requests refused or failed, by reason.",
		}, []string{"reason"}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "catdog_queue_images", Help: "Images admitted and not yet answered.",
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "catdog_batch_images", Help: "Images per model run.", Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
		}),
		inference: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "catdog_inference_seconds", Help: "Time of one model run, by model and version.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"model", "version"}),
		ready: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "catdog_model_ready", Help: "1 for each model version being served.",
		}, []string{"model", "version"}),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "catdog_model_loads_total", Help: "Versions loaded from the model repository (result ok) or refused (failed), by model.",
		}, []string{"model", "result"}),
	}
	decodeMemory := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "catdog_decode_memory_bytes", Help: "Memory held or reserved by the decoding of large images, as estimated from their headers.",
	}, func() float64 { used, _ := s.budget.state(); return float64(used) })
	large := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "catdog_decode_large_images", Help: "Large images waiting for decode memory or being decoded.",
	}, func() float64 { return float64(len(s.large)) })
	for _, c := range []prometheus.Collector{s.m.inFlight, s.m.requests, s.m.latency, s.m.predictions, s.m.errors, s.m.queue, s.m.batch, s.m.inference, s.m.ready, s.m.loads, decodeMemory, large} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("serve: registering metrics: %w", err)
		}
	}
	return nil
}

// instrument adds the standard HTTP metrics of promhttp: requests by code, latency, in
// flight.
func (s *Server) instrument(h http.Handler) http.Handler {
	return promhttp.InstrumentHandlerInFlight(s.m.inFlight,
		promhttp.InstrumentHandlerDuration(s.m.latency, promhttp.InstrumentHandlerCounter(s.m.requests, h)))
}

// Handler returns the server's routes, for mounting in another http.Server.
func (s *Server) Handler() http.Handler { return s.mux }

// Close stops serving: requests after Close are answered 503, and so are large images still
// waiting to be decoded; a repository is no longer watched. It returns once the requests
// that hold a model have been answered, every batch goroutine has stopped, and the models
// the server loaded from a repository are closed.
func (s *Server) Close() error {
	s.closing.Do(func() {
		s.startDrain()
		if s.repo != nil {
			s.repo.stop()
		}
		s.mu.Lock()
		s.closed = true
		var all []*instance
		for _, sv := range s.models {
			all = append(all, sv.versions...)
		}
		s.models = map[string]*served{}
		s.mu.Unlock()
		for _, in := range all {
			in.retire()
		}
		s.live.Wait() // these, and versions retired before and still finishing requests
		s.refusals.close()
	})
	return nil
}

// startDrain begins the shutdown: /healthz and new predictions answer 503, large images
// waiting to be decoded give up.
func (s *Server) startDrain() { s.draining.Do(func() { close(s.drain) }) }

func (s *Server) isDraining() bool {
	select {
	case <-s.drain:
		return true
	default:
		return false
	}
}

// Timeouts of the http.Server that Serve runs.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 60 * time.Second
	IdleTimeout       = 2 * time.Minute
	ShutdownTimeout   = 30 * time.Second
)

// Serve answers requests on l until ctx is done, then shuts down gracefully: /healthz and
// new predictions answer 503 (keep-alive ends) while the listener stays open for the
// requests in flight to finish, and for at least Options.DrainDelay; then it closes the
// listener, waits for the last answers, and Closes the server, all within DrainDelay +
// ShutdownTimeout. It returns nil after a graceful shutdown.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.opts.Log.Handler(), slog.LevelWarn),
	}
	failed := make(chan error, 1)
	go func() { failed <- srv.Serve(l) }()
	select {
	case err := <-failed:
		s.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.startDrain()
	srv.SetKeepAlivesEnabled(false)
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.DrainDelay+ShutdownTimeout)
	defer cancel()
	s.settle(sctx)
	err := srv.Shutdown(sctx)
	s.Close()
	if err != nil {
		return fmt.Errorf("serve: shutting down: %w", err)
	}
	return nil
}

// settle returns once no prediction admitted before the drain is in flight and
// Options.DrainDelay has passed since it began, or when ctx is done.
func (s *Server) settle(ctx context.Context) {
	delay := time.NewTimer(s.opts.DrainDelay)
	defer delay.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	waited := s.opts.DrainDelay <= 0
	for !waited || s.active.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-delay.C:
			waited = true
		case <-tick.C:
		}
	}
}

// Answer is the JSON answer for one image: for a model of two classes,
// {"label","class","probability","confidence"} as it has always been ("probability" is that
// of label 1, of cat), with "top" only when asked for; for a model of three classes or more,
// the same fields ("probability" is that of the label given) and "top", the 5 most probable
// classes by default.
type Answer struct {
	// File is the multipart file name, when the image came in a form.
	File                   string `json:"file,omitempty"`
	*classifier.Prediction        // nil when Error is set
	// Top lists the most probable classes, most probable first: as many as the request's
	// query parameter top=k asks (all of them when k is more; none when 0), else DefaultTop
	// for a model of three classes or more and none for two.
	Top []classifier.ClassProbability `json:"top,omitempty"`
	// Error says why this image of a multipart request could not be classified.
	Error string `json:"error,omitempty"`
}

// DefaultTop is how many classes an answer lists in "top" for a model of three classes or
// more, when the request does not say.
const DefaultTop = 5

// maxTop bounds the query parameter top: no model has more classes (labels are uint8).
const maxTop = 256

// topOf reads the query parameter top of r: -1 when absent (the default), else 0..maxTop.
func topOf(r *http.Request) (int, *httpError) {
	v, ok := r.URL.Query()["top"]
	if !ok {
		return -1, nil
	}
	k, err := strconv.Atoi(v[0])
	if err != nil || k < 0 || len(v) > 1 {
		return 0, refuse(http.StatusBadRequest, "query", "query parameter top=%q: want one number of classes, 0 or more", strings.Join(v, ","))
	}
	return min(k, maxTop), nil
}

// withTop fills a.Top with the k most probable classes of a.Prediction; k < 0 means the
// default.
func (a *Answer) withTop(k int) {
	if a.Prediction == nil {
		return
	}
	if k < 0 {
		if len(a.Probabilities) < 3 {
			return
		}
		k = DefaultTop
	}
	if k > 0 {
		a.Top = a.Prediction.Top(k)
	}
}

// apiError is the JSON body of a refused request.
type apiError struct {
	Error string `json:"error"`
}

// httpError is a refusal: its status, the reason counted in the metrics, and a message.
type httpError struct {
	status int
	reason string
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func refuse(status int, reason, format string, args ...any) *httpError {
	return &httpError{status: status, reason: reason, msg: fmt.Sprintf(format, args...)}
}

// overload reports whether reason is one of overload, whose refusals are logged at most
// once per interval, and how the line with their count names it.
func overload(reason string) (what string, ok bool) {
	switch reason {
	case "busy":
		return "queue full", true
	case "busy_large":
		return "too many large images waiting to be decoded", true
	case "shutting_down":
		return "shutting down", true
	case "no_model":
		// a probe or a client asking for a version not served yet: not worth a line each
		return "no such model or version", true
	}
	return "", false
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, e *httpError) {
	s.m.errors.WithLabelValues(e.reason).Inc()
	if what, ok := overload(e.reason); ok {
		s.refusals.add(e, what, r.RemoteAddr)
	} else {
		s.opts.Log.Warn("request refused", "status", e.status, "reason", e.reason, "error", e.msg, "remote", r.RemoteAddr)
	}
	if e.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.status, apiError{Error: e.msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// upload is one image of a request.
type upload struct {
	file string
	data []byte
}

// begin takes a prediction request in (/v1/predict, the protocol's infer) as far as its
// headers go: refused while shutting down, and when it declares a body over MaxBytes
// (before a byte of it is read); else counted in flight until done is called, and its body
// bounded by MaxBytes.
func (s *Server) begin(w http.ResponseWriter, r *http.Request) (done func(), ok bool) {
	if s.isDraining() {
		s.fail(w, r, refuse(http.StatusServiceUnavailable, "shutting_down", "the server is shutting down"))
		return nil, false
	}
	s.active.Add(1)
	if r.ContentLength > s.opts.MaxBytes {
		s.active.Add(-1)
		s.fail(w, r, refuse(http.StatusRequestEntityTooLarge, "too_large", "request body over %d bytes (Content-Length: %d)", s.opts.MaxBytes, r.ContentLength))
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBytes)
	return func() { s.active.Add(-1) }, true
}

func (s *Server) predict(w http.ResponseWriter, r *http.Request) {
	done, ok := s.begin(w, r)
	if !ok {
		return
	}
	defer done()
	top, herr := topOf(r)
	if herr != nil {
		s.fail(w, r, herr)
		return
	}
	in, herr := s.acquire(r.URL.Query().Get("model"), r.URL.Query().Get("version"))
	if herr != nil {
		s.fail(w, r, herr)
		return
	}
	// The model is given back once the answers are known, before they are written to a
	// client that may read slowly: a retired version closes without waiting for it.
	release := sync.OnceFunc(in.release)
	defer release()
	ups, multi, herr := s.read(r)
	if herr != nil {
		s.fail(w, r, herr)
		return
	}
	// Admission: every image takes a token of the queue, or the request is refused now.
	unadmit, herr := s.admit(len(ups))
	if herr != nil {
		s.fail(w, r, herr)
		return
	}
	defer unadmit()
	answers := make([]Answer, len(ups))
	errs := make([]error, len(ups))
	var wg sync.WaitGroup
	for i, u := range ups {
		answers[i].File = u.file
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := s.classify(r.Context(), in, u.data)
			if err != nil {
				errs[i] = err
				return
			}
			answers[i].Prediction = &p
			answers[i].withTop(top)
		}()
	}
	wg.Wait()
	release()
	if !multi || len(answers) == 1 {
		if errs[0] != nil {
			s.fail(w, r, imageError(errs[0]))
			return
		}
		writeJSON(w, http.StatusOK, answers[0])
		return
	}
	for i, err := range errs {
		if err != nil {
			answers[i].Error = err.Error()
			s.m.errors.WithLabelValues(imageError(err).reason).Inc()
		}
	}
	writeJSON(w, http.StatusOK, answers)
}

// imageError turns the error of one image into a refusal: 413 when the image is too large,
// 422 when it is not a usable image, 503 when the server is stopping, 500 when the model
// failed.
func imageError(err error) *httpError {
	switch {
	case errors.Is(err, classifier.ErrTooLarge):
		return refuse(http.StatusRequestEntityTooLarge, "too_large", "%v", err)
	case errors.Is(err, classifier.ErrImage):
		return refuse(http.StatusUnprocessableEntity, "bad_image", "%v", err)
	case errors.Is(err, errShuttingDown), errors.Is(err, classifier.ErrClosed):
		return refuse(http.StatusServiceUnavailable, "shutting_down", "%v", err)
	case errors.Is(err, errBusyLarge):
		return refuse(http.StatusServiceUnavailable, "busy_large", "%v", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return refuse(http.StatusServiceUnavailable, "canceled", "%v", err)
	}
	return refuse(http.StatusInternalServerError, "model", "classifying: %v", err)
}

var (
	errShuttingDown = errors.New("the server is shutting down")
	errBusyLarge    = errors.New("busy: large images are waiting to be decoded")
)

// classify decodes one image (once startDecode admits it) and waits for in's answer.
func (s *Server) classify(ctx context.Context, in *instance, data []byte) (classifier.Prediction, error) {
	done, err := s.startDecode(ctx, data)
	if err != nil {
		return classifier.Prediction{}, err
	}
	px, err := in.model.Decode(bytes.NewReader(data))
	done()
	if err != nil {
		return classifier.Prediction{}, err
	}
	return in.predict(px)
}

// predict queues one decoded image for in's batch goroutine and waits for its answer. The
// caller holds a reference to in, so the goroutine runs until it answers.
func (in *instance) predict(px []uint8) (classifier.Prediction, error) {
	j := &job{px: px, done: make(chan result, 1)}
	in.jobs <- j
	res := <-j.done
	return res.p, res.err
}

// startDecode waits until the image in data may be decoded, by what its header says it
// costs (see Options.DecodeMemory), and returns the function to call once it is decoded.
func (s *Server) startDecode(ctx context.Context, data []byte) (done func(), err error) {
	cfg, cost, err := imgutil.DecodeCost(data)
	if err != nil || cost <= s.smallCost || int64(cfg.Width)*int64(cfg.Height) > imgutil.MaxPixels {
		// Small, or refused by the model's Decode before any pixel is allocated (not an
		// image, over the pixel limit): one of the Decoders.
		select {
		case s.decoders <- struct{}{}:
			return func() { <-s.decoders }, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if cost > s.opts.DecodeMemory {
		return nil, fmt.Errorf("%w: %w: decoding this %dx%d %s would take about %d MiB, over the %d MiB this server decodes at once",
			classifier.ErrImage, classifier.ErrTooLarge, cfg.Width, cfg.Height, strings.ToUpper(cfg.Format), mib(cost), mib(s.opts.DecodeMemory))
	}
	select {
	case s.large <- struct{}{}:
	default:
		return nil, fmt.Errorf("%w: %d of them already; retry shortly", errBusyLarge, cap(s.large))
	}
	if err := s.budget.acquire(ctx, s.drain, cost); err != nil {
		<-s.large
		return nil, err
	}
	if err := ctx.Err(); err != nil { // the client left as its turn came: decode nothing
		s.budget.release(cost)
		<-s.large
		return nil, err
	}
	return func() {
		// The image just decoded is garbage: collected before the next large image takes
		// its lane and memory, it is reused rather than added to.
		runtime.GC()
		if s.budget.release(cost) {
			// The last of a burst: what the large images took goes back to the system now,
			// not minutes later, as the Go runtime would.
			debug.FreeOSMemory()
		}
		<-s.large
	}, nil
}

// mib is n bytes in MiB, rounded up.
func mib(n int64) int64 { return (n + 1<<20 - 1) >> 20 }

// read takes the images out of a request: the body of an image/* request, or the "image"
// parts of a multipart form. multi reports the latter.
func (s *Server) read(r *http.Request) (ups []upload, multi bool, herr *httpError) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, false, refuse(http.StatusUnsupportedMediaType, "content_type",
			"Content-Type %q: send an image (image/jpeg, image/png, ...) or a multipart form with a field \"image\"", ct)
	}
	switch {
	case strings.HasPrefix(mt, "image/"), mt == "application/octet-stream":
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, false, s.readError(err)
		}
		if len(data) == 0 {
			return nil, false, refuse(http.StatusBadRequest, "empty", "empty body: send the image as the request body")
		}
		return []upload{{data: data}}, false, nil
	case mt == "multipart/form-data":
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, true, refuse(http.StatusBadRequest, "form", "reading the form: %v", err)
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, true, s.readError(err)
			}
			if part.FormName() != "image" {
				part.Close()
				continue
			}
			if len(ups) == s.opts.MaxImages {
				return nil, true, refuse(http.StatusRequestEntityTooLarge, "too_many", "more than %d images in one request", s.opts.MaxImages)
			}
			data, err := io.ReadAll(part)
			if err != nil {
				return nil, true, s.readError(err)
			}
			ups = append(ups, upload{file: part.FileName(), data: data})
		}
		if len(ups) == 0 {
			return nil, true, refuse(http.StatusBadRequest, "form", "no field \"image\" in the form")
		}
		return ups, true, nil
	}
	return nil, false, refuse(http.StatusUnsupportedMediaType, "content_type",
		"Content-Type %q: send an image (image/jpeg, image/png, ...) or a multipart form with a field \"image\"", mt)
}

func (s *Server) readError(err error) *httpError {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return refuse(http.StatusRequestEntityTooLarge, "too_large", "request body over %d bytes", s.opts.MaxBytes)
	}
	return refuse(http.StatusBadRequest, "read", "reading the request: %v", err)
}

// ModelInfo is the answer of GET /v1/model. InputSize, Labels and Classes are known when
// the Model is Described (a *classifier.Classifier is), else absent.
type ModelInfo struct {
	Name      string            `json:"name"`
	Model     string            `json:"model"`                // its name in the protocol's URLs (/v2/models/MODEL)
	Version   string            `json:"version"`              // the version answering
	InputSize int               `json:"input_size,omitempty"` // the side length images are resized to
	Labels    []string          `json:"labels,omitempty"`     // the class names in label order
	Classes   int               `json:"classes,omitempty"`    // how many: len(Labels)
	About     map[string]string `json:"about,omitempty"`      // Options.About: the model's metadata
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	in, herr := s.acquire(r.URL.Query().Get("model"), r.URL.Query().Get("version"))
	if herr != nil {
		s.fail(w, r, herr)
		return
	}
	defer in.release()
	mi := ModelInfo{Name: in.name, Model: in.name, Version: in.version, About: s.opts.About}
	if s.repo == nil {
		mi.Name = s.opts.Name
	} else if a, ok := in.model.(interface{ Metadata() map[string]string }); ok {
		mi.About = a.Metadata()
	}
	if d, ok := in.model.(Described); ok {
		mi.InputSize, mi.Labels = d.InputSize(), d.Labels()
		mi.Classes = len(mi.Labels)
	}
	writeJSON(w, http.StatusOK, mi)
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.isDraining() {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "shutting down\n")
		return
	}
	io.WriteString(w, "ok\n")
}

//go:embed page/index.html
var pageHTML []byte

func (s *Server) page(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob:; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
	w.Write(pageHTML)
}
