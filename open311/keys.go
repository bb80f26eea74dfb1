package open311

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Key is an API key an admin issued to an Open311 client. The plaintext is
// shown once, when the key is created; only its SHA-256 is stored.
type Key struct {
	ID        string    `bson:"_id" json:"id"`
	Name      string    `bson:"name" json:"name" doc:"who the key was issued to, e.g. the client app's name"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	CreatedBy string    `bson:"created_by" json:"created_by" doc:"account id of the admin who created it"`
	Revoked   bool      `bson:"revoked" json:"revoked"`
	RevokedAt time.Time `bson:"revoked_at" json:"revoked_at,omitzero"`
}

// ReporterID is the reporter a key files reports as. Each key is its own
// reporter, so reports filed through it are never tied to a person.
func (k Key) ReporterID() string { return reporterPrefix + k.ID }

const reporterPrefix = "open311:"

// Shape of a plaintext key: a prefix that says what it is (so a leaked key is
// recognisable in logs and secret scanners) and 32 random bytes, base64url.
const (
	keyPrefix    = "nx311_"
	keyBytes     = 32
	MaxKeyName   = 60 // characters
	maxKeyLength = 100
)

// Errors of API keys.
var (
	ErrNoKey       = errors.New("send your API key as the api_key field; an administrator of this Nuanxin instance issues keys")
	ErrInvalidKey  = errors.New("the api_key is not valid")
	ErrRevokedKey  = errors.New("the api_key has been revoked; ask the administrator for a new one")
	ErrKeyNotFound = errors.New("no API key with that id")
)

// Keys issues, lists, revokes and checks API keys.
type Keys struct {
	store *keyStore
	log   *slog.Logger
	now   func() time.Time
}

// NewKeys builds the API key service.
func NewKeys(db *mongo.Database, log *slog.Logger) *Keys {
	return &Keys{store: newKeyStore(db), log: log, now: func() time.Time { return time.Now().UTC() }}
}

// cleanName trims a key's name and checks it is 1–MaxKeyName printable
// characters.
func cleanName(s string) (string, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || n == 0 || n > MaxKeyName {
		return "", &ValidationError{Field: "name", Reason: fmt.Sprintf("enter a name of 1 to %d characters, e.g. the client app's name", MaxKeyName)}
	}
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }) {
		return "", &ValidationError{Field: "name", Reason: "the name contains characters that cannot be shown"}
	}
	return s, nil
}

// Create issues a key named name, created by the account createdBy. It
// returns the plaintext, which is not stored and cannot be shown again, and
// the key. Errors: *ValidationError, or a store failure.
func (k *Keys) Create(ctx context.Context, name, createdBy string) (string, Key, error) {
	name, err := cleanName(name)
	if err != nil {
		return "", Key{}, err
	}
	b := make([]byte, keyBytes)
	_, _ = rand.Read(b)
	plain := keyPrefix + base64.RawURLEncoding.EncodeToString(b)
	key := Key{ID: bson.NewObjectID().Hex(), Name: name, CreatedAt: k.now(), CreatedBy: createdBy}
	if err := k.store.insert(ctx, keyDoc{Key: key, Hash: hashKey(plain)}); err != nil {
		return "", Key{}, err
	}
	return plain, key, nil
}

// List returns every key, newest first, without plaintexts (which are not
// stored).
func (k *Keys) List(ctx context.Context) ([]Key, error) {
	return k.store.list(ctx, 1000)
}

// Revoke revokes a key at once: it authenticates nothing from then on.
// Revoking a revoked key is a no-op. Errors: ErrKeyNotFound.
func (k *Keys) Revoke(ctx context.Context, id string) error {
	if len(id) > 64 {
		return ErrKeyNotFound
	}
	return k.store.revoke(ctx, id, k.now())
}

// Authenticate returns the live key whose plaintext is given. Errors: ErrNoKey,
// ErrInvalidKey, ErrRevokedKey, and ErrUnavailable when the store fails.
func (k *Keys) Authenticate(ctx context.Context, plaintext string) (Key, error) {
	plaintext = strings.TrimSpace(plaintext)
	if plaintext == "" {
		return Key{}, ErrNoKey
	}
	if len(plaintext) > maxKeyLength || !strings.HasPrefix(plaintext, keyPrefix) {
		return Key{}, ErrInvalidKey
	}
	d, err := k.store.byHash(ctx, hashKey(plaintext))
	if errors.Is(err, ErrKeyNotFound) {
		return Key{}, ErrInvalidKey
	}
	if err != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if d.Revoked {
		return Key{}, ErrRevokedKey
	}
	return d.Key, nil
}

// hashKey is what is stored of a key. A key carries 256 random bits, so a
// plain SHA-256 suffices: there is nothing to guess, unlike a password.
func hashKey(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}
