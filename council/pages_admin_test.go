package council

import (
	"context"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nuanxin/nuanxin/council/vote"
)

// adminEnv is the station admins' and admins' pages (see pagesEnv).
type adminEnv struct{ *pagesEnv }

func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()
	return &adminEnv{newPagesEnv(t, mountAdminPages)}
}

func (e *adminEnv) upload(path, who string, photo []byte) (int, string) {
	e.t.Helper()
	return e.postPhoto(path, who, nil, photo)
}

func (e *adminEnv) station(id string) Station {
	e.t.Helper()
	st, err := e.f.hub.Stations.Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *adminEnv) postItem(station, author, text string) Item {
	e.t.Helper()
	it, err := e.f.hub.Feedback.Post(context.Background(), NewItem{Station: station, Author: author, Category: CategoryFacilities, Text: text})
	if err != nil {
		e.t.Fatal(err)
	}
	return it
}

// proposalForm is a valid proposal form; change gives the bad variants.
func proposalForm(change func(url.Values)) url.Values {
	now := time.Now().In(Shanghai)
	f := url.Values{"title": {"加一台饮水机"}, "body": {"夏天排队太久"}, "kind": {"yes_no_abstain"},
		"opens": {now.Format("2006-01-02T15:04")}, "closes": {now.Add(72 * time.Hour).Format("2006-01-02T15:04")},
		"quorum_pct": {"30"}, "pass_pct": {"50"}}
	if change != nil {
		change(f)
	}
	return f
}

// TestAdminPagesPermissions: every station page answers its station's
// admin and an admin, and refuses an admin of another station (403) and
// a rider; the stations admin pages are the admins' only.
func TestAdminPagesPermissions(t *testing.T) {
	e := newAdminEnv(t)
	a := e.f.a.ID
	e.join(a, "r1")
	item := e.postItem(a, "r1", "门口的灯坏了")
	pr, err := e.f.hub.Proposals.Put(context.Background(), vote.Draft{StationID: a, Title: "修灯", Kind: vote.YesNoAbstain,
		Opens: time.Now(), Closes: time.Now().Add(time.Hour), QuorumPct: 10, CreatedBy: "sa1"}, "")
	if err != nil {
		t.Fatal(err)
	}
	pages := []string{"/station/" + a + "/council", "/station/" + a + "/details", "/station/" + a + "/poster",
		"/station/" + a + "/poster/qr.png", "/station/" + a + "/members", "/station/" + a + "/feedback",
		"/station/" + a + "/proposals/new", "/station/" + a + "/proposals/new?from_item=" + item.ID,
		"/station/" + a + "/proposals/" + pr.ID + "/edit", "/station/" + a + "/visits"}
	for _, p := range pages {
		for _, who := range []string{"sa1", "ad"} {
			if status, body := e.get(p, who); status != http.StatusOK {
				t.Errorf("GET %s as %s: %d, want 200: %.300s", p, who, status, stripTags(body))
			}
		}
		status, body := e.get(p, "sb1")
		if status != http.StatusForbidden {
			t.Errorf("GET %s as the admin of another station: %d, want 403", p, status)
		} else if !strings.Contains(body, "只有本驿站的管理员") {
			t.Errorf("GET %s as sb1: the 403 page does not say why: %.300s", p, stripTags(body))
		}
		if status, _ := e.get(p, "r1"); status != http.StatusForbidden {
			t.Errorf("GET %s as a rider: %d, want 403", p, status)
		}
	}
	posts := map[string]url.Values{
		"/station/" + a + "/details":                          {"name": {"改名"}, "lat": {"28"}, "lng": {"112"}},
		"/station/" + a + "/photos/remove":                    {"key": {"x"}},
		"/station/" + a + "/members/r1/remove":                {"reason": {"捣乱"}},
		"/station/" + a + "/feedback/" + item.ID:              {"action": {"answer"}, "text": {"好"}},
		"/station/" + a + "/proposals/new":                    proposalForm(nil),
		"/station/" + a + "/proposals/" + pr.ID + "/edit":     proposalForm(nil),
		"/station/" + a + "/proposals/" + pr.ID + "/open":     {},
		"/station/" + a + "/proposals/" + pr.ID + "/outcomes": {"kind": {"decision"}, "text": {"做"}},
		"/admin/stations":                                     {"name": {"新站"}, "lat": {"28"}, "lng": {"112"}},
		"/admin/stations/" + a + "/close":                     {},
		"/admin/stations/" + a + "/admins":                    {"user_id": {"sb1"}},
	}
	for p, form := range posts {
		if status, _ := e.post(p, "sb1", form); status != http.StatusForbidden {
			t.Errorf("POST %s as the admin of another station: %d, want 403", p, status)
		}
	}
	// Nothing the refused posts asked for happened.
	st := e.station(a)
	if st.Name != e.f.a.Name || !st.Open || len(st.Admins) != 0 {
		t.Errorf("station a after refused posts: %+v", st)
	}
	if it, _ := e.f.hub.Feedback.Get(context.Background(), item.ID); it.Status != StatusOpen {
		t.Errorf("item after a refused answer: %s, want open", it.Status)
	}
	if ok, _ := e.f.hub.Members.IsMember(context.Background(), a, "r1"); !ok {
		t.Error("r1 was removed by the admin of another station")
	}
	if status, _ := e.get("/admin/stations", "sa1"); status != http.StatusForbidden {
		t.Errorf("GET /admin/stations as a station admin: %d, want 403", status)
	}
	if status, body := e.get("/admin/stations", "ad"); status != http.StatusOK || !strings.Contains(body, e.f.a.Name) || !strings.Contains(body, e.f.b.Name) {
		t.Errorf("GET /admin/stations as admin: %d, %.300s", status, stripTags(body))
	}
}

