package report

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/runs"
)

func TestMarkdownEscaping(t *testing.T) {
	tests := []struct {
		in, text, code string
	}{
		{"vgg3-20261124-1502", "vgg3-20261124-1502", "`vgg3-20261124-1502`"},
		{"conv2d_1", "conv2d_1", "`conv2d_1`"},
		{"<img src=x onerror=alert(99)>", "&lt;img src=x onerror=alert(99)&gt;", "`<img src=x onerror=alert(99)>`"},
		{"R&D &lt;", "R&amp;D &amp;lt;", "`R&D &lt;`"},
		{"a|b", `a\|b`, "`a\\|b`"},
		{"two\nlines\r\nthree", "two lines three", "`two lines three`"},
		{"[x](javascript:alert(1))", `\[x\](javascript:alert(1))`, "`[x](javascript:alert(1))`"},
		{`back\slash|`, `back\\slash\|`, "`back\\slash\\|`"},
		{"x`y", "x\\`y", "``x`y``"},
		{"`x", "\\`x", "`` `x ``"},
		{"**bold**", `\*\*bold\*\*`, "`**bold**`"},
	}
	for _, tt := range tests {
		if got := mdText(tt.in); got != tt.text {
			t.Errorf("mdText(%q) = %q, want %q", tt.in, got, tt.text)
		}
		if got := mdCode(tt.in); got != tt.code {
			t.Errorf("mdCode(%q) = %q, want %q", tt.in, got, tt.code)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"vgg3-1/report.md", "vgg3-1/report.md"},
		{"run (2)/report.md", "run%20%282%29/report.md"},
		{"<img src=x>/report.md", "%3Cimg%20src=x%3E/report.md"},
	} {
		if got := mdPath(tc.in); got != tc.want {
			t.Errorf("mdPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestMarkdownHostileNames: a run whose folder, architecture, layers and configuration hold
// HTML and Markdown syntax gets report.md and index.md that show them as text: no tag,
// no extra table row or cell, a link that points at the run's report.
func TestMarkdownHostileNames(t *testing.T) {
	runsDir := t.TempDir()
	name := "<img src=x onerror=alert(99)>"
	dir := filepath.Join(runsDir, name)
	r := fakeRun(t, dir, name, "vgg|3 <b>x</b>", runs.Scratch, 0.8, 3, 1)
	r.Layers[0].Name, r.Layers[0].Spec = "conv|1", "conv`|`32"
	r.Config["note"] = "fine\n| injected | row |"
	if err := Save(r); err != nil {
		t.Fatal(err)
	}
	o, _ := opts()
	if err := Index(context.Background(), runsDir, IndexOptions{Report: o, Rewrite: true}); err != nil {
		t.Fatal(err)
	}
	md := read(t, filepath.Join(dir, runs.MarkdownFile))
	index := read(t, filepath.Join(runsDir, IndexMarkdown))
	for file, text := range map[string]string{"report.md": md, "index.md": index} {
		for _, bad := range []string{"<img", "<b>", "\n| injected"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s holds %q raw", file, bad)
			}
		}
	}
	for _, want := range []string{
		"# vgg\\|3 &lt;b&gt;x&lt;/b&gt;\n",
		"Run **&lt;img src=x onerror=alert(99)&gt;**",
		"| conv\\|1 | conv | ``conv`\\|`32`` | ",
		"| note | fine \\| injected \\| row \\| |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	link := "[vgg\\|3 &lt;b&gt;x&lt;/b&gt;](%3Cimg%20src=x%20onerror=alert%2899%29%3E/report.md)"
	if !strings.Contains(index, link) {
		t.Errorf("index.md lacks the link %s", link)
	}
	if _, err := os.Stat(filepath.Join(runsDir, "<img src=x onerror=alert(99)>", "report.md")); err != nil {
		t.Errorf("the link's target: %v", err)
	}
}
