package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// BlobConfig names an S3-compatible server and bucket.
type BlobConfig struct {
	// Endpoint is host:port, or "unix:" followed by the absolute path of a
	// Unix socket (as EmbeddedS3.Endpoint is).
	Endpoint             string
	AccessKey, SecretKey string
	Bucket               string
	Region               string
	UseTLS               bool
	// Presign says whether URLs signed for this server are worth handing to a
	// browser (true for MinIO or S3, false for a server that does not check them).
	Presign bool
}

// Blobs is a thin wrapper over one bucket: put, get, stat, delete, presign.
// It passes the caller's context through and knows nothing about what it stores.
type Blobs struct {
	client  *minio.Client
	bucket  string
	presign bool
	errs    *storeErrors // nil: not counted
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key         string
	Size        int64
	ContentType string
	Metadata    map[string]string // user metadata, keys in lower case
}

// ErrPresignUnavailable is returned by Presign when the configured server does
// not verify signatures, so callers must serve the object themselves.
var ErrPresignUnavailable = errors.New("storage: presigned URLs unavailable for this object store")

// OpenBlobs connects to the server and creates the bucket if it is missing.
// Over a Unix socket presigned URLs are never offered: no browser could
// follow one.
func OpenBlobs(ctx context.Context, cfg BlobConfig) (*Blobs, error) {
	if len(cfg.Bucket) < 3 {
		return nil, fmt.Errorf("object store bucket %q: names need at least 3 characters", cfg.Bucket)
	}
	opts := &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.UseTLS,
		Region: cfg.Region,
	}
	endpoint := cfg.Endpoint
	if socket, ok := strings.CutPrefix(endpoint, unixEndpoint); ok {
		tr, err := socketTransport(socket, cfg.UseTLS)
		if err != nil {
			return nil, err
		}
		opts.Transport = tr
		// Only signed into requests, never dialled.
		endpoint = "localhost"
		cfg.Presign = false
	}
	client, err := minio.New(endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("object store client: %w", err)
	}
	b := &Blobs{client: client, bucket: cfg.Bucket, presign: cfg.Presign}
	exists, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("object store does not answer: %w", err)
	}
	if !exists {
		if err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
			// Another instance may have created it between the two calls.
			if ok, err2 := client.BucketExists(ctx, cfg.Bucket); err2 != nil || !ok {
				return nil, fmt.Errorf("create bucket %q: %w", cfg.Bucket, err)
			}
		}
	}
	return b, nil
}

// Bucket returns the bucket name.
func (b *Blobs) Bucket() string { return b.bucket }

// Ping checks that the server answers and the bucket exists.
func (b *Blobs) Ping(ctx context.Context) error {
	exists, err := b.client.BucketExists(ctx, b.bucket)
	if b.errs.object(err) != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("bucket %q does not exist", b.bucket)
	}
	return nil
}

// Put stores size bytes from r under key. r should be an io.ReadSeeker so the
// client can retry a failed part. Metadata keys are case-insensitive (they
// travel as HTTP headers); ObjectInfo returns them in lower case.
func (b *Blobs) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string, meta map[string]string) error {
	_, err := b.client.PutObject(ctx, b.bucket, key, r, size, minio.PutObjectOptions{
		ContentType:  contentType,
		UserMetadata: meta,
	})
	if b.errs.object(err) != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Get opens the object for reading. It returns ErrNotFound for a missing key.
// The caller closes the reader.
func (b *Blobs) Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error) {
	obj, err := b.client.GetObject(ctx, b.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, ObjectInfo{}, b.mapErr(key, err)
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, ObjectInfo{}, b.mapErr(key, err)
	}
	return obj, toInfo(st), nil
}

// Stat describes the object, or returns ErrNotFound.
func (b *Blobs) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	st, err := b.client.StatObject(ctx, b.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, b.mapErr(key, err)
	}
	return toInfo(st), nil
}

// Delete removes the object; deleting a missing key is not an error.
func (b *Blobs) Delete(ctx context.Context, key string) error {
	if err := b.client.RemoveObject(ctx, b.bucket, key, minio.RemoveObjectOptions{}); b.errs.object(err) != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// List returns the keys under prefix, in key order.
func (b *Blobs) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	for obj := range b.client.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	return keys, nil
}

// Presign returns a URL that lets its holder GET the object until ttl passes,
// or ErrPresignUnavailable when the server would not check the signature.
func (b *Blobs) Presign(ctx context.Context, key string, ttl time.Duration) (*url.URL, error) {
	if !b.presign {
		return nil, ErrPresignUnavailable
	}
	u, err := b.client.PresignedGetObject(ctx, b.bucket, key, ttl, nil)
	if err != nil {
		return nil, fmt.Errorf("presign %s: %w", key, err)
	}
	return u, nil
}

// socketTransport is minio-go's usual transport, dialling the Unix socket at
// path whatever host a request names.
func socketTransport(path string, secure bool) (*http.Transport, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("object store endpoint %q: give the socket's absolute path, as unix:/path/to/socket", unixEndpoint+path)
	}
	path = filepath.Clean(path) // "unix:///run/s3.sock" names /run/s3.sock too
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("object store client: %w", err)
	}
	// A proxy cannot be reached through a local socket.
	tr.Proxy = nil
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "unix", path)
	}
	return tr, nil
}

func (b *Blobs) mapErr(key string, err error) error {
	if minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		b.errs.object(err)
	}
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return fmt.Errorf("object %s: %w", key, err)
}

func toInfo(st minio.ObjectInfo) ObjectInfo {
	// minio-go hands keys back in header form ("Report-Id" for "report-id");
	// lower case is what S3 itself uses and what callers wrote.
	meta := make(map[string]string, len(st.UserMetadata))
	for k, v := range st.UserMetadata {
		meta[strings.ToLower(k)] = v
	}
	return ObjectInfo{Key: st.Key, Size: st.Size, ContentType: st.ContentType, Metadata: meta}
}