// TestAdminPagesCrossStationIDs: a proposal or item of station b named in a
// path of station a is not found there, even for a's own admin.
func TestAdminPagesCrossStationIDs(t *testing.T) {
	e := newAdminEnv(t)
	a, b := e.f.a.ID, e.f.b.ID
	e.join(b, "r2")
	itemB := e.postItem(b, "r2", "乙站的反馈")
	prB, err := e.f.hub.Proposals.Put(context.Background(), vote.Draft{StationID: b, Title: "乙站提案", Kind: vote.YesNoAbstain,
		Opens: time.Now(), Closes: time.Now().Add(time.Hour), CreatedBy: "sb1"}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/station/" + a + "/proposals/" + prB.ID + "/edit", "/station/" + a + "/proposals/new?from_item=" + itemB.ID} {
		if status, _ := e.get(p, "sa1"); status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, status)
		}
	}
	if status, _ := e.post("/station/"+a+"/feedback/"+itemB.ID, "sa1", url.Values{"action": {"answer"}, "text": {"x"}}); status != http.StatusNotFound {
		t.Errorf("answer b's item through a: %d, want 404", status)
	}
	if status, _ := e.post("/station/"+a+"/proposals/"+prB.ID+"/open", "sa1", nil); status != http.StatusNotFound {
		t.Errorf("open b's proposal through a: %d, want 404", status)
	}
	if status, _ := e.post("/station/"+a+"/proposals/new", "sa1", proposalForm(func(f url.Values) { f.Set("from_item", itemB.ID) })); status != http.StatusNotFound {
		t.Errorf("adopt b's item into a's proposal: %d, want 404", status)
	}
	if it, _ := e.f.hub.Feedback.Get(context.Background(), itemB.ID); it.Status != StatusOpen {
		t.Errorf("b's item: %s, want open", it.Status)
	}
	if pr, _ := e.f.hub.Votes.Get(context.Background(), prB.ID); pr.State != vote.StateDraft {
		t.Errorf("b's proposal: %s, want draft", pr.State)
	}
	if ps, _ := e.f.hub.Proposals.List(context.Background(), a); len(ps) != 0 {
		t.Errorf("station a has %d proposals, want 0", len(ps))
	}
}

