package council

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nuanxin/nuanxin/council/vote"
)

// riderEnv is the riders' pages (see pagesEnv).
type riderEnv struct{ *pagesEnv }

func newRiderEnv(t *testing.T) *riderEnv {
	t.Helper()
	return &riderEnv{newPagesEnv(t, mountRiderPages)}
}

// postItem sends the feedback form as a browser does: multipart, the photo
// optional.
func (e *riderEnv) postItem(station, who, category, text string, photo []byte) (int, string) {
	e.t.Helper()
	return e.postPhoto("/stations/"+station+"/feedback", who, url.Values{"category": {category}, "text": {text}}, photo)
}

// TestRiderPagesStationsAndPool walks a rider through the station pages and
// the feedback pool: the list with and without a position, check-in,
// joining, posting (refusals included, each a 4xx with the message and
// nothing stored) and supporting.
func TestRiderPagesStationsAndPool(t *testing.T) {
	ctx := context.Background()
	e := newRiderEnv(t)
	a, b := e.f.a, e.f.b

	st, body := e.get("/stations", "r1")
	want(t, "stations by name", st, body, 200, a.Name, b.Name, `href="/stations/`+a.ID+`"`, "geo:28.190000,112.970000")
	st, body = e.get("/stations?lat=28.19&lng=112.97", "r1")
	want(t, "stations near a position", st, body, 200, "0 米", `class="me-dot"`)
	if strings.Index(body, a.Name) > strings.Index(body, b.Name) {
		t.Errorf("the nearest station (%s) is not listed first", a.Name)
	}
	st, body = e.get("/stations?lat=95&lng=0", "r1")
	want(t, "a position off the globe", st, body, 422, "位置无效")
	st, _ = e.get("/stations", "")
	if st != http.StatusSeeOther {
		t.Errorf("stations without logging in: status %d, want a redirect to the login page", st)
	}

	st, body = e.get("/stations/"+a.ID, "r1")
	want(t, "a station", st, body, 200, a.Name, "议事会成员 0 人", "加入本驿站议事会", "/stations/"+a.ID+"/feedback")
	st, body = e.get("/stations/0123456789abcdef01234567", "r1")
	want(t, "an unknown station", st, body, 404, "没有这个驿站")

	st, body = e.get("/stations/"+a.ID+"/checkin", "r1")
	want(t, "the check-in page", st, body, 200, "签到 / Check in")
	st, body = e.post("/stations/"+a.ID+"/checkin", "r1", nil)
	want(t, "a check-in", st, body, 200, "签到成功", "今天已有 1 位骑手", "加入本驿站议事会")
	st, body = e.post("/stations/"+a.ID+"/checkin", "r1", nil)
	want(t, "a second check-in", st, body, 200, "今天已在这里签到过", "今天已有 1 位骑手")

	// Not a member yet: refused with what to do, nothing stored.
	st, body = e.postItem(a.ID, "r1", "facilities", "饮水机坏了", nil)
	want(t, "a non-member's post", st, body, 403, "加入本驿站议事会后才能发帖")
	st, _ = e.post("/stations/"+a.ID+"/join", "r1", nil)
	if st != http.StatusSeeOther {
		t.Fatalf("join: status %d", st)
	}
	e.join(a.ID, "r2")
	e.join(b.ID, "r3")
	st, body = e.get("/stations/"+a.ID, "r1")
	want(t, "a station of one's council", st, body, 200, "你是本驿站议事会成员", "议事会成员 2 人", "退出议事会")
	st, body = e.get("/stations/"+a.ID, "r3")
	want(t, "a station to a member of another council", st, body, 200, "你目前是“"+b.Name+"”议事会的成员", "改为加入本驿站议事会")
	st, body = e.post("/stations/"+a.ID+"/checkin", "r3", nil)
	want(t, "a check-in by a member of another council", st, body, 200, "签到成功", "你目前是“"+b.Name+"”议事会的成员", "改为加入本驿站议事会")

	for _, c := range []struct {
		name, category, text string
		photo                []byte
		status               int
		msg                  string
	}{
		{"empty text", "facilities", "  ", nil, 422, "请填写 1 到 2000 字的内容"},
		{"5,000 characters", "facilities", strings.Repeat("长", 5000), nil, 422, "请填写 1 到 2000 字的内容"},
		{"no category", "", "饮水机坏了", nil, 422, "请选择一个类别"},
		{"a photo that is not an image", "safety", "路口没有灯", []byte("this is text, not a photo"), 422, "照片无法使用"},
		{"a photo over 10 MB", "safety", "路口没有灯", make([]byte, MaxPhotoBytes+1), 413, "照片太大：最多 10 MB"},
	} {
		st, body := e.postItem(a.ID, "r1", c.category, c.text, c.photo)
		want(t, c.name, st, body, c.status, c.msg, `class="field-error"`)
	}
	if items, _, err := e.f.hub.Feedback.List(ctx, a.ID, 0, 10); err != nil || len(items) != 0 {
		t.Fatalf("refused posts stored items: %+v, %v", items, err)
	}

	st, body = e.postItem(a.ID, "r1", "facilities", "饮水机坏了，请换新", smallJPEG(t))
	if st != http.StatusSeeOther {
		t.Fatalf("post: status %d; %s", st, stripTags(body))
	}
	items, _, err := e.f.hub.Feedback.List(ctx, a.ID, 0, 10)
	if err != nil || len(items) != 1 || items[0].PhotoKey == "" {
		t.Fatalf("after one post: %+v, %v", items, err)
	}
	it := items[0]
	st, body = e.get("/feedback/"+it.ID, "r2")
	want(t, "the item", st, body, 200, "饮水机坏了，请换新", "设施", "待处理", photoURL(it.PhotoKey), `action="/feedback/`+it.ID+`/support"`)
	st, body = e.get(photoURL(it.PhotoKey), "r2")
	if st != 200 || !strings.HasPrefix(body, "\xff\xd8") {
		t.Errorf("the item's photo: status %d, %d bytes; want a JPEG", st, len(body))
	}
	st, _ = e.get("/council/photos/reports/x.jpg", "r2")
	if st != 404 {
		t.Errorf("a key outside the council's photos: status %d, want 404", st)
	}

	st, body = e.post("/feedback/"+it.ID+"/support", "r1", nil)
	want(t, "supporting one's own item", st, body, 422, "不能支持自己的反馈")
	st, body = e.post("/feedback/"+it.ID+"/support", "r3", nil)
	want(t, "a member of another station supporting", st, body, 403, "加入本驿站议事会后才能支持")
	st, _ = e.post("/feedback/"+it.ID+"/support", "r2", url.Values{"back": {"/stations/" + a.ID + "/feedback"}})
	if st != http.StatusSeeOther {
		t.Errorf("a member's support: status %d", st)
	}
	st, _ = e.post("/feedback/"+it.ID+"/support", "r2", nil)
	if st != http.StatusSeeOther {
		t.Errorf("a repeated support: status %d, want the item again", st)
	}
	st, body = e.get("/stations/"+a.ID+"/feedback", "r2")
	want(t, "the pool", st, body, 200, "1 人支持", "已支持", "饮水机坏了，请换新", "提出新反馈")
	st, body = e.get("/stations/"+a.ID+"/feedback", "r3")
	want(t, "the pool to a non-member", st, body, 200, "加入本驿站议事会后才能发帖", "1 人支持")
	if strings.Contains(body, `/feedback/`+it.ID+`/support"`) {
		t.Errorf("a non-member is offered the support button")
	}
	if n, err := e.f.hub.Feedback.Get(ctx, it.ID); err != nil || n.Supports != 1 {
		t.Errorf("supports stored = %d, %v; want 1", n.Supports, err)
	}

	// Leaving: the station shows the join button again.
	st, _ = e.post("/council/leave", "r1", url.Values{"back": {"/stations/" + a.ID}})
	if st != http.StatusSeeOther {
		t.Errorf("leave: status %d", st)
	}
	if ok, _ := e.f.hub.Members.IsMember(ctx, a.ID, "r1"); ok {
		t.Errorf("r1 is still a member after leaving")
	}
}

