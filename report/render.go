package report

import (
	"bytes"
	"embed"
	"fmt"
	htemplate "html/template"
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
		// md escapes what would break a Markdown table cell.
		"md": func(s string) string {
			return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;").Replace(s)
		},
		"inc": func(i int) int { return i + 1 },
		"css": func() htemplate.CSS {
			b, _ := templateFS.ReadFile("templates/style.css")
			return htemplate.CSS(b)
		},
	}
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
