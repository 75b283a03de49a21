package datasets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/catdog-ml/catdog/internal/atomicfile"
)

// Microsoft's PetImages archive: the photos of Kaggle's Dogs vs. Cats under PetImages/Cat
// and PetImages/Dog, downloadable without an account.
const (
	PetImagesURL    = "https://download.microsoft.com/download/3/E/1/3E1C3F21-ECDB-4869-8368-6DEBA77B919F/kagglecatsanddogs_5340.zip"
	PetImagesSHA256 = "b7974bd00a84a99921f36ee4403f089853777b5ae8d151c76a86e64900334af9"
)

// Download says where Prepare fetches its data when no source is given. The zero value
// means Microsoft's PetImages archive into the user cache with http.DefaultClient.
type Download struct {
	URL      string       // default PetImagesURL
	SHA256   string       // expected checksum, hex; default PetImagesSHA256 (with the default URL)
	Client   *http.Client // default http.DefaultClient
	CacheDir string       // default os.UserCacheDir()/catdog
	// Progress, if set, is called as bytes arrive (total is -1 when unknown).
	Progress func(done, total int64)
}

// noDataHelp is appended to a failed download.
const noDataHelp = `no --data given and the PetImages download failed.
Get Kaggle's train.zip (https://www.kaggle.com/c/dogs-vs-cats/data, or with the Kaggle CLI:
  kaggle competitions download -c dogs-vs-cats; unzip dogs-vs-cats.zip train.zip)
and pass it as it is, no need to extract it:
  catdog prepare --data path/to/train.zip`

// Fetch returns the path of the downloaded archive in the cache, downloading it first
// if it is not there or its checksum is wrong. The file is written atomically and only
// kept when its SHA-256 matches.
func (d Download) Fetch(ctx context.Context) (string, error) {
	url, sum := d.URL, d.SHA256
	if url == "" {
		url = PetImagesURL
		if sum == "" {
			sum = PetImagesSHA256
		}
	}
	if sum == "" {
		return "", fmt.Errorf("download %s: no SHA-256 to check it against", url)
	}
	sum = strings.ToLower(sum)
	dir := d.CacheDir
	if dir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("finding the user cache folder: %w", err)
		}
		dir = filepath.Join(c, "catdog")
	}
	name := path.Base(url)
	if i := strings.IndexAny(name, "?#"); i >= 0 {
		name = name[:i]
	}
	if name == "" || name == "." || name == "/" {
		name = "download.zip"
	}
	dest := filepath.Join(dir, name)
	if got, err := fileSHA256(dest); err == nil && got == sum {
		return dest, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating cache folder: %w", err)
	}
	client := d.Client
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("download %s: %s", url, resp.Status)
	}
	f, err := atomicfile.Create(dest)
	if err != nil {
		return "", err
	}
	defer f.Abort()
	h := sha256.New()
	var r io.Reader = resp.Body
	if d.Progress != nil {
		r = &progressReader{r: r, total: resp.ContentLength, fn: d.Progress}
	}
	if _, err := io.Copy(io.MultiWriter(f, h), r); err != nil {
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return "", fmt.Errorf("download %s: SHA-256 %s, want %s (file discarded)", url, got, sum)
	}
	if err := f.Commit(); err != nil {
		return "", err
	}
	return dest, nil
}

type progressReader struct {
	r     io.Reader
	done  int64
	total int64
	fn    func(done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	p.fn(p.done, p.total)
	return n, err
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
