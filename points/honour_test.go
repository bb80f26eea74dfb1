package points_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nuanxin/nuanxin/points"
	"github.com/nuanxin/nuanxin/storage/storagetest"
)

// honourNames is a fixed directory of display names (the accounts'
// names), for MaskedNames to wrap.
type honourNames map[string]string

func (n honourNames) DisplayName(_ context.Context, id string) (string, error) { return n[id], nil }

// taggedAward is an award posted as the earner posts one: tagged with
// its district and station.
func taggedAward(key, rider string, amount int64, district, station string) points.Transfer {
	t := award(key, rider, amount)
	t.Ref = "report:" + key
	t.Tags = []string{"district:" + district, "station:" + station}
	return t
}

// at fixes the ledger's clock for the next posts.
func at(l *points.Ledger, t time.Time) { points.SetNow(l, func() time.Time { return t }) }

func mustRefresh(t *testing.T, h *points.Honour) {
	t.Helper()
	if err := h.Refresh(context.Background()); err != nil {
		t.Fatalf("refresh: %v", err)
	}
}

func mustBoard(t *testing.T, h *points.Honour, month, scope string) []points.BoardRow {
	t.Helper()
	rows, err := h.Board(context.Background(), month, scope, 0)
	if err != nil {
		t.Fatalf("board %s %s: %v", month, scope, err)
	}
	return rows
}

// boardString renders a board as "rank name points; …" for comparisons.
func boardString(rows []points.BoardRow) string {
	var b []string
	for _, r := range rows {
		b = append(b, fmt.Sprintf("%d %s %d", r.Rank, r.Rider, r.Points))
	}
	return strings.Join(b, "; ")
}

