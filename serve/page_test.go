package serve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
