package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// post sends body (JSON, then bin when not nil, with the binary extension's header) to url.
func post(t *testing.T, url string, body string, bin []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body+string(bin)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bin != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set(HeaderLength, strconv.Itoa(len(body)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// errorOf reads the protocol's error object; "" when body is not one.
func errorOf(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if dec.Decode(&e) != nil {
		return ""
	}
	return e.Error
}

// TestProtocolHealthAndMetadata: the server, health, model metadata and readiness
// endpoints answer as the specification's examples describe, for the model, its version,
// and what is not served.
func TestProtocolHealthAndMetadata(t *testing.T) {
	c := realModel(t)
	s, err := New(c, Options{ModelName: "bright", ServerVersion: "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, s)

	code, body := get(t, ts.URL+"/v2")
	if code != 200 || string(body) != `{"name":"catdog","version":"1.2.3","extensions":["binary_tensor_data"]}`+"\n" {
		t.Errorf("GET /v2: %d %s", code, body)
	}
	for _, path := range []string{"/v2/health/live", "/v2/health/ready", "/v2/models/bright/ready", "/v2/models/bright/versions/1/ready"} {
		if code, body := get(t, ts.URL+path); code != 200 || len(body) != 0 {
			t.Errorf("GET %s: %d %q, want 200 and no body", path, code, body)
		}
	}
	want := ModelMetadata{Name: "bright", Versions: []string{"1"}, Platform: "onnxruntime_onnx",
		Inputs: []TensorMetadata{
			{Name: "image_bytes", Datatype: "BYTES", Shape: []int64{-1}},
			{Name: "pixels", Datatype: "UINT8", Shape: []int64{-1, 32, 32, 3}},
			{Name: "image", Datatype: "FP32", Shape: []int64{-1, 3, 32, 32}},
		},
		Outputs: []TensorMetadata{
			{Name: "probabilities", Datatype: "FP32", Shape: []int64{-1, 2}},
			{Name: "label", Datatype: "BYTES", Shape: []int64{-1}},
			{Name: "class", Datatype: "INT64", Shape: []int64{-1}},
		},
		Parameters: map[string]any{"labels": "dog,cat", "classes": float64(2), "input_size": float64(32)},
	}
	for _, path := range []string{"/v2/models/bright", "/v2/models/bright/versions/1"} {
		code, body := get(t, ts.URL+path)
		var got ModelMetadata
		if code != 200 || json.Unmarshal(body, &got) != nil {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Errorf("GET %s:\n got %s\nwant %s", path, gj, wj)
		}
	}
	for _, path := range []string{"/v2/models/other", "/v2/models/other/ready", "/v2/models/bright/versions/2", "/v2/models/bright/versions/2/ready"} {
		if code, body := get(t, ts.URL+path); code != 404 || errorOf(body) == "" {
			t.Errorf("GET %s: %d %s, want 404 and {\"error\": ...}", path, code, body)
		}
	}
	s.startDrain()
	if code, body := get(t, ts.URL+"/v2/health/ready"); code != 400 || errorOf(body) == "" {
		t.Errorf("ready while shutting down: %d %s, want 400 (not ready) with the error object", code, body)
	}
	if code, _ := get(t, ts.URL+"/v2/health/live"); code != 200 {
		t.Errorf("live while shutting down: %d, want 200", code)
	}
}

func newTestServer(t *testing.T, s *Server) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return ts
}

// TestProtocolInfer: an inference request in each of the three inputs, as JSON and as
// binary data, gets the outputs asked for, with the answers of /v1/predict on the same
// photos; the request's id comes back; bad requests get 4xx and the error object.
func TestProtocolInfer(t *testing.T) {
	c := realModel(t)
	s, err := New(c, Options{ModelName: "bright"})
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, s)
	url := ts.URL + "/v2/models/bright/infer"
	dark, bright := grayPNG(t, 40, 40), grayPNG(t, 48, 220)
	var want []Answer
	for _, img := range [][]byte{dark, bright} {
		code, body := postPNG(t, ts.URL+"/v1/predict", img)
		var a Answer
		if code != 200 || json.Unmarshal(body, &a) != nil {
			t.Fatalf("/v1/predict: %d %s", code, body)
		}
		p, err := c.PredictReader(bytes.NewReader(img))
		if err != nil || p.Label != a.Label || p.Probability != a.Probability {
			t.Fatalf("the classifier says %+v (%v), /v1/predict %s", p, err, body)
		}
		a.Prediction = &p // with its probabilities, which a two-class answer leaves out
		want = append(want, a)
	}
	if want[0].Label != "dog" || want[1].Label != "cat" {
		t.Fatalf("the brightness model calls a dark photo %s and a bright one %s", want[0].Label, want[1].Label)
	}
	b64 := func(b []byte) string { return strconv.Quote(base64.StdEncoding.EncodeToString(b)) }

	// As the specification's example: an id, inputs with name, shape, datatype and data;
	// the outputs named.
	code, _, body := post(t, url, `{"id":"42","inputs":[{"name":"image_bytes","shape":[2],"datatype":"BYTES","data":[`+
		b64(dark)+`,`+b64(bright)+`]}],"outputs":[{"name":"label"},{"name":"class"}]}`, nil)
	wantBody := `{"model_name":"bright","model_version":"1","id":"42","outputs":[{"name":"label","shape":[2],"datatype":"BYTES","data":["dog","cat"]},` +
		`{"name":"class","shape":[2],"datatype":"INT64","data":[0,1]}]}` + "\n"
	if code != 200 || string(body) != wantBody {
		t.Errorf("infer, BYTES: %d %s\nwant %s", code, body, wantBody)
	}

	// Every output when none is named; the probabilities as /v1 gives them.
	checkAll := func(what string, code int, body []byte) {
		t.Helper()
		var resp InferResponse
		if code != 200 || json.Unmarshal(body, &resp) != nil || len(resp.Outputs) != 3 {
			t.Fatalf("%s: %d %s", what, code, body)
		}
		probs, _ := resp.Outputs[0].Data.([]any)
		if resp.Outputs[0].Name != "probabilities" || !slices.Equal(resp.Outputs[0].Shape, []int64{2, 2}) || len(probs) != 4 {
			t.Fatalf("%s: outputs %+v", what, resp.Outputs)
		}
		for i, a := range want {
			for j := range 2 {
				if got := probs[2*i+j].(float64); math.Abs(got-float64(a.Probabilities[j])) > 1e-6 {
					t.Errorf("%s: image %d class %d: probability %v, /v1 says %v", what, i, j, got, a.Probabilities[j])
				}
			}
		}
	}
	code, _, body = post(t, url, `{"inputs":[{"name":"image_bytes","shape":[2,1],"datatype":"BYTES","data":[[`+b64(dark)+`],[`+b64(bright)+`]]}]}`, nil)
	checkAll("infer, BYTES [2, 1], nested", code, body)

	// The model's pixels (as /v1 decoded them), UINT8 NHWC, nested JSON; and FP32 NCHW.
	var px []uint8
	for _, img := range [][]byte{dark, bright} {
		p, err := c.Decode(bytes.NewReader(img))
		if err != nil {
			t.Fatal(err)
		}
		px = append(px, p...)
	}
	nested := func(v []uint8) string {
		var b strings.Builder
		b.WriteString("[")
		for i, x := range v {
			if i > 0 {
				b.WriteString(",")
			}
			if i%3 == 0 {
				b.WriteString("[")
			}
			b.WriteString(strconv.Itoa(int(x)))
			if i%3 == 2 {
				b.WriteString("]")
			}
		}
		b.WriteString("]")
		return b.String()
	}
	code, _, body = post(t, url, `{"inputs":[{"name":"pixels","shape":[2,32,32,3],"datatype":"UINT8","data":`+nested(px)+`}]}`, nil)
	checkAll("infer, UINT8", code, body)
	x := make([]float32, len(px))
	hw := 32 * 32
	for i := range 2 {
		for p := range hw {
			for ch := range 3 {
				x[i*3*hw+ch*hw+p] = float32(px[(i*hw+p)*3+ch])
			}
		}
	}
	xj, _ := json.Marshal(x)
	code, _, body = post(t, url, `{"inputs":[{"name":"image","shape":[2,3,32,32],"datatype":"FP32","data":`+string(xj)+`}]}`, nil)
	checkAll("infer, FP32", code, body)

	// The binary tensor data extension: BYTES in, every output out as binary data.
	var bin []byte
	for _, img := range [][]byte{dark, bright} {
		bin = binary.LittleEndian.AppendUint32(bin, uint32(len(img)))
		bin = append(bin, img...)
	}
	head := `{"inputs":[{"name":"image_bytes","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":` + strconv.Itoa(len(bin)) +
		`}}],"outputs":[{"name":"probabilities","parameters":{"binary_data":true}},{"name":"label","parameters":{"binary_data":true}},{"name":"class"}]}`
	code, hdr, body := post(t, url, head, bin)
	n, err := strconv.Atoi(hdr.Get(HeaderLength))
	if code != 200 || err != nil || n > len(body) {
		t.Fatalf("binary: %d %s %q", code, hdr.Get(HeaderLength), body)
	}
	var resp InferResponse
	if err := json.Unmarshal(body[:n], &resp); err != nil || len(resp.Outputs) != 3 {
		t.Fatalf("binary: %v %s", err, body[:n])
	}
	rest := body[n:]
	if size := resp.Outputs[0].Parameters["binary_data_size"]; size != float64(16) || resp.Outputs[0].Data != nil {
		t.Fatalf("binary probabilities: %+v", resp.Outputs[0])
	}
	for i, a := range want {
		for j := range 2 {
			got := math.Float32frombits(binary.LittleEndian.Uint32(rest[4*(2*i+j):]))
			if math.Abs(float64(got-a.Probabilities[j])) > 1e-6 {
				t.Errorf("binary: image %d class %d: %v, want %v", i, j, got, a.Probabilities[j])
			}
		}
	}
	labels := rest[16:]
	if size := resp.Outputs[1].Parameters["binary_data_size"]; size != float64(len(labels)) || string(labels) != "\x03\x00\x00\x00dog\x03\x00\x00\x00cat" {
		t.Errorf("binary labels: %+v %q", resp.Outputs[1], labels)
	}
	if resp.Outputs[2].Parameters != nil || resp.Outputs[2].Data == nil {
		t.Errorf("class, not asked as binary: %+v", resp.Outputs[2])
	}

	// Bad requests.
	for _, tc := range []struct {
		name, body string
		bin        []byte
		code       int
		says       string
	}{
		{"not JSON", `{"inputs":`, nil, 400, "reading the inference request"},
		{"no input", `{"inputs":[]}`, nil, 400, "want one"},
		{"unknown input", `{"inputs":[{"name":"input0","shape":[2,2],"datatype":"UINT32","data":[1,2,3,4]}]}`, nil, 400, "unknown input"},
		{"datatype", `{"inputs":[{"name":"image_bytes","shape":[1],"datatype":"UINT8","data":[1]}]}`, nil, 400, "want BYTES"},
		{"shape", `{"inputs":[{"name":"pixels","shape":[1,16,16,3],"datatype":"UINT8","data":[1]}]}`, nil, 400, "want [N, 32, 32, 3]"},
		{"count", `{"inputs":[{"name":"image_bytes","shape":[2],"datatype":"BYTES","data":[` + b64(dark) + `]}]}`, nil, 400, "data holds 1 elements, the shape says 2"},
		{"base64", `{"inputs":[{"name":"image_bytes","shape":[1],"datatype":"BYTES","data":["%%%"]}]}`, nil, 400, "not base64"},
		{"uint8", `{"inputs":[{"name":"pixels","shape":[1,32,32,3],"datatype":"UINT8","data":[256` + strings.Repeat(",0", 3071) + `]}]}`, nil, 400, "not a UINT8"},
		{"output", `{"inputs":[{"name":"image_bytes","shape":[1],"datatype":"BYTES","data":[` + b64(dark) + `]}],"outputs":[{"name":"output0"}]}`, nil, 400, "output \"output0\""},
		{"not an image", `{"inputs":[{"name":"image_bytes","shape":[1],"datatype":"BYTES","data":["` + base64.StdEncoding.EncodeToString([]byte("hello")) + `"]}]}`, nil, 422, "image"},
		{"binary size", `{"inputs":[{"name":"image_bytes","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":99}}]}`, []byte{1, 0, 0, 0, 7}, 400, "binary_data_size 99"},
		{"binary element", `{"inputs":[{"name":"image_bytes","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":5}}]}`, []byte{9, 0, 0, 0, 7}, 400, "says 9 bytes"},
		{"too many", `{"inputs":[{"name":"image_bytes","shape":[999],"datatype":"BYTES","data":[]}]}`, nil, 413, "over the"},
	} {
		code, _, body := post(t, url, tc.body, tc.bin)
		if msg := errorOf(body); code != tc.code || !strings.Contains(msg, tc.says) {
			t.Errorf("%s: %d %s, want %d and an error saying %q", tc.name, code, body, tc.code, tc.says)
		}
	}
	if code, _, body := post(t, ts.URL+"/v2/models/other/infer", `{"inputs":[]}`, nil); code != 404 || errorOf(body) == "" {
		t.Errorf("infer on an unknown model: %d %s", code, body)
	}
	// The server still answers.
	code, _, body = post(t, url, `{"inputs":[{"name":"image_bytes","shape":[1],"datatype":"BYTES","data":[`+b64(bright)+`]}],"outputs":[{"name":"label"}]}`, nil)
	if code != 200 || !strings.Contains(string(body), `"data":["cat"]`) {
		t.Errorf("after the bad requests: %d %s", code, body)
	}
}
