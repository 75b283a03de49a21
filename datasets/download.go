package datasets

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/catdog-ml/catdog/internal/fetch"
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
	Client   *http.Client // default: fetch.File's (gives up on a server silent for a minute)
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
	if got, err := fetch.SHA256(dest); err == nil && got == sum {
		return dest, nil
	}
	if err := fetch.File(ctx, url, dest, fetch.Want{SHA256: sum}, fetch.Options{Client: d.Client, Progress: d.Progress}); err != nil {
		return "", err
	}
	return dest, nil
}
