package serve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/catdog-ml/catdog/internal/fixtures"
)

// TestPageInChromium drives the page in headless Chromium as a person would: it chooses a
// shared photo in the file picker and reads the label and probability off the page; they
// must be the classifier's. With $CATDOG_SCREENSHOT set, the page is saved there as a PNG.
func TestPageInChromium(t *testing.T) {
	chrome := fixtures.Chromium(t)
	c := realModel(t)
	ts := newServer(t, c, Options{Name: "brightness (test model)"})
	photo := photos(t, 1)[0]
	want, err := c.PredictFile(photo)
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(800, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	err = chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#drop")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{photo}),
		chromedp.WaitVisible(chromedp.CSS("#result[data-label]")),
	)
	if err != nil {
		t.Fatalf("driving the page in %s: %v", chrome, err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#result")))
	if err != nil {
		t.Fatal(err)
	}
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#result"), "data-label"))
	if err != nil {
		t.Fatal(err)
	}
	label := attr.Value
	model, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#model")))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("page says %q, %q", model, text)
	pct := fmt.Sprintf("%.1f %%", 100*want.Probability)
	if label != want.Label || !strings.Contains(text, pct) || !strings.Contains(model, "brightness (test model)") {
		t.Errorf("page shows %q (label %q), model %q; want %s with %s", text, label, model, want.Label, pct)
	}
	if dir := os.Getenv("CATDOG_SCREENSHOT"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "serve-page.png"), shot, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// TestPageClassesInChromium: with a model of ten classes the page shows the label and the
// three most probable classes as bars, in order, with their probabilities; the title and
// the model line name the classes. With $CATDOG_SCREENSHOT set, the page is saved there.
func TestPageClassesInChromium(t *testing.T) {
	chrome := fixtures.Chromium(t)
	c := tenModel(t)
	ts := newServer(t, c, Options{Name: "gray (test model)"})
	photo := filepath.Join(t.TempDir(), "ship.png")
	if err := os.WriteFile(photo, grayPNG(t, 40, uint8(fixtures.GrayCentre(8, 10)+4)), 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := c.PredictFile(photo)
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(800, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	err = chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#drop")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{photo}),
		chromedp.WaitVisible(chromedp.CSS("#result[data-label]")),
	)
	if err != nil {
		t.Fatalf("driving the page in %s: %v", chrome, err)
	}
	text := run(t, ctx, chromedp.Text(chromedp.CSS("#result")))
	title := run(t, ctx, chromedp.Text(chromedp.CSS("#title")))
	model := run(t, ctx, chromedp.Text(chromedp.CSS("#model")))
	rows := run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#top li")].map((li) =>
		li.dataset.label + " " + li.querySelector(".pct").textContent + " " + li.querySelector(".bar span").style.width)`))
	shot := run(t, ctx, chromedp.FullScreenshot(100))
	t.Logf("page says %q, %q, %q, bars %q", title, model, text, rows)
	var wantRows []string
	for _, c := range want.Top(3) {
		pct := fmt.Sprintf("%.1f", 100*c.Probability)
		wantRows = append(wantRows, c.Label+" "+pct+" % "+pct+"%")
	}
	if text != fmt.Sprintf("ship (%.1f %%)", 100*want.Probability) || !slices.Equal(rows, wantRows) ||
		title != "Which of 10 classes?" || !strings.Contains(model, "gray (test model) · airplane, automobile") {
		t.Errorf("page shows %q, bars %q, title %q, model %q; want ship, bars %q", text, rows, title, model, wantRows)
	}
	if dir := os.Getenv("CATDOG_SCREENSHOT"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "serve-page-classes.png"), shot, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// run runs one chromedp action and returns its value, or fails the test.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
