package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/exported"
)

// This file serves the Open Inference Protocol (KServe's v2 protocol, which Triton's HTTP
// API speaks too) over HTTP/REST, beside catdog's own /v1 API:
//
//	GET  /v2                                  server metadata
//	GET  /v2/health/live                      200 while the process answers
//	GET  /v2/health/ready                     200 while models are served, 503 once shutting down
//	GET  /v2/models/NAME[/versions/V]         model metadata: inputs, outputs, class names
//	GET  /v2/models/NAME[/versions/V]/ready   200 when that model (version) is served
//	POST /v2/models/NAME[/versions/V]/infer   inference on typed tensors
//
// Without a version, a model's newest version answers. An inference request has one input
// of the three a model's metadata lists, and asks for any of its three outputs (all when it
// names none); see InputImageBytes and the names after it. Tensor data comes as JSON
// (flattened or nested, row-major) or, with the binary tensor data extension, as bytes after
// the JSON (the Inference-Header-Content-Length header gives the JSON's length). Errors are
// {"error": "..."} with a 4xx or 5xx status, as for /v1.

// The tensors of an inference request and its response.
const (
	// InputImageBytes is a BYTES input of shape [N] (or [N, 1]): N encoded images (JPEG, PNG,
	// GIF, WebP, BMP, TIFF), decoded and resized by the server as /v1/predict does. In JSON,
	// each element is the image file in standard base64; as binary data, each is the file's
	// bytes after their length (4 bytes, little-endian), as the extension lays out BYTES.
	InputImageBytes = "image_bytes"
	// InputPixels is a UINT8 input of shape [N, S, S, 3]: N images already resized to the
	// model's input size S, RGB, rows of pixels (NHWC, the layout of a prepared dataset).
	InputPixels = "pixels"
	// InputImage is an FP32 input of shape [N, 3, S, S]: the exported model's own input,
	// RGB values 0..255 in planes (NCHW).
	InputImage = exported.InputName
	// OutputProbabilities is FP32 [N, C]: each image's probabilities, in label order.
	OutputProbabilities = "probabilities"
	// OutputLabel is BYTES [N]: each image's label (class name).
	OutputLabel = "label"
	// OutputClass is INT64 [N]: each image's class, its index in the labels.
	OutputClass = "class"
)

// Datatypes of the protocol that catdog's tensors use.
const (
	TypeBytes = "BYTES"
	TypeUint8 = "UINT8"
	TypeFP32  = "FP32"
	TypeInt64 = "INT64"
)

// ServerMetadata is the answer of GET /v2.
type ServerMetadata struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Extensions []string `json:"extensions"`
}

// TensorMetadata describes an input or an output; -1 is a dimension of any size.
type TensorMetadata struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// ModelMetadata is the answer of GET /v2/models/NAME[/versions/V]. Its parameters give the
// class names ("labels", as exported.EncodeLabels writes them), their number ("classes")
// and the input size S ("input_size") of a model that says them.
type ModelMetadata struct {
	Name       string           `json:"name"`
	Versions   []string         `json:"versions,omitempty"`
	Platform   string           `json:"platform"`
	Inputs     []TensorMetadata `json:"inputs"`
	Outputs    []TensorMetadata `json:"outputs"`
	Parameters map[string]any   `json:"parameters,omitempty"`
}