// TestAdminDetailsAndPhotos: the details form saves what it is sent; a
// wrong field answers 422 with the reason beside it, the input kept and
// nothing written; a photo that is not an image is refused.
func TestAdminDetailsAndPhotos(t *testing.T) {
	e := newAdminEnv(t)
	a := e.f.a.ID
	path := "/station/" + a + "/details"
	good := url.Values{"name": {"甲驿站（新）"}, "address": {"五一大道 1 号"}, "lat": {"28.1941"}, "lng": {"112.9823"},
		"hours_mon": {"8:00-20:00"}, "hours_sat": {"24h"}, "facilities": {"wifi", "seats"}, "services": {"mediation"}}
	if status, body := e.post(path, "sa1", good); status != http.StatusSeeOther {
		t.Fatalf("save details: %d: %.300s", status, stripTags(body))
	}
	st := e.station(a)
	if st.Name != "甲驿站（新）" || st.Hours.Mon != "08:00-20:00" || st.Hours.Sat != "24h" || st.Hours.Tue != "" ||
		strings.Join(st.Facilities, ",") != "seats,wifi" || strings.Join(st.Services, ",") != "mediation" || st.Lat != 28.1941 {
		t.Errorf("stored: %+v", st)
	}
	for _, c := range []struct {
		name   string
		change func(url.Values)
		status int
		says   string
		kept   string
	}{
		{"bad hours", func(f url.Values) { f.Set("hours_tue", "8 to 20") }, 422, "“8 to 20”格式不对：营业时间请写成", `value="8 to 20"`},
		{"bad latitude", func(f url.Values) { f.Set("lat", "north") }, 422, "请填写数字", `value="north"`},
		{"latitude off the globe", func(f url.Values) { f.Set("lat", "95") }, 422, "纬度须在 -90 到 90 之间", `value="95"`},
		{"empty name", func(f url.Values) { f.Set("name", " ") }, 422, "请填写 1 到 60 个字的名称", ""},
		{"name of another station", func(f url.Values) { f.Set("name", e.f.b.Name) }, 409, "已有同名驿站", e.f.b.Name},
		{"unknown facility", func(f url.Values) { f["facilities"] = []string{"pool"} }, 422, "pool", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range good {
				form[k] = append([]string(nil), v...)
			}
			form.Set("address", "改过的地址")
			c.change(form)
			status, body := e.post(path, "sa1", form)
			if status != c.status || !strings.Contains(body, c.says) || !strings.Contains(body, c.kept) || !strings.Contains(body, "改过的地址") {
				t.Errorf("status %d (want %d); page: %.600s", status, c.status, stripTags(body))
			}
			if got := e.station(a); got.Address != "五一大道 1 号" {
				t.Errorf("address written despite the error: %q", got.Address)
			}
		})
	}
	// Photos.
	photos := "/station/" + a + "/photos"
	if status, body := e.upload(photos, "sa1", []byte("this is not an image at all")); status != http.StatusUnprocessableEntity || !strings.Contains(body, "JPEG") {
		t.Errorf("a text file as a photo: %d: %.300s", status, stripTags(body))
	}
	if status, body := e.upload(photos, "sa1", make([]byte, MaxPhotoBytes+1)); status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "照片不能超过 10 MB") {
		t.Errorf("a photo over 10 MB: %d: %.300s", status, stripTags(body))
	}
	if n := len(e.station(a).Photos); n != 0 {
		t.Fatalf("%d photos after refused uploads, want 0", n)
	}
	if status, body := e.upload(photos, "sa1", smallJPEG(t)); status != http.StatusSeeOther {
		t.Fatalf("upload a photo: %d: %.300s", status, stripTags(body))
	}
	st = e.station(a)
	if len(st.Photos) != 1 {
		t.Fatalf("photos: %v", st.Photos)
	}
	if _, body := e.get(path, "sa1"); !strings.Contains(body, photoURL(st.Photos[0])) {
		t.Error("the details page does not show the photo")
	}
	if status, _ := e.post(photos+"/remove", "sa1", url.Values{"key": {"council/none.jpg"}}); status != http.StatusNotFound {
		t.Errorf("remove an unknown photo: %d, want 404", status)
	}
	if status, _ := e.post(photos+"/remove", "sa1", url.Values{"key": {st.Photos[0]}}); status != http.StatusSeeOther {
		t.Errorf("remove the photo: %d", status)
	}
	if n := len(e.station(a).Photos); n != 0 {
		t.Errorf("%d photos after removing the only one", n)
	}
}

