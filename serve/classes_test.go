package serve

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/internal/fixtures"
)

var tenClasses = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// grayPNG is a w x w PNG of one gray level.
func grayPNG(t testing.TB, w int, v uint8) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, w))
	for i := range img.Pix {
		img.Pix[i] = v
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// tenModel loads a GrayModel of ten classes on onnxruntime.
func tenModel(t *testing.T) *classifier.Classifier {
	t.Helper()
	fixtures.RequireORT(t)
	c, err := classifier.Load(fixtures.GrayModel(t, 32, tenClasses), classifier.WithProvider("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func postPNG(t *testing.T, url string, data []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "image/png", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestPredictClasses: a model of ten classes answers its label and the five most probable
// classes, or as many as top=k asks; /v1/model tells its labels, input size and classes.
func TestPredictClasses(t *testing.T) {
	c := tenModel(t)
	ts := newServer(t, c, Options{Name: "gray"})
	photo := grayPNG(t, 40, uint8(fixtures.GrayCentre(8, 10)+4)) // a ship, then truck, horse
	want, err := c.PredictReader(bytes.NewReader(photo))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		top   int
	}{{"", 5}, {"?top=2", 2}, {"?top=10", 10}, {"?top=99", 10}, {"?top=0", 0}} {
		t.Run("top"+tc.query, func(t *testing.T) {
			code, body := postPNG(t, ts.URL+"/v1/predict"+tc.query, photo)
			var a Answer
			if code != 200 || json.Unmarshal(body, &a) != nil || a.Prediction == nil {
				t.Fatalf("%d %s", code, body)
			}
			if a.Label != "ship" || a.Class != 8 || a.Probability != want.Probability || a.Confidence != want.Probability {
				t.Errorf("answer %s, want ship with probability %v", body, want.Probability)
			}
			if len(a.Top) != tc.top || (tc.top > 0 && !slices.Equal(a.Top, want.Top(tc.top))) {
				t.Errorf("top %+v, want %d: %+v", a.Top, tc.top, want.Top(tc.top))
			}
			if tc.top >= 3 && (a.Top[0].Label != "ship" || a.Top[1].Label != "truck" || a.Top[2].Label != "horse") {
				t.Errorf("top %+v, want ship, truck, horse first", a.Top)
			}
			if tc.top == 0 && strings.Contains(string(body), `"top"`) {
				t.Errorf("top=0: %s", body)
			}
		})
	}
	for _, q := range []string{"?top=-1", "?top=three", "?top=1&top=2"} {
		if code, body := postPNG(t, ts.URL+"/v1/predict"+q, photo); code != 400 || !strings.Contains(string(body), "query parameter top") {
			t.Errorf("%s: %d %s, want 400", q, code, body)
		}
	}
	code, body := get(t, ts.URL+"/v1/model")
	var mi ModelInfo
	if code != 200 || json.Unmarshal(body, &mi) != nil || mi.Name != "gray" || mi.InputSize != 32 || mi.Classes != 10 || !slices.Equal(mi.Labels, tenClasses) {
		t.Errorf("/v1/model: %d %s", code, body)
	}
}

// TestBinaryAnswerUnchanged: a two-class model's answer is, byte for byte, what it always
// was, unless top=k asks for its classes; /v1/model tells its labels and input size too.
func TestBinaryAnswerUnchanged(t *testing.T) {
	c := realModel(t)
	ts := newServer(t, c, Options{Name: "brightness"})
	photo := grayPNG(t, 40, 170)
	p, err := c.PredictReader(bytes.NewReader(photo))
	if err != nil {
		t.Fatal(err)
	}
	// The classifier.Prediction of before issue 19, field for field.
	old, err := json.Marshal(struct {
		Label       string  `json:"label"`
		Class       int     `json:"class"`
		Probability float32 `json:"probability"`
		Confidence  float32 `json:"confidence"`
	}{p.Label, p.Class, p.Probability, p.Confidence})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := postPNG(t, ts.URL+"/v1/predict", photo); code != 200 || string(body) != string(old)+"\n" {
		t.Errorf("binary answer %d %s, want %s", code, body, old)
	}
	code, body := postPNG(t, ts.URL+"/v1/predict?top=3", photo)
	var a Answer
	if code != 200 || json.Unmarshal(body, &a) != nil || len(a.Top) != 2 || a.Top[0].Label != "cat" || a.Top[0].Probability != p.Probability ||
		a.Top[1].Label != "dog" || a.Probability != p.Probability {
		t.Errorf("binary answer with top=3: %d %s", code, body)
	}
	code, body = get(t, ts.URL+"/v1/model")
	var mi ModelInfo
	if code != 200 || json.Unmarshal(body, &mi) != nil || mi.InputSize != 32 || mi.Classes != 2 || !slices.Equal(mi.Labels, []string{"dog", "cat"}) ||
		mi.About["catdog.arch"] != "" {
		t.Errorf("/v1/model: %d %s", code, body)
	}
}

// TestModelInfoUndescribed: a Model that cannot say its labels gets /v1/model without them.
func TestModelInfoUndescribed(t *testing.T) {
	ts := newServer(t, &slowModel{}, Options{Name: "slow", About: map[string]string{"k": "v"}})
	code, body := get(t, ts.URL+"/v1/model")
	if code != 200 || string(body) != `{"name":"slow","model":"model","version":"1","about":{"k":"v"}}`+"\n" {
		t.Errorf("/v1/model: %d %s", code, body)
	}
}
