package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// The kit's own static files: the style sheet and the icon.
//
//go:embed static
var staticFS embed.FS

// asset is one embedded static file.
type asset struct {
	body    []byte
	ctype   string
	version string // content hash, for cache-busting URLs
}

var assetTypes = map[string]string{
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".txt":   "text/plain; charset=utf-8",
	".woff2": "font/woff2",
}

// AddStatic serves the files under dir of fsys at /static/, by their path
// under dir ("static/report.js" is /static/report.js), and lets templates
// link them with asset. It panics on a name already taken or a directory
// that cannot be read: programming errors, caught at start.
func (k *Pages) AddStatic(fsys fs.FS, dir string) {
	err := fs.WalkDir(fsys, dir, func(name string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		ctype, ok := assetTypes[path.Ext(name)]
		if !ok {
			ctype = "application/octet-stream"
		}
		rel := strings.TrimPrefix(name, dir+"/")
		if _, dup := k.assets[rel]; dup {
			return fmt.Errorf("static file %q is added twice", rel)
		}
		sum := sha256.Sum256(b)
		k.assets[rel] = asset{body: b, ctype: ctype, version: hex.EncodeToString(sum[:6])}
		return nil
	})
	if err != nil {
		panic("web: static files: " + err.Error())
	}
}

// assetURL is the address of a static file, with its content hash so that
// browsers may keep it for a year.
func (k *Pages) assetURL(name string) string {
	a, ok := k.assets[name]
	if !ok {
		return "/static/" + name
	}
	return "/static/" + name + "?v=" + a.version
}

// static serves the static files.
func (k *Pages) static(c *fiber.Ctx) error {
	a, ok := k.assets[c.Params("*")]
	if !ok {
		return fiber.NewError(fiber.StatusNotFound, "There is nothing at "+c.Path()+".")
	}
	etag := `"` + a.version + `"`
	c.Set(fiber.HeaderETag, etag)
	if c.Query("v") == a.version {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	}
	if c.Get(fiber.HeaderIfNoneMatch) == etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, a.ctype)
	return c.Send(a.body)
}
