package storage_test

import (
	"sync"
	"testing"

	"github.com/nuanxin/nuanxin/storage"
)

// Holders of one key take turns (a counter kept in the key's state is never
// raced), holders of other keys do not wait for them, and the state lives
// while the key is in use.
func TestKeyedLocks(t *testing.T) {
	var locks storage.KeyedLocks[int]
	var wg sync.WaitGroup
	total := map[string]int{}
	var mu sync.Mutex
	for i := range 200 {
		wg.Go(func() {
			key := []string{"a", "b"}[i%2]
			n, unlock := locks.Lock(key)
			*n++ // guarded by the key's lock; -race reports a failure to serialize
			mu.Lock()
			total[key]++
			mu.Unlock()
			unlock()
		})
	}
	wg.Wait()
	if total["a"] != 100 || total["b"] != 100 {
		t.Fatalf("counts %v", total)
	}
	n, unlock := locks.Lock("a")
	defer unlock()
	if *n != 0 {
		t.Errorf("a key's state outlived its last holder: %d", *n)
	}
	other, unlockOther := locks.Lock("b") // another key is not held up by "a"
	unlockOther()
	_ = other
}
