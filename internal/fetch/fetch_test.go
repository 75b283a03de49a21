package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFile(t *testing.T) {
	body := []byte(strings.Repeat("catdog", 1000))
	sum := sha256.Sum256(body)
	good := hex.EncodeToString(sum[:])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
			return
		case "/endless": // a server that would fill the disk
			for r.Context().Err() == nil {
				if _, err := w.Write(body); err != nil {
					return
				}
			}
			return
		case "/announced":
			w.Header().Set("Content-Length", "2147483648")
			w.Write(body)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	tests := []struct {
		name, path string
		want       Want
		wantErr    string
	}{
		{"ok", "/f", Want{Size: int64(len(body)), SHA256: strings.ToUpper(good)}, ""},
		{"unchecked", "/f", Want{}, ""},
		{"404", "/missing", Want{}, "404"},
		{"short", "/f", Want{Size: int64(len(body)) + 1}, "want"},
		{"bad checksum", "/f", Want{SHA256: strings.Repeat("0", 64)}, "checksum mismatch"},
		{"over the size bound", "/f", Want{MaxSize: 100}, "more than the 100 bytes expected"},
		{"endless", "/endless", Want{MaxSize: 1 << 20}, "more than the 1048576 bytes expected"},
		{"announced too big", "/announced", Want{MaxSize: 1 << 20}, "announces 2147483648 bytes"},
		{"within the bound", "/f", Want{MaxSize: int64(len(body))}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "sub", "file.bin")
			var last int64
			err := File(context.Background(), srv.URL+tt.path, dst, tt.want, Options{Progress: func(done, _ int64) { last = done }})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if entries, _ := os.ReadDir(filepath.Dir(dst)); len(entries) != 0 {
					t.Errorf("left behind: %v", entries)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := SHA256(dst); err != nil || got != good {
				t.Errorf("SHA256 = %s, %v; want %s", got, err, good)
			}
			if last != int64(len(body)) {
				t.Errorf("progress ended at %d, want %d", last, len(body))
			}
		})
	}
}