// InferRequest is the body of POST .../infer.
type InferRequest struct {
	ID         string          `json:"id,omitempty"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Inputs     []RequestInput  `json:"inputs"`
	Outputs    []RequestOutput `json:"outputs,omitempty"`
}

// RequestInput is a tensor of an InferRequest. Data holds its elements as JSON (flat or
// nested arrays), unless Parameters has "binary_data_size".
type RequestInput struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
}

// RequestOutput asks for an output; with the parameter "binary_data": true, as binary data.
type RequestOutput struct {
	Name       string         `json:"name"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

// InferResponse is the answer of POST .../infer.
type InferResponse struct {
	ModelName    string           `json:"model_name"`
	ModelVersion string           `json:"model_version,omitempty"`
	ID           string           `json:"id,omitempty"`
	Parameters   map[string]any   `json:"parameters,omitempty"`
	Outputs      []ResponseOutput `json:"outputs"`
}

// ResponseOutput is a tensor of an InferResponse: Data as JSON (flat, row-major), or, when
// Parameters has "binary_data_size", that many bytes after the JSON.
type ResponseOutput struct {
	Name       string         `json:"name"`
	Shape      []int64        `json:"shape"`
	Datatype   string         `json:"datatype"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Data       any            `json:"data,omitempty"`
}

// HeaderLength is the header of the binary tensor data extension: the length of the JSON
// at the start of a body that binary tensor data follows.
const HeaderLength = "Inference-Header-Content-Length"

// TensorModel is a Model that also runs on the exported model's own input (InputImage);
// *classifier.Classifier is one.
type TensorModel interface {
	PredictNCHW(nchw []float32, n int) ([]classifier.Prediction, error)
}

func (s *Server) routeProtocol() {
	s.mux.HandleFunc("GET /v2", s.serverMetadata)
	s.mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	s.mux.HandleFunc("GET /v2/health/ready", s.serverReady)
	for _, base := range []string{"/v2/models/{name}", "/v2/models/{name}/versions/{version}"} {
		s.mux.HandleFunc("GET "+base, s.modelMetadata)
		s.mux.HandleFunc("GET "+base+"/ready", s.modelReady)
		s.mux.Handle("POST "+base+"/infer", s.instrument(http.HandlerFunc(s.infer)))
	}
}

func (s *Server) serverMetadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, ServerMetadata{Name: "catdog", Version: s.opts.ServerVersion, Extensions: []string{"binary_tensor_data"}})
}

// serverReady answers 200 while models are served; false is a 4xx status, as the protocol
// says readiness is given (400, as Triton answers; the error object says why).
func (s *Server) serverReady(w http.ResponseWriter, r *http.Request) {
	if s.isDraining() {
		s.fail(w, r, refuse(http.StatusBadRequest, "shutting_down", "not ready: the server is shutting down"))
		return
	}
	if len(s.snapshot()) == 0 {
		s.fail(w, r, refuse(http.StatusBadRequest, "no_model", "not ready: no model is served"))
		return
	}
	w.WriteHeader(http.StatusOK)
}

// modelOf acquires the model (version) the path names.
func (s *Server) modelOf(r *http.Request) (*instance, *httpError) {
	if s.isDraining() {
		return nil, refuse(http.StatusServiceUnavailable, "shutting_down", "the server is shutting down")
	}
	return s.acquire(r.PathValue("name"), r.PathValue("version"))
}

func (s *Server) modelReady(w http.ResponseWriter, r *http.Request) {
	in, herr := s.modelOf(r)
	if herr != nil {
		s.fail(w, r, herr)
		return
	}
	in.release()
	w.WriteHeader(http.StatusOK)
}

func (s *Server) modelMetadata(w http.ResponseWriter, r *http.Request) {
	in, herr := s.modelOf(r)
	if herr != nil {
		s.fail(w, r, herr)
		return
	}
	defer in.release()
	md := ModelMetadata{Name: in.name, Versions: []string{in.version}, Platform: "onnxruntime_onnx",
		Inputs: []TensorMetadata{{Name: InputImageBytes, Datatype: TypeBytes, Shape: []int64{-1}}}}
	if r.PathValue("version") == "" {
		s.mu.RLock()
		if sv := s.models[in.name]; sv != nil {
			md.Versions = sv.versionNames()
		}
		s.mu.RUnlock()
	}
	classes := int64(-1)
	if d, ok := in.model.(Described); ok {
		size := int64(d.InputSize())
		labels := d.Labels()
		classes = int64(len(labels))
		md.Inputs = append(md.Inputs, TensorMetadata{Name: InputPixels, Datatype: TypeUint8, Shape: []int64{-1, size, size, 3}})
		if _, ok := in.model.(TensorModel); ok {
			md.Inputs = append(md.Inputs, TensorMetadata{Name: InputImage, Datatype: TypeFP32, Shape: []int64{-1, 3, size, size}})
		}
		md.Parameters = map[string]any{"labels": exported.EncodeLabels(labels), "classes": classes, "input_size": size}
	}
	md.Outputs = []TensorMetadata{
		{Name: OutputProbabilities, Datatype: TypeFP32, Shape: []int64{-1, classes}},
		{Name: OutputLabel, Datatype: TypeBytes, Shape: []int64{-1}},
		{Name: OutputClass, Datatype: TypeInt64, Shape: []int64{-1}},
	}
	writeJSON(w, http.StatusOK, md)
}

// infer answers POST .../infer.
func (s *Server) infer(w http.ResponseWriter, r *http.Request) {
	done, ok := s.begin(w, r)
	if !ok {
		return
	}
	defer done()
	in, herr := s.modelOf(r)
	if herr != nil {
		s.fail(w, r, herr)
		return
	}
	release := sync.OnceFunc(in.release) // given back before the answer is written (see predict)
	defer release()
	req, bin, herr := s.readInfer(r)
	if herr != nil {
		s.fail(w, r, herr)
		return
	}
	t, herr := tensorOf(req, bin, in.model, s.opts.MaxImages)
	if herr != nil {
		s.fail(w, r, herr)
		return
	}
	outs, herr := outputsOf(req)
	if herr != nil {
		s.fail(w, r, herr)
		return
	}
	unadmit, herr := s.admit(t.n)
	if herr != nil {
		s.fail(w, r, herr)
		return
	}
	defer unadmit()
	preds, err := s.predictTensor(r.Context(), in, t)
	release()
	if err != nil {
		s.fail(w, r, imageError(err))
		return
	}
	writeInfer(w, InferResponse{ModelName: in.name, ModelVersion: in.version, ID: req.ID}, preds, outs)
}

// readInfer reads the request's JSON and, after it, its binary tensor data.
func (s *Server) readInfer(r *http.Request) (*InferRequest, []byte, *httpError) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, nil, s.readError(err)
	}
	head, bin := body, []byte(nil)
	if h := r.Header.Get(HeaderLength); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 0 || n > len(body) {
			return nil, nil, refuse(http.StatusBadRequest, "request", "%s: %q for a body of %d bytes", HeaderLength, h, len(body))
		}
		head, bin = body[:n], body[n:]
	}
	var req InferRequest
	if err := json.Unmarshal(head, &req); err != nil {
		return nil, nil, refuse(http.StatusBadRequest, "request", "reading the inference request: %v", err)
	}
	return &req, bin, nil
}

// tensor is the input of an inference request, read.
type tensor struct {
	name   string
	n      int
	images [][]byte  // InputImageBytes
	px     []uint8   // InputPixels
	x      []float32 // InputImage
}

// tensorOf reads the one input of req, its binary data from bin, for model m; at most
// maxImages images.
func tensorOf(req *InferRequest, bin []byte, m Model, maxImages int) (*tensor, *httpError) {
	if len(req.Inputs) != 1 {
		return nil, refuse(http.StatusBadRequest, "request", "%d inputs: want one, %s, %s or %s", len(req.Inputs), InputImageBytes, InputPixels, InputImage)
	}
	ri := req.Inputs[0]
	bad := func(format string, args ...any) *httpError {
		return refuse(http.StatusBadRequest, "request", "input %q: "+format, append([]any{ri.Name}, args...)...)
	}
	var size int64
	if d, ok := m.(Described); ok {
		size = int64(d.InputSize())
	}
	var want []int64 // the shape, -1 for N
	var datatype string
	switch ri.Name {
	case InputImageBytes:
		datatype, want = TypeBytes, []int64{-1}
		if len(ri.Shape) == 2 {
			want = []int64{-1, 1}
		}
	case InputPixels:
		datatype, want = TypeUint8, []int64{-1, size, size, 3}
	case InputImage:
		if _, ok := m.(TensorModel); !ok {
			return nil, bad("this model takes %s or %s", InputImageBytes, InputPixels)
		}
		datatype, want = TypeFP32, []int64{-1, 3, size, size}
	default:
		return nil, bad("unknown input: want %s (%s [N], encoded images), %s (%s [N, S, S, 3]) or %s (%s [N, 3, S, S])",
			InputImageBytes, TypeBytes, InputPixels, TypeUint8, InputImage, TypeFP32)
	}
	if ri.Name != InputImageBytes && size == 0 {
		return nil, bad("this model does not say its input size: send %s", InputImageBytes)
	}
	if ri.Datatype != datatype {
		return nil, bad("datatype %q: want %s", ri.Datatype, datatype)
	}
	if len(ri.Shape) != len(want) || ri.Shape[0] < 1 {
		return nil, bad("shape %v: want %v with N >= 1", ri.Shape, shapeString(want))
	}
	for i := 1; i < len(want); i++ {
		if ri.Shape[i] != want[i] {
			return nil, bad("shape %v: want %v", ri.Shape, shapeString(want))
		}
	}
	if ri.Shape[0] > int64(maxImages) {
		return nil, refuse(http.StatusRequestEntityTooLarge, "too_many", "input %q: %d images, over the %d one request may hold", ri.Name, ri.Shape[0], maxImages)
	}
	t := &tensor{name: ri.Name, n: int(ri.Shape[0])}
	count := t.n
	for _, d := range want[1:] {
		count *= int(d)
	}
	size64, binary, herr := binarySize(ri.Parameters)
	if herr != nil {
		return nil, bad("%v", herr.msg)
	}
	var err error
	if binary {
		if size64 > int64(len(bin)) {
			return nil, bad("binary_data_size %d, but %d bytes follow the JSON", size64, len(bin))
		}
		if int64(len(bin)) != size64 {
			return nil, bad("binary_data_size %d, but %d bytes follow the JSON: one input, one block of data", size64, len(bin))
		}
		err = t.readBinary(bin, count)
	} else {
		if len(bin) > 0 {
			return nil, bad("%d bytes follow the JSON but no binary_data_size says whose", len(bin))
		}
		err = t.readJSON(ri.Data, count)
	}
	if err != nil {
		return nil, bad("%v", err)
	}
	return t, nil
}

// shapeString writes a shape with N for -1.
func shapeString(s []int64) string {
	out := "["
	for i, d := range s {
		if i > 0 {
			out += ", "
		}
		if d < 0 {
			out += "N"
		} else {
			out += strconv.FormatInt(d, 10)
		}
	}
	return out + "]"
}

// binarySize reads the parameter binary_data_size.
func binarySize(params map[string]any) (int64, bool, *httpError) {
	v, ok := params["binary_data_size"]
	if !ok {
		return 0, false, nil
	}
	f, ok := v.(float64)
	if !ok || f < 0 || f != math.Trunc(f) || f > 1<<53 {
		return 0, false, refuse(http.StatusBadRequest, "request", "binary_data_size %v: want a whole number of bytes", v)
	}
	return int64(f), true, nil
}

// readBinary reads count elements of t's type from b, laid out as the binary tensor data
// extension says.
func (t *tensor) readBinary(b []byte, count int) error {
	switch t.name {
	case InputImageBytes:
		for len(b) > 0 {
			if len(b) < 4 {
				return fmt.Errorf("binary data: %d bytes left where an element's 4-byte length should be", len(b))
			}
			n := binary.LittleEndian.Uint32(b)
			if uint64(n) > uint64(len(b)-4) {
				return fmt.Errorf("binary data: element %d says %d bytes, %d left", len(t.images), n, len(b)-4)
			}
			t.images = append(t.images, b[4:4+n:4+n])
			b = b[4+n:]
		}
		if len(t.images) != count {
			return fmt.Errorf("binary data holds %d elements, the shape says %d", len(t.images), count)
		}
	case InputPixels:
		if len(b) != count {
			return fmt.Errorf("binary data of %d bytes, the shape says %d", len(b), count)
		}
		t.px = b
	case InputImage:
		if len(b) != 4*count {
			return fmt.Errorf("binary data of %d bytes, the shape says %d (%d FP32 values)", len(b), 4*count, count)
		}
		t.x = make([]float32, count)
		for i := range t.x {
			t.x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	}
	return nil
}

// readJSON reads count elements of t's type from data: arrays, flat or nested, row-major.
func (t *tensor) readJSON(data json.RawMessage, count int) error {
	if len(data) == 0 {
		return errors.New("no data (and no binary_data_size)")
	}
	switch t.name {
	case InputPixels:
		t.px = make([]uint8, 0, count)
	case InputImage:
		t.x = make([]float32, 0, count)
	}
	seen := 0
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("data: %w", err)
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '}' {
				return errors.New("data: want arrays of values, not objects")
			}
			continue
		}
		if seen == count {
			return fmt.Errorf("data holds more than the %d elements the shape says", count)
		}
		if err := t.add(tok, seen); err != nil {
			return err
		}
		seen++
	}
	if seen != count {
		return fmt.Errorf("data holds %d elements, the shape says %d", seen, count)
	}
	return nil
}

// add appends element i, a JSON token.
func (t *tensor) add(tok json.Token, i int) error {
	switch t.name {
	case InputImageBytes:
		s, ok := tok.(string)
		if !ok {
			return fmt.Errorf("element %d: want a string (the image file in base64), got %v", i, tok)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
				return fmt.Errorf("element %d: not base64: %v", i, err)
			}
		}
		t.images = append(t.images, b)
	case InputPixels:
		n, ok := tok.(json.Number)
		v, err := strconv.ParseUint(string(n), 10, 8)
		if !ok || err != nil {
			return fmt.Errorf("element %d: %v is not a UINT8 (0 to 255)", i, tok)
		}
		t.px = append(t.px, uint8(v))
	case InputImage:
		n, ok := tok.(json.Number)
		v, err := strconv.ParseFloat(string(n), 32)
		if !ok || err != nil {
			return fmt.Errorf("element %d: %v is not an FP32 number", i, tok)
		}
		t.x = append(t.x, float32(v))
	}
	return nil
}

// output is an output asked for: its name and whether as binary data.
type output struct {
	name   string
	binary bool
}

// outputsOf reads the outputs req asks for: all three when it names none.
func outputsOf(req *InferRequest) ([]output, *httpError) {
	all := false
	if v, ok := req.Parameters["binary_data_output"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return nil, refuse(http.StatusBadRequest, "request", "parameter binary_data_output %v: want true or false", v)
		}
		all = b
	}
	if len(req.Outputs) == 0 {
		return []output{{OutputProbabilities, all}, {OutputLabel, all}, {OutputClass, all}}, nil
	}
	var outs []output
	for _, o := range req.Outputs {
		switch o.Name {
		case OutputProbabilities, OutputLabel, OutputClass:
		default:
			return nil, refuse(http.StatusBadRequest, "request", "output %q: want %s, %s or %s", o.Name, OutputProbabilities, OutputLabel, OutputClass)
		}
		bin := all
		if v, ok := o.Parameters["binary_data"]; ok {
			b, isBool := v.(bool)
			if !isBool {
				return nil, refuse(http.StatusBadRequest, "request", "output %q: parameter binary_data %v: want true or false", o.Name, v)
			}
			bin = b
		}
		outs = append(outs, output{o.Name, bin})
	}
	return outs, nil
}

// admit takes n tokens of the queue, or none and a refusal; release gives them back.
func (s *Server) admit(n int) (release func(), herr *httpError) {
	taken := 0
	release = func() {
		for range taken {
			<-s.admitted
		}
		s.m.queue.Sub(float64(taken))
	}
	for range n {
		select {
		case s.admitted <- struct{}{}:
			taken++
			s.m.queue.Inc()
		default:
			release()
			return nil, refuse(http.StatusServiceUnavailable, "busy", "busy: %d images are waiting; retry shortly", s.opts.Queue)
		}
	}
	return release, nil
}

// predictTensor classifies the images of t on in: encoded images decoded in parallel and
// pixels each as one job of in's batches (with other requests' images); the model's own
// input in one run.
func (s *Server) predictTensor(ctx context.Context, in *instance, t *tensor) ([]classifier.Prediction, error) {
	preds := make([]classifier.Prediction, t.n)
	if t.name == InputImage {
		start := time.Now()
		p, err := in.model.(TensorModel).PredictNCHW(t.x, t.n)
		s.m.inference.WithLabelValues(in.name, in.version).Observe(time.Since(start).Seconds())
		if err != nil {
			return nil, err
		}
		if len(p) != t.n {
			return nil, fmt.Errorf("the model answered %d predictions for %d images", len(p), t.n)
		}
		for _, q := range p {
			s.m.predictions.WithLabelValues(in.name, in.version, q.Label).Inc()
		}
		return p, nil
	}
	errs := make([]error, t.n)
	per := len(t.px) / t.n
	var wg sync.WaitGroup
	for i := range t.n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if t.name == InputImageBytes {
				preds[i], errs[i] = s.classify(ctx, in, t.images[i])
				return
			}
			preds[i], errs[i] = in.predict(t.px[i*per : (i+1)*per : (i+1)*per]) // read only: the batch copies it
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			if t.n > 1 {
				return nil, fmt.Errorf("image %d: %w", i, err)
			}
			return nil, err
		}
	}
	return preds, nil
}

// writeInfer writes the outputs asked for of preds: as JSON, or with those asked as binary
// data after the JSON.
func writeInfer(w http.ResponseWriter, resp InferResponse, preds []classifier.Prediction, outs []output) {
	n := int64(len(preds))
	var bin bytes.Buffer
	for _, o := range outs {
		ro := ResponseOutput{Name: o.name}
		before := bin.Len()
		switch o.name {
		case OutputProbabilities:
			c := int64(0)
			if n > 0 {
				c = int64(len(preds[0].Probabilities))
			}
			ro.Datatype, ro.Shape = TypeFP32, []int64{n, c}
			data := make([]float32, 0, n*c)
			for _, p := range preds {
				data = append(data, p.Probabilities...)
			}
			if o.binary {
				for _, v := range data {
					bin.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)))
				}
			} else {
				ro.Data = data
			}
		case OutputLabel:
			ro.Datatype, ro.Shape = TypeBytes, []int64{n}
			data := make([]string, n)
			for i, p := range preds {
				data[i] = p.Label
			}
			if o.binary {
				for _, l := range data {
					bin.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(l))))
					bin.WriteString(l)
				}
			} else {
				ro.Data = data
			}
		case OutputClass:
			ro.Datatype, ro.Shape = TypeInt64, []int64{n}
			data := make([]int64, n)
			for i, p := range preds {
				data[i] = int64(p.Class)
			}
			if o.binary {
				for _, v := range data {
					bin.Write(binary.LittleEndian.AppendUint64(nil, uint64(v)))
				}
			} else {
				ro.Data = data
			}
		}
		if o.binary {
			ro.Parameters = map[string]any{"binary_data_size": bin.Len() - before}
		}
		resp.Outputs = append(resp.Outputs, ro)
	}
	if bin.Len() == 0 {
		writeJSON(w, http.StatusOK, resp)
		return
	}
	head, _ := json.Marshal(resp) // its types always marshal
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(HeaderLength, strconv.Itoa(len(head)))
	w.WriteHeader(http.StatusOK)
	w.Write(head)
	w.Write(bin.Bytes())
}