func TestHonourBoard(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	l := newLedger(db)
	h := points.NewHonour(l, honourNames{}, storagetest.Logger())

	march := time.Date(2026, 3, 10, 4, 0, 0, 0, time.UTC)
	at(l, march)
	mustPost(t, l, taggedAward("r1", "ann", 10, "yuelu", "s1"))
	mustPost(t, l, taggedAward("r2", "bob", 20, "yuelu", "s1"))
	mustPost(t, l, taggedAward("r3", "cai", 5, "furong", "s2"))
	mustPost(t, l, taggedAward("r4", "ann", 20, "furong", "s2"))
	mustPost(t, l, taggedAward("r5", "dai", 30, "furong", "s2"))
	// 2026-03-31 23:59 in Zone is still March; 2026-04-01 00:00 in Zone
	// (16:00 UTC on March 31) is April.
	at(l, time.Date(2026, 3, 31, 15, 59, 0, 0, time.UTC))
	mustPost(t, l, taggedAward("r6", "cai", 1, "furong", "s2"))
	at(l, time.Date(2026, 3, 31, 16, 0, 0, 0, time.UTC))
	mustPost(t, l, taggedAward("r7", "bob", 100, "yuelu", "s1"))
	mustRefresh(t, h)

	tests := []struct{ month, scope, want string }{
		// ann 30, dai 30 share rank 1; bob 20 is third.
		{"2026-03", "city", "1 ann 30; 1 dai 30; 3 bob 20; 4 cai 6"},
		{"2026-03", "district:yuelu", "1 bob 20; 2 ann 10"},
		{"2026-03", "district:furong", "1 dai 30; 2 ann 20; 3 cai 6"},
		{"2026-03", "station:s1", "1 bob 20; 2 ann 10"},
		{"2026-04", "city", "1 bob 100"},
		{"2026-02", "city", ""},
	}
	for _, tc := range tests {
		t.Run(tc.month+"/"+tc.scope, func(t *testing.T) {
			if got := boardString(mustBoard(t, h, tc.month, tc.scope)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if got, want := h.Scopes("2026-03"), []string{"city", "district:furong", "district:yuelu", "station:s1", "station:s2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("scopes %v, want %v", got, want)
	}

	// A clawback without tags takes back from where the award counted
	// (its ref names the award's report); one with tags from there.
	at(l, time.Date(2026, 3, 20, 4, 0, 0, 0, time.UTC))
	mustPost(t, l, points.Transfer{Key: "claw:r5", Kind: points.KindClawback, Debit: points.Rider("dai"), Credit: points.Issuance,
		Amount: 25, Ref: "report:r5"})
	// A reversal of a whole award.
	if _, err := l.Reverse(ctx, "r1", "reopened and rejected"); err != nil {
		t.Fatal(err)
	}
	// Awards and clawbacks to no rider, and spends, are not on the boards.
	mustPost(t, l, spend("sp1", "bob", "s1", 15))
	mustRefresh(t, h)
	for _, tc := range []struct{ scope, want string }{
		{"city", "1 ann 20; 1 bob 20; 3 cai 6; 4 dai 5"},
		{"district:furong", "1 ann 20; 2 cai 6; 3 dai 5"},
		{"district:yuelu", "1 bob 20"},
	} {
		if got := boardString(mustBoard(t, h, "2026-03", tc.scope)); got != tc.want {
			t.Errorf("after clawbacks, %s: got %q, want %q", tc.scope, got, tc.want)
		}
	}

	// A second instance following the same ledger from scratch (another
	// process: its own Ledger on the same database) agrees, and so does
	// the first after more awards are posted by the second's ledger.
	l2 := newLedger(db)
	h2 := points.NewHonour(l2, honourNames{}, storagetest.Logger())
	at(l2, march)
	mustPost(t, l2, taggedAward("r8", "eve", 7, "yuelu", "s1"))
	mustRefresh(t, h)
	mustRefresh(t, h2)
	if h.Seq() != h2.Seq() {
		t.Errorf("instances at issuance entry %d and %d", h.Seq(), h2.Seq())
	}
	for _, month := range []string{"2026-03", "2026-04"} {
		for _, scope := range h.Scopes(month) {
			a, b := boardString(mustBoard(t, h, month, scope)), boardString(mustBoard(t, h2, month, scope))
			if a != b {
				t.Errorf("%s %s: instance 1 %q, instance 2 %q", month, scope, a, b)
			}
		}
		n1, _ := h.Notice(ctx, month)
		n2, _ := h2.Notice(ctx, month)
		if !reflect.DeepEqual(n1, n2) {
			t.Errorf("%s notice differs between instances:\n%v\n%v", month, n1, n2)
		}
	}
	if got := boardString(mustBoard(t, h2, "2026-03", "station:s1")); got != "1 bob 20; 2 eve 7" {
		t.Errorf("station s1: %q", got)
	}

	t.Run("bad scope", func(t *testing.T) {
		for _, c := range [][2]string{{"2026-3", "city"}, {"march", "city"}, {"2026-03", "cell:9"}, {"2026-03", "district:"}} {
			if _, err := h.Board(ctx, c[0], c[1], 0); !errors.Is(err, points.ErrBadScope) {
				t.Errorf("Board(%q, %q): %v, want ErrBadScope", c[0], c[1], err)
			}
		}
	})
}

func TestHonourRefreshConcurrent(t *testing.T) {
	// Refresh racing with posts and with itself applies each entry once.
	db := newDB(t)
	l := newLedger(db)
	h := points.NewHonour(l, honourNames{}, storagetest.Logger())
	at(l, time.Date(2026, 5, 5, 0, 0, 0, 0, time.UTC))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := h.Refresh(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range 20 {
		mustPost(t, l, taggedAward(fmt.Sprintf("c%d", i), fmt.Sprintf("u%d", i%4), 1, "d", "s"))
	}
	close(stop)
	wg.Wait()
	mustRefresh(t, h)
	if got := boardString(mustBoard(t, h, "2026-05", "city")); got != "1 u0 5; 1 u1 5; 1 u2 5; 1 u3 5" {
		t.Errorf("board %q", got)
	}
	n, _ := h.Notice(context.Background(), "2026-05")
	if len(n) != 20 {
		t.Errorf("notice has %d rows, want 20", len(n))
	}
}

func TestHonourNoticeMaskedNames(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	l := newLedger(db)
	inner := honourNames{"ann": "张三", "bob": "13800138001", "cai": "Cai Lun", "dai": ""}
	h := points.NewHonour(l, points.MaskedNames{Inner: inner, Prefs: db}, storagetest.Logger())
	at(l, time.Date(2026, 6, 1, 2, 0, 0, 0, time.UTC))
	for i, r := range []string{"ann", "bob", "cai", "dai"} {
		mustPost(t, l, taggedAward(fmt.Sprintf("n%d", i), r, int64(10-i), "d", "s"))
	}
	mustRefresh(t, h)
	names := func() string {
		rows, err := h.Notice(ctx, "2026-06")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows {
			out = append(out, r.Name)
		}
		return strings.Join(out, ",")
	}
	if got, want := names(), "张*,138****8001,C***,***"; got != want {
		t.Errorf("before opting in: %q, want %q", got, want)
	}
	for _, r := range []string{"ann", "bob", "cai"} {
		if err := h.SetPublicName(ctx, r, true); err != nil {
			t.Fatal(err)
		}
	}
	// bob opted in, but his display name is a phone number: still masked.
	if got, want := names(), "张三,138****8001,Cai Lun,***"; got != want {
		t.Errorf("after opting in: %q, want %q", got, want)
	}
	if err := h.SetPublicName(ctx, "ann", false); err != nil {
		t.Fatal(err)
	}
	if show, err := h.ShowsPublicName(ctx, "ann"); err != nil || show {
		t.Errorf("ann shows her name: %v %v", show, err)
	}
	rows := mustBoard(t, h, "2026-06", "city")
	if rows[0].Name != "张*" || rows[1].Name != "138****8001" {
		t.Errorf("board names %q, %q", rows[0].Name, rows[1].Name)
	}

	// Whatever Names answers, a public page never shows a phone number.
	raw := points.NewHonour(l, honourNames{"bob": "+86 138-0013-8001"}, storagetest.Logger())
	mustRefresh(t, raw)
	for _, r := range mustBoard(t, raw, "2026-06", "city") {
		if strings.Contains(strings.NewReplacer(" ", "", "-", "").Replace(r.Name), "13800138001") {
			t.Errorf("a board shows the phone number %q", r.Name)
		}
	}
}

func TestMaskName(t *testing.T) {
	for in, want := range map[string]string{
		"张三":                "张*",
		"欧阳娜娜":              "欧***",
		"李":                 "李*",
		"13800138001":       "138****8001",
		"+86 138 0013 8001": "861****8001",
		"138-0013-8001":     "138****8001",
		"Alice":             "A***",
		"":                  "***",
		"123":               "1**",
	} {
		if got := points.MaskName(in); got != want {
			t.Errorf("MaskName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLevelOf(t *testing.T) {
	for _, tc := range []struct {
		earned    int64
		key, next string
	}{
		{-5, "rising", "mainstay"}, {0, "rising", "mainstay"}, {99, "rising", "mainstay"}, {100, "mainstay", "exemplar"},
		{499, "mainstay", "exemplar"}, {500, "exemplar", "model"}, {2000, "model", ""}, {1 << 40, "model", ""},
	} {
		lv, next := points.LevelOf(tc.earned)
		gotNext := ""
		if next != nil {
			gotNext = next.Key
		}
		if lv.Key != tc.key || gotNext != tc.next {
			t.Errorf("LevelOf(%d) = %s, %s; want %s, %s", tc.earned, lv.Key, gotNext, tc.key, tc.next)
		}
	}
}

func TestHonourLevelBadges(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	l := newLedger(db)
	h := points.NewHonour(l, honourNames{}, storagetest.Logger())
	for i := range 10 {
		mustPost(t, l, taggedAward(fmt.Sprintf("b%d", i), "ann", 12, "d", "s"))
	}
	mustPost(t, l, spend("b-spend", "ann", "s", 100)) // spending keeps the level
	mustRefresh(t, h)
	got, err := h.Rider(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	var badges []string
	for _, b := range got.Badges {
		badges = append(badges, b.Key)
	}
	if got.Earned != 120 || got.Level.Key != "mainstay" || got.Next == nil || got.Next.Key != "exemplar" || got.ToNext != 380 {
		t.Errorf("earned %d level %s next %v to next %d", got.Earned, got.Level.Key, got.Next, got.ToNext)
	}
	if want := "first_report,ten_reports,hundred_points"; strings.Join(badges, ",") != want {
		t.Errorf("badges %v, want %s", badges, want)
	}
	// A reversed award takes back its points and its count.
	if _, err := l.Reverse(ctx, "b0", "rejected"); err != nil {
		t.Fatal(err)
	}
	mustRefresh(t, h)
	got, _ = h.Rider(ctx, "ann")
	badges = nil
	for _, b := range got.Badges {
		badges = append(badges, b.Key)
	}
	if strings.Join(badges, ",") != "first_report,hundred_points" {
		t.Errorf("after a reversal: badges %v", badges)
	}
	none, _ := h.Rider(ctx, "nobody")
	if none.Level.Key != "rising" || len(none.Badges) != 0 {
		t.Errorf("a new rider: %+v", none)
	}
}

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("read CSV: %v\n%s", err, b)
	}
	return recs
}

func TestNoticeCSVInjection(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	l := newLedger(db)
	h := points.NewHonour(l, honourNames{"ann": "=cmd|' /C calc'!A0", "bob": "@SUM(1+1)"}, storagetest.Logger())
	at(l, time.Date(2026, 7, 1, 1, 2, 3, 0, time.UTC))
	tr := taggedAward("x1", "ann", 10, "d", "s")
	tr.Note = "+HYPERLINK(\"http://evil\")"
	mustPost(t, l, tr)
	tr = taggedAward("x2", "bob", 5, "d", "s")
	tr.Note = "-2+3"
	tr.Ref = "\tcell"
	mustPost(t, l, tr)
	mustPost(t, l, points.Transfer{Key: "claw:x2", Kind: points.KindClawback, Debit: points.Rider("bob"), Credit: points.Issuance, Amount: 2, Ref: "report:x2"})
	mustRefresh(t, h)
	var buf bytes.Buffer
	if err := h.NoticeCSV(ctx, &buf, "2026-07"); err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, buf.Bytes())
	if len(recs) != 4 {
		t.Fatalf("%d records: %v", len(recs), recs)
	}
	for _, rec := range recs {
		for _, cell := range rec {
			if cell != "" && strings.ContainsRune("=+@\t\r", rune(cell[0])) {
				t.Errorf("cell %q could run as a formula", cell)
			}
			if cell != "" && cell[0] == '-' && cell != "-2" {
				t.Errorf("cell %q could run as a formula", cell)
			}
		}
	}
	// Text cells are guarded; amounts stay numbers.
	if recs[1][0] != "2026-07-01 09:02:03" || recs[1][2] != "10" || recs[1][5] != "'+HYPERLINK(\"http://evil\")" {
		t.Errorf("row 1: %q", recs[1])
	}
	if recs[2][1] != "'@SUM(1+1)" || recs[2][4] != "'\tcell" || recs[2][5] != "'-2+3" {
		t.Errorf("row 2: %q", recs[2])
	}
	if recs[3][2] != "-2" || recs[3][3] != "clawback" {
		t.Errorf("row 3: %q", recs[3])
	}
}

func TestStatementCSV(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	l := newLedger(db)
	at(l, time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC))
	tr := award("s1", "ann", 30)
	tr.Note = "=1+1"
	tr.Ref = "report:R1"
	mustPost(t, l, tr)
	mustPost(t, l, spend("s2", "ann", "st", 12))
	var buf bytes.Buffer
	if err := points.StatementCSV(ctx, l, &buf, points.Rider("ann")); err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, buf.Bytes())
	want := [][]string{
		{"seq", "time", "kind", "amount", "balance", "held", "note", "ref", "counter"},
		{"1", "2026-08-01 08:00:00", "award", "30", "30", "0", "'=1+1", "report:R1", "issuance"},
		{"2", "2026-08-01 08:00:00", "spend", "-12", "18", "0", "", "", "pool:st"},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Errorf("statement CSV\n got %q\nwant %q", recs, want)
	}
	buf.Reset()
	if err := points.StatementCSV(ctx, l, &buf, "bad/account"); !errors.Is(err, points.ErrInvalid) {
		t.Errorf("bad account: %v", err)
	}
}
