package accounts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Every request names a session, and every session an account: reading both
// from the store made two of the ten or so round trips of a submission. The
// cache keeps them briefly (cacheTTL), so a rider sending reports pays for
// them once in a while rather than on every request.
//
// A change that must take effect at once (disabling an account, ending a
// session) drops the affected entries on the instance that makes it, before
// it answers, and writes a new revision to one document that every instance
// reads by _id each poll interval (Follow): an instance that sees a revision
// other than the last it saw drops everything it holds. So another instance
// serves a disabled account for at most one interval (a second in the app),
// never for the whole cacheTTL. An instance that cannot read the revision
// stops caching until it can again, rather than serving entries it cannot
// vouch for; a Service nobody follows for never caches.
//
// The revision is a random value rather than a counter: the embedded store
// loses concurrent increments (DESIGN.md), while two writers setting random
// values leave one of them, different from what any follower saw before.
const (
	cacheTTL     = 30 * time.Second
	cacheEntries = 20_000 // per map; a full map is emptied rather than tracked by age
	metaColl     = "accounts_meta"
	revisionID   = "revision"
)

type cachedSession struct {
	userID  string
	expires time.Time
	read    time.Time
}

type cachedUser struct {
	user User
	read time.Time
}

type authCache struct {
	mu       sync.Mutex
	on       bool   // a Follow has read the revision lately
	rev      string // the revision last read
	gen      uint64 // bumped by every drop: a read begun before it is not kept
	sessions map[string]cachedSession
	users    map[string]cachedUser
	meta     *mongo.Collection
}

func newAuthCache(db *mongo.Database) *authCache {
	return &authCache{sessions: map[string]cachedSession{}, users: map[string]cachedUser{}, meta: db.Collection(metaColl)}
}

// generation is read before a store read whose result may be kept: put
// keeps it only if nothing was dropped in between.
func (c *authCache) generation() (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen, c.on
}

func (c *authCache) session(id string, now time.Time) (cachedSession, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sessions[id]
	if !ok || !c.on || now.Sub(s.read) > cacheTTL {
		return cachedSession{}, false
	}
	return s, true
}

func (c *authCache) user(id string, now time.Time) (User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.users[id]
	if !ok || !c.on || now.Sub(u.read) > cacheTTL {
		return User{}, false
	}
	return u.user, true
}

func (c *authCache) putSession(gen uint64, id string, s cachedSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || !c.on {
		return
	}
	if len(c.sessions) >= cacheEntries {
		clear(c.sessions)
	}
	c.sessions[id] = s
}

func (c *authCache) putUser(gen uint64, u User, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || !c.on {
		return
	}
	if len(c.users) >= cacheEntries {
		clear(c.users)
	}
	c.users[u.ID] = cachedUser{user: u, read: now}
}

// dropAll forgets everything; reads in flight are not kept either.
func (c *authCache) dropAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.sessions)
	clear(c.users)
}

// changed drops everything here and tells the other instances to. The local
// drop comes first and does not wait for the store: this instance must not
// serve the old state even if the revision cannot be written, and the
// revision write failing is returned so that the caller can say so.
func (c *authCache) changed(ctx context.Context) error {
	c.dropAll()
	_, err := c.meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: revisionID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "value", Value: randomToken(12)}, {Key: "at", Value: time.Now().UTC()}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("tell the other instances of an account change: %w", err)
	}
	return nil
}

// poll reads the revision: a new one drops everything; an unreadable one
// turns caching off until a read succeeds.
func (c *authCache) poll(ctx context.Context) error {
	var doc struct {
		Value string `bson:"value"`
	}
	err := c.meta.FindOne(ctx, bson.D{{Key: "_id", Value: revisionID}}).Decode(&doc)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		c.mu.Lock()
		c.on = false
		c.mu.Unlock()
		c.dropAll()
		return fmt.Errorf("read the accounts revision: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if doc.Value != c.rev || !c.on {
		c.gen++
		clear(c.sessions)
		clear(c.users)
		c.rev = doc.Value
	}
	c.on = true
	return nil
}

// Follow keeps the session and account cache in step with changes made by
// any instance, reading the revision every interval until ctx ends. Caching
// starts with its first successful read and stops with ctx.
func (s *Service) Follow(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		if err := s.cache.poll(ctx); err != nil && ctx.Err() == nil {
			if !failing {
				s.log.Warn("session cache off until the store answers", "err", err)
			}
			failing = true
		} else {
			failing = false
		}
		select {
		case <-ctx.Done():
			s.cache.mu.Lock()
			s.cache.on = false
			s.cache.mu.Unlock()
			s.cache.dropAll()
			return
		case <-t.C:
		}
	}
}

// sessionByID reads a session through the cache.
func (s *Service) sessionByID(ctx context.Context, id string) (cachedSession, error) {
	now := s.now()
	if c, ok := s.cache.session(id, now); ok {
		return c, nil
	}
	gen, on := s.cache.generation()
	d, err := s.store.session(ctx, id)
	if err != nil {
		return cachedSession{}, err
	}
	c := cachedSession{userID: d.UserID, expires: d.ExpiresAt, read: now}
	if on {
		s.cache.putSession(gen, id, c)
	}
	return c, nil
}

// userByID reads an account through the cache.
func (s *Service) userByID(ctx context.Context, id string) (User, error) {
	now := s.now()
	if u, ok := s.cache.user(id, now); ok {
		return u, nil
	}
	gen, on := s.cache.generation()
	u, err := s.store.userBy(ctx, "_id", id)
	if err != nil {
		return User{}, err
	}
	if on {
		s.cache.putUser(gen, u, now)
	}
	return u, nil
}