// TestAdminPoster: the poster holds the absolute check-in address of the
// request's host, and the QR code is a PNG.
func TestAdminPoster(t *testing.T) {
	e := newAdminEnv(t)
	a := e.f.a.ID
	status, body := e.get("/station/"+a+"/poster", "sa1")
	if status != http.StatusOK || !strings.Contains(body, "http://example.com/stations/"+a+"/checkin") ||
		!strings.Contains(body, "扫码签到 · 加入驿站议事会") || !strings.Contains(body, e.f.a.Name) {
		t.Errorf("poster: %d: %.600s", status, stripTags(body))
	}
	status, img, h := e.do(http.MethodGet, "/station/"+a+"/poster/qr.png", "sa1", nil, "")
	if status != http.StatusOK || h.Get("Content-Type") != "image/png" {
		t.Fatalf("qr: %d %s", status, h.Get("Content-Type"))
	}
	cfg, err := png.DecodeConfig(strings.NewReader(img))
	if err != nil || cfg.Width < 512 {
		t.Errorf("qr is not a large PNG: %v %+v", err, cfg)
	}
}

// TestAdminMembers: the roster shows names, a removal needs a reason (422
// and still a member without one) and takes the member off.
func TestAdminMembers(t *testing.T) {
	e := newAdminEnv(t)
	a := e.f.a.ID
	e.join(a, "r1", "r2")
	status, body := e.get("/station/"+a+"/members", "sa1")
	if status != http.StatusOK || !strings.Contains(body, "共 2 名成员") || !strings.Contains(body, `id="member-r1"`) {
		t.Errorf("roster: %d: %.500s", status, stripTags(body))
	}
	remove := "/station/" + a + "/members/r1/remove"
	if status, body := e.post(remove, "sa1", url.Values{"reason": {"  "}}); status != http.StatusUnprocessableEntity || !strings.Contains(body, "请填写 1 到 500 个字的理由") {
		t.Errorf("remove without a reason: %d: %.400s", status, stripTags(body))
	}
	if ok, _ := e.f.hub.Members.IsMember(context.Background(), a, "r1"); !ok {
		t.Fatal("r1 removed without a reason")
	}
	if status, _ := e.post(remove, "sa1", url.Values{"reason": {"多次发布广告"}}); status != http.StatusSeeOther {
		t.Fatalf("remove: %d", status)
	}
	if ok, _ := e.f.hub.Members.IsMember(context.Background(), a, "r1"); ok {
		t.Error("r1 is still a member")
	}
	if status, _ := e.post(remove, "sa1", url.Values{"reason": {"again"}}); status != http.StatusNotFound {
		t.Errorf("remove a non-member: %d, want 404", status)
	}
	if home, _ := e.f.hub.Members.Home(context.Background(), "r1"); home.Reason != "多次发布广告" {
		t.Errorf("the removal's reason: %q", home.Reason)
	}
}

