package classifier

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// imageExts are the file name endings FindImages takes from folders.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".bmp": true, ".webp": true}

// FindImages expands paths into image files: a file is taken as is (its content decides
// whether it is an image), a folder is walked recursively for files ending in .jpg, .jpeg,
// .png, .gif, .bmp or .webp (any case), in lexical order. A path that cannot be looked at
// (missing, say) is kept as a file, so that classifying it reports its error beside the
// others' results; an error is returned only when a folder cannot be walked.
func FindImages(paths ...string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && imageExts[strings.ToLower(filepath.Ext(path))] {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", p, err)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}
