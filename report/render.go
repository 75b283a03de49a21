package report

import (
	"bytes"
	"embed"
	"fmt"
	htemplate "html/template"
	"net/url"
	"path/filepath"
	"strings"
	ttemplate "text/template"

	"github.com/catdog-ml/catdog/internal/atomicfile"
)

//go:embed templates
var templateFS embed.FS

// funcs are the helpers both template kinds use.
func funcs() map[string]any {
	return map[string]any{
		"md":     mdText,
		"mdcode": mdCode,
		"inc":    func(i int) int { return i + 1 },
		"css": func() htemplate.CSS {
			b, _ := templateFS.ReadFile("templates/style.css")
			return htemplate.CSS(b)
		},
	}
}

// mdText escapes text that comes from names, paths and metadata (a run's name, a layer's,
// a config value, an error) for a Markdown document: HTML's special characters as
// entities, so that a name never becomes a tag; the characters that end a table cell or
// a link's text, or start code or emphasis, with a backslash; new lines as spaces.
// Underscores are left alone: within words (conv2d_1) Markdown takes them literally.
func mdText(s string) string {
	return strings.NewReplacer(
		"&", "&amp;", "<", "&lt;", ">", "&gt;", // HTML: no tag, no entity
		`\`, `\\`, "|", `\|`, "[", `\[`, "]", `\]`, "`", "\\`", "*", `\*`, // Markdown
		"\r\n", " ", "\n", " ", "\r", " ", // one line: a table row, a heading
	).Replace(s)
}

// mdCode writes s as a Markdown code span, which shows it literally: between backticks
// one more than its longest run of them (spaced when it starts or ends with one), with
// pipes escaped (a table splits cells at them even in code) and new lines as spaces.
func mdCode(s string) string {
	s = strings.NewReplacer("|", `\|`, "\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	run, longest := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdPath escapes each element of a relative slash-separated path for a Markdown link's
// destination: spaces, parentheses and angle brackets would end it or make it another.
func mdPath(p string) string {
	parts := strings.Split(p, "/")
	for i, e := range parts {
		parts[i] = url.PathEscape(e)
	}
	return strings.Join(parts, "/")
}

// writeDocs renders templates/<name>.md.tmpl and templates/<name>.html.tmpl with v into
// dir/mdFile and dir/htmlFile.
func writeDocs(dir, mdFile, htmlFile, name string, v any) error {
	mt, err := ttemplate.New(name+".md.tmpl").Funcs(funcs()).ParseFS(templateFS, "templates/"+name+".md.tmpl")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	ht, err := htemplate.New(name+".html.tmpl").Funcs(funcs()).ParseFS(templateFS, "templates/"+name+".html.tmpl")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var md, html bytes.Buffer
	if err := mt.Execute(&md, v); err != nil {
		return fmt.Errorf("report: writing %s: %w", mdFile, err)
	}
	if err := ht.Execute(&html, v); err != nil {
		return fmt.Errorf("report: writing %s: %w", htmlFile, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, mdFile), md.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, htmlFile), html.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