// TestAdminFeedback: answers, declines and adoptions from the page; an
// answer with no text is refused before anything moves; an adoption
// awards the author once; the oldest waiting item comes first.
func TestAdminFeedback(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	a := e.f.a.ID
	e.join(a, "r1", "r2")
	old := e.postItem(a, "r1", "第一条：饮水机太慢")
	newer := e.postItem(a, "r2", "第二条：门口没灯")
	third := e.postItem(a, "r2", "第三条：想要微波炉")
	status, body := e.get("/station/"+a+"/feedback", "sa1")
	if status != http.StatusOK || strings.Index(body, "第一条") > strings.Index(body, "第二条") || !strings.Contains(body, "已等待") {
		t.Errorf("feedback page: %d, oldest first? %.600s", status, stripTags(body))
	}
	path := func(it Item) string { return "/station/" + a + "/feedback/" + it.ID }
	for _, c := range []struct {
		action, says string
	}{{"answer", "请写下成员将看到的答复"}, {"decline", "请写下不予采纳的理由"}, {"adopt", "请写下将如何落实"}, {"wave", "请选择处理方式"}} {
		status, body := e.post(path(old), "sa1", url.Values{"action": {c.action}, "text": {" "}})
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, c.says) {
			t.Errorf("%s with no text: %d: %.400s", c.action, status, stripTags(body))
		}
	}
	if tl, _ := e.f.hub.Feedback.Timeline(ctx, old.ID); len(tl) != 0 {
		t.Fatalf("refused actions wrote %d timeline entries", len(tl))
	}
	if status, _ := e.post(path(old), "sa1", url.Values{"action": {"answer"}, "text": {"已经报修，下周更换。"}}); status != http.StatusSeeOther {
		t.Fatalf("answer: %d", status)
	}
	if it, _ := e.f.hub.Feedback.Get(ctx, old.ID); it.Status != StatusAnswered || it.Answer != "已经报修，下周更换。" {
		t.Errorf("answered item: %s %q", it.Status, it.Answer)
	}
	if status, body := e.post(path(old), "sa1", url.Values{"action": {"decline"}, "text": {"晚了"}}); status != http.StatusConflict || !strings.Contains(body, "已答复") {
		t.Errorf("decline an answered item: %d: %.300s", status, stripTags(body))
	}
	if status, _ := e.post(path(newer), "sa1", url.Values{"action": {"review"}}); status != http.StatusSeeOther {
		t.Fatalf("review: %d", status)
	}
	if status, _ := e.post(path(newer), "sa1", url.Values{"action": {"adopt"}, "text": {"本周装灯"}}); status != http.StatusSeeOther {
		t.Fatalf("adopt: %d", status)
	}
	if it, _ := e.f.hub.Feedback.Get(ctx, newer.ID); it.Status != StatusAdopted {
		t.Errorf("adopted item: %s", it.Status)
	}
	e.f.ledger.mu.Lock()
	got := e.f.ledger.grants[AwardKey(newer.ID)]
	e.f.ledger.mu.Unlock()
	if !strings.HasPrefix(got, "r2:") {
		t.Errorf("award for the adopted item: %q", got)
	}
	if status, _ := e.post(path(third), "sa1", url.Values{"action": {"decline"}, "text": {"没有预算"}}); status != http.StatusSeeOther {
		t.Fatalf("decline: %d", status)
	}
	if it, _ := e.f.hub.Feedback.Get(ctx, third.ID); it.Status != StatusDeclined || it.Reason != "没有预算" {
		t.Errorf("declined item: %s %q", it.Status, it.Reason)
	}
}

