package storage

import "sync"

// KeyedLocks makes the holders of one key inside this instance take turns,
// and keeps per-key state V while anyone holds or waits for the key. Why:
// on the embedded store a chain of unique inserts (a ledger account, a
// reporter's list, a throttle window) that many writers race for collapses,
// each losing writer reading again (DESIGN.md); taking turns inside an
// instance keeps it fast, while the unique inserts keep it correct across
// instances. An entry lives only while the key is held or waited for, so the
// map stays as small as the number of keys in use at the moment. The zero
// value is ready to use.
type KeyedLocks[V any] struct {
	mu sync.Mutex
	m  map[string]*keyedLock[V]
}

type keyedLock[V any] struct {
	sync.Mutex
	refs  int // guarded by KeyedLocks.mu
	state V   // guarded by the keyedLock
}

// Lock waits for key and returns its state, valid until unlock is called,
// and the function that releases the key.
func (k *KeyedLocks[V]) Lock(key string) (state *V, unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedLock[V]{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyedLock[V]{}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.Lock()
	return &l.state, func() {
		l.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