// TestRiderPagesVote votes through the proposal page: the ballot to those on
// the roll, a refusal to a member who joined after opening, a bad choice,
// the receipt, a change of vote, the late vote after close, and the results
// with the voter's own receipt marked in the published list.
func TestRiderPagesVote(t *testing.T) {
	ctx := context.Background()
	e := newRiderEnv(t)
	a := e.f.a
	e.join(a.ID, "r1", "r2")
	start := time.Now()
	d := draft(a.ID, start, start.Add(time.Hour))
	d.Title = "饮水机换新"
	p, err := e.f.hub.Proposals.Put(ctx, d, "")
	if err != nil {
		t.Fatal(err)
	}
	st, body := e.get("/proposals/"+p.ID, "r1")
	want(t, "a draft to a rider", st, body, 404, "没有这个提案")
	st, body = e.get("/proposals/"+p.ID, "sa1")
	want(t, "a draft to its station's admin", st, body, 200, "饮水机换新", "草稿")
	st, body = e.get("/stations/"+a.ID+"/proposals", "r1")
	want(t, "proposals with only a draft, to a rider", st, body, 200, "还没有提案")

	if p, err = e.f.hub.Proposals.Open(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	e.join(a.ID, "r4") // after opening: not on the roll
	st, body = e.get("/stations/"+a.ID+"/proposals", "r1")
	want(t, "proposals", st, body, 200, "正在投票", "/proposals/"+p.ID)
	st, body = e.get("/proposals/"+p.ID, "r1")
	want(t, "an open proposal", st, body, 200, `name="choice" value="yes"`, "赞成", "结果将在")
	if strings.Contains(body, "投票结果") {
		t.Errorf("results are shown before close")
	}
	st, body = e.get("/proposals/"+p.ID, "r4")
	want(t, "an open proposal to a member who joined later", st, body, 200, "你不在本次投票的选民名单上")
	if strings.Contains(body, `name="choice"`) {
		t.Errorf("a rider not on the roll is offered the ballot")
	}
	st, body = e.post("/proposals/"+p.ID+"/vote", "r4", url.Values{"choice": {"yes"}})
	want(t, "a vote by a member who joined later", st, body, 403, "你不在本次投票的选民名单上")
	st, body = e.post("/proposals/"+p.ID+"/vote", "r1", url.Values{"choice": {"maybe"}})
	want(t, "a choice not on the ballot", st, body, 422, "这个选择不在选票上")
	st, body = e.post("/proposals/"+p.ID+"/vote", "r1", url.Values{})
	want(t, "no choice", st, body, 422, "请在选票上做出选择")
	if h, _ := e.f.hub.Votes.History(ctx, p.ID, "r1"); len(h) != 0 {
		t.Fatalf("refused votes stored %d ballots", len(h))
	}

	st, body = e.post("/proposals/"+p.ID+"/vote", "r1", url.Values{"choice": {"no"}})
	want(t, "a vote", st, body, 200, "您的投票已计入", "反对", "截止前，你可以改票")
	st, body = e.post("/proposals/"+p.ID+"/vote", "r1", url.Values{"choice": {"yes"}})
	want(t, "a changed vote", st, body, 200, "您的投票已计入", "我的投票记录")
	h, err := e.f.hub.Votes.History(ctx, p.ID, "r1")
	if err != nil || len(h) != 2 {
		t.Fatalf("history = %+v, %v; want two votes", h, err)
	}
	if !strings.Contains(body, `id="receipt-code">`+h[1].Code+`<`) {
		t.Errorf("the receipt shown is not the vote's code %s", h[1].Code)
	}
	if _, err := e.f.hub.Votes.Cast(ctx, p.ID, "r2", []string{vote.No}); err != nil {
		t.Fatal(err)
	}

	e.f.clock.Store(p.Closes.Add(e.f.hub.Votes.Settle()).UnixNano())
	st, body = e.post("/proposals/"+p.ID+"/vote", "r1", url.Values{"choice": {"no"}})
	want(t, "a vote after close", st, body, 409, "投票已于 "+e.when(p.Closes)+" 截止")
	st, body = e.get("/proposals/"+p.ID, "r1")
	want(t, "a closed proposal", st, body, 200, "投票结果", "公布的回执", `<tr data-code="`+h[1].Code+`" class="mine">`,
		"你的回执码在列表中", "1 票 · 50.0%", "2 / 2")
	if strings.Contains(body, `name="choice"`) {
		t.Errorf("a closed proposal offers the ballot")
	}
	if strings.Contains(body, `data-code="`+h[0].Code+`"`) {
		t.Errorf("the replaced vote's receipt %s is published", h[0].Code)
	}
	st, body = e.get("/stations/"+a.ID+"/proposals", "r2")
	want(t, "proposals after close", st, body, 200, "已结束")
}

// TestRiderPagesSecretBallot: the receipt of a secret vote says it is
// final, the page offers no ballot after it, and a second vote is refused.
func TestRiderPagesSecretBallot(t *testing.T) {
	ctx := context.Background()
	e := newRiderEnv(t)
	a := e.f.a
	e.join(a.ID, "r1")
	start := time.Now()
	d := draft(a.ID, start, start.Add(time.Hour))
	d.Kind, d.Options, d.MaxApprovals, d.Secret = vote.Approval, []string{"换饮水机", "加座椅", "装空调"}, 2, true
	p, err := e.f.hub.Proposals.Put(ctx, d, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.f.hub.Proposals.Open(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	st, body := e.get("/proposals/"+p.ID, "r1")
	want(t, "a secret approval ballot", st, body, 200, `type="checkbox" name="choice"`, `data-max="2"`, "最多 2 项", "无记名")
	st, body = e.post("/proposals/"+p.ID+"/vote", "r1", url.Values{"choice": {"换饮水机", "加座椅", "装空调"}})
	want(t, "too many approvals", st, body, 422, "最多选择 2 项")
	st, body = e.post("/proposals/"+p.ID+"/vote", "r1", url.Values{"choice": {"换饮水机", "加座椅"}})
	want(t, "a secret vote", st, body, 200, "您的投票已计入", "不能更改", "请记下上面的回执码")
	if strings.Contains(body, `name="choice"`) {
		t.Errorf("the ballot is offered again after a secret vote")
	}
	st, body = e.post("/proposals/"+p.ID+"/vote", "r1", url.Values{"choice": {"装空调"}})
	want(t, "a second secret vote", st, body, 409, "无记名投票一经投出不能更改")
}

func (e *riderEnv) when(t time.Time) string {
	return t.In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04")
}