// TestAdminProposals: a proposal adopted from an item, the form's bad
// inputs (each 422 with the message by its field, nothing written), edit,
// open with the roll frozen, outcomes only after close.
func TestAdminProposals(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	a := e.f.a.ID
	e.join(a, "r1")
	item := e.postItem(a, "r1", "饮水机太慢，想加一台")
	status, body := e.get("/station/"+a+"/proposals/new?from_item="+item.ID, "sa1")
	if status != http.StatusOK || !strings.Contains(body, `value="饮水机太慢，想加一台"`) || !strings.Contains(body, `name="from_item" value="`+item.ID+`"`) ||
		!strings.Contains(body, `value="30"`) || !strings.Contains(body, `value="50"`) {
		t.Errorf("form from an item: %d: %.800s", status, body)
	}
	newPath := "/station/" + a + "/proposals/new"
	for _, c := range []struct {
		name   string
		change func(url.Values)
		says   string
	}{
		{"closes before it opens", func(f url.Values) {
			f.Set("closes", time.Now().In(Shanghai).Add(-time.Hour).Format("2006-01-02T15:04"))
		}, "截止时间须晚于开始时间"},
		{"quorum above 100", func(f url.Values) { f.Set("quorum_pct", "101") }, "须在 0 到 100 % 之间"},
		{"pass below 50", func(f url.Values) { f.Set("pass_pct", "40") }, "须在 50 到 100 % 之间"},
		{"no title", func(f url.Values) { f.Set("title", "") }, "请填写 1 到 120 个字的标题"},
		{"not a time", func(f url.Values) { f.Set("opens", "soon") }, "请选择日期和时间"},
		{"one option only", func(f url.Values) { f.Set("kind", "one_of"); f.Set("options", "甲") }, "请填写 2 到 20 个选项"},
		{"too many approvals", func(f url.Values) {
			f.Set("kind", "approval")
			f.Set("options", "甲\n乙")
			f.Set("max_approvals", "3")
		}, "最多可选项数须为 1 到 2"},
		{"unknown kind", func(f url.Values) { f.Set("kind", "ranked") }, "请选择表决方式"},
	} {
		t.Run(c.name, func(t *testing.T) {
			form := proposalForm(c.change)
			form.Set("from_item", item.ID)
			form.Set("body", "保留的说明")
			status, body := e.post(newPath, "sa1", form)
			if status != http.StatusUnprocessableEntity || !strings.Contains(body, c.says) || !strings.Contains(body, "保留的说明") {
				t.Errorf("status %d; page: %.800s", status, stripTags(body))
			}
		})
	}
	if ps, _ := e.f.hub.Proposals.List(ctx, a); len(ps) != 0 {
		t.Fatalf("refused forms stored %d proposals", len(ps))
	}
	if it, _ := e.f.hub.Feedback.Get(ctx, item.ID); it.Status != StatusOpen {
		t.Fatalf("refused forms moved the item to %s", it.Status)
	}
	form := proposalForm(nil)
	form.Set("from_item", item.ID)
	status, body, h := e.do(http.MethodPost, newPath, "sa1", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
	if status != http.StatusSeeOther {
		t.Fatalf("create: %d: %.400s", status, stripTags(body))
	}
	ps, _ := e.f.hub.Proposals.List(ctx, a)
	if len(ps) != 1 || ps[0].State != vote.StateDraft || ps[0].QuorumPct != 30 {
		t.Fatalf("proposals: %+v", ps)
	}
	pid := ps[0].ID
	if want := "/station/" + a + "/proposals/" + pid + "/edit"; h.Get("Location") != want {
		t.Errorf("redirect to %q, want %q", h.Get("Location"), want)
	}
	if it, _ := e.f.hub.Feedback.Get(ctx, item.ID); it.Status != StatusAdopted {
		t.Errorf("the item is %s, want adopted", it.Status)
	}
	if status, body := e.post(newPath, "sa1", form); status != http.StatusConflict || !strings.Contains(body, "已是") && !strings.Contains(body, "已经形成提案") {
		t.Errorf("a second proposal from the same item: %d: %.300s", status, stripTags(body))
	}
	// The opening time is read in UTC+8.
	edit := "/station/" + a + "/proposals/" + pid + "/edit"
	opens := time.Now().Add(-time.Minute).In(Shanghai).Truncate(time.Minute)
	closes := time.Now().Add(2 * time.Hour).In(Shanghai).Truncate(time.Minute)
	changed := proposalForm(func(f url.Values) {
		f.Set("title", "加一台饮水机（修改）")
		f.Set("opens", opens.Format("2006-01-02T15:04"))
		f.Set("closes", closes.Format("2006-01-02T15:04"))
	})
	if status, _ := e.post(edit, "sa1", changed); status != http.StatusSeeOther {
		t.Fatalf("edit: %d", status)
	}
	pr, _ := e.f.hub.Votes.Get(ctx, pid)
	if pr.Title != "加一台饮水机（修改）" || !pr.Opens.Equal(opens) || !pr.Closes.Equal(closes) {
		t.Errorf("edited: %q %v %v, want opens %v", pr.Title, pr.Opens, pr.Closes, opens)
	}
	if status, body := e.get(edit, "sa1"); status != http.StatusOK || !strings.Contains(body, "加一台饮水机（修改）") || !strings.Contains(body, "开启投票") {
		t.Errorf("edit page: %d", status)
	}
	if status, body := e.post("/station/"+a+"/proposals/"+pid+"/outcomes", "sa1", url.Values{"kind": {"decision"}, "text": {"采购"}}); status != http.StatusConflict || !strings.Contains(body, "投票截止") {
		t.Errorf("outcome before close: %d: %.300s", status, stripTags(body))
	}
	e.join(a, "r2") // before opening: on the roll with r1
	if status, _ := e.post("/station/"+a+"/proposals/"+pid+"/open", "sa1", nil); status != http.StatusSeeOther {
		t.Fatalf("open: %d", status)
	}
	e.join(a, "r3") // after opening: not on the roll
	pr, _ = e.f.hub.Votes.Get(ctx, pid)
	if pr.State != vote.StateOpen || pr.RollSize != 2 {
		t.Errorf("opened: %s, roll %d, want open with 2", pr.State, pr.RollSize)
	}
	if status, body := e.post(edit, "sa1", changed); status != http.StatusSeeOther {
		t.Errorf("edit an open proposal: %d: %.300s", status, stripTags(body))
	}
	if status, body := e.get(edit, "sa1"); status != http.StatusOK || !strings.Contains(body, "结果在投票截止后公布") || !strings.Contains(body, "2 名成员") {
		t.Errorf("open proposal page: %d: %.600s", status, stripTags(body))
	}
	if _, err := e.f.hub.Votes.Cast(ctx, pid, "r1", []string{vote.Yes}); err != nil {
		t.Fatal(err)
	}
	// Past the close (and the settling time), the proposal is counted.
	e.f.clock.Store(closes.Add(time.Minute).UnixNano())
	status, body = e.get(edit, "sa1")
	if status != http.StatusOK || !strings.Contains(body, "投票结果") || !strings.Contains(body, "1 / 2 名成员投票") {
		t.Errorf("closed proposal page: %d: %.800s", status, stripTags(body))
	}
	outcomes := "/station/" + a + "/proposals/" + pid + "/outcomes"
	if status, body := e.post(outcomes, "sa1", url.Values{"kind": {"progress"}, "text": {"已下单"}}); status != http.StatusUnprocessableEntity || !strings.Contains(body, "请先记录决定") {
		t.Errorf("progress before the decision: %d: %.300s", status, stripTags(body))
	}
	if status, body := e.post(outcomes, "sa1", url.Values{"kind": {"decision"}, "text": {" "}}); status != http.StatusUnprocessableEntity || !strings.Contains(body, "请填写 1 到 2000 个字") {
		t.Errorf("empty decision: %d: %.300s", status, stripTags(body))
	}
	if outs, _ := e.f.hub.Proposals.Outcomes(ctx, pid); len(outs) != 0 {
		t.Fatalf("refused outcomes stored %d", len(outs))
	}
	if status, _ := e.post(outcomes, "sa1", url.Values{"kind": {"decision"}, "text": {"采购一台饮水机"}}); status != http.StatusSeeOther {
		t.Fatalf("decision: %d", status)
	}
	if outs, _ := e.f.hub.Proposals.Outcomes(ctx, pid); len(outs) != 1 || outs[0].Text != "采购一台饮水机" {
		t.Errorf("outcomes: %+v", outs)
	}
}

// TestAdminVisitsAndStations: visit figures show check-ins; the admin
// creates, closes, opens stations and assigns admins, and a bad station
// is refused with the reason.
func TestAdminVisitsAndStations(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	a := e.f.a.ID
	for _, r := range []string{"r1", "r2"} {
		if _, err := e.f.hub.Visits.CheckIn(ctx, a, r); err != nil {
			t.Fatal(err)
		}
	}
	if status, body := e.get("/station/"+a+"/visits", "sa1"); status != http.StatusOK || !strings.Contains(body, `id="visits-total">2<`) {
		t.Errorf("visits: %d: %.500s", status, stripTags(body))
	}
	if status, body := e.get("/station/"+a+"/council", "sa1"); status != http.StatusOK || !strings.Contains(body, `id="dash-visitors">2<`) {
		t.Errorf("dashboard: %d: %.500s", status, stripTags(body))
	}
	if status, body := e.post("/admin/stations", "ad", url.Values{"name": {""}, "lat": {"28"}, "lng": {"112"}}); status != http.StatusUnprocessableEntity || !strings.Contains(body, "请填写 1 到 60 个字的名称") {
		t.Errorf("a station without a name: %d: %.300s", status, stripTags(body))
	}
	if status, _ := e.post("/admin/stations", "ad", url.Values{"name": {e.f.a.Name}, "lat": {"28"}, "lng": {"112"}}); status != http.StatusConflict {
		t.Errorf("a station with a taken name: %d, want 409", status)
	}
	if sts, _ := e.f.hub.Stations.List(ctx); len(sts) != 2 {
		t.Fatalf("%d stations after refused creations", len(sts))
	}
	if status, _ := e.post("/admin/stations", "ad", url.Values{"name": {"丙驿站"}, "address": {"芙蓉路"}, "lat": {"28.2"}, "lng": {"112.9"}}); status != http.StatusSeeOther {
		t.Fatalf("create: %d", status)
	}
	if status, _ := e.post("/admin/stations/"+a+"/close", "ad", nil); status != http.StatusSeeOther || e.station(a).Open {
		t.Errorf("close: %d, open %v", status, e.station(a).Open)
	}
	if status, _ := e.post("/admin/stations/"+a+"/open", "ad", nil); status != http.StatusSeeOther || !e.station(a).Open {
		t.Errorf("open: %d", status)
	}
	if status, body := e.post("/admin/stations/"+a+"/admins", "ad", url.Values{"user_id": {""}}); status != http.StatusUnprocessableEntity || !strings.Contains(body, "请选择要指派的站点管理员账户") {
		t.Errorf("assign nobody: %d: %.300s", status, stripTags(body))
	}
	if status, _ := e.post("/admin/stations/"+a+"/admins", "ad", url.Values{"user_id": {"sa9"}}); status != http.StatusSeeOther {
		t.Fatalf("assign: %d", status)
	}
	if st := e.station(a); strings.Join(st.Admins, ",") != "sa9" {
		t.Errorf("admins: %v", st.Admins)
	}
	if status, _ := e.post("/admin/stations/nosuch/close", "ad", nil); status != http.StatusNotFound {
		t.Errorf("close an unknown station: %d, want 404", status)
	}
}

// TestAdminMessagesComplete: the message keys the pages build at run time
// (ballot kinds, weekdays, choices, outcome kinds, item actions) are all in
// the catalogue; Pages.Check covers only the keys templates name literally.
func TestAdminMessagesComplete(t *testing.T) {
	var keys []string
	for _, k := range []vote.Kind{vote.YesNoAbstain, vote.OneOf, vote.Approval} {
		keys = append(keys, "council.a.kind."+string(k))
	}
	for _, d := range adminDays {
		keys = append(keys, "council.a.day."+d)
	}
	for _, c := range []string{vote.Yes, vote.No, vote.Abstain} {
		keys = append(keys, "council.a.choice."+c)
	}
	for _, o := range []OutcomeKind{OutcomeDecision, OutcomeProgress, OutcomeDone} {
		keys = append(keys, "council.a.outcome."+string(o))
	}
	for a := range adminItemActions {
		keys = append(keys, "flash.council.a.item_"+a)
	}
	for _, k := range keys {
		if _, ok := adminMessages[k]; !ok {
			t.Errorf("message %q is missing", k)
		}
	}
}
