package reports_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/nuanxin/nuanxin/reports"
)

// One rider submits from 8 workers at once, spread over two server
// instances: every report is in "my reports", once. (The list was one
// document updated in place, and updates that raced were lost: 39 of 120
// here.)
//
// 8 × 50 submissions take about a minute; under the race detector, which
// slows the embedded stores in this process about tenfold, they took 22
// minutes, mostly in the duplicate search that reads every open report per
// submission. So the race build submits 8 × 15, which loses entries as
// surely with the old list.
func TestMineKeepsEveryConcurrentSubmission(t *testing.T) {
	workers, each := 8, 50
	if raceBuild {
		each = 15 // .ci/run also runs the full 8 x 50 without the race detector
	}
	f := newFixture(t)
	ctx := context.Background()
	instances := []*reports.Service{f.svc, f.service()}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		sent = map[string]bool{}
	)
	for w := range workers {
		svc := instances[w%len(instances)]
		wg.Go(func() {
			for i := range each {
				r, created, err := svc.Submit(ctx, "rider1", f.tinySubmission(fmt.Sprintf("w%d-%d", w, i)))
				if err != nil || !created {
					t.Errorf("worker %d submission %d: created=%v err=%v", w, i, created, err)
					return
				}
				mu.Lock()
				sent[r.ID] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(sent) != workers*each {
		t.Fatalf("%d reports filed, want %d", len(sent), workers*each)
	}
	all, err := reports.MineAll(ctx, f.service(), "rider1")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]int{}
	for _, r := range all {
		listed[r.ID]++
	}
	missing := 0
	for id := range sent {
		switch listed[id] {
		case 0:
			missing++
		case 1:
		default:
			t.Errorf("report %s is listed %d times", id, listed[id])
		}
	}
	if missing > 0 || len(all) != len(sent) {
		t.Errorf("my reports lists %d of %d reports (%d missing)", len(all), len(sent), missing)
	}
	for i := 1; i < len(all); i++ {
		if all[i].CreatedAt.After(all[i-1].CreatedAt) {
			t.Fatalf("my reports is not newest first at %d", i)
		}
	}
	page, err := f.svc.Mine(ctx, "rider1")
	if want := min(200, len(sent)); err != nil || len(page) != want || page[0].ID != all[0].ID {
		t.Errorf("Mine gave %d reports (%v), want the newest %d", len(page), err, want)
	}
}
